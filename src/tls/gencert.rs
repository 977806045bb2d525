//! `generate-certificates` on a bind: when a client's SNI matches no
//! configured certificate, a certificate for that name is minted, signed by
//! the CA of `ca-sign-file`, and cached (`tune.ssl.ssl-ctx-cache-size`).
//!
//! Built with the bind ([`Minter::new`] mints a probe certificate, so `check`
//! reports a CA or key it cannot use); certificates are minted during the
//! handshake ([`crate::tls::server::BindTlsRuntime`] asks). What is minted
//! follows HAProxy 2.6's `ssl_sock_do_create_cert`: the default certificate's
//! key, an X.509 v3 certificate whose serial counts up from a random start,
//! valid from one day ago for 365 days, issued by the CA's subject, whose
//! subject is the CA's subject followed by `CN=<sni>`, with basicConstraints
//! CA:FALSE, the nsComment "OpenSSL Generated Certificate", a subject key
//! identifier (SHA-1 of the key, OpenSSL's "hash"), an authority key
//! identifier, keyUsage digitalSignature, nonRepudiation, keyEncipherment and
//! the SNI as DNS subject alternative name; served with the CA certificate
//! (and the rest of `ca-sign-file`'s chain) after it.
//!
//! Where it differs from HAProxy, and why: rcgen writes the authority key
//! identifier as the CA's key id only (HAProxy adds the CA's issuer and
//! serial), marks basicConstraints critical, and signs with the hash the
//! TLS stack pairs with the CA key (SHA-384 for a P-384 CA, where HAProxy
//! uses SHA-256). A CA whose subject rcgen cannot reproduce byte for byte
//! (multi-valued RDNs, an attribute type repeated more than twice) is refused
//! at check time rather than issuing certificates that would not chain.

use crate::tls::material::CertKey;
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm,
};
use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm as KeyAlg, SignatureScheme};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// Why certificates cannot be generated with this CA and default certificate.
#[derive(Debug, thiserror::Error)]
pub enum GenCertError {
    #[error("the CA certificate of ca-sign-file cannot be parsed")]
    CaUnparsable,
    #[error("the CA key of ca-sign-file cannot sign certificates ({0})")]
    CaKey(String),
    #[error("the default certificate's key ({0}) cannot be put in generated certificates")]
    DefaultKey(String),
    #[error("the CA subject cannot be reproduced exactly in generated certificates: {0}")]
    CaSubject(String),
    #[error("minting a certificate failed: {0}")]
    Mint(String),
}

/// Mints certificates for one bind.
pub struct Minter {
    /// The CA's subject as rcgen writes it (checked equal to the original).
    ca_name: DistinguishedName,
    ca_key_id: Option<Vec<u8>>,
    ca_signer: CaSigner,
    /// The CA certificate and the rest of `ca-sign-file`'s chain.
    ca_chain: Vec<CertificateDer<'static>>,
    /// The default certificate's public key and the key that proves it.
    default_public: DefaultPublicKey,
    default_key: Arc<dyn SigningKey>,
    serial: AtomicU32,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").finish_non_exhaustive()
    }
}

/// The CA key as rcgen's signer: signs through the TLS stack's key.
struct CaSigner {
    signer: Box<dyn Signer>,
    alg: &'static SignatureAlgorithm,
    public: Vec<u8>,
}

