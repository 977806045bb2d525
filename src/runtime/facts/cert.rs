//! Renders a DER certificate into [`CertFacts`]: what HAProxy's `ssl_c_*` /
//! `ssl_f_*` fetches return, computed the way HAProxy and OpenSSL compute it
//! (`ssl_utils.c`: `ssl_sock_get_dn_oneline`, `ssl_sock_get_serial`,
//! `ssl_sock_get_time`; OpenSSL's `X509_NAME_print_ex(XN_FLAG_RFC2253)`).
//!
//! Not shared with `tls::dn` (names shown by `check`): these strings go into
//! headers and ACLs, so they follow OpenSSL byte for byte — raw oneline
//! bytes, a one-character value only escaped as "last" (`CN=#`), surrogates
//! dropped and malformed BMP/Universal strings failing the fetch.

use super::{CertFacts, DnEntry, DnFacts};
use crate::runtime::calendar::civil_from_unix;
use crate::tls::oids::short_name;
use x509_parser::prelude::{ASN1Time, FromDer, X509Certificate, X509Name};
use x509_parser::x509::AttributeTypeAndValue;

pub(super) fn from_der(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut sha1 = [0u8; 20];
    sha1.copy_from_slice(digest.as_ref());
    Some(CertFacts {
        der: der.to_vec(),
        subject: dn_facts(tbs.subject()),
        issuer: dn_facts(tbs.issuer()),
        serial: serial_magnitude(tbs.raw_serial()),
        sha1,
        not_before: asn1_time(&tbs.validity().not_before),
        not_after: asn1_time(&tbs.validity().not_after),
        version: i64::from(tbs.version().0) + 1,
        sig_alg: algorithm_name(&tbs.signature.algorithm.to_id_string()),
        key_alg: algorithm_name(&tbs.subject_pki.algorithm.algorithm.to_id_string()),
    })
}

/// `OBJ_nid2sn(OBJ_obj2nid(oid))`: OpenSSL answers `UNDEF` for unknown OIDs.
fn algorithm_name(dotted: &str) -> String {
    short_name(dotted).unwrap_or("UNDEF").to_string()
}

