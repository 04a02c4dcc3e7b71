//! The admin API (`/api/v1/admin/...`), authenticated with admin keys.

pub mod usage;
