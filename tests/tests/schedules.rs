#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Scheduled syncs never stack, and a sync whose process died is failed on restart and converges
//! when run again.

use chrono::{Duration, Utc};
use ragway_catalog::{Enqueued, TRIGGER_MANUAL};
use ragway_gateway::AppState;
use ragway_gateway::sources::jobs::{execute, queue_due};
use ragway_tests::harness::{copy_dir, handbook_dir, test_config};

#[tokio::test]
async fn due_sources_are_queued_once_and_missed_runs_do_not_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.sources.min_schedule_interval_secs = 60;
    let state = AppState::open(config).await.unwrap();
    state.core.catalog.ensure_tenant("acme").await.unwrap();
    let settings = serde_json::json!({"path": handbook_dir().canonicalize().unwrap()});
    let source = state
        .core
        .catalog
        .create_source("acme", "handbook", "folder", &settings, Some("every 1h"))
        .await
        .unwrap();
    let t0 = Utc::now();

    // The first pass only plans the next run.
    assert!(queue_due(&state, t0).await.unwrap().is_empty());
    let planned = state
        .core
        .catalog
        .source("acme", &source.id)
        .await
        .unwrap()
        .unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(planned.next_sync_at.as_deref().unwrap()).unwrap();
    assert_eq!(next.with_timezone(&Utc), t0 + Duration::hours(1));
    assert!(
        queue_due(&state, t0 + Duration::minutes(59))
            .await
            .unwrap()
            .is_empty()
    );

    // Due: queued once.
    let queued = queue_due(&state, t0 + Duration::minutes(61)).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].trigger, "schedule");

    // Ten hours later with that run still queued (no workers): skipped, nothing piles up, and the
    // next time counts from now.
    let late = t0 + Duration::hours(11);
    assert!(queue_due(&state, late).await.unwrap().is_empty());
    let runs = state.core.catalog.sync_runs(&source.id).await.unwrap();
    assert_eq!(runs.len(), 1);
    let planned = state
        .core
        .catalog
        .source("acme", &source.id)
        .await
        .unwrap()
        .unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(planned.next_sync_at.as_deref().unwrap()).unwrap();
    assert_eq!(next.with_timezone(&Utc), late + Duration::hours(1));

    // Paused sources are not scheduled.
    state
        .core
        .catalog
        .set_source_paused(&source.id, true)
        .await
        .unwrap();
    assert!(
        queue_due(&state, late + Duration::hours(5))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_sync_left_running_by_a_dead_process_fails_on_restart_and_reruns_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    copy_dir(&handbook_dir(), &docs).unwrap();
    let data = tmp.path().join("data");
    let source_id;
    let expected_chunks;
    {
        let state = AppState::open(test_config(&data)).await.unwrap();
        state.core.catalog.ensure_tenant("acme").await.unwrap();
        let settings = serde_json::json!({"path": docs.canonicalize().unwrap()});
        let source = state
            .core
            .catalog
            .create_source("acme", "docs", "folder", &settings, None)
            .await
            .unwrap();
        source_id = source.id.clone();
        // A full sync gives the reference index.
        let Enqueued::New(_) = state
            .core
            .catalog
            .enqueue_sync("acme", &source.id, TRIGGER_MANUAL)
            .await
            .unwrap()
        else {
            panic!("a fresh source has no active sync");
        };
        let run = state
            .core
            .catalog
            .claim_queued_sync()
            .await
            .unwrap()
            .unwrap();
        let done = execute(&state, run).await;
        assert_eq!(done.status, "succeeded", "{:?}", done.message);
        expected_chunks = done.chunks_written;
        // The next sync is claimed and "dies" with the process: never finished.
        std::fs::write(
            docs.join("new-policy.md"),
            "# Remote work\n\nTwo days a week.",
        )
        .unwrap();
        state
            .core
            .catalog
            .enqueue_sync("acme", &source.id, TRIGGER_MANUAL)
            .await
            .unwrap();
        let claimed = state
            .core
            .catalog
            .claim_queued_sync()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.status, "running");
    }
    let state = AppState::open(test_config(&data)).await.unwrap();
    state.recover_interrupted_syncs().await.unwrap();
    let runs = state.core.catalog.sync_runs(&source_id).await.unwrap();
    let dead = runs.iter().find(|r| r.status == "failed").unwrap();
    assert!(dead.message.as_deref().unwrap().contains("interrupted"));
    // The source is queued again (the next worker re-runs it), and re-running converges: the new
    // file added, nothing duplicated.
    let queued = state
        .core
        .catalog
        .active_sync_run(&source_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (queued.status.as_str(), queued.trigger.as_str()),
        ("queued", "recovery")
    );
    let run = state
        .core
        .catalog
        .claim_queued_sync()
        .await
        .unwrap()
        .unwrap();
    let done = execute(&state, run).await;
    assert_eq!((done.status.as_str(), done.added), ("succeeded", 1));
    let again = {
        state
            .core
            .catalog
            .enqueue_sync("acme", &source_id, TRIGGER_MANUAL)
            .await
            .unwrap();
        let run = state
            .core
            .catalog
            .claim_queued_sync()
            .await
            .unwrap()
            .unwrap();
        execute(&state, run).await
    };
    assert_eq!(
        (
            again.added,
            again.changed,
            again.removed,
            again.chunks_written
        ),
        (0, 0, 0, 0)
    );
    assert!(expected_chunks > 0);
    let documents = state.core.catalog.document_count("acme").await.unwrap();
    assert_eq!(documents as usize, walk_count(&docs));
}

fn walk_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk_count(&e.path())
            } else {
                1
            }
        })
        .sum()
}
