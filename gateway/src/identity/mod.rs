//! Who asks: the identity every channel resolves its caller to.

pub mod expiry;
pub mod touches;

/// Who asks: the tenant, a user id and the groups that drive document ACLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub user_id: String,
    pub groups: Vec<String>,
}

impl Principal {
    /// A trusted local caller (the CLI) acting inside a tenant.
    pub fn local(tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            user_id: "cli".to_owned(),
            groups: Vec::new(),
        }
    }
}
