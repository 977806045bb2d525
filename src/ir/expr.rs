//! IR of sample expressions, ACLs, conditions and log-format strings.
//!
//! Produced by `config::expr` (which parses, types and validates the text) and
//! consumed by the runtime's rule engine. Everything a rule needs at request time
//! is already decided here: fetches and converters are enums with typed
//! arguments, patterns are parsed to their typed form, so evaluation never looks
//! at a keyword name or re-parses text. Types follow HAProxy 2.6 (`sample.c`):
//! a fetch produces a [`SampleType`], each converter casts its input with
//! [`SampleType::can_cast_to`] and produces its own output type.

use crate::diag::Span;
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Proxy mode: decides which fetches and log-format aliases make sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Mode {
    Http,
    Tcp,
}

/// The type of a sample, as HAProxy types them (`SMP_T_*`). `Any` is what
/// `var()` and `set-var()` produce: the real type is only known at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum SampleType {
    Any,
    Bool,
    Int,
    Addr,
    Ipv4,
    Ipv6,
    Str,
    Bin,
    Meth,
}

impl SampleType {
    /// HAProxy's name for the type (used in messages, e.g. `sint`).
    pub fn name(self) -> &'static str {
        match self {
            SampleType::Any => "any",
            SampleType::Bool => "bool",
            SampleType::Int => "sint",
            SampleType::Addr => "addr",
            SampleType::Ipv4 => "ipv4",
            SampleType::Ipv6 => "ipv6",
            SampleType::Str => "str",
            SampleType::Bin => "bin",
            SampleType::Meth => "meth",
        }
    }

    /// Whether a value of this type can be cast to `to` (HAProxy 2.6's
    /// `sample_casts` matrix; the runtime applies the same casts). Used at check
    /// time to refuse a converter or match method that can never apply.
    pub fn can_cast_to(self, to: SampleType) -> bool {
        use SampleType::*;
        match (self, to) {
            (_, Any) | (Any, _) => true,
            (Bool, Bool | Int | Str | Bin) => true,
            (Bool, _) => false,
            (Int, Meth) => false,
            (Int, _) => true,
            (Addr, _) => false,
            (Ipv4, Int | Addr | Ipv4 | Ipv6 | Str | Bin) => true,
            (Ipv4, _) => false,
            (Ipv6, Addr | Ipv4 | Ipv6 | Str | Bin) => true,
            (Ipv6, _) => false,
            (Str, _) => true,
            (Bin, Str | Bin | Meth) => true,
            (Bin, _) => false,
            (Meth, Str | Bin | Meth) => true,
            (Meth, _) => false,
        }
    }
}

/// A sample expression: one fetch and a chain of converters
/// (`req.hdr(host),field(1,:),lower`).
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub fetch: Fetch,
    pub converters: Vec<Converter>,
    /// The fetch keyword as written (`hdr_beg`, `req.hdr`), for logs and messages.
    pub keyword: String,
    /// Static output type of the whole expression (after the last converter).
    pub out_type: SampleType,
    pub span: Span,
}

impl Sample {
    /// Userlists this expression refers to (`http_auth(L1)`), so lowering can
    /// check they exist.
    pub fn userlists(&self) -> impl Iterator<Item = &str> {
        match &self.fetch {
            Fetch::HttpAuth { userlist } | Fetch::HttpAuthGroup { userlist } => {
                Some(userlist.as_str())
            }
            _ => None,
        }
        .into_iter()
    }
}

/// Which direction of an HTTP exchange a header fetch reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum HttpDir {
    Request,
    Response,
}

/// Whose certificate a certificate fetch reads: the client's (`ssl_c_*`),
/// the one the frontend presented (`ssl_f_*`), or the one the server
/// presented on the connection that carried the response (`ssl_s_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum CertOf {
    Client,
    Frontend,
    Server,
}

/// How a whole distinguished name is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DnFormat {
    /// OpenSSL "oneline": `/CN=x/O=y`, in certificate order (the default).
    OneLine,
    /// RFC 2253: `O=y,CN=x` (reversed, comma separated).
    Rfc2253,
}

/// What a DN fetch (`ssl_c_s_dn([entry[,occ[,format]]])`) returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DnSelect {
    /// The whole DN.
    Whole(DnFormat),
    /// The value of one attribute: `entry` is matched case-insensitively
    /// against the attribute's short name (`CN`); `occurrence` counts from
    /// the start when positive, from the end when negative (0 never matches).
    Entry { entry: String, occurrence: i64 },
}

