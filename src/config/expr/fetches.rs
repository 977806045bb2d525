//! The sample fetch table: every fetch portcullis supports, its arguments,
//! what it needs (and so where it is available), and the ACL keywords derived
//! from fetches (`path_beg` = `path -m beg`).
//!
//! Availability per stage follows HAProxy 2.6's `SMP_USE_*` classes as dumped by
//! `haproxy -dKall` (e.g. `path` is usable from `tcp-request content` to server
//! selection but not in `http-response` nor in logs).

use super::Stage;
use crate::ir::expr::{Fetch, HttpDir, HttpMethod, L6Fetch, LvOffset, StrMatch, VarName};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Types of fetch / converter arguments (HAProxy `ARGT_*` names in messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    Str,
    Int,
    Userlist,
    Ipv4,
    Ipv6,
}

impl ArgKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ArgKind::Str => "string",
            ArgKind::Int => "integer",
            ArgKind::Userlist => "user list",
            ArgKind::Ipv4 => "IPv4 address",
            ArgKind::Ipv6 => "IPv6 address",
        }
    }
}

/// A typed argument value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArgVal {
    Str(String),
    Int(i64),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

/// What a fetch reads, which decides where it is available (HAProxy's
/// `SMP_USE_*`) and whether it needs HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Constants, variables: everywhere.
    Const,
    /// Client addresses: everywhere.
    L4Client,
    /// Client TLS connection: from `tcp-request session` on.
    L5Client,
    /// The connection to the server (`ssl_bc*`): response side and logs.
    L5Server,
    /// Raw request buffer (`req.ssl_sni`).
    L6Request,
    /// HTTP request headers (`path`, `req.hdr`…): request side only.
    HttpReqHeaders,
    /// HTTP request line (`method`): also later stages and logs.
    HttpRequest,
    /// `req.proto_http`: like `HttpRequest`, and meaningful in `mode tcp`.
    ProtoHttp,
    /// `hdr`: request or response headers, not logs.
    HttpAnyHeaders,
    /// HTTP response headers.
    HttpResHeaders,
    /// HTTP response status: response side and logs.
    HttpResponse,
}

impl Class {
    /// Whether a fetch of this class can be evaluated at `stage`.
    pub(crate) fn available_at(self, stage: Stage) -> bool {
        use Stage::*;
        let req_side = matches!(stage, TcpContent | HttpRequest | ServerSni | Acl);
        let res_side = matches!(stage, HttpResponse | TcpResponse | Acl);
        match self {
            Class::Const | Class::L4Client => true,
            Class::L5Client => stage != TcpConnection,
            Class::L5Server => res_side || stage == Log,
            Class::L6Request | Class::HttpReqHeaders => req_side,
            Class::HttpRequest | Class::ProtoHttp => req_side || res_side || stage == Log,
            Class::HttpAnyHeaders => req_side || res_side,
            Class::HttpResHeaders => res_side,
            Class::HttpResponse => res_side || stage == Log,
        }
    }

    /// What the fetch needs, in HAProxy's words (`sample_src_names`).
    pub(crate) fn needs(self) -> &'static str {
        match self {
            Class::Const => "constant",
            Class::L4Client => "client address",
            Class::L5Client => "client-side connection",
            Class::L5Server => "server-side connection",
            Class::L6Request => "request buffer",
            Class::HttpReqHeaders => "HTTP request headers",
            Class::HttpRequest | Class::ProtoHttp => "HTTP request",
            Class::HttpAnyHeaders => "HTTP request headers,HTTP response headers",
            Class::HttpResHeaders => "HTTP response headers",
            Class::HttpResponse => "HTTP response",
        }
    }

    /// True when the fetch needs HTTP parsing, which portcullis only does in
    /// `mode http` proxies.
    pub(crate) fn needs_http_mode(self) -> bool {
        matches!(
            self,
            Class::HttpReqHeaders
                | Class::HttpRequest
                | Class::HttpAnyHeaders
                | Class::HttpResHeaders
                | Class::HttpResponse
        )
    }
}

