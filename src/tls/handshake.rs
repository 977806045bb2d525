//! Accepting one TLS connection on a bind: read the ClientHello, pick the
//! prebuilt config by SNI, complete the handshake, and describe the result as
//! the `ssl_fc_*` / `ssl_c_*` / `ssl_f_*` fetches see it ([`TlsFacts`]).
//!
//! Sits in the runtime between the listener's accept and HTTP. The caller
//! bounds the whole call with its handshake timeout.
//!
//! Where the result differs from HAProxy 2.6, and why:
//! - a resumed session's client chain (restored by rustls from the ticket or
//!   cache) is verified again under the same policy instead of reusing the
//!   stored verdict; if it no longer verifies (expired since), the connection
//!   is refused. Sessions never cross policies or generations
//!   ([`crate::tls::resumption`]), so this only ever sees its own policy.
//! - `ssl_c_chain_der` is also available on resumed sessions (HAProxy's
//!   fetch fails there).
//! - TLS 1.2 without a certificate under `verify required`: rustls answers
//!   with alert certificate_required (116) where OpenSSL sends
//!   handshake_failure (40); TLS 1.3 matches (116).

use crate::runtime::facts::{PeerCertFacts, SessionFacts, TlsFacts};
use crate::tls::errors;
use crate::tls::server::{BindTlsRuntime, PolicyId, Refusal, Slot, cipher_name};
use crate::tls::sni::ClientCaps;
use crate::tls::verifier::{self, Rejection, VerifyOutcome};
use rustls::pki_types::UnixTime;
use rustls::server::Acceptor;
use rustls::{CommonState, HandshakeKind, ProtocolVersion};
use std::io;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

/// A fatal `unrecognized_name` (112) alert in a plaintext TLS record: what
/// HAProxy sends under `strict-sni` (nothing is encrypted before ServerHello).
const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112];
/// A fatal `handshake_failure` (40) alert: OpenSSL's answer when no cipher
/// suite can be used ("no shared cipher").
const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40];

/// HAProxy's `fc_err` codes for handshake failures.
pub mod fc_err {
    /// "Connection closed during SSL handshake".
    pub const CLOSED: i64 = 24;
    /// "Connection error during SSL handshake".
    pub const ABORT: i64 = 25;
    /// "SSL client CA chain cannot be verified" (error at depth > 0).
    pub const CA_FAIL: i64 = 30;
    /// "SSL client certificate not trusted" (error at depth 0).
    pub const CRT_FAIL: i64 = 31;
    /// "SSL handshake failure".
    pub const HANDSHAKE: i64 = 34;
}

/// Why a TLS connection was not established.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The ClientHello never came or was not TLS.
    #[error("reading the ClientHello: {0}")]
    ClientHello(#[source] io::Error),
    /// `strict-sni` and no certificate for the name (or no SNI): alert
    /// unrecognized_name was sent.
    #[error("no certificate for SNI {sni:?} (strict-sni): alert unrecognized_name")]
    UnrecognizedName { sni: Option<String> },
    /// The handshake failed under the chosen policy; `verify` is set when the
    /// client certificate was verified (and holds the refused error).
    #[error("TLS handshake failed (SNI {sni:?}): {source}")]
    Tls {
        sni: Option<String>,
        policy: PolicyId,
        /// The client offered TLS 1.3 (for OpenSSL's error wording).
        client_tls13: bool,
        verify: Option<VerifyOutcome>,
        #[source]
        source: io::Error,
    },
    /// A resumed session's certificate does not verify any more (expired
    /// since): refused, where HAProxy would reuse the stored verdict.
    #[error("resumed session (SNI {sni:?}): the client certificate no longer verifies")]
    ResumedCertRejected {
        sni: Option<String>,
        policy: PolicyId,
        verify: VerifyOutcome,
    },
    /// None of the bind's cipher suites can be used with this client (only
    /// DHE suites were allowed and the certificate has no usable DH
    /// parameters): alert handshake_failure was sent.
    #[error("no shared cipher (SNI {sni:?}): alert handshake_failure")]
    NoSharedCipher { sni: Option<String> },
    /// The client certificate was accepted but cannot be rendered for the
    /// `ssl_c_*` fetches (only possible under `verify none`, which requests none).
    #[error("the client certificate cannot be parsed")]
    PeerCertUnparsable,
}

