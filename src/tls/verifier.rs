//! The client-certificate verifier of a `verify optional|required` policy,
//! with HAProxy 2.6's semantics (haproxy-spec.md §2, §2.1).
//!
//! Built once per policy per generation ([`ClientVerifier::new`]) and called
//! by rustls during each full handshake. What it does differently from
//! rustls' `WebPkiClientVerifier`, and why:
//! - trust: anchors are the self-signed certificates of `ca-file` and
//!   `ca-verify-file`; their other certificates complete chains of clients
//!   that send only their leaf (OpenSSL keeps both files in its verify
//!   store; webpki's verifier only uses what the client sent). No partial
//!   chains: an intermediate without its root fails, as in HAProxy.
//! - acceptable-CA hints: the subjects of `ca-file` only (none with
//!   `no-ca-names`); `ca-verify-file` is trusted but not advertised.
//! - errors are named as OpenSSL names them, at the depth it reports them
//!   (the `chain` submodule replays `X509_verify_cert`), so `ssl_c_err`,
//!   `ssl_c_ca_err(_depth)`, `ssl_c_verify` and `crt-ignore-err` /
//!   `ca-ignore-err` behave as in HAProxy: an error covered by the list for
//!   its depth is recorded and verification goes on; any other aborts the
//!   handshake with the alert OpenSSL sends for it (`verify optional` alone
//!   does not soften a bad certificate).
//! - webpki still verifies every chain the emulation found clean, as a
//!   safety net: a chain it refuses is refused (with an OpenSSL code chosen
//!   from webpki's error) unless the ignore lists cover that code too.
//!
//! The handshake reads each verification's [`VerifyOutcome`] through a
//! task-local slot ([`capture`]): rustls gives the verifier no connection
//! identity, and the outcome of a *failed* verification cannot be
//! recomputed afterwards (rustls does not expose the rejected chain).

mod chain;

use crate::ir::{ErrorSet, IgnoreErrors, Trust};
use crate::tls::dn::NameKey;
use crate::tls::provider::provider;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::SubjectPublicKeyInfo;

/// OpenSSL's `X509_V_ERR_*` numbers that the verifier reports.
pub mod codes {
    pub const X509_V_ERR_UNSPECIFIED: u32 = 1;
    pub const X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: u32 = 2;
    pub const X509_V_ERR_UNABLE_TO_GET_CRL: u32 = 3;
    pub const X509_V_ERR_CERT_SIGNATURE_FAILURE: u32 = 7;
    pub const X509_V_ERR_CRL_SIGNATURE_FAILURE: u32 = 8;
    pub const X509_V_ERR_CERT_NOT_YET_VALID: u32 = 9;
    pub const X509_V_ERR_CERT_HAS_EXPIRED: u32 = 10;
    pub const X509_V_ERR_CRL_NOT_YET_VALID: u32 = 11;
    pub const X509_V_ERR_CRL_HAS_EXPIRED: u32 = 12;
    pub const X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: u32 = 18;
    pub const X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: u32 = 19;
    pub const X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: u32 = 20;
    pub const X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: u32 = 21;
    pub const X509_V_ERR_CERT_CHAIN_TOO_LONG: u32 = 22;
    pub const X509_V_ERR_CERT_REVOKED: u32 = 23;
    pub const X509_V_ERR_INVALID_CA: u32 = 24;
    pub const X509_V_ERR_PATH_LENGTH_EXCEEDED: u32 = 25;
    pub const X509_V_ERR_INVALID_PURPOSE: u32 = 26;
    pub const X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER: u32 = 33;
    pub const X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION: u32 = 34;
    pub const X509_V_ERR_PERMITTED_VIOLATION: u32 = 47;
}
use codes::*;

/// Highest id `ca-ignore-err` / `crt-ignore-err` accept in HAProxy 2.6.
const MAX_IGNORABLE: u32 = 94;

