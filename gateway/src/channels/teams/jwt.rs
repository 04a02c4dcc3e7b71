//! Inbound Bot Framework token validation, before the activity is trusted, by Microsoft's rules for
//! requests from the Bot Connector service to a bot: a JWS signed by a key from the Bot Framework
//! OpenID metadata, with an algorithm that metadata lists, issued by `https://api.botframework.com`,
//! for this app (audience), within its validity window give or take `clock_skew_secs`; then bound
//! to the activity: the `serviceurl` claim equals its `serviceUrl` and the signing key is endorsed
//! for its `channelId`. Entra-issued tokens (the app tenant's v1 and v2 issuers, keys from its
//! Entra metadata) count only when `teams.bot_service_app_id` is set and is their caller app
//! (`appid` in v1 tokens, `azp` in v2), and they too must carry a matching `serviceurl`.

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
    #[error("the token's caller app is not the Bot Framework service: {0}")]
    CallerApp(String),
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
    /// Entra access tokens: `1.0` (caller app in `appid`) or `2.0` (caller app in `azp`).
    ver: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
}

impl Claims {
    /// The app that asked Entra for the token: `appid` in v1 tokens (or without `ver`), `azp` in
    /// v2 — as Microsoft's Bot Framework authentication reads it.
    fn caller_app(&self) -> Result<&str, TokenError> {
        let (claim, value) = match self.ver.as_deref() {
            None | Some("1.0") => ("appid", &self.appid),
            Some("2.0") => ("azp", &self.azp),
            Some(other) => {
                return Err(TokenError::CallerApp(format!(
                    "unknown token version `{other}`"
                )));
            }
        };
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TokenError::CallerApp(format!("no `{claim}` claim")))
    }
}

/// A token whose signature, issuer, audience, lifetime and (Entra-issued) caller app are valid.
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

/// Validates `token` at Unix time `now`: issuer (which picks the keys), algorithm, signature,
/// audience, lifetime and, for Entra-issued tokens, the caller app.
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
    // Signed with an algorithm the metadata names (`id_token_signing_alg_values_supported`).
    if key
        .algorithms
        .as_ref()
        .is_some_and(|algorithms| !algorithms.contains(&header.alg))
    {
        return Err(TokenError::Algorithm(header.alg));
    }
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
    let skew = i64::try_from(config.clock_skew_secs).unwrap_or(i64::MAX);
    if now > claims.exp.saturating_add(skew) {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(TokenError::NotYetValid);
    }
    if family == IssuerFamily::Entra {
        // Anyone in the app's tenant can get a token for its audience; only the configured
        // service may call as the Bot Connector.
        let caller = claims.caller_app()?;
        let expected = config.bot_service_app_id.as_deref().unwrap_or_default();
        if expected.trim().is_empty() || !caller.eq_ignore_ascii_case(expected.trim()) {
            return Err(TokenError::CallerApp(format!("`{caller}`")));
        }
    }
    Ok(VerifiedToken { claims, key })
}

impl VerifiedToken {
    /// Binds the token to the activity it came with: the `serviceurl` claim is required and equals
    /// the activity's `serviceUrl` (whoever issued the token); the signing key's endorsements
    /// include the activity's `channelId` (exactly, as the SDKs compare). A Bot Framework key
    /// endorses only the channels it lists — none when it lists none; Entra keys are checked when
    /// their metadata lists endorsements (Entra's does not).
    pub fn covers(&self, service_url: &str, channel_id: &str) -> Result<(), TokenError> {
        if self.claims.serviceurl.as_deref() != Some(service_url) {
            return Err(TokenError::ServiceUrl);
        }
        let endorsed = match (&self.key.endorsements, self.key.family) {
            (Some(endorsements), _) => endorsements.iter().any(|e| e == channel_id),
            (None, IssuerFamily::BotFramework) => false,
            (None, IssuerFamily::Entra) => true,
        };
        if !endorsed {
            return Err(TokenError::Endorsement(channel_id.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn claims(value: serde_json::Value) -> Claims {
        let mut base = json!({"iss": "i", "aud": "a", "exp": 0});
        base.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_caller_app_is_appid_in_v1_tokens_and_azp_in_v2() {
        let v1 = claims(json!({"ver": "1.0", "appid": "one", "azp": "two"}));
        assert_eq!(v1.caller_app().unwrap(), "one");
        let unversioned = claims(json!({"appid": "one", "azp": "two"}));
        assert_eq!(unversioned.caller_app().unwrap(), "one");
        let v2 = claims(json!({"ver": "2.0", "appid": "one", "azp": "two"}));
        assert_eq!(v2.caller_app().unwrap(), "two");
        for refused in [
            json!({"ver": "2.0", "appid": "one"}),
            json!({"ver": "1.0", "azp": "two"}),
            json!({"ver": "2.0", "azp": ""}),
            json!({"ver": "3.0", "appid": "one", "azp": "two"}),
        ] {
            let err = claims(refused.clone()).caller_app().unwrap_err();
            assert!(matches!(err, TokenError::CallerApp(_)), "{refused}");
            assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        }
    }

    fn token(
        family: IssuerFamily,
        endorsements: Option<&[&str]>,
        serviceurl: Option<&str>,
    ) -> VerifiedToken {
        VerifiedToken {
            claims: claims(json!({"serviceurl": serviceurl})),
            key: Arc::new(SigningKey {
                modulus: Vec::new(),
                exponent: Vec::new(),
                endorsements: endorsements.map(|e| e.iter().map(|c| (*c).to_owned()).collect()),
                algorithms: None,
                family,
            }),
        }
    }

    #[test]
    fn a_token_covers_its_service_url_and_the_channels_its_key_is_endorsed_for() {
        let url = "https://smba.trafficmanager.net/emea/";
        let teams = Some(&["msteams"][..]);
        for family in [IssuerFamily::BotFramework, IssuerFamily::Entra] {
            assert!(
                token(family, teams, Some(url))
                    .covers(url, "msteams")
                    .is_ok()
            );
            for (service_url, claimed) in [(url, None), (url, Some("https://x/")), (url, Some(""))]
            {
                let err = token(family, teams, claimed)
                    .covers(service_url, "msteams")
                    .unwrap_err();
                assert!(matches!(err, TokenError::ServiceUrl));
                assert_eq!(err.status(), StatusCode::FORBIDDEN);
            }
            for channel in ["webchat", "MSTEAMS", ""] {
                let err = token(family, teams, Some(url))
                    .covers(url, channel)
                    .unwrap_err();
                assert!(matches!(err, TokenError::Endorsement(_)), "{channel}");
            }
            assert!(
                token(family, Some(&[]), Some(url))
                    .covers(url, "msteams")
                    .is_err()
            );
        }
        // A Bot Framework key endorses what it lists; Entra keys list nothing.
        assert!(
            token(IssuerFamily::BotFramework, None, Some(url))
                .covers(url, "msteams")
                .is_err()
        );
        assert!(
            token(IssuerFamily::Entra, None, Some(url))
                .covers(url, "msteams")
                .is_ok()
        );
    }
}