/// A field of a certificate, shared by `ssl_c_*`, `ssl_f_*` and `ssl_s_*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CertField {
    SubjectDn(DnSelect),
    IssuerDn(DnSelect),
    /// Binary serial (magnitude bytes).
    Serial,
    /// Binary SHA-1 of the DER.
    Sha1,
    /// Binary DER of the certificate.
    Der,
    /// `YYMMDDhhmmssZ` string.
    NotBefore,
    NotAfter,
    /// X.509 version number (v3 → 3).
    Version,
    SigAlg,
    KeyAlg,
}

/// Variable scopes of `var()` / `set-var()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum VarScope {
    Proc,
    Sess,
    Txn,
    Req,
    Res,
    Check,
}

/// A variable reference `scope.name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct VarName {
    pub scope: VarScope,
    /// The name without its scope prefix.
    pub name: String,
}

/// Conditions of the `set-var()` converter (`ifexists`, `ifgt`…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum VarCondition {
    IfExists,
    IfNotExists,
    IfEmpty,
    IfNotEmpty,
    IfSet,
    IfNotSet,
    IfGt,
    IfLt,
}

/// An HTTP method, as HAProxy classifies them (known methods are matched
/// case-sensitively, others by their text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum HttpMethod {
    Options,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Connect,
    Other(String),
}

impl HttpMethod {
    /// Classifies a method token exactly as HAProxy's `find_http_meth`.
    pub fn parse(text: &str) -> HttpMethod {
        match text {
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            "POST" => HttpMethod::Post,
            "CONNECT" => HttpMethod::Connect,
            "PUT" => HttpMethod::Put,
            "OPTIONS" => HttpMethod::Options,
            "DELETE" => HttpMethod::Delete,
            "TRACE" => HttpMethod::Trace,
            other => HttpMethod::Other(other.to_string()),
        }
    }
}