impl HandshakeError {
    /// HAProxy's `fc_err` for this failure (`error-log-format`).
    pub fn fc_err(&self) -> i64 {
        let by_depth = |v: &VerifyOutcome| match v.rejected {
            Some(Rejection::X509 { depth, .. }) if depth > 0 => fc_err::CA_FAIL,
            Some(_) => fc_err::CRT_FAIL,
            None => fc_err::HANDSHAKE,
        };
        match self {
            HandshakeError::ClientHello(e) => match e.kind() {
                io::ErrorKind::UnexpectedEof => fc_err::CLOSED,
                io::ErrorKind::InvalidData => fc_err::HANDSHAKE,
                _ => fc_err::ABORT,
            },
            HandshakeError::Tls {
                verify: Some(v), ..
            } if v.rejected.is_some() => by_depth(v),
            HandshakeError::Tls { source, .. } => match (self.rustls_error(), source.kind()) {
                (Some(_), _) => fc_err::HANDSHAKE,
                (None, io::ErrorKind::UnexpectedEof) => fc_err::CLOSED,
                (None, _) => fc_err::ABORT,
            },
            HandshakeError::ResumedCertRejected { verify, .. } => by_depth(verify),
            HandshakeError::UnrecognizedName { .. }
            | HandshakeError::NoSharedCipher { .. }
            | HandshakeError::PeerCertUnparsable => fc_err::HANDSHAKE,
        }
    }

    /// The OpenSSL error HAProxy would record (`ssl_fc_err`,
    /// `ssl_fc_err_str`), when portcullis knows its equivalent.
    pub fn ssl_error(&self) -> Option<errors::SslError> {
        match self {
            HandshakeError::UnrecognizedName { .. } => Some(errors::CALLBACK_FAILED),
            HandshakeError::NoSharedCipher { .. } => Some(errors::NO_SHARED_CIPHER),
            HandshakeError::ResumedCertRejected { .. } => Some(errors::CERTIFICATE_VERIFY_FAILED),
            HandshakeError::Tls {
                verify: Some(v), ..
            } if v.rejected.is_some() => Some(errors::CERTIFICATE_VERIFY_FAILED),
            HandshakeError::Tls { client_tls13, .. } => {
                errors::from_rustls(self.rustls_error()?, *client_tls13)
            }
            HandshakeError::ClientHello(_) => errors::from_rustls(self.rustls_error()?, false),
            HandshakeError::PeerCertUnparsable => None,
        }
    }

    /// The SNI the client sent, when the ClientHello was read.
    pub fn sni(&self) -> Option<&str> {
        match self {
            HandshakeError::UnrecognizedName { sni }
            | HandshakeError::NoSharedCipher { sni }
            | HandshakeError::Tls { sni, .. }
            | HandshakeError::ResumedCertRejected { sni, .. } => sni.as_deref(),
            HandshakeError::ClientHello(_) | HandshakeError::PeerCertUnparsable => None,
        }
    }

    /// The TLS facts of the failed connection, as the error log's fetches
    /// see them (`ssl_fc` true, `ssl_fc_err*`, `ssl_fc_sni`, `ssl_c_*`).
    pub fn facts(&self) -> TlsFacts {
        let err = self.ssl_error();
        let mut facts = TlsFacts {
            sni: self.sni().map(str::to_owned),
            error_code: err.map_or(0, |e| i64::from(e.code)),
            error_reason: err.map(|e| e.reason),
            ..TlsFacts::default()
        };
        if let Some(v) = self.verify() {
            facts.verify_result = i64::from(v.result);
            facts.crt_err = i64::from(v.crt_err);
            facts.ca_err = i64::from(v.ca_err);
            facts.ca_err_depth = i64::from(v.ca_err_depth);
        }
        facts
    }

    /// The TLS-level error, when rustls produced one.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        let source = match self {
            HandshakeError::ClientHello(e) | HandshakeError::Tls { source: e, .. } => e,
            _ => return None,
        };
        source.get_ref()?.downcast_ref::<rustls::Error>()
    }

    /// The client-certificate verification of the failed handshake, if any.
    pub fn verify(&self) -> Option<&VerifyOutcome> {
        match self {
            HandshakeError::Tls { verify, .. } => verify.as_ref(),
            HandshakeError::ResumedCertRejected { verify, .. } => Some(verify),
            _ => None,
        }
    }
}