/// Why a client certificate was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A certificate the client sent is not DER X.509 (OpenSSL fails while
    /// decoding, before any verification: no X509 error code).
    Undecodable,
    /// An X509 verify error not covered by the ignore lists.
    X509 { code: u32, depth: u32 },
}

/// One verification as HAProxy's verify callback saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// First error at depth 0 (`ssl_c_err`), 0 if none.
    pub crt_err: u32,
    /// First error at depth > 0 (`ssl_c_ca_err`) and its depth
    /// (`ssl_c_ca_err_depth`); HAProxy stores them in 6 and 4 bits, so they
    /// saturate at 63 and 15.
    pub ca_err: u32,
    pub ca_err_depth: u32,
    /// The last error reported (`ssl_c_verify`, OpenSSL's verify result):
    /// 21 after an ignored 20, 0 for a clean chain.
    pub result: u32,
    /// Set when the handshake must fail.
    pub rejected: Option<Rejection>,
}

impl VerifyOutcome {
    /// HAProxy's `ssl_sock_bind_verifycbk`: record the first error per side,
    /// keep going when the bind's ignore list for that depth covers it.
    fn report(
        &mut self,
        ignore: &IgnoreErrors,
        code: u32,
        depth: usize,
    ) -> Result<(), chain::Stop> {
        self.result = code;
        let list = if depth > 0 {
            if self.ca_err == 0 {
                self.ca_err = code.min(63);
                self.ca_err_depth = u32::try_from(depth).unwrap_or(u32::MAX).min(15);
            }
            &ignore.ca
        } else {
            if self.crt_err == 0 {
                self.crt_err = code.min(63);
            }
            &ignore.crt
        };
        let ignored = code <= MAX_IGNORABLE
            && match list {
                ErrorSet::Nothing => false,
                ErrorSet::All => true,
                ErrorSet::Ids(ids) => ids.contains(&code),
            };
        if ignored {
            Ok(())
        } else {
            self.rejected = Some(Rejection::X509 {
                code,
                depth: u32::try_from(depth).unwrap_or(u32::MAX),
            });
            Err(chain::Stop)
        }
    }
}

/// The rustls error whose alert is the one OpenSSL sends for `code`
/// (`ssl_x509err2alert`): unknown_ca, certificate_expired,
/// certificate_revoked, bad_certificate, decrypt_error,
/// unsupported_certificate, certificate_unknown.
pub fn alert_error(rejection: Rejection) -> rustls::Error {
    let e = match rejection {
        Rejection::Undecodable => CertificateError::BadEncoding,
        Rejection::X509 { code, .. } => match code {
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
            | X509_V_ERR_UNABLE_TO_GET_CRL
            | X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
            | X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
            | X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            | X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
            | X509_V_ERR_CERT_CHAIN_TOO_LONG
            | X509_V_ERR_INVALID_CA
            | X509_V_ERR_PATH_LENGTH_EXCEEDED
            | X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER => CertificateError::UnknownIssuer,
            X509_V_ERR_CERT_HAS_EXPIRED | X509_V_ERR_CRL_HAS_EXPIRED => CertificateError::Expired,
            X509_V_ERR_CERT_REVOKED => CertificateError::Revoked,
            X509_V_ERR_CERT_SIGNATURE_FAILURE | X509_V_ERR_CRL_SIGNATURE_FAILURE => {
                CertificateError::BadSignature
            }
            X509_V_ERR_INVALID_PURPOSE => CertificateError::InvalidPurpose,
            X509_V_ERR_CERT_NOT_YET_VALID
            | X509_V_ERR_CRL_NOT_YET_VALID
            | X509_V_ERR_PERMITTED_VIOLATION => CertificateError::BadEncoding,
            X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION => CertificateError::UnhandledCriticalExtension,
            _ => CertificateError::Other(rustls::OtherError(Arc::new(X509Failure(code)))),
        },
    };
    rustls::Error::InvalidCertificate(e)
}