/// Every fetch portcullis supports, with validated arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Fetch {
    /// `lua.<name>(args…)`: a function a script registered with
    /// `core.register_fetches`; its arguments are strings.
    Lua {
        name: String,
        args: Vec<String>,
    },
    // Constants.
    AlwaysTrue,
    AlwaysFalse,
    ConstStr(String),
    ConstInt(i64),
    ConstBool(bool),
    ConstBin(Vec<u8>),
    ConstIpv4(Ipv4Addr),
    ConstIpv6(Ipv6Addr),
    ConstMeth(HttpMethod),
    // Layer 4 of the client connection.
    Src,
    Dst,
    SrcPort,
    DstPort,
    // TLS of the client connection.
    SslFc,
    SslFcSni,
    SslFcHasSni,
    SslFcHasCrt,
    SslFcProtocol,
    SslFcCipher,
    SslFcAlpn,
    SslFcIsResumed,
    SslFcErr,
    /// `fc_err`: connection-level error code (0 once a request is served).
    FcErr,
    /// `fc_err_str`: HAProxy's message for `fc_err`.
    FcErrStr,
    /// `ssl_fc_err_str`: OpenSSL's error string of `ssl_fc_err`.
    SslFcErrStr,
    /// `fc_rcvd_proxy`: the connection opened with a PROXY header.
    FcRcvdProxy,
    /// `fc_pp_authority`: the AUTHORITY TLV of that header.
    FcPpAuthority,
    /// `fc_pp_unique_id`: the UNIQUE_ID TLV of that header.
    FcPpUniqueId,
    /// `ssl_c_used`: a client certificate is attached to the session (also
    /// on resumed sessions).
    SslCUsed,
    /// `ssl_c_verify`: final verify result (0 also when there is no cert).
    SslCVerify,
    SslCErr,
    SslCCaErr,
    SslCCaErrDepth,
    /// DER of the chain the client sent after its leaf.
    SslCChainDer,
    /// DER of the server's chain, its leaf first (`ssl_s_chain_der`:
    /// OpenSSL's client-side peer chain includes the leaf).
    SslSChainDer,
    // TLS of the connection to the server that carried the response.
    /// `ssl_bc`: that connection is TLS.
    SslBc,
    SslBcIsResumed,
    SslBcProtocol,
    SslBcCipher,
    SslBcAlpn,
    /// A field of the client's (`ssl_c_*`), the frontend's (`ssl_f_*`) or
    /// the server's (`ssl_s_*`) certificate.
    Cert {
        of: CertOf,
        field: CertField,
    },
    /// SNI parsed from a raw ClientHello in the request buffer (TCP passthrough).
    ReqSslSni,
    /// The fetches over the raw request buffer (`mode tcp` content
    /// inspection), HAProxy 2.6's `payload.c`.
    L6(L6Fetch),
    // HTTP.
    Path,
    Url,
    Method,
    Query,
    Base,
    /// `req.ver`: `1.1`, `2.0`…
    ReqVer,
    ResVer,
    /// `req.proto_http`: the request buffer holds a valid HTTP request.
    ReqProtoHttp,
    Status,
    /// `uuid([4])`: a random RFC 4122 version 4 UUID, new at each evaluation.
    Uuid,
    /// `unique-id`: the request's ID from the frontend's `unique-id-format`.
    UniqueId,
    /// `http_first_req`: the request is the first of its HTTP/1 connection
    /// (every HTTP/2 stream counts as a first request, as in HAProxy).
    HttpFirstReq,
    /// `nbsrv([<backend>])`: usable servers of that backend (of the
    /// current proxy without argument), as load balancing sees them now.
    Nbsrv(String),
    /// `capture.req.hdr(N)` / `capture.res.hdr(N)`: slot N of the
    /// frontend's `capture request|response header` lines.
    CaptureHdr {
        dir: HttpDir,
        slot: i64,
    },
    /// `hdr`/`req.hdr`/`res.hdr`/`shdr` (comma-split values) and
    /// `req.fhdr`/`res.fhdr` (`full`: whole line values). `occurrence`
    /// absent: the last one in expressions, every one in ACLs.
    Hdr {
        dir: HttpDir,
        name: Option<String>,
        occurrence: Option<i64>,
        full: bool,
    },
    /// `hdr_cnt` family: number of values (`full`: number of header lines).
    HdrCnt {
        dir: HttpDir,
        name: Option<String>,
        full: bool,
    },
    /// `hdr_val` family: header value parsed as an integer.
    HdrVal {
        dir: HttpDir,
        name: Option<String>,
        occurrence: Option<i64>,
    },
    /// `hdr_ip` family: header value parsed as an IP address.
    HdrIp {
        dir: HttpDir,
        name: Option<String>,
        occurrence: Option<i64>,
    },
    /// `http_auth(userlist)`: Basic credentials valid in that userlist.
    HttpAuth {
        userlist: String,
    },
    /// `http_auth_group(userlist)`: the authenticated user (ACLs match groups).
    HttpAuthGroup {
        userlist: String,
    },
    // Variables.
    Var {
        var: VarName,
        default: Option<String>,
    },
    /// Stick counters: `sc_*`, `sc<n>_*`, `src_*`. `table` names the table
    /// to look the key up in (the tracked entry's table, or for `src_*` the
    /// current proxy's, when absent).
    Stick {
        entry: super::stick::StickEntry,
        read: super::stick::StickRead,
        table: Option<String>,
    },
}

