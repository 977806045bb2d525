//! Lowering of `bind` lines and their crt-lists into listeners with per-SNI TLS
//! policies.
//!
//! A bind's own TLS options are the base; each crt-list line overrides only what
//! it names (HAProxy 2.6 semantics), so every certificate ends up with one
//! complete [`TlsPolicy`]. Certificates, CAs and CRLs are loaded here, which is
//! what makes `check` catch a missing file or a key that does not match.

use super::gencert;
use super::tlsopts;
use super::values::{bind_addresses, uint, uint_in};
use super::{Lowerer, arg};
use crate::config::crtlist::{CrtListLine, read_crt_list_at};
use crate::config::keywords::{self, Context};
use crate::config::word::{Line, Word};
use crate::diag::{Diagnostic, Span};
use crate::ir::{
    Bind, BindTls, ClientVerify, ErrorSet, IgnoreErrors, SniCert, SniFilter, TlsParams, TlsPolicy,
    Trust,
};
use crate::tls::dh::DhDefault;
use crate::tls::{self, CaSpec, CertKey, TlsError};
use std::sync::Arc;

/// The highest OpenSSL X509 error id HAProxy 2.6 accepts in ignore lists.
const MAX_X509_ERROR_ID: u32 = 94;

/// Client verification mode as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VerifyMode {
    None,
    Optional,
    Required,
}

/// TLS options that a crt-list line may override, each with the word it came
/// from (for error positions).
#[derive(Clone, Default)]
pub(crate) struct PolicyOpts {
    verify: Option<(VerifyMode, Span)>,
    ca_file: Option<Word>,
    ca_verify_file: Option<Word>,
    crl_file: Option<Word>,
    verify_depth: Option<u32>,
    no_ca_names: bool,
    params: TlsParams,
}

/// Everything parsed from one bind line before certificates are loaded.
struct BindOpts {
    ssl: Option<Word>,
    certs: Vec<CertSource>,
    policy: PolicyOpts,
    ignore: IgnoreErrors,
    strict_sni: bool,
    sni_host_check: bool,
    accept_proxy: bool,
    name: Option<String>,
    maxconn: Option<u32>,
    backlog: Option<u32>,
    /// `tfo`: TCP Fast Open on the listening socket.
    tfo: bool,
    /// TLS-only options seen, for the "without ssl" warning.
    tls_only: Vec<Word>,
    /// `generate-certificates`, `ca-sign-file`, `ca-sign-pass`.
    gencert: gencert::GenCertOpts,
}

enum CertSource {
    File(Word),
    List(Word),
}

/// Lowers one `bind` line; errors go to `cx`.
pub(crate) fn lower_bind(cx: &mut Lowerer, line: &Line, where_: &str) -> Option<Bind> {
    let w = &line.words;
    let kw = &w[0];
    let Some(addr) = w.get(1) else {
        cx.err(
            Diagnostic::error(
                "'bind' expects [addr1]:port1[-end1]{,[addr]:port[-end]}... as arguments",
            )
            .at(kw.span)
            .help("e.g. 'bind :443 ssl crt site.pem' or 'bind 127.0.0.1:8080'"),
        );
        return None;
    };
    let addresses = match bind_addresses(addr) {
        Ok(a) => a,
        Err(d) => {
            cx.err(d);
            return None;
        }
    };
    let place = format!("'bind {}' in {where_}", addr.text);
    let mut opts = BindOpts {
        ssl: None,
        certs: Vec::new(),
        policy: PolicyOpts {
            params: cx.global.bind_tls_defaults.clone(),
            ..PolicyOpts::default()
        },
        ignore: IgnoreErrors::default(),
        strict_sni: false,
        sni_host_check: true,
        accept_proxy: false,
        name: None,
        maxconn: None,
        backlog: None,
        tfo: false,
        tls_only: Vec::new(),
        gencert: Default::default(),
    };
    let mut ok = true;
    let mut i = 2;
    while i < w.len() {
        match bind_option(cx, w, i, &mut opts, &place) {
            Ok(next) => i = next,
            Err(d) => {
                cx.err(d);
                ok = false;
                break;
            }
        }
    }
    if !ok {
        return None;
    }
    let origin = cx.origin(line.span);
    let tls = match &opts.ssl {
        None => {
            if let Some(first) = opts.tls_only.first() {
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "'{}' has no effect on {place}: without 'ssl' this listener speaks clear text",
                        first.text
                    ))
                    .at(first.span)
                    .help("add 'ssl' to the bind line to terminate TLS"),
                );
            }
            None
        }
        Some(ssl_word) => {
            if opts.certs.is_empty() {
                cx.err(
                    Diagnostic::error(format!(
                        "no SSL certificate specified for {place} (use 'crt')"
                    ))
                    .at(ssl_word.span)
                    .help("add 'crt <cert+key.pem>' or 'crt-list <file>' to the bind line"),
                );
                return None;
            }
            Some(build_tls(cx, &opts, &place)?)
        }
    };
    Some(Bind {
        origin,
        spec: addr.text.clone(),
        addresses,
        name: opts.name,
        maxconn: opts.maxconn,
        backlog: opts.backlog,
        tfo: opts.tfo,
        accept_proxy: opts.accept_proxy,
        tls,
    })
}

