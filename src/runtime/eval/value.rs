//! Sample values and HAProxy 2.6's cast matrix (`sample_casts` in
//! `sample.c`): what a fetch produces and how a converter or a match method
//! sees it.

use super::text::{c_str, ipv4_prefix, ipv6_to_string, parse_ipv6, read_int64};
use crate::ir::expr::{HttpMethod, SampleType};
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A sample: one value of one of HAProxy's sample types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    /// `ipv4` or `ipv6`, by the address family.
    Ip(IpAddr),
    /// A string: bytes, not necessarily UTF-8 (header values, `url_dec`).
    Str(Bytes),
    Bin(Bytes),
    Meth(HttpMethod),
}

impl Value {
    /// A string sample.
    pub fn str(s: impl Into<Bytes>) -> Value {
        Value::Str(s.into())
    }

    /// A binary sample.
    pub fn bin(b: impl Into<Bytes>) -> Value {
        Value::Bin(b.into())
    }

    /// HAProxy's type of this sample.
    pub fn sample_type(&self) -> SampleType {
        match self {
            Value::Bool(_) => SampleType::Bool,
            Value::Int(_) => SampleType::Int,
            Value::Ip(IpAddr::V4(_)) => SampleType::Ipv4,
            Value::Ip(IpAddr::V6(_)) => SampleType::Ipv6,
            Value::Str(_) => SampleType::Str,
            Value::Bin(_) => SampleType::Bin,
            Value::Meth(_) => SampleType::Meth,
        }
    }

    /// The integer a `sint` consumer reads (`Bool` is stored as 0/1).
    pub(super) fn int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The bytes of a `Str` or `Bin` sample.
    pub(super) fn bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Str(b) | Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// Casts to `to` exactly as `sample_casts[from][to]`: `None` where the
    /// matrix has no cast or the cast function fails. Casts HAProxy marks
    /// `c_none` keep the sample's type (a string used as binary stays a
    /// string), which matters for converters that pass their input type on.
    pub fn cast(self, to: SampleType) -> Option<Value> {
        use SampleType as T;
        match (self, to) {
            (v, T::Any) => Some(v),
            (v @ Value::Bool(_), T::Bool | T::Int) => Some(v),
            (Value::Bool(b), T::Str) => Some(Value::str(if b { "1" } else { "0" })),
            (Value::Bool(b), T::Bin) => Some(Value::bin(i64::from(b).to_be_bytes().to_vec())),
            (Value::Bool(_), _) => None,

            (v @ Value::Int(_), T::Bool | T::Int) => Some(v),
            (Value::Int(i), T::Addr | T::Ipv4) => {
                Some(Value::Ip(IpAddr::V4(Ipv4Addr::from(i as u32))))
            }
            (Value::Int(i), T::Ipv6) => Some(Value::Ip(IpAddr::V6(
                Ipv4Addr::from(i as u32).to_ipv6_mapped(),
            ))),
            (Value::Int(i), T::Str) => Some(Value::str(i.to_string())),
            (Value::Int(i), T::Bin) => Some(Value::bin(i.to_be_bytes().to_vec())),
            (Value::Int(_), T::Meth) => None,

            (Value::Ip(IpAddr::V4(a)), T::Int) => Some(Value::Int(i64::from(u32::from(a)))),
            (v @ Value::Ip(IpAddr::V4(_)), T::Addr | T::Ipv4) => Some(v),
            (Value::Ip(IpAddr::V4(a)), T::Ipv6) => Some(Value::Ip(IpAddr::V6(a.to_ipv6_mapped()))),
            (Value::Ip(IpAddr::V4(a)), T::Str) => Some(Value::str(a.to_string())),
            (Value::Ip(IpAddr::V4(a)), T::Bin) => Some(Value::bin(a.octets().to_vec())),
            (Value::Ip(IpAddr::V4(_)), _) => None,

            (v @ Value::Ip(IpAddr::V6(_)), T::Addr | T::Ipv6) => Some(v),
            (Value::Ip(IpAddr::V6(a)), T::Ipv4) => v6_to_v4(&a).map(|v4| Value::Ip(IpAddr::V4(v4))),
            (Value::Ip(IpAddr::V6(a)), T::Str) => Some(Value::str(ipv6_to_string(&a))),
            (Value::Ip(IpAddr::V6(a)), T::Bin) => Some(Value::bin(a.octets().to_vec())),
            (Value::Ip(IpAddr::V6(_)), _) => None,

            (Value::Str(s), T::Bool | T::Int) => {
                (!s.is_empty()).then(|| Value::Int(read_int64(&s)))
            }
            (Value::Str(s), T::Addr) => match ipv4_prefix(&s) {
                Some((a, _)) => Some(Value::Ip(IpAddr::V4(a))),
                None => parse_ipv6(&s).map(|a| Value::Ip(IpAddr::V6(a))),
            },
            (Value::Str(s), T::Ipv4) => ipv4_prefix(&s).map(|(a, _)| Value::Ip(IpAddr::V4(a))),
            (Value::Str(s), T::Ipv6) => parse_ipv6(&s).map(|a| Value::Ip(IpAddr::V6(a))),
            (v @ Value::Str(_), T::Str | T::Bin) => Some(v),
            (Value::Str(s), T::Meth) => Some(Value::Meth(method_from_bytes(&s))),

            (Value::Bin(b), T::Str) => {
                let n = c_str(&b).len();
                Some(Value::Str(b.slice(..n)))
            }
            (v @ Value::Bin(_), T::Bin) => Some(v),
            (Value::Bin(b), T::Meth) => Some(Value::Meth(method_from_bytes(&b))),
            (Value::Bin(_), _) => None,

            (Value::Meth(m), T::Str | T::Bin) => Some(Value::str(method_text(&m).to_string())),
            (v @ Value::Meth(_), T::Meth) => Some(v),
            (Value::Meth(_), _) => None,
        }
    }

