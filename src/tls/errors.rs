//! The words HAProxy uses for failed connections: `fc_err` codes with their
//! `fc_err_str` messages, and the OpenSSL errors behind `ssl_fc_err` /
//! `ssl_fc_err_str` for the handshake failures portcullis can produce.
//!
//! Sits at the end of the runtime's TLS accept: [`crate::tls::handshake`]
//! classifies a failure, the error log renders it. The OpenSSL codes are
//! OpenSSL 3's packed `ERR_PACK(ERR_LIB_SSL, 0, reason)` values and the
//! strings are what `ERR_error_string_n` prints, checked against HAProxy 2.6
//! on OpenSSL 3.0; a failure with no OpenSSL equivalent here has
//! `ssl_fc_err` 0 and no `ssl_fc_err_str`.

use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible};

/// HAProxy's `conn_err_code_str()` messages, by `fc_err` code.
const FC_ERR: [&str; 44] = [
    "Success",
    "Reached configured maxconn value",
    "Too many sockets on the process",
    "Too many sockets on the system",
    "Out of system buffers",
    "Protocol or address family not supported",
    "General socket error",
    "Source port range exhausted",
    "Can't bind to source address",
    "Out of local source ports on the system",
    "Local source address already in use",
    "Connection closed while waiting for PROXY protocol header",
    "Connection error while waiting for PROXY protocol header",
    "Timeout while waiting for PROXY protocol header",
    "Truncated PROXY protocol header received",
    "Received something which does not look like a PROXY protocol header",
    "Received an invalid PROXY protocol header",
    "Received an unhandled protocol in the PROXY protocol header",
    "Connection closed while waiting for NetScaler Client IP header",
    "Connection error while waiting for NetScaler Client IP header",
    "Timeout while waiting for a NetScaler Client IP header",
    "Truncated NetScaler Client IP header received",
    "Received an invalid NetScaler Client IP magic number",
    "Received an unhandled protocol in the NetScaler Client IP header",
    "Connection closed during SSL handshake",
    "Connection error during SSL handshake",
    "Timeout during SSL handshake",
    "Too many SSL connections",
    "Out of memory when initializing an SSL connection",
    "Rejected a client-initiated SSL renegotiation attempt",
    "SSL client CA chain cannot be verified",
    "SSL client certificate not trusted",
    "Server presented an SSL certificate different from the configured one",
    "Server presented an SSL certificate different from the expected one",
    "SSL handshake failure",
    "SSL handshake failure after heartbeat",
    "Stopped a TLSv1 heartbeat attack (CVE-2014-0160)",
    "Attempt to use SSL on an unknown target (internal error)",
    "Server refused early data",
    "SOCKS4 Proxy write error during handshake",
    "SOCKS4 Proxy read error during handshake",
    "SOCKS4 Proxy deny the request",
    "SOCKS4 Proxy handshake aborted by server",
    "SSL fatal error",
];

/// `fc_err_str` of an `fc_err` code.
pub fn fc_err_str(code: i64) -> Option<&'static str> {
    FC_ERR.get(usize::try_from(code).ok()?).copied()
}

/// One OpenSSL error: packed code (`ssl_fc_err`) and reason text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SslError {
    pub code: u32,
    pub reason: &'static str,
}

const fn ssl(reason: u32, text: &'static str) -> SslError {
    // ERR_LIB_SSL (20) << 23 | reason
    SslError {
        code: (20 << 23) | reason,
        reason: text,
    }
}

/// "no shared cipher" (SSL_R_NO_SHARED_CIPHER).
pub const NO_SHARED_CIPHER: SslError = ssl(193, "no shared cipher");
/// "no suitable key share" (TLS 1.3, no common group).
pub const NO_SUITABLE_KEY_SHARE: SslError = ssl(101, "no suitable key share");
/// "certificate verify failed" (a refused client certificate).
pub const CERTIFICATE_VERIFY_FAILED: SslError = ssl(134, "certificate verify failed");
/// "peer did not return a certificate" (`verify required`, none sent).
pub const NO_CERTIFICATE: SslError = ssl(199, "peer did not return a certificate");
/// "unsupported protocol" (no TLS version in common).
pub const UNSUPPORTED_PROTOCOL: SslError = ssl(258, "unsupported protocol");
/// "callback failed": HAProxy's SNI callback refusing (`strict-sni`).
pub const CALLBACK_FAILED: SslError = ssl(234, "callback failed");
/// "wrong curve": a TLS 1.2 client certificate on a curve outside `curves`.
pub const WRONG_CURVE: SslError = ssl(378, "wrong curve");
/// "wrong version number": bytes that are no TLS record.
pub const WRONG_VERSION_NUMBER: SslError = ssl(267, "wrong version number");

/// What OpenSSL's `ERR_error_string_n` prints for an SSL error.
pub fn openssl_error_string(code: u32, reason: &str) -> String {
    format!("error:{code:08X}:SSL routines::{reason}")
}

