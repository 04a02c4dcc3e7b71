//! The admin API (`/api/v1/admin/...`), authenticated with admin keys.

pub mod keys;
pub mod settings;
pub mod tenants;
pub mod usage;
