//! Distinguished names in the two text forms HAProxy 2.6 shows.
//!
//! * oneline (`/CN=x/O=y`): HAProxy's own `ssl_sock_get_dn_oneline`: every
//!   attribute in certificate order as `/` + OpenSSL short name + `=` + the raw
//!   value bytes, unescaped. Used by `ssl_c_s_dn`, `show ssl cert` and our
//!   warnings.
//! * RFC 2253 (`O=y,CN=x`): OpenSSL's `X509_NAME_print_ex(.., XN_FLAG_RFC2253)`
//!   as used by `ssl_c_s_dn(,0,rfc2253)`: attributes in reverse order (members
//!   of a multi-valued RDN too), `,` between RDNs and `+` inside one,
//!   `,+"\<>;` escaped with `\`, a leading `#`/space and a trailing space
//!   escaped, control characters and every byte of a non-ASCII character as
//!   `\XX`, and attributes OpenSSL does not know as `dotted.oid=#<DER hex>`.
//!
//! Also the canonical form used to match an issuer name with a subject name
//! the way OpenSSL's `X509_NAME_cmp` does (case and blank insensitive).
//!
//! Deviations, documented: an attribute type missing from [`short_name`]'s table
//! is printed as a dotted OID even if OpenSSL would know a name for it; a BMP or
//! Universal string of odd length (where OpenSSL's printer fails) is dumped as
//! `#<DER hex>`; in oneline form non-UTF-8 raw bytes are replaced by U+FFFD.

use x509_parser::asn1_rs::{Any, Class, ToDer};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// OpenSSL short name (`OBJ_nid2sn`) of a distinguished-name attribute type,
/// by dotted OID. `None` for types OpenSSL has no name for.
pub fn short_name(dotted_oid: &str) -> Option<&'static str> {
    super::oids::short_name(dotted_oid)
}

/// HAProxy's oneline form of a name: `/C=FR/O=Acme/CN=x`.
pub fn name_oneline(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        out.push('/');
        out.push_str(short_name(&oid).unwrap_or(&oid));
        out.push('=');
        out.push_str(&String::from_utf8_lossy(attr.attr_value().data));
    }
    out
}

