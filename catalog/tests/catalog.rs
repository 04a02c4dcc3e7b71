#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The catalog's one migration set on both backends: SQLite (always) and PostgreSQL (a throwaway
//! database on the local server; set TEST_POSTGRES_URL to point elsewhere, or to "off").

use ragway_catalog::{Catalog, Enqueued, ManifestEntry, StoredTurn, UPLOAD_PART_BYTES};
use sqlx::Connection;

/// A written batch's manifest rows go in one call: more rows than one statement holds, a
/// document recorded earlier replaced, and a document twice in the batch (the later entry wins).
async fn record_a_batch(catalog: &Catalog) {
    catalog.create_tenant("batchco", "Batch Co").await.unwrap();
    let source = catalog
        .upsert_source("batchco", "bulk", "folder", &serde_json::json!({}))
        .await
        .unwrap();
    let entry = |i: usize, hash: &str| ManifestEntry {
        document_id: format!("bulk-{i}"),
        uri: format!("doc-{i}.md"),
        title: format!("Doc {i}"),
        mime: "text/markdown".into(),
        content_hash: hash.into(),
        size_bytes: i as i64,
        chunk_count: 1,
        acl: if i.is_multiple_of(2) {
            vec!["hr".into()]
        } else {
            Vec::new()
        },
        analysis: "a1".into(),
    };
    catalog
        .record_document("batchco", &source.id, &entry(3, "old"))
        .await
        .unwrap();
    let mut batch: Vec<ManifestEntry> = (0..70).map(|i| entry(i, "new")).collect();
    batch.push(entry(5, "newest"));
    let refs: Vec<&ManifestEntry> = batch.iter().collect();
    catalog
        .record_documents("batchco", &source.id, &refs)
        .await
        .unwrap();
    let manifest = catalog.manifest(&source.id).await.unwrap();
    assert_eq!(manifest.len(), 70);
    assert_eq!(catalog.document_count("batchco").await.unwrap(), 70);
    assert_eq!(manifest["doc-3.md"].content_hash, "new", "replaced");
    assert_eq!(
        manifest["doc-5.md"].content_hash, "newest",
        "the later entry wins"
    );
    assert_eq!(manifest["doc-69.md"].size_bytes, 69);
    assert_eq!(manifest["doc-68.md"].acl, ["hr"]);
    assert!(manifest["doc-67.md"].acl.is_empty());
    catalog
        .record_documents("batchco", &source.id, &[])
        .await
        .unwrap();
    assert_eq!(catalog.document_count("batchco").await.unwrap(), 70);
    catalog.delete_tenant("batchco").await.unwrap();
}