/// The class of a built fetch.
pub(crate) fn class_of(fetch: &Fetch) -> Class {
    match fetch {
        Fetch::AlwaysTrue
        | Fetch::AlwaysFalse
        | Fetch::ConstStr(_)
        | Fetch::ConstInt(_)
        | Fetch::ConstBool(_)
        | Fetch::ConstBin(_)
        | Fetch::ConstIpv4(_)
        | Fetch::ConstIpv6(_)
        | Fetch::ConstMeth(_)
        | Fetch::Var { .. }
        | Fetch::Uuid
        | Fetch::Nbsrv(_)
        | Fetch::Lua { .. }
        | Fetch::Stick { .. } => Class::Const,
        Fetch::Src
        | Fetch::Dst
        | Fetch::SrcPort
        | Fetch::DstPort
        | Fetch::FcErr
        | Fetch::FcErrStr
        | Fetch::FcRcvdProxy
        | Fetch::FcPpAuthority
        | Fetch::FcPpUniqueId => Class::L4Client,
        Fetch::SslFc
        | Fetch::SslFcSni
        | Fetch::SslFcHasSni
        | Fetch::SslFcHasCrt
        | Fetch::SslFcProtocol
        | Fetch::SslFcCipher
        | Fetch::SslFcAlpn
        | Fetch::SslFcIsResumed
        | Fetch::SslFcErr
        | Fetch::SslFcErrStr
        | Fetch::SslCUsed
        | Fetch::SslCVerify
        | Fetch::SslCErr
        | Fetch::SslCCaErr
        | Fetch::SslCCaErrDepth
        | Fetch::SslCChainDer
        // HAProxy 2.6 declares the `ssl_s_*` fetches like `ssl_c_*`
        // (SMP_USE_L5CLI): accepted from `tcp-request session` on, they
        // find no server connection before one exists and fail there.
        | Fetch::SslSChainDer
        | Fetch::Cert { .. } => Class::L5Client,
        Fetch::SslBc
        | Fetch::SslBcIsResumed
        | Fetch::SslBcProtocol
        | Fetch::SslBcCipher
        | Fetch::SslBcAlpn => Class::L5Server,
        Fetch::ReqSslSni | Fetch::L6(_) => Class::L6Request,
        Fetch::Path
        | Fetch::Url
        | Fetch::Query
        | Fetch::Base
        | Fetch::ReqVer
        | Fetch::HttpAuth { .. }
        | Fetch::HttpAuthGroup { .. } => Class::HttpReqHeaders,
        Fetch::Method | Fetch::UniqueId | Fetch::HttpFirstReq => Class::HttpRequest,
        Fetch::ReqProtoHttp => Class::ProtoHttp,
        Fetch::ResVer => Class::HttpResHeaders,
        Fetch::Status => Class::HttpResponse,
        // HAProxy: SMP_USE_HRQHP / SMP_USE_HRSHP, like `method` / `status`.
        Fetch::CaptureHdr { dir, .. } => match dir {
            HttpDir::Request => Class::HttpRequest,
            HttpDir::Response => Class::HttpResponse,
        },
        Fetch::Hdr { dir, .. }
        | Fetch::HdrCnt { dir, .. }
        | Fetch::HdrVal { dir, .. }
        | Fetch::HdrIp { dir, .. } => match dir {
            HttpDir::Request => Class::HttpReqHeaders,
            HttpDir::Response => Class::HttpResHeaders,
        },
    }
}

/// The class of a fetch keyword as HAProxy declares it (`hdr` works on both
/// sides), for availability checks before the direction is resolved.
pub(crate) fn class_of_keyword(name: &str, fetch: &Fetch) -> Class {
    if name == "hdr" {
        Class::HttpAnyHeaders
    } else {
        class_of(fetch)
    }
}

/// Argument list of a supported fetch.
pub(crate) struct FetchSpec {
    pub name: &'static str,
    pub args: &'static [ArgKind],
    /// Mandatory leading arguments.
    pub min: usize,
}

const NONE: &[ArgKind] = &[];
const DN: &[ArgKind] = &[ArgKind::Str, ArgKind::Int, ArgKind::Str];
const HDR: &[ArgKind] = &[ArgKind::Str, ArgKind::Int];
const NAME: &[ArgKind] = &[ArgKind::Str];

