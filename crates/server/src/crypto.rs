//! Secrets at rest and credentials.
//!
//! - PIN/PUK are sealed with AES-256-GCM under a key derived from `SIMFLEET_SECRET_KEY`.
//! - Passwords are hashed with Argon2id (PHC strings).
//! - Login tokens and API keys are 256-bit random values; only their SHA-256 is stored,
//!   which is enough for secrets with that much entropy and keeps every request cheap.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{anyhow, Context};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Seals and opens stored secrets (PIN, PUK). `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Signs the dashboard's CSRF tokens; derived from the same master key, for another purpose.
    csrf_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

const SEAL_VERSION: &str = "v1";

impl SecretBox {
    pub fn new(master_key: &SecretString) -> Self {
        let key = derive_key(master_key, b"simfleet/sim-secrets/v1");
        let csrf_key = derive_key(master_key, b"simfleet/csrf/v1");
        SecretBox { cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key"), csrf_key }
    }

    /// `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend(ct);
        format!("{SEAL_VERSION}:{}", STANDARD.encode(blob))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let b64 = sealed.strip_prefix("v1:").ok_or_else(|| anyhow!("unknown secret format"))?;
        let blob = STANDARD.decode(b64).context("stored secret is not base64")?;
        if blob.len() < 12 {
            return Err(anyhow!("stored secret is truncated"));
        }
        let (nonce, ct) = blob.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| anyhow!("stored secret cannot be decrypted: was SIMFLEET_SECRET_KEY changed?"))?;
        String::from_utf8(pt).context("stored secret is not UTF-8")
    }
}

impl simfleet_sync::SecretOpener for SecretBox {
    fn open(&self, sealed: &str) -> anyhow::Result<String> {
        SecretBox::open(self, sealed)
    }
}

impl SecretBox {
    /// The CSRF token of a dashboard session: HMAC-SHA256(CSRF key, session credential), hex.
    pub fn csrf_token(&self, session: &str) -> String {
        hex::encode(self.csrf_mac(session).finalize().into_bytes())
    }

    /// Checks a CSRF token in constant time.
    pub fn csrf_valid(&self, session: &str, token: &str) -> bool {
        hex::decode(token.trim()).is_ok_and(|bytes| self.csrf_mac(session).verify_slice(&bytes).is_ok())
    }

    fn csrf_mac(&self, session: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key).expect("HMAC takes any key length");
        mac.update(session.as_bytes());
        mac
    }
}

/// A purpose-bound 256-bit key: HMAC-SHA256(master key, purpose).
pub fn derive_key(master_key: &SecretString, purpose: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master_key.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("hashing failed: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A random credential: `prefix` + 43 URL-safe characters (256 bits).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh master key, for the data directory on first start.
pub fn generate_master_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_wrong_key() {
        let a = SecretBox::new(&SecretString::from("key-a".to_owned()));
        let b = SecretBox::new(&SecretString::from("key-b".to_owned()));
        let sealed = a.seal("1234");
        assert!(!sealed.contains("1234"));
        assert_ne!(sealed, a.seal("1234"), "fresh nonce each time");
        assert_eq!(a.open(&sealed).unwrap(), "1234");
        assert!(b.open(&sealed).unwrap_err().to_string().contains("SIMFLEET_SECRET_KEY"));
    }

    #[test]
    fn passwords() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