/// Parses the option at `w[i]`; returns the index of the next option.
fn bind_option(
    cx: &mut Lowerer,
    w: &[Word],
    i: usize,
    opts: &mut BindOpts,
    place: &str,
) -> Result<usize, Diagnostic> {
    let o = &w[i];
    let name = o.text.as_str();
    let value = || arg(w, i + 1, o, "an argument");
    match name {
        "ssl" => {
            opts.ssl = Some(o.clone());
            Ok(i + 1)
        }
        "crt" => {
            opts.certs.push(CertSource::File(value()?.clone()));
            opts.tls_only.push(o.clone());
            Ok(i + 2)
        }
        "crt-list" => {
            opts.certs.push(CertSource::List(value()?.clone()));
            opts.tls_only.push(o.clone());
            Ok(i + 2)
        }
        "ca-ignore-err" | "crt-ignore-err" => {
            let set = error_set(value()?, name)?;
            if name == "ca-ignore-err" {
                opts.ignore.ca = set;
            } else {
                opts.ignore.crt = set;
            }
            opts.tls_only.push(o.clone());
            Ok(i + 2)
        }
        "strict-sni" => {
            opts.strict_sni = true;
            opts.tls_only.push(o.clone());
            Ok(i + 1)
        }
        "no-strict-sni-host" => {
            cx.note_status(Context::Bind, o, name);
            opts.sni_host_check = false;
            opts.tls_only.push(o.clone());
            Ok(i + 1)
        }
        "generate-certificates" | "ca-sign-file" | "ca-sign-pass" => {
            opts.tls_only.push(o.clone());
            gencert::bind_option(w, i, &mut opts.gencert)
        }
        "accept-proxy" => {
            opts.accept_proxy = true;
            Ok(i + 1)
        }
        "name" => {
            opts.name = Some(value()?.text.clone());
            Ok(i + 2)
        }
        "maxconn" => {
            opts.maxconn = Some(uint(value()?, "maxconn")?);
            Ok(i + 2)
        }
        "backlog" => {
            opts.backlog = Some(uint_in(value()?, "backlog", 1, i32::MAX as u32)?);
            Ok(i + 2)
        }
        "tfo" => {
            opts.tfo = true;
            Ok(i + 1)
        }
        _ => match policy_option(cx, w, i, &mut opts.policy, Context::Bind)? {
            Some(next) => {
                opts.tls_only.push(o.clone());
                Ok(next)
            }
            None => {
                cx.unknown_keyword(Context::Bind, o, place);
                Err(super::proxy::silent())
            }
        },
    }
}

