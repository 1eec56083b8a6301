//! Subscription secrets and the two signatures every delivery carries: our
//! `X-Webhook-Signature` (HMAC of the body alone) and the Standard Webhooks
//! `webhook-signature` (HMAC of id, timestamp and body), so receivers can use
//! either a one-line check or any Standard Webhooks library. Verification lives
//! here too, for inbound hooks signed the same way.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const STANDARD_PREFIX: &str = "whsec_";
const HEX_PREFIX: &str = "sha256=";
const V1_PREFIX: &str = "v1";
pub(crate) const MIN_PLAIN_SECRET_CHARS: usize = 8;
const GENERATED_KEY_BYTES: usize = 32;

/// Secrets pasted from other providers do not always keep their `=` padding;
/// the key bytes are the same either way, so both forms are accepted.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a subscription secret cannot key signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a secret starting with whsec_ must be base64 after the prefix")]
    InvalidBase64,
    #[error("a secret starting with whsec_ must not be empty after the prefix")]
    EmptyKey,
    #[error("a secret must be at least {MIN_PLAIN_SECRET_CHARS} characters")]
    TooShort,
}

/// The HMAC key derived from a subscription secret.
#[derive(Clone)]
pub struct SigningKey {
    key: Vec<u8>,
}

/// Keys end up inside structs that get logged; the bytes must never show.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// A `whsec_` secret is keyed by its base64-decoded bytes, as Standard
    /// Webhooks libraries do; any other secret by its UTF-8 bytes.
    pub fn from_secret(secret: &str) -> Result<Self, SecretError> {
        if let Some(encoded) = secret.strip_prefix(STANDARD_PREFIX) {
            let key = SECRET_BASE64
                .decode(encoded)
                .map_err(|_| SecretError::InvalidBase64)?;
            if key.is_empty() {
                return Err(SecretError::EmptyKey);
            }
            return Ok(Self { key });
        }
        if secret.chars().count() < MIN_PLAIN_SECRET_CHARS {
            return Err(SecretError::TooShort);
        }
        Ok(Self {
            key: secret.as_bytes().to_vec(),
        })
    }

    /// `sha256=<lowercase hex>` for the `X-Webhook-Signature` header.
    pub fn hex_signature(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        format!("{HEX_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// `v1,<base64>` for the Standard Webhooks `webhook-signature` header.
    /// The id and timestamp are signed so a captured delivery cannot be
    /// replayed later or under another id.
    pub fn standard_signature(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let digest = self.standard_digest(msg_id, timestamp, body);
        format!("{V1_PREFIX},{}", STANDARD.encode(digest))
    }

    /// Checks an `X-Webhook-Signature` value in constant time.
    pub fn verify_hex(&self, body: &[u8], header: &str) -> bool {
        let Some(encoded) = header.trim().strip_prefix(HEX_PREFIX) else {
            return false;
        };
        let Ok(candidate) = hex::decode(encoded) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&candidate).is_ok()
    }

    /// Checks a `webhook-signature` value in constant time. Senders rotating
    /// their secret send several space-separated signatures; one valid `v1`
    /// signature is enough. Checking the timestamp's age is the caller's job,
    /// because a stale delivery and a forged one deserve different answers.
    pub fn verify_standard(&self, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let expected = self.standard_digest(msg_id, timestamp, body);
        header.split_whitespace().any(|signature| {
            let Some((version, encoded)) = signature.split_once(',') else {
                return false;
            };
            if version != V1_PREFIX {
                return false;
            }
            let Ok(candidate) = STANDARD.decode(encoded) else {
                return false;
            };
            bool::from(candidate.as_slice().ct_eq(expected.as_slice()))
        })
    }

    fn standard_digest(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC hashes or pads keys of any length, so this cannot fail; the
        // constructor is fallible only because the `Mac` trait is shared with
        // fixed-key algorithms.
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length")
    }
}