macro_rules! specs {
    ($($name:literal => $args:expr, $min:literal;)*) => {
        /// Every supported fetch with its arguments.
        pub(crate) const FETCH_SPECS: &[FetchSpec] = &[$(FetchSpec { name: $name, args: $args, min: $min },)*];
        /// Every supported fetch name.
        pub(crate) const SUPPORTED_NAMES: &[&str] = &[$($name,)*];
    };
}

specs! {
    "always_true" => NONE, 0;
    "always_false" => NONE, 0;
    "str" => &[ArgKind::Str], 1;
    "int" => &[ArgKind::Int], 1;
    "bool" => &[ArgKind::Str], 1;
    "bin" => &[ArgKind::Str], 1;
    "ipv4" => &[ArgKind::Ipv4], 1;
    "ipv6" => &[ArgKind::Ipv6], 1;
    "meth" => &[ArgKind::Str], 1;
    "src" => NONE, 0;
    "dst" => NONE, 0;
    "src_port" => NONE, 0;
    "dst_port" => NONE, 0;
    "ssl_fc" => NONE, 0;
    "ssl_fc_sni" => NONE, 0;
    "ssl_fc_has_sni" => NONE, 0;
    "ssl_fc_has_crt" => NONE, 0;
    "ssl_fc_protocol" => NONE, 0;
    "ssl_fc_cipher" => NONE, 0;
    "ssl_fc_alpn" => NONE, 0;
    "ssl_fc_is_resumed" => NONE, 0;
    "ssl_fc_err" => NONE, 0;
    "fc_err" => NONE, 0;
    "fc_err_str" => NONE, 0;
    "fc_rcvd_proxy" => NONE, 0;
    "fc_pp_authority" => NONE, 0;
    "fc_pp_unique_id" => NONE, 0;
    "ssl_fc_err_str" => NONE, 0;
    "ssl_c_used" => NONE, 0;
    "ssl_c_verify" => NONE, 0;
    "ssl_c_err" => NONE, 0;
    "ssl_c_ca_err" => NONE, 0;
    "ssl_c_ca_err_depth" => NONE, 0;
    "ssl_c_chain_der" => NONE, 0;
    "ssl_c_s_dn" => DN, 0;
    "ssl_c_i_dn" => DN, 0;
    "ssl_c_serial" => NONE, 0;
    "ssl_c_sha1" => NONE, 0;
    "ssl_c_der" => NONE, 0;
    "ssl_c_notbefore" => NONE, 0;
    "ssl_c_notafter" => NONE, 0;
    "ssl_c_version" => NONE, 0;
    "ssl_c_sig_alg" => NONE, 0;
    "ssl_c_key_alg" => NONE, 0;
    "ssl_f_s_dn" => DN, 0;
    "ssl_f_i_dn" => DN, 0;
    "ssl_f_serial" => NONE, 0;
    "ssl_f_sha1" => NONE, 0;
    "ssl_f_der" => NONE, 0;
    "ssl_f_notbefore" => NONE, 0;
    "ssl_f_notafter" => NONE, 0;
    "ssl_f_version" => NONE, 0;
    "ssl_f_sig_alg" => NONE, 0;
    "ssl_f_key_alg" => NONE, 0;
    "ssl_s_s_dn" => DN, 0;
    "ssl_s_i_dn" => DN, 0;
    "ssl_s_serial" => NONE, 0;
    "ssl_s_sha1" => NONE, 0;
    "ssl_s_der" => NONE, 0;
    "ssl_s_chain_der" => NONE, 0;
    "ssl_s_notbefore" => NONE, 0;
    "ssl_s_notafter" => NONE, 0;
    "ssl_s_version" => NONE, 0;
    "ssl_s_sig_alg" => NONE, 0;
    "ssl_s_key_alg" => NONE, 0;
    "ssl_bc" => NONE, 0;
    "ssl_bc_is_resumed" => NONE, 0;
    "ssl_bc_protocol" => NONE, 0;
    "ssl_bc_cipher" => NONE, 0;
    "ssl_bc_alpn" => NONE, 0;
    "req.ssl_sni" => NONE, 0;
    "req_ssl_sni" => NONE, 0;
    "req.len" => NONE, 0;
    "req_len" => NONE, 0;
    "req.payload" => &[ArgKind::Int, ArgKind::Int], 2;
    "payload" => &[ArgKind::Int, ArgKind::Int], 2;
    "req.payload_lv" => &[ArgKind::Int, ArgKind::Int, ArgKind::Str], 2;
    "payload_lv" => &[ArgKind::Int, ArgKind::Int, ArgKind::Str], 2;
    "req.ssl_hello_type" => NONE, 0;
    "req_ssl_hello_type" => NONE, 0;
    "req.ssl_ver" => NONE, 0;
    "req_ssl_ver" => NONE, 0;
    "req.ssl_alpn" => NONE, 0;
    "req.ssl_ec_ext" => NONE, 0;
    "req.ssl_st_ext" => NONE, 0;
    "path" => NONE, 0;
    "url" => NONE, 0;
    "method" => NONE, 0;
    "query" => NONE, 0;
    "base" => NONE, 0;
    "req.ver" => NONE, 0;
    "req_ver" => NONE, 0;
    "res.ver" => NONE, 0;
    "resp_ver" => NONE, 0;
    "req.proto_http" => NONE, 0;
    "req_proto_http" => NONE, 0;
    "status" => NONE, 0;
    "uuid" => &[ArgKind::Int], 0;
    "unique-id" => NONE, 0;
    "http_first_req" => NONE, 0;
    "nbsrv" => &[ArgKind::Str], 0;
    "capture.req.hdr" => &[ArgKind::Int], 1;
    "capture.res.hdr" => &[ArgKind::Int], 1;
    "hdr" => HDR, 0;
    "req.hdr" => HDR, 0;
    "res.hdr" => HDR, 0;
    "shdr" => HDR, 0;
    "req.fhdr" => HDR, 0;
    "res.fhdr" => HDR, 0;
    "hdr_cnt" => NAME, 0;
    "req.hdr_cnt" => NAME, 0;
    "res.hdr_cnt" => NAME, 0;
    "shdr_cnt" => NAME, 0;
    "req.fhdr_cnt" => NAME, 0;
    "res.fhdr_cnt" => NAME, 0;
    "hdr_val" => HDR, 0;
    "req.hdr_val" => HDR, 0;
    "res.hdr_val" => HDR, 0;
    "shdr_val" => HDR, 0;
    "hdr_ip" => HDR, 0;
    "req.hdr_ip" => HDR, 0;
    "res.hdr_ip" => HDR, 0;
    "shdr_ip" => HDR, 0;
    "http_auth" => &[ArgKind::Userlist], 1;
    "http_auth_group" => &[ArgKind::Userlist], 1;
    "var" => &[ArgKind::Str, ArgKind::Str], 1;
}