/// An X509 error with no closer rustls equivalent (alert certificate_unknown).
#[derive(Debug, thiserror::Error)]
#[error("X509 verify error {0}")]
struct X509Failure(u32);

/// The OpenSSL error id closest to a webpki refusal the emulation missed.
fn webpki_code(e: &webpki::Error) -> u32 {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => X509_V_ERR_CERT_HAS_EXPIRED,
        E::CertNotValidYet { .. } => X509_V_ERR_CERT_NOT_YET_VALID,
        E::CertRevoked => X509_V_ERR_CERT_REVOKED,
        E::UnknownIssuer => X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        E::UnknownRevocationStatus => X509_V_ERR_UNABLE_TO_GET_CRL,
        E::CrlExpired { .. } => X509_V_ERR_CRL_HAS_EXPIRED,
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            X509_V_ERR_CERT_SIGNATURE_FAILURE
        }
        E::InvalidCrlSignatureForPublicKey => X509_V_ERR_CRL_SIGNATURE_FAILURE,
        E::RequiredEkuNotFoundContext(_) | E::CaUsedAsEndEntity => X509_V_ERR_INVALID_PURPOSE,
        E::EndEntityUsedAsCa => X509_V_ERR_INVALID_CA,
        E::PathLenConstraintViolated => X509_V_ERR_PATH_LENGTH_EXCEEDED,
        E::MaximumPathDepthExceeded => X509_V_ERR_CERT_CHAIN_TOO_LONG,
        E::NameConstraintViolation => X509_V_ERR_PERMITTED_VIOLATION,
        E::UnsupportedCriticalExtension => X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION,
        _ => X509_V_ERR_UNSPECIFIED,
    }
}

/// The trust material could not be turned into a verifier.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("'{source_name}': certificate #{index} cannot be a trust anchor: {detail}")]
    BadAnchor {
        source_name: String,
        index: usize,
        detail: String,
    },
    #[error("CRL #{index} of '{source_name}' is not usable: {detail}")]
    BadCrl {
        source_name: String,
        index: usize,
        detail: String,
    },
    #[error("no CA certificate to verify client certificates with")]
    NoCa,
}

/// A CRL of the store, with what the emulation needs precomputed.
pub(crate) struct StoreCrl {
    der: Vec<u8>,
    issuer: NameKey,
    this_update: i64,
    next_update: Option<i64>,
    /// Serial numbers (DER INTEGER contents) of the revoked certificates.
    revoked: HashSet<Vec<u8>>,
    /// Public keys (DER SPKI) of store certificates that verify this CRL.
    verified_by: Vec<Vec<u8>>,
}

impl StoreCrl {
    fn signed_by(&self, spki: &SubjectPublicKeyInfo<'_>) -> bool {
        if self.verified_by.iter().any(|k| k.as_slice() == spki.raw) {
            return true;
        }
        CertificateRevocationList::from_der(&self.der)
            .is_ok_and(|(_, crl)| crl.verify_signature(spki).is_ok())
    }

    fn revokes(&self, serial: &[u8]) -> bool {
        self.revoked.contains(serial)
    }
}

/// The verify store of a policy: what OpenSSL's `X509_STORE` holds in HAProxy.
pub(crate) struct TrustStore {
    /// `ca-file` then `ca-verify-file` certificates, deduplicated.
    certs: Vec<CertificateDer<'static>>,
    by_subject: HashMap<NameKey, Vec<usize>>,
    /// Indexes (into `certs`) of the self-signed ones.
    anchors: HashSet<usize>,
    pub(crate) webpki_anchors: Vec<TrustAnchor<'static>>,
    /// The other store certificates, offered to webpki as intermediates.
    pub(crate) extras: Vec<CertificateDer<'static>>,
    crls: Vec<StoreCrl>,
    pub(crate) webpki_crls: Vec<webpki::CertRevocationList<'static>>,
}

