//! IR of ACL criteria and conditions: a sample, how it is matched, its
//! typed patterns, and `if`/`unless` conditions over ACLs. Produced by
//! `config::expr::{acl, cond}`; evaluated by the runtime's rule engine.

use super::{HttpMethod, RegexSrc, Sample, SampleType};
use crate::diag::Span;
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An inclusive integer range; a missing bound is open (`ge 5` → `5:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct IntRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// An address pattern with its mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum IpNet {
    V4 { addr: Ipv4Addr, mask: Ipv4Addr },
    V6 { addr: Ipv6Addr, prefix: u8 },
}

/// String match kinds (`-m str|beg|sub|dir|dom|end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum StrMatch {
    /// `str`: whole string.
    Exact,
    /// `beg`: prefix.
    Prefix,
    /// `sub`: substring.
    Substring,
    /// `dir`: a `/`-delimited segment.
    Dir,
    /// `dom`: a `.`/`/`-delimited label sequence.
    Dom,
    /// `end`: suffix.
    Suffix,
}

/// A string pattern; `-i` applies to the patterns that follow it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StrPattern {
    pub value: String,
    pub ignore_case: bool,
}

/// How an ACL criterion's sample is matched, with its typed patterns. The
/// patterns are loaded already (inline words and `-f` files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Matcher {
    /// `-m found`: the fetch returned a sample.
    Found,
    /// `-m bool` (default for booleans): the sample is non-zero.
    Bool,
    /// `-m int`: integer ranges.
    Int(Vec<IntRange>),
    /// `-m len`: ranges on the string length.
    Len(Vec<IntRange>),
    /// `-m ip`: networks.
    Ip(Vec<IpNet>),
    /// `-m bin`: exact binary values (written as hex).
    Bin(Vec<Vec<u8>>),
    Str {
        kind: StrMatch,
        patterns: Vec<StrPattern>,
    },
    /// `-m reg`.
    Reg(Vec<RegexSrc>),
    /// The `method` ACL keyword without converters: method tokens.
    Method {
        methods: Vec<HttpMethod>,
        ignore_case: bool,
    },
    /// The `http_auth_group` ACL keyword: the user belongs to one of these groups.
    AuthGroup(Vec<String>),
}

impl Matcher {
    /// The type the sample is cast to before matching.
    pub fn expected_type(&self) -> SampleType {
        match self {
            Matcher::Found | Matcher::Bool | Matcher::Int(_) => SampleType::Int,
            Matcher::Ip(_) => SampleType::Addr,
            Matcher::Bin(_) => SampleType::Bin,
            Matcher::Len(_) | Matcher::Str { .. } | Matcher::Reg(_) | Matcher::AuthGroup(_) => {
                SampleType::Str
            }
            Matcher::Method { .. } => SampleType::Meth,
        }
    }
}

/// One ACL criterion: a sample, how to match it, and its patterns. An ACL
/// matches when any pattern matches (several `acl` lines of one name are ORed
/// by lowering).
#[derive(Clone, Debug, Serialize)]
pub struct AclTerm {
    pub sample: Sample,
    pub matcher: Matcher,
    pub span: Span,
}

/// HAProxy's predefined ACLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PredefinedAcl {
    /// `always_true`.
    True,
    /// `always_false`.
    False,
    /// `req.proto_http`.
    Http,
    /// `req.ver 1.0`.
    Http10,
    Http11,
    Http20,
    /// `req.hdr_val(content-length) gt 0`.
    HttpContent,
    /// `url_reg ^[^/:]*://`.
    HttpUrlAbs,
    /// `url_beg /`.
    HttpUrlSlash,
    /// `url *`.
    HttpUrlStar,
    /// `src 127.0.0.1/8 ::1`.
    Localhost,
    MethConnect,
    MethDelete,
    /// `method GET HEAD`.
    MethGet,
    MethHead,
    MethOptions,
    MethPost,
    MethPut,
    MethTrace,
    /// `req.rdp_cookie_cnt gt 0`.
    RdpCookie,
    /// `req.len gt 0`.
    ReqContent,
    /// `wait_end`.
    WaitEnd,
}