async fn exercise(catalog: &Catalog) {
    let tenant = catalog.create_tenant("acme", "Acme Corp").await.unwrap();
    assert_eq!(tenant.generation, 0);
    assert!(
        catalog.create_tenant("acme", "again").await.is_err(),
        "duplicate tenants are refused"
    );
    assert!(catalog.create_tenant("Bad Id!", "x").await.is_err());

    let key = catalog.create_api_key("acme", "intranet").await.unwrap();
    let (record, hash) = catalog
        .api_key_with_hash(&key.record.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.tenant_id, "acme");
    assert_ne!(hash, key.secret, "only the hash is stored");
    catalog.touch_api_key(&record.id).await.unwrap();
    // The request path reads a key from memory once read; a revocation here drops it at once.
    let loads = catalog.api_key_loads();
    for _ in 0..3 {
        let (recent, _) = catalog
            .recent_api_key_with_hash(&record.id)
            .await
            .unwrap()
            .unwrap();
        assert!(recent.revoked_at.is_none());
    }
    assert_eq!(
        catalog.api_key_loads(),
        loads + 1,
        "read once, then from memory"
    );
    assert!(
        catalog
            .recent_api_key_with_hash("nokey")
            .await
            .unwrap()
            .is_none()
    );
    catalog.revoke_api_key(&record.id).await.unwrap();
    let (recent, _) = catalog
        .recent_api_key_with_hash(&record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(recent.revoked_at.is_some(), "the revocation shows at once");
    assert!(
        catalog.api_keys("acme").await.unwrap()[0]
            .revoked_at
            .is_some()
    );

    let source = catalog
        .upsert_source(
            "acme",
            "docs",
            "folder",
            &serde_json::json!({"path": "/srv/docs"}),
        )
        .await
        .unwrap();
    let entry = ManifestEntry {
        document_id: "d1".into(),
        uri: "a.md".into(),
        title: "A".into(),
        mime: "text/markdown".into(),
        content_hash: "h1".into(),
        size_bytes: 10,
        chunk_count: 2,
        acl: vec!["hr".into(), "managers".into()],
        analysis: "a1".into(),
    };
    catalog
        .record_document("acme", &source.id, &entry)
        .await
        .unwrap();
    catalog
        .record_document(
            "acme",
            &source.id,
            &ManifestEntry {
                content_hash: "h2".into(),
                ..entry.clone()
            },
        )
        .await
        .unwrap();
    let manifest = catalog.manifest(&source.id).await.unwrap();
    assert_eq!(manifest["a.md"].content_hash, "h2");
    assert_eq!(
        manifest["a.md"].acl,
        ["hr", "managers"],
        "the ACL round-trips"
    );
    assert_eq!(catalog.document_count("acme").await.unwrap(), 1);
    let search = |search: Option<&'static str>, source: Option<String>| {
        let catalog = catalog.clone();
        async move {
            let query = ragway_catalog::DocumentQuery {
                source_id: source.as_deref(),
                search,
                limit: 10,
                offset: 0,
            };
            catalog.documents("acme", &query).await.unwrap()
        }
    };
    assert_eq!(
        search(Some("a.M"), None).await.len(),
        1,
        "case-insensitive on the uri"
    );
    assert_eq!(
        search(None, Some(source.id.clone())).await[0].acl,
        ["hr", "managers"]
    );
    assert!(search(Some("nothing"), None).await.is_empty());
    assert!(search(None, Some("other".into())).await.is_empty());
    assert!(catalog.document("acme", "d1").await.unwrap().is_some());
    assert!(catalog.document("globex", "d1").await.unwrap().is_none());

    let run = catalog.start_sync_run("acme", &source.id).await.unwrap();
    assert_eq!(
        catalog.fail_interrupted_sync_runs().await.unwrap(),
        1,
        "a run left running is marked failed"
    );
    assert_eq!(catalog.sync_runs(&source.id).await.unwrap()[0].id, run);
    assert_eq!(
        catalog.sync_runs(&source.id).await.unwrap()[0].status,
        "failed"
    );
    // The request path reads a generation from memory once read; a bump here shows at once.
    let loads = catalog.generation_loads();
    for _ in 0..3 {
        assert_eq!(catalog.recent_generation("acme").await.unwrap(), Some(0));
    }
    assert_eq!(
        catalog.generation_loads(),
        loads + 1,
        "read once, then from memory"
    );
    assert_eq!(catalog.recent_generation("no-such").await.unwrap(), None);
    assert_eq!(catalog.bump_generation("acme").await.unwrap(), 1);
    assert_eq!(
        catalog.recent_generation("acme").await.unwrap(),
        Some(1),
        "the bump shows at once"
    );

    let conversation = "c0nv";
    let turn = |role: &str, content: &str| StoredTurn {
        role: role.into(),
        content: content.into(),
    };
    let q1 = [turn("user", "q1"), turn("assistant", "a1")];
    let q2 = [turn("user", "q2"), turn("assistant", "a2")];
    assert!(
        catalog
            .conversation_turns("acme", "key:1", conversation, 10)
            .await
            .unwrap()
            .is_none()
    );
    catalog
        .append_turns("acme", "key:1", conversation, &q1)
        .await
        .unwrap();
    catalog
        .append_turns("acme", "key:1", conversation, &q2)
        .await
        .unwrap();
    let last_three = catalog
        .conversation_turns("acme", "key:1", conversation, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        last_three,
        [
            turn("assistant", "a1"),
            turn("user", "q2"),
            turn("assistant", "a2")
        ]
    );
    assert!(
        catalog
            .conversation_turns("acme", "key:2", conversation, 10)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        catalog.purge_conversations(30).await.unwrap(),
        0,
        "a fresh conversation is kept"
    );
    assert_eq!(catalog.purge_conversations(0).await.unwrap(), 1);
    assert!(
        catalog
            .conversation_turns("acme", "key:1", conversation, 10)
            .await
            .unwrap()
            .is_none()
    );
}

