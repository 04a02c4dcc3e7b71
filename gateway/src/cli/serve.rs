use axum::serve::ListenerExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ragway_ingest::source::FolderSourceConfig;
use tokio::net::TcpListener;

use super::ingest::{print_summary, sync_folder};
use super::out;
use crate::app::app;
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n::fill;
use crate::server::Server;
use crate::state::AppState;

const DEMO_TENANT: &str = "demo";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (default 127.0.0.1:8080).
    #[arg(long, env = "RAGWAY_ADDR")]
    addr: Option<std::net::SocketAddr>,
    /// Demo mode: create the `demo` tenant, sync the sample handbook into it and print a ready API key.
    #[arg(long)]
    demo: bool,
    /// Folder the demo ingests.
    #[arg(long, default_value = "examples/handbook")]
    demo_dir: PathBuf,
}

pub async fn run(mut config: Config, args: ServeArgs) -> Result<(), GatewayError> {
    if let Some(addr) = args.addr {
        config.addr = addr;
    }
    let server = Server::open(config).await?;
    let state = server.state.clone();
    state.recover_interrupted_syncs().await?;
    if let Err(err) = crate::tenant_removal::remove_orphan_uploads(&state).await {
        tracing::warn!(%err, "could not look for the uploaded files of deleted sources");
    }
    let stop_housekeeping = tokio_util::sync::CancellationToken::new();
    state.core.tasks.spawn(purge_conversations(
        state.clone(),
        stop_housekeeping.clone(),
    ));
    state
        .core
        .tasks
        .spawn(flush_usage(state.clone(), stop_housekeeping.clone()));
    state
        .core
        .tasks
        .spawn(prune_limits(state.clone(), stop_housekeeping.clone()));
    crate::sources::jobs::spawn(&state, &stop_housekeeping);
    if let Some(metrics_addr) = state.core.config.server.metrics_addr {
        let listener = TcpListener::bind(metrics_addr).await.map_err(|e| {
            GatewayError::Config(format!("cannot listen for metrics on {metrics_addr}: {e}"))
        })?;
        let metrics = crate::app::metrics_app(state.core.clone());
        let stop = stop_housekeeping.clone();
        state.core.tasks.spawn(async move {
            let served = axum::serve(listener, metrics.into_make_service())
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(err) = served {
                tracing::error!(%err, "the metrics listener failed");
            }
        });
        tracing::info!(%metrics_addr, "metrics are served on their own address");
    }
    state.core.catalog.ensure_tenant("default").await?;
    let listener = TcpListener::bind(state.core.config.addr)
        .await
        .map_err(|e| {
            GatewayError::Config(format!("cannot listen on {}: {e}", state.core.config.addr))
        })?;
    let addr = listener.local_addr()?;
    if args.demo {
        demo(&server, &args.demo_dir, addr).await?;
    }
    tracing::info!(%addr, mode = ?state.core.profiles.default_profile().chat.mode(), "ragway is listening");
    let grace = Duration::from_secs(state.core.config.server.shutdown_grace_secs);
    let tasks = state.core.tasks.clone();
    let stopping = tokio_util::sync::CancellationToken::new();
    let signalled = std::sync::Arc::new(std::sync::OnceLock::new());
    // Answers stream as many small writes: without TCP_NODELAY, Nagle's algorithm holds each one
    // until the client acknowledges the last, and a client delaying its ACKs (Linux: up to 40 ms)
    // adds that to every answer on a busy keep-alive connection. (axum::serve leaves it off.)
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY on a connection");
        }
    });
    // One router for every connection. Served as itself, axum re-materialises the whole router
    // (every route's boxed layer stack cloned) for each new connection: ≈ 150 KB and a burst of
    // allocation per connection, which a spike of new connections turned into RSS the allocator
    // kept (docs/BENCHMARKS.md). The routes already hold their state, so a shared clone serves.
    let serving = axum::serve(listener, app(server).into_make_service()).with_graceful_shutdown({
        let (stopping, signalled) = (stopping.clone(), std::sync::Arc::clone(&signalled));
        async move {
            shutdown_signal().await;
            let _ = signalled.set(tokio::time::Instant::now());
            stopping.cancel();
        }
    });
    // The grace period is one deadline for requests and background work together: what is still
    // running when it ends is dropped, so a stuck stream or a runaway answer cannot keep the
    // process alive.
    tokio::select! {
        served = serving => served?,
        () = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish within the shutdown grace period; stopping anyway");
        }
    }
    stop_housekeeping.cancel();
    tasks.close();
    let left = signalled
        .get()
        .map_or(grace, |at| grace.saturating_sub(at.elapsed()));
    if tokio::time::timeout(left, tasks.wait()).await.is_err() {
        tracing::warn!("background tasks did not finish within the shutdown grace period");
    }
    Ok(())
}

