#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `ragway` binary end to end: tenants, keys, ingest (twice: incremental), ask, and errors.

#[path = "common/binary.rs"]
mod binary;

use std::path::Path;
use std::process::Output;

use binary::{ChildLogs, bare, command, free_port, log_scan, run, spawn, wait_until_up};

/// Runs `ragway --data-dir <data_dir> <args>` in `data_dir`, its stderr kept in `logs`.
fn ragway(logs: &ChildLogs, data_dir: &Path, args: &[&str]) -> Output {
    ragway_in(logs, data_dir, "C.UTF-8", args)
}

/// The command with the environment's locale set to `locale` (output follows it).
fn ragway_in(logs: &ChildLogs, data_dir: &Path, locale: &str, args: &[&str]) -> Output {
    run(
        logs,
        command(None, data_dir, data_dir, args).env("LANG", locale),
    )
}

#[test]
fn output_follows_the_locale_or_lang() {
    let logs = ChildLogs::new("cli: output_follows_the_locale_or_lang").unwrap();
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    let pages = [
        (
            "vacaciones.md",
            "# Vacaciones\n\nEn el primer año de servicio tienes doce días de vacaciones pagadas.\n",
        ),
        (
            "vpn.md",
            "# VPN\n\nPara conectarte a la VPN abre el cliente NorthGate e inicia sesión con tu cuenta.\n",
        ),
        (
            "comedor.md",
            "# Comedor\n\nEl comedor de la planta abre de siete a tres y el menú cambia cada semana.\n",
        ),
        (
            "estacionamiento.md",
            "# Estacionamiento\n\nEl estacionamiento de visitantes está junto a la caseta norte.\n",
        ),
    ];
    for (name, text) in pages {
        std::fs::write(docs.path().join(name), text).unwrap();
    }
    let docs = docs.path().to_str().unwrap();
    let created = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &["tenants", "create", "acme"],
    ));
    assert_eq!(created.trim(), "tenant acme creado");
    let key = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &["keys", "create", "--tenant", "acme", "--name", "intranet"],
    ));
    assert!(
        key.contains("creada para el tenant acme") && key.contains("solo se muestra una vez"),
        "{key}"
    );
    let keys = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &["keys", "list", "--tenant", "acme"],
    ));
    assert!(
        keys.contains("último uso") && keys.contains("activa"),
        "{keys}"
    );
    let added = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &[
            "sources",
            "add-upload",
            "--tenant",
            "acme",
            "--name",
            "subidas",
        ],
    ));
    assert!(
        added.starts_with("fuente ") && added.contains("creada"),
        "{added}"
    );
    let listed = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &["sources", "list", "--tenant", "acme"],
    ));
    assert!(
        listed.contains("sin programación") && listed.contains("nunca sincronizada"),
        "{listed}"
    );
    let english = stdout(&ragway(
        &logs,
        data.path(),
        &["sources", "list", "--tenant", "acme"],
    ));
    assert!(english.contains("never synced"), "{english}");
    let synced = stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &["ingest", "--tenant", "acme", docs],
    ));
    assert!(
        synced.contains("sincronizado: 4 vistos, 4 nuevos, 0 modificados"),
        "{synced}"
    );
    let again = stdout(&ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "acme", docs],
    ));
    assert!(again.contains("synced: 4 seen, 0 added"), "{again}");

    let question = "¿Cuántos días de vacaciones tengo?";
    log_scan::question(question);
    let answer = stdout(&ragway(
        &logs,
        data.path(),
        &["ask", "--tenant", "acme", "--lang", "es", question],
    ));
    assert!(answer.starts_with("Respuesta extractiva"), "{answer}");
    assert!(
        answer.contains("\nFuentes:\n") && answer.contains("(respuesta extractiva, 0 tokens)"),
        "{answer}"
    );
    logs.check();
}

