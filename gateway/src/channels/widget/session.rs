//! Widget session tokens: `v1.<claims>.<signature>`, the claims base64url JSON and the signature
//! HMAC-SHA256 over `v1.<claims>` with the gateway's session secret. A token is bound to the
//! widget key and the page origin it was issued for, carries the principal (tenant, user,
//! groups) and lives at most 15 minutes; nothing about it is stored server-side.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::identity::Principal;

const VERSION: &str = "v1";

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The widget key (`pk_…`).
    pub key: String,
    /// The page origin the session was issued to.
    pub origin: String,
    pub tenant: String,
    pub user: String,
    pub groups: Vec<String>,
    /// True when no identity token vouched for the user (`user` is then `anonymous:<id>`).
    pub anonymous: bool,
    /// Issued at and expiry (Unix seconds).
    pub iat: i64,
    pub exp: i64,
}

impl SessionClaims {
    pub fn principal(&self) -> Principal {
        Principal {
            tenant_id: self.tenant.clone(),
            user_id: self.user.clone(),
            groups: self.groups.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("malformed session token")]
    Malformed,
    #[error("the session token's signature is invalid")]
    Signature,
    #[error("the session has expired; start a new one")]
    Expired,
    #[error("the session token was issued for another page origin")]
    Origin,
}

/// Signs and checks session tokens with one secret.
pub struct SessionSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSigner(..)")
    }
}

impl SessionSigner {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    pub fn sign(&self, claims: &SessionClaims) -> String {
        // Serialising plain strings and numbers cannot fail.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(json));
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The claims of an authentic token, whatever its expiry (renewal looks at expired ones).
    pub fn open(&self, token: &str) -> Result<SessionClaims, SessionError> {
        let (signed, tag) = token.rsplit_once('.').ok_or(SessionError::Malformed)?;
        let (version, claims) = signed.split_once('.').ok_or(SessionError::Malformed)?;
        if version != VERSION {
            return Err(SessionError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SessionError::Malformed)?;
        // Constant-time comparison inside aws-lc.
        hmac::verify(&self.key, signed.as_bytes(), &tag).map_err(|_| SessionError::Signature)?;
        let json = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| SessionError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)
    }

    /// The claims of an authentic, current token used from the origin it was issued to.
    pub fn verify(
        &self,
        token: &str,
        origin: &str,
        now: i64,
    ) -> Result<SessionClaims, SessionError> {
        let claims = self.open(token)?;
        if now >= claims.exp {
            return Err(SessionError::Expired);
        }
        let same_origin = ragway_catalog::widget_keys::normalize_origin(origin)
            .is_ok_and(|origin| origin == claims.origin);
        if !same_origin {
            return Err(SessionError::Origin);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> SessionClaims {
        SessionClaims {
            key: "pk_abcdefghijklmnopqrstuvwx".into(),
            origin: "https://intranet.acme.com".into(),
            tenant: "acme".into(),
            user: "ana@acme.com".into(),
            groups: vec!["hr".into()],
            anonymous: false,
            iat: exp - 900,
            exp,
        }
    }

    #[test]
    fn round_trips_and_binds_origin_and_expiry() {
        let signer = SessionSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(2_000));
        let origin = "https://intranet.acme.com";
        assert_eq!(signer.verify(&token, origin, 1_999), Ok(claims(2_000)));
        assert_eq!(
            signer.verify(&token, origin, 2_000),
            Err(SessionError::Expired)
        );
        assert_eq!(
            signer.verify(&token, "https://evil.example", 1_000),
            Err(SessionError::Origin)
        );
    }

    #[test]
    fn refuses_tampered_and_foreign_tokens() {
        let signer = SessionSigner::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(&claims(2_000));
        let (_, rest) = token.split_once('.').unwrap();
        let (_, tag) = rest.split_once('.').unwrap();
        let mut forged = claims(2_000);
        forged.groups = vec!["finance".into(), "hr".into()];
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("v1.{forged_body}.{tag}");
        let origin = "https://intranet.acme.com";
        assert_eq!(
            signer.verify(&tampered, origin, 1_000),
            Err(SessionError::Signature)
        );
        let other = SessionSigner::new(b"another secret, another gateway!");
        assert_eq!(
            other.verify(&token, origin, 1_000),
            Err(SessionError::Signature)
        );
        assert_eq!(
            signer.verify("not-a-token", origin, 1_000),
            Err(SessionError::Malformed)
        );
    }
}
