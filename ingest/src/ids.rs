//! Deterministic identifiers: re-ingesting the same file yields the same ids, so writes are idempotent.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace for ragway's UUIDv5 ids (a fixed random UUID; never change it).
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a7e_93b4_4d4f_a1de_5c0b_8e27_41a9);

/// Stable document id from (tenant, source, uri).
pub fn document_id(tenant: &str, source_id: &str, uri: &str) -> String {
    let name = format!("{tenant}\u{1f}{source_id}\u{1f}{uri}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// Stable point id of a chunk from (tenant, document id, chunk index).
pub fn point_id(tenant: &str, document_id: &str, chunk_index: usize) -> Uuid {
    let name = format!("{tenant}\u{1f}{document_id}\u{1f}{chunk_index}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// Hex SHA-256 of document bytes; the manifest compares it to skip unchanged documents.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = document_id("acme", "s1", "it/vpn.md");
        assert_eq!(a, document_id("acme", "s1", "it/vpn.md"));
        assert_ne!(a, document_id("other", "s1", "it/vpn.md"));
        assert_eq!(point_id("acme", &a, 0), point_id("acme", &a, 0));
        assert_ne!(point_id("acme", &a, 0), point_id("acme", &a, 1));
    }
}
