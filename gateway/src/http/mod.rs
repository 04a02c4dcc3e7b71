//! HTTP plumbing shared by every channel: errors, authentication, JSON bodies, health.

pub mod auth;
pub mod errors;
pub mod health;
pub mod json;
pub mod openapi;
pub mod touches;

pub use auth::Principal;
pub use errors::ApiError;
pub use json::JsonBody;
