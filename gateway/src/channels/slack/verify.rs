//! Slack request signatures (v0): `v0=hex(HMAC-SHA256(signing secret, "v0:{ts}:{raw body}"))`,
//! checked on the raw bytes before anything is parsed, in constant time, within 5 minutes.

use aws_lc_rs::hmac;
use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// Requests older or newer than this (seconds) are refused, as Slack's SDKs do.
pub const WINDOW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature header")]
    Missing,
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    #[error("the request timestamp is more than 5 minutes from now")]
    Stale,
    #[error("the request signature does not match")]
    Mismatch,
}

/// The signature Slack sends for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(b"v0:");
    context.update(timestamp.as_bytes());
    context.update(b":");
    context.update(body);
    format!("v0={}", hex::encode(context.sign().as_ref()))
}

/// Checks a request's signature headers against its raw body at Unix time `now`.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(SignatureError::Missing);
    };
    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - sent_at).abs() > WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = sign(secret, timestamp.trim(), body);
    if bool::from(expected.as_bytes().ct_eq(signature.trim().as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-Slack-Request-Timestamp", ts.parse().unwrap());
        h.insert("X-Slack-Signature", sig.parse().unwrap());
        h
    }

    /// The example of Slack's "Verifying requests from Slack" guide.
    #[test]
    fn matches_slacks_documented_example() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(secret, "1531420618", body), expected);
        assert_eq!(
            verify(
                secret,
                &headers("1531420618", expected),
                body,
                1_531_420_618 + 300
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_tampering_forgery_and_stale_requests() {
        let now = 1_800_000_000;
        let ts = now.to_string();
        let good = sign("s3cret", &ts, b"{\"a\":1}");
        assert_eq!(
            verify("s3cret", &headers(&ts, &good), b"{\"a\":1}", now),
            Ok(())
        );
        assert_eq!(
            verify("s3cret", &headers(&ts, &good), b"{\"a\":2}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", &headers(&ts, &good), b"{\"a\":1}", now),
            Err(SignatureError::Mismatch)
        );
        let old = (now - 301).to_string();
        let old_sig = sign("s3cret", &old, b"x");
        assert_eq!(
            verify("s3cret", &headers(&old, &old_sig), b"x", now),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("s3cret", &HeaderMap::new(), b"x", now),
            Err(SignatureError::Missing)
        );
    }
}
