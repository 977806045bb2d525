//! The TLVs of PROXY protocol v2 headers: what `proxy-v2-options` adds to
//! the header sent to a server, and what `fc_pp_authority` /
//! `fc_pp_unique_id` read from a received one. Types, order and contents
//! follow HAProxy 2.6's `make_proxy_line_v2` and `conn_recv_proxy`
//! (measured byte for byte against haproxy 2.6.12).

use super::facts::{CertFacts, ConnFacts, ProxyHeaderFacts};
use crate::ir::ProxyV2Options;
use bytes::Bytes;

const PP2_TYPE_ALPN: u8 = 0x01;
const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_CRC32C: u8 = 0x03;
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
const PP2_SUBTYPE_SSL_SIG_ALG: u8 = 0x24;
const PP2_SUBTYPE_SSL_KEY_ALG: u8 = 0x25;
const PP2_CLIENT_SSL: u8 = 0x01;
const PP2_CLIENT_CERT_CONN: u8 = 0x02;
const PP2_CLIENT_CERT_SESS: u8 = 0x04;

/// HAProxy's `UNIQUEID_LEN`: a longer unique ID TLV is a bad header.
const MAX_UNIQUE_ID: usize = 128;
/// HAProxy's `HA_PP2_AUTHORITY_MAX`.
const MAX_AUTHORITY: usize = 255;

/// Why the TLVs of a received header were refused (the connection closes,
/// as HAProxy's "bad header").
#[derive(Debug, thiserror::Error)]
pub enum TlvError {
    #[error("truncated TLV in the PROXY v2 header")]
    Truncated,
    #[error("PROXY v2 CRC32C TLV does not match the header")]
    BadCrc,
    #[error("PROXY v2 TLV 0x{0:02x} is too long")]
    TooLong(u8),
}