/// Parses a TLS policy option (valid on bind lines and in crt-list brackets).
/// Returns `Ok(None)` when `w[i]` is not one.
fn policy_option(
    cx: &mut Lowerer,
    w: &[Word],
    i: usize,
    p: &mut PolicyOpts,
    context: Context,
) -> Result<Option<usize>, Diagnostic> {
    let o = &w[i];
    let name = o.text.as_str();
    if keywords::lookup(context, name).is_none()
        && !(context == Context::Bind && is_version_flag(name))
    {
        return Ok(None);
    }
    cx.note_status(context, o, name);
    if tlsopts::version_flag(&mut p.params, o)? {
        return Ok(Some(i + 1));
    }
    let value = || arg(w, i + 1, o, "an argument");
    match name {
        "verify" => {
            let v = value()?;
            let mode = match v.text.as_str() {
                "none" => VerifyMode::None,
                "optional" => VerifyMode::Optional,
                "required" => VerifyMode::Required,
                other => {
                    return Err(Diagnostic::error(format!(
                        "'verify' : unknown verify method '{other}', only 'none', 'optional', and 'required' are supported"
                    ))
                    .at(v.span)
                    .help("'required' rejects handshakes without a valid client certificate; 'optional' accepts none but still rejects a bad one"));
                }
            };
            p.verify = Some((mode, v.span));
        }
        "ca-file" => p.ca_file = Some(value()?.clone()),
        "ca-verify-file" => p.ca_verify_file = Some(value()?.clone()),
        "crl-file" => p.crl_file = Some(value()?.clone()),
        "verify-depth" => {
            let v = value()?;
            p.verify_depth = Some(super::values::uint_in(v, "verify-depth", 0, 100)?);
        }
        "no-ca-names" => {
            p.no_ca_names = true;
            return Ok(Some(i + 1));
        }
        "alpn" => p.params.alpn = Some(tlsopts::alpn(value()?, name)?),
        "ssl-min-ver" | "ssl-max-ver" => tlsopts::version_bound(&mut p.params, o, value()?)?,
        "ciphers" => p.params.ciphers = Some(tlsopts::ciphers(value()?, name)?),
        "ciphersuites" => p.params.ciphersuites = Some(tlsopts::ciphersuites(value()?, name)?),
        "curves" | "ecdhe" => p.params.curves = Some(tlsopts::curves(value()?, name)?),
        "no-tls-tickets" => {
            p.params.no_tls_tickets = true;
            return Ok(Some(i + 1));
        }
        "prefer-client-ciphers" => {
            p.params.prefer_client_ciphers = true;
            return Ok(Some(i + 1));
        }
        _ => return Ok(None),
    }
    Ok(Some(i + 2))
}

fn is_version_flag(name: &str) -> bool {
    matches!(
        name,
        "no-sslv3"
            | "no-tlsv10"
            | "no-tlsv11"
            | "no-tlsv12"
            | "no-tlsv13"
            | "force-sslv3"
            | "force-tlsv10"
            | "force-tlsv11"
            | "force-tlsv12"
            | "force-tlsv13"
    )
}

/// `all` or a comma list of OpenSSL X509 error ids (1..94, as HAProxy 2.6).
fn error_set(w: &Word, what: &str) -> Result<ErrorSet, Diagnostic> {
    if w.text == "all" {
        return Ok(ErrorSet::All);
    }
    let mut ids = Vec::new();
    for part in w.text.split(',') {
        match part.parse::<u32>() {
            Ok(id) if (1..=MAX_X509_ERROR_ID).contains(&id) => ids.push(id),
            _ => {
                let mut d = Diagnostic::error(format!(
                    "'{what}' : ID '{}' out of range (1..{MAX_X509_ERROR_ID}) in error IDs list '{}'",
                    part.parse::<u32>().unwrap_or(0),
                    w.text
                ))
                .at(w.span);
                d = if part.starts_with("X509_V_ERR_") {
                    d.help("HAProxy 2.6 takes numeric ids only (symbolic names came in 2.7): e.g. 10 = certificate expired, 20 = unable to get local issuer, 23 = revoked")
                } else {
                    d.help("write 'all' or numeric ids such as 10,23")
                };
                return Err(d);
            }
        }
    }
    Ok(ErrorSet::Ids(ids))
}