impl TrustStore {
    fn certs_named<'s>(&'s self, subject: &NameKey) -> impl Iterator<Item = &'s [u8]> + 's {
        self.by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|i| self.certs.get(*i))
            .map(|c| c.as_ref())
    }

    fn is_anchor(&self, der: &[u8], subject: &NameKey) -> bool {
        self.by_subject.get(subject).is_some_and(|idx| {
            idx.iter().any(|i| {
                self.anchors.contains(i) && self.certs.get(*i).is_some_and(|c| c.as_ref() == der)
            })
        })
    }

    fn crls_from<'s>(&'s self, issuer: &'s NameKey) -> impl Iterator<Item = &'s StoreCrl> + 's {
        self.crls.iter().filter(move |c| &c.issuer == issuer)
    }

    pub(crate) fn new(trust: &Trust) -> Result<TrustStore, VerifierError> {
        let mut store = TrustStore {
            certs: Vec::new(),
            by_subject: HashMap::new(),
            anchors: HashSet::new(),
            webpki_anchors: Vec::new(),
            extras: Vec::new(),
            crls: Vec::new(),
            webpki_crls: Vec::new(),
        };
        let mut seen = HashSet::new();
        for bundle in [&trust.ca_file, &trust.ca_verify_file]
            .into_iter()
            .flatten()
        {
            for (index, (der, info)) in bundle.certs.iter().zip(&bundle.infos).enumerate() {
                if !seen.insert(der.as_ref().to_vec()) {
                    continue;
                }
                let i = store.certs.len();
                if info.self_issued && self_signature_ok(der.as_ref()) {
                    match webpki::anchor_from_trusted_cert(der) {
                        Ok(anchor) => {
                            store.webpki_anchors.push(anchor.to_owned());
                            store.anchors.insert(i);
                        }
                        // One odd platform root must not take the bind down;
                        // a file the user named must be usable as a whole.
                        Err(e) if bundle.source == "@system-ca" => {
                            tracing::debug!(index, error = ?e, "@system-ca root skipped: not usable as a trust anchor");
                            continue;
                        }
                        Err(e) => {
                            return Err(VerifierError::BadAnchor {
                                source_name: bundle.source.clone(),
                                index: index + 1,
                                detail: format!("{e:?}"),
                            });
                        }
                    }
                } else {
                    store.extras.push(der.clone());
                }
                store
                    .by_subject
                    .entry(info.subject_key.clone())
                    .or_default()
                    .push(i);
                store.certs.push(der.clone());
            }
        }
        if store.certs.is_empty() {
            return Err(VerifierError::NoCa);
        }
        // CRLs count only with `crl-file` (HAProxy sets the CRL_CHECK flags
        // only then); CRLs inside the CA files join them.
        if let Some(crl_file) = &trust.crl {
            let sources = [
                Some((crl_file.path.display().to_string(), &crl_file.crls)),
                trust.ca_file.as_ref().map(|b| (b.source.clone(), &b.crls)),
                trust
                    .ca_verify_file
                    .as_ref()
                    .map(|b| (b.source.clone(), &b.crls)),
            ];
            let mut seen = HashSet::new();
            for (source_name, crls) in sources.into_iter().flatten() {
                for (index, der) in crls.iter().enumerate() {
                    if !seen.insert(der.as_ref().to_vec()) {
                        continue;
                    }
                    let bad = |detail: String| VerifierError::BadCrl {
                        source_name: source_name.clone(),
                        index: index + 1,
                        detail,
                    };
                    let owned = webpki::OwnedCertRevocationList::from_der(der.as_ref())
                        .map_err(|e| bad(format!("{e:?}")))?;
                    store.webpki_crls.push(owned.into());
                    let crl = store.load_crl(der.as_ref()).map_err(bad)?;
                    store.crls.push(crl);
                }
            }
        }
        Ok(store)
    }

    fn load_crl(&self, der: &[u8]) -> Result<StoreCrl, String> {
        let (_, crl) = CertificateRevocationList::from_der(der).map_err(|e| e.to_string())?;
        let issuer = NameKey::of(crl.issuer());
        let verified_by = self
            .certs_named(&issuer)
            .filter_map(|c| X509Certificate::from_der(c).ok())
            .filter(|(_, c)| crl.verify_signature(c.public_key()).is_ok())
            .map(|(_, c)| c.public_key().raw.to_vec())
            .collect();
        Ok(StoreCrl {
            der: der.to_vec(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| r.raw_serial().to_vec())
                .collect(),
            issuer,
            verified_by,
        })
    }
}

