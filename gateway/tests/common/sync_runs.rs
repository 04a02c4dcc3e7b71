//! What the write-path tests that drive `ragway ingest` (crash recovery, sync faults) share: the
//! tenant and source they sync, the ingest command, and the clean sync that every faulted run must
//! converge to. Include it with `#[path]`, beside `common/binary.rs` (as `binary`) and
//! `common/index_digest.rs` (as `index_digest`).
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::binary::{ChildLogs, command, run_bounded, succeeded};
use crate::index_digest::{IndexDigest, index_digest};

pub const TENANT: &str = "acme";
pub const SOURCE: &str = "docs";

/// Far beyond what any run here needs (the stalled embeddings endpoint's is about 15 s): the hang
/// detector.
pub const LIMIT: Duration = Duration::from_secs(180);

/// `ragway ingest` of the folder `docs` into [`TENANT`]'s source [`SOURCE`], with `acl` rules.
pub fn ingest_args(docs: &Path, acl: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["ingest", "--tenant", TENANT, "--source", SOURCE]
        .map(str::to_owned)
        .to_vec();
    if let Some(acl) = acl {
        args.extend(["--acl".to_owned(), acl.to_owned()]);
    }
    args.push(docs.to_str().unwrap().to_owned());
    args
}

/// The sync runs of [`TENANT`]'s source [`SOURCE`] in the data directory `data`, oldest first.
pub async fn recorded_runs(data: &Path) -> Vec<ragway_catalog::SyncRunRecord> {
    let catalog = ragway_catalog::Catalog::connect(&ragway_catalog::default_url(data))
        .await
        .unwrap();
    let source = catalog
        .source_by_name(TENANT, SOURCE)
        .await
        .unwrap()
        .unwrap();
    let runs = catalog.sync_runs(&source.id).await.unwrap();
    catalog.pool().close().await;
    runs
}

/// `ragway tenants create` on `data`.
pub async fn create_tenant(logs: &ChildLogs, config: Option<&Path>, data: &Path, cwd: &Path) {
    let args = ["tenants", "create", TENANT];
    succeeded(&run_bounded(logs, &mut command(config, data, cwd, &args), LIMIT).await);
}

/// Runs `args` (an ingest) to its end within [`LIMIT`]; its stdout, which must report success.
pub async fn ingest(
    logs: &ChildLogs,
    config: Option<&Path>,
    data: &Path,
    cwd: &Path,
    args: &[String],
) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    succeeded(&run_bounded(logs, &mut command(config, data, cwd, &args), LIMIT).await)
}

/// The clean sync: [`create_tenant`], then the ingest `args` on the fresh data directory `data`,
/// which must not fail a document. Its digest, and how long the ingest took.
pub async fn clean_sync(
    logs: &ChildLogs,
    config: Option<&Path>,
    data: &Path,
    cwd: &Path,
    args: &[String],
) -> (IndexDigest, Duration) {
    create_tenant(logs, config, data, cwd).await;
    let started = Instant::now();
    let out = ingest(logs, config, data, cwd, args).await;
    let took = started.elapsed();
    assert!(out.contains(" 0 failed"), "{out}");
    let digest = index_digest(data, TENANT, SOURCE).await.unwrap();
    (digest, took)
}
