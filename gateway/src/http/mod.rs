//! HTTP plumbing shared by every channel: errors, authentication, JSON bodies, health.

pub mod admin_auth;
pub mod auth;
pub mod errors;
pub mod health;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod touches;

pub use admin_auth::Admin;
pub use auth::Principal;
pub use errors::ApiError;
pub use json::JsonBody;
