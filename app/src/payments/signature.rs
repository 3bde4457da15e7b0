//! Webhook signatures: `Surge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed
//! with the shared webhook secret over `"<t>.<body>"`. The timestamp inside the signed text makes
//! a captured webhook useless once it is older than the tolerance (no replays), and the HMAC makes
//! a forged or changed one fail.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "surge-signature";
/// How old (or how far in the future) a signed message may be.
pub const TOLERANCE_S: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature is too old or from the future (a replay?)")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The header value signing `body` at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

/// Checks a header value against `body` at `now` (unix seconds); constant-time on the digest.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut digest = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => digest = unhex(value),
            _ => {}
        }
    }
    let (Some(timestamp), Some(digest)) = (timestamp, digest) else {
        return Err(SignatureError::Malformed);
    };
    if (now - timestamp).abs() > TOLERANCE_S {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test-0123456789";

    #[test]
    fn a_signed_body_verifies() {
        let header = sign(SECRET, 1_800_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1800000000,v1="));
        assert_eq!(verify(SECRET, &header, b"{\"a\":1}", 1_800_000_100), Ok(()));
    }

    #[test]
    fn a_changed_body_a_wrong_secret_and_an_old_message_are_refused() {
        let header = sign(SECRET, 1_800_000_000, b"{\"a\":1}");
        assert_eq!(
            verify(SECRET, &header, b"{\"a\":2}", 1_800_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", &header, b"{\"a\":1}", 1_800_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                SECRET,
                &header,
                b"{\"a\":1}",
                1_800_000_000 + TOLERANCE_S + 1
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, "v1=abcd", b"{}", 0),
            Err(SignatureError::Malformed)
        );
    }
}
