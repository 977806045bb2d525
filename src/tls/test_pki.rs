//! Test PKI for the TLS loading and analysis tests: rcgen-made CAs, leaves and
//! CRLs written into a temporary directory. RSA keys come from fixtures
//! (ring cannot generate RSA keys); the P-521 certificate too (ring cannot sign
//! with it, which is what the unsupported-key test needs).

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const RSA_PKCS8: &str = include_str!("testdata/rsa-pkcs8.pem");
pub const RSA_PKCS1: &str = include_str!("testdata/rsa-pkcs1.pem");
pub const P256_PKCS8: &str = include_str!("testdata/p256-pkcs8.pem");
pub const P256_SEC1: &str = include_str!("testdata/p256-sec1.pem");
pub const P521_COMBINED: &str = include_str!("testdata/p521-combined.pem");

/// Key types the tests generate or load.
#[derive(Clone, Copy, Debug)]
pub enum Alg {
    P256,
    P384,
    Ed25519,
    /// The fixture RSA-2048 key.
    Rsa,
}

pub fn key(alg: Alg) -> Result<KeyPair, rcgen::Error> {
    match alg {
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        Alg::Rsa => KeyPair::from_pem(RSA_PKCS8),
    }
}

/// A CA (root or intermediate) able to sign certificates and CRLs.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub cert: Certificate,
}

impl Ca {
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, "Acme");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// A self-signed root CA with subject `/CN=<cn>/O=Acme`.
pub fn root(cn: &str) -> Result<Ca, rcgen::Error> {
    let params = ca_params(cn);
    let key = key(Alg::P256)?;
    let cert = params.self_signed(&key)?;
    Ok(Ca { params, key, cert })
}

/// An intermediate CA signed by `parent`.
pub fn intermediate(cn: &str, parent: &Ca) -> Result<Ca, rcgen::Error> {
    let params = ca_params(cn);
    let key = key(Alg::P256)?;
    let cert = params.signed_by(&key, &Issuer::from_params(&parent.params, &parent.key))?;
    Ok(Ca { params, key, cert })
}

/// Parameters of a leaf for `cn` with `cn` as DNS SAN.
pub fn leaf_params(cn: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(vec![cn.to_string(), "127.0.0.1".to_string()])?;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, "Acme");
    Ok(p)
}

/// A leaf certificate and its key, self-signed when `issuer` is `None`.
pub fn leaf(
    cn: &str,
    alg: Alg,
    issuer: Option<&Ca>,
) -> Result<(Certificate, KeyPair), rcgen::Error> {
    let params = leaf_params(cn)?;
    let key = key(alg)?;
    let cert = match issuer {
        Some(ca) => params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))?,
        None => params.self_signed(&key)?,
    };
    Ok((cert, key))
}

/// A PEM CRL signed by `ca` revoking `serials`, valid from yesterday to
/// `next_update_days` from now.
pub fn crl(ca: &Ca, serials: &[u64], next_update_days: i64) -> Result<String, rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - Duration::days(1),
        next_update: now + Duration::days(next_update_days),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now - Duration::days(1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(&Issuer::from_params(&ca.params, &ca.key))?
        .pem()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}
