//! ragway's gateway: the axum server, the ask pipeline, channel adapters and the `ragway` CLI.

pub mod admin;
pub mod app;
pub mod ask;
pub mod cache;
pub mod channels;
pub mod cli;
pub mod config;
pub mod context;
pub mod copilot;
pub mod error;
pub mod eval;
pub mod ground;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod limits;
pub mod llm;
pub mod metrics;
pub mod openapi;
pub mod retrieve;
pub mod server;
pub mod sources;
pub mod state;
pub mod sync_jobs;
pub mod telemetry;
pub mod tenant_removal;
pub mod tenants;
pub mod usage;

pub use app::app;
pub use config::Config;
pub use error::GatewayError;
pub use server::Server;
pub use state::AppState;