/// A self-issued certificate's signature checks out with its own key; an
/// algorithm the parser cannot check counts as good (configured trust
/// material, as in `check`'s analysis).
fn self_signature_ok(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, c)| self_signed_by_own_key(&c))
}

fn self_signed_by_own_key(c: &X509Certificate<'_>) -> bool {
    matches!(
        c.verify_signature(None),
        Ok(()) | Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm)
    )
}

/// The verifier of one `verify optional|required` policy.
pub struct ClientVerifier {
    mandatory: bool,
    store: TrustStore,
    hints: Vec<DistinguishedName>,
    ignore: IgnoreErrors,
    max_depth: u32,
    crl_check: bool,
    algs: WebPkiSupportedAlgorithms,
    /// The bind's `curves`: in TLS 1.2, OpenSSL refuses a client
    /// certificate whose ECDSA key is on a curve outside them ("wrong
    /// curve", alert illegal_parameter). `None`: OpenSSL's defaults, which
    /// hold every curve a certificate can use here.
    tls12_curves: Option<Vec<String>>,
}

impl fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientVerifier")
            .field("mandatory", &self.mandatory)
            .field("store_certs", &self.store.certs.len())
            .field("crls", &self.store.crls.len())
            .field("hints", &self.hints.len())
            .field("ignore", &self.ignore)
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

/// OpenSSL's default verify depth (HAProxy 2.6 never changes it).
pub const DEFAULT_VERIFY_DEPTH: u32 = 100;

impl ClientVerifier {
    /// Builds the verifier of a policy: `mandatory` for `verify required`,
    /// `max_depth` from `verify-depth` (at most that many intermediates).
    pub fn new(
        trust: &Trust,
        mandatory: bool,
        no_ca_names: bool,
        max_depth: Option<u32>,
        ignore: &IgnoreErrors,
    ) -> Result<ClientVerifier, VerifierError> {
        let store = TrustStore::new(trust)?;
        let mut hints = Vec::new();
        if !no_ca_names && let Some(ca_file) = &trust.ca_file {
            let mut seen = HashSet::new();
            for der in &ca_file.certs {
                if let Ok((_, c)) = X509Certificate::from_der(der.as_ref()) {
                    let raw = c.subject().as_raw().to_vec();
                    if seen.insert(raw.clone()) {
                        hints.push(DistinguishedName::from(raw));
                    }
                }
            }
        }
        Ok(ClientVerifier {
            mandatory,
            store,
            hints,
            ignore: ignore.clone(),
            max_depth: max_depth.unwrap_or(DEFAULT_VERIFY_DEPTH),
            crl_check: trust.crl.is_some(),
            algs: provider().signature_verification_algorithms,
            tls12_curves: None,
        })
    }

    /// Applies the bind's `curves` to TLS 1.2 client certificates.
    pub fn with_tls12_curves(mut self, curves: Option<Vec<String>>) -> ClientVerifier {
        self.tls12_curves = curves;
        self
    }

    /// Whether a TLS 1.2 client certificate's key passes the bind's curves.
    fn curve_allowed(&self, cert: &CertificateDer<'_>) -> bool {
        let Some(allowed) = &self.tls12_curves else {
            return true;
        };
        let Ok((_, c)) = X509Certificate::from_der(cert.as_ref()) else {
            return true;
        };
        let spki = c.public_key();
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.10045.2.1" {
            return true; // not an EC key
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        let name = match curve.as_deref() {
            Some("1.2.840.10045.3.1.7") => "P-256",
            Some("1.3.132.0.34") => "P-384",
            Some("1.3.132.0.35") => "P-521",
            _ => return false,
        };
        allowed.iter().any(|a| a == name)
    }

