//! Client-side TLS to backend servers (`server … ssl`): the rustls
//! `ClientConfig`s of one server, with HAProxy 2.6's semantics
//! (haproxy-spec.md §3.1).
//!
//! Sits in the pipeline's *build* step: [`ServerTlsConfigs::build`] runs once
//! per server per configuration generation, so `check` and reload surface
//! every error, never a connection. The connection side is
//! `runtime::upstream_tls`.
//!
//! What differs from rustls' stock `WebPkiServerVerifier`, and why:
//! - the name check is conditional, as in HAProxy's `ssl_sock_srv_verifycbk`:
//!   the certificate's names are matched against the SNI actually sent; when
//!   no SNI is sent, against `verifyhost`; when neither exists, **not at
//!   all** (chain only). Hence two configs per server: one used when an SNI
//!   is sent, one when none is.
//! - names are HAProxy's: every DNS subjectAltName *and* every subject CN,
//!   matched by `ssl_sock_srv_hostcheck` (case-insensitive, one `*` in the
//!   leftmost label).
//! - trust is OpenSSL's verify store: the self-signed certificates of
//!   `ca-file` are the anchors, its other certificates complete chains the
//!   server sent incompletely (no partial chains: an intermediate alone
//!   anchors nothing); CRLs count only with `crl-file`, then for every level.
//! - `verify none` checks nothing about the certificate, but the handshake
//!   signatures are still verified (the peer must own the key it presented).

use crate::ir::{ServerTls, ServerVerify, Trust};
use crate::tls::provider::provider;
use crate::tls::server::{KxRole, TlsBuildError, narrowed_provider, versions};
use crate::tls::verifier::{TrustStore, VerifierError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, Tls12Resumption};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::SingleCertAndKey;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};
use std::fmt;
use std::sync::Arc;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// TLS sessions remembered per server for resumption (rustls' default).
const SESSION_CACHE: usize = 256;

/// Why a server's TLS could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    /// Versions, ciphers or curves rustls cannot honour.
    #[error(transparent)]
    Params(#[from] TlsBuildError),
    #[error("{at}: {source}")]
    Trust {
        at: String,
        #[source]
        source: VerifierError,
    },
    #[error("{at}: 'ca-file' holds no certificate to verify the server with")]
    NoCa { at: String },
    #[error("{at}: the TLS library refused the configuration: {source}")]
    Rustls {
        at: String,
        #[source]
        source: rustls::Error,
    },
}

/// The client configs of one `server … ssl`.
#[derive(Clone)]
pub struct ServerTlsConfigs {
    /// Used when an SNI is sent (the server has `sni`): the certificate's
    /// names are checked against that SNI.
    with_sni: Option<Arc<ClientConfig>>,
    /// Used when no SNI is sent: names checked against `verifyhost`, or not
    /// at all.
    without_sni: Arc<ClientConfig>,
    /// ALPN offers h2: requests may travel over HTTP/2.
    offers_h2: bool,
}

impl fmt::Debug for ServerTlsConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTlsConfigs")
            .field("sni", &self.with_sni.is_some())
            .field("offers_h2", &self.offers_h2)
            .finish()
    }
}

impl ServerTlsConfigs {
    /// Builds the configs of a server; `at` names it in messages
    /// (`backend 'b', server 's' (file:line)`).
    pub fn build(tls: &ServerTls, at: &str) -> Result<ServerTlsConfigs, ClientTlsError> {
        let chain = match &tls.verify {
            ServerVerify::None => None,
            ServerVerify::Required { ca, crl, .. } => {
                let trust = Trust {
                    ca_file: Some(ca.clone()),
                    ca_verify_file: None,
                    crl: crl.clone(),
                };
                let store = TrustStore::new(&trust).map_err(|source| match source {
                    VerifierError::NoCa => ClientTlsError::NoCa { at: at.to_string() },
                    source => ClientTlsError::Trust {
                        at: at.to_string(),
                        source,
                    },
                })?;
                Some(Arc::new(ChainTrust {
                    store,
                    crl_check: crl.is_some(),
                }))
            }
        };
        let verifyhost = match &tls.verify {
            ServerVerify::Required { verifyhost, .. } => verifyhost.clone(),
            ServerVerify::None => None,
        };
        let verifier = |names: NameCheck| {
            Arc::new(ServerCertCheck {
                chain: chain.clone(),
                names: if chain.is_some() {
                    names
                } else {
                    NameCheck::Skip
                },
                algs: provider().signature_verification_algorithms,
            })
        };
        let without_sni = config(
            tls,
            verifier(verifyhost.map_or(NameCheck::Skip, NameCheck::Fixed)),
            false,
            at,
        )?;
        let with_sni = match &tls.sni {
            Some(_) => Some(Arc::new(config(tls, verifier(NameCheck::Sni), true, at)?)),
            None => None,
        };
        let offers_h2 = tls.params.alpn.iter().flatten().any(|p| p == "h2");
        Ok(ServerTlsConfigs {
            with_sni,
            without_sni: Arc::new(without_sni),
            offers_h2,
        })
    }