#[test]
fn errors_follow_the_locale_or_lang() {
    let logs = ChildLogs::new("cli: errors_follow_the_locale_or_lang").unwrap();
    log_scan::question("¿Dónde está la VPN?");
    log_scan::question("Where is the VPN?");
    let data = tempfile::tempdir().unwrap();
    stdout(&ragway(&logs, data.path(), &["tenants", "create", "acme"]));
    let es = |args: &[&str]| stderr(&ragway_in(&logs, data.path(), "es_MX.UTF-8", args));
    assert_eq!(
        es(&["tenants", "delete", "acme"]),
        "error: eliminar el tenant acme borra sus fragmentos, documentos, fuentes, claves y conversaciones, y no se puede deshacer; agrega --yes"
    );
    assert_eq!(
        es(&["ask", "--tenant", "nadie", "¿Dónde está la VPN?"]),
        "error: no existe el tenant nadie (créalo con `ragway tenants create nadie`)"
    );
    assert!(es(&["tenants", "create", "Acme Corp"]).starts_with(
        "error: configuración no válida: id de tenant no válido \"Acme Corp\": usa de 1 a 64"
    ),);
    assert_eq!(
        es(&["sources", "remove", "--tenant", "acme", "wiki"]),
        "error: quitar `wiki` borra sus documentos del índice; agrega --yes para confirmar"
    );
    assert_eq!(
        es(&["sources", "pause", "--tenant", "acme", "wiki"]),
        "error: el tenant `acme` no tiene una fuente `wiki`"
    );
    assert_eq!(
        es(&["usage", "--tenant", "acme", "--from", "ayer"]),
        "error: `from` debe ser una fecha AAAA-MM-DD, se recibió `ayer`"
    );
    stdout(&ragway_in(
        &logs,
        data.path(),
        "es_MX.UTF-8",
        &[
            "sources",
            "add-upload",
            "--tenant",
            "acme",
            "--name",
            "drop",
        ],
    ));
    assert_eq!(
        es(&[
            "sources",
            "add-upload",
            "--tenant",
            "acme",
            "--name",
            "drop"
        ]),
        "error: ya existe una fuente llamada `drop`"
    );
    // The same failures in English, from the locale or from --lang.
    assert_eq!(
        stderr(&ragway(&logs, data.path(), &["tenants", "delete", "acme"])),
        "error: deleting tenant acme removes its passages, documents, sources, keys and conversations and cannot be undone; add --yes"
    );
    assert_eq!(
        es(&[
            "ask",
            "--tenant",
            "nadie",
            "--lang",
            "en",
            "Where is the VPN?"
        ]),
        "error: not found: tenant nadie (create it with `ragway tenants create nadie`)"
    );
    logs.check();
}

/// `sources add-folder` checks what it stores like the admin API does — the operator may name
/// any folder (no `[sources] folder_roots` needed), but it must be a folder, and the name and
/// schedule are checked too. (It used to store a file's path, or a blank name, as given.)
#[test]
fn add_folder_is_checked_like_the_admin_api_but_may_name_any_folder() {
    let logs = ChildLogs::new("cli: add_folder_is_checked_like_the_admin_api").unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("docs")).unwrap();
    let file = data.path().join("docs").join("notes.md");
    std::fs::write(&file, "# Notes\n").unwrap();
    let file = file.to_str().unwrap();
    stdout(&ragway(&logs, data.path(), &["tenants", "create", "acme"]));
    let add = |name: &str, path: &str| {
        let args = [
            "sources",
            "add-folder",
            "--tenant",
            "acme",
            "--name",
            name,
            path,
        ];
        ragway(&logs, data.path(), &args)
    };
    assert_eq!(
        stderr(&add("notes", file)),
        format!("error: `{file}` is not a folder")
    );
    assert_eq!(
        stderr(&ragway_in(
            &logs,
            data.path(),
            "es_MX.UTF-8",
            &[
                "sources",
                "add-folder",
                "--tenant",
                "acme",
                "--name",
                "notes",
                file
            ],
        )),
        format!("error: `{file}` no es una carpeta")
    );
    assert_eq!(
        stderr(&add("missing", "no-such-folder")),
        "error: cannot read no-such-folder: No such file or directory (os error 2)"
    );
    assert_eq!(
        stderr(&add("  ", "docs")),
        "error: `name` must be 1 to 100 printable characters"
    );
    let every_minute = ragway(
        &logs,
        data.path(),
        &[
            "sources",
            "add-folder",
            "--tenant",
            "acme",
            "--name",
            "docs",
            "docs",
            "--schedule",
            "every 1m",
        ],
    );
    assert_eq!(
        stderr(&every_minute),
        "error: `every 1m` is more often than the allowed minimum of 300s"
    );
    // A relative path, outside any `folder_roots` (none are configured).
    let added = stdout(&add("docs", "docs"));
    assert!(added.contains("docs"), "{added}");
    let listed = stdout(&ragway(
        &logs,
        data.path(),
        &["sources", "list", "--tenant", "acme"],
    ));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains("docs") && listed.contains("folder"),
        "{listed}"
    );
    logs.check();
}