impl Fetch {
    /// The type this fetch produces (as HAProxy declares it).
    pub fn out_type(&self) -> SampleType {
        use SampleType::*;
        match self {
            Fetch::AlwaysTrue | Fetch::AlwaysFalse | Fetch::ConstBool(_) => Bool,
            // HAProxy declares Lua fetches as strings (they may return any type).
            Fetch::ConstStr(_) | Fetch::Lua { .. } => Str,
            Fetch::ConstInt(_) => Int,
            Fetch::ConstBin(_) => Bin,
            Fetch::ConstIpv4(_) => Ipv4,
            Fetch::ConstIpv6(_) => Ipv6,
            Fetch::ConstMeth(_) => Meth,
            Fetch::Src | Fetch::Dst => Ipv4,
            Fetch::SrcPort | Fetch::DstPort => Int,
            Fetch::SslFc | Fetch::SslFcHasSni | Fetch::SslFcHasCrt | Fetch::SslFcIsResumed => Bool,
            Fetch::SslFcSni | Fetch::SslFcProtocol | Fetch::SslFcCipher | Fetch::SslFcAlpn => Str,
            Fetch::SslFcErr | Fetch::FcErr => Int,
            Fetch::FcErrStr | Fetch::SslFcErrStr => Str,
            Fetch::FcRcvdProxy => Bool,
            Fetch::FcPpAuthority | Fetch::FcPpUniqueId => Str,
            Fetch::SslCUsed => Bool,
            Fetch::SslCVerify | Fetch::SslCErr | Fetch::SslCCaErr | Fetch::SslCCaErrDepth => Int,
            Fetch::SslCChainDer | Fetch::SslSChainDer => Bin,
            Fetch::SslBc | Fetch::SslBcIsResumed => Bool,
            Fetch::SslBcProtocol | Fetch::SslBcCipher | Fetch::SslBcAlpn => Str,
            Fetch::Cert { field, .. } => match field {
                CertField::SubjectDn(_)
                | CertField::IssuerDn(_)
                | CertField::NotBefore
                | CertField::NotAfter
                | CertField::SigAlg
                | CertField::KeyAlg => Str,
                CertField::Serial | CertField::Sha1 | CertField::Der => Bin,
                CertField::Version => Int,
            },
            Fetch::ReqSslSni => Str,
            Fetch::L6(l6) => match l6 {
                L6Fetch::Len | L6Fetch::SslHelloType | L6Fetch::SslVer | L6Fetch::SslStExt => Int,
                L6Fetch::Payload { .. } | L6Fetch::PayloadLv { .. } => Bin,
                L6Fetch::SslAlpn => Str,
                L6Fetch::SslEcExt => Bool,
            },
            Fetch::Path
            | Fetch::Url
            | Fetch::Query
            | Fetch::Base
            | Fetch::ReqVer
            | Fetch::ResVer => Str,
            Fetch::Method => Meth,
            Fetch::ReqProtoHttp | Fetch::HttpFirstReq => Bool,
            Fetch::Status | Fetch::Nbsrv(_) => Int,
            Fetch::CaptureHdr { .. } | Fetch::Uuid | Fetch::UniqueId => Str,
            Fetch::Hdr { .. } => Str,
            Fetch::HdrCnt { .. } | Fetch::HdrVal { .. } => Int,
            Fetch::HdrIp { .. } => Ipv4,
            Fetch::HttpAuth { .. } => Bool,
            Fetch::HttpAuthGroup { .. } => Str,
            Fetch::Var { .. } => Any,
            Fetch::Stick { read, .. } => match read {
                super::stick::StickRead::Tracked => Bool,
                _ => Int,
            },
        }
    }
}

/// A fetch reading the raw request buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum L6Fetch {
    /// `req.len`: bytes in the buffer.
    Len,
    /// `req.payload(offset,len)`: `len` 0 = up to the end of the buffer.
    Payload { offset: u32, len: u32 },
    /// `req.payload_lv(len_offset,len_size[,buf_offset])`: a block whose
    /// big-endian length is read at `len_offset`.
    PayloadLv {
        len_offset: u32,
        len_size: u32,
        buf_offset: Option<LvOffset>,
    },
    /// `req.ssl_hello_type`: handshake type of the first TLS record.
    SslHelloType,
    /// `req.ssl_ver`: ClientHello version as `(major << 16) | minor`.
    SslVer,
    /// `req.ssl_alpn`: the protocols the ClientHello offers, in order.
    SslAlpn,
    /// `req.ssl_ec_ext`: the ClientHello has the supported-groups extension.
    SslEcExt,
    /// `req.ssl_st_ext`: 0 no session ticket extension, 1 empty, 2 with a ticket.
    SslStExt,
}

/// The third argument of `payload_lv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LvOffset {
    /// A plain number: where the block starts.
    Absolute(i64),
    /// `+n` / `-n`: relative to the end of the length field.
    Relative(i64),
}

/// One converter in a chain, with its span for runtime error reports.
#[derive(Clone, Debug, Serialize)]
pub struct Converter {
    pub conv: Conv,
    pub span: Span,
}

/// Output size of `sha2()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Sha2Bits {
    B224,
    B256,
    B384,
    B512,
}

/// Input handling of `json()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum JsonInput {
    Ascii,
    Utf8,
    Utf8s,
    Utf8p,
    Utf8ps,
}

/// A regular expression, compile-checked with the `regex` crate at check
/// time; the runtime compiles `source` once when it builds a generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegexSrc {
    pub source: String,
    pub case_insensitive: bool,
}