impl PublicKeyData for CaSigner {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl rcgen::SigningKey for CaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// The default certificate's subject public key.
struct DefaultPublicKey {
    bits: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for DefaultPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl Minter {
    /// Prepares minting with `ca` (`ca-sign-file`: the CA certificate first,
    /// and its key) for a bind whose default certificate is `default`, and
    /// mints a probe certificate to prove the result chains to the CA and
    /// carries the default key.
    pub fn new(ca: &CertKey, default: &CertKey) -> Result<Minter, GenCertError> {
        let ca_der = ca.chain.first().ok_or(GenCertError::CaUnparsable)?;
        let (_, ca_cert) =
            X509Certificate::from_der(ca_der.as_ref()).map_err(|_| GenCertError::CaUnparsable)?;
        let ca_signer = ca_signer(ca.signing_key.as_ref(), &ca_cert)?;
        let ca_name = rcgen_name(ca_cert.subject())?;
        let ca_key_id = ca_cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        let default_der = default
            .chain
            .first()
            .ok_or_else(|| GenCertError::DefaultKey("no certificate".into()))?;
        let (_, default_cert) = X509Certificate::from_der(default_der.as_ref())
            .map_err(|e| GenCertError::DefaultKey(e.to_string()))?;
        let default_public = default_public_key(&default_cert)?;
        let minter = Minter {
            ca_name,
            ca_key_id,
            ca_signer,
            ca_chain: ca.chain.clone(),
            default_public,
            default_key: default.signing_key.clone(),
            serial: AtomicU32::new(random_u32()),
        };
        let probe = minter.mint_der("probe.invalid")?;
        let (_, minted) =
            X509Certificate::from_der(&probe).map_err(|e| GenCertError::Mint(e.to_string()))?;
        if minted.issuer().as_raw() != ca_cert.subject().as_raw() {
            return Err(GenCertError::CaSubject(
                "its string types or attribute order change when re-encoded".into(),
            ));
        }
        if minted.public_key().raw != default_cert.public_key().raw {
            return Err(GenCertError::DefaultKey(
                "its public key changes when re-encoded".into(),
            ));
        }
        Ok(minter)
    }

    /// A certificate for `name` (already lower-cased), with the CA chain
    /// after it and the default certificate's key.
    pub fn mint(&self, name: &str) -> Result<CertifiedKey, GenCertError> {
        let leaf = self.mint_der(name)?;
        let mut chain = vec![CertificateDer::from(leaf)];
        chain.extend(self.ca_chain.iter().cloned());
        Ok(CertifiedKey::new(chain, self.default_key.clone()))
    }

    fn mint_der(&self, name: &str) -> Result<Vec<u8>, GenCertError> {
        let mint_err = |e: rcgen::Error| GenCertError::Mint(e.to_string());
        let mut params = CertificateParams::new(vec![name.to_string()]).map_err(mint_err)?;
        let serial = self.serial.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let mut subject = self.ca_name.clone();
        let cn_key = [DnType::CommonName, DnType::CustomDnType(vec![2, 5, 4, 3])]
            .into_iter()
            .find(|k| subject.get(k).is_none())
            .ok_or_else(|| GenCertError::CaSubject("it already holds two CNs".into()))?;
        subject.push(cn_key, DnValue::Utf8String(name.to_string()));
        params.distinguished_name = subject;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
            KeyUsagePurpose::KeyEncipherment,
        ];
        // OpenSSL's "hash" key identifier: SHA-1 of the subject key's bits.
        let ski = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.default_public.bits,
        );
        params.key_identifier_method = KeyIdMethod::PreSpecified(ski.as_ref().to_vec());
        params.custom_extensions = vec![ns_comment()];
        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = self.ca_name.clone();
        match &self.ca_key_id {
            Some(id) => {
                params.use_authority_key_identifier_extension = true;
                issuer_params.key_identifier_method = KeyIdMethod::PreSpecified(id.clone());
            }
            None => params.use_authority_key_identifier_extension = false,
        }
        let issuer = Issuer::from_params(&issuer_params, &self.ca_signer);
        let cert = params
            .signed_by(&self.default_public, &issuer)
            .map_err(mint_err)?;
        Ok(cert.der().to_vec())
    }
}

/// nsComment (2.16.840.1.113730.1.13), IA5String.
fn ns_comment() -> CustomExtension {
    // The quotes are part of the value, as HAProxy writes it.
    const TEXT: &[u8] = b"\"OpenSSL Generated Certificate\"";
    let mut content = vec![0x16, TEXT.len() as u8];
    content.extend_from_slice(TEXT);
    CustomExtension::from_oid_content(&[2, 16, 840, 1, 113730, 1, 13], content)
}

/// The CA key signing through the TLS stack, with the signature algorithm
/// written into minted certificates.
fn ca_signer(key: &dyn SigningKey, ca: &X509Certificate<'_>) -> Result<CaSigner, GenCertError> {
    let candidates: &[(SignatureScheme, &'static SignatureAlgorithm)] = match key.algorithm() {
        KeyAlg::RSA => &[(SignatureScheme::RSA_PKCS1_SHA256, &rcgen::PKCS_RSA_SHA256)],
        KeyAlg::ECDSA => &[
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &rcgen::PKCS_ECDSA_P384_SHA384,
            ),
        ],
        KeyAlg::ED25519 => &[(SignatureScheme::ED25519, &rcgen::PKCS_ED25519)],
        other => return Err(GenCertError::CaKey(format!("{other:?} keys"))),
    };
    candidates
        .iter()
        .find_map(|(scheme, alg)| {
            key.choose_scheme(&[*scheme]).map(|signer| CaSigner {
                signer,
                alg,
                public: ca.public_key().subject_public_key.data.to_vec(),
            })
        })
        .ok_or_else(|| GenCertError::CaKey(format!("{:?} key", key.algorithm())))
}