    /// Verifies a client chain (leaf first) at `now` with HAProxy's
    /// semantics. Used by the handshake and, after a resumption, on the
    /// restored chain.
    pub fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> VerifyOutcome {
        let mut outcome = VerifyOutcome::default();
        let params = chain::Params {
            store: &self.store,
            max_depth: self.max_depth,
            crl_check: self.crl_check,
            now: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        };
        let sent: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
        let ignore = &self.ignore;
        let emulated = chain::emulate(&params, end_entity.as_ref(), &sent, &mut |code, depth| {
            outcome.report(ignore, code, depth)
        });
        match emulated {
            Err(chain::Stop) => return outcome,
            Ok(false) => {
                outcome.rejected = Some(Rejection::Undecodable);
                return outcome;
            }
            Ok(true) => {}
        }
        if outcome.result == 0
            && let Err(e) = self.webpki_verify(end_entity, intermediates, now)
        {
            tracing::debug!(error = ?e, "webpki refused a client chain the OpenSSL emulation accepted");
            // The outcome records the rejection when the lists don't cover it.
            let _ = outcome.report(ignore, webpki_code(&e), 0);
        }
        outcome
    }

    fn webpki_verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), webpki::Error> {
        let ee = webpki::EndEntityCert::try_from(end_entity)?;
        let pool: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_ref()))
            .chain(
                self.store
                    .extras
                    .iter()
                    .map(|c| CertificateDer::from(c.as_ref())),
            )
            .collect();
        let crls: Vec<&webpki::CertRevocationList<'_>> = self.store.webpki_crls.iter().collect();
        let revocation = if self.crl_check {
            webpki::RevocationOptionsBuilder::new(&crls).ok().map(|b| {
                b.with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                    .build()
            })
        } else {
            None
        };
        if self.crl_check && revocation.is_none() {
            return Err(webpki::Error::UnknownRevocationStatus);
        }
        let limit = usize::try_from(self.max_depth).unwrap_or(usize::MAX);
        let depth = |path: &webpki::VerifiedPath<'_>| {
            if path.intermediate_certificates().count() > limit {
                Err(webpki::Error::MaximumPathDepthExceeded)
            } else {
                Ok(())
            }
        };
        ee.verify_for_usage(
            self.algs.all,
            &self.store.webpki_anchors,
            &pool,
            now,
            webpki::KeyUsage::client_auth(),
            revocation,
            Some(&depth),
        )
        .map(|_| ())
    }
}

tokio::task_local! {
    /// The outcome of the last verification made while polling the
    /// handshake future of this task (see [`capture`]).
    static LAST_OUTCOME: RefCell<Option<VerifyOutcome>>;
}

/// Runs `fut` (a handshake) and returns what the verifier decided during it,
/// if it was called.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Option<VerifyOutcome>) {
    LAST_OUTCOME
        .scope(RefCell::new(None), async {
            let out = fut.await;
            let outcome = LAST_OUTCOME.with(|slot| slot.borrow_mut().take());
            (out, outcome)
        })
        .await
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let outcome = self.check(end_entity, intermediates, now);
        let rejected = outcome.rejected;
        // Outside a `capture` scope there is no one to tell: nothing to do.
        let _ = LAST_OUTCOME.try_with(|slot| *slot.borrow_mut() = Some(outcome));
        match rejected {
            None => Ok(ClientCertVerified::assertion()),
            Some(r) => Err(alert_error(r)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if !self.curve_allowed(cert) {
            // Mapped to OpenSSL's "wrong curve" by tls::errors.
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::WrongGroupForKeyShare,
            ));
        }
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
