//! HTTP plumbing shared by every channel: errors, authentication, JSON bodies, health.

pub mod admin_auth;
pub mod auth;
pub mod errors;
pub mod headers;
pub mod health;
pub mod json;
pub mod metrics;
pub mod trace;

pub use admin_auth::Admin;
pub use errors::ApiError;
pub use json::JsonBody;