/// The error a failed command reported (its log lines aside).
fn stderr(output: &Output) -> String {
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr.clone()).unwrap();
    let error = text.lines().find(|line| line.starts_with("error: "));
    error
        .unwrap_or_else(|| panic!("no error line in: {text}"))
        .to_owned()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn tenants_keys_ingest_and_ask_from_the_command_line() {
    let logs = ChildLogs::new("cli: tenants_keys_ingest_and_ask_from_the_command_line").unwrap();
    let data = tempfile::tempdir().unwrap();
    let handbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/handbook");
    let handbook = handbook.to_str().unwrap();

    assert!(
        stdout(&ragway(
            &logs,
            data.path(),
            &["tenants", "create", "acme", "--name", "Acme"]
        ))
        .contains("created tenant acme")
    );
    let created = stdout(&ragway(
        &logs,
        data.path(),
        &["keys", "create", "--tenant", "acme", "--name", "ci"],
    ));
    let key = created.lines().last().unwrap();
    assert!(key.starts_with("rgw_"), "{created}");
    let listed = stdout(&ragway(
        &logs,
        data.path(),
        &["keys", "list", "--tenant", "acme"],
    ));
    assert!(
        listed.contains("ci") && !listed.contains(key),
        "secrets are never listed: {listed}"
    );

    let first = stdout(&ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "acme", handbook],
    ));
    assert!(
        first.contains("58 seen, 58 added, 0 changed, 0 unchanged, 0 removed, 0 failed"),
        "{first}"
    );
    let second = stdout(&ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "acme", handbook],
    ));
    assert!(
        second.contains("0 added, 0 changed, 58 unchanged, 0 removed, 0 failed (0 chunks written"),
        "{second}"
    );

    let question = "Which server address does the NorthGate client connect to?";
    log_scan::question(question);
    let answer = stdout(&ragway(
        &logs,
        data.path(),
        &["ask", "--tenant", "acme", question],
    ));
    assert!(answer.starts_with("Extractive answer"), "{answer}");
    assert!(
        answer.contains("Sources:") && answer.contains("(it/northgate-vpn-setup.md)"),
        "{answer}"
    );

    // The question asked above is counted in the tenant's usage.
    let usage = stdout(&ragway(
        &logs,
        data.path(),
        &["usage", "--tenant", "acme", "--json"],
    ));
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    assert_eq!(
        usage["totals"]["requests"], 0,
        "the CLI is not an API request"
    );
    let table = stdout(&ragway(
        &logs,
        data.path(),
        &["usage", "--tenant", "acme", "--users"],
    ));
    assert!(table.contains("total"), "{table}");

    let admin = stdout(&ragway(
        &logs,
        data.path(),
        &["admin-keys", "create", "--tenant", "acme"],
    ));
    let admin_key = admin.lines().last().unwrap();
    assert!(
        admin_key.starts_with("rgwadm_") && admin.contains("for tenant acme"),
        "{admin}"
    );
    let admins = stdout(&ragway(&logs, data.path(), &["admin-keys", "list"]));
    assert!(
        admins.contains("acme") && !admins.contains(admin_key),
        "{admins}"
    );
    let admin_id = &admin_key["rgwadm_".len().."rgwadm_".len() + 8];
    assert!(
        stdout(&ragway(
            &logs,
            data.path(),
            &["admin-keys", "revoke", admin_id]
        ))
        .contains("revoked")
    );

    let shown = stdout(&ragway(&logs, data.path(), &["tenants", "show", "acme"]));
    assert!(
        shown.contains("documents   58") && shown.contains("API keys    1 active"),
        "{shown}"
    );
    stdout(&ragway(
        &logs,
        data.path(),
        &["tenants", "rename", "acme", "--name", "Acme Manufacturing"],
    ));
    assert!(
        stdout(&ragway(&logs, data.path(), &["tenants", "list"])).contains("Acme Manufacturing")
    );
    let refused = ragway(&logs, data.path(), &["tenants", "delete", "acme"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let deleted = stdout(&ragway(
        &logs,
        data.path(),
        &["tenants", "delete", "acme", "--yes"],
    ));
    assert!(
        deleted.contains("58 documents") && deleted.contains("1 API keys"),
        "{deleted}"
    );
    stdout(&ragway(&logs, data.path(), &["tenants", "create", "acme"]));

    let unknown = ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "nobody", handbook],
    );
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains("tenant nobody") && message.contains("ragway tenants create"),
        "{message}"
    );

    let bad_config = ragway(
        &logs,
        data.path(),
        &["--config", "/nonexistent/ragway.toml", "tenants", "list"],
    );
    assert!(!bad_config.status.success());
    assert!(
        String::from_utf8_lossy(&bad_config.stderr)
            .contains("cannot read /nonexistent/ragway.toml")
    );
    logs.check();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_ingest_converges_when_re_run() {
    let logs = ChildLogs::new("cli: a_killed_ingest_converges_when_re_run").unwrap();
    let data = tempfile::tempdir().unwrap();
    let docs = data.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    const DOCS: usize = 3000;
    for i in 0..DOCS {
        let body = format!(
            "# Procedure {i}\nStep codeword zx{i}q applies to machine {i}. {}\n",
            "Check the guard. ".repeat(20)
        );
        std::fs::write(docs.join(format!("p{i:04}.md")), body).unwrap();
    }
    let docs_arg = docs.to_str().unwrap();
    stdout(&ragway(&logs, data.path(), &["tenants", "create", "acme"]));
    let catalog_url = ragway_catalog::default_url(data.path());

    let ingest = ["ingest", "--tenant", "acme", docs_arg];
    // Flushed (and recorded) every 20 ms rather than every 2 s: this small sync would otherwise
    // record everything at its end, and the kill must land between flushes.
    let mut killed = command(None, data.path(), data.path(), &ingest);
    killed.env("RAGWAY_INGEST__FLUSH_INTERVAL_MS", "20");
    let mut child = spawn(&logs, "ragway ingest (killed)", &mut killed);
    // Kill it (SIGKILL: no cleanup) as soon as some, but not all, documents are recorded.
    let catalog = ragway_catalog::Catalog::connect(&catalog_url)
        .await
        .unwrap();
    let recorded = loop {
        let n = catalog.document_count("acme").await.unwrap();
        if n > 0 {
            child.0.kill().unwrap();
            break n;
        }
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the ingest finished before it could be killed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    child.0.wait().unwrap();
    let at_kill = catalog.document_count("acme").await.unwrap();
    assert!(
        at_kill < DOCS as i64,
        "killed after {recorded} documents, found {at_kill}: the kill came too late"
    );
    catalog.pool().close().await;

    let rerun = stdout(&ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "acme", docs_arg],
    ));
    assert!(
        rerun.contains(&format!("{DOCS} seen"))
            && rerun.contains("0 changed")
            && rerun.contains("0 failed"),
        "{rerun}"
    );
    let again = stdout(&ragway(
        &logs,
        data.path(),
        &["ingest", "--tenant", "acme", docs_arg],
    ));
    assert!(
        again.contains(&format!("0 added, 0 changed, {DOCS} unchanged")),
        "{again}"
    );

    // Every document is searchable exactly once: one chunk each, no duplicates, none lost.
    let config = ragway_gateway::Config {
        data_dir: data.path().to_path_buf(),
        ..Default::default()
    };
    let state = ragway_gateway::AppState::open(config).await.unwrap();
    assert_eq!(state.store.count("acme").await.unwrap(), DOCS);
    assert_eq!(
        state.core.catalog.document_count("acme").await.unwrap(),
        DOCS as i64
    );
    for i in [0, DOCS / 2, DOCS - 1] {
        let hits = state
            .core
            .retriever
            .retrieve(
                &ragway_gateway::identity::Principal::local("acme"),
                &format!("zx{i}q"),
                ragway_ingest::lang::Lang::En,
                3,
                None,
            )
            .await
            .unwrap();
        assert_eq!(hits[0].payload.uri, format!("p{i:04}.md"));
    }
    let source = state
        .core
        .catalog
        .source_by_name("acme", "docs")
        .await
        .unwrap()
        .unwrap();
    let runs = state.core.catalog.sync_runs(&source.id).await.unwrap();
    let statuses: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r.status.as_str(), r.trigger.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("failed", "manual"),
            ("queued", "recovery"),
            ("succeeded", "manual"),
            ("succeeded", "manual")
        ],
        "the killed run is marked failed and queued again for the sync workers"
    );
    logs.check();
}