/// The default certificate's key as rcgen writes subject public keys.
fn default_public_key(cert: &X509Certificate<'_>) -> Result<DefaultPublicKey, GenCertError> {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let alg: &'static SignatureAlgorithm = match (oid.as_str(), curve.as_deref()) {
        ("1.2.840.113549.1.1.1", _) => &rcgen::PKCS_RSA_SHA256,
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => &rcgen::PKCS_ECDSA_P256_SHA256,
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => &rcgen::PKCS_ECDSA_P384_SHA384,
        ("1.3.101.112", _) => &rcgen::PKCS_ED25519,
        _ => return Err(GenCertError::DefaultKey(oid)),
    };
    Ok(DefaultPublicKey {
        bits: spki.subject_public_key.data.to_vec(),
        alg,
    })
}

/// The CA subject as an rcgen name: one attribute per RDN, in order, with
/// its string type. rcgen keys attributes by type, so a type may appear
/// twice at most (its well-known form and its OID form).
fn rcgen_name(name: &X509Name<'_>) -> Result<DistinguishedName, GenCertError> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(GenCertError::CaSubject("it has a multi-valued RDN".into()));
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| GenCertError::CaSubject("an attribute type is too long".into()))?
            .collect();
        let key = [DnType::from_oid(&oid), DnType::CustomDnType(oid.clone())]
            .into_iter()
            .find(|k| dn.get(k).is_none())
            .ok_or_else(|| GenCertError::CaSubject("an attribute type repeats".into()))?;
        let data = attr.attr_value().data;
        let text = || {
            std::str::from_utf8(data)
                .map(str::to_string)
                .map_err(|_| GenCertError::CaSubject("a value is not valid text".into()))
        };
        let bad = |_| GenCertError::CaSubject("a value does not fit its string type".into());
        let value = match attr.attr_value().header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?),
            Tag::PrintableString => DnValue::PrintableString(text()?.try_into().map_err(bad)?),
            Tag::Ia5String => DnValue::Ia5String(text()?.try_into().map_err(bad)?),
            Tag::T61String => DnValue::TeletexString(text()?.try_into().map_err(bad)?),
            Tag::BmpString => DnValue::BmpString(
                rcgen::string::BmpString::from_utf16be(data.to_vec()).map_err(bad)?,
            ),
            Tag::UniversalString => DnValue::UniversalString(
                rcgen::string::UniversalString::from_utf32be(data.to_vec()).map_err(bad)?,
            ),
            other => {
                return Err(GenCertError::CaSubject(format!(
                    "a value has the unsupported type {other}"
                )));
            }
        };
        dn.push(key, value);
    }
    Ok(dn)
}

fn random_u32() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    // A fixed start only makes serials predictable, never wrong.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    // Keep the top bit clear, as HAProxy's int counter effectively does.
    u32::from_be_bytes(b) >> 1
}

/// Minted certificates by SNI, least recently used evicted beyond `capacity`
/// (`tune.ssl.ssl-ctx-cache-size`; 0 caches nothing, as in HAProxy).
pub struct MintCache<T> {
    capacity: usize,
    inner: Mutex<CacheInner<T>>,
}

struct CacheInner<T> {
    tick: u64,
    entries: HashMap<String, (T, u64)>,
}

impl<T: Clone> MintCache<T> {
    pub fn new(capacity: usize) -> MintCache<T> {
        MintCache {
            capacity,
            inner: Mutex::new(CacheInner {
                tick: 0,
                entries: HashMap::new(),
            }),
        }
    }

    /// The cached value for `name`, or the one `make` builds (cached unless
    /// it failed).
    pub fn get_or_insert<E>(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.capacity == 0 {
            return make();
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((v, used)) = inner.entries.get_mut(name) {
            *used = tick;
            return Ok(v.clone());
        }
        // Minting holds the lock, as HAProxy's write lock does: a burst of
        // clients with one new name mints it once.
        let v = make()?;
        if inner.entries.len() >= self.capacity
            && let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            inner.entries.remove(&oldest);
        }
        inner.entries.insert(name.to_string(), (v.clone(), tick));
        Ok(v)
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_evicts_the_least_recently_used_name() {
        let cache = MintCache::new(2);
        let mut made = 0;
        let mut get = |name: &str| {
            cache
                .get_or_insert(name, || {
                    made += 1;
                    Ok::<_, ()>(made)
                })
                .unwrap_or_default()
        };
        assert_eq!(get("a"), 1);
        assert_eq!(get("b"), 2);
        assert_eq!(get("a"), 1, "cached");
        assert_eq!(get("c"), 3, "evicts b, the least recently used");
        assert_eq!(get("a"), 1);
        assert_eq!(get("b"), 4, "b was evicted");
        let none = MintCache::new(0);
        assert_eq!(none.get_or_insert("x", || Ok::<_, ()>(1)), Ok(1));
        assert!(none.is_empty());
    }
}