/// Every converter portcullis supports, with validated arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Conv {
    /// bin → uppercase hex string.
    Hex,
    Lower,
    Upper,
    /// bin → base64 string.
    Base64,
    Sha1,
    Sha2(Sha2Bits),
    /// `field(index,delimiters[,count])`: 1-based, negative from the end.
    Field {
        index: i64,
        delimiters: String,
        count: i64,
    },
    /// `word(index,delimiters[,count])`: like `field` but empty words skipped.
    Word {
        index: i64,
        delimiters: String,
        count: i64,
    },
    /// Compares with a variable: 0 when equal.
    Strcmp(VarName),
    /// `regsub(regex,subst[,flags])`; `global` is the `g` flag (`i` is in the regex).
    Regsub {
        regex: RegexSrc,
        replacement: String,
        global: bool,
    },
    Json(JsonInput),
    /// `url_dec([in_form])`: `in_form` turns `+` into a space.
    UrlDec {
        in_form: bool,
    },
    /// int (epoch) → strftime string in local time / UTC; `offset` seconds added.
    Ltime {
        format: String,
        offset: i64,
    },
    Utime {
        format: String,
        offset: i64,
    },
    /// String length.
    Length,
    /// `bytes(offset[,length])`.
    Bytes {
        offset: i64,
        length: Option<i64>,
    },
    /// `concat([prefix],[var],[suffix])`.
    Concat {
        prefix: String,
        var: Option<VarName>,
        suffix: String,
    },
    /// `ipmask(mask4[,mask6])`: masks as addresses.
    IpMask {
        v4: Ipv4Addr,
        v6: Option<Ipv6Addr>,
    },
    /// `set-var(name[,cond…])`: stores the sample and passes it on.
    SetVar {
        var: VarName,
        conditions: Vec<VarCondition>,
    },
    /// `map`, `map_<match>`, `map_<match>_<output>`: looks the sample up in
    /// a map file (shared: one file may back many converters).
    Map(std::sync::Arc<MapConv>),
    /// `lua.<name>(args…)`: a `core.register_converters` function (str → str).
    Lua {
        name: String,
        args: Vec<String>,
    },
}

impl Conv {
    /// The type the converter expects (its input is cast to it).
    pub fn in_type(&self) -> SampleType {
        use SampleType::*;
        match self {
            Conv::Hex | Conv::Base64 | Conv::Sha1 | Conv::Sha2(_) | Conv::Bytes { .. } => Bin,
            Conv::Lower
            | Conv::Upper
            | Conv::Field { .. }
            | Conv::Word { .. }
            | Conv::Strcmp(_)
            | Conv::Regsub { .. }
            | Conv::Json(_)
            | Conv::UrlDec { .. }
            | Conv::Length
            | Conv::Concat { .. }
            | Conv::Lua { .. } => Str,
            Conv::Ltime { .. } | Conv::Utime { .. } => Int,
            Conv::IpMask { .. } => Addr,
            Conv::SetVar { .. } => Any,
            Conv::Map(m) => m.matching.in_type(),
        }
    }

    /// The type the converter produces (as HAProxy declares it).
    pub fn out_type(&self) -> SampleType {
        use SampleType::*;
        match self {
            Conv::Hex | Conv::Base64 => Str,
            Conv::Sha1 | Conv::Sha2(_) | Conv::Bytes { .. } => Bin,
            Conv::Lower
            | Conv::Upper
            | Conv::Field { .. }
            | Conv::Word { .. }
            | Conv::Regsub { .. }
            | Conv::Json(_)
            | Conv::UrlDec { .. }
            | Conv::Concat { .. }
            | Conv::Lua { .. }
            | Conv::Ltime { .. }
            | Conv::Utime { .. } => Str,
            Conv::Strcmp(_) | Conv::Length => Int,
            Conv::IpMask { .. } => Ipv4,
            Conv::SetVar { .. } => Any,
            Conv::Map(m) => m.output.out_type(),
        }
    }
}

mod acl;
mod log;
mod map;

pub use acl::*;
pub use log::*;
pub use map::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_matrix_matches_haproxy() {
        use SampleType::*;
        assert!(Bool.can_cast_to(Str));
        assert!(!Bool.can_cast_to(Ipv4));
        assert!(!Bin.can_cast_to(Int));
        assert!(Bin.can_cast_to(Str));
        assert!(Ipv4.can_cast_to(Int));
        assert!(!Ipv6.can_cast_to(Int));
        assert!(!Addr.can_cast_to(Str));
        assert!(Meth.can_cast_to(Str));
        assert!(!Meth.can_cast_to(Int));
        assert!(Str.can_cast_to(Meth));
        assert!(Any.can_cast_to(Bin));
    }
}