/// The spec of a supported fetch.
pub(crate) fn spec(name: &str) -> Option<&'static FetchSpec> {
    FETCH_SPECS.iter().find(|s| s.name == name)
}

/// The match an ACL keyword implies when no converter follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Implied {
    Str(StrMatch),
    Len,
    Reg,
    Method,
    AuthGroup,
    /// Binary match (`payload`, `payload_lv`).
    Bin,
    /// Integer match with `major.minor` patterns (`req_ssl_ver 3.1`).
    DottedVer,
}

/// An ACL keyword: a fetch plus an implied match method.
pub(crate) struct AclKeyword {
    pub name: &'static str,
    pub fetch: &'static str,
    pub implied: Implied,
}

macro_rules! derived {
    ($($prefix:literal => $fetch:literal),* $(,)?) => {
        /// Supported ACL keywords (HAProxy 2.6 `acl_kws`).
        pub(crate) const ACL_KEYWORDS: &[AclKeyword] = &[
            $(
                AclKeyword { name: $prefix, fetch: $fetch, implied: Implied::Str(StrMatch::Exact) },
                AclKeyword { name: concat!($prefix, "_beg"), fetch: $fetch, implied: Implied::Str(StrMatch::Prefix) },
                AclKeyword { name: concat!($prefix, "_dir"), fetch: $fetch, implied: Implied::Str(StrMatch::Dir) },
                AclKeyword { name: concat!($prefix, "_dom"), fetch: $fetch, implied: Implied::Str(StrMatch::Dom) },
                AclKeyword { name: concat!($prefix, "_end"), fetch: $fetch, implied: Implied::Str(StrMatch::Suffix) },
                AclKeyword { name: concat!($prefix, "_len"), fetch: $fetch, implied: Implied::Len },
                AclKeyword { name: concat!($prefix, "_reg"), fetch: $fetch, implied: Implied::Reg },
                AclKeyword { name: concat!($prefix, "_sub"), fetch: $fetch, implied: Implied::Str(StrMatch::Substring) },
            )*
            AclKeyword { name: "method", fetch: "method", implied: Implied::Method },
            AclKeyword { name: "http_auth_group", fetch: "http_auth_group", implied: Implied::AuthGroup },
            AclKeyword { name: "req_ssl_sni", fetch: "req.ssl_sni", implied: Implied::Str(StrMatch::Exact) },
            AclKeyword { name: "payload", fetch: "req.payload", implied: Implied::Bin },
            AclKeyword { name: "payload_lv", fetch: "req.payload_lv", implied: Implied::Bin },
            AclKeyword { name: "req_ssl_ver", fetch: "req.ssl_ver", implied: Implied::DottedVer },
            AclKeyword { name: "req.ssl_ver", fetch: "req.ssl_ver", implied: Implied::DottedVer },
            AclKeyword { name: "req_ver", fetch: "req.ver", implied: Implied::Str(StrMatch::Exact) },
            AclKeyword { name: "resp_ver", fetch: "res.ver", implied: Implied::Str(StrMatch::Exact) },
            AclKeyword { name: "ssl_fc_sni_end", fetch: "ssl_fc_sni", implied: Implied::Str(StrMatch::Suffix) },
            AclKeyword { name: "ssl_fc_sni_reg", fetch: "ssl_fc_sni", implied: Implied::Reg },
        ];
    };
}