/// Loads every certificate of a bind and builds each one's policy.
fn build_tls(cx: &mut Lowerer, opts: &BindOpts, place: &str) -> Option<BindTls> {
    let mut certs = Vec::new();
    let mut failed = false;
    let ssl_word = opts.ssl.clone()?;
    if let Err(d) = tlsopts::check_versions(&opts.policy.params, &ssl_word) {
        cx.err(d);
        return None;
    }
    for source in &opts.certs {
        match source {
            CertSource::File(w) => {
                let path = cx.crt_path(w);
                let loaded = cx.loader.crt_path(&path);
                match loaded {
                    Ok(list) if list.is_empty() => {
                        cx.err(
                            Diagnostic::error(format!("{place} : no certificate found in directory '{}'", path.display()))
                                .at(w.span)
                                .help("put at least one PEM file holding a certificate and its key in the directory"),
                        );
                        failed = true;
                    }
                    Ok(list) => {
                        let Some(policy) = build_policy(cx, &opts.policy, &ssl_word, place) else {
                            failed = true;
                            continue;
                        };
                        for cert in list {
                            cert_warnings(cx, &cert, w.span);
                            certs.push(SniCert {
                                cert,
                                filters: Vec::new(),
                                policy: policy.clone(),
                                crt_list_origin: None,
                            });
                        }
                    }
                    Err(e) => {
                        cx.err(tls_error(&e, w, place));
                        failed = true;
                    }
                }
            }
            CertSource::List(w) => {
                let path = cx.crt_path(w);
                let Some(lines) = read_crt_list_at(cx.map, &path, Some(w.span), cx.diags) else {
                    failed = true;
                    continue;
                };
                for l in lines {
                    match crt_list_entry(cx, &l, opts, place) {
                        Some(c) => certs.push(c),
                        None => failed = true,
                    }
                }
            }
        }
    }
    if failed {
        return None;
    }
    if certs.is_empty() {
        cx.err(
            Diagnostic::error(format!(
                "no SSL certificate loaded for {place}: the crt-list is empty"
            ))
            .at(ssl_word.span)
            .help("add at least one certificate line to the crt-list"),
        );
        return None;
    }
    let generate = gencert::lower(cx, &opts.gencert, &certs, place)?;
    Some(BindTls {
        generate,
        certs,
        strict_sni: opts.strict_sni,
        sni_host_check: opts.sni_host_check,
        session_cache: cx.global.session_cache,
        ignore_errors: opts.ignore.clone(),
        dh: match (&cx.global.dh_file, cx.global.dh_default_bits) {
            (Some(f), _) => DhDefault::File(f.clone()),
            (None, Some(n)) => DhDefault::MaxBits(n),
            (None, None) => DhDefault::None,
        },
    })
}

/// One crt-list line: its certificate, its filters, the bind's policy with the
/// line's overrides.
fn crt_list_entry(
    cx: &mut Lowerer,
    l: &CrtListLine,
    opts: &BindOpts,
    place: &str,
) -> Option<SniCert> {
    let mut policy = opts.policy.clone();
    let mut i = 0;
    while i < l.options.len() {
        match policy_option(cx, &l.options, i, &mut policy, Context::CrtList) {
            Ok(Some(next)) => i = next,
            Ok(None) => {
                let o = &l.options[i];
                if keywords::known_to_haproxy(Context::Bind, &o.text) {
                    // HAProxy 2.6 also refuses bind-only options inside brackets.
                    cx.err(
                        Diagnostic::error(format!("'{}' is not allowed in a crt-list line", o.text))
                            .at(o.span)
                            .label("bind-only option")
                            .help(format!("put '{}' on the bind line that loads the crt-list; it then applies to every line", o.text)),
                    );
                } else {
                    cx.unknown_keyword(Context::CrtList, o, "a crt-list line");
                }
                return None;
            }
            Err(d) => {
                cx.err(d);
                return None;
            }
        }
    }
    let path = cx.crt_path(&l.crt);
    let cert = match cx.loader.cert_key(&path) {
        Ok(c) => c,
        Err(e) => {
            cx.err(tls_error(&e, &l.crt, "a crt-list line"));
            return None;
        }
    };
    cert_warnings(cx, &cert, l.crt.span);
    let mut filters = Vec::new();
    for f in &l.filters {
        let (negated, name) = match f.text.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, f.text.as_str()),
        };
        let valid = name == "*"
            || (!name.is_empty()
                && name
                    .trim_start_matches("*.")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'));
        if !valid {
            cx.err(
                Diagnostic::error(format!("invalid SNI filter '{}'", f.text))
                    .at(f.span)
                    .help("filters are host names, '*.domain' wildcards (one label), '!name' exclusions or '!*'"),
            );
            return None;
        }
        filters.push(SniFilter {
            name: name.to_ascii_lowercase(),
            negated,
        });
    }
    if let Err(d) = tlsopts::check_versions(&policy.params, &l.crt) {
        cx.err(d);
        return None;
    }
    let at = l.crt.clone();
    let policy = build_policy(cx, &policy, &at, place)?;
    Some(SniCert {
        cert,
        filters,
        policy,
        crt_list_origin: Some(cx.origin(l.span)),
    })
}

