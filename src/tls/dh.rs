//! Finite-field Diffie-Hellman parameters: loading them (PKCS#3 `DH
//! PARAMETERS` PEM blocks, from `ssl-dh-param-file` or appended to a `crt`
//! file) and choosing, as HAProxy 2.6 with OpenSSL 3 does, which group a
//! certificate's DHE suites use.
//!
//! Sits in the pipeline's *lower* step (loading) and *build* step (the
//! choice, made once per server config). The key exchange itself is
//! [`crate::tls::ffdhe`].
//!
//! HAProxy's order: DH parameters in the certificate file, else
//! `ssl-dh-param-file`, else `tune.ssl.default-dh-param N` (the RFC 7919
//! group matching the RSA key size, capped at N: ffdhe4096 from 4096 bits,
//! ffdhe2048 from 2048, nothing else in between), else no DHE at all.
//! OpenSSL's default security level (2) refuses groups under 2048 bits, so
//! such parameters leave DHE unavailable (HAProxy warns "DH ciphers won't be
//! available").

use rustls::NamedGroup;
use rustls::ffdhe_groups::{FFDHE2048, FFDHE3072, FFDHE4096, FFDHE6144, FFDHE8192, FfdheGroup};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// The smallest modulus OpenSSL accepts at its default security level 2
/// (112-bit security).
pub const MIN_BITS: u32 = 2048;

/// One set of DH parameters: a prime modulus and a generator.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct DhParams {
    /// Modulus, big-endian, no leading zero.
    #[serde(skip)]
    pub p: Vec<u8>,
    /// Generator, big-endian, no leading zero.
    #[serde(skip)]
    pub g: Vec<u8>,
    /// Size of the modulus in bits (what `openssl s_client` reports as
    /// "Server Temp Key: DH, N bits").
    pub bits: u32,
    /// The RFC 7919 group these parameters are, if any.
    #[serde(serialize_with = "ser_group")]
    pub named: Option<NamedGroup>,
    /// PKCS#3 `privateValueLength`, when the file gives one.
    pub private_len: Option<u32>,
}

fn ser_group<S: serde::Serializer>(g: &Option<NamedGroup>, s: S) -> Result<S::Ok, S::Error> {
    match g {
        Some(g) => s.serialize_some(&format!("{g:?}")),
        None => s.serialize_none(),
    }
}

impl fmt::Debug for DhParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhParams")
            .field("bits", &self.bits)
            .field("named", &self.named)
            .finish()
    }
}