derived! {
    "base" => "base",
    "hdr" => "req.hdr",
    "path" => "path",
    "shdr" => "res.hdr",
    "url" => "url",
}

/// The supported ACL keyword called `name`.
pub(crate) fn acl_keyword(name: &str) -> Option<&'static AclKeyword> {
    ACL_KEYWORDS.iter().find(|k| k.name == name)
}

/// Builds a fetch from its name and typed arguments (`None` for an argument
/// left out). `dir` resolves `hdr`, which reads the response in response rules.
/// Errors carry the 0-based argument index and the reason.
pub(crate) fn build(
    name: &str,
    args: &[Option<ArgVal>],
    dir: HttpDir,
) -> Result<Fetch, (usize, String)> {
    let s = |i: usize| match args.get(i) {
        Some(Some(ArgVal::Str(v))) => Some(v.clone()),
        _ => None,
    };
    let n = |i: usize| match args.get(i) {
        Some(Some(ArgVal::Int(v))) => Some(*v),
        _ => None,
    };
    let name_arg = |i: usize| s(i).filter(|v| !v.is_empty());
    let hdr = |dir, full| -> Result<Fetch, (usize, String)> {
        Ok(Fetch::Hdr {
            dir,
            name: name_arg(0),
            occurrence: occurrence(n(1))?,
            full,
        })
    };
    let cnt = |dir, full| Fetch::HdrCnt {
        dir,
        name: name_arg(0),
        full,
    };
    let val = |dir| -> Result<Fetch, (usize, String)> {
        Ok(Fetch::HdrVal {
            dir,
            name: name_arg(0),
            occurrence: occurrence(n(1))?,
        })
    };
    let ip = |dir| -> Result<Fetch, (usize, String)> {
        Ok(Fetch::HdrIp {
            dir,
            name: name_arg(0),
            occurrence: occurrence(n(1))?,
        })
    };
    if let Some(tls) = super::tls_fetches::build(name, args) {
        return tls;
    }
    use HttpDir::{Request as Req, Response as Res};
    let fetch = match name {
        "always_true" => Fetch::AlwaysTrue,
        "always_false" => Fetch::AlwaysFalse,
        "str" => Fetch::ConstStr(s(0).unwrap_or_default()),
        "int" => Fetch::ConstInt(n(0).unwrap_or_default()),
        "bool" => Fetch::ConstBool(const_bool(&s(0).unwrap_or_default())?),
        "bin" => Fetch::ConstBin(parse_hex(&s(0).unwrap_or_default()).map_err(|e| (0, e))?),
        "ipv4" => match args.first() {
            Some(Some(ArgVal::Ipv4(a))) => Fetch::ConstIpv4(*a),
            _ => return Err((0, "expects an IPv4 address".into())),
        },
        "ipv6" => match args.first() {
            Some(Some(ArgVal::Ipv6(a))) => Fetch::ConstIpv6(*a),
            _ => return Err((0, "expects an IPv6 address".into())),
        },
        "meth" => Fetch::ConstMeth(const_meth(&s(0).unwrap_or_default())?),
        "src" => Fetch::Src,
        "dst" => Fetch::Dst,
        "src_port" => Fetch::SrcPort,
        "dst_port" => Fetch::DstPort,
        "req.ssl_sni" | "req_ssl_sni" => Fetch::ReqSslSni,
        "req.len" | "req_len" => Fetch::L6(L6Fetch::Len),
        "req.payload" | "payload" => Fetch::L6(L6Fetch::Payload {
            offset: non_negative(n(0), 0, "payload offset must be positive")?,
            len: non_negative(n(1), 1, "payload length must be positive")?,
        }),
        "req.payload_lv" | "payload_lv" => payload_lv(n(0), n(1), s(2))?,
        "req.ssl_hello_type" | "req_ssl_hello_type" => Fetch::L6(L6Fetch::SslHelloType),
        "req.ssl_ver" | "req_ssl_ver" => Fetch::L6(L6Fetch::SslVer),
        "req.ssl_alpn" => Fetch::L6(L6Fetch::SslAlpn),
        "req.ssl_ec_ext" => Fetch::L6(L6Fetch::SslEcExt),
        "req.ssl_st_ext" => Fetch::L6(L6Fetch::SslStExt),
        "path" => Fetch::Path,
        "url" => Fetch::Url,
        "method" => Fetch::Method,
        "query" => Fetch::Query,
        "base" => Fetch::Base,
        "req.ver" | "req_ver" => Fetch::ReqVer,
        "res.ver" | "resp_ver" => Fetch::ResVer,
        "req.proto_http" | "req_proto_http" => Fetch::ReqProtoHttp,
        "status" => Fetch::Status,
        "unique-id" => Fetch::UniqueId,
        "http_first_req" => Fetch::HttpFirstReq,
        // The proxy is resolved against the configuration by the caller.
        "nbsrv" => Fetch::Nbsrv(s(0).unwrap_or_default()),
        "uuid" => match n(0) {
            None | Some(4) => Fetch::Uuid,
            Some(_) => return Err((0, "Unsupported UUID version".into())),
        },
        "capture.req.hdr" | "capture.res.hdr" => Fetch::CaptureHdr {
            dir: if name == "capture.req.hdr" { Req } else { Res },
            slot: n(0).unwrap_or(0),
        },
        "hdr" => hdr(dir, false)?,
        "req.hdr" => hdr(Req, false)?,
        "res.hdr" | "shdr" => hdr(Res, false)?,
        "req.fhdr" => hdr(Req, true)?,
        "res.fhdr" => hdr(Res, true)?,
        "hdr_cnt" | "req.hdr_cnt" => cnt(Req, false),
        "res.hdr_cnt" | "shdr_cnt" => cnt(Res, false),
        "req.fhdr_cnt" => cnt(Req, true),
        "res.fhdr_cnt" => cnt(Res, true),
        "hdr_val" | "req.hdr_val" => val(Req)?,
        "res.hdr_val" | "shdr_val" => val(Res)?,
        "hdr_ip" | "req.hdr_ip" => ip(Req)?,
        "res.hdr_ip" | "shdr_ip" => ip(Res)?,
        "http_auth" => Fetch::HttpAuth {
            userlist: s(0).unwrap_or_default(),
        },
        "http_auth_group" => Fetch::HttpAuthGroup {
            userlist: s(0).unwrap_or_default(),
        },
        "var" => Fetch::Var {
            var: var_name(&s(0).unwrap_or_default()).map_err(|e| (0, e))?,
            default: s(1),
        },
        other => return Err((0, format!("'{other}' has no builder"))),
    };
    Ok(fetch)
}

