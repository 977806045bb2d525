//! Building the TLS fetches (cfg 7.3.4): the client connection's `ssl_fc_*`,
//! the client certificate's `ssl_c_*`, the served certificate's `ssl_f_*`,
//! and the server side: `ssl_bc*` for the connection to the server that
//! carried the response, `ssl_s_*` for the certificate that server
//! presented. The three certificate families share their fields
//! ([`CertField`]) and differ only by whose certificate they read.

use super::fetches::ArgVal;
use crate::ir::expr::{CertField, CertOf, DnFormat, DnSelect, Fetch};

/// The TLS fetch called `name`, `None` when `name` is not one. Errors carry
/// the 0-based argument index and the reason.
pub(super) fn build(name: &str, args: &[Option<ArgVal>]) -> Option<Result<Fetch, (usize, String)>> {
    let plain = match name {
        "ssl_fc" => Fetch::SslFc,
        "ssl_fc_sni" => Fetch::SslFcSni,
        "ssl_fc_has_sni" => Fetch::SslFcHasSni,
        "ssl_fc_has_crt" => Fetch::SslFcHasCrt,
        "ssl_fc_protocol" => Fetch::SslFcProtocol,
        "ssl_fc_cipher" => Fetch::SslFcCipher,
        "ssl_fc_alpn" => Fetch::SslFcAlpn,
        "ssl_fc_is_resumed" => Fetch::SslFcIsResumed,
        "ssl_fc_err" => Fetch::SslFcErr,
        "fc_err" => Fetch::FcErr,
        "fc_err_str" => Fetch::FcErrStr,
        "fc_rcvd_proxy" => Fetch::FcRcvdProxy,
        "fc_pp_authority" => Fetch::FcPpAuthority,
        "fc_pp_unique_id" => Fetch::FcPpUniqueId,
        "ssl_fc_err_str" => Fetch::SslFcErrStr,
        "ssl_c_used" => Fetch::SslCUsed,
        "ssl_c_verify" => Fetch::SslCVerify,
        "ssl_c_err" => Fetch::SslCErr,
        "ssl_c_ca_err" => Fetch::SslCCaErr,
        "ssl_c_ca_err_depth" => Fetch::SslCCaErrDepth,
        "ssl_c_chain_der" => Fetch::SslCChainDer,
        "ssl_s_chain_der" => Fetch::SslSChainDer,
        "ssl_bc" => Fetch::SslBc,
        "ssl_bc_is_resumed" => Fetch::SslBcIsResumed,
        "ssl_bc_protocol" => Fetch::SslBcProtocol,
        "ssl_bc_cipher" => Fetch::SslBcCipher,
        "ssl_bc_alpn" => Fetch::SslBcAlpn,
        _ => return cert(name, args),
    };
    Some(Ok(plain))
}

/// `ssl_c_*`, `ssl_f_*` and `ssl_s_*` certificate fields.
fn cert(name: &str, args: &[Option<ArgVal>]) -> Option<Result<Fetch, (usize, String)>> {
    let of = match name.get(..6)? {
        "ssl_c_" => CertOf::Client,
        "ssl_f_" => CertOf::Frontend,
        "ssl_s_" => CertOf::Server,
        _ => return None,
    };
    let field = name.get(6..)?;
    let field = match field {
        "s_dn" => match dn(args) {
            Ok(sel) => CertField::SubjectDn(sel),
            Err(e) => return Some(Err(e)),
        },
        "i_dn" => match dn(args) {
            Ok(sel) => CertField::IssuerDn(sel),
            Err(e) => return Some(Err(e)),
        },
        "serial" => CertField::Serial,
        "sha1" => CertField::Sha1,
        "der" => CertField::Der,
        "notbefore" => CertField::NotBefore,
        "notafter" => CertField::NotAfter,
        "version" => CertField::Version,
        "sig_alg" => CertField::SigAlg,
        "key_alg" => CertField::KeyAlg,
        _ => return None,
    };
    Some(Ok(Fetch::Cert { of, field }))
}

/// `([entry[,occ[,format]]])` of the DN fetches.
fn dn(args: &[Option<ArgVal>]) -> Result<DnSelect, (usize, String)> {
    let entry = match args.first() {
        Some(Some(ArgVal::Str(e))) if !e.is_empty() => Some(e.clone()),
        _ => None,
    };
    let occ = match args.get(1) {
        Some(Some(ArgVal::Int(o))) => Some(*o),
        _ => None,
    };
    let format = match args.get(2) {
        Some(Some(ArgVal::Str(f))) if !f.is_empty() => {
            if f != "rfc2253" {
                return Err((
                    2,
                    "only rfc2253 or a blank value are currently supported as the format argument"
                        .into(),
                ));
            }
            DnFormat::Rfc2253
        }
        _ => DnFormat::OneLine,
    };
    Ok(match entry {
        Some(entry) => DnSelect::Entry {
            entry,
            occurrence: occ.unwrap_or(1),
        },
        None => DnSelect::Whole(format),
    })
}
