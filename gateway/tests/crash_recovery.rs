#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash recovery of the write path: `ragway ingest` SIGKILLed at N random points (seeded; half
//! timed from its start, half from its first recorded change), the documents edited, deleted and
//! added between kills, every kill followed by a re-run. After each re-run the index's point set
//! (ids, payloads, vectors) and the catalog manifest must equal, digest for digest, those of a
//! clean, never-killed sync of the same documents into a fresh data directory: nothing lost,
//! nothing duplicated, every deletion propagated.
//!
//! `CRASH_KILLS` (default 10) and `CRASH_SEED` (default 20261204) vary the run.

#[path = "common/binary.rs"]
mod binary;
#[path = "common/index_digest.rs"]
mod index_digest;
#[path = "common/sync_runs.rs"]
mod sync_runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use binary::{ChildLogs, Running, command, spawn};
use index_digest::{IndexDigest, index_digest, manifest_digest, manifest_rows};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sync_runs::{SOURCE, TENANT, clean_sync, create_tenant, ingest, ingest_args};

const INITIAL_DOCUMENTS: usize = 400;

/// The documents on disk, and the ACL rule the next syncs pass.
struct Corpus {
    dir: PathBuf,
    files: BTreeMap<String, String>,
    next_id: usize,
    hr_restricted: bool,
}

const WORDS: &[&str] = &[
    "guard",
    "spindle",
    "torque",
    "badge",
    "shift",
    "coolant",
    "forklift",
    "permit",
    "valve",
    "ladder",
    "helmet",
    "audit",
    "filter",
    "pallet",
    "sensor",
    "welding",
    "gasket",
    "conveyor",
    "lockout",
    "inspection",
];

impl Corpus {
    fn text(rng: &mut StdRng, id: usize, version: usize) -> String {
        // 1–2 sections fit one chunk (≤ 512 tokens); 3–4 are chunked per section, so an edit
        // can grow a document from one chunk to four or shrink it back.
        let sections = rng.random_range(1..=4);
        let mut text = format!("# Procedure {id} revision {version}\n\n");
        for s in 0..sections {
            text.push_str(&format!("## Step {s}\n\nCodeword zx{id}q{s}r{version}. "));
            for _ in 0..140 {
                text.push_str(WORDS[rng.random_range(0..WORDS.len())]);
                text.push(' ');
            }
            text.push_str("\n\n");
        }
        text
    }

    fn path_of(id: usize) -> String {
        let folder = ["it", "hr", "ops"][id % 3];
        format!("{folder}/p{id:05}.md")
    }

    fn new(dir: PathBuf, rng: &mut StdRng) -> Self {
        let mut corpus = Self {
            dir,
            files: BTreeMap::new(),
            next_id: 0,
            hr_restricted: false,
        };
        for _ in 0..INITIAL_DOCUMENTS {
            corpus.add(rng);
        }
        corpus
    }

    fn write(&self, uri: &str) {
        let path = self.dir.join(uri);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &self.files[uri]).unwrap();
    }

    fn add(&mut self, rng: &mut StdRng) {
        let id = self.next_id;
        self.next_id += 1;
        let uri = Self::path_of(id);
        self.files.insert(uri.clone(), Self::text(rng, id, 0));
        self.write(&uri);
    }

    /// Edits about a third of the documents, deletes one in twenty, adds a few, and flips the
    /// ACL of `hr/` every other time on average; returns (edited, deleted, added).
    fn change(&mut self, rng: &mut StdRng, version: usize) -> (usize, usize, usize) {
        let uris: Vec<String> = self.files.keys().cloned().collect();
        let (mut edited, mut deleted) = (0, 0);
        for uri in uris {
            let roll: f64 = rng.random();
            if roll < 0.05 {
                self.files.remove(&uri);
                std::fs::remove_file(self.dir.join(&uri)).unwrap();
                deleted += 1;
            } else if roll < 0.38 {
                let name = uri.rsplit('/').next().unwrap();
                let id: usize = name[1..6].parse().unwrap();
                self.files.insert(uri.clone(), Self::text(rng, id, version));
                self.write(&uri);
                edited += 1;
            }
        }
        let added = rng.random_range(5..20);
        for _ in 0..added {
            self.add(rng);
        }
        if rng.random_bool(0.5) {
            self.hr_restricted = !self.hr_restricted;
        }
        (edited, deleted, added)
    }

    fn ingest_args(&self) -> Vec<String> {
        ingest_args(&self.dir, self.hr_restricted.then_some("hr/**=hr,managers"))
    }
}

/// A clean sync of the corpus into a fresh data directory: its digest and how long the sync took.
async fn reference(logs: &ChildLogs, root: &Path, corpus: &Corpus) -> (IndexDigest, Duration) {
    let dir = tempfile::tempdir_in(root).unwrap();
    clean_sync(logs, None, dir.path(), root, &corpus.ingest_args()).await
}

/// When a kill round's process dies.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// This long after it started: anywhere from start-up to well into the writes.
    AfterStart(Duration),
    /// This long after it recorded its first change. The timer alone cannot be relied on to land
    /// mid-way: start-up, the scan and the first batch can outlast its whole window on a slow
    /// build, and a changed document is recorded only when its batch is written.
    AfterFirstChange(Duration),
}

impl KillPoint {
    fn draw(rng: &mut StdRng, full_sync: Duration) -> Self {
        let full = u64::try_from(full_sync.as_millis()).unwrap();
        if rng.random_bool(0.5) {
            Self::AfterStart(Duration::from_millis(rng.random_range(0..=full * 6 / 10)))
        } else {
            Self::AfterFirstChange(Duration::from_millis(rng.random_range(0..=full / 10)))
        }
    }