fn tlv(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    // Values here are names and IDs far below 64 KiB; cut rather than wrap.
    let value = &value[..value.len().min(u16::MAX as usize)];
    out.push(kind);
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

/// The TLVs to append to the addresses of a v2 header for a client
/// connection. The CRC32C TLV, when asked for, comes first with a zero
/// value: [`seal_crc32c`] fills it once the header is complete.
pub fn build(opts: &ProxyV2Options, conn: &ConnFacts, unique_id: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    if opts.crc32c {
        tlv(&mut out, PP2_TYPE_CRC32C, &[0; 4]);
    }
    let tls = conn.tls.as_deref();
    // HAProxy always forwards the ALPN the client negotiated.
    if let Some(alpn) = tls.and_then(|t| t.session.alpn.as_deref()) {
        tlv(&mut out, PP2_TYPE_ALPN, alpn);
    }
    if opts.authority
        && let Some(sni) = tls.and_then(|t| t.sni.as_deref())
    {
        tlv(&mut out, PP2_TYPE_AUTHORITY, sni.as_bytes());
    }
    if opts.unique_id
        && let Some(id) = unique_id.filter(|id| !id.is_empty())
    {
        tlv(&mut out, PP2_TYPE_UNIQUE_ID, id);
    }
    if opts.ssl {
        let mut ssl = vec![0u8; 5];
        if let Some(t) = tls {
            let mut client = PP2_CLIENT_SSL;
            let mut sub = Vec::new();
            tlv(
                &mut sub,
                PP2_SUBTYPE_SSL_VERSION,
                t.session.protocol.as_bytes(),
            );
            let peer = t.client.as_ref().map(|c| &*c.leaf);
            if peer.is_some() {
                client |= PP2_CLIENT_CERT_SESS;
                if t.cert_presented_this_handshake {
                    client |= PP2_CLIENT_CERT_CONN;
                }
                ssl[1..5].copy_from_slice(&(t.verify_result as u32).to_be_bytes());
            }
            if opts.cert_cn
                && let Some(cn) = peer.and_then(common_name)
            {
                tlv(&mut sub, PP2_SUBTYPE_SSL_CN, &cn);
            }
            // The key and signature of the client's certificate, else of
            // the one the frontend presented.
            let cert = peer.or(t.frontend_cert.as_deref());
            if opts.cert_key
                && let Some(k) = cert.and_then(key_algo)
            {
                tlv(&mut sub, PP2_SUBTYPE_SSL_KEY_ALG, k.as_bytes());
            }
            if opts.cert_sig
                && let Some(c) = cert
            {
                tlv(&mut sub, PP2_SUBTYPE_SSL_SIG_ALG, c.sig_alg.as_bytes());
            }
            if opts.ssl_cipher {
                tlv(
                    &mut sub,
                    PP2_SUBTYPE_SSL_CIPHER,
                    t.session.cipher.as_bytes(),
                );
            }
            ssl[0] = client;
            ssl.extend_from_slice(&sub);
        }
        tlv(&mut out, PP2_TYPE_SSL, &ssl);
    }
    out
}

/// Fills the CRC32C TLV (the first one, right after the addresses) of a
/// complete v2 header: the checksum of the header with that value zeroed.
pub fn seal_crc32c(header: &mut [u8], tlv_start: usize) {
    let value = tlv_start + 3;
    if header.get(tlv_start) != Some(&PP2_TYPE_CRC32C) || header.len() < value + 4 {
        return;
    }
    header[value..value + 4].fill(0);
    let crc = crc32c::crc32c(header);
    header[value..value + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Reads the TLVs after the addresses of a received v2 header (`header` is
/// the whole header, for the CRC32C check), as HAProxy 2.6 does.
pub fn parse(header: &[u8], tlv_start: usize) -> Result<ProxyHeaderFacts, TlvError> {
    let mut facts = ProxyHeaderFacts::default();
    let mut i = tlv_start;
    while i < header.len() {
        let (kind, len) = match header.get(i..i + 3) {
            Some(h) => (h[0], u16::from_be_bytes([h[1], h[2]]) as usize),
            None => return Err(TlvError::Truncated),
        };
        let value = header.get(i + 3..i + 3 + len).ok_or(TlvError::Truncated)?;
        match kind {
            PP2_TYPE_CRC32C => {
                if len != 4 {
                    return Err(TlvError::BadCrc);
                }
                let mut copy = header.to_vec();
                copy[i + 3..i + 7].fill(0);
                if crc32c::crc32c(&copy).to_be_bytes() != value {
                    return Err(TlvError::BadCrc);
                }
            }
            PP2_TYPE_AUTHORITY => {
                if len > MAX_AUTHORITY {
                    return Err(TlvError::TooLong(kind));
                }
                facts.authority = Some(Bytes::copy_from_slice(value));
            }
            PP2_TYPE_UNIQUE_ID => {
                if len > MAX_UNIQUE_ID {
                    return Err(TlvError::TooLong(kind));
                }
                facts.unique_id = Some(Bytes::copy_from_slice(value));
            }
            _ => {}
        }
        i += 3 + len;
    }
    Ok(facts)
}

/// The first CN of a certificate's subject (OpenSSL's
/// `X509_NAME_get_index_by_NID` walk in `ssl_sock_get_remote_common_name`
/// stops at the first).
fn common_name(cert: &CertFacts) -> Option<Vec<u8>> {
    cert.subject
        .entries
        .iter()
        .find(|e| e.name == "CN")
        .map(|e| e.value.clone())
}

/// HAProxy's `ssl_sock_get_pkey_algo`: the key type and its size in bits,
/// `RSA2048`, `EC256`.
fn key_algo(cert: &CertFacts) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let (_, x509) = X509Certificate::from_der(&cert.der).ok()?;
    let spki = x509.public_key();
    let text = match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => format!("RSA{}", int_bits(rsa.modulus)),
        PublicKey::EC(point) => format!("EC{}", ec_bits(point.key_size())),
        PublicKey::DSA(_) => format!("DSA{}", spki.subject_public_key.data.len() * 8),
        _ => {
            let oid = spki.algorithm.algorithm.to_id_string();
            match oid.as_str() {
                "1.3.101.112" => "ED25519253".to_string(),
                "1.3.101.113" => "ED448456".to_string(),
                _ => return None,
            }
        }
    };
    Some(text)
}

/// The curve size from x509-parser's EC key size (half the point's
/// coordinates, in bits: P-521's 66-byte coordinates give 528).
fn ec_bits(half_point_bits: usize) -> usize {
    match half_point_bits {
        528 => 521,
        n => n,
    }
}

/// The size in bits of a big-endian unsigned integer (OpenSSL's
/// `EVP_PKEY_bits` of an RSA key: the modulus size).
fn int_bits(int: &[u8]) -> usize {
    let digits: &[u8] = match int.iter().position(|b| *b != 0) {
        Some(i) => &int[i..],
        None => return 0,
    };
    digits.len() * 8 - digits[0].leading_zeros() as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unique_id_and_authority_round_trip_with_a_checksum() {
        let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\0".to_vec();
        header.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34, 0x56, 0x78]);
        let start = header.len();
        tlv(&mut header, PP2_TYPE_CRC32C, &[0; 4]);
        tlv(&mut header, PP2_TYPE_AUTHORITY, b"foo.bar");
        tlv(&mut header, PP2_TYPE_UNIQUE_ID, b"TEST-abc");
        let len = (header.len() - 16) as u16;
        header[14..16].copy_from_slice(&len.to_be_bytes());
        seal_crc32c(&mut header, start);
        let facts = parse(&header, start).unwrap();
        assert_eq!(facts.authority.as_deref(), Some(&b"foo.bar"[..]));
        assert_eq!(facts.unique_id.as_deref(), Some(&b"TEST-abc"[..]));
        // One flipped byte and the checksum no longer matches.
        let last = header.len() - 1;
        header[last] ^= 1;
        assert!(matches!(parse(&header, start), Err(TlvError::BadCrc)));
    }

    #[test]
    fn truncated_and_oversized_tlvs_are_bad_headers() {
        assert!(matches!(
            parse(&[PP2_TYPE_UNIQUE_ID, 0, 9, b'x'], 0),
            Err(TlvError::Truncated)
        ));
        let mut long = Vec::new();
        tlv(&mut long, PP2_TYPE_UNIQUE_ID, &[b'x'; 129]);
        assert!(matches!(parse(&long, 0), Err(TlvError::TooLong(_))));
    }
}