impl PredefinedAcl {
    /// Every predefined ACL.
    pub const ALL: [PredefinedAcl; 22] = [
        PredefinedAcl::True,
        PredefinedAcl::False,
        PredefinedAcl::Http,
        PredefinedAcl::Http10,
        PredefinedAcl::Http11,
        PredefinedAcl::Http20,
        PredefinedAcl::HttpContent,
        PredefinedAcl::HttpUrlAbs,
        PredefinedAcl::HttpUrlSlash,
        PredefinedAcl::HttpUrlStar,
        PredefinedAcl::Localhost,
        PredefinedAcl::MethConnect,
        PredefinedAcl::MethDelete,
        PredefinedAcl::MethGet,
        PredefinedAcl::MethHead,
        PredefinedAcl::MethOptions,
        PredefinedAcl::MethPost,
        PredefinedAcl::MethPut,
        PredefinedAcl::MethTrace,
        PredefinedAcl::RdpCookie,
        PredefinedAcl::ReqContent,
        PredefinedAcl::WaitEnd,
    ];

    /// The name used in configurations.
    pub fn name(self) -> &'static str {
        match self {
            PredefinedAcl::True => "TRUE",
            PredefinedAcl::False => "FALSE",
            PredefinedAcl::Http => "HTTP",
            PredefinedAcl::Http10 => "HTTP_1.0",
            PredefinedAcl::Http11 => "HTTP_1.1",
            PredefinedAcl::Http20 => "HTTP_2.0",
            PredefinedAcl::HttpContent => "HTTP_CONTENT",
            PredefinedAcl::HttpUrlAbs => "HTTP_URL_ABS",
            PredefinedAcl::HttpUrlSlash => "HTTP_URL_SLASH",
            PredefinedAcl::HttpUrlStar => "HTTP_URL_STAR",
            PredefinedAcl::Localhost => "LOCALHOST",
            PredefinedAcl::MethConnect => "METH_CONNECT",
            PredefinedAcl::MethDelete => "METH_DELETE",
            PredefinedAcl::MethGet => "METH_GET",
            PredefinedAcl::MethHead => "METH_HEAD",
            PredefinedAcl::MethOptions => "METH_OPTIONS",
            PredefinedAcl::MethPost => "METH_POST",
            PredefinedAcl::MethPut => "METH_PUT",
            PredefinedAcl::MethTrace => "METH_TRACE",
            PredefinedAcl::RdpCookie => "RDP_COOKIE",
            PredefinedAcl::ReqContent => "REQ_CONTENT",
            PredefinedAcl::WaitEnd => "WAIT_END",
        }
    }

    /// Looks a predefined ACL up by its (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<PredefinedAcl> {
        PredefinedAcl::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a condition term refers to.
#[derive(Clone, Debug, Serialize)]
pub enum AclRef {
    /// An `acl` declared in the proxy (lowering holds its terms).
    Named(String),
    Predefined(PredefinedAcl),
    /// `{ criterion [flags] [patterns] }`.
    Anonymous(Box<AclTerm>),
}

/// One term of a condition, possibly negated with `!`.
#[derive(Clone, Debug, Serialize)]
pub struct CondTerm {
    pub negated: bool,
    pub acl: AclRef,
    pub span: Span,
}

/// `if|unless` followed by an OR of ANDs of terms; evaluated left to right
/// with short-circuit, then inverted for `unless`.
#[derive(Clone, Debug, Serialize)]
pub struct Condition {
    pub unless: bool,
    pub any_of: Vec<Vec<CondTerm>>,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_names_round_trip() {
        for p in PredefinedAcl::ALL {
            assert_eq!(PredefinedAcl::from_name(p.name()), Some(p));
        }
        assert_eq!(PredefinedAcl::from_name("true"), None);
    }
}