/// An offset or length of the payload fetches: HAProxy reads them as
/// unsigned numbers, so a negative one could never match; refused here.
fn non_negative(v: Option<i64>, index: usize, msg: &str) -> Result<u32, (usize, String)> {
    let v = v.unwrap_or_default();
    u32::try_from(v).map_err(|_| (index, msg.to_string()))
}

/// `payload_lv(<len offset>,<len size>[,<buf offset>])`, validated as
/// HAProxy's `val_payload_lv`: the length field is 1 to 4 bytes (HAProxy
/// reads more into a 32-bit integer, which only overflows), the third
/// argument is a number, relative to the end of the length field when it
/// starts with `+` or `-`.
fn payload_lv(
    len_offset: Option<i64>,
    len_size: Option<i64>,
    buf_offset: Option<String>,
) -> Result<Fetch, (usize, String)> {
    let len_offset = non_negative(len_offset, 0, "payload offset1 must be positive")?;
    let len_size = len_size.unwrap_or_default();
    if len_size == 0 {
        return Err((1, "payload length must be > 0".into()));
    }
    if !(1..=4).contains(&len_size) {
        return Err((1, "the length field of payload_lv is 1 to 4 bytes".into()));
    }
    let len_size = len_size as u32;
    let buf_offset = match buf_offset.filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => {
            let relative = text.starts_with(['+', '-']);
            let v: i64 = text
                .parse()
                .map_err(|_| (2, "payload offset2 is not a number".to_string()))?;
            if i64::from(len_offset) + i64::from(len_size) + v < 0 {
                return Err((2, "payload offset2 too negative".into()));
            }
            Some(if relative {
                LvOffset::Relative(v)
            } else {
                LvOffset::Absolute(v)
            })
        }
    };
    Ok(Fetch::L6(L6Fetch::PayloadLv {
        len_offset,
        len_size,
        buf_offset,
    }))
}

