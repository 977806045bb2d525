//! `generate-certificates`, `ca-sign-file` and `ca-sign-pass` on a bind line
//! (lowering only; minting is [`crate::tls::gencert`]).
//!
//! As in HAProxy 2.6: `generate-certificates` needs `ca-sign-file` (a PEM
//! file holding the CA certificate and its key, resolved against
//! `ca-base`); `ca-sign-file` alone is not loaded. `ca-sign-pass` has no
//! effect in HAProxy 2.6 either (its loader never passes the passphrase on):
//! accepted with a warning.

use super::Lowerer;
use super::arg;
use super::bind::tls_error;
use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::{GenerateCerts, SniCert};
use crate::tls::gencert::Minter;

/// HAProxy's default `tune.ssl.ssl-ctx-cache-size`.
const DEFAULT_CACHE: usize = 1000;

/// The generation options of one bind line.
#[derive(Default)]
pub(super) struct GenCertOpts {
    generate: Option<Word>,
    ca_sign_file: Option<Word>,
    ca_sign_pass: Option<Word>,
}

/// Parses `w[i]`, one of the three options; returns the next index.
pub(super) fn bind_option(w: &[Word], i: usize, o: &mut GenCertOpts) -> Result<usize, Diagnostic> {
    let kw = &w[i];
    match kw.text.as_str() {
        "generate-certificates" => {
            o.generate = Some(kw.clone());
            Ok(i + 1)
        }
        "ca-sign-file" => {
            o.ca_sign_file = Some(arg(w, i + 1, kw, "a file")?.clone());
            Ok(i + 2)
        }
        _ => {
            o.ca_sign_pass = Some(arg(w, i + 1, kw, "a passphrase")?.clone());
            Ok(i + 2)
        }
    }
}

/// Loads the CA and proves certificates can be minted with it and the
/// bind's default certificate (`certs[0]`). `None` when an error was reported.
pub(super) fn lower(
    cx: &mut Lowerer,
    o: &GenCertOpts,
    certs: &[SniCert],
    place: &str,
) -> Option<Option<GenerateCerts>> {
    if let Some(pass) = &o.ca_sign_pass {
        cx.diags.push(
            Diagnostic::warning(format!(
                "'ca-sign-pass' has no effect on {place}: HAProxy 2.6 does not use it either"
            ))
            .at(pass.span)
            .help("store the CA key of ca-sign-file unencrypted (encrypted keys are refused)"),
        );
    }
    let Some(generate) = &o.generate else {
        if let Some(file) = &o.ca_sign_file {
            cx.diags.push(
                Diagnostic::warning(format!(
                    "'ca-sign-file' has no effect on {place} without 'generate-certificates'"
                ))
                .at(file.span)
                .help("add 'generate-certificates' or remove 'ca-sign-file'"),
            );
        }
        return Some(None);
    };
    let Some(file) = &o.ca_sign_file else {
        cx.err(
            Diagnostic::error(format!(
                "{place}: cannot enable certificate generation, no CA certificate file configured"
            ))
            .at(generate.span)
            .help("add 'ca-sign-file <ca cert and key.pem>' to the bind line"),
        );
        return None;
    };
    let path = cx.ca_path(file);
    let ca = match cx.loader.cert_key(&path) {
        Ok(ca) => ca,
        Err(e) => {
            cx.err(tls_error(&e, file, place));
            return None;
        }
    };
    let default = &certs.first()?.cert;
    if let Err(e) = Minter::new(&ca, default) {
        cx.err(
            Diagnostic::error(format!("{place}: generate-certificates: {e}"))
                .at(file.span)
                .help("use a CA with an RSA, ECDSA P-256/P-384 or Ed25519 key and a simple subject, and a default certificate with one of those keys"),
        );
        return None;
    }
    Some(Some(GenerateCerts {
        ca,
        cache_size: cx.global.ssl_ctx_cache_size.unwrap_or(DEFAULT_CACHE),
    }))
}