/// Usage counters add up across batches (as several replicas write them) and admin keys are
/// created, found by id, scoped and revoked.
async fn usage_and_admin_keys(catalog: &Catalog) {
    use ragway_catalog::UsageRow;
    let row = |day: &str, user: &str, metric: &str, value: i64| UsageRow {
        tenant_id: "acme".into(),
        day: day.into(),
        user_id: user.into(),
        metric: metric.into(),
        value,
    };
    let batch = [
        row("2026-11-28", "key:1", "requests", 2),
        row("2026-11-29", "key:1", "requests", 1),
        row("2026-11-29", "key:1", "prompt_tokens", 700),
    ];
    catalog.add_usage(&batch).await.unwrap();
    catalog
        .add_usage(&[row("2026-11-29", "key:1", "requests", 4)])
        .await
        .unwrap();
    let rows = catalog
        .usage("acme", "2026-11-29", "2026-11-29")
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            row("2026-11-29", "key:1", "prompt_tokens", 700),
            row("2026-11-29", "key:1", "requests", 5),
        ]
    );
    assert_eq!(
        catalog
            .usage("acme", "2026-11-01", "2026-11-30")
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        catalog
            .usage("other", "2026-11-01", "2026-11-30")
            .await
            .unwrap()
            .is_empty()
    );

    let (global, secret) = catalog.create_admin_key(None, "ops").await.unwrap();
    assert!(secret.starts_with("rgwadm_"));
    assert_eq!(global.tenant_id, None);
    let (scoped, _) = catalog
        .create_admin_key(Some("acme"), "acme admin")
        .await
        .unwrap();
    assert!(scoped.covers("acme") && !scoped.covers("globex"));
    assert!(
        catalog
            .create_admin_key(Some("missing"), "x")
            .await
            .is_err()
    );
    let (found, hash) = catalog
        .admin_key_with_hash(&global.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, global);
    assert_eq!(hash, ragway_catalog::keys::hash_key(&secret));
    catalog.revoke_admin_key(&global.id).await.unwrap();
    assert!(
        catalog.revoke_admin_key(&global.id).await.is_err(),
        "revoked once"
    );
    let keys = catalog.admin_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k.id == global.id && k.revoked_at.is_some())
    );
}

/// A rating per tenant, channel, answer message and user: clicking again replaces it; tenants
/// never see each other's; deleting the tenant deletes its feedback.
async fn feedback(catalog: &Catalog) {
    use ragway_catalog::{Feedback, Rating};
    catalog.create_tenant("globex", "Globex").await.unwrap();
    let rating = |tenant: &str, message: &str, rating, comment: Option<&str>| Feedback {
        tenant_id: tenant.into(),
        channel: "slack".into(),
        message_id: message.into(),
        user_id: "slack:T1:U1".into(),
        rating,
        comment: comment.map(str::to_owned),
        created_at: String::new(),
    };
    catalog
        .record_feedback(&rating("acme", "C1:1.0", Rating::Up, None))
        .await
        .unwrap();
    catalog
        .record_feedback(&rating("acme", "C1:1.0", Rating::Down, Some("out of date")))
        .await
        .unwrap();
    catalog
        .record_feedback(&rating("globex", "C9:2.0", Rating::Up, None))
        .await
        .unwrap();
    let stored = catalog.feedback("acme", 10).await.unwrap();
    assert_eq!(
        stored.len(),
        1,
        "one rating per user and answer: {stored:?}"
    );
    assert_eq!(stored[0].rating, Rating::Down);
    assert_eq!(stored[0].comment.as_deref(), Some("out of date"));
    assert!(!stored[0].created_at.is_empty());
    assert_eq!(catalog.feedback("globex", 10).await.unwrap().len(), 1);
    assert_eq!(catalog.recent_generation("globex").await.unwrap(), Some(0));
    catalog.delete_tenant("globex").await.unwrap();
    assert_eq!(
        catalog.recent_generation("globex").await.unwrap(),
        None,
        "a deleted tenant is forgotten at once"
    );
    assert!(catalog.feedback("globex", 10).await.unwrap().is_empty());
}

