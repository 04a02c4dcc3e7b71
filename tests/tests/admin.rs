#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The admin API end to end: tenants and their API keys created, listed, shown, renamed, revoked
//! and deleted with admin keys — global or scoped to one tenant — and every response matches
//! the OpenAPI document.

mod common;

use ragway_tests::admin_client::AdminClient as Admin;
use ragway_tests::harness::{Gateway, handbook_dir, test_config};
use serde_json::{Value, json};

#[tokio::test]
async fn tenants_and_keys_through_the_admin_api() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    let doc: Value = reqwest::get(format!("{}/openapi.json", gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, global) = gateway
        .state
        .core
        .catalog
        .create_admin_key(None, "ops")
        .await
        .unwrap();
    let admin = Admin {
        gateway: &gateway,
        key: global,
        doc: doc.clone(),
    };
    let tenants = "/api/v1/admin/tenants";
    let tenant = "/api/v1/admin/tenants/{id}";
    let keys = "/api/v1/admin/tenants/{id}/keys";

    let (status, created) = admin
        .call(
            "post",
            tenants,
            tenants,
            Some(json!({"id": "acme", "name": "Acme Corp"})),
        )
        .await;
    assert_eq!((status, created["name"].as_str()), (201, Some("Acme Corp")));
    let (status, _) = admin
        .call("post", tenants, tenants, Some(json!({"id": "acme"})))
        .await;
    assert_eq!(status, 409, "ids are unique");
    let (status, error) = admin
        .call("post", tenants, tenants, Some(json!({"id": "Bad Id!"})))
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lowercase")
    );
    let (status, _) = admin
        .call("post", tenants, tenants, Some(json!({"id": "globex"})))
        .await;
    assert_eq!(status, 201);

    // A key for the tenant: its secret works on the ask API, once revoked it does not.
    let (status, key) = admin
        .call(
            "post",
            "/api/v1/admin/tenants/acme/keys",
            keys,
            Some(json!({"name": "intranet", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(status, 201);
    let secret = key["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    assert_eq!(key["status"], "active");
    assert!(key["expires_at"].is_string());
    gateway
        .sync("acme", "handbook", &handbook_dir())
        .await
        .unwrap();
    let ask = |secret: String| {
        let url = format!("{}/api/v1/ask", gateway.base_url);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(secret)
                .json(&json!({"question": "NorthGate VPN server"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(ask(secret.clone()).await, 200);

    let (status, listed) = admin
        .call("get", "/api/v1/admin/tenants/acme/keys", keys, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are never listed"
    );

    let (status, shown) = admin
        .call("get", "/api/v1/admin/tenants/acme", tenant, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["active_api_keys"], 1);
    assert_eq!(shown["sources"], 1);
    assert!(shown["documents"].as_i64().unwrap() > 30);
    assert!(shown["chunks"].as_u64().unwrap() >= shown["documents"].as_u64().unwrap());

    // Documents: searchable by title or uri, one removed with its passages.
    let docs = "/api/v1/admin/tenants/{id}/documents";
    let (status, found) = admin
        .call(
            "get",
            "/api/v1/admin/tenants/acme/documents?q=VPN",
            docs,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let found = found.as_array().unwrap().clone();
    assert!(
        !found.is_empty()
            && found.iter().all(|d| {
                let text = format!("{} {}", d["title"], d["uri"]).to_lowercase();
                text.contains("vpn")
            }),
        "{found:?}"
    );
    let (_, page) = admin
        .call(
            "get",
            "/api/v1/admin/tenants/acme/documents?limit=5&offset=5",
            docs,
            None,
        )
        .await;
    assert_eq!(page.as_array().unwrap().len(), 5);
    let (status, _) = admin
        .call(
            "get",
            "/api/v1/admin/tenants/acme/documents?limit=0",
            docs,
            None,
        )
        .await;
    assert_eq!(status, 400);
    let vpn = found
        .iter()
        .find(|d| d["uri"] == "it/northgate-vpn-setup.md")
        .unwrap();
    let chunks_before = gateway.state.store.count("acme").await.unwrap();
    let remove = format!(
        "/api/v1/admin/tenants/acme/documents/{}",
        vpn["id"].as_str().unwrap()
    );
    let one = "/api/v1/admin/tenants/{id}/documents/{document_id}";
    let (status, removed) = admin.call("delete", &remove, one, None).await;
    assert_eq!(
        (status, removed["uri"].as_str()),
        (200, Some("it/northgate-vpn-setup.md"))
    );
    assert_eq!(
        gateway.state.store.count("acme").await.unwrap(),
        chunks_before - usize::try_from(removed["chunks"].as_i64().unwrap()).unwrap()
    );
    let (status, _) = admin.call("delete", &remove, one, None).await;
    assert_eq!(status, 404, "gone");

    let (status, renamed) = admin
        .call(
            "patch",
            "/api/v1/admin/tenants/acme",
            tenant,
            Some(json!({"name": "Acme Manufacturing"})),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (200, Some("Acme Manufacturing"))
    );

    // A key scoped to globex sees globex only and cannot create or delete tenants.
    let (_, scoped) = gateway
        .state
        .core
        .catalog
        .create_admin_key(Some("globex"), "globex it")
        .await
        .unwrap();
    let globex_admin = Admin {
        gateway: &gateway,
        key: scoped,
        doc: doc.clone(),
    };
    let (status, listed) = globex_admin.call("get", tenants, tenants, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], "globex");
    let (status, _) = globex_admin
        .call("get", "/api/v1/admin/tenants/acme", tenant, None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = globex_admin
        .call("post", tenants, tenants, Some(json!({"id": "new"})))
        .await;
    assert_eq!(status, 403);
    let (status, _) = globex_admin
        .call(
            "post",
            "/api/v1/admin/tenants/globex/keys",
            keys,
            Some(json!({"name": "bot"})),
        )
        .await;
    assert_eq!(status, 201);

    let key_id = key["id"].as_str().unwrap();
    let revoke = format!("/api/v1/admin/tenants/globex/keys/{key_id}");
    let (status, _) = globex_admin
        .call(
            "delete",
            &revoke,
            "/api/v1/admin/tenants/{id}/keys/{key_id}",
            None,
        )
        .await;
    assert_eq!(status, 404, "acme's key is not in globex");
    let revoke = format!("/api/v1/admin/tenants/acme/keys/{key_id}");
    let (status, revoked) = admin
        .call(
            "delete",
            &revoke,
            "/api/v1/admin/tenants/{id}/keys/{key_id}",
            None,
        )
        .await;
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    assert_eq!(ask(secret).await, 401);

    // Deleting needs the id repeated, then removes the index passages and the catalog rows.
    let (status, error) = admin
        .call("delete", "/api/v1/admin/tenants/acme", tenant, None)
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("confirm=acme")
    );
    let chunks_left = gateway.state.store.count("acme").await.unwrap();
    let (status, deleted) = admin
        .call(
            "delete",
            "/api/v1/admin/tenants/acme?confirm=acme",
            tenant,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["chunks"].as_u64(), Some(chunks_left as u64));
    assert_eq!(
        deleted["documents"].as_i64(),
        Some(shown["documents"].as_i64().unwrap() - 1),
        "all but the one removed above"
    );
    assert_eq!(deleted["api_keys"], 1);
    assert_eq!(gateway.state.store.count("acme").await.unwrap(), 0);
    assert!(
        gateway
            .state
            .core
            .catalog
            .tenant("acme")
            .await
            .unwrap()
            .is_none()
    );
    let (status, _) = admin
        .call("get", "/api/v1/admin/tenants/acme", tenant, None)
        .await;
    assert_eq!(status, 404);

    // Without a key, or with a tenant key, nothing.
    let anonymous = Admin {
        gateway: &gateway,
        key: String::new(),
        doc,
    };
    let (status, _) = anonymous.call("get", tenants, tenants, None).await;
    assert_eq!(status, 401);
}

/// Settings set through the admin API apply at once: limits on the next request, copilot
/// profiles on `/v1/models`; bad settings are refused with the reason.
#[tokio::test]
async fn tenant_settings_apply_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.copilot.profiles.insert(
        "quotes".into(),
        ragway_gateway::config::ProfileConfig {
            description: "Quoted passages".into(),
            llm: None,
            top_k: Some(3),
        },
    );
    let gateway = Gateway::start(config).await.unwrap();
    let key = gateway.tenant_with_key("acme").await.unwrap();
    let doc: Value = reqwest::get(format!("{}/openapi.json", gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, secret) = gateway
        .state
        .core
        .catalog
        .create_admin_key(Some("acme"), "acme it")
        .await
        .unwrap();
    let admin = Admin {
        gateway: &gateway,
        key: secret,
        doc,
    };
    let path = "/api/v1/admin/tenants/acme/settings";
    let documented = "/api/v1/admin/tenants/{id}/settings";

    let (status, before) = admin.call("get", path, documented, None).await;
    assert_eq!(status, 200);
    assert_eq!(before["limits"]["burst"], 100, "the configured default");
    assert_eq!(before["profiles"], json!(["ragway", "quotes"]));

    let settings = json!({
        "limits": {"requests_per_minute": 1, "burst": 2},
        "copilot": {"profiles": ["quotes"]},
    });
    let (status, after) = admin
        .call("put", path, documented, Some(settings.clone()))
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["settings"], settings_with_defaults(&settings));
    assert_eq!(
        (
            after["limits"]["requests_per_minute"].as_u64(),
            after["limits"]["burst"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(after["profiles"], json!(["quotes"]));

    let models: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", gateway.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "quotes");
    assert_eq!(models["data"].as_array().unwrap().len(), 1);
    let ask = || async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/ask", gateway.base_url))
            .bearer_auth(&key)
            .json(&json!({"question": "vpn"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ask().await, 200);
    assert_eq!(ask().await, 200);
    assert_eq!(ask().await, 429, "the new burst of 2 applies");

    for (bad, reason) in [
        (
            json!({"copilot": {"profiles": ["nope"]}}),
            "unknown profile `nope`",
        ),
        (
            json!({"copilot": {"profiles": ["quotes"], "default": "ragway"}}),
            "not among",
        ),
        (json!({"limits": {"burst": -1}}), "burst"),
        (json!({"limit": {}}), "unknown field"),
    ] {
        let (status, error) = admin.call("put", path, documented, Some(bad)).await;
        assert_eq!(status, 400);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{message}");
    }
    let (_, unchanged) = admin.call("get", path, documented, None).await;
    assert_eq!(
        unchanged["profiles"],
        json!(["quotes"]),
        "a refused update changes nothing"
    );
}

/// The stored form of settings: every limit field present (null when unset).
fn settings_with_defaults(settings: &Value) -> Value {
    let mut limits = json!({
        "requests_per_minute": null, "burst": null, "user_requests_per_minute": null, "user_burst": null,
        "tokens_per_minute": null, "tokens_per_day": null, "max_concurrent_streams": null,
    });
    for (k, v) in settings["limits"].as_object().unwrap() {
        limits[k] = v.clone();
    }
    json!({"limits": limits, "copilot": {"profiles": settings["copilot"]["profiles"], "default": null}})
}

/// `/metrics` on the main port names every tenant and its volumes: only a global admin key reads
/// it (Prometheus sends it as a bearer token); and an admin key past its expiry is refused.
#[tokio::test]
async fn metrics_need_a_global_admin_key_and_admin_keys_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    let catalog = &gateway.state.core.catalog;
    let api_key = gateway.tenant_with_key("acme").await.unwrap();
    let (_, scoped) = catalog
        .create_admin_key(Some("acme"), "acme it")
        .await
        .unwrap();
    let (_, global) = catalog.create_admin_key(None, "prometheus").await.unwrap();
    let client = reqwest::Client::new();
    let get = |path: &str, key: Option<&str>| {
        let mut request = client.get(format!("{}{path}", gateway.base_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get("/metrics", None).await.0, 401);
    assert_eq!(get("/metrics", Some(&api_key)).await.0, 403);
    let (status, body) = get("/metrics", Some(&scoped)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("global admin key"), "{body}");
    let (status, body) = get("/metrics", Some(&global)).await;
    assert_eq!(status, 200);
    assert!(body.contains("ragway_cache_hits_total"), "{body}");

    let day = chrono::Duration::days(1);
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, expired) = catalog
        .create_expiring_admin_key(None, "old", Some(&at(chrono::Utc::now() - day)))
        .await
        .unwrap();
    let (_, current) = catalog
        .create_expiring_admin_key(None, "new", Some(&at(chrono::Utc::now() + day)))
        .await
        .unwrap();
    let (status, body) = get("/api/v1/admin/tenants", Some(&expired)).await;
    assert_eq!(status, 401);
    assert!(body.contains("expired"), "{body}");
    assert_eq!(get("/api/v1/admin/tenants", Some(&current)).await.0, 200);
    assert!(
        catalog
            .create_expiring_admin_key(None, "bad", Some("next tuesday"))
            .await
            .is_err()
    );
    // A lifetime past the calendar is a clear 400, not an overflow (found by Schemathesis).
    for days in [0, 36_501, 2_147_483_646] {
        let response = client
            .post(format!(
                "{}/api/v1/admin/tenants/acme/keys",
                gateway.base_url
            ))
            .bearer_auth(&global)
            .json(&json!({"name": "far", "expires_in_days": days}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{days}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 36500"),
            "{body}"
        );
    }
}

/// Deleting a tenant also removes the files uploaded to its sources from the data directory; at
/// start, `serve` removes the upload folders of sources deleted elsewhere (another replica).
#[tokio::test]
async fn deleting_a_tenant_removes_its_uploaded_files() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    let UploadSource {
        client,
        base,
        global,
        source,
    } = upload_source(&gateway).await;
    let (content_type, body) =
        common::multipart(&[("file", Some("vpn.md"), b"# VPN\n\nUse the client.".to_vec())]);
    let stored = client
        .post(format!("{base}/sources/{source}/files"))
        .bearer_auth(&global)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.status().as_u16(),
        201,
        "{}",
        stored.text().await.unwrap()
    );
    let data_dir = gateway.state.core.config.data_dir.clone();
    let uploaded = ragway_gateway::sources::upload_dir(&data_dir, &source);
    assert!(uploaded.join("vpn.md").is_file());
    // A folder left by a source deleted through another replica.
    let orphan = ragway_gateway::sources::upload_dir(&data_dir, "src-deleted-elsewhere");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("old.md"), "# Old").unwrap();

    let deleted = client
        .delete(format!("{base}?confirm=acme"))
        .bearer_auth(&global)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    assert!(!uploaded.exists(), "the tenant's uploads are gone");
    assert!(
        orphan.exists(),
        "not this tenant's: left for the start-up sweep"
    );
    // An upload in progress elsewhere keeps its staging folder.
    let staging = data_dir
        .join("uploads")
        .join(".staging")
        .join("in-progress");
    std::fs::create_dir_all(&staging).unwrap();
    let removed = ragway_gateway::tenant_removal::remove_orphan_uploads(&gateway.state)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!orphan.exists());
    assert!(staging.exists(), "an upload's staging folder was swept");
}

/// Every zip of an upload is capped once expanded, and so are all of them together: many
/// archives in one request cannot add up to more than `max_zip_expanded_bytes` on the staging disk.
#[tokio::test]
async fn the_zips_of_one_upload_are_capped_together() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.sources.upload.max_zip_expanded_bytes = 1_000_000;
    let gateway = Gateway::start(config).await.unwrap();
    let UploadSource {
        client,
        base,
        global,
        source,
    } = upload_source(&gateway).await;
    let files = format!("{base}/sources/{source}/files");
    // ~600 KB of varied words per archive (compresses ~3×: no zip bomb).
    let text = |seed: u64| {
        let mut state = seed;
        let mut out = String::new();
        while out.len() < 600_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.push_str(&format!("word{} ", state >> 50));
        }
        out.into_bytes()
    };
    let upload = |zips: Vec<(&'static str, Vec<u8>)>| {
        let parts: Vec<_> = zips
            .into_iter()
            .map(|(name, zip)| ("file", Some(name), zip))
            .collect();
        let (content_type, body) = common::multipart(&parts);
        client
            .post(&files)
            .bearer_auth(&global)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let a = common::zip_archive(&[("a.txt", text(1))]);
    let b = common::zip_archive(&[("b.txt", text(2))]);
    let response = upload(vec![("a.zip", a.clone()), ("b.zip", b)])
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upload_refused");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_zip_expanded_bytes"),
        "{body}"
    );
    let response = upload(vec![("a.zip", a)]).await.unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "one archive is within the cap"
    );
}

/// Tenant `acme`, a global admin key and an upload source (no sync), through the admin API.
struct UploadSource {
    client: reqwest::Client,
    /// `…/api/v1/admin/tenants/acme`
    base: String,
    global: String,
    source: String,
}

async fn upload_source(gateway: &Gateway) -> UploadSource {
    let catalog = &gateway.state.core.catalog;
    catalog.ensure_tenant("acme").await.unwrap();
    let (_, global) = catalog.create_admin_key(None, "ops").await.unwrap();
    let client = reqwest::Client::new();
    let base = format!("{}/api/v1/admin/tenants/acme", gateway.base_url);
    let created: Value = client
        .post(format!("{base}/sources"))
        .bearer_auth(&global)
        .json(&json!({"name": "uploads", "kind": "upload", "sync": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let source = created["id"].as_str().unwrap().to_owned();
    UploadSource {
        client,
        base,
        global,
        source,
    }
}