    /// The config for a connection that sends `sni` (or none).
    pub fn config(&self, sends_sni: bool) -> &Arc<ClientConfig> {
        match (&self.with_sni, sends_sni) {
            (Some(c), true) => c,
            _ => &self.without_sni,
        }
    }

    /// Whether the server's `alpn` offers `h2`.
    pub fn offers_h2(&self) -> bool {
        self.offers_h2
    }
}

fn config(
    tls: &ServerTls,
    verifier: Arc<ServerCertCheck>,
    sends_sni: bool,
    at: &str,
) -> Result<ClientConfig, ClientTlsError> {
    let params = &tls.params;
    let versions = versions(params, at)?;
    let provider = narrowed_provider(params, &versions, at, KxRole::Client)?;
    let builder = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|source| ClientTlsError::Rustls {
            at: at.to_string(),
            source,
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.client_cert {
        // Presented whenever the server asks, whatever CA names it hints
        // (OpenSSL's SSL_CTX_use_certificate behaviour).
        Some(cert) => builder
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(cert.certified_key()))),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = params
        .alpn
        .iter()
        .flatten()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    config.enable_sni = sends_sni;
    config.resumption = if tls.session_reuse {
        let tls12 = if params.no_tls_tickets {
            Tls12Resumption::SessionIdOnly
        } else {
            Tls12Resumption::SessionIdOrTickets
        };
        Resumption::in_memory_sessions(SESSION_CACHE).tls12_resumption(tls12)
    } else {
        // `no-ssl-reuse`: every connection makes a full handshake.
        Resumption::disabled()
    };
    Ok(config)
}

/// The verify store of a `verify required` server.
struct ChainTrust {
    store: TrustStore,
    crl_check: bool,
}

impl ChainTrust {
    fn verify(
        &self,
        algs: &WebPkiSupportedAlgorithms,
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
        // X509_V_FLAG_CRL_CHECK|CRL_CHECK_ALL: every level needs a current CRL.
        let revocation = if self.crl_check {
            let built = webpki::RevocationOptionsBuilder::new(&crls)
                .map_err(|_| webpki::Error::UnknownRevocationStatus)?
                .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                .build();
            Some(built)
        } else {
            None
        };
        ee.verify_for_usage(
            algs.all,
            &self.store.webpki_anchors,
            &pool,
            now,
            webpki::KeyUsage::server_auth(),
            revocation,
            None,
        )
        .map(|_| ())
    }
}

/// Which name the server certificate must carry.
#[derive(Debug, Clone)]
enum NameCheck {
    /// The SNI sent on this connection.
    Sni,
    /// `verifyhost` (no SNI sent).
    Fixed(String),
    /// No SNI and no `verifyhost`, or `verify none`: names are ignored.
    Skip,
}

/// The server-certificate verifier of one server config.
struct ServerCertCheck {
    /// `None` for `verify none`.
    chain: Option<Arc<ChainTrust>>,
    names: NameCheck,
    algs: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for ServerCertCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertCheck")
            .field("verify", &self.chain.is_some())
            .field("names", &self.names)
            .finish()
    }
}

