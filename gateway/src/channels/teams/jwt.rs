//! Inbound Bot Framework token validation, before the activity is trusted: an RS256 (or RS384/512)
//! JWS signed by a key from Microsoft's OpenID metadata, issued by the key's issuer family, for
//! this app (audience), current within 5 minutes of skew; then bound to the activity: the
//! `serviceurl` claim equals its `serviceUrl` and the key is endorsed for its channel.

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RsaParameters,
};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::keys::{IssuerFamily, KeyError, KeyStore, SigningKey};
use crate::config::teams::{BOT_FRAMEWORK_ISSUER, TeamsConfig};

/// Clock skew tolerated on `exp` and `nbf` (seconds), as the Bot Framework SDKs do.
pub const SKEW_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("missing `Authorization: Bearer <token>` header")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm `{0}`")]
    Algorithm(String),
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("{0}")]
    KeysUnavailable(String),
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token's issuer is not accepted")]
    Issuer,
    #[error("the token is not for this bot (audience)")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrl,
    #[error("the token's signing key is not endorsed for channel `{0}`")]
    Endorsement(String),
}

impl TokenError {
    /// 401 for a bad token; 403 for a good token that does not cover this activity; 503 when
    /// the keys to check it cannot be had (Microsoft retries).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ServiceUrl | Self::Endorsement(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    aud: Audience,
    pub exp: i64,
    pub nbf: Option<i64>,
    /// Bot Framework channel tokens name the service the activity came from.
    pub serviceurl: Option<String>,
}

/// A token whose signature, issuer, audience and lifetime are valid.
#[derive(Debug)]
pub struct VerifiedToken {
    pub claims: Claims,
    key: std::sync::Arc<SigningKey>,
}

fn decode<T: DeserializeOwned>(part: &str, what: &'static str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed(what))
}

fn parameters(alg: &str) -> Result<&'static RsaParameters, TokenError> {
    match alg {
        "RS256" => Ok(&RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Ok(&RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Ok(&RSA_PKCS1_2048_8192_SHA512),
        other => Err(TokenError::Algorithm(other.to_owned())),
    }
}

/// Validates `token` at Unix time `now`: issuer (which picks the keys), signature, audience, lifetime.
pub async fn verify(
    keys: &KeyStore,
    config: &TeamsConfig,
    token: &str,
    now: i64,
) -> Result<VerifiedToken, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not a JWS compact token"));
    };
    let header: Header = decode(header_b64, "header")?;
    let params = parameters(&header.alg)?;
    let kid = header.kid.ok_or(TokenError::Malformed("no key id (kid)"))?;
    // The issuer picks the keys; once the signature holds, the issuer is authentic too.
    let claims: Claims = decode(claims_b64, "claims")?;
    let family = if claims.iss == BOT_FRAMEWORK_ISSUER {
        IssuerFamily::BotFramework
    } else if config.entra_issuers().contains(&claims.iss) {
        IssuerFamily::Entra
    } else {
        return Err(TokenError::Issuer);
    };
    let key = keys.key(family, &kid).await.map_err(|err| match err {
        KeyError::Unknown => TokenError::UnknownKey,
        KeyError::Unavailable(detail) => TokenError::KeysUnavailable(detail),
    })?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed("signature"))?;
    let signed = format!("{header_b64}.{claims_b64}");
    let public = PublicKeyComponents {
        n: key.modulus.as_slice(),
        e: key.exponent.as_slice(),
    };
    public
        .verify(params, signed.as_bytes(), &signature)
        .map_err(|_| TokenError::Signature)?;
    let for_us = match &claims.aud {
        Audience::One(aud) => *aud == config.app_id,
        Audience::Many(auds) => auds.contains(&config.app_id),
    };
    if !for_us || config.app_id.is_empty() {
        return Err(TokenError::Audience);
    }
    if now > claims.exp + SKEW_SECS {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + SKEW_SECS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(VerifiedToken { claims, key })
}

impl VerifiedToken {
    /// Binds the token to the activity it came with.
    pub fn covers(&self, service_url: &str, channel_id: &str) -> Result<(), TokenError> {
        match (&self.claims.serviceurl, self.key.family) {
            (Some(claimed), _) if claimed != service_url => return Err(TokenError::ServiceUrl),
            // Channel tokens always carry the claim; without it the activity is not bound.
            (None, IssuerFamily::BotFramework) => return Err(TokenError::ServiceUrl),
            _ => {}
        }
        if let Some(endorsements) = &self.key.endorsements
            && !endorsements
                .iter()
                .any(|e| e.eq_ignore_ascii_case(channel_id))
        {
            return Err(TokenError::Endorsement(channel_id.to_owned()));
        }
        Ok(())
    }
}
