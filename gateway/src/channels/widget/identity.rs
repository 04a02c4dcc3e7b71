//! Employee identity for widget sessions: a JWT the host page's backend signs for the signed-in
//! employee (as Intercom's identity verification does). HS256 with a per-tenant shared secret, or
//! RS256/ES256 with the tenant's public key; the algorithm is fixed by configuration (never taken
//! from the token), and issuer, audience, expiry, not-before and a maximum age are enforced.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::channels::bots::{SecretSource, secret};
use crate::config::widget::IdentityConfig;
use crate::error::GatewayError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("malformed identity token: {0}")]
    Malformed(&'static str),
    #[error("the identity token must be signed with {0}")]
    Algorithm(&'static str),
    #[error("the identity token's signature is invalid")]
    Signature,
    #[error("the identity token's issuer is not accepted")]
    Issuer,
    #[error("the identity token is not for this widget (audience)")]
    Audience,
    #[error("the identity token has expired")]
    Expired,
    #[error("the identity token is not valid yet")]
    NotYetValid,
    #[error("the identity token is older than the allowed maximum age")]
    TooOld,
    #[error("the identity token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the identity token's `{0}` claim must be an array of group names")]
    BadGroups(String),
}

/// The employee a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub user_id: String,
    pub groups: Vec<String>,
}

enum Verifier {
    // Boxed: an HMAC key is far larger than a parsed public key.
    Hs256(Box<hmac::Key>),
    Rs256(ParsedPublicKey),
    Es256(ParsedPublicKey),
}

impl Verifier {
    fn name(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Rs256(_) => "RS256",
            Self::Es256(_) => "ES256",
        }
    }

    fn check(&self, signed: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hs256(key) => hmac::verify(key, signed, signature).is_ok(),
            Self::Rs256(key) | Self::Es256(key) => key.verify_sig(signed, signature).is_ok(),
        }
    }
}

/// Checks one tenant's identity tokens.
pub struct IdentityVerifier {
    verifier: Verifier,
    config: IdentityConfig,
}

impl std::fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("algorithm", &self.verifier.name())
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .finish_non_exhaustive()
    }
}

/// The DER inside a PEM block (`PUBLIC KEY` or `RSA PUBLIC KEY`).
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

