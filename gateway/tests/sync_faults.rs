#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The write path under faults, through the `ragway` binary: the embeddings endpoint going down
//! part-way through a sync (5xx, connection refused, stalled), and the data directory's disk
//! filling up during a sync. Each has a defined outcome (no document indexed without its vectors,
//! no corrupt catalog, no hang), and a re-run once the fault is gone converges, digest for digest,
//! to a clean sync of the same documents.

#[path = "common/index_digest.rs"]
mod index_digest;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use index_digest::{IndexDigest, index_digest};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions, Outage};

const TENANT: &str = "acme";
const SOURCE: &str = "docs";

fn command(config: Option<&Path>, data_dir: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ragway"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("RAGWAY_CONFIG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .env("RAGWAY_LOG", "error")
        .current_dir(cwd);
    command
}

/// Runs a command to its end; a run still going after `limit` (far beyond what it needs) is a
/// hang: killed, and the test fails.
async fn run_bounded(mut command: Command, limit: Duration) -> Output {
    struct Running(Option<Child>);
    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(mut child) = self.0.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    use std::io::{Read, Seek};
    // Files, not pipes: a child writing more than a pipe holds would block, and look hung.
    let (mut out, mut err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    command
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()));
    let mut running = Running(Some(command.spawn().unwrap()));
    let started = Instant::now();
    loop {
        let child = running.0.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            running.0 = None;
            let read = |file: &mut std::fs::File| {
                let mut bytes = Vec::new();
                file.rewind().unwrap();
                file.read_to_end(&mut bytes).unwrap();
                bytes
            };
            return Output {
                status,
                stdout: read(&mut out),
                stderr: read(&mut err),
            };
        }
        assert!(
            started.elapsed() < limit,
            "`ragway {:?}` hung",
            command.get_args().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "ragway failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_documents(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let text = format!(
            "# Procedure {i}\n\nCodeword zx{i}q: lock out machine {i} before opening its guard. {}\n",
            "Check the interlock and the coolant level. ".repeat(6)
        );
        std::fs::write(dir.join(format!("p{i:04}.md")), text).unwrap();
    }
}

/// `ragway tenants create` then `ragway ingest` on a fresh data directory: the clean sync.
async fn clean_sync(config: Option<&Path>, data: &Path, cwd: &Path, docs: &Path) -> IndexDigest {
    stdout_of(
        &run_bounded(
            command(config, data, cwd, &["tenants", "create", TENANT]),
            LIMIT,
        )
        .await,
    );
    let docs = docs.to_str().unwrap();
    let args = ["ingest", "--tenant", TENANT, "--source", SOURCE, docs];
    let out = stdout_of(&run_bounded(command(config, data, cwd, &args), LIMIT).await);
    assert!(out.contains(" 0 failed"), "{out}");
    index_digest(data, TENANT, SOURCE).await.unwrap()
}

/// Far beyond what any run here needs (the stalled endpoint's is about 15 s): the hang detector.
const LIMIT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// The embeddings endpoint down mid-sync.

/// 600 one-chunk documents: three write batches (256, 256, 88 chunks) of 8, 8 and 3 embeddings
/// requests (32 texts each). The outage starts after 10 answered requests, inside the second.
const DOCUMENTS: usize = 600;
const ANSWERED_BEFORE_OUTAGE: usize = 10;

