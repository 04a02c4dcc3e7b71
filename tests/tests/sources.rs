#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sources through the admin API end to end: folder sources inside the allowed roots only, one
//! active sync per source, pause/resume, live progress over SSE, uploads (files, zips, per-file
//! groups, limits and zip bombs), removal of a file and of a whole source — every response
//! checked against the OpenAPI document.

mod common;

use common::multipart;
use std::time::Duration;

use ragway_tests::admin_client::AdminClient;
use ragway_tests::harness::{Gateway, copy_dir, handbook_dir, test_config};
use serde_json::{Value, json};

const TENANT: &str = "acme";
const SOURCES: &str = "/api/v1/admin/tenants/{id}/sources";
const SOURCE: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}";
const SYNC_NOW: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}/sync";
const PAUSE: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}/pause";
const RESUME: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}/resume";
const FILES: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}/files";
const FILE: &str = "/api/v1/admin/tenants/{id}/sources/{source_id}/files/{path}";
const SYNC: &str = "/api/v1/admin/tenants/{id}/syncs/{sync_id}";

fn count_files(dir: &std::path::Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    gateway: Gateway,
    key: String,
    doc: Value,
    stop: tokio_util::sync::CancellationToken,
}

impl Setup {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut ragway_gateway::Config)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("shared-drive");
        std::fs::create_dir_all(&root).unwrap();
        let mut config = test_config(&tmp.path().join("data"));
        config.sources.folder_roots = vec![root.clone()];
        config.sources.sync_workers = 1;
        config.sources.upload.max_file_bytes = 256 * 1024;
        adjust(&mut config);
        let gateway = Gateway::start(config).await.unwrap();
        gateway
            .state
            .core
            .catalog
            .ensure_tenant(TENANT)
            .await
            .unwrap();
        let (_, key) = gateway
            .state
            .core
            .catalog
            .create_admin_key(None, "ops")
            .await
            .unwrap();
        let doc: Value = reqwest::get(format!("{}/openapi.json", gateway.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            _tmp: tmp,
            root,
            gateway,
            key,
            doc,
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    fn admin(&self) -> AdminClient<'_> {
        AdminClient {
            gateway: &self.gateway,
            key: self.key.clone(),
            doc: self.doc.clone(),
        }
    }

    fn start_workers(&self) {
        ragway_gateway::sources::jobs::spawn(&self.gateway.state, &self.stop);
    }

    /// Follows the sync's SSE stream to its end; returns the progress events and the final view.
    async fn follow(&self, sync_id: &str) -> (Vec<Value>, Value) {
        let url = format!(
            "{}/api/v1/admin/tenants/{TENANT}/syncs/{sync_id}/events",
            self.gateway.base_url
        );
        let response = tokio::time::timeout(
            Duration::from_secs(120),
            reqwest::Client::new()
                .get(url)
                .bearer_auth(&self.key)
                .send(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body = tokio::time::timeout(Duration::from_secs(120), response.text())
            .await
            .expect("the sync ends")
            .unwrap();
        let events = common::parse_sse(&body);
        let (last_name, last) = events.last().cloned().expect("events");
        assert_eq!(last_name, "done", "{body}");
        let progress = events
            .iter()
            .filter(|(name, _)| name == "progress")
            .map(|(_, v)| v.clone())
            .collect();
        (progress, last)
    }
}

fn path(template: &str, source_id: &str) -> String {
    template
        .replace("{id}", TENANT)
        .replace("{source_id}", source_id)
}

#[tokio::test]
async fn folder_sources_sync_as_jobs_with_live_progress() {
    let setup = Setup::new().await;
    let admin = setup.admin();
    let handbook = setup.root.join("handbook");
    copy_dir(&handbook_dir(), &handbook).unwrap();
    let expected = count_files(&handbook);
    let sources = path(SOURCES, "");

    // Only folders inside the allowed roots, and valid settings and schedules.
    let outside = tempfile::tempdir().unwrap();
    for (settings, why) in [
        (
            json!({"path": outside.path()}),
            "outside the allowed folders",
        ),
        (
            json!({"path": format!("{}/../..", handbook.display())}),
            "..",
        ),
        (json!({"path": "handbook"}), "absolute"),
        (json!({"path": handbook, "colour": "red"}), "unknown field"),
    ] {
        let (status, body) = admin
            .call(
                "post",
                &sources,
                SOURCES,
                Some(json!({"name": "x", "kind": "folder", "settings": settings})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    let (status, body) = admin
        .call(
            "post",
            &sources,
            SOURCES,
            Some(json!({"name": "x", "kind": "ftp"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin
        .call("post", &sources, SOURCES, Some(json!({"name": "x", "kind": "folder", "settings": {"path": handbook}, "schedule": "every 10s"})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("minimum"),
        "{body}"
    );

    // Created with a first sync queued (no workers yet): a second one is refused, not stacked.
    let (status, created) = admin
        .call("post", &sources, SOURCES, Some(json!({"name": "handbook", "kind": "folder", "settings": {"path": handbook}, "schedule": "every 6h"})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["active_sync"]["status"], "queued");
    let (status, body) = admin
        .call("post", &path(SYNC_NOW, &id), SYNC_NOW, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("sync_in_progress")),
        "{body}"
    );
    let (status, _) = admin
        .call(
            "post",
            &sources,
            SOURCES,
            Some(json!({"name": "handbook", "kind": "upload"})),
        )
        .await;
    assert_eq!(status, 409);

    // Pausing cancels the queued sync and refuses new ones until resumed.
    let (status, paused) = admin.call("post", &path(PAUSE, &id), PAUSE, None).await;
    assert_eq!((status, paused["paused"].as_bool()), (200, Some(true)));
    assert!(paused["active_sync"].is_null(), "{paused}");
    assert_eq!(
        paused["last_sync"]["message"],
        "cancelled: the source was paused"
    );
    let (status, body) = admin
        .call("post", &path(SYNC_NOW, &id), SYNC_NOW, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("source_paused"))
    );
    let (status, _) = admin.call("post", &path(RESUME, &id), RESUME, None).await;
    assert_eq!(status, 200);

    // Sync now: a worker runs it and the SSE stream shows it progressing to the end.
    let (status, queued) = admin
        .call("post", &path(SYNC_NOW, &id), SYNC_NOW, None)
        .await;
    assert_eq!(
        (status, queued["status"].as_str()),
        (202, Some("queued")),
        "{queued}"
    );
    let sync_id = queued["id"].as_str().unwrap().to_owned();
    setup.start_workers();
    let (progress, done) = setup.follow(&sync_id).await;
    assert!(!progress.is_empty());
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress"]["phase"], "succeeded");
    assert_eq!(
        done["progress"]["added"].as_u64().unwrap() as usize,
        expected
    );
    assert_eq!(
        done["progress"]["total"].as_u64().unwrap() as usize,
        expected
    );
    assert!(done["progress"]["bytes"].as_u64().unwrap() > 10_000);
    let (status, shown) = admin
        .call(
            "get",
            &SYNC.replace("{id}", TENANT).replace("{sync_id}", &sync_id),
            SYNC,
            None,
        )
        .await;
    assert_eq!((status, shown["status"].as_str()), (200, Some("succeeded")));
    let (_, source) = admin.call("get", &path(SOURCE, &id), SOURCE, None).await;
    assert_eq!(source["documents"].as_u64().unwrap() as usize, expected);
    assert_eq!(source["last_sync"]["id"], sync_id.as_str());
    assert!(source["next_sync_at"].is_null() || source["next_sync_at"].is_string());

    // A deleted file leaves the index with the next sync; a re-sync of the same tree changes nothing.
    std::fs::remove_file(handbook.join("README.txt")).unwrap();
    let (_, queued) = admin
        .call("post", &path(SYNC_NOW, &id), SYNC_NOW, None)
        .await;
    let (_, done) = setup.follow(queued["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            done["progress"]["removed"].as_u64(),
            done["progress"]["added"].as_u64()
        ),
        (Some(1), Some(0)),
        "{done}"
    );
    assert_eq!(
        done["progress"]["unchanged"].as_u64().unwrap() as usize,
        expected - 1
    );

    // Rename and reschedule; then delete (confirmed) with its documents.
    let (status, updated) = admin
        .call(
            "patch",
            &path(SOURCE, &id),
            SOURCE,
            Some(json!({"name": "manual", "schedule": null})),
        )
        .await;
    assert_eq!(
        (
            status,
            updated["name"].as_str(),
            updated["schedule"].is_null()
        ),
        (200, Some("manual"), true),
        "{updated}"
    );
    let (status, _) = admin.call("delete", &path(SOURCE, &id), SOURCE, None).await;
    assert_eq!(status, 400);
    let (status, deleted) = admin
        .call(
            "delete",
            &format!("{}?confirm=manual", path(SOURCE, &id)),
            SOURCE,
            None,
        )
        .await;
    assert_eq!(
        (
            status,
            deleted["documents_removed"].as_u64().unwrap() as usize
        ),
        (200, expected - 1)
    );
    assert_eq!(
        setup
            .gateway
            .state
            .core
            .catalog
            .document_count(TENANT)
            .await
            .unwrap(),
        0
    );
    let (status, _) = admin.call("get", &path(SOURCE, &id), SOURCE, None).await;
    assert_eq!(status, 404);
    setup.stop.cancel();
}

#[tokio::test]
async fn uploads_are_limited_expanded_and_synced() {
    let setup = Setup::new().await;
    let admin = setup.admin();
    setup.start_workers();
    let (status, created) = admin
        .call(
            "post",
            &path(SOURCES, ""),
            SOURCES,
            Some(json!({"name": "uploads", "kind": "upload"})),
        )
        .await;
    assert_eq!(
        (status, created["active_sync"].is_null()),
        (201, true),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let files = path(FILES, &id);
    let upload = |parts: Vec<(&'static str, Option<&'static str>, Vec<u8>)>| {
        let (content_type, body) = multipart(&parts);
        admin
            .request("post", &files)
            .header("content-type", content_type)
            .body(body)
    };

    // Files with a per-request group, and a zip expanded into a folder.
    let archive = common::zip_archive(&[
        (
            "it/vpn.md",
            b"# VPN\n\nConnect with the GlobalProtect client to vpn.acme.example.".to_vec(),
        ),
        (
            "it/printers.txt",
            b"Printers on floor 3 are named PRN-3A and PRN-3B.".to_vec(),
        ),
    ]);
    let (status, stored) = admin
        .send(
            upload(vec![
                ("groups", None, b"hr".to_vec()),
                (
                    "file",
                    Some("hr/salaries.md"),
                    b"# Salary bands\n\nBand C pays 40,000 to 55,000.".to_vec(),
                ),
            ]),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let first_sync = stored["sync"]["id"].as_str().unwrap().to_owned();
    let (status, stored) = admin
        .send(
            upload(vec![("file", Some("handbook.zip"), archive)]),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let paths: Vec<&str> = stored["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["handbook/it/vpn.md", "handbook/it/printers.txt"]);
    // The second upload's sync is the first one if it had not started yet, or a new one.
    let _ = setup.follow(&first_sync).await;
    let second_sync = stored["sync"]["id"].as_str().unwrap().to_owned();
    let (_, done) = setup.follow(&second_sync).await;
    // Every run a worker finishes is counted for the sync-failure alert.
    let metrics = setup.gateway.state.core.metrics.encode().unwrap();
    assert!(
        metrics.contains("ragway_sync_runs_total{status=\"succeeded\"}"),
        "{metrics}"
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    let documents = setup
        .gateway
        .state
        .core
        .catalog
        .documents(
            TENANT,
            &ragway_catalog::DocumentQuery {
                source_id: Some(&id),
                search: None,
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let by_uri: std::collections::HashMap<_, _> = documents
        .iter()
        .map(|d| (d.uri.as_str(), d.acl.clone()))
        .collect();
    assert_eq!(by_uri.len(), 3, "{by_uri:?}");
    assert_eq!(by_uri["hr/salaries.md"], ["hr"]);
    assert!(by_uri["handbook/it/vpn.md"].is_empty());

    // Refused uploads write nothing.
    let upload_dir =
        ragway_gateway::sources::upload_dir(&setup.gateway.state.core.config.data_dir, &id);
    let before = count_files(&upload_dir);
    let bomb = common::zip_archive(&[("zeros.txt", vec![0u8; 30 * 1024 * 1024])]);
    let (status, body) = admin
        .send(
            upload(vec![("file", Some("bomb.zip"), bomb)]),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("upload_refused")),
        "{body}"
    );
    let big = vec![b'a'; 300 * 1024];
    let (status, body) = admin
        .send(
            upload(vec![
                ("file", Some("ok.txt"), b"fine".to_vec()),
                ("file", Some("big.txt"), big),
            ]),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = admin
        .send(
            upload(vec![("file", Some("../../etc/passwd"), b"x".to_vec())]),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = admin
        .send(
            admin.request("post", &files).json(&json!({"file": "x"})),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(count_files(&upload_dir), before);

    // Removing one file removes its document with the sync that follows.
    let (status, removed) = admin
        .call(
            "delete",
            &format!("{files}/handbook/it/printers.txt"),
            FILE,
            None,
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    let (_, done) = setup.follow(removed["sync"]["id"].as_str().unwrap()).await;
    assert_eq!(done["progress"]["removed"].as_u64(), Some(1), "{done}");
    let (status, _) = admin
        .call(
            "delete",
            &format!("{files}/handbook/it/printers.txt"),
            FILE,
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Files go only to upload sources.
    let handbook = setup.root.join("h");
    std::fs::create_dir_all(&handbook).unwrap();
    let (_, folder) = admin
        .call("post", &path(SOURCES, ""), SOURCES, Some(json!({"name": "h", "kind": "folder", "settings": {"path": handbook}, "sync": false})))
        .await;
    let folder_files = path(FILES, folder["id"].as_str().unwrap());
    let (content_type, body) = multipart(&[("file", Some("a.md"), b"# A".to_vec())]);
    let (status, body) = admin
        .send(
            admin
                .request("post", &folder_files)
                .header("content-type", content_type)
                .body(body),
            "post",
            &folder_files,
            FILES,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("wrong_source_kind"))
    );
    setup.stop.cancel();
}

/// Per-file groups are added to an upload source's settings without losing its declared
/// language (they used to be refused: "the source's settings are invalid: unknown field
/// `language`").
#[tokio::test]
async fn per_file_groups_keep_an_upload_sources_language() {
    let setup = Setup::new().await;
    let admin = setup.admin();
    let (status, created) = admin
        .call(
            "post",
            &path(SOURCES, ""),
            SOURCES,
            Some(json!({"name": "subidas", "kind": "upload", "settings": {"language": "es"}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let files = path(FILES, &id);
    let (content_type, body) = multipart(&[
        ("groups", None, b"hr".to_vec()),
        ("sync", None, b"false".to_vec()),
        (
            "file",
            Some("nomina.md"),
            b"# Nomina\n\nSe paga el dia 15.".to_vec(),
        ),
    ]);
    let (status, stored) = admin
        .send(
            admin
                .request("post", &files)
                .header("content-type", content_type)
                .body(body),
            "post",
            &files,
            FILES,
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let (_, shown) = admin.call("get", &path(SOURCE, &id), SOURCE, None).await;
    assert_eq!(
        shown["settings"],
        json!({
            "acl": {"groups": [], "rules": [{"pattern": "nomina.md", "groups": ["hr"]}]},
            "language": "es",
        }),
        "{shown}"
    );
}

/// The sync a new source's creation queued: still active, or — a crawl the guard stops at once
/// can end before the response is built — already the last one.
fn queued_sync(source: &Value) -> String {
    let run = match &source["active_sync"] {
        Value::Null => &source["last_sync"],
        active => active,
    };
    run["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn web_sources_crawl_as_jobs_within_the_operators_network_policy() {
    use ragway_tests::static_site::StaticSite;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    site.put_html(
        "/",
        "<html><head><title>Intranet</title></head><body><h1>Intranet</h1><p>See the <a href=\"/cafeteria\">cafeteria menu</a>.</p></body></html>",
    );
    site.put_html(
        "/cafeteria",
        "<html><head><title>Cafeteria</title></head><body><h1>Cafeteria</h1><p>Tacos al pastor every Thursday from 13:00.</p></body></html>",
    );
    let settings = json!({"urls": [site.url("/")], "delay_ms": 0});

    // The strict default policy: the crawl reaches nothing on the loopback network.
    let strict = Setup::new().await;
    let admin = strict.admin();
    strict.start_workers();
    let (status, body) = admin
        .call(
            "post",
            &path(SOURCES, ""),
            SOURCES,
            Some(json!({"name": "intranet", "kind": "web", "settings": settings})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, done) = strict.follow(&queued_sync(&body)).await;
    assert_eq!(done["progress"]["added"].as_u64(), Some(0), "{done}");
    assert!(done["failures"].to_string().contains("127.0.0.1"), "{done}");
    assert!(
        site.requests().is_empty(),
        "the guard let a request through"
    );
    let (status, body) = admin
        .call(
            "post",
            &path(SOURCES, ""),
            SOURCES,
            Some(
                json!({"name": "bad", "kind": "web", "settings": {"urls": ["file:///etc/passwd"]}}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    strict.stop.cancel();

    // Allowed by the operator: crawled, and both pages answerable.
    let setup = Setup::with(|config| {
        config.sources.web.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
        config.sources.web.allowed_ports = vec![site.addr.port()];
    })
    .await;
    let admin = setup.admin();
    setup.start_workers();
    let (status, body) = admin
        .call(
            "post",
            &path(SOURCES, ""),
            SOURCES,
            Some(json!({"name": "intranet", "kind": "web", "settings": settings})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, done) = setup.follow(&queued_sync(&body)).await;
    assert_eq!(
        (done["status"].as_str(), done["progress"]["added"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{done}"
    );
    let docs = setup
        .gateway
        .state
        .core
        .catalog
        .document_count(TENANT)
        .await
        .unwrap();
    assert_eq!(docs, 2);
    setup.stop.cancel();
}

/// Issue 18: `{tenant}` roots are each tenant's own, shared roots are for global admin keys, and
/// the data directory (catalog, index, every tenant's uploads) is never a folder source, even
/// when the operator lists it.
#[tokio::test]
async fn folder_roots_are_per_tenant_and_never_the_data_directory() {
    let setup = Setup::with(|config| {
        let base = config.data_dir.parent().unwrap().to_path_buf();
        config.sources.folder_roots = vec![
            base.join("tenants").join("{tenant}"),
            base.join("shared-drive"),
            config.data_dir.clone(),
        ];
    })
    .await;
    let base = setup.root.parent().unwrap().to_path_buf();
    let acme_docs = base.join("tenants/acme/handbook");
    let beta_docs = base.join("tenants/beta/payroll");
    let shared_docs = setup.root.join("policies");
    let uploads = base.join("data/uploads");
    for dir in [&acme_docs, &beta_docs, &shared_docs, &uploads] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let catalog = &setup.gateway.state.core.catalog;
    catalog.ensure_tenant("beta").await.unwrap();
    let (_, scoped_key) = catalog
        .create_admin_key(Some(TENANT), "acme-ops")
        .await
        .unwrap();
    let scoped = AdminClient {
        key: scoped_key,
        ..setup.admin()
    };
    let global = setup.admin();
    fn folder(name: &str, path: &std::path::Path) -> Value {
        json!({"name": name, "kind": "folder", "settings": {"path": path}, "sync": false})
    }
    let acme_sources = path(SOURCES, "");
    let beta_sources = SOURCES.replace("{id}", "beta");

    // The scoped key: beta's folder, the shared drive and the data directory are refused.
    for (path, why) in [
        (&beta_docs, "outside the allowed folders"),
        (&shared_docs, "outside the allowed folders"),
        (&uploads, "data directory"),
        (&base.join("data"), "data directory"),
    ] {
        let (status, body) = scoped
            .call("post", &acme_sources, SOURCES, Some(folder("x", path)))
            .await;
        assert_eq!(status, 400, "{path:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{path:?}: {body}");
        if why.starts_with("outside") {
            // Only acme's own root is named to acme's admin.
            let acme_root = format!("({})", base.join("tenants").join(TENANT).display());
            assert!(message.ends_with(&acme_root), "{body}");
        }
    }
    let (status, created) = scoped
        .call(
            "post",
            &acme_sources,
            SOURCES,
            Some(folder("handbook", &acme_docs)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // Nor can a source be moved into beta's folder afterwards.
    let source = path(SOURCE, created["id"].as_str().unwrap());
    let (status, body) = scoped
        .call(
            "patch",
            &source,
            SOURCE,
            Some(json!({"settings": {"path": beta_docs}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(catalog.sources("beta").await.unwrap().is_empty());

    // The global key: shared roots, and each tenant's own root for that tenant's sources.
    let (status, body) = global
        .call(
            "post",
            &acme_sources,
            SOURCES,
            Some(folder("shared", &shared_docs)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = global
        .call(
            "post",
            &acme_sources,
            SOURCES,
            Some(folder("beta's", &beta_docs)),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = global
        .call(
            "post",
            &beta_sources,
            SOURCES,
            Some(folder("payroll", &beta_docs)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for path in [&uploads, &base.join("data")] {
        let (status, body) = global
            .call("post", &acme_sources, SOURCES, Some(folder("x", path)))
            .await;
        assert_eq!(status, 400, "{path:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("data directory"),
            "{body}"
        );
    }
}
