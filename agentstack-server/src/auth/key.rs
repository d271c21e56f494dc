//! The API key itself: `ask_` and 32 random lower-hex characters (128 bits from the operating
//! system), its public prefix (`ask_` and the first 8 of them) and its SHA-256, the only form in
//! which the store keeps it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How every key starts.
pub const KEY_PREFIX: &str = "ask_";
/// How many random hex characters follow [`KEY_PREFIX`].
pub const KEY_RANDOM_CHARS: usize = 32;
/// How many characters of a key are its public prefix (`ask_1a2b3c4d`).
pub const PUBLIC_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;

/// A key just made: the secret, shown once, and what the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The whole key; never stored.
    pub secret: String,
    /// Its public prefix.
    pub prefix: String,
    /// Its SHA-256, lower hex.
    pub sha256: String,
}

/// A fresh random key.
pub fn generate() -> Result<NewKey, getrandom::Error> {
    let mut bytes = [0u8; KEY_RANDOM_CHARS / 2];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{KEY_PREFIX}{}", hex(&bytes));
    Ok(NewKey {
        prefix: secret[..PUBLIC_PREFIX_LEN].to_string(),
        sha256: sha256_hex(&secret),
        secret,
    })
}

/// The public prefix of `key` if it has the shape of a key, else `None`.
pub fn public_prefix(key: &str) -> Option<&str> {
    let random = key.strip_prefix(KEY_PREFIX)?;
    let well_formed = random.len() == KEY_RANDOM_CHARS
        && random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then(|| &key[..PUBLIC_PREFIX_LEN])
}

/// SHA-256 of `text`, lower hex.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_has_the_documented_shape() {
        let key = generate().unwrap();
        assert_eq!(key.secret.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert!(key.secret.starts_with("ask_"));
        assert_eq!(public_prefix(&key.secret), Some(key.prefix.as_str()));
        assert_eq!(key.prefix.len(), 12);
        assert_eq!(key.sha256, sha256_hex(&key.secret));
        assert!(!key.sha256.contains(&key.secret[4..]));
        assert_ne!(generate().unwrap().secret, key.secret, "keys are random");
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        let good = format!("ask_{}", "0123456789abcdef".repeat(2));
        assert_eq!(public_prefix(&good), Some("ask_01234567"));
        for bad in [
            "",
            "ask_",
            "ask_0123",
            &format!("asx_{}", "0".repeat(32)),
            &format!("ask_{}", "G".repeat(32)),
            &format!("ask_{}", "0".repeat(33)),
            &format!("ask_{}é", "0".repeat(31)),
        ] {
            assert_eq!(public_prefix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn constant_time_compare_is_equality() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(constant_time_eq("", ""));
    }
}
