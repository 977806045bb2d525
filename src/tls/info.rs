//! What we know about one certificate or CRL, computed once at load time.
//!
//! [`CertInfo`] feeds `check` warnings (expiry, unanchored CA, missing CRL),
//! `show ssl cert`, and the per-connection `ssl_*` fetches; the text forms
//! follow HAProxy 2.6 (see [`crate::tls::dn`]).

use crate::tls::dn::{NameKey, name_oneline, name_rfc2253};
use serde::Serialize;
use std::net::IpAddr;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The facts about one certificate that the rest of portcullis reports on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject in HAProxy's oneline form: `/CN=x/O=y`.
    pub subject_oneline: String,
    /// Subject in RFC 2253 form: `O=y,CN=x`.
    pub subject_rfc2253: String,
    /// Issuer in oneline form.
    pub issuer_oneline: String,
    /// Issuer in RFC 2253 form.
    pub issuer_rfc2253: String,
    /// Serial number as `ssl_c_serial,hex` prints it: magnitude bytes, uppercase.
    pub serial_hex: String,
    /// SHA-1 of the DER, uppercase hex (`ssl_c_sha1,hex`).
    pub sha1_hex: String,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// Subject common names, in certificate order.
    pub common_names: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP address subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// Subject and issuer are the same name (a root, or a self-issued cert).
    pub self_issued: bool,
    /// Public key algorithm and size as HAProxy's `show ssl cert` names it:
    /// `RSA2048`, `EC256`, `ED25519`.
    pub key_alg: String,
    #[serde(skip)]
    pub(crate) subject_key: NameKey,
    #[serde(skip)]
    pub(crate) issuer_key: NameKey,
}

impl CertInfo {
    /// Parses a DER certificate; the error text says what x509-parser refused.
    pub fn from_der(der: &[u8]) -> Result<CertInfo, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!(
                "{} trailing byte(s) after the certificate",
                rest.len()
            ));
        }
        Ok(Self::from_parsed(&cert, der))
    }

    pub(crate) fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> CertInfo {
        let subject_key = NameKey::of(cert.subject());
        let issuer_key = NameKey::of(cert.issuer());
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push((*d).to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            ip_addresses.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        CertInfo {
            subject_oneline: name_oneline(cert.subject()),
            subject_rfc2253: name_rfc2253(cert.subject()),
            issuer_oneline: name_oneline(cert.issuer()),
            issuer_rfc2253: name_rfc2253(cert.issuer()),
            serial_hex: serial_hex(cert.raw_serial()),
            sha1_hex: sha1_hex(der),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            common_names: cert
                .subject()
                .iter_common_name()
                .map(|a| String::from_utf8_lossy(a.attr_value().data).into_owned())
                .collect(),
            dns_names,
            ip_addresses,
            is_ca,
            self_issued: subject_key == issuer_key,
            key_alg: key_algorithm(cert.public_key()),
            subject_key,
            issuer_key,
        }
    }

    /// May this certificate issue others? CA:TRUE, or a self-issued certificate
    /// (old v1 roots have no basicConstraints and OpenSSL still trusts them).
    pub fn may_issue(&self) -> bool {
        self.is_ca || self.self_issued
    }
}

/// The facts about one CRL reported by `check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CrlInfo {
    /// Issuer in oneline form.
    pub issuer_oneline: String,
    /// Issuer in RFC 2253 form.
    pub issuer_rfc2253: String,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds; past it OpenSSL rejects every client
    /// (X509_V_ERR_CRL_HAS_EXPIRED).
    pub next_update: Option<i64>,
    /// Number of revoked certificates listed.
    pub revoked: usize,
    #[serde(skip)]
    pub(crate) issuer_key: NameKey,
}

impl CrlInfo {
    /// Parses a DER CRL; the error text says what x509-parser refused.
    pub fn from_der(der: &[u8]) -> Result<CrlInfo, String> {
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!("{} trailing byte(s) after the CRL", rest.len()));
        }
        Ok(CrlInfo {
            issuer_oneline: name_oneline(crl.issuer()),
            issuer_rfc2253: name_rfc2253(crl.issuer()),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked: crl.iter_revoked_certificates().count(),
            issuer_key: NameKey::of(crl.issuer()),
        })
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Uppercase hex of the serial's magnitude: the DER sign byte (a leading 0x00)
/// is dropped, as OpenSSL's `ASN1_INTEGER` stores it and HAProxy prints it.
pub fn serial_hex(raw: &[u8]) -> String {
    let mut bytes = raw;
    while bytes.len() > 1 && bytes.first() == Some(&0) {
        bytes = &bytes[1..];
    }
    hex_upper(bytes)
}

/// Uppercase hex of the SHA-1 of `der` (HAProxy's `ssl_c_sha1,hex`).
pub fn sha1_hex(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hex_upper(digest.as_ref())
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_DSA: &str = "1.2.840.10040.4.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// Key algorithm and size in HAProxy's `show ssl cert` style (`RSA2048`,
/// `EC256`, `DSA2048`), `ED25519`/`ED448` for EdDSA, the dotted OID otherwise.
pub fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        OID_RSA | OID_RSA_PSS => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA{}", bit_length(rsa.modulus)),
            _ => "RSA".to_string(),
        },
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") | Some("1.3.132.0.10") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                Some("1.2.840.10045.3.1.1") => 192,
                Some("1.3.132.0.33") => 224,
                _ => spki.parsed().map(|k| k.key_size()).unwrap_or(0),
            };
            format!("EC{bits}")
        }
        OID_DSA => match spki.parsed() {
            Ok(k) => format!("DSA{}", k.key_size()),
            Err(_) => "DSA".to_string(),
        },
        OID_ED25519 => "ED25519".to_string(),
        OID_ED448 => "ED448".to_string(),
        _ => oid,
    }
}

/// Number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let mut b = bytes;
    while b.first() == Some(&0) {
        b = &b[1..];
    }
    match b.first() {
        Some(first) => b.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_drops_sign_byte_and_is_uppercase() {
        assert_eq!(serial_hex(&[0x00, 0xab, 0x01]), "AB01");
        assert_eq!(serial_hex(&[0x02]), "02");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x51, 0x41, 0xcc]), "5141CC");
    }

    #[test]
    fn sha1_of_empty_input() {
        assert_eq!(sha1_hex(b""), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[]), 0);
    }
}