impl ServerCertVerifier for ServerCertCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        chain
            .verify(&self.algs, end_entity, intermediates, now)
            .map_err(pki_error)?;
        let expected = match &self.names {
            NameCheck::Skip => return Ok(ServerCertVerified::assertion()),
            NameCheck::Fixed(name) => name.clone(),
            NameCheck::Sni => server_name.to_str().into_owned(),
        };
        if cert_matches(end_entity.as_ref(), &expected) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(CertificateError::NotValidForName.into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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

/// webpki's verdict as the rustls error the handshake reports (and the
/// alert it sends).
fn pki_error(e: webpki::Error) -> rustls::Error {
    use webpki::Error as E;
    let cert = match e {
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertificateError::BadEncoding,
        E::CertExpired { .. } | E::InvalidCertValidity => CertificateError::Expired,
        E::CertNotValidYet { .. } => CertificateError::NotValidYet,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::CertRevoked => CertificateError::Revoked,
        E::UnknownRevocationStatus => CertificateError::UnknownRevocationStatus,
        E::CrlExpired { .. } => CertificateError::ExpiredRevocationList,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        E::RequiredEkuNotFoundContext(_) => CertificateError::InvalidPurpose,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    cert.into()
}

/// Does the certificate carry `host` in a DNS subjectAltName or a subject
/// CN (HAProxy checks both, SANs first)?
fn cert_matches(der: &[u8], host: &str) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let san_match = match cert.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().any(|n| match n {
            GeneralName::DNSName(pattern) => hostcheck(pattern, host),
            _ => false,
        }),
        _ => false,
    };
    san_match
        || cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|pattern| hostcheck(pattern, host))
}

/// HAProxy's `ssl_sock_srv_hostcheck` (RFC 6125 §6.4.3): equal ignoring
/// ASCII case, or a pattern whose leftmost label holds exactly one `*`
/// standing for the text of the host's leftmost label that the pattern's
/// prefix and suffix around the `*` leave (possibly none).
pub fn hostcheck(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.as_bytes(), host.as_bytes());
    if p.eq_ignore_ascii_case(h) {
        return true;
    }
    let Some(p_dot) = p.iter().position(|&b| b == b'.') else {
        return false;
    };
    let left = &p[..p_dot];
    let mut stars = left.iter().enumerate().filter(|(_, b)| **b == b'*');
    let (Some((star, _)), None) = (stars.next(), stars.next()) else {
        return false;
    };
    let Some(h_dot) = h.iter().position(|&b| b == b'.') else {
        return false;
    };
    if !p[p_dot..].eq_ignore_ascii_case(&h[h_dot..]) {
        return false;
    }
    // The `*` may stand for nothing, never for a negative length.
    if h_dot + 1 < p_dot {
        return false;
    }
    let prefix = &left[..star];
    let suffix = &left[star + 1..];
    let host_left = &h[..h_dot];
    host_left
        .get(..prefix.len())
        .is_some_and(|x| x.eq_ignore_ascii_case(prefix))
        && host_left
            .len()
            .checked_sub(suffix.len())
            .and_then(|i| host_left.get(i..))
            .is_some_and(|x| x.eq_ignore_ascii_case(suffix))
}

#[cfg(test)]
mod tests {
    use super::hostcheck;

    #[test]
    fn exact_names_match_ignoring_case() {
        assert!(hostcheck("Test.Example", "test.example"));
        assert!(!hostcheck("test.example", "other.example"));
        assert!(!hostcheck("localhost", "localhost2"));
    }

    #[test]
    fn wildcards_follow_haproxy() {
        assert!(hostcheck("*.wild.example", "a.wild.example"));
        assert!(hostcheck("*.wild.example", "A.WILD.example"));
        // Only one label.
        assert!(!hostcheck("*.wild.example", "a.b.wild.example"));
        assert!(!hostcheck("*.wild.example", "wild.example"));
        // Partial-label wildcards, and a `*` that stands for nothing.
        assert!(hostcheck("f*o.example", "foo.example"));
        assert!(hostcheck("f*o.example", "fo.example"));
        assert!(!hostcheck("f*o.example", "bar.example"));
        assert!(hostcheck("api-*.example", "api-1.example"));
        // Two wildcards, or one outside the leftmost label, never match.
        assert!(!hostcheck("*a*.example", "aaa.example"));
        assert!(!hostcheck("a.*.example", "a.b.example"));
        // No dot in the pattern: only the trivial case.
        assert!(!hostcheck("*", "x"));
    }

    #[test]
    fn non_ascii_and_short_names_compare_bytes() {
        assert!(hostcheck("*é.example", "xé.example"));
        assert!(!hostcheck("*é.example", "xe.example"));
        assert!(!hostcheck("*.example", "ü"));
        assert!(!hostcheck("x*.e", ".e"));
    }
}
