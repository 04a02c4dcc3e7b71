#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 18: a folder source is held at every sync to the rules it was registered under, with
//! the operator's `[sources] folder_roots` as configured *now* and its folder resolved *now* — a
//! root removed or narrowed since, or a folder (or a parent) swapped for a symlink to another
//! tenant's folder or the data directory, fails the sync with a message an admin can act on, and
//! nothing is read or removed from the index. Symlinks inside a folder that lead out of it are not
//! followed. Folders the operator added (the CLI, `ragway ingest`) sync wherever they are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ragway_catalog::{Enqueued, SyncRunRecord, TRIGGER_MANUAL};
use ragway_gateway::AppState;
use ragway_gateway::sources::jobs::execute;
use ragway_gateway::sources::{NewSource, SourceService};
use ragway_tests::admin_client::AdminClient;
use ragway_tests::harness::{Gateway, test_config};
use serde_json::{Value, json};

const SOURCES: &str = "/api/v1/admin/tenants/{id}/sources";
const SYNC: &str = "/api/v1/admin/tenants/{id}/syncs/{sync_id}";
/// acme's own page, and beta's secret one that must never reach acme.
const ACME_WELCOME: &str = "# Welcome to Acme\n\nOur mascot is the orchid.\n";
const BETA_SALARIES: &str = "# Beta salaries\n\nEvery kumquat engineer earns a fortune.\n";

/// A gateway whose folder roots are `<base>/tenants/{tenant}` and `<base>/shared-drive`, with
/// tenants acme and beta, a global admin key and one scoped to acme. Syncs are run by the test
/// (no workers), so each can be run with the configuration the test chooses.
struct Setup {
    tmp: tempfile::TempDir,
    gateway: Gateway,
    global: String,
    scoped: String,
    doc: Value,
}

impl Setup {
    async fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let mut config = test_config(&base.join("data"));
        config.sources.folder_roots = vec![
            base.join("tenants").join("{tenant}"),
            base.join("shared-drive"),
        ];
        config.sources.sync_workers = 0;
        for dir in ["tenants/acme", "tenants/beta", "shared-drive", "elsewhere"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        let gateway = Gateway::start(config).await.unwrap();
        let catalog = &gateway.state.core.catalog;
        for tenant in ["acme", "beta"] {
            catalog.ensure_tenant(tenant).await.unwrap();
        }
        let (_, global) = catalog.create_admin_key(None, "ops").await.unwrap();
        let (_, scoped) = catalog
            .create_admin_key(Some("acme"), "acme-ops")
            .await
            .unwrap();
        let doc: Value = reqwest::get(format!("{}/openapi.json", gateway.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            tmp,
            gateway,
            global,
            scoped,
            doc,
        }
    }

    fn base(&self) -> PathBuf {
        self.tmp.path().canonicalize().unwrap()
    }

    fn admin(&self, key: &str) -> AdminClient<'_> {
        AdminClient {
            gateway: &self.gateway,
            key: key.to_owned(),
            doc: self.doc.clone(),
        }
    }

