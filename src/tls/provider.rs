//! The one crypto provider of the process (ring).
//!
//! Every rustls config, key load and verifier is built from this provider and
//! it is passed explicitly (never installed as the process default), so a
//! dependency enabling another backend can never silently change which code
//! signs and verifies.

use rustls::crypto::CryptoProvider;
use std::sync::{Arc, OnceLock};

/// The ring-based [`CryptoProvider`] shared by every TLS object portcullis builds.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_is_shared_and_has_suites() {
        let a = provider();
        let b = provider();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!a.cipher_suites.is_empty());
    }
}