/// Accepts one TLS connection on a bind: SNI selection with HAProxy's rules
/// (`strict-sni` refusals answered with `unrecognized_name`), the handshake
/// under the selected (certificate, policy) config, then the facts of the
/// session and the policy that was negotiated (for the SNI/Host check).
pub async fn accept<S>(
    tcp: S,
    bind: &BindTlsRuntime,
) -> Result<(TlsStream<S>, TlsFacts, PolicyId), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = LazyConfigAcceptor::new(Acceptor::default(), tcp)
        .await
        .map_err(HandshakeError::ClientHello)?;
    let (sni, caps, caps_tls13) = {
        let hello = start.client_hello();
        (
            hello.server_name().map(str::to_owned),
            ClientCaps::from_hello(&hello),
            hello
                .cipher_suites()
                .iter()
                .any(|s| u16::from(*s) >> 8 == 0x13),
        )
    };
    let Some(slot) = bind.select(sni.as_deref(), caps) else {
        let mut io = start.io;
        // Best effort: the client may already be gone.
        let _ = io.write_all(&UNRECOGNIZED_NAME_ALERT).await;
        let _ = io.shutdown().await;
        return Err(HandshakeError::UnrecognizedName { sni });
    };
    let refused = match slot.refusal {
        Refusal::Never => false,
        Refusal::Always => true,
        // TLS 1.3 suites are 0x13xx: a client offering none cannot speak it.
        Refusal::Tls12 => !caps_tls13,
    };
    if refused {
        let mut io = start.io;
        // Best effort: the client may already be gone.
        let _ = io.write_all(&HANDSHAKE_FAILURE_ALERT).await;
        let _ = io.shutdown().await;
        return Err(HandshakeError::NoSharedCipher { sni });
    }
    let (result, outcome) = verifier::capture(start.into_stream(slot.config.clone())).await;
    let stream = match result {
        Ok(stream) => stream,
        Err(source) => {
            return Err(HandshakeError::Tls {
                sni,
                policy: slot.policy,
                client_tls13: caps_tls13,
                verify: outcome,
                source,
            });
        }
    };
    let facts = facts(&stream, &slot, sni, outcome)?;
    Ok((stream, facts, slot.policy))
}

/// What a finished handshake negotiated, on either side of the proxy
/// (`ssl_fc_*` for clients, `ssl_bc_*` for servers), in HAProxy's names.
pub fn session_facts(conn: &CommonState) -> SessionFacts {
    SessionFacts {
        protocol: match conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "",
        },
        cipher: conn
            .negotiated_cipher_suite()
            .map_or("", |s| cipher_name(s.suite())),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
    }
}

fn facts<S>(
    stream: &TlsStream<S>,
    slot: &Slot,
    sni: Option<String>,
    outcome: Option<VerifyOutcome>,
) -> Result<TlsFacts, HandshakeError> {
    let conn = stream.get_ref().1;
    let session = session_facts(conn);
    let resumed = session.resumed;
    let mut facts = TlsFacts {
        session,
        frontend_cert: Some(slot.frontend.clone()),
        ..TlsFacts::default()
    };
    if let Some([leaf, rest @ ..]) = conn.peer_certificates() {
        let outcome = match (outcome, &slot.verifier) {
            (Some(o), _) if !resumed => o,
            // Resumed: rustls restored the chain without verifying; verify it
            // again now, deterministically, under the same policy.
            (_, Some(v)) => {
                let o = v.check(leaf, rest, UnixTime::now());
                if o.rejected.is_some() {
                    return Err(HandshakeError::ResumedCertRejected {
                        sni,
                        policy: slot.policy,
                        verify: o,
                    });
                }
                o
            }
            (_, None) => VerifyOutcome::default(),
        };
        facts.client = Some(
            PeerCertFacts::from_ders(leaf.as_ref(), rest.iter().map(|c| c.as_ref()))
                .ok_or(HandshakeError::PeerCertUnparsable)?,
        );
        facts.cert_presented_this_handshake = !resumed;
        facts.verify_result = i64::from(outcome.result);
        facts.crt_err = i64::from(outcome.crt_err);
        facts.ca_err = i64::from(outcome.ca_err);
        facts.ca_err_depth = i64::from(outcome.ca_err_depth);
    }
    facts.sni = sni;
    Ok(facts)
}