    /// Registers a folder source through the admin API (no first sync) and returns it.
    async fn register(&self, key: &str, tenant: &str, name: &str, path: &Path) -> Value {
        let sources = SOURCES.replace("{id}", tenant);
        let body =
            json!({"name": name, "kind": "folder", "settings": {"path": path}, "sync": false});
        let (status, created) = self
            .admin(key)
            .call("post", &sources, SOURCES, Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// The gateway's state as if restarted with `folder_roots` changed to `roots`.
    fn with_roots(&self, roots: Vec<PathBuf>) -> AppState {
        let mut state = self.gateway.state.clone();
        let mut config = (*state.core.config).clone();
        config.sources.folder_roots = roots;
        state.core.set_config(Arc::new(config));
        state
    }

    /// Queues a sync of the source and runs it to its end as a sync worker of `state` would.
    async fn sync(&self, state: &AppState, tenant: &str, source_id: &str) -> SyncRunRecord {
        let catalog = &state.core.catalog;
        let Enqueued::New(_) = catalog
            .enqueue_sync(tenant, source_id, TRIGGER_MANUAL)
            .await
            .unwrap()
        else {
            panic!("no sync of {source_id} was waiting");
        };
        let run = catalog.claim_queued_sync().await.unwrap().unwrap();
        assert_eq!(run.source_id, source_id);
        execute(state, run).await
    }

    /// The sync as the tenant's admins read it through the API.
    async fn shown(&self, key: &str, tenant: &str, run: &SyncRunRecord) -> Value {
        let path = SYNC.replace("{id}", tenant).replace("{sync_id}", &run.id);
        let (status, shown) = self.admin(key).call("get", &path, SYNC, None).await;
        assert_eq!(status, 200, "{shown}");
        shown
    }

    async fn documents(&self, tenant: &str) -> i64 {
        self.gateway
            .state
            .core
            .catalog
            .document_count(tenant)
            .await
            .unwrap()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn id(source: &Value) -> String {
    source["id"].as_str().unwrap().to_owned()
}

fn refusal(path: &Path, allowed: &str) -> String {
    format!(
        "folder `{}` is no longer inside the allowed folders ({allowed}); ask the operator to allow it in `[sources] folder_roots`, or remove the source",
        path.display()
    )
}

/// The operator removes (then narrows) the shared root a global admin registered a folder under:
/// its syncs fail, saying why and what to do, and its indexed documents stay searchable — nothing
/// is read, added or removed — until the root is back.
#[tokio::test]
async fn a_root_removed_from_the_config_fails_the_sync_and_keeps_the_documents() {
    let setup = Setup::new().await;
    let base = setup.base();
    let travel = base.join("shared-drive/travel");
    write(
        &travel.join("policy.md"),
        "# Travel policy\n\nTrips to Zanzibar need the quartermaster's approval.\n",
    );
    let source = setup
        .register(&setup.global, "acme", "travel", &travel)
        .await;
    assert_eq!(source["settings"]["registered_by"], "global_admin");
    let state = &setup.gateway.state;
    let first = setup.sync(state, "acme", &id(&source)).await;
    assert_eq!((first.status.as_str(), first.added), ("succeeded", 1));
    assert_eq!(
        setup
            .gateway
            .bm25_hits("acme", "Zanzibar quartermaster")
            .await,
        ["policy.md"]
    );

    // Meanwhile the folder changed: a document deleted, another added.
    std::fs::remove_file(travel.join("policy.md")).unwrap();
    write(
        &travel.join("expenses.md"),
        "# Expenses\n\nPer diem in Timbuktu is forty doubloons.\n",
    );
    let acme_root = base.join("tenants/acme").display().to_string();
    for roots in [
        // The shared root removed: only the per-tenant one is left.
        vec![base.join("tenants/{tenant}")],
        // None at all.
        vec![],
        // Narrowed to another folder of the shared drive.
        vec![base.join("shared-drive/legal")],
    ] {
        let allowed = match roots.len() {
            0 => "none for this tenant in `[sources] folder_roots`".to_owned(),
            _ if roots[0].ends_with("{tenant}") => acme_root.clone(),
            _ => "a shared folder of `[sources] folder_roots`".to_owned(),
        };
        let narrowed = setup.with_roots(roots);
        let refused = setup.sync(&narrowed, "acme", &id(&source)).await;
        assert_eq!(refused.status, "failed");
        assert_eq!(
            refused.message.as_deref(),
            Some(refusal(&travel, &allowed).as_str())
        );
        assert_eq!(
            (refused.seen, refused.added, refused.removed),
            (0, 0, 0),
            "nothing read, nothing removed"
        );
        // What the tenant's admins read, scoped key included.
        let shown = setup.shown(&setup.scoped, "acme", &refused).await;
        assert_eq!(shown["status"], "failed");
        assert_eq!(shown["message"], refusal(&travel, &allowed).as_str());
        assert_eq!(setup.documents("acme").await, 1);
        assert_eq!(
            setup
                .gateway
                .bm25_hits("acme", "Zanzibar quartermaster")
                .await,
            ["policy.md"]
        );
        assert!(
            setup
                .gateway
                .bm25_hits("acme", "Timbuktu doubloons")
                .await
                .is_empty()
        );
    }

    // The root back: the next sync catches up.
    let caught_up = setup.sync(state, "acme", &id(&source)).await;
    assert_eq!(
        (
            caught_up.status.as_str(),
            caught_up.added,
            caught_up.removed
        ),
        ("succeeded", 1, 1),
        "{:?}",
        caught_up.message
    );
    assert_eq!(
        setup.gateway.bm25_hits("acme", "Timbuktu doubloons").await,
        ["expenses.md"]
    );
}

/// A folder acme's admin registered inside acme's root is later replaced by a symlink to beta's
/// folder (or a parent of it is, or it leads into the data directory): the sync is refused and
/// none of beta's documents reach acme.
#[cfg(unix)]
#[tokio::test]
async fn a_folder_swapped_for_a_link_out_of_its_root_is_refused() {
    use std::os::unix::fs::symlink;

    let setup = Setup::new().await;
    let base = setup.base();
    let acme = base.join("tenants/acme");
    let beta = base.join("tenants/beta");
    write(&acme.join("handbook/welcome.md"), ACME_WELCOME);
    write(
        &acme.join("dept/it/vpn.md"),
        "# VPN\n\nConnect to the gondola gateway.\n",
    );
    write(&beta.join("payroll/salaries.md"), BETA_SALARIES);
    write(
        &beta.join("it/secrets.md"),
        "# Beta secrets\n\nThe kumquat vault code is 1234.\n",
    );
    let handbook = setup
        .register(&setup.scoped, "acme", "handbook", &acme.join("handbook"))
        .await;
    assert_eq!(handbook["settings"]["registered_by"], "tenant_admin");
    let it = setup
        .register(&setup.global, "acme", "it", &acme.join("dept/it"))
        .await;
    let state = &setup.gateway.state;
    for source in [&handbook, &it] {
        let run = setup.sync(state, "acme", &id(source)).await;
        assert_eq!((run.status.as_str(), run.added), ("succeeded", 1));
    }

    // The folder itself becomes a link to beta's payroll.
    std::fs::rename(acme.join("handbook"), acme.join("handbook-old")).unwrap();
    symlink(beta.join("payroll"), acme.join("handbook")).unwrap();
    let refused = setup.sync(state, "acme", &id(&handbook)).await;
    assert_eq!(refused.status, "failed");
    assert_eq!(
        refused.message.as_deref(),
        Some(refusal(&acme.join("handbook"), &acme.display().to_string()).as_str())
    );
    // A parent of the other folder becomes a link to beta's whole root.
    std::fs::rename(acme.join("dept"), acme.join("dept-old")).unwrap();
    symlink(&beta, acme.join("dept")).unwrap();
    let refused = setup.sync(state, "acme", &id(&it)).await;
    assert_eq!(refused.status, "failed");
    let message = refused.message.unwrap();
    assert!(
        message.contains("is no longer inside the allowed folders"),
        "{message}"
    );
    // Into the data directory (the catalog, the index, every tenant's uploads).
    std::fs::remove_file(acme.join("handbook")).unwrap();
    symlink(base.join("data"), acme.join("handbook")).unwrap();
    let refused = setup.sync(state, "acme", &id(&handbook)).await;
    let message = refused.message.unwrap();
    assert_eq!(
        message,
        format!(
            "folder `{}` now leads into ragway's data directory, which is never a folder source; ask the operator, or remove the source",
            acme.join("handbook").display()
        )
    );

    // Nothing of beta's reached acme; acme's documents are still there.
    assert!(setup.gateway.bm25_hits("acme", "kumquat").await.is_empty());
    assert_eq!(setup.documents("acme").await, 2);
    assert_eq!(
        setup.gateway.bm25_hits("acme", "orchid mascot").await,
        ["welcome.md"]
    );
}

/// Symlinks inside a folder that lead out of it — to another tenant's file or folder, or to the
/// data directory — are not followed: reported as skipped, once each, with no name from outside.
#[cfg(unix)]
#[tokio::test]
async fn links_inside_a_folder_that_lead_out_of_it_are_not_followed() {
    use std::os::unix::fs::symlink;

    let setup = Setup::new().await;
    let base = setup.base();
    let handbook = base.join("tenants/acme/handbook");
    let payroll = base.join("tenants/beta/payroll");
    write(&handbook.join("welcome.md"), ACME_WELCOME);
    write(&payroll.join("salaries.md"), BETA_SALARIES);
    write(
        &payroll.join("bonus/2025.md"),
        "# Bonus\n\nThe kumquat bonus is paid in March.\n",
    );
    symlink(payroll.join("salaries.md"), handbook.join("leak.md")).unwrap();
    symlink(&payroll, handbook.join("payroll")).unwrap();
    symlink(base.join("data"), handbook.join("data")).unwrap();
    let source = setup
        .register(&setup.scoped, "acme", "handbook", &handbook)
        .await;
    let run = setup.sync(&setup.gateway.state, "acme", &id(&source)).await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{:?}",
        run.message
    );
    let mut skipped: Vec<_> = run
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.uri, f.reason))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            "data: symlink points outside the source root; not followed",
            "leak.md: symlink points outside the source root; skipped",
            "payroll: symlink points outside the source root; not followed",
        ]
    );
    assert!(setup.gateway.bm25_hits("acme", "kumquat").await.is_empty());
    assert_eq!(setup.documents("acme").await, 1);
}