async fn demo(
    server: &Server,
    dir: &std::path::Path,
    addr: std::net::SocketAddr,
) -> Result<(), GatewayError> {
    let state = &server.state;
    if !dir.is_dir() {
        return Err(GatewayError::Config(format!(
            "the demo folder {} does not exist; run from the repository root or pass --demo-dir",
            dir.display()
        )));
    }
    state.core.catalog.ensure_tenant(DEMO_TENANT).await?;
    let lang = super::output_lang(None, &state.core.config);
    let report = sync_folder(
        state,
        DEMO_TENANT,
        "handbook",
        dir,
        &FolderSourceConfig::default(),
        lang,
    )
    .await?;
    print_summary(&report, lang);
    for old in state.core.catalog.api_keys(DEMO_TENANT).await? {
        if old.name == "demo" && old.revoked_at.is_none() {
            state.core.catalog.revoke_api_key(&old.id).await?;
        }
    }
    let key = state
        .core
        .catalog
        .create_api_key(DEMO_TENANT, "demo")
        .await?;
    let widget_key = demo_widget_key(state, addr).await?;
    server.widget.set_demo_key(&widget_key);
    let m = crate::i18n::messages(lang);
    let mode = match state.core.profiles.default_profile().chat.mode() {
        crate::llm::AnswerMode::Generative => m.demo_generative,
        crate::llm::AnswerMode::Extractive => m.demo_extractive,
    };
    let ready = fill(
        m.demo_ready,
        &[("addr", &addr), ("tenant", &DEMO_TENANT), ("mode", &mode)],
    );
    out(format!("\n{ready}"));
    out(fill(m.demo_api_key, &[("key", &key.secret)]));
    out(m.demo_try);
    let body = serde_json::json!({ "question": m.demo_question });
    out(format!(
        "  curl -s http://{addr}/api/v1/ask -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{body}'",
        key.secret
    ));
    out(m.demo_stream);
    let widget = fill(m.demo_widget, &[("addr", &addr), ("key", &widget_key)]);
    out(format!("{widget}\n"));
    Ok(())
}

/// A fresh widget key for the demo tenant, allowed on the gateway's own origin, and the demo
/// page at `/` embedding it (earlier demo keys are revoked).
async fn demo_widget_key(
    state: &AppState,
    addr: std::net::SocketAddr,
) -> Result<String, GatewayError> {
    for old in state.core.catalog.widget_keys(DEMO_TENANT).await? {
        if old.name == "demo" && old.revoked_at.is_none() {
            state.core.catalog.revoke_widget_key(&old.id).await?;
        }
    }
    let port = addr.port();
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_unspecified() {
        // Listening everywhere: the browser on this machine uses a loopback address.
        origins = vec![format!("http://127.0.0.1:{port}")];
    }
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        origins.push(format!("http://localhost:{port}"));
    }
    let key = state
        .core
        .catalog
        .create_widget_key(DEMO_TENANT, "demo", &origins)
        .await?;
    Ok(key.id)
}

/// Writes the usage counters to the catalog every `server.usage_flush_secs`, and once more on
/// shutdown so nothing counted is lost.
async fn flush_usage(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let every = Duration::from_secs(state.core.config.server.usage_flush_secs.max(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => state.core.flush_usage().await,
        }
    }
    state.core.flush_usage().await;
}

/// Forgets the in-process limiter's users whose allowance has refilled, every minute.
async fn prune_limits(state: AppState, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {
                let users = state.core.limiter.prune();
                tracing::debug!(users, "pruned the limiter's per-user state");
            }
        }
    }
}

/// Deletes conversations past their retention, at start and then hourly.
async fn purge_conversations(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let retention_days = state.core.config.conversation.retention_days;
    loop {
        match state.core.catalog.purge_conversations(retention_days).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, retention_days, "deleted expired conversations"),
            Err(err) => tracing::warn!(%err, "could not purge expired conversations"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