    /// The sample as text (a cast to `str`), as log-format and header
    /// rendering see it.
    pub fn into_text(self) -> Option<Bytes> {
        match self.cast(SampleType::Str)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// `v6tov4`: only IPv4-mapped addresses (`::ffff:a.b.c.d`) convert.
pub(super) fn v6_to_v4(a: &Ipv6Addr) -> Option<Ipv4Addr> {
    let o = a.octets();
    (o[..10].iter().all(|b| *b == 0) && o[10] == 0xff && o[11] == 0xff)
        .then(|| Ipv4Addr::new(o[12], o[13], o[14], o[15]))
}

/// `find_http_meth` on raw bytes.
pub(super) fn method_from_bytes(b: &[u8]) -> HttpMethod {
    HttpMethod::parse(&String::from_utf8_lossy(b))
}

/// The text of a method (`http_known_methods`).
pub(super) fn method_text(m: &HttpMethod) -> &str {
    match m {
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Trace => "TRACE",
        HttpMethod::Connect => "CONNECT",
        HttpMethod::Other(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SampleType as T;

    fn text(v: Value) -> String {
        String::from_utf8_lossy(&v.into_text().unwrap_or_default()).into_owned()
    }

    #[test]
    fn casts_follow_the_matrix() {
        assert_eq!(text(Value::Bool(true)), "1");
        assert_eq!(text(Value::Int(-5)), "-5");
        assert_eq!(
            text(Value::Ip(
                "10.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            )),
            "10.0.0.1"
        );
        assert_eq!(text(Value::bin(&b"A\0B"[..])), "A");
        assert_eq!(text(Value::Meth(HttpMethod::Get)), "GET");
        assert_eq!(
            Value::Int(0x0a000001).cast(T::Ipv4),
            Some(Value::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))))
        );
        assert_eq!(
            Value::Int(1).cast(T::Bin),
            Some(Value::bin(vec![0, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(Value::str("12abc").cast(T::Int), Some(Value::Int(12)));
        assert_eq!(Value::str("").cast(T::Int), None);
        assert_eq!(
            Value::str("1.2.3.4x").cast(T::Ipv4),
            Some(Value::Ip(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))))
        );
        assert_eq!(
            Value::str("::1").cast(T::Addr),
            Some(Value::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        assert_eq!(Value::str("x").cast(T::Bin), Some(Value::str("x")));
        assert_eq!(Value::bin(&b"x"[..]).cast(T::Int), None);
        assert_eq!(Value::Bool(true).cast(T::Ipv4), None);
        assert_eq!(
            Value::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)).cast(T::Ipv4),
            None
        );
        let mapped = IpAddr::V6(Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped());
        assert_eq!(
            Value::Ip(mapped).cast(T::Ipv4),
            Some(Value::Ip(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))))
        );
        assert_eq!(Value::Ip(mapped).cast(T::Int), None);
        assert_eq!(
            Value::str("get").cast(T::Meth),
            Some(Value::Meth(HttpMethod::Other("get".into())))
        );
        assert_eq!(
            Value::Meth(HttpMethod::Put).cast(T::Bin),
            Some(Value::str("PUT"))
        );
        assert_eq!(Value::Meth(HttpMethod::Put).cast(T::Int), None);
    }

    #[test]
    fn every_cast_agrees_with_the_static_matrix() {
        let samples = [
            Value::Bool(true),
            Value::Int(3),
            Value::Ip(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))),
            Value::Ip(IpAddr::V6(Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped())),
            Value::str("1"),
            Value::bin(&b"1"[..]),
            Value::Meth(HttpMethod::Get),
        ];
        let types = [
            T::Any,
            T::Bool,
            T::Int,
            T::Addr,
            T::Ipv4,
            T::Ipv6,
            T::Str,
            T::Bin,
            T::Meth,
        ];
        for v in &samples {
            for t in types {
                let from = v.sample_type();
                // The runtime never casts where the check-time matrix refuses.
                if v.clone().cast(t).is_some() {
                    assert!(from.can_cast_to(t), "{from:?} -> {t:?}");
                }
            }
        }
    }
}
