//! Sample fetches: every [`Fetch`] the IR can hold, evaluated as HAProxy
//! 2.6's `smp_fetch_*` functions (`http_fetch.c`, `ssl_sample.c`,
//! `tcp_sample.c`, `vars.c`): same failures (a fetch that fails yields no
//! value), same occurrence rules for headers, same output types.

use super::Txn;
use super::headers;
use super::text::{base64_decode, c_str, ipv4_prefix, parse_ipv6, strl2ic, strl2irc};
use super::value::{Value, method_from_bytes};
use crate::ir::expr::{CertField, CertOf, DnFormat, DnSelect, Fetch, HttpDir};
use crate::runtime::clienthello::{self, L6Out};
use crate::runtime::facts::{CertFacts, DnFacts, SessionFacts};
use bytes::Bytes;
use http::{HeaderMap, Version};
use std::net::IpAddr;

/// The values one fetch produced: at most one, except for header fetches
/// evaluated by an ACL without an explicit occurrence, which produce every
/// occurrence (HAProxy's `SMP_OPT_ITERATE` / `SMP_F_NOT_LAST`).
pub(super) type Fetched = std::vec::IntoIter<Value>;

fn one(v: Option<Value>) -> Fetched {
    v.into_iter().collect::<Vec<_>>().into_iter()
}

/// Evaluates `f`; `iterate` is true inside ACLs.
pub(super) fn fetch(f: &Fetch, t: &mut Txn, iterate: bool) -> Fetched {
    match f {
        Fetch::Hdr {
            dir,
            name,
            occurrence,
            full,
        } => {
            let Some(map) = headers_of(t, *dir) else {
                return one(None);
            };
            let all = headers::values(map, name.as_deref(), *full);
            select(&all, *occurrence, iterate)
                .into_iter()
                .map(|v| Value::Str(Bytes::copy_from_slice(v)))
                .collect::<Vec<_>>()
                .into_iter()
        }
        Fetch::HdrVal {
            dir,
            name,
            occurrence,
        } => {
            let Some(map) = headers_of(t, *dir) else {
                return one(None);
            };
            let all = headers::values(map, name.as_deref(), false);
            select(&all, *occurrence, iterate)
                .into_iter()
                .map(|v| Value::Int(strl2ic(v)))
                .collect::<Vec<_>>()
                .into_iter()
        }
        Fetch::HdrIp {
            dir,
            name,
            occurrence,
        } => {
            let Some(map) = headers_of(t, *dir) else {
                return one(None);
            };
            let all = headers::values(map, name.as_deref(), false);
            let picked = select(&all, *occurrence, iterate);
            // In an ACL every occurrence that holds an address is a value;
            // otherwise the one selected occurrence must hold one.
            picked
                .into_iter()
                .filter_map(header_ip)
                .map(Value::Ip)
                .collect::<Vec<_>>()
                .into_iter()
        }
        Fetch::ReqSslSni | Fetch::L6(_) => {
            let out = l6(f, t);
            if iterate {
                out.values.into_iter()
            } else {
                one(out.values.into_iter().next())
            }
        }
        other => one(fetch_one(other, t)),
    }
}

/// An L6 fetch over the request buffer; nothing (for good) where there is
/// no raw buffer (HTTP proxies).
fn l6(f: &Fetch, t: &Txn) -> L6Out {
    let Some(c) = t.content else {
        return L6Out::default();
    };
    match f {
        Fetch::ReqSslSni => clienthello::sni(&c.data),
        Fetch::L6(l6) => clienthello::fetch(l6, &c.data, c.limit),
        _ => L6Out::default(),
    }
}