/// Loads the trust material of a policy and checks it.
fn build_policy(cx: &mut Lowerer, p: &PolicyOpts, at: &Word, place: &str) -> Option<TlsPolicy> {
    let mode = p.verify.map(|(m, _)| m).unwrap_or(VerifyMode::None);
    let load_ca = |cx: &mut Lowerer, w: &Option<Word>| -> Result<Option<Arc<tls::CaBundle>>, ()> {
        let Some(w) = w else { return Ok(None) };
        let spec = if w.text == "@system-ca" {
            CaSpec::System
        } else {
            CaSpec::Path(cx.ca_path(w))
        };
        match cx.loader.ca(&spec) {
            Ok(b) => {
                for msg in &b.warnings {
                    cx.diags.push(Diagnostic::warning(msg.clone()).at(w.span));
                }
                Ok(Some(b))
            }
            Err(e) => {
                cx.err(tls_error(&e, w, place));
                Err(())
            }
        }
    };
    let ca_file = load_ca(cx, &p.ca_file).ok()?;
    let ca_verify_file = load_ca(cx, &p.ca_verify_file).ok()?;
    let crl = match &p.crl_file {
        None => None,
        Some(w) => {
            let path = cx.ca_path(w);
            match cx.loader.crls(&path) {
                Ok(c) => Some(c),
                Err(e) => {
                    cx.err(tls_error(&e, w, place));
                    return None;
                }
            }
        }
    };
    let verify = match mode {
        VerifyMode::None => ClientVerify::None,
        m => {
            if ca_file.is_none() && ca_verify_file.is_none() {
                let span = p.verify.map(|(_, s)| s).unwrap_or(at.span);
                cx.err(
                    Diagnostic::error(format!("verify is enabled but no CA file specified for {place}"))
                        .at(span)
                        .help("add 'ca-file <issuing CAs>' (advertised to clients) and/or 'ca-verify-file <root CAs>'"),
                );
                return None;
            }
            trust_warnings(
                cx,
                ca_file.as_deref(),
                ca_verify_file.as_deref(),
                crl.as_deref(),
                p,
                at,
            );
            let trust = Trust {
                ca_file: ca_file.clone(),
                ca_verify_file: ca_verify_file.clone(),
                crl: crl.clone(),
            };
            if m == VerifyMode::Required {
                ClientVerify::Required(trust)
            } else {
                ClientVerify::Optional(trust)
            }
        }
    };
    Some(TlsPolicy {
        verify,
        params: p.params.clone(),
        verify_depth: p.verify_depth,
        no_ca_names: p.no_ca_names,
    })
}