/// The RFC 7919 groups, with their TLS names.
pub const RFC7919: [(NamedGroup, FfdheGroup<'static>); 5] = [
    (NamedGroup::FFDHE2048, FFDHE2048),
    (NamedGroup::FFDHE3072, FFDHE3072),
    (NamedGroup::FFDHE4096, FFDHE4096),
    (NamedGroup::FFDHE6144, FFDHE6144),
    (NamedGroup::FFDHE8192, FFDHE8192),
];

impl DhParams {
    /// Parameters from big-endian `p` and `g` (leading zeros are trimmed).
    pub fn new(p: &[u8], g: &[u8], private_len: Option<u32>) -> Result<DhParams, String> {
        let p = trim(p);
        let g = trim(g);
        if p.last().is_none_or(|b| b & 1 == 0) {
            return Err("the DH modulus is not an odd number".into());
        }
        // g must be in [2, p-1).
        if g.is_empty() || g == [1] || g.len() > p.len() || (g.len() == p.len() && g >= p) {
            return Err("the DH generator is out of range".into());
        }
        let bits = (p.len() as u32 - 1) * 8 + (8 - p[0].leading_zeros());
        let named = RFC7919
            .iter()
            .find(|(_, grp)| grp.p == p && grp.g == g)
            .map(|(n, _)| *n);
        Ok(DhParams {
            p: p.to_vec(),
            g: g.to_vec(),
            bits,
            named,
            private_len,
        })
    }

    /// One of the RFC 7919 groups.
    pub fn rfc7919(group: NamedGroup) -> Option<Arc<DhParams>> {
        let (_, grp) = RFC7919.iter().find(|(n, _)| *n == group)?;
        DhParams::new(grp.p, grp.g, None).ok().map(Arc::new)
    }

    /// Parses a DER `DHParameter` (PKCS#3): SEQUENCE { prime INTEGER, base
    /// INTEGER, privateValueLength INTEGER OPTIONAL }.
    pub fn from_pkcs3_der(der: &[u8]) -> Result<DhParams, String> {
        let bad = || "malformed PKCS#3 DH parameters".to_string();
        let (tag, body, rest) = der_tlv(der).ok_or_else(bad)?;
        if tag != 0x30 || !rest.is_empty() {
            return Err(bad());
        }
        let (tag, p, body) = der_tlv(body).ok_or_else(bad)?;
        if tag != 0x02 {
            return Err(bad());
        }
        let (tag, g, body) = der_tlv(body).ok_or_else(bad)?;
        if tag != 0x02 {
            return Err(bad());
        }
        let private_len = if body.is_empty() {
            None
        } else {
            let (tag, l, body) = der_tlv(body).ok_or_else(bad)?;
            if tag != 0x02 || !body.is_empty() || l.len() > 4 {
                return Err(bad());
            }
            Some(l.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        };
        if p.first().is_some_and(|b| b & 0x80 != 0) || g.first().is_some_and(|b| b & 0x80 != 0) {
            return Err("negative DH parameter".into());
        }
        DhParams::new(p, g, private_len.filter(|l| *l > 0))
    }

    /// The first `DH PARAMETERS` block of a PEM file, if any. Other blocks
    /// (certificates, keys) are skipped, as OpenSSL's decoder does.
    pub fn from_pem(bytes: &[u8]) -> Result<Option<DhParams>, String> {
        for block in x509_parser::pem::Pem::iter_from_buffer(bytes) {
            let Ok(block) = block else {
                // A block x509-parser cannot read is reported by the
                // certificate loader; here it just is no DH block.
                break;
            };
            if block.label == "DH PARAMETERS" {
                return DhParams::from_pkcs3_der(&block.contents).map(Some);
            }
        }
        Ok(None)
    }

    /// Whether OpenSSL at its default security level would use them.
    pub fn usable(&self) -> bool {
        self.bits >= MIN_BITS
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

/// One DER tag-length-value: (tag, value, rest). Short and long lengths.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (lb, rest) = b.split_at(n);
        b = rest;
        lb.iter()
            .fold(0usize, |acc, x| (acc << 8) | usize::from(*x))
    };
    if b.len() < len {
        return None;
    }
    let (v, rest) = b.split_at(len);
    Some((tag, v, rest))
}

/// Where a bind's DH parameters come from when its certificate has none
/// (the `global` settings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub enum DhDefault {
    /// Neither `ssl-dh-param-file` nor `tune.ssl.default-dh-param`: DHE
    /// suites are unavailable (HAProxy 2.6).
    #[default]
    None,
    /// `ssl-dh-param-file`.
    File(Arc<DhParams>),
    /// `tune.ssl.default-dh-param N`.
    MaxBits(u32),
}

/// The DH group a certificate's DHE suites use, or `None` when DHE is
/// unavailable for it. `rsa_bits` is the certificate's RSA modulus size
/// (`None` for other keys, which DHE-RSA suites cannot use anyway).
pub fn choose(
    in_cert: Option<&Arc<DhParams>>,
    default: &DhDefault,
    rsa_bits: Option<u32>,
) -> Option<Arc<DhParams>> {
    let picked = match (in_cert, default) {
        (Some(p), _) | (None, DhDefault::File(p)) => p.clone(),
        (None, DhDefault::MaxBits(max)) => {
            // HAProxy's ssl_get_tmp_dh(): the key's size, capped at the
            // setting; EC keys take the setting itself.
            let keylen = rsa_bits.map_or(*max, |b| b.min(*max));
            let group = if keylen >= 4096 {
                NamedGroup::FFDHE4096
            } else if keylen >= 2048 {
                NamedGroup::FFDHE2048
            } else {
                // HAProxy's built-in 1024-bit group, refused by OpenSSL's
                // security level: no DHE.
                return None;
            };
            DhParams::rfc7919(group)?
        }
        (None, DhDefault::None) => return None,
    };
    picked.usable().then_some(picked)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    const FFDHE2048_PEM: &str = "-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
";

    #[test]
    fn pkcs3_pem_of_ffdhe2048_is_recognised() {
        let text = format!("junk\n{FFDHE2048_PEM}");
        let p = DhParams::from_pem(text.as_bytes()).unwrap().unwrap();
        assert_eq!(p.bits, 2048);
        assert_eq!(p.named, Some(NamedGroup::FFDHE2048));
        assert_eq!(p.g, [2]);
        assert!(p.usable());
        assert!(DhParams::from_pem(b"no pem here").unwrap().is_none());
    }

    #[test]
    fn malformed_der_is_refused() {
        assert!(DhParams::from_pkcs3_der(&[0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(
            DhParams::from_pkcs3_der(&[0x30, 0x06, 0x02, 0x01, 0x17, 0x02, 0x01, 0x02]).is_ok()
        );
        // even modulus
        assert!(
            DhParams::from_pkcs3_der(&[0x30, 0x06, 0x02, 0x01, 0x16, 0x02, 0x01, 0x02]).is_err()
        );
        // generator 1
        assert!(
            DhParams::from_pkcs3_der(&[0x30, 0x06, 0x02, 0x01, 0x17, 0x02, 0x01, 0x01]).is_err()
        );
    }

    #[test]
    fn default_dh_param_follows_haproxy_sizes() {
        let pick = |max, rsa| choose(None, &DhDefault::MaxBits(max), rsa).and_then(|p| p.named);
        assert_eq!(pick(4096, Some(2048)), Some(NamedGroup::FFDHE2048));
        assert_eq!(pick(4096, Some(4096)), Some(NamedGroup::FFDHE4096));
        assert_eq!(pick(8192, Some(4096)), Some(NamedGroup::FFDHE4096));
        assert_eq!(pick(3072, Some(4096)), Some(NamedGroup::FFDHE2048));
        assert_eq!(pick(4096, Some(3072)), Some(NamedGroup::FFDHE2048));
        assert_eq!(pick(4096, None), Some(NamedGroup::FFDHE4096));
        assert_eq!(pick(1500, Some(2048)), None);
        assert_eq!(pick(1024, Some(4096)), None);
        assert!(choose(None, &DhDefault::None, Some(2048)).is_none());
        let file = DhParams::rfc7919(NamedGroup::FFDHE3072).unwrap();
        let cert = DhParams::rfc7919(NamedGroup::FFDHE6144).unwrap();
        let d = DhDefault::File(file);
        assert_eq!(
            choose(Some(&cert), &d, Some(2048)).and_then(|p| p.named),
            Some(NamedGroup::FFDHE6144)
        );
        assert_eq!(
            choose(None, &d, Some(2048)).and_then(|p| p.named),
            Some(NamedGroup::FFDHE3072)
        );
    }
}
