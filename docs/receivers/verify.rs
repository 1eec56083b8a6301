// Verifies a Libris webhook delivery: both signatures and the timestamp.
// Crates: hmac 0.12, sha2 0.10, base64 0.22, hex 0.4.
//
// The end-to-end suite compiles this very file (`include!` in
// tests/tests/e2e/receiver_guide.rs) and runs it against real deliveries, so
// what the guide shows is what is tested. Plain `//` comments at the top
// because an included file cannot hold `//!` ones.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far `webhook-timestamp` may be from now, either way: Standard
/// Webhooks' recommendation, and what Libris's own inbound endpoint allows.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The HMAC key: a `whsec_` secret is base64 (padding optional) after the
/// prefix; any other secret is used as its UTF-8 bytes.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, String> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|e| format!("the whsec_ secret is not base64: {e}")),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// Now, in the Unix seconds `verify_standard` compares `webhook-timestamp` to.
pub fn unix_now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
}

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// `X-Webhook-Signature`: `sha256=` + hex HMAC-SHA256 of the raw body.
pub fn verify_hex(key: &[u8], body: &[u8], header: Option<&str>) -> Result<(), String> {
    let header = header.ok_or("no X-Webhook-Signature header")?;
    let candidate = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|digits| hex::decode(digits).ok())
        .ok_or("X-Webhook-Signature is not sha256=<hex>")?;
    let mut mac = mac(key);
    mac.update(body);
    // `verify_slice` compares in constant time: the answer's timing must not
    // reveal how much of a forged signature was right.
    mac.verify_slice(&candidate)
        .map_err(|_| "X-Webhook-Signature does not match the body".to_owned())
}

/// Standard Webhooks: `webhook-signature` holds one or more space-separated
/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; one match is
/// enough. The timestamp is signed, so checking its age stops replays.
/// `now` is Unix seconds.
pub fn verify_standard(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    header: Option<&str>,
    now: i64,
) -> Result<(), String> {
    let (Some(id), Some(timestamp), Some(header)) = (id, timestamp, header) else {
        return Err("webhook-id, webhook-timestamp or webhook-signature is missing".into());
    };
    let mut signed = mac(key);
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        signed.update(part);
    }
    let matches = header.split_whitespace().any(|signature| {
        let Some(("v1", encoded)) = signature.split_once(',') else {
            return false;
        };
        STANDARD
            .decode(encoded)
            .is_ok_and(|candidate| signed.clone().verify_slice(&candidate).is_ok())
    });
    if !matches {
        return Err(
            "webhook-signature does not match webhook-id, webhook-timestamp and the body".into(),
        );
    }
    // After the signature, so that this message also says "signed correctly".
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "webhook-timestamp {timestamp:?} is not Unix seconds"
        ));
    }
    let sent_at: i64 = timestamp
        .parse()
        .map_err(|_| "webhook-timestamp is out of range")?;
    let age = now - sent_at;
    if age.abs() > TOLERANCE_SECONDS {
        let when = if age > 0 { "old" } else { "in the future" };
        return Err(format!(
            "webhook-timestamp is {} s {when}; at most {TOLERANCE_SECONDS} s either way is accepted",
            age.abs()
        ));
    }
    Ok(())
}

/// Checks both schemes; `header(name)` returns a header's value (any case of
/// `name`), e.g. `|name| request.headers().get(name)?.to_str().ok()` in
/// actix-web or axum. A receiver needs only one scheme; this checks both
/// because Libris sends both, so a mismatch in either means something is wrong.
pub fn verify_delivery<'h>(
    secret: &str,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let key = signing_key(secret)?;
    verify_hex(&key, body, header("x-webhook-signature"))?;
    verify_standard(
        &key,
        header("webhook-id"),
        header("webhook-timestamp"),
        body,
        header("webhook-signature"),
        now,
    )
}