impl IdentityVerifier {
    pub fn new(
        tenant: &str,
        config: &IdentityConfig,
        secrets: SecretSource<'_>,
    ) -> Result<Self, GatewayError> {
        let setting = |key: &str| format!("widget.identity.{tenant}.{key}");
        let fail = |message: String| Err(GatewayError::Config(message));
        if config.issuer.trim().is_empty() || config.audience.trim().is_empty() {
            return fail(format!(
                "{} and {} must not be empty",
                setting("issuer"),
                setting("audience")
            ));
        }
        let public_key = || -> Result<Vec<u8>, GatewayError> {
            let pem = match (&config.public_key_pem, &config.public_key_file) {
                (Some(pem), None) => pem.clone(),
                (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                    GatewayError::Config(format!(
                        "{}: cannot read {}: {e}",
                        setting("public_key_file"),
                        path.display()
                    ))
                })?,
                _ => {
                    return Err(GatewayError::Config(format!(
                        "{} needs exactly one of public_key_pem and public_key_file",
                        setting("algorithm")
                    )));
                }
            };
            pem_der(&pem).ok_or_else(|| {
                GatewayError::Config(format!(
                    "{}: not a PEM public key",
                    setting("public_key_pem")
                ))
            })
        };
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            GatewayError::Config(format!(
                "{}: the public key is not usable: {e}",
                setting("public_key_pem")
            ))
        };
        let verifier = match config.algorithm.as_str() {
            "HS256" => {
                let env = config.secret_env.as_deref().unwrap_or_default();
                let value = secret(secrets, &setting("secret_env"), env)?;
                if value.len() < 32 {
                    return fail(format!(
                        "the HS256 secret of {} must have at least 32 characters",
                        setting("secret_env")
                    ));
                }
                Verifier::Hs256(Box::new(hmac::Key::new(
                    hmac::HMAC_SHA256,
                    value.as_bytes(),
                )))
            }
            "RS256" => Verifier::Rs256(
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key()?)
                    .map_err(rejected)?,
            ),
            "ES256" => Verifier::Es256(
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key()?).map_err(rejected)?,
            ),
            other => {
                return fail(format!(
                    "{} is `{other}`; use HS256, RS256 or ES256",
                    setting("algorithm")
                ));
            }
        };
        Ok(Self {
            verifier,
            config: config.clone(),
        })
    }

    /// Whether anonymous sessions are refused for this tenant.
    pub fn required(&self) -> bool {
        self.config.required
    }

    /// The employee named by `token`, valid at Unix time `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Employee, IdentityError> {
        let mut parts = token.trim().split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdentityError::Malformed("not a JWS compact token"));
        };
        let decode = |part: &str, what| {
            let bytes = URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .map_err(|_| IdentityError::Malformed(what))?;
            serde_json::from_slice::<Value>(&bytes).map_err(|_| IdentityError::Malformed(what))
        };
        let header = decode(header_b64, "header")?;
        // The algorithm is configuration, never the token's choice (no `none`, no HS/RS confusion).
        if header["alg"].as_str() != Some(self.verifier.name()) {
            return Err(IdentityError::Algorithm(self.verifier.name()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64.trim_end_matches('='))
            .map_err(|_| IdentityError::Malformed("signature"))?;
        let signed = format!("{header_b64}.{claims_b64}");
        if !self.verifier.check(signed.as_bytes(), &signature) {
            return Err(IdentityError::Signature);
        }
        let claims = decode(claims_b64, "claims")?;
        self.check_claims(&claims, now)?;
        let user_id = claims[&self.config.user_claim]
            .as_str()
            .map(str::trim)
            .filter(|u| !u.is_empty() && u.chars().count() <= 256)
            .ok_or_else(|| IdentityError::MissingClaim(self.config.user_claim.clone()))?;
        let groups = match &claims[&self.config.groups_claim] {
            Value::Null => Vec::new(),
            Value::Array(items) => {
                let mut groups = items
                    .iter()
                    .map(|g| {
                        g.as_str()
                            .filter(|g| ragway_ingest::source::validate_group(g).is_ok())
                            .map(str::to_owned)
                            .ok_or_else(|| {
                                IdentityError::BadGroups(self.config.groups_claim.clone())
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                groups.sort();
                groups.dedup();
                groups
            }
            _ => return Err(IdentityError::BadGroups(self.config.groups_claim.clone())),
        };
        Ok(Employee {
            user_id: user_id.to_owned(),
            groups,
        })
    }

    fn check_claims(&self, claims: &Value, now: i64) -> Result<(), IdentityError> {
        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(i64::MAX);
        let max_age = i64::try_from(self.config.max_age_secs).unwrap_or(i64::MAX);
        if claims["iss"].as_str() != Some(self.config.issuer.as_str()) {
            return Err(IdentityError::Issuer);
        }
        let audience = self.config.audience.as_str();
        let for_us = match &claims["aud"] {
            Value::String(aud) => aud == audience,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !for_us {
            return Err(IdentityError::Audience);
        }
        let time = |name: &str| claims[name].as_i64();
        let exp = time("exp").ok_or_else(|| IdentityError::MissingClaim("exp".into()))?;
        if now > exp.saturating_add(leeway) {
            return Err(IdentityError::Expired);
        }
        if time("nbf").is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(IdentityError::NotYetValid);
        }
        let iat = time("iat").ok_or_else(|| IdentityError::MissingClaim("iat".into()))?;
        if iat > now.saturating_add(leeway) {
            return Err(IdentityError::NotYetValid);
        }
        if now.saturating_sub(iat) > max_age.saturating_add(leeway) {
            return Err(IdentityError::TooOld);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };
    use serde_json::json;

    use super::*;

    const SECRET: &str = "a-shared-secret-of-at-least-32-characters";
    const NOW: i64 = 1_800_000_000;

    fn config(algorithm: &str, pem: Option<String>) -> IdentityConfig {
        IdentityConfig {
            algorithm: algorithm.into(),
            secret_env: Some("ACME_WIDGET_SECRET".into()),
            public_key_pem: pem,
            public_key_file: None,
            issuer: "https://intranet.acme.com".into(),
            audience: "ragway-widget".into(),
            max_age_secs: 600,
            leeway_secs: 60,
            user_claim: "sub".into(),
            groups_claim: "groups".into(),
            required: false,
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://intranet.acme.com", "aud": "ragway-widget", "sub": "ana@acme.com",
               "groups": ["hr", "staff"], "iat": NOW - 10, "exp": NOW + 300})
    }

    fn jwt(alg: &str, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{body}");
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(sign(signed.as_bytes()))
        )
    }

    fn hs256(claims: &Value) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
        jwt("HS256", claims, |m| hmac::sign(&key, m).as_ref().to_vec())
    }

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn verifier(config: &IdentityConfig) -> IdentityVerifier {
        IdentityVerifier::new("acme", config, &|_| Some(SECRET.into())).unwrap()
    }

    #[test]
    fn hs256_tokens_name_the_employee_and_their_groups() {
        let v = verifier(&config("HS256", None));
        let employee = v.verify(&hs256(&claims()), NOW).unwrap();
        assert_eq!(employee.user_id, "ana@acme.com");
        assert_eq!(employee.groups, ["hr", "staff"]);
    }

    #[test]
    fn refuses_wrong_signature_audience_issuer_age_and_algorithm() {
        let v = verifier(&config("HS256", None));
        let token = hs256(&claims());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
        assert_eq!(v.verify(&tampered, NOW), Err(IdentityError::Signature));
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another-secret-another-secret-another");
        let forged = jwt("HS256", &claims(), |m| {
            hmac::sign(&other, m).as_ref().to_vec()
        });
        assert_eq!(v.verify(&forged, NOW), Err(IdentityError::Signature));
        let mut c = claims();
        c["aud"] = json!("someone-else");
        assert_eq!(v.verify(&hs256(&c), NOW), Err(IdentityError::Audience));
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        assert_eq!(v.verify(&hs256(&c), NOW), Err(IdentityError::Issuer));
        assert_eq!(
            v.verify(&hs256(&claims()), NOW + 361),
            Err(IdentityError::Expired)
        );
        let mut c = claims();
        c["exp"] = json!(NOW + 100_000);
        c["iat"] = json!(NOW - 700);
        assert_eq!(v.verify(&hs256(&c), NOW), Err(IdentityError::TooOld));
        let mut c = claims();
        c["nbf"] = json!(NOW + 120);
        assert_eq!(v.verify(&hs256(&c), NOW), Err(IdentityError::NotYetValid));
        let none = jwt("none", &claims(), |_| Vec::new());
        assert_eq!(v.verify(&none, NOW), Err(IdentityError::Algorithm("HS256")));
        let mut c = claims();
        c["groups"] = json!("hr");
        assert!(matches!(
            v.verify(&hs256(&c), NOW),
            Err(IdentityError::BadGroups(_))
        ));
        assert!(matches!(
            v.verify("a.b", NOW),
            Err(IdentityError::Malformed(_))
        ));
    }

    #[test]
    fn rs256_and_es256_tokens_verify_with_the_public_key() {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_pem = pem(rsa.public_key().as_der().unwrap().as_ref());
        let v = verifier(&config("RS256", Some(rsa_pem)));
        let token = jwt("RS256", &claims(), |m| {
            let mut sig = vec![0; rsa.public_modulus_len()];
            rsa.sign(&RSA_PKCS1_SHA256, &rng, m, &mut sig).unwrap();
            sig
        });
        assert_eq!(v.verify(&token, NOW).unwrap().user_id, "ana@acme.com");
        // An HS256 token "signed" with the public key must not pass as RS256 (algorithm confusion).
        assert_eq!(
            v.verify(&hs256(&claims()), NOW),
            Err(IdentityError::Algorithm("RS256"))
        );

        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ec_pem = pem(ec.public_key().as_der().unwrap().as_ref());
        let v = verifier(&config("ES256", Some(ec_pem)));
        let token = jwt("ES256", &claims(), |m| {
            ec.sign(&rng, m).unwrap().as_ref().to_vec()
        });
        assert_eq!(v.verify(&token, NOW).unwrap().groups, ["hr", "staff"]);
        let mut c = claims();
        c["sub"] = json!("mallory");
        let swapped = {
            let sig = token.rsplit_once('.').unwrap().1;
            let other = jwt("ES256", &c, |_| Vec::new());
            format!("{}.{sig}", other.rsplit_once('.').unwrap().0)
        };
        assert_eq!(v.verify(&swapped, NOW), Err(IdentityError::Signature));
    }

    #[test]
    fn configuration_mistakes_are_reported() {
        let err = IdentityVerifier::new("acme", &config("HS256", None), &|_| None).unwrap_err();
        assert!(err.to_string().contains("ACME_WIDGET_SECRET"), "{err}");
        let err = IdentityVerifier::new("acme", &config("RS256", None), &|_| None).unwrap_err();
        assert!(err.to_string().contains("public_key"), "{err}");
        let err = IdentityVerifier::new("acme", &config("PS256", None), &|_| None).unwrap_err();
        assert!(err.to_string().contains("HS256, RS256 or ES256"), "{err}");
    }
}
