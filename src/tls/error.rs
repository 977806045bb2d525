//! Errors of TLS material loading.
//!
//! One enum for everything that can go wrong reading a `crt`, `ca-file` or
//! `crl-file`. Messages reuse HAProxy 2.6's wording where it has one (so people
//! searching for an HAProxy error find the same text); [`TlsError::help`] gives
//! the concrete fix. The lowering turns these into diagnostics at the keyword.
//! Errors are `Clone` so the [`crate::tls::Loader`] can memoise failures too.

use std::path::{Path, PathBuf};

/// Why a certificate, key, CA bundle or CRL file could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The `crt` path does not exist or cannot be reached.
    #[error("unable to stat SSL certificate from file '{}' : {reason}", path.display())]
    CertMissing { path: PathBuf, reason: String },
    /// The `crt` file exists but cannot be read.
    #[error("unable to read SSL certificate from file '{}' : {reason}", path.display())]
    CertUnreadable { path: PathBuf, reason: String },
    /// A PEM block of the `crt` file is malformed.
    #[error("unable to load certificate from file '{}' : invalid PEM ({detail})", path.display())]
    CertBadPem { path: PathBuf, detail: String },
    /// The `crt` file holds no `CERTIFICATE` block.
    #[error("unable to load certificate from file '{}'", path.display())]
    NoCertificate { path: PathBuf },
    /// A certificate (1-based `index` in its file) is not valid X.509.
    #[error("unable to parse certificate #{index} in '{}' : {detail}", path.display())]
    BadCertificate {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    /// Neither the `crt` file nor `<crt>.key` holds a private key.
    #[error("No Private Key found in '{}'", key_path.display())]
    NoPrivateKey { key_path: PathBuf },
    /// Only a passphrase-protected key was found.
    #[error("encrypted private key in '{}' is not supported", key_path.display())]
    EncryptedKey { key_path: PathBuf },
    /// `<crt>.key` exists but cannot be read.
    #[error("unable to read private key from file '{}' : {reason}", key_path.display())]
    KeyUnreadable { key_path: PathBuf, reason: String },
    /// A PEM block of the key file is malformed.
    #[error("unable to load private key from file '{}' : invalid PEM ({detail})", key_path.display())]
    KeyBadPem { key_path: PathBuf, detail: String },
    /// The private key does not belong to the leaf certificate.
    #[error("inconsistencies between private key and certificate loaded '{}'", path.display())]
    KeyMismatch { path: PathBuf, key_path: PathBuf },
    /// The key is valid but the crypto provider cannot sign with it.
    #[error("unsupported private key type {algorithm} in '{}' : {detail}", key_path.display())]
    UnsupportedKey {
        path: PathBuf,
        key_path: PathBuf,
        algorithm: String,
        detail: String,
    },
    /// A `ca-file` path cannot be opened or read.
    #[error("Couldn't open the ca-file '{}' ({reason})", path.display())]
    CaOpen { path: PathBuf, reason: String },
    /// A PEM block of a `ca-file` is malformed.
    #[error("Couldn't open the ca-file '{}' (invalid PEM: {detail})", path.display())]
    CaBadPem { path: PathBuf, detail: String },
    /// A `ca-file` holds neither a certificate nor a CRL.
    #[error("Couldn't open the ca-file '{}' (no certificate or crl found)", path.display())]
    CaEmpty { path: PathBuf },
    /// A `crl-file` path cannot be opened or read.
    #[error("Couldn't open the crl-file '{}' ({reason})", path.display())]
    CrlOpen { path: PathBuf, reason: String },
    /// A `crl-file` is neither valid PEM nor a DER CRL.
    #[error("Couldn't open the crl-file '{}' (invalid PEM: {detail})", path.display())]
    CrlBadPem { path: PathBuf, detail: String },
    /// A `crl-file` holds nothing usable.
    #[error("Couldn't open the crl-file '{}' (no crl found)", path.display())]
    CrlEmpty { path: PathBuf },
    /// A `crl-file` holds certificates but no CRL (HAProxy accepts this and
    /// then checks nothing; portcullis refuses it).
    #[error("crl-file '{}' holds {count} certificate(s) but no CRL", path.display())]
    CrlOnlyCertificates { path: PathBuf, count: usize },
    /// A CRL (1-based `index` in its file) cannot be parsed or used.
    #[error("unable to parse CRL #{index} in '{}' : {detail}", path.display())]
    BadCrl {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    /// `@system-ca` reported errors while reading the platform store.
    #[error("unable to load the system CA store (@system-ca): {}", errors.join("; "))]
    SystemCa { errors: Vec<String> },
    /// `@system-ca` loaded without error but found no certificate.
    #[error("no certificate found in the system CA store (@system-ca, {origin})")]
    SystemCaEmpty { origin: String },
    /// A directory given as `crt`, `ca-file` or `crl-file` cannot be listed.
    #[error("unable to scan directory '{}' : {reason}", path.display())]
    DirUnreadable { path: PathBuf, reason: String },
}

impl TlsError {
    /// A concrete way to fix the problem, for the diagnostic's `help:` line.
    pub fn help(&self) -> Option<String> {
        let h = match self {
            TlsError::CertMissing { .. } => {
                "check the path; relative paths are resolved against 'crt-base' (global section)".to_string()
            }
            TlsError::CertUnreadable { path, .. } => {
                format!("make '{}' readable by the user portcullis runs as", path.display())
            }
            TlsError::CertBadPem { .. } | TlsError::KeyBadPem { .. } => {
                "each PEM block must start with '-----BEGIN …-----' and end with the matching '-----END …-----' line, with valid base64 between".to_string()
            }
            TlsError::NoCertificate { .. } => {
                "the file must hold a '-----BEGIN CERTIFICATE-----' block: the server certificate first, then its intermediates, and the private key (here or in '<file>.key')".to_string()
            }
            TlsError::BadCertificate { .. } => {
                "the block is not a valid X.509 certificate; re-export it (openssl x509 -in <file> -text shows what is wrong)".to_string()
            }
            TlsError::NoPrivateKey { key_path } => {
                let crt = key_path.to_string_lossy();
                let crt = crt.strip_suffix(".key").unwrap_or(&crt);
                format!("append the private key to '{crt}' or put it in '{}'", key_path.display())
            }
            TlsError::EncryptedKey { key_path } => format!(
                "store the key unencrypted (openssl pkey -in {0} -out {0}.plain) and protect the file with permissions",
                key_path.display()
            ),
            TlsError::KeyUnreadable { key_path, .. } => {
                format!("make '{}' readable by the user portcullis runs as", key_path.display())
            }
            TlsError::KeyMismatch { path, key_path } => format!(
                "the key in '{}' belongs to another certificate; put the matching key in '{}' or in '{}.key'",
                key_path.display(),
                path.display(),
                path.display()
            ),
            TlsError::UnsupportedKey { .. } => {
                "portcullis signs with RSA (2048 to 8192 bits), ECDSA P-256/P-384 and Ed25519 keys; re-issue the certificate with one of them".to_string()
            }
            TlsError::CaOpen { .. } | TlsError::CrlOpen { .. } => {
                "check the path; relative paths are resolved against 'ca-base' (global section)".to_string()
            }
            TlsError::CaBadPem { .. } | TlsError::CrlBadPem { .. } => {
                "each PEM block must start with '-----BEGIN …-----' and end with the matching '-----END …-----' line, with valid base64 between".to_string()
            }
            TlsError::CaEmpty { .. } => {
                "a ca-file holds PEM certificates ('-----BEGIN CERTIFICATE-----') of the CAs to trust, and optionally their CRLs".to_string()
            }
            TlsError::CrlEmpty { .. } => {
                "a crl-file holds PEM ('-----BEGIN X509 CRL-----') or DER certificate revocation lists, one per CA".to_string()
            }
            TlsError::CrlOnlyCertificates { .. } => {
                "crl-file takes certificate revocation lists ('-----BEGIN X509 CRL-----'); the CA certificates go in ca-file".to_string()
            }
            TlsError::BadCrl { .. } => {
                "re-export the CRL (openssl crl -in <file> -text shows what is wrong)".to_string()
            }
            TlsError::SystemCa { .. } | TlsError::SystemCaEmpty { .. } => {
                "@system-ca reads SSL_CERT_FILE / SSL_CERT_DIR when either is set, else the platform store; point them at readable PEM files or unset them".to_string()
            }
            TlsError::DirUnreadable { path, .. } => {
                format!("make the directory '{}' readable and listable", path.display())
            }
        };
        Some(h)
    }

    /// The file the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            TlsError::CertMissing { path, .. }
            | TlsError::CertUnreadable { path, .. }
            | TlsError::CertBadPem { path, .. }
            | TlsError::NoCertificate { path }
            | TlsError::BadCertificate { path, .. }
            | TlsError::KeyMismatch { path, .. }
            | TlsError::UnsupportedKey { path, .. }
            | TlsError::CaOpen { path, .. }
            | TlsError::CaBadPem { path, .. }
            | TlsError::CaEmpty { path }
            | TlsError::CrlOpen { path, .. }
            | TlsError::CrlBadPem { path, .. }
            | TlsError::CrlEmpty { path }
            | TlsError::CrlOnlyCertificates { path, .. }
            | TlsError::BadCrl { path, .. }
            | TlsError::DirUnreadable { path, .. } => Some(path),
            TlsError::NoPrivateKey { key_path }
            | TlsError::EncryptedKey { key_path }
            | TlsError::KeyUnreadable { key_path, .. }
            | TlsError::KeyBadPem { key_path, .. } => Some(key_path),
            TlsError::SystemCa { .. } | TlsError::SystemCaEmpty { .. } => None,
        }
    }
}

/// An I/O error as `strerror` prints it ("No such file or directory"), which
/// is what HAProxy's messages contain; Rust appends " (os error N)".
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reason_matches_strerror() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "No such file or directory");
    }

    #[test]
    fn mismatch_help_names_both_places() {
        let e = TlsError::KeyMismatch {
            path: "/c/site.pem".into(),
            key_path: "/c/site.pem".into(),
        };
        assert_eq!(
            e.to_string(),
            "inconsistencies between private key and certificate loaded '/c/site.pem'"
        );
        assert_eq!(
            e.help().as_deref(),
            Some(
                "the key in '/c/site.pem' belongs to another certificate; put the matching key in '/c/site.pem' or in '/c/site.pem.key'"
            )
        );
    }

    #[test]
    fn no_key_help_points_at_both_files() {
        let e = TlsError::NoPrivateKey {
            key_path: "/c/a.crt.key".into(),
        };
        assert_eq!(e.to_string(), "No Private Key found in '/c/a.crt.key'");
        assert_eq!(
            e.help().as_deref(),
            Some("append the private key to '/c/a.crt' or put it in '/c/a.crt.key'")
        );
    }
}