/// Sources and the sync queue: one running and one waiting run per source, claims that skip a
/// source already running, cancellation on pause, and deletion.
async fn sources_and_sync_queue(catalog: &Catalog) {
    use ragway_catalog::SourceUpdate;
    catalog.ensure_tenant("initech").await.unwrap();
    let settings = serde_json::json!({"acl": {}});
    let a = catalog
        .create_source("initech", "a", "upload", &settings, Some("every 1h"))
        .await
        .unwrap();
    let b = catalog
        .create_source("initech", "b", "upload", &settings, None)
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .create_source("initech", "a", "upload", &settings, None)
            .await,
        Err(ragway_catalog::CatalogError::AlreadyExists(_))
    ));
    let Enqueued::New(first) = catalog
        .enqueue_sync("initech", &a.id, "manual")
        .await
        .unwrap()
    else {
        panic!("nothing was queued");
    };
    let Enqueued::AlreadyActive(same) = catalog
        .enqueue_sync("initech", &a.id, "schedule")
        .await
        .unwrap()
    else {
        panic!("a second waiting run was queued");
    };
    assert_eq!(same.id, first.id);
    let claimed = catalog.claim_queued_sync().await.unwrap().unwrap();
    assert_eq!(
        (claimed.id.as_str(), claimed.status.as_str()),
        (first.id.as_str(), "running")
    );
    // While `a` runs, one follow-up may wait; the worker skips it and takes `b`'s run.
    let Enqueued::New(follow_up) = catalog
        .enqueue_sync("initech", &a.id, "upload")
        .await
        .unwrap()
    else {
        panic!("no follow-up was queued behind the running sync");
    };
    let Enqueued::New(other) = catalog
        .enqueue_sync("initech", &b.id, "manual")
        .await
        .unwrap()
    else {
        panic!("b could not be queued");
    };
    assert_eq!(
        catalog.claim_queued_sync().await.unwrap().unwrap().id,
        other.id
    );
    assert!(catalog.claim_queued_sync().await.unwrap().is_none());
    assert_eq!(
        catalog.active_sync_run(&a.id).await.unwrap().unwrap().id,
        first.id
    );
    let progress = serde_json::json!({"phase": "indexing", "seen": 3});
    catalog
        .record_sync_progress(&first.id, &progress)
        .await
        .unwrap();
    assert_eq!(
        catalog.sync_run(&first.id).await.unwrap().unwrap().progress,
        Some(progress)
    );
    catalog
        .finish_sync_run(
            &first.id,
            &ragway_catalog::SyncReport {
                seen: 3,
                added: 3,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let done = catalog.sync_run(&first.id).await.unwrap().unwrap();
    assert_eq!((done.status.as_str(), done.added), ("succeeded", 3));
    // Pausing cancels the waiting run.
    catalog.set_source_paused(&a.id, true).await.unwrap();
    assert!(
        catalog
            .cancel_queued_sync(&a.id, "cancelled")
            .await
            .unwrap()
    );
    assert_eq!(
        catalog
            .sync_run(&follow_up.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "failed"
    );
    assert!(
        catalog
            .scheduled_sources()
            .await
            .unwrap()
            .iter()
            .all(|s| s.id != a.id)
    );
    let renamed = catalog
        .update_source(
            &a,
            &SourceUpdate {
                name: Some("a2"),
                schedule: Some(None),
                ..SourceUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.name.as_str(),
            renamed.schedule.as_deref(),
            renamed.paused
        ),
        ("a2", None, true)
    );
    assert_eq!(
        catalog.recent_sync_runs(&a.id, 1).await.unwrap()[0].id,
        follow_up.id
    );
    assert_eq!(catalog.delete_source(&a.id).await.unwrap(), 0);
    assert!(catalog.source("initech", &a.id).await.unwrap().is_none());
    assert!(catalog.sync_run(&first.id).await.unwrap().is_none());
    catalog.delete_tenant("initech").await.unwrap();
}

/// Widget keys: origins normalised on the way in, listed per tenant, updated, revoked; the
/// preflight origin list holds only active keys'; deleting the tenant deletes its keys.
async fn widget_keys(catalog: &Catalog) {
    catalog.create_tenant("initech", "Initech").await.unwrap();
    let origins = vec![
        "HTTPS://Intranet.Initech.com:443/".to_owned(),
        "https://intranet.initech.com".to_owned(),
        "http://localhost:3000".to_owned(),
    ];
    let key = catalog
        .create_widget_key("initech", "intranet", &origins)
        .await
        .unwrap();
    assert!(ragway_catalog::widget_keys::is_widget_key(&key.id));
    assert_eq!(
        key.allowed_origins,
        ["http://localhost:3000", "https://intranet.initech.com"]
    );
    assert!(
        catalog
            .create_widget_key("initech", "bad", &["intranet.initech.com".to_owned()])
            .await
            .is_err()
    );
    assert!(
        catalog
            .create_widget_key("initech", "none", &[])
            .await
            .is_err()
    );
    assert!(
        catalog
            .create_widget_key("nobody", "x", &origins)
            .await
            .is_err()
    );
    let other = catalog
        .create_widget_key("initech", "portal", &["https://*.initech.net".to_owned()])
        .await
        .unwrap();
    let updated = catalog
        .update_widget_key(
            &key.id,
            Some("intranet v2"),
            Some(&["https://new.initech.com".to_owned()]),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "intranet v2");
    assert_eq!(updated.allowed_origins, ["https://new.initech.com"]);
    let listed = catalog.widget_keys("initech").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        catalog
            .widget_origins()
            .await
            .unwrap()
            .contains(&"https://*.initech.net".to_owned())
    );
    catalog.revoke_widget_key(&other.id).await.unwrap();
    assert!(
        catalog.revoke_widget_key(&other.id).await.is_err(),
        "revoked once"
    );
    assert!(
        catalog
            .update_widget_key(&other.id, Some("x"), None)
            .await
            .is_err()
    );
    let origins = catalog.widget_origins().await.unwrap();
    assert!(
        !origins.contains(&"https://*.initech.net".to_owned()),
        "{origins:?}"
    );
    assert!(origins.contains(&"https://new.initech.com".to_owned()));
    catalog.delete_tenant("initech").await.unwrap();
    assert!(catalog.widget_key(&key.id).await.unwrap().is_none());
}

/// Web sources' validators and links (migration 0007): upsert, read back, retain, cascade.
async fn web_pages(catalog: &Catalog) {
    use ragway_catalog::{WebPageKind, WebPageRecord};
    catalog.create_tenant("initech", "Initech").await.unwrap();
    let source = catalog
        .upsert_source(
            "initech",
            "intranet",
            "web",
            &serde_json::json!({"urls": []}),
        )
        .await
        .unwrap();
    let page = WebPageRecord {
        url: "https://intranet.example/a".into(),
        kind: WebPageKind::Page,
        final_url: "https://intranet.example/a/".into(),
        etag: Some("\"v1\"".into()),
        last_modified: None,
        content_hash: "h1".into(),
        links: vec!["https://intranet.example/b".into()],
    };
    catalog.record_web_page(&source.id, &page).await.unwrap();
    let changed = WebPageRecord {
        etag: Some("\"v2\"".into()),
        last_modified: Some("Sun, 01 Nov 2026 00:00:00 GMT".into()),
        content_hash: "h2".into(),
        ..page.clone()
    };
    catalog.record_web_page(&source.id, &changed).await.unwrap();
    let sitemap = WebPageRecord {
        url: "https://intranet.example/sitemap.xml".into(),
        kind: WebPageKind::SitemapIndex,
        final_url: "https://intranet.example/sitemap.xml".into(),
        etag: None,
        last_modified: None,
        content_hash: "h3".into(),
        links: vec![],
    };
    catalog.record_web_page(&source.id, &sitemap).await.unwrap();
    let stored = catalog.web_pages(&source.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[&page.url], changed,
        "the second record replaced the first"
    );
    assert_eq!(stored[&sitemap.url].kind, WebPageKind::SitemapIndex);

    let keep = std::collections::HashSet::from([sitemap.url.clone()]);
    assert_eq!(
        catalog.retain_web_pages(&source.id, &keep).await.unwrap(),
        1
    );
    assert_eq!(catalog.web_pages(&source.id).await.unwrap().len(), 1);
    catalog.record_web_page(&source.id, &page).await.unwrap();
    assert_eq!(catalog.forget_web_pages(&source.id).await.unwrap(), 2);
    catalog.record_web_page(&source.id, &page).await.unwrap();
    catalog.delete_tenant("initech").await.unwrap();
    assert!(
        catalog.web_pages(&source.id).await.unwrap().is_empty(),
        "rows go with their source"
    );
}

/// What replicas share through the catalog: deliveries seen, uploaded files, sync leases.
async fn shared_by_replicas(catalog: &Catalog) {
    // Bot deliveries: the first sighting wins, wherever it happens; old ones are pruned.
    assert!(catalog.first_bot_event("slack", "Ev1").await.unwrap());
    assert!(!catalog.first_bot_event("slack", "Ev1").await.unwrap());
    assert!(
        catalog.first_bot_event("teams", "Ev1").await.unwrap(),
        "per channel"
    );
    assert_eq!(
        catalog
            .prune_bot_events("2000-01-01T00:00:00Z")
            .await
            .unwrap(),
        0
    );
    assert_eq!(catalog.prune_bot_events("9999").await.unwrap(), 2);
    assert!(catalog.first_bot_event("slack", "Ev1").await.unwrap());

    // Uploaded files: stored in parts (bytes intact), replaced by path, listed without content.
    catalog.ensure_tenant("hooli").await.unwrap();
    let source = catalog
        .create_source(
            "hooli",
            "up",
            "upload",
            &serde_json::json!({"acl": {}}),
            None,
        )
        .await
        .unwrap();
    let binary: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..3 * UPLOAD_PART_BYTES + 5)
        .map(|i| (i % 251) as u8)
        .collect();
    put_uploads(
        catalog,
        &source.id,
        &[("a.md", "h1", b"# A"), ("dir/b.pdf", "h2", &binary)],
    )
    .await;
    put_uploads(
        catalog,
        &source.id,
        &[("a.md", "h3", b"# A2"), ("big.bin", "h4", &large)],
    )
    .await;
    // A batch not committed stores nothing.
    let mut abandoned = catalog.begin_uploads(&source.id).await.unwrap();
    abandoned.start_file("never.md", "h", 1).await.unwrap();
    abandoned.put_part("never.md", 0, b"x").await.unwrap();
    drop(abandoned);
    let files = catalog.upload_files(&source.id).await.unwrap();
    assert_eq!(
        files
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.as_str(), f.size))
            .collect::<Vec<_>>(),
        [
            ("a.md", "h3", 4),
            ("big.bin", "h4", large.len() as u64),
            ("dir/b.pdf", "h2", 256)
        ]
    );
    assert_eq!(
        upload_content(catalog, &source.id, "dir/b.pdf").await,
        Some(binary)
    );
    assert_eq!(
        catalog
            .upload_file_pieces(&source.id, "big.bin")
            .await
            .unwrap(),
        Some(4)
    );
    assert_eq!(
        upload_content(catalog, &source.id, "big.bin").await,
        Some(large)
    );
    assert_eq!(
        upload_content(catalog, &source.id, "a.md").await,
        Some(b"# A2".to_vec())
    );
    assert_eq!(upload_content(catalog, &source.id, "nope").await, None);
    // A file stored whole before files were cut into parts reads the same.
    sqlx::query(
        "INSERT INTO upload_files (source_id, path, content, sha256, size, updated_at) VALUES ($1, 'old.md', $2, 'h0', 5, '2026-01-01')",
    )
    .bind(&source.id)
    .bind(b"# Old".to_vec())
    .execute(catalog.pool())
    .await
    .unwrap();
    assert_eq!(
        upload_content(catalog, &source.id, "old.md").await,
        Some(b"# Old".to_vec())
    );
    assert_eq!(
        catalog
            .delete_upload_files(&source.id, &["big.bin".into(), "nope".into()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        upload_parts(catalog, &source.id).await,
        2,
        "a removed file's parts go with it"
    );

    // Sync leases: a run whose heartbeat is recent survives a takeover check; a silent one is
    // failed exactly once, whoever checks.
    let Enqueued::New(_) = catalog
        .enqueue_sync("hooli", &source.id, "manual")
        .await
        .unwrap()
    else {
        panic!("nothing was queued");
    };
    let run = catalog.claim_queued_sync().await.unwrap().unwrap();
    let past = "2000-01-01T00:00:00Z";
    assert!(
        catalog
            .fail_stale_sync_runs(Some(past))
            .await
            .unwrap()
            .is_empty()
    );
    catalog.heartbeat_sync_run(&run.id).await.unwrap();
    let (first, second) = tokio::join!(
        catalog.fail_stale_sync_runs(Some("9999")),
        catalog.fail_stale_sync_runs(Some("9999"))
    );
    let taken: Vec<_> = first.unwrap().into_iter().chain(second.unwrap()).collect();
    let mut ids: Vec<&str> = taken.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), taken.len(), "no run is taken twice: {taken:?}");
    let taken: Vec<_> = taken
        .into_iter()
        .filter(|r| r.source_id == source.id)
        .collect();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].id, run.id);
    assert_eq!(taken[0].status, "failed");
    assert!(taken[0].message.as_deref().unwrap().contains("interrupted"));

    // Deleting the source, or its tenant, takes the files with it.
    catalog.delete_source(&source.id).await.unwrap();
    assert!(catalog.upload_files(&source.id).await.unwrap().is_empty());
    assert_eq!(upload_parts(catalog, &source.id).await, 0);
    let other = catalog
        .create_source(
            "hooli",
            "up2",
            "upload",
            &serde_json::json!({"acl": {}}),
            None,
        )
        .await
        .unwrap();
    put_uploads(catalog, &other.id, &[("c.md", "h", b"# C")]).await;
    catalog.delete_tenant("hooli").await.unwrap();
    assert!(catalog.upload_files(&other.id).await.unwrap().is_empty());
    assert_eq!(upload_parts(catalog, &other.id).await, 0);
}