/// OpenSSL's RFC 2253 form of a name: `CN=x,O=Acme,C=FR`.
pub fn name_rfc2253(name: &X509Name<'_>) -> String {
    let entries: Vec<(usize, &AttributeTypeAndValue<'_>)> = name
        .iter_rdn()
        .enumerate()
        .flat_map(|(i, rdn)| rdn.iter().map(move |a| (i, a)))
        .collect();
    let mut out = String::new();
    let mut prev: Option<usize> = None;
    for (set, attr) in entries.iter().rev() {
        if let Some(p) = prev {
            out.push(if p == *set { '+' } else { ',' });
        }
        prev = Some(*set);
        let oid = attr.attr_type().to_id_string();
        match short_name(&oid) {
            Some(sn) => {
                out.push_str(sn);
                out.push('=');
                push_value_rfc2253(&mut out, attr.attr_value());
            }
            None => {
                out.push_str(&oid);
                out.push('=');
                push_der_dump(&mut out, attr.attr_value());
            }
        }
    }
    out
}

/// Subject of a DER certificate in oneline form; `None` if it does not parse.
pub fn subject_oneline(der: &[u8]) -> Option<String> {
    with_cert(der, |c| name_oneline(c.subject()))
}

/// Subject of a DER certificate in RFC 2253 form; `None` if it does not parse.
pub fn subject_rfc2253(der: &[u8]) -> Option<String> {
    with_cert(der, |c| name_rfc2253(c.subject()))
}

/// Issuer of a DER certificate in oneline form; `None` if it does not parse.
pub fn issuer_oneline(der: &[u8]) -> Option<String> {
    with_cert(der, |c| name_oneline(c.issuer()))
}

/// Issuer of a DER certificate in RFC 2253 form; `None` if it does not parse.
pub fn issuer_rfc2253(der: &[u8]) -> Option<String> {
    with_cert(der, |c| name_rfc2253(c.issuer()))
}

fn with_cert<T>(der: &[u8], f: impl FnOnce(&X509Certificate<'_>) -> T) -> Option<T> {
    X509Certificate::from_der(der).ok().map(|(_, c)| f(&c))
}

/// Width in bytes of one character of a universal string type, as OpenSSL's
/// `tag2nbyte` has it: 0 for UTF8String (printed byte by byte), `None` for
/// types OpenSSL dumps as hex.
fn char_width(value: &Any<'_>) -> Option<usize> {
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag().0 {
        12 => Some(0),
        18 | 19 | 20 | 22 | 23 | 24 | 26 => Some(1),
        28 => Some(4),
        30 => Some(2),
        _ => None,
    }
}

/// The value's characters (code points), `None` when it is not a printable
/// string type or its length is not a multiple of the character width.
fn code_points(value: &Any<'_>) -> Option<Vec<u32>> {
    let data = value.data;
    match char_width(value)? {
        0 | 1 => Some(data.iter().map(|b| u32::from(*b)).collect()),
        w @ (2 | 4) => {
            if !data.len().is_multiple_of(w) {
                return None;
            }
            Some(
                data.chunks(w)
                    .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// UTF-8 encoding of a code point as OpenSSL's `UTF8_putc` does it (surrogates
/// included); `None` above U+10FFFF.
fn utf8_bytes(c: u32) -> Option<Vec<u8>> {
    let v = match c {
        0..=0x7f => vec![c as u8],
        0x80..=0x7ff => vec![0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8],
        0x800..=0xffff => vec![
            0xe0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ],
        0x1_0000..=0x10_ffff => vec![
            0xf0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3f) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ],
        _ => return None,
    };
    Some(v)
}

/// The UTF-8 bytes OpenSSL prints for a value, `None` when it would dump it.
fn value_bytes(value: &Any<'_>) -> Option<Vec<u8>> {
    if char_width(value)? == 0 {
        return Some(value.data.to_vec());
    }
    let mut out = Vec::with_capacity(value.data.len());
    for c in code_points(value)? {
        out.extend(utf8_bytes(c)?);
    }
    Some(out)
}

fn push_value_rfc2253(out: &mut String, value: &Any<'_>) {
    let Some(bytes) = value_bytes(value) else {
        push_der_dump(out, value);
        return;
    };
    let last = bytes.len().saturating_sub(1);
    for (i, &b) in bytes.iter().enumerate() {
        let escape_bs = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
            || (i == 0 && (b == b'#' || b == b' '))
            || (i == last && b == b' ');
        if !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\{b:02X}"));
        } else if escape_bs {
            out.push('\\');
            out.push(char::from(b));
        } else {
            out.push(char::from(b));
        }
    }
}

/// `#` + uppercase hex of the value's full DER encoding (OpenSSL's
/// `ASN1_STRFLGS_DUMP_DER`).
fn push_der_dump(out: &mut String, value: &Any<'_>) {
    out.push('#');
    let der = value.to_der_vec().unwrap_or_else(|_| value.data.to_vec());
    for b in der {
        out.push_str(&format!("{b:02X}"));
    }
}

/// A name reduced to what OpenSSL compares when it looks for an issuer
/// (`X509_NAME_cmp` on the canonical encoding): per RDN, the sorted
/// (type, value) pairs, string values case-folded with blanks trimmed and
/// runs of blanks collapsed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameKey(Vec<Vec<(String, Vec<u8>)>>);

impl NameKey {
    /// The canonical key of a parsed name.
    pub fn of(name: &X509Name<'_>) -> NameKey {
        NameKey(
            name.iter_rdn()
                .map(|rdn| {
                    let mut set: Vec<(String, Vec<u8>)> = rdn
                        .iter()
                        .map(|a| {
                            (
                                a.attr_type().to_id_string(),
                                canonical_value(a.attr_value()),
                            )
                        })
                        .collect();
                    set.sort();
                    set
                })
                .collect(),
        )
    }
}

fn canonical_value(value: &Any<'_>) -> Vec<u8> {
    let text = value_bytes(value).map(|b| String::from_utf8_lossy(&b).into_owned());
    match text {
        Some(t) => {
            let collapsed = t.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut v = vec![b's'];
            v.extend(collapsed.to_ascii_lowercase().into_bytes());
            v
        }
        None => {
            let mut v = vec![b'd'];
            v.extend(value.to_der_vec().unwrap_or_else(|_| value.data.to_vec()));
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    }

    /// The subject Name of a certificate made with
    /// `openssl req -multivalue-rdn -utf8 -subj
    /// '/C=FR/O=Acme, Inc./OU= lead;x<y>"q"\\z /CN=#1\+é+UID=u1/DC=example'`.
    const OPENSSL_NAME: &str = "3078310b300906035504061302465231133011060355040a0c0a41636d652c20496e632e31193017060355040b0c10206c6561643b783c793e2271225c7a203120300c06035504030c0523312bc3a93010060a0992268993f22c6401010c02753131173015060a0992268993f22c64011916076578616d706c65";

    fn parse(der: &[u8]) -> X509Name<'_> {
        match X509Name::from_der(der) {
            Ok((_, n)) => n,
            Err(e) => panic!("bad test name: {e}"),
        }
    }

    #[test]
    fn rfc2253_matches_openssl_nameopt_rfc2253() {
        let der = unhex(OPENSSL_NAME);
        let name = parse(&der);
        // `openssl x509 -noout -subject -nameopt RFC2253` on the same certificate.
        assert_eq!(
            name_rfc2253(&name),
            r#"DC=example,UID=u1+CN=\#1\+\C3\A9,OU=\ lead\;x\<y\>\"q\"\\z\ ,O=Acme\, Inc.,C=FR"#
        );
    }

    #[test]
    fn oneline_is_haproxy_raw_form_in_certificate_order() {
        let der = unhex(OPENSSL_NAME);
        let name = parse(&der);
        assert_eq!(
            name_oneline(&name),
            "/C=FR/O=Acme, Inc./OU= lead;x<y>\"q\"\\z /CN=#1+é/UID=u1/DC=example"
        );
    }

    /// Builds `SEQUENCE { SET { SEQUENCE { OID, value } ... } ... }`.
    /// One attribute: OID content bytes, value tag, value bytes.
    type Atv<'a> = (&'a [u8], u8, &'a [u8]);

    fn name_der(rdns: &[&[Atv<'_>]]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            assert!(body.len() < 128);
            v.push(body.len() as u8);
            v.extend_from_slice(body);
            v
        }
        let mut sets = Vec::new();
        for rdn in rdns {
            let mut members = Vec::new();
            for (oid, tag, value) in *rdn {
                let mut atv = tlv(0x06, oid);
                atv.extend(tlv(*tag, value));
                members.extend(tlv(0x30, &atv));
            }
            sets.extend(tlv(0x31, &members));
        }
        tlv(0x30, &sets)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const UNKNOWN_1_2_3_4: &[u8] = &[0x2a, 0x03, 0x04];

    #[test]
    fn unknown_attribute_is_dumped_as_der_hex() {
        let der = name_der(&[&[(UNKNOWN_1_2_3_4, 0x0c, b"foo")], &[(CN, 0x0c, b"x")]]);
        let name = parse(&der);
        assert_eq!(name_rfc2253(&name), "CN=x,1.2.3.4=#0C03666F6F");
        assert_eq!(name_oneline(&name), "/1.2.3.4=foo/CN=x");
    }

    #[test]
    fn bmp_and_t61_values_are_converted_to_utf8_then_escaped() {
        // BMPString "é" (00 E9) and T61String byte E9 both print as \C3\A9.
        let der = name_der(&[&[(O, 0x1e, &[0x00, 0xe9])], &[(CN, 0x14, &[b'a', 0xe9])]]);
        let name = parse(&der);
        assert_eq!(name_rfc2253(&name), r"CN=a\C3\A9,O=\C3\A9");
    }

    #[test]
    fn control_characters_and_trailing_space_are_escaped() {
        let der = name_der(&[&[(CN, 0x0c, b"a\nb ")]]);
        let name = parse(&der);
        assert_eq!(name_rfc2253(&name), r"CN=a\0Ab\ ");
    }

    #[test]
    fn multi_valued_rdn_members_are_reversed_and_joined_with_plus() {
        let der = name_der(&[&[(O, 0x0c, b"Acme")], &[(CN, 0x0c, b"a"), (O, 0x0c, b"b")]]);
        let name = parse(&der);
        assert_eq!(name_rfc2253(&name), "O=b+CN=a,O=Acme");
        assert_eq!(name_oneline(&name), "/O=Acme/CN=a/O=b");
    }

    #[test]
    fn name_key_ignores_case_blanks_and_string_type() {
        let a = name_der(&[&[(CN, 0x13, b"My  CA ")]]);
        let b = name_der(&[&[(CN, 0x0c, b"my ca")]]);
        let c = name_der(&[&[(CN, 0x0c, b"other ca")]]);
        assert_eq!(NameKey::of(&parse(&a)), NameKey::of(&parse(&b)));
        assert_ne!(NameKey::of(&parse(&a)), NameKey::of(&parse(&c)));
    }

    #[test]
    fn empty_name_prints_empty() {
        let der = name_der(&[]);
        let name = parse(&der);
        assert_eq!(name_oneline(&name), "");
        assert_eq!(name_rfc2253(&name), "");
    }
}
