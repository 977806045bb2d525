//! PEM splitting: one pass over a file's bytes into certificates, private keys
//! and CRLs, with `rustls_pki_types`'s `PemObject` parser (the one rustls uses).
//!
//! Other blocks (DH parameters, public keys, OCSP…) are skipped, as HAProxy
//! skips what it does not look for. Encrypted keys are noticed so the error can
//! say so instead of "no private key".

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs1KeyDer,
    PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

/// The blocks of one PEM file, each list in file order.
#[derive(Default)]
pub struct PemItems {
    pub certs: Vec<CertificateDer<'static>>,
    pub keys: Vec<PrivateKeyDer<'static>>,
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// The file holds an `ENCRYPTED PRIVATE KEY` block or a legacy
    /// `Proc-Type: 4,ENCRYPTED` key.
    pub encrypted_key: bool,
}

/// Splits PEM text into its blocks. Fails only on a malformed block (bad
/// base64, missing END line); text between blocks is ignored.
pub fn parse(bytes: &[u8]) -> Result<PemItems, String> {
    let mut items = PemItems::default();
    for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(|e| describe(&e))?;
        match kind {
            SectionKind::Certificate => items.certs.push(CertificateDer::from(der)),
            SectionKind::PrivateKey => items
                .keys
                .push(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
            SectionKind::RsaPrivateKey => items
                .keys
                .push(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der))),
            SectionKind::EcPrivateKey => items
                .keys
                .push(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der))),
            SectionKind::Crl => items.crls.push(CertificateRevocationListDer::from(der)),
            _ => {}
        }
    }
    items.encrypted_key = contains(bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || contains(bytes, b"Proc-Type: 4,ENCRYPTED");
    Ok(items)
}

/// True when the bytes hold at least one PEM BEGIN line.
pub fn looks_like_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn describe(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "missing '-----END {}-----' line",
            String::from_utf8_lossy(end_marker).trim()
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed BEGIN line '{}'",
            String::from_utf8_lossy(line).trim()
        ),
        pem::Error::Base64Decode(d) => format!("bad base64: {d}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks_by_kind_and_skips_others() -> Result<(), String> {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n\
                    -----BEGIN DH PARAMETERS-----\nAQID\n-----END DH PARAMETERS-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nBAUG\n-----END EC PRIVATE KEY-----\n\
                    -----BEGIN X509 CRL-----\nBwgJ\n-----END X509 CRL-----\n";
        let items = parse(text.as_bytes())?;
        assert_eq!(items.certs.len(), 1);
        assert_eq!(items.certs[0].as_ref(), &[1, 2, 3]);
        assert!(matches!(items.keys.as_slice(), [PrivateKeyDer::Sec1(_)]));
        assert_eq!(items.crls.len(), 1);
        assert!(!items.encrypted_key);
        Ok(())
    }

    #[test]
    fn unterminated_block_is_an_error() {
        let text = "-----BEGIN CERTIFICATE-----\nAQID\n";
        let err = parse(text.as_bytes()).err();
        assert_eq!(
            err.as_deref(),
            Some("missing '-----END CERTIFICATE-----' line")
        );
    }

    #[test]
    fn encrypted_key_is_noticed() -> Result<(), String> {
        let text =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAQID\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let items = parse(text.as_bytes())?;
        assert!(items.keys.is_empty());
        assert!(items.encrypted_key);
        Ok(())
    }
}