    /// Waits for the point (or the process's end); false when the process ended first.
    async fn wait(
        self,
        child: &mut Running,
        data: &Path,
        previous: &BTreeMap<String, String>,
    ) -> bool {
        let delay = match self {
            Self::AfterStart(delay) => delay,
            Self::AfterFirstChange(delay) => {
                if !first_change_recorded(child, data, previous).await {
                    return false;
                }
                delay
            }
        };
        tokio::time::sleep(delay).await;
        child.0.try_wait().unwrap().is_none()
    }
}

/// Polls the catalog until the manifest differs from `previous`; false when the process ended
/// before.
async fn first_change_recorded(
    child: &mut Running,
    data: &Path,
    previous: &BTreeMap<String, String>,
) -> bool {
    let catalog = ragway_catalog::Catalog::connect(&ragway_catalog::default_url(data))
        .await
        .unwrap();
    let changed = loop {
        if child.0.try_wait().unwrap().is_some() {
            break false;
        }
        // A read error (the source not created yet, a write in progress) is "not yet".
        if manifest_rows(&catalog, TENANT, SOURCE)
            .await
            .is_ok_and(|now| now != *previous)
        {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    catalog.pool().close().await;
    changed
}

/// Where a kill landed: how many of the changes the next sync has to make (documents to write,
/// re-ACL or delete) were already recorded in the catalog when the process died.
#[derive(Debug, Default)]
struct Landings {
    before_any: usize,
    mid_way: usize,
    after_all: usize,
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_killed_at_random_points_always_converges_to_a_clean_sync() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_204);
    eprintln!("crash recovery: seed {seed} (CRASH_SEED), {kills} kills (CRASH_KILLS)");
    let mut rng = StdRng::seed_from_u64(seed);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut corpus = Corpus::new(root.path().join(SOURCE), &mut rng);
    // What every `ragway` run writes to stderr, scanned for secrets when the test ends.
    let logs = ChildLogs::new("crash_recovery").unwrap();
    create_tenant(&logs, None, &data, root.path()).await;

    let (mut expected, full_sync) = reference(&logs, root.path(), &corpus).await;
    let mut previous = IndexDigest::default();
    let mut landings = Landings::default();
    let (mut killed, mut rounds, mut total_deleted) = (0, 0, 0);
    while killed < kills {
        assert!(
            rounds < kills * 3,
            "only {killed} of {rounds} syncs were still running when killed: the kill points \
             come too late for this machine"
        );
        if rounds > 0 {
            let (_, deleted, _) = corpus.change(&mut rng, rounds);
            total_deleted += deleted;
            (expected, _) = reference(&logs, root.path(), &corpus).await;
        }
        rounds += 1;

        let kill_point = KillPoint::draw(&mut rng, full_sync);
        let args = corpus.ingest_args();
        let ingest_to_kill: Vec<&str> = args.iter().map(String::as_str).collect();
        // Small write batches: the ≈ 1,000 points of a round take several writes (one with the
        // default), so a kill can land between them.
        let mut child = spawn(
            &logs,
            "ragway ingest (kill round)",
            command(None, &data, root.path(), &ingest_to_kill)
                .env("RAGWAY_INGEST__WRITE_BATCH_POINTS", "128"),
        );
        let finished = !kill_point.wait(&mut child, &data, &previous.manifest).await;
        if !finished {
            child.0.kill().unwrap();
            killed += 1;
        }
        child.0.wait().unwrap();
        drop(child);

        if !finished {
            // The catalog as the kill left it (the index is not opened: the re-run must meet it
            // exactly as the killed process left it).
            let at_kill = manifest_digest(&data, TENANT, SOURCE).await.unwrap();
            let to_do: Vec<&String> = expected
                .manifest
                .keys()
                .chain(previous.manifest.keys())
                .filter(|uri| expected.manifest.get(*uri) != previous.manifest.get(*uri))
                .collect();
            let done = to_do
                .iter()
                .filter(|uri| at_kill.get(**uri) == expected.manifest.get(**uri))
                .count();
            match done {
                0 => landings.before_any += 1,
                d if d == to_do.len() => landings.after_all += 1,
                _ => landings.mid_way += 1,
            }
            eprintln!(
                "round {rounds}: killed at {kill_point:?}, {done} of {} changes recorded",
                to_do.len()
            );
        } else {
            eprintln!("round {rounds}: the sync finished before {kill_point:?}");
        }

        let rerun = ingest(&logs, None, &data, root.path(), &args).await;
        assert!(
            rerun.contains(&format!("{} seen", corpus.files.len())) && rerun.contains(" 0 failed"),
            "{rerun}"
        );
        let actual = index_digest(&data, TENANT, SOURCE).await.unwrap();
        assert!(
            actual == expected,
            "round {rounds} (seed {seed}): the re-run did not converge to a clean sync: {}",
            actual.diff(&expected, 20)
        );
        previous = actual;
    }
    assert!(total_deleted > 0, "no deletion was exercised");
    assert!(
        landings.mid_way > 0,
        "no kill landed while the sync was writing: {landings:?}"
    );
    eprintln!(
        "crash recovery: seed {seed}: {killed} kills in {rounds} rounds ({} before any change was \
         recorded, {} mid-way, {} after all), {total_deleted} deletions; every re-run converged \
         (last digest {}: {} points, {} documents)",
        landings.before_any,
        landings.mid_way,
        landings.after_all,
        previous.hash(),
        previous.points.len(),
        previous.manifest.len()
    );
    logs.check();
}
