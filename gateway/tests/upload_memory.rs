#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Uploads are streamed to disk (issue 18): `ragway serve`, on its default limits, receives a zip
//! archive of 40 files that expands to 160 MiB while its peak resident memory grows by far less
//! than that (it used to hold the archive and every expanded file in memory at once), and an
//! upload cut off mid-body leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

const FILES: usize = 40;
const FILE_BYTES: usize = 4 * 1024 * 1024;
/// What the server's peak memory may grow by while it takes the 160 MiB upload: a few network
/// buffers, one zip entry's buffers and one catalog part per file, the SQLite page cache.
const MAX_GROWTH_KIB: u64 = 64 * 1024;
const BOUNDARY: &str = "ragway-upload-memory-boundary";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ragway(data: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ragway"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RAGWAY_LOG", "warn")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A kernel-reported memory figure of a process, in KiB (`VmHWM`: peak resident set).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Words the files are made of: text that compresses about 5× (the archive stays under the default
/// per-file limit of 50 MiB while it expands to 160 MiB).
const WORDS: [&str; 32] = [
    "vacaciones",
    "policy",
    "empleado",
    "the",
    "de",
    "vpn",
    "acceso",
    "password",
    "nómina",
    "benefits",
    "seguro",
    "médico",
    "office",
    "oficina",
    "remote",
    "trabajo",
    "días",
    "leave",
    "manager",
    "gerente",
    "expense",
    "gastos",
    "travel",
    "viaje",
    "security",
    "seguridad",
    "laptop",
    "equipo",
    "training",
    "capacitación",
    "holiday",
    "festivo",
];

/// A zip of `FILES` deflated text files, written to `path` (never whole in memory).
fn write_archive(path: &Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut text = Vec::with_capacity(64 * 1024 + 64);
    for index in 0..FILES {
        zip.start_file(format!("part-{index:02}.txt"), options)
            .unwrap();
        let mut written = 0;
        while written < FILE_BYTES {
            text.clear();
            while text.len() < 64 * 1024 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.extend_from_slice(WORDS[(state >> 59) as usize].as_bytes());
                text.push(if state.is_multiple_of(13) {
                    b'\n'
                } else {
                    b' '
                });
            }
            let take = text.len().min(FILE_BYTES - written);
            std::io::Write::write_all(&mut zip, &text[..take]).unwrap();
            written += take;
        }
    }
    zip.finish().unwrap();
}

/// A multipart body with one `file` part streamed from `path`, and `sync=false` first; `cut_at`
/// ends the body with an error after that many bytes of the file (a client that went away).
fn multipart_body(path: PathBuf, name: &str, cut_at: Option<u64>) -> reqwest::Body {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sync\"\r\n\r\nfalse\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/zip\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let file = futures::stream::unfold(
        (None::<tokio::fs::File>, path, 0u64),
        move |(file, path, sent)| async move {
            use tokio::io::AsyncReadExt;
            let mut file = match file {
                Some(file) => file,
                None => tokio::fs::File::open(&path).await.unwrap(),
            };
            if cut_at.is_some_and(|cut| sent >= cut) {
                let cut = std::io::Error::other("the client went away");
                return Some((Err(cut), (Some(file), path, sent)));
            }
            let mut buffer = vec![0; 256 * 1024];
            let read = file.read(&mut buffer).await.unwrap();
            if read == 0 {
                return None;
            }
            buffer.truncate(read);
            let sent = sent + read as u64;
            Some((Ok(bytes::Bytes::from(buffer)), (Some(file), path, sent)))
        },
    );
    let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(head)) })
        .chain(file)
        .chain(futures::stream::once(async move {
            Ok(bytes::Bytes::from(tail))
        }));
    reqwest::Body::wrap_stream(stream)
}

/// Files left under a folder (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_is_streamed_to_disk_not_held_in_memory() {
    let data = tempfile::tempdir().unwrap();
    ragway(data.path(), &["tenants", "create", "acme"]);
    let admin = ragway(data.path(), &["admin-keys", "create", "--tenant", "acme"]);
    let admin = admin.lines().last().unwrap().trim().to_owned();
    let archive = data.path().join("bundle.zip");
    write_archive(&archive);
    let archive_bytes = std::fs::metadata(&archive).unwrap().len();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_ragway"))
            .arg("--data-dir")
            .arg(data.path())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("RAGWAY_LOG", "warn")
            .env_remove("OPENAI_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}/api/v1/admin/tenants/acme");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let created: serde_json::Value = client
        .post(format!("{base}/sources"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "uploads", "kind": "upload", "sync": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let source = created["id"].as_str().unwrap().to_owned();
    let files_url = format!("{base}/sources/{source}/files");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let staging = data.path().join("uploads").join(".staging");
    let working_copy = data.path().join("uploads").join(&source);

    // A client that goes away halfway: nothing is stored, nothing is left on disk.
    let cut = client
        .post(&files_url)
        .bearer_auth(&admin)
        .header("content-type", &content_type)
        .body(multipart_body(
            archive.clone(),
            "bundle.zip",
            Some(archive_bytes / 2),
        ))
        .send()
        .await;
    if let Ok(response) = cut {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let waited = Instant::now();
    while !files_under(&staging).is_empty() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "a cut upload left {:?}",
            files_under(&staging)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(files_under(&working_copy).is_empty());

    // The whole archive: stored and expanded, memory nearly flat.
    let before = status_kib(server.0.id(), "VmHWM");
    let response = client
        .post(&files_url)
        .bearer_auth(&admin)
        .header("content-type", &content_type)
        .body(multipart_body(archive.clone(), "bundle.zip", None))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status.as_u16(), 201, "{body}");
    let after = status_kib(server.0.id(), "VmHWM");
    let stored = body["files"].as_array().unwrap();
    assert_eq!(stored.len(), FILES, "{body}");
    assert!(
        stored
            .iter()
            .all(|f| f["bytes"].as_u64() == Some(FILE_BYTES as u64))
    );
    let growth = after.saturating_sub(before);
    eprintln!(
        "upload of {} MiB (expanded {} MiB): peak RSS {} -> {} KiB (+{growth} KiB)",
        archive_bytes >> 20,
        (FILES * FILE_BYTES) >> 20,
        before,
        after
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "peak RSS grew by {growth} KiB while taking a {archive_bytes}-byte upload"
    );
    let copy = files_under(&working_copy);
    assert_eq!(copy.len(), FILES, "{copy:?}");
    let first = std::fs::read(working_copy.join("bundle").join("part-00.txt")).unwrap();
    assert_eq!(first.len(), FILE_BYTES);
    assert!(String::from_utf8_lossy(&first[..1000]).contains("vacaciones"));
    assert!(
        files_under(&staging).is_empty(),
        "{:?}",
        files_under(&staging)
    );
    drop(server);
}