/// The operator's own folders are not bound by `folder_roots`: added with the CLI's service or
/// synced with `ragway ingest`, they sync wherever they are. A source from before ragway recorded
/// who added it is held to the roots until the operator adopts it.
#[tokio::test]
async fn the_operators_folders_sync_wherever_they_are() {
    let setup = Setup::new().await;
    let base = setup.base();
    let elsewhere = base.join("elsewhere");
    write(
        &elsewhere.join("cli/notes.md"),
        "# Notes\n\nThe canteen serves paella on Fridays.\n",
    );
    write(
        &elsewhere.join("ingested/guide.md"),
        "# Guide\n\nParking is behind the observatory.\n",
    );
    write(
        &elsewhere.join("legacy/old.md"),
        "# Old\n\nThe archive room is in the basement.\n",
    );
    let state = &setup.gateway.state;
    let catalog = &state.core.catalog;
    let config = &state.core.config;
    let operator = SourceService::operator(catalog, config);
    let folder = |name: &str, path: &Path| NewSource {
        name: name.to_owned(),
        kind: "folder".to_owned(),
        settings: json!({"path": path}),
        schedule: None,
        paused: false,
        sync: false,
    };

    // `ragway sources add-folder`.
    let cli = operator
        .create("acme", folder("cli", &elsewhere.join("cli")))
        .await
        .unwrap();
    assert_eq!(cli.settings["registered_by"], "operator");
    let run = setup.sync(state, "acme", &cli.id).await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{:?}",
        run.message
    );

    // `ragway ingest`, then a scheduled or requested sync of the same source.
    setup
        .gateway
        .sync("acme", "ingested", &elsewhere.join("ingested"))
        .await
        .unwrap();
    let ingested = catalog
        .source_by_name("acme", "ingested")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ingested.settings["registered_by"], "operator");
    write(
        &elsewhere.join("ingested/more.md"),
        "# More\n\nBikes go in the courtyard.\n",
    );
    let run = setup.sync(state, "acme", &ingested.id).await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{:?}",
        run.message
    );

    // A source stored before ragway recorded who added it: held to the roots the API allows.
    let legacy_path = elsewhere.join("legacy");
    let legacy = catalog
        .create_source(
            "acme",
            "legacy",
            "folder",
            &json!({"path": legacy_path, "include": [], "exclude": [], "acl": {}}),
            None,
        )
        .await
        .unwrap();
    let refused = setup.sync(state, "acme", &legacy.id).await;
    assert_eq!(refused.status, "failed");
    let allowed = format!(
        "{}, a shared folder of `[sources] folder_roots`",
        base.join("tenants/acme").display()
    );
    assert_eq!(
        refused.message.as_deref(),
        Some(
            format!(
                "{} (ragway did not record who added this source: if the operator did, `ragway sources adopt` keeps it)",
                refusal(&legacy_path, &allowed)
            )
            .as_str()
        )
    );
    // Only the operator may adopt it; then it syncs.
    let err = SourceService::of(state)
        .adopt_folder(&legacy)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the operator"), "{err}");
    let adopted = operator.adopt_folder(&legacy).await.unwrap();
    assert_eq!(adopted.settings["registered_by"], "operator");
    assert_eq!(adopted.settings["path"], json!(legacy_path));
    let run = setup.sync(state, "acme", &legacy.id).await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{:?}",
        run.message
    );
    // A legacy source inside the roots keeps syncing as it did.
    let inside = base.join("shared-drive/forms");
    write(&inside.join("leave.md"), "# Leave\n\nFill in form L-7.\n");
    let old_inside = catalog
        .create_source("acme", "forms", "folder", &json!({"path": inside}), None)
        .await
        .unwrap();
    let run = setup.sync(state, "acme", &old_inside.id).await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{:?}",
        run.message
    );
    assert_eq!(setup.documents("acme").await, 5);
}
