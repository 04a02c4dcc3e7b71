#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The write path under faults, through the `ragway` binary: the embeddings endpoint going down
//! part-way through a sync (5xx, connection refused, stalled), and the data directory's disk
//! filling up during a sync. Each has a defined outcome (no document indexed without its vectors,
//! no corrupt catalog, no hang), and a re-run once the fault is gone converges, digest for digest,
//! to a clean sync of the same documents.

#[path = "common/binary.rs"]
mod binary;
#[path = "common/index_digest.rs"]
mod index_digest;
#[path = "common/sync_runs.rs"]
mod sync_runs;

use std::path::{Path, PathBuf};
use std::process::Command;

use binary::{ChildLogs, command, run_bounded};
use index_digest::index_digest;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions, Outage};
use sync_runs::{
    LIMIT, SOURCE, TENANT, clean_sync, create_tenant, ingest, ingest_args, recorded_runs,
};

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

// ---------------------------------------------------------------------------------------------
// The embeddings endpoint down mid-sync.

/// 600 one-chunk documents: three write batches (256, 256, 88 chunks: the batch is set to 256
/// points) of 8, 8 and 3 embeddings requests (32 texts each). The outage starts after 10 answered
/// requests, inside the second.
const DOCUMENTS: usize = 600;
const ANSWERED_BEFORE_OUTAGE: usize = 10;

fn embeddings_config(dir: &Path, fake: &FakeOpenAi) -> PathBuf {
    let path = dir.join("ragway.toml");
    let toml = format!(
        "[embeddings]\nbase_url = \"{}\"\nmodel = \"fake-embed\"\ndimensions = 64\n\
         api_key_env = \"\"\nsend_dimensions = true\nbatch_size = 32\nconcurrency = 2\n\
         max_retries = 2\ntimeout_secs = 2\n[ingest]\nwrite_batch_points = 256\n",
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
    // What every `ragway` run writes to stderr, scanned for secrets when the test ends.
    let logs = ChildLogs::new(&format!("sync_faults: embeddings outage {outage:?}")).unwrap();
    let args = ingest_args(&docs, None);
    let clean = root.path().join("clean");
    let (expected, _) = clean_sync(&logs, config, &clean, root.path(), &args).await;
    assert!(expected.uris_without_dense().is_empty());
    assert_eq!(expected.manifest.len(), DOCUMENTS);

    let data = root.path().join("data");
    create_tenant(&logs, config, &data, root.path()).await;
    fake.embeddings_outage_after(ANSWERED_BEFORE_OUTAGE, outage);
    let out = ingest(&logs, config, &data, root.path(), &args).await;
    assert!(fake.embeddings_outage_started());
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
    let runs = recorded_runs(&data).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].failed, runs[0].added),
        (i64::try_from(DOCUMENTS - 256).unwrap(), 256)
    );

    // The endpoint recovers: the re-run indexes the rest and converges to the clean sync.
    fake.end_embeddings_outage().await;
    let rerun = ingest(&logs, config, &data, root.path(), &args).await;
    assert!(
        rerun.contains(&format!(
            "{} added, 0 changed, 256 unchanged",
            DOCUMENTS - 256
        )) && rerun.contains(" 0 failed"),
        "{rerun}"
    );
    let actual = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert!(actual == expected, "{}", actual.diff(&expected, 20));
    logs.check();
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

/// The data directory on a 64 MiB tmpfs, filled up but for 1 MiB once the tenant exists; a sync
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
    // What every `ragway` run writes to stderr, scanned for secrets when the test ends.
    let logs = ChildLogs::new("sync_faults: full disk").unwrap();
    let args = ingest_args(&docs, None);
    let clean = root.path().join("clean");
    let (expected, _) = clean_sync(&logs, None, &clean, root.path(), &args).await;

    let cwd = root.path();
    create_tenant(&logs, None, &data, cwd).await;
    // 2 MiB held the whole sync once the manifest went in a transaction per batch, not per document.
    let filler = fill_leaving(&data, 1 << 20);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let full = run_bounded(&logs, &mut command(None, &data, cwd, &argv), LIMIT).await;
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
    let rerun = ingest(&logs, None, &data, cwd, &args).await;
    assert!(rerun.contains(" 0 failed"), "{rerun}");
    let actual = index_digest(&data, TENANT, SOURCE).await.unwrap();
    assert!(actual == expected, "{}", actual.diff(&expected, 20));
    let statuses: Vec<String> = recorded_runs(&data)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r.status, r.trigger))
        .collect();
    assert!(
        statuses.contains(&"failed manual".to_owned())
            && statuses.contains(&"succeeded manual".to_owned()),
        "{statuses:?}"
    );
    eprintln!("disk full: {error}");
    logs.check();
    drop(mounted);
}
