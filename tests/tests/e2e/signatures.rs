//! Both signature schemes, written from their specifications for the tests
//! alone: they share no code with Libris's signing, so a test that passes
//! shows Libris agrees with the specification, not with itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `X-Webhook-Signature`: `sha256=` and the hex HMAC of the body.
pub fn hex_signature(key: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(key, body)))
}

/// Standard Webhooks `webhook-signature`: `v1,` and the base64 HMAC of
/// `{id}.{timestamp}.{body}`.
pub fn standard_signature(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(hmac(key, &signed)))
}
