//! Credentials adapters: argon2 password hashing and random bearer tokens
//! stored as SHA-256 digests.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libris_application::ports::{PasswordHasher, StoreError, TokenCodec};
use libris_domain::values::Password;
use sha2::{Digest, Sha256};

/// argon2id with m = 7 MiB, t = 5, p = 1: one of OWASP's equivalent
/// argon2id configurations (alongside 19 MiB × 2 and 12 MiB × 3). Trading
/// memory for passes keeps a login's memory peak, and so the server's, small.
#[derive(Debug, Default, Clone)]
pub struct Argon2Hasher;

fn argon2() -> Argon2<'static> {
    let params = Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> Result<String, StoreError> {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| StoreError::Unexpected(format!("password hashing failed: {e}")))
    }

    fn verify(&self, password: &str, hash: &str) -> bool {
        PasswordHash::new(hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    }

    fn verify_against_nothing(&self, password: &str) {
        self.verify(password, &NOBODYS_HASH);
    }
}

/// A hash, with today's parameters, of a password nobody knows, made once:
/// verifying against it costs what verifying a real user's password costs.
static NOBODYS_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut unknowable = [0u8; 32];
    OsRng.fill_bytes(&mut unknowable);
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(&unknowable, &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Tokens are 32 random bytes, URL-safe base64; they are stored as the hex
/// SHA-256 of the token. Since the token is long and random, a fast digest is
/// enough: nothing can be guessed from it.
#[derive(Debug, Default, Clone)]
pub struct RandomTokens;

impl TokenCodec for RandomTokens {
    fn generate(&self) -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn digest(&self, token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse").unwrap();
        let hash = Argon2Hasher.hash(&password).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(Argon2Hasher.verify("correct horse", &hash));
        assert!(!Argon2Hasher.verify("wrong horse", &hash));
        assert!(!Argon2Hasher.verify("correct horse", "not a hash"));
    }

    #[test]
    fn the_stand_in_hash_costs_what_a_real_one_costs() {
        // The work is set by the hash's parameters (memory, passes, lanes),
        // so equal parameters mean equal cost, without a timed test.
        let real = Argon2Hasher
            .hash(&Password::parse("correct horse").unwrap())
            .unwrap();
        let parameters = |hash: &str| hash.split('$').nth(3).map(str::to_owned);
        assert_eq!(parameters(&NOBODYS_HASH), parameters(&real));
        assert!(parameters(&real).is_some_and(|p| p.starts_with("m=7168")));
        assert!(!Argon2Hasher.verify("", &NOBODYS_HASH));
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let (a, b) = (RandomTokens.generate(), RandomTokens.generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(RandomTokens.digest(&a), RandomTokens.digest(&a));
        assert_ne!(RandomTokens.digest(&a), RandomTokens.digest(&b));
        assert_eq!(RandomTokens.digest(&a).len(), 64);
    }
}