/// Warnings about client-certificate trust that HAProxy would only reveal at
/// handshake time.
fn trust_warnings(
    cx: &mut Lowerer,
    ca_file: Option<&tls::CaBundle>,
    ca_verify_file: Option<&tls::CaBundle>,
    crl: Option<&tls::CrlSet>,
    p: &PolicyOpts,
    at: &Word,
) {
    if let Some(ca) = ca_file {
        let span = p.ca_file.as_ref().map_or(at.span, |w| w.span);
        for info in tls::analysis::unanchored(ca, ca_verify_file) {
            cx.diags.push(
                Diagnostic::warning(format!(
                    "ca-file holds '{}' but no root CA it chains to is in ca-file or ca-verify-file: every client certificate it issued will be rejected",
                    info.subject_oneline
                ))
                .at(span)
                .help("add the root CA with 'ca-verify-file <root.crt>' (trusted, not advertised) or append it to the ca-file"),
            );
        }
    }
    if let Some(crl) = crl {
        let span = p.crl_file.as_ref().map_or(at.span, |w| w.span);
        let mut cas = Vec::new();
        cas.extend(ca_file);
        cas.extend(ca_verify_file);
        let missing = tls::analysis::cas_missing_crl(&cas, crl);
        // With a big trust store (@system-ca) one line per CA would drown the
        // rest: past three, one summary line.
        for info in missing.iter().filter(|_| missing.len() <= 3) {
            cx.diags.push(
                Diagnostic::warning(format!(
                    "crl-file has no CRL issued by '{}': every client whose chain goes through this CA will be rejected (unable to get CRL)",
                    info.subject_oneline
                ))
                .at(span)
                .help("put a CRL for every CA level in the crl-file, as HAProxy requires"),
            );
        }
        if missing.len() > 3 {
            cx.diags.push(
                Diagnostic::warning(format!(
                    "crl-file has no CRL for {} of the trusted CAs: every client whose chain goes through one of them will be rejected (unable to get CRL)",
                    missing.len()
                ))
                .at(span)
                .help("put a CRL for every CA level in the crl-file, as HAProxy requires, or trust fewer CAs"),
            );
        }
        for stale in tls::analysis::stale_crls(crl, cx.now) {
            cx.diags.push(
                Diagnostic::warning(format!(
                    "the CRL issued by '{}' is past its nextUpdate date: every client whose chain it covers will be rejected (CRL has expired)",
                    stale.issuer_oneline
                ))
                .at(span)
                .help("fetch a fresh CRL from the CA"),
            );
        }
    }
}

/// Expiry warnings for a served certificate.
pub(crate) fn cert_warnings(cx: &mut Lowerer, cert: &CertKey, span: Span) {
    use crate::tls::analysis::{Expiry, expiry};
    let Some(leaf) = cert.infos.first() else {
        return;
    };
    let path = cert.path.display();
    if let Some(dh) = &cert.dh
        && !dh.usable()
    {
        cx.diags.push(
            Diagnostic::warning(format!(
                "unable to use the {}-bit DH parameters in '{path}': DH ciphers won't be available for this certificate",
                dh.bits
            ))
            .at(span)
            .help(format!(
                "OpenSSL's security level refuses DH groups under {} bits; append parameters of at least 2048 bits ('openssl dhparam 2048')",
                crate::tls::dh::MIN_BITS
            )),
        );
    }
    match expiry(leaf, cx.now) {
        Expiry::Expired { days_ago } => cx.diags.push(
            Diagnostic::warning(format!(
                "certificate '{}' in '{path}' expired {days_ago} day(s) ago",
                leaf.subject_oneline
            ))
            .at(span)
            .help("renew it: clients will refuse the handshake"),
        ),
        Expiry::ExpiresSoon { days } => cx.diags.push(
            Diagnostic::warning(format!(
                "certificate '{}' in '{path}' expires in {days} day(s)",
                leaf.subject_oneline
            ))
            .at(span)
            .help("renew it before it expires"),
        ),
        Expiry::NotYetValid => cx.diags.push(
            Diagnostic::warning(format!(
                "certificate '{}' in '{path}' is not valid yet",
                leaf.subject_oneline
            ))
            .at(span)
            .help("check its notBefore date and this machine's clock"),
        ),
        Expiry::Valid => {}
    }
}

/// Turns a TLS loading error into a diagnostic at the word that named the file.
pub(crate) fn tls_error(e: &TlsError, w: &Word, place: &str) -> Diagnostic {
    let mut d = Diagnostic::error(format!("{place} : {e}")).at(w.span);
    if let Some(h) = e.help() {
        d = d.help(h);
    }
    d
}