/// A fresh secret in the Standard Webhooks form: `whsec_` + base64 of 32
/// random bytes from the operating system.
pub fn generate_secret() -> String {
    let mut key = [0u8; GENERATED_KEY_BYTES];
    OsRng.fill_bytes(&mut key);
    format!("{STANDARD_PREFIX}{}", STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published test vector of the Standard Webhooks specification.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_key() -> SigningKey {
        SigningKey::from_secret(VECTOR_SECRET).expect("vector secret is valid")
    }

    #[test]
    fn standard_signature_matches_the_published_vector() {
        let signature = vector_key().standard_signature(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn hex_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2: key "Jefe".
        let key = SigningKey {
            key: b"Jefe".to_vec(),
        };
        assert_eq!(
            key.hex_signature(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn plain_secret_is_used_as_its_utf8_bytes() {
        let plain = SigningKey::from_secret("correct horse").expect("long enough");
        let same_bytes =
            SigningKey::from_secret(&format!("whsec_{}", STANDARD.encode("correct horse")))
                .expect("valid base64");
        assert_eq!(plain.hex_signature(b"{}"), same_bytes.hex_signature(b"{}"));
    }

    #[test]
    fn whsec_secret_is_keyed_by_its_decoded_bytes_not_its_text() {
        let decoded = vector_key();
        let as_text = SigningKey::from_secret(VECTOR_SECRET.trim_start_matches("whsec_"))
            .expect("long enough as plain text");
        assert_ne!(decoded.hex_signature(b"{}"), as_text.hex_signature(b"{}"));
    }

    #[test]
    fn whsec_secret_without_padding_gives_the_same_key() {
        let padded = SigningKey::from_secret("whsec_c2VjcmV0LWtleQ==").expect("padded");
        let unpadded = SigningKey::from_secret("whsec_c2VjcmV0LWtleQ").expect("unpadded");
        assert_eq!(padded.hex_signature(b"x"), unpadded.hex_signature(b"x"));
    }

    #[test]
    fn short_plain_secrets_are_refused() {
        assert_eq!(
            SigningKey::from_secret("1234567").map(|_| ()),
            Err(SecretError::TooShort)
        );
        assert_eq!(
            SigningKey::from_secret("").map(|_| ()),
            Err(SecretError::TooShort)
        );
        // Characters, not bytes: seven two-byte characters are still too short.
        assert_eq!(
            SigningKey::from_secret("ééééééé").map(|_| ()),
            Err(SecretError::TooShort)
        );
        assert!(SigningKey::from_secret("12345678").is_ok());
    }

    #[test]
    fn bad_base64_after_whsec_is_refused() {
        assert_eq!(
            SigningKey::from_secret("whsec_not base64!").map(|_| ()),
            Err(SecretError::InvalidBase64)
        );
        assert_eq!(
            SigningKey::from_secret("whsec_").map(|_| ()),
            Err(SecretError::EmptyKey)
        );
    }

    #[test]
    fn generated_secrets_are_32_random_bytes_and_usable() {
        let first = generate_secret();
        let second = generate_secret();
        assert_ne!(first, second);
        let encoded = first.strip_prefix("whsec_").expect("whsec_ prefix");
        assert_eq!(STANDARD.decode(encoded).expect("base64").len(), 32);
        assert!(SigningKey::from_secret(&first).is_ok());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let shown = format!(
            "{:?}",
            SigningKey::from_secret("super-secret-value").expect("ok")
        );
        assert!(!shown.contains("super"), "{shown}");
    }

    #[test]
    fn verify_hex_accepts_own_signature_and_rejects_tampering() {
        let key = vector_key();
        let header = key.hex_signature(b"payload");
        assert!(key.verify_hex(b"payload", &header));
        assert!(key.verify_hex(
            b"payload",
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!key.verify_hex(b"payload!", &header));
        assert!(!key.verify_hex(b"payload", header.trim_start_matches("sha256=")));
        assert!(!key.verify_hex(b"payload", "sha256=zz"));
        assert!(!key.verify_hex(b"payload", &header[..header.len() - 2]));
        let other = SigningKey::from_secret("another secret").expect("ok");
        assert!(!other.verify_hex(b"payload", &header));
    }

    #[test]
    fn verify_standard_accepts_the_vector_and_rejects_changes() {
        let key = vector_key();
        assert!(key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SIGNATURE));
        assert!(!key.verify_standard("msg_other", VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SIGNATURE));
        assert!(!key.verify_standard(
            VECTOR_ID,
            VECTOR_TIMESTAMP + 1,
            VECTOR_BODY,
            VECTOR_SIGNATURE
        ));
        assert!(!key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, b"{}", VECTOR_SIGNATURE));
        assert!(!key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, ""));
        let wrong_version = VECTOR_SIGNATURE.replacen("v1,", "v2,", 1);
        assert!(!key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &wrong_version));
        assert!(!key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, "v1,%%%"));
    }

    #[test]
    fn verify_standard_accepts_any_of_several_signatures() {
        let key = vector_key();
        let rotated = format!("v1,bm90IHRoaXMgb25l v1a,whatever {VECTOR_SIGNATURE}");
        assert!(key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &rotated));
        let none_valid = "v1,bm90IHRoaXMgb25l v1,YW5kIG5vdCB0aGlz";
        assert!(!key.verify_standard(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, none_valid));
    }
}