/// OpenSSL keeps an INTEGER as sign + magnitude: the DER two's complement
/// content loses its sign byte (a negative serial becomes its absolute value).
fn serial_magnitude(raw: &[u8]) -> Vec<u8> {
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut bytes = raw.to_vec();
    if negative {
        // Two's complement negation, from the least significant byte.
        let mut carry = true;
        for b in bytes.iter_mut().rev() {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    let first = bytes.iter().position(|b| *b != 0);
    match first {
        Some(i) => bytes.split_off(i),
        // Zero is stored as one zero byte.
        None => vec![0],
    }
}

/// `YYMMDDhhmmssZ` as `ssl_sock_get_time` copies it: a UTCTime must not start
/// with a digit ≥ 5 (years 1950–1999), a GeneralizedTime must start with
/// `20` which is stripped (DER forbids other forms, so rebuilding the text
/// from the parsed time is exact).
fn asn1_time(t: &ASN1Time) -> Option<String> {
    let c = civil_from_unix(t.timestamp());
    let accepted = if t.is_generalizedtime() {
        (2000..2100).contains(&c.year)
    } else {
        (2000..2050).contains(&c.year)
    };
    accepted.then(|| {
        format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            c.year % 100,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second
        )
    })
}

fn dn_facts(name: &X509Name) -> DnFacts {
    let mut entries = Vec::new();
    let mut tagged = Vec::new();
    for (rdn_index, rdn) in name.iter().enumerate() {
        for attr in rdn.iter() {
            let dotted = attr.attr_type().to_id_string();
            let known = short_name(&dotted);
            entries.push(DnEntry {
                name: known.map_or_else(|| dotted.clone(), str::to_string),
                value: attr.attr_value().data.to_vec(),
                rdn: rdn_index,
            });
            tagged.push((known.is_some(), attr));
        }
    }
    let mut oneline = Vec::new();
    for e in &entries {
        oneline.push(b'/');
        oneline.extend_from_slice(e.name.as_bytes());
        oneline.push(b'=');
        oneline.extend_from_slice(&e.value);
    }
    let rfc2253 = rfc2253(&entries, &tagged);
    DnFacts {
        entries,
        oneline,
        rfc2253,
    }
}

/// `X509_NAME_print_ex(…, XN_FLAG_RFC2253)`: entries in reverse order, `,`
/// between RDNs and `+` inside one, `name=value` with OpenSSL's escaping.
fn rfc2253(entries: &[DnEntry], tagged: &[(bool, &AttributeTypeAndValue)]) -> Option<String> {
    let mut out = String::new();
    let mut prev: Option<usize> = None;
    for (entry, (known, attr)) in entries.iter().zip(tagged).rev() {
        if let Some(p) = prev {
            out.push(if p == entry.rdn { '+' } else { ',' });
        }
        prev = Some(entry.rdn);
        out.push_str(&entry.name);
        out.push('=');
        let any = attr.attr_value();
        let header = &any.header;
        let tag = header.tag().0;
        // Width of one character in the string types OpenSSL prints
        // (`tag2nbyte`); other types and unknown fields are hex-dumped.
        let width = if !known || !header.is_universal() || header.is_constructed() {
            None
        } else {
            match tag {
                12 => Some(0),
                18 | 19 | 20 | 22 | 23 | 24 | 26 => Some(1),
                28 => Some(4),
                30 => Some(2),
                _ => None,
            }
        };
        match width {
            None => dump_der(
                &mut out,
                tag,
                header.is_universal(),
                header.is_constructed(),
                any.data,
            ),
            Some(w) => escape_value(&mut out, any.data, w)?,
        }
    }
    Some(out)
}

/// `#` followed by the uppercase hex of the value's DER encoding.
fn dump_der(out: &mut String, tag: u32, universal: bool, constructed: bool, data: &[u8]) {
    let mut der = Vec::with_capacity(data.len() + 6);
    let class = if universal { 0 } else { 0x80 };
    let cons = if constructed { 0x20 } else { 0 };
    if tag < 31 {
        der.push(class | cons | tag as u8);
    } else {
        der.push(class | cons | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            der.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    let len = data.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend_from_slice(&bytes);
    }
    der.extend_from_slice(data);
    out.push('#');
    for b in der {
        out.push_str(&format!("{b:02X}"));
    }
}

/// OpenSSL's `do_buf` with the RFC 2253 flags: characters are read with the
/// string type's width (UTF8String bytes one by one), converted to UTF-8
/// and escaped byte by byte by [`escape_byte`]. `None` when the string
/// cannot be decoded (OpenSSL's printer fails).
fn escape_value(out: &mut String, data: &[u8], width: usize) -> Option<()> {
    let (chars, convert): (Vec<u32>, bool) = match width {
        0 => (data.iter().map(|b| u32::from(*b)).collect(), false),
        1 => (data.iter().map(|b| u32::from(*b)).collect(), true),
        2 => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let v = data
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .collect();
            (v, true)
        }
        _ => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            let mut v = Vec::with_capacity(data.len() / 4);
            for c in data.chunks_exact(4) {
                let ch = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                if ch > 0x10ffff {
                    return None;
                }
                v.push(ch);
            }
            (v, true)
        }
    };
    let last = chars.len().saturating_sub(1);
    for (i, c) in chars.iter().enumerate() {
        // A one-character value only gets the "last" treatment, as OpenSSL.
        let position = if i == last {
            Position::Last
        } else if i == 0 {
            Position::First
        } else {
            Position::Middle
        };
        if convert {
            let mut buf = [0u8; 4];
            // Surrogates and out-of-range values are dropped by UTF8_putc.
            if let Some(ch) = char::from_u32(*c) {
                for b in ch.encode_utf8(&mut buf).bytes() {
                    escape_byte(out, b, position);
                }
            }
        } else {
            escape_byte(out, *c as u8, position);
        }
    }
    Some(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    First,
    Middle,
    Last,
}

/// OpenSSL's `do_esc_char` with `ESC_2253 | ESC_CTRL | ESC_MSB`.
fn escape_byte(out: &mut String, b: u8, pos: Position) {
    let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
        || (b == b'#' && pos == Position::First)
        || (b == b' ' && pos != Position::Middle);
    if special {
        out.push('\\');
        out.push(b as char);
    } else if !(0x20..0x7f).contains(&b) {
        out.push_str(&format!("\\{b:02X}"));
    } else {
        out.push(b as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_lose_sign_bytes_like_openssl() {
        assert_eq!(serial_magnitude(&[0x00, 0x80, 0x01]), vec![0x80, 0x01]);
        assert_eq!(serial_magnitude(&[0x02]), vec![0x02]);
        assert_eq!(serial_magnitude(&[0x00]), vec![0x00]);
        // -1 and -256 in two's complement.
        assert_eq!(serial_magnitude(&[0xff]), vec![0x01]);
        assert_eq!(serial_magnitude(&[0xff, 0x00]), vec![0x01, 0x00]);
    }

    #[test]
    fn rfc2253_escaping_follows_openssl() {
        let mut s = String::new();
        escape_value(&mut s, b" a,b", 0).unwrap_or(());
        assert_eq!(s, "\\ a\\,b");
        let mut s = String::new();
        escape_value(&mut s, b"#x# ", 1).unwrap_or(());
        assert_eq!(s, "\\#x#\\ ");
        // One character only gets the "last" rule: '#' stays, ' ' is escaped.
        let mut s = String::new();
        escape_value(&mut s, b"#", 1).unwrap_or(());
        assert_eq!(s, "#");
        let mut s = String::new();
        escape_value(&mut s, "é\u{1}".as_bytes(), 0).unwrap_or(());
        assert_eq!(s, "\\C3\\A9\\01");
        // A Latin-1 byte in a one-byte string type is converted to UTF-8.
        let mut s = String::new();
        escape_value(&mut s, &[0xe9], 1).unwrap_or(());
        assert_eq!(s, "\\C3\\A9");
        // BMPString "é".
        let mut s = String::new();
        escape_value(&mut s, &[0x00, 0xe9], 2).unwrap_or(());
        assert_eq!(s, "\\C3\\A9");
        assert!(escape_value(&mut String::new(), &[0x00], 2).is_none());
    }

    #[test]
    fn der_dump_is_uppercase_tlv() {
        let mut s = String::new();
        dump_der(&mut s, 12, true, false, b"abc");
        assert_eq!(s, "#0C03616263");
        let mut s = String::new();
        dump_der(&mut s, 4, true, false, &[0u8; 200]);
        assert!(s.starts_with("#0481C8000000"), "{s}");
    }
}