/// Whether more request data could change what `f` gives (HAProxy's
/// `SMP_F_MAY_CHANGE`), while content inspection is still waiting.
pub(super) fn may_change(f: &Fetch, t: &Txn) -> bool {
    match f {
        Fetch::ReqSslSni | Fetch::L6(_) => {
            t.content.is_some_and(|c| !c.inspect_done) && l6(f, t).may_change
        }
        // HTTP fetches of a `mode tcp` stream: the request head may not
        // be complete yet.
        Fetch::Path
        | Fetch::Url
        | Fetch::Query
        | Fetch::Base
        | Fetch::ReqVer
        | Fetch::Method
        | Fetch::ReqProtoHttp
        | Fetch::HttpAuth { .. }
        | Fetch::HttpAuthGroup { .. }
        | Fetch::Hdr {
            dir: HttpDir::Request,
            ..
        }
        | Fetch::HdrCnt {
            dir: HttpDir::Request,
            ..
        }
        | Fetch::HdrVal {
            dir: HttpDir::Request,
            ..
        }
        | Fetch::HdrIp {
            dir: HttpDir::Request,
            ..
        } => {
            t.req.is_none()
                && t.content
                    .is_some_and(|c| !c.inspect_done && crate::runtime::h1head::is_partial(&c.data))
        }
        _ => false,
    }
}

/// The occurrences a header fetch reads: the explicit one, every one in an
/// ACL, the last one otherwise.
fn select<'h>(all: &[&'h [u8]], occurrence: Option<i64>, iterate: bool) -> Vec<&'h [u8]> {
    match occurrence.filter(|o| *o != 0) {
        Some(occ) => headers::occurrence(all, occ).into_iter().collect(),
        None if iterate => all.to_vec(),
        None => headers::occurrence(all, -1).into_iter().collect(),
    }
}

fn headers_of<'t>(t: &Txn<'t>, dir: HttpDir) -> Option<&'t HeaderMap> {
    match dir {
        HttpDir::Request => t.req.map(|r| &r.headers),
        HttpDir::Response => t.res.map(|r| &r.headers),
    }
}

/// `hdr_ip`: a plain IPv4 address, an IPv4 address with a valid `:port`,
/// or an IPv6 address; anything else is not an address.
fn header_ip(v: &[u8]) -> Option<IpAddr> {
    let v = c_str(v);
    if let Some((a, used)) = ipv4_prefix(v) {
        if used == v.len() {
            return Some(IpAddr::V4(a));
        }
        if v.get(used) == Some(&b':') {
            let port = strl2irc(v.get(used + 1..).unwrap_or(&[]));
            if port.is_some_and(|p| (0..=65535).contains(&p)) {
                return Some(IpAddr::V4(a));
            }
        }
    }
    parse_ipv6(v).map(IpAddr::V6)
}