fn embeddings_config(dir: &Path, fake: &FakeOpenAi) -> PathBuf {
    let path = dir.join("ragway.toml");
    let toml = format!(
        "[embeddings]\nbase_url = \"{}\"\nmodel = \"fake-embed\"\ndimensions = 64\n\
         api_key_env = \"\"\nsend_dimensions = true\nbatch_size = 32\nconcurrency = 2\n\
         max_retries = 2\ntimeout_secs = 2\n",
        fake.base_url
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// Runs the outage scenario and returns the failure reason the sync reported.
async fn embeddings_outage_mid_sync(outage: Outage) -> String {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = embeddings_config(root.path(), &fake);
    let config = Some(config.as_path());
    let docs = root.path().join(SOURCE);
    write_documents(&docs, DOCUMENTS);
    let expected = clean_sync(config, &root.path().join("clean"), root.path(), &docs).await;
    assert!(expected.uris_without_dense().is_empty());
    assert_eq!(expected.manifest.len(), DOCUMENTS);

    let data = root.path().join("data");
    let docs_arg = docs.to_str().unwrap();
    let ingest = ["ingest", "--tenant", TENANT, "--source", SOURCE, docs_arg];
    stdout_of(
        &run_bounded(
            command(config, &data, root.path(), &["tenants", "create", TENANT]),
            LIMIT,
        )
        .await,
    );
    fake.embeddings_outage_after(ANSWERED_BEFORE_OUTAGE, outage);
    let output = run_bounded(command(config, &data, root.path(), &ingest), LIMIT).await;
    assert!(fake.embeddings_outage_started());
    let out = stdout_of(&output);
    let failed: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("failed: "))
        .collect();
    let summary = out.lines().find(|l| l.starts_with("synced: ")).unwrap();
    assert!(
        summary.contains(&format!("{DOCUMENTS} seen, 256 added, 0 changed"))
            && summary.contains(&format!("{} failed", DOCUMENTS - 256)),
        "{out}"
    );
    assert_eq!(failed.len(), DOCUMENTS - 256, "{out}");
    assert!(
        failed
            .iter()
            .all(|l| l.contains("embedding request failed: ")
                && l.contains("(model fake-embed) failed after up to 2 retries")),
        "{out}"
    );

    // What was indexed has its vectors; what failed has no point and no manifest row (so the
    // next sync takes it again); the catalog says so too.
    let partial = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert_eq!(partial.uris_without_dense(), Vec::<String>::new());
    assert_eq!(partial.manifest.len(), 256);
    assert_eq!(partial.points.len(), 256);
    for (uri, row) in &partial.manifest {
        assert_eq!(Some(row), expected.manifest.get(uri));
        assert_eq!(
            partial.points.get(&(uri.clone(), 0)),
            expected.points.get(&(uri.clone(), 0))
        );
    }
    for line in &failed {
        let uri = line.split(':').next().unwrap();
        assert!(!partial.manifest.contains_key(uri), "{line}");
    }
    let catalog = ragway_catalog::Catalog::connect(&ragway_catalog::default_url(&data))
        .await
        .unwrap();
    let source = catalog
        .source_by_name(TENANT, SOURCE)
        .await
        .unwrap()
        .unwrap();
    let runs = catalog.sync_runs(&source.id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].failed, runs[0].added),
        (i64::try_from(DOCUMENTS - 256).unwrap(), 256)
    );
    catalog.pool().close().await;

    // The endpoint recovers: the re-run indexes the rest and converges to the clean sync.
    fake.end_embeddings_outage().await;
    let rerun = stdout_of(&run_bounded(command(config, &data, root.path(), &ingest), LIMIT).await);
    assert!(
        rerun.contains(&format!(
            "{} added, 0 changed, 256 unchanged",
            DOCUMENTS - 256
        )) && rerun.contains(" 0 failed"),
        "{rerun}"
    );
    let actual = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert!(actual == expected, "{}", actual.diff(&expected, 20));
    failed[0].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_endpoint_failing_with_5xx_mid_sync() {
    let reason = embeddings_outage_mid_sync(Outage::Status(503)).await;
    eprintln!("5xx: {reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_endpoint_refusing_connections_mid_sync() {
    let reason = embeddings_outage_mid_sync(Outage::Refuse).await;
    eprintln!("refused: {reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_endpoint_stalling_mid_sync() {
    let reason = embeddings_outage_mid_sync(Outage::Stall).await;
    eprintln!("stalled: {reason}");
}

// ---------------------------------------------------------------------------------------------
// The data directory's disk full during a sync.

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `64m`) on `dir`; the error says why it could not.
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds it open: detach it now, the kernel frees it when released.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fills the filesystem of `dir` with one file, then frees `headroom` bytes of it again.
fn fill_leaving(dir: &Path, headroom: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0x5a_u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    file.set_len(written.saturating_sub(headroom)).unwrap();
    file.sync_all().unwrap();
    path
}

/// The data directory on a 64 MiB tmpfs, filled up but for 2 MiB once the tenant exists; a sync
/// of 600 documents needs more. The sync fails with the error the user sees below, the catalog
/// passes SQLite's integrity check, the documents it did record have their points; once the space
/// is freed a re-run converges to a clean sync. Needs root (mount); skipped elsewhere, except in CI.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_sync_clearly_and_a_re_run_converges() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mounted = match Tmpfs::mount(&data, "64m") {
        Ok(mounted) => mounted,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the data directory ({why}); run as root");
            return;
        }
        Err(why) => panic!("cannot mount a tmpfs for the data directory in CI: {why}"),
    };
    let docs = root.path().join(SOURCE);
    write_documents(&docs, DOCUMENTS);
    let expected = clean_sync(None, &root.path().join("clean"), root.path(), &docs).await;

    let cwd = root.path();
    stdout_of(
        &run_bounded(
            command(None, &data, cwd, &["tenants", "create", TENANT]),
            LIMIT,
        )
        .await,
    );
    let filler = fill_leaving(&data, 2 << 20);
    let docs_arg = docs.to_str().unwrap();
    let ingest = ["ingest", "--tenant", TENANT, "--source", SOURCE, docs_arg];
    let full = run_bounded(command(None, &data, cwd, &ingest), LIMIT).await;
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stderr}");
    let error = stderr.lines().rfind(|l| l.starts_with("error: ")).unwrap();
    assert_eq!(
        error,
        "error: catalog error: error returned from database: (code: 13) database or disk is full"
    );

    // The catalog is intact, and consistent with the index: whatever it recorded is indexed.
    let check = Command::new("sqlite3")
        .arg(data.join("catalog.db"))
        .arg("PRAGMA integrity_check;")
        .output();
    match check {
        Ok(check) => assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok"),
        Err(e) => eprintln!("no sqlite3 to check the catalog's integrity ({e})"),
    }
    // Opening the index writes (its config, a lock file): read it once some space is back.
    std::fs::remove_file(&filler).unwrap();
    let partial = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert!(partial.manifest.len() < DOCUMENTS);
    for (uri, row) in &partial.manifest {
        assert_eq!(Some(row), expected.manifest.get(uri));
        assert_eq!(
            partial.points.get(&(uri.clone(), 0)),
            expected.points.get(&(uri.clone(), 0)),
            "{uri}"
        );
    }

    // Space freed: the re-run takes the rest and converges; the failed run is closed as failed.
    let rerun = stdout_of(&run_bounded(command(None, &data, cwd, &ingest), LIMIT).await);
    assert!(rerun.contains(" 0 failed"), "{rerun}");
    let actual = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert!(actual == expected, "{}", actual.diff(&expected, 20));
    let catalog = ragway_catalog::Catalog::connect(&ragway_catalog::default_url(&data))
        .await
        .unwrap();
    let source = catalog
        .source_by_name(TENANT, SOURCE)
        .await
        .unwrap()
        .unwrap();
    let statuses: Vec<String> = catalog
        .sync_runs(&source.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.status, r.trigger))
        .collect();
    assert!(
        statuses.contains(&"failed manual".to_owned())
            && statuses.contains(&"succeeded manual".to_owned()),
        "{statuses:?}"
    );
    catalog.pool().close().await;
    eprintln!("disk full: {error}");
    drop(mounted);
}
