//! A secret string (operator token, secret_id, wrapping token): zeroised on
//! drop and never shown by `Debug` (SECURITY.md S6).

use std::fmt;

use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
    /// SHA-256 of the value, in hex: names it without revealing it, where
    /// the value is random enough that no guess finds it.
    pub fn sha256_hex(&self) -> String {
        sha256_hex(self.expose().as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_of_a_secret_shows_no_byte_of_it() {
        let s = Secret::new("hvs.s3cr3t-token".into());
        let shown = format!("{s:?} {:?}", Some(s.clone()));
        assert_eq!(shown, "Secret(<redacted>) Some(Secret(<redacted>))");
        assert_eq!(s.expose(), "hvs.s3cr3t-token");
    }
}