/// The OpenSSL error of a rustls handshake error, when there is one.
/// `client_tls13`: the client offered TLS 1.3 (OpenSSL reports a missing
/// common group as "no suitable key share" there, "no shared cipher" in
/// TLS 1.2, where it leaves the ECDHE suites out).
pub fn from_rustls(e: &Error, client_tls13: bool) -> Option<SslError> {
    Some(match e {
        Error::AlertReceived(alert) => return received_alert(*alert),
        Error::PeerIncompatible(p) => match p {
            PeerIncompatible::NoCipherSuitesInCommon => NO_SHARED_CIPHER,
            PeerIncompatible::NoKxGroupsInCommon if client_tls13 => NO_SUITABLE_KEY_SHARE,
            PeerIncompatible::NoKxGroupsInCommon => NO_SHARED_CIPHER,
            PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::Tls13RequiredForQuic => UNSUPPORTED_PROTOCOL,
            _ => return None,
        },
        Error::NoCertificatesPresented => NO_CERTIFICATE,
        // Only the client verifier raises it in TLS 1.2 (see verifier.rs).
        Error::PeerMisbehaved(rustls::PeerMisbehaved::WrongGroupForKeyShare) => WRONG_CURVE,
        Error::InvalidCertificate(_) => CERTIFICATE_VERIFY_FAILED,
        Error::InvalidMessage(InvalidMessage::InvalidContentType)
        | Error::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => WRONG_VERSION_NUMBER,
        _ => return None,
    })
}

/// OpenSSL's error for an alert received from the peer
/// (`SSL_AD_REASON_OFFSET` + the alert number).
fn received_alert(alert: AlertDescription) -> Option<SslError> {
    let text = match alert {
        AlertDescription::UnexpectedMessage => "sslv3 alert unexpected message",
        AlertDescription::BadRecordMac => "sslv3 alert bad record mac",
        AlertDescription::HandshakeFailure => "sslv3 alert handshake failure",
        AlertDescription::BadCertificate => "sslv3 alert bad certificate",
        AlertDescription::UnsupportedCertificate => "sslv3 alert unsupported certificate",
        AlertDescription::CertificateRevoked => "sslv3 alert certificate revoked",
        AlertDescription::CertificateExpired => "sslv3 alert certificate expired",
        AlertDescription::CertificateUnknown => "sslv3 alert certificate unknown",
        AlertDescription::IllegalParameter => "sslv3 alert illegal parameter",
        AlertDescription::UnknownCA => "tlsv1 alert unknown ca",
        AlertDescription::AccessDenied => "tlsv1 alert access denied",
        AlertDescription::DecodeError => "tlsv1 alert decode error",
        AlertDescription::DecryptError => "tlsv1 alert decrypt error",
        AlertDescription::ProtocolVersion => "tlsv1 alert protocol version",
        AlertDescription::InsufficientSecurity => "tlsv1 alert insufficient security",
        AlertDescription::InternalError => "tlsv1 alert internal error",
        AlertDescription::UnrecognisedName => "tlsv1 unrecognized name",
        AlertDescription::CertificateRequired => "tlsv13 alert certificate required",
        AlertDescription::NoApplicationProtocol => "tlsv1 alert no application protocol",
        _ => return None,
    };
    Some(ssl(1000 + u32::from(u8::from(alert)), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_strings_are_openssl_3s() {
        // Values seen in HAProxy 2.6 logs (ssl_fc_err, ssl_fc_err_str).
        assert_eq!(NO_SHARED_CIPHER.code, 167_772_353);
        assert_eq!(
            openssl_error_string(NO_SHARED_CIPHER.code, NO_SHARED_CIPHER.reason),
            "error:0A0000C1:SSL routines::no shared cipher"
        );
        assert_eq!(NO_SUITABLE_KEY_SHARE.code, 167_772_261);
        assert_eq!(CALLBACK_FAILED.code, 167_772_394);
        assert_eq!(NO_CERTIFICATE.code, 167_772_359);
        assert_eq!(UNSUPPORTED_PROTOCOL.code, 167_772_418);
        assert_eq!(WRONG_VERSION_NUMBER.code, 167_772_427);
        assert_eq!(WRONG_CURVE.code, 167_772_538);
        assert_eq!(
            openssl_error_string(CERTIFICATE_VERIFY_FAILED.code, "certificate verify failed"),
            "error:0A000086:SSL routines::certificate verify failed"
        );
        assert_eq!(
            received_alert(AlertDescription::UnknownCA).map(|e| e.code),
            Some(0x0A00_0418)
        );
        assert_eq!(fc_err_str(0), Some("Success"));
        assert_eq!(fc_err_str(34), Some("SSL handshake failure"));
        assert_eq!(fc_err_str(43), Some("SSL fatal error"));
        assert_eq!(fc_err_str(44), None);
        assert_eq!(fc_err_str(-1), None);
    }

    #[test]
    fn rustls_errors_map_like_openssl() {
        let nk = Error::PeerIncompatible(PeerIncompatible::NoKxGroupsInCommon);
        assert_eq!(from_rustls(&nk, true), Some(NO_SUITABLE_KEY_SHARE));
        assert_eq!(from_rustls(&nk, false), Some(NO_SHARED_CIPHER));
        assert_eq!(
            from_rustls(&Error::NoCertificatesPresented, true),
            Some(NO_CERTIFICATE)
        );
        assert_eq!(from_rustls(&Error::DecryptError, true), None);
    }
}