/// `[server] log_format = "json"`: one JSON object per line, each request's access line inside its
/// span (the request id), no question text at the default level — and Kubernetes' service-link
/// variables are ignored with a warning instead of stopping the server.
#[tokio::test]
async fn json_logs_carry_the_request_id_never_the_question() {
    let logs = ChildLogs::new("cli: json_logs_carry_the_request_id_never_the_question").unwrap();
    let data = tempfile::tempdir().unwrap();
    let handbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/handbook");
    let handbook = handbook.to_str().unwrap();
    assert!(
        ragway(&logs, data.path(), &["tenants", "create", "acme"])
            .status
            .success()
    );
    assert!(
        ragway(
            &logs,
            data.path(),
            &["ingest", "--tenant", "acme", handbook]
        )
        .status
        .success()
    );
    let created = ragway(&logs, data.path(), &["keys", "create", "--tenant", "acme"]);
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let port = free_port();
    let serve = "ragway serve (JSON logs)";
    let child = spawn(
        &logs,
        serve,
        bare()
            .arg("--data-dir")
            .arg(data.path())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("RAGWAY_SERVER__LOG_FORMAT", "json")
            .env("RAGWAY_PORT", "tcp://10.0.0.7:8080")
            .env("RAGWAY_SERVICE_HOST", "10.0.0.7")
            .env("RAGWAY_PORT_8080_TCP_ADDR", "10.0.0.7"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&logs, serve, &format!("{base}/readyz")).await;
    let client = reqwest::Client::new();
    let marker = "zebra-quokka-7731";
    let question = format!("How do I set up the VPN {marker}?");
    log_scan::question(&question);
    let response = client
        .post(format!("{base}/api/v1/ask"))
        .bearer_auth(&key)
        .header("x-request-id", "req-json-log-1")
        .json(&serde_json::json!({ "question": question }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap();
    drop(child); // killed
    let text = logs.text(serve);
    assert!(
        !text.contains(marker),
        "the question reached the logs:\n{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "req-json-log-1"
                && l["fields"]["message"] == "finished processing request"),
        "no access line with the request id:\n{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["variable"] == "RAGWAY_PORT"),
        "the service link was not reported:\n{text}"
    );
    logs.check();
}