fn version_text(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

fn text(s: &str) -> Option<Value> {
    Some(Value::str(Bytes::copy_from_slice(s.as_bytes())))
}

fn fetch_one(f: &Fetch, t: &mut Txn) -> Option<Value> {
    let tls = t.conn.tls.as_deref();
    match f {
        Fetch::Lua { name, args } => {
            let lua = t.conn.lua.clone()?;
            lua.fetch(name, args, t)
        }
        Fetch::Stick { entry, read, table } => {
            crate::runtime::stickrules::fetch(entry, *read, table.as_deref(), t)
        }
        Fetch::AlwaysTrue => Some(Value::Bool(true)),
        Fetch::AlwaysFalse => Some(Value::Bool(false)),
        Fetch::ConstStr(s) => text(s),
        Fetch::ConstInt(i) => Some(Value::Int(*i)),
        Fetch::ConstBool(b) => Some(Value::Bool(*b)),
        Fetch::ConstBin(b) => Some(Value::bin(b.clone())),
        Fetch::ConstIpv4(a) => Some(Value::Ip(IpAddr::V4(*a))),
        Fetch::ConstIpv6(a) => Some(Value::Ip(IpAddr::V6(*a))),
        Fetch::ConstMeth(m) => Some(Value::Meth(m.clone())),
        Fetch::Src => Some(Value::Ip(t.conn.src.ip())),
        Fetch::Dst => Some(Value::Ip(t.conn.dst.ip())),
        Fetch::SrcPort => Some(Value::Int(i64::from(t.conn.src.port()))),
        Fetch::DstPort => Some(Value::Int(i64::from(t.conn.dst.port()))),
        Fetch::SslFc => Some(Value::Bool(tls.is_some())),
        Fetch::SslFcSni => tls?.sni.as_deref().and_then(text),
        Fetch::SslFcHasSni => Some(Value::Bool(tls.is_some_and(|s| s.sni.is_some()))),
        Fetch::SslFcHasCrt => Some(Value::Bool(tls?.cert_presented_this_handshake)),
        Fetch::SslFcProtocol => text(tls?.session.protocol),
        Fetch::SslFcCipher => text(tls?.session.cipher),
        Fetch::SslFcAlpn => alpn(&tls?.session),
        Fetch::SslFcIsResumed => Some(Value::Bool(tls.is_some_and(|s| s.session.resumed))),
        Fetch::SslFcErr => Some(Value::Int(tls?.error_code)),
        Fetch::SslFcErrStr => {
            let tls = tls?;
            text(&crate::tls::errors::openssl_error_string(
                u32::try_from(tls.error_code).ok()?,
                tls.error_reason?,
            ))
        }
        // 0 on a connection that reaches rule or log evaluation; the error
        // log of a failed one carries its code.
        Fetch::FcErr => Some(Value::Int(t.conn.conn_error)),
        Fetch::FcRcvdProxy => Some(Value::Bool(t.conn.proxy_header.is_some())),
        Fetch::FcPpAuthority => t
            .conn
            .proxy_header
            .as_ref()
            .and_then(|h| h.authority.clone())
            .map(Value::Str),
        Fetch::FcPpUniqueId => t
            .conn
            .proxy_header
            .as_ref()
            .and_then(|h| h.unique_id.clone())
            .map(Value::Str),
        Fetch::FcErrStr => text(crate::tls::errors::fc_err_str(t.conn.conn_error)?),
        Fetch::SslCUsed => Some(Value::Bool(tls?.client.is_some())),
        Fetch::SslCVerify => Some(Value::Int(tls?.verify_result)),
        Fetch::SslCErr => Some(Value::Int(tls?.crt_err)),
        Fetch::SslCCaErr => Some(Value::Int(tls?.ca_err)),
        Fetch::SslCCaErrDepth => Some(Value::Int(tls?.ca_err_depth)),
        Fetch::SslCChainDer => {
            let chain = &tls?.client.as_ref()?.chain_der;
            // OpenSSL's peer chain excludes the leaf: an empty one fails.
            (!chain.is_empty()).then(|| Value::bin(chain.concat()))
        }
        Fetch::SslSChainDer => {
            let server = t.backend_tls?.server.as_ref()?;
            let mut der = server.leaf.der.clone();
            der.extend(server.chain_der.iter().flatten());
            Some(Value::bin(der))
        }
        // A clear connection, or none, is not TLS; the others fail without one.
        Fetch::SslBc => Some(Value::Bool(t.backend_tls.is_some())),
        Fetch::SslBcIsResumed => Some(Value::Bool(
            t.backend_tls.is_some_and(|b| b.session.resumed),
        )),
        Fetch::SslBcProtocol => text(t.backend_tls?.session.protocol),
        Fetch::SslBcCipher => text(t.backend_tls?.session.cipher),
        Fetch::SslBcAlpn => alpn(&t.backend_tls?.session),
        Fetch::Cert { of, field } => cert_field(cert_of(t, *of)?, field),
        Fetch::ReqSslSni | Fetch::L6(_) => l6(f, t).values.into_iter().next(),
        Fetch::Path => path(&t.req?.uri.to_string()).and_then(text),
        Fetch::Url => text(&t.req?.uri.to_string()),
        Fetch::Query => {
            let uri = t.req?.uri.to_string();
            uri.split_once('?').and_then(|(_, q)| text(q))
        }
        Fetch::Base => base(t),
        Fetch::Method => Some(Value::Meth(method_from_bytes(
            t.req?.method.as_str().as_bytes(),
        ))),
        Fetch::ReqVer => text(version_text(t.req?.version)),
        Fetch::ResVer => text(version_text(t.res?.version)),
        Fetch::ReqProtoHttp => t.req.map(|_| Value::Bool(true)),
        Fetch::Status => Some(Value::Int(i64::from(t.res?.status.as_u16()))),
        Fetch::Uuid => uuid_v4().map(|u| Value::Str(Bytes::from(u))),
        Fetch::UniqueId => t.vars.unique_id.clone().map(Value::Str),
        Fetch::HttpFirstReq => Some(Value::Bool(t.vars.first_request)),
        Fetch::Nbsrv(proxy) => Some(Value::Int(t.auth.usable_servers(proxy))),
        Fetch::CaptureHdr { dir, slot } => {
            let slots = match (t.log, dir) {
                (Some(l), HttpDir::Request) => l.req_captures.as_slice(),
                (Some(l), HttpDir::Response) => l.res_captures.as_slice(),
                (None, HttpDir::Request) => t.captures.req,
                (None, HttpDir::Response) => t.captures.res,
            };
            let v = slots.get(usize::try_from(*slot).ok()?)?.as_deref()?;
            Some(Value::Str(Bytes::copy_from_slice(v)))
        }
        Fetch::HdrCnt { dir, name, full } => {
            let map = headers_of(t, *dir)?;
            let n = if *full {
                headers::line_count(map, name.as_deref())
            } else {
                headers::values(map, name.as_deref(), false).len()
            };
            Some(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        Fetch::HttpAuth { userlist } => {
            let (user, pass) = basic_credentials(t)?;
            Some(Value::Bool(t.auth.check_user(userlist, &user, &pass)))
        }
        Fetch::HttpAuthGroup { userlist } => {
            let (user, pass) = basic_credentials(t)?;
            t.auth
                .check_user(userlist, &user, &pass)
                .then(|| Value::str(user))
        }
        Fetch::Var { var, default } => match t.vars.lookup(var)? {
            Some(v) => Some(v),
            None => default.as_deref().and_then(text),
        },
        // Handled by `fetch` (they may produce several values).
        Fetch::Hdr { .. } | Fetch::HdrVal { .. } | Fetch::HdrIp { .. } => fetch(f, t, false).next(),
    }
}

/// The negotiated ALPN protocol; the fetch fails when none was agreed.
fn alpn(s: &SessionFacts) -> Option<Value> {
    s.alpn.as_ref().map(|a| Value::str(a.clone()))
}

fn cert_of<'t>(t: &Txn<'t>, of: CertOf) -> Option<&'t CertFacts> {
    let tls = t.conn.tls.as_deref();
    match of {
        CertOf::Client => tls?.client.as_ref().map(|c| c.leaf.as_ref()),
        CertOf::Frontend => tls?.frontend_cert.as_deref(),
        CertOf::Server => t.backend_tls?.server.as_ref().map(|c| c.leaf.as_ref()),
    }
}

fn cert_field(cert: &CertFacts, field: &CertField) -> Option<Value> {
    match field {
        CertField::SubjectDn(sel) => dn(&cert.subject, sel),
        CertField::IssuerDn(sel) => dn(&cert.issuer, sel),
        CertField::Serial => Some(Value::bin(cert.serial.clone())),
        CertField::Sha1 => Some(Value::bin(cert.sha1.to_vec())),
        CertField::Der => Some(Value::bin(cert.der.clone())),
        CertField::NotBefore => cert.not_before.as_deref().and_then(text),
        CertField::NotAfter => cert.not_after.as_deref().and_then(text),
        CertField::Version => Some(Value::Int(cert.version)),
        CertField::SigAlg => text(&cert.sig_alg),
        CertField::KeyAlg => text(&cert.key_alg),
    }
}

/// The DN fetches fail on an empty name, in both whole-DN formats.
fn dn(d: &DnFacts, sel: &DnSelect) -> Option<Value> {
    match sel {
        DnSelect::Whole(DnFormat::OneLine) => {
            (!d.oneline.is_empty()).then(|| Value::str(d.oneline.clone()))
        }
        DnSelect::Whole(DnFormat::Rfc2253) => d
            .rfc2253
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(text),
        DnSelect::Entry { entry, occurrence } => d
            .entry(entry, *occurrence)
            .map(|v| Value::str(Bytes::copy_from_slice(v))),
    }
}

/// `http_parse_path` then stop at `?`: the path of an origin-form or
/// absolute-form URI; none for `*`, an authority or an absolute URI
/// without path.
pub(super) fn path(uri: &str) -> Option<&str> {
    uri.get(path_range(uri.as_bytes())?)
}

/// [`path`] on bytes.
pub(super) fn path_bytes(uri: &[u8]) -> Option<&[u8]> {
    uri.get(path_range(uri)?)
}

fn path_range(uri: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = match uri.first() {
        Some(b'/') => 0,
        None | Some(b'*') => return None,
        Some(_) => {
            let after = scheme_end(uri)?;
            after + uri.get(after..)?.iter().position(|b| *b == b'/')?
        }
    };
    let len = uri
        .get(start..)?
        .iter()
        .position(|b| *b == b'?')
        .unwrap_or(uri.len() - start);
    Some(start..start + len)
}

/// Length of `scheme://` at the start of an absolute URI.
fn scheme_end(b: &[u8]) -> Option<usize> {
    if !b.first()?.is_ascii_alphabetic() {
        return None;
    }
    let mut i = 1;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    (b.get(i..i + 3) == Some(b"://")).then_some(i + 3)
}

/// `base`: the first Host value followed by the path (when it starts with
/// `/`); just the path when there is no Host.
fn base(t: &Txn) -> Option<Value> {
    let req = t.req?;
    let uri = req.uri.to_string();
    let host = headers::values(&req.headers, Some("host"), false)
        .first()
        .copied()
        .filter(|h| !h.is_empty());
    let Some(host) = host else {
        return path(&uri).and_then(text);
    };
    let mut out = host.to_vec();
    if let Some(p) = path(&uri).filter(|p| p.starts_with('/')) {
        out.extend_from_slice(p.as_bytes());
    }
    Some(Value::str(out))
}

/// Basic credentials from the first `Authorization` value, as
/// `get_http_auth`: the scheme is compared case-insensitively over its own
/// length against `Basic`, the payload must be valid base64 holding a `:`.
fn basic_credentials(t: &Txn) -> Option<(Vec<u8>, Vec<u8>)> {
    basic_auth(t.req?)
}

/// A version 4 UUID from the kernel's random source, lowercase as HAProxy
/// prints it; `None` (no sample) if the source cannot be read.
fn uuid_v4() -> Option<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// The user and password of a request's `Authorization: Basic` header,
/// parsed as HAProxy does (`get_http_auth`).
pub fn basic_auth(req: &http::request::Parts) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = *headers::values(&req.headers, Some("authorization"), false).first()?;
    let space = value.iter().position(|b| *b == b' ')?;
    if space == 0 {
        return None;
    }
    let scheme = &value[..space];
    let basic = b"Basic";
    if scheme.len() > basic.len() || !scheme.eq_ignore_ascii_case(&basic[..scheme.len()]) {
        return None;
    }
    let payload = value[space..]
        .iter()
        .position(|b| *b != b' ')
        .map_or(&[][..], |p| &value[space + p..]);
    let decoded = base64_decode(payload)?;
    let decoded = c_str(&decoded);
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}
