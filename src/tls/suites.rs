//! The cipher suites portcullis offers, by OpenSSL name, including the
//! TLS 1.2 DHE-RSA suites rustls' ring provider lacks.
//!
//! Sits in the pipeline's *build* step. A DHE-RSA suite is its ECDHE-RSA
//! sibling with another key exchange: same AEAD, same PRF hash, same RSA
//! signatures, so each is derived from ring's suite by changing only the
//! suite id and `kx`; the key exchange is [`crate::tls::ffdhe`].
//!
//! The order of [`TABLE`]'s TLS 1.2 part is OpenSSL's `DEFAULT` order, which
//! is what HAProxy offers (and prefers) without a `ciphers` line.

use rustls::crypto::ring::cipher_suite as ring;
use rustls::crypto::{CipherSuiteCommon, KeyExchangeAlgorithm};
use rustls::{CipherSuite, SupportedCipherSuite, Tls12CipherSuite};
use std::sync::LazyLock;

fn dhe_from(ecdhe: SupportedCipherSuite, id: CipherSuite) -> Tls12CipherSuite {
    let SupportedCipherSuite::Tls12(base) = ecdhe else {
        unreachable!("ring's ECDHE-RSA suites are TLS 1.2 suites")
    };
    Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: id,
            hash_provider: base.common.hash_provider,
            confidentiality_limit: base.common.confidentiality_limit,
        },
        prf_provider: base.prf_provider,
        kx: KeyExchangeAlgorithm::DHE,
        sign: base.sign,
        aead_alg: base.aead_alg,
    }
}

static DHE_RSA_AES256_GCM: LazyLock<Tls12CipherSuite> = LazyLock::new(|| {
    dhe_from(
        ring::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
    )
});
static DHE_RSA_AES128_GCM: LazyLock<Tls12CipherSuite> = LazyLock::new(|| {
    dhe_from(
        ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
    )
});
static DHE_RSA_CHACHA20: LazyLock<Tls12CipherSuite> = LazyLock::new(|| {
    dhe_from(
        ring::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    )
});

/// Every suite portcullis implements: OpenSSL name (IANA for TLS 1.3) and
/// the rustls suite. TLS 1.3 first, then TLS 1.2 in OpenSSL's order.
pub fn table() -> [(&'static str, SupportedCipherSuite); 12] {
    [
        ("TLS_AES_256_GCM_SHA384", ring::TLS13_AES_256_GCM_SHA384),
        ("TLS_AES_128_GCM_SHA256", ring::TLS13_AES_128_GCM_SHA256),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            ring::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            ring::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            ring::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "DHE-RSA-AES256-GCM-SHA384",
            SupportedCipherSuite::Tls12(&DHE_RSA_AES256_GCM),
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            ring::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            ring::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "DHE-RSA-CHACHA20-POLY1305",
            SupportedCipherSuite::Tls12(&DHE_RSA_CHACHA20),
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "DHE-RSA-AES128-GCM-SHA256",
            SupportedCipherSuite::Tls12(&DHE_RSA_AES128_GCM),
        ),
    ]
}

/// Whether a suite needs finite-field DH parameters.
pub fn is_dhe(suite: &SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls12(s) if s.kx == KeyExchangeAlgorithm::DHE)
}

/// A cipher suite's name as HAProxy prints it (`ssl_fc_cipher`, `%sslc`):
/// IANA names for TLS 1.3, OpenSSL names for TLS 1.2.
pub fn name(suite: CipherSuite) -> &'static str {
    table()
        .into_iter()
        .find(|(_, s)| s.suite() == suite)
        .map_or("", |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhe_suites_mirror_their_ecdhe_siblings() {
        let t = table();
        for (name, s) in &t {
            assert_eq!(is_dhe(s), name.starts_with("DHE-"), "{name}");
        }
        assert_eq!(
            name(CipherSuite::TLS_DHE_RSA_WITH_AES_256_GCM_SHA384),
            "DHE-RSA-AES256-GCM-SHA384"
        );
        assert_eq!(
            name(CipherSuite::TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
            "DHE-RSA-CHACHA20-POLY1305"
        );
        let SupportedCipherSuite::Tls12(d) = t[5].1 else {
            panic!("not TLS 1.2")
        };
        let SupportedCipherSuite::Tls12(e) = t[4].1 else {
            panic!("not TLS 1.2")
        };
        assert_eq!(d.sign, e.sign);
        assert_eq!(d.kx, KeyExchangeAlgorithm::DHE);
    }
}
