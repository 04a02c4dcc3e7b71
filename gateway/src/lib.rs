//! ragway's gateway: the axum server, the ask pipeline, channel adapters and the `ragway` CLI.

pub mod admin;
pub mod app;
pub mod ask;
pub mod channels;
pub mod cli;
pub mod config;
pub mod copilot;
pub mod embeddings;
pub mod error;
pub mod eval;
pub mod http;
pub mod i18n;
pub mod limits;
pub mod llm;
pub mod metrics;
pub mod sources;
pub mod state;
pub mod tenants;
pub mod usage;

pub use app::app;
pub use config::Config;
pub use error::GatewayError;
pub use state::AppState;