/// HAProxy keeps at most 10 previous header occurrences (`MAX_HDR_HISTORY`).
fn occurrence(occ: Option<i64>) -> Result<Option<i64>, (usize, String)> {
    match occ {
        Some(o) if o < -10 => Err((1, "header occurrence must be >= -10".into())),
        other => Ok(other),
    }
}

fn const_bool(text: &str) -> Result<bool, (usize, String)> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err((0, "expects 'true', 'false', '0' or '1'".into())),
    }
}

fn const_meth(text: &str) -> Result<HttpMethod, (usize, String)> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if text.is_empty() || !text.chars().all(token) {
        return Err((0, "expects valid method".into()));
    }
    Ok(HttpMethod::parse(text))
}

/// Parses hex digits into bytes (HAProxy `parse_binary`).
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("an even number of hex digit is expected".into());
    }
    let digit = |c: u8| -> Result<u8, String> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("an hex digit is expected (found '{}')", c as char))
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Ok((digit(*hi)? << 4) | digit(*lo)?),
            _ => Err("an even number of hex digit is expected".into()),
        })
        .collect()
}

/// Parses a variable name `scope.name` (HAProxy `vars_hash_name`): used by
/// `var()`, `set-var()` and lowering's `set-var(...)` actions.
pub fn var_name(text: &str) -> Result<VarName, String> {
    use crate::ir::expr::VarScope::*;
    if text.is_empty() {
        return Err("Empty variable name cannot be accepted".into());
    }
    let scopes = [
        ("proc.", Proc),
        ("sess.", Sess),
        ("txn.", Txn),
        ("req.", Req),
        ("res.", Res),
        ("check.", Check),
    ];
    let found = scopes.iter().find_map(|(p, s)| {
        text.strip_prefix(p)
            .filter(|rest| !rest.is_empty())
            .map(|rest| (*s, rest))
    });
    let Some((scope, name)) = found else {
        return Err(format!(
            "invalid variable name '{text}'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"
        ));
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '_' && *c != '.')
    {
        return Err(format!(
            "invalid character '{bad}' in variable name '{text}'"
        ));
    }
    Ok(VarName {
        scope,
        name: name.to_string(),
    })
}

#[cfg(test)]
#[path = "fetches_tests.rs"]
mod tests;