/// Stores files the way uploads do: one batch, each file cut into parts.
async fn put_uploads(catalog: &Catalog, source_id: &str, files: &[(&str, &str, &[u8])]) {
    let mut batch = catalog.begin_uploads(source_id).await.unwrap();
    for (path, sha256, bytes) in files {
        batch
            .start_file(path, sha256, bytes.len() as u64)
            .await
            .unwrap();
        for (seq, part) in bytes.chunks(UPLOAD_PART_BYTES).enumerate() {
            batch.put_part(path, seq as u64, part).await.unwrap();
        }
    }
    batch.commit().await.unwrap();
}

async fn upload_content(catalog: &Catalog, source_id: &str, path: &str) -> Option<Vec<u8>> {
    let pieces = catalog.upload_file_pieces(source_id, path).await.unwrap()?;
    let mut content = Vec::new();
    for index in 0..pieces {
        let piece = catalog
            .upload_file_piece(source_id, path, index)
            .await
            .unwrap();
        content.extend(piece.unwrap());
    }
    Some(content)
}

async fn upload_parts(catalog: &Catalog, source_id: &str) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM upload_file_parts WHERE source_id = $1")
        .bind(source_id)
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    sqlx::Row::try_get(&row, "n").unwrap()
}

#[tokio::test]
async fn sqlite_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let url = ragway_catalog::default_url(dir.path());
    let catalog = Catalog::connect(&url).await.unwrap();
    exercise(&catalog).await;
    record_a_batch(&catalog).await;
    usage_and_admin_keys(&catalog).await;
    feedback(&catalog).await;
    sources_and_sync_queue(&catalog).await;
    widget_keys(&catalog).await;
    web_pages(&catalog).await;
    shared_by_replicas(&catalog).await;
    // Re-opening runs no migration twice and keeps the data.
    let again = Catalog::connect(&url).await.unwrap();
    assert_eq!(again.tenants().await.unwrap().len(), 1);
}

#[tokio::test]
async fn postgres_catalog() {
    let server = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if server == "off" {
        return;
    }
    sqlx::any::install_default_drivers();
    let name = format!("ragway_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TEST_POSTGRES_URL=off)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let catalog = Catalog::connect(&format!("{server}/{name}")).await.unwrap();
    exercise(&catalog).await;
    record_a_batch(&catalog).await;
    usage_and_admin_keys(&catalog).await;
    feedback(&catalog).await;
    sources_and_sync_queue(&catalog).await;
    widget_keys(&catalog).await;
    web_pages(&catalog).await;
    shared_by_replicas(&catalog).await;
    catalog.pool().close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
