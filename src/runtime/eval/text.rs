//! Byte-level helpers that reproduce HAProxy's and libc's parsing and
//! printing routines exactly (`read_int64`, `strl2ic`, `buf2ip`,
//! `inet_ntop`, `a2base64`, `base64dec`), quirks included, so values print
//! and compare as they do in HAProxy.

use std::net::{Ipv4Addr, Ipv6Addr};

/// HAProxy's `read_int64`: optional sign, then the longest run of digits
/// (nothing else is consumed); saturates at the `i64` bounds.
pub(super) fn read_int64(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut value: u64 = 0;
    for d in digits.iter().take_while(|c| c.is_ascii_digit()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX);
        if value == u64::MAX {
            break;
        }
    }
    if neg {
        if value > 0x8000_0000_0000_0000 {
            i64::MIN
        } else {
            0i64.wrapping_sub(value as i64)
        }
    } else {
        i64::try_from(value).unwrap_or(i64::MAX)
    }
}

/// HAProxy's `strl2ic` (used by `hdr_val`): a 32-bit accumulation that stops
/// only at a byte above `'9'` — bytes below `'0'` are added as negative
/// "digits" (`"1.5"` gives 85), and overflow wraps, exactly as in C.
pub(super) fn strl2ic(s: &[u8]) -> i64 {
    let mut i: i32 = 0;
    let digit = |b: u8| i32::from(b) - i32::from(b'0');
    match s.split_first() {
        None => {}
        Some((b'-', rest)) => {
            for b in rest {
                let j = digit(*b);
                if j > 9 {
                    break;
                }
                i = i.wrapping_mul(10).wrapping_sub(j);
            }
        }
        Some(_) => {
            for b in s {
                let j = digit(*b);
                if j > 9 {
                    break;
                }
                i = i.wrapping_mul(10).wrapping_add(j);
            }
        }
    }
    i64::from(i)
}

/// HAProxy's `strl2irc` (port after `hdr_ip`'s `a.b.c.d:`): reads the whole
/// slice; `None` on a byte above `'9'` or an overflow. Bytes below `'0'` are
/// accepted as in C.
pub(super) fn strl2irc(s: &[u8]) -> Option<i32> {
    if s.is_empty() {
        return None;
    }
    let mut i: i32 = 0;
    let digit = |b: u8| i32::from(b) - i32::from(b'0');
    if let Some((b'-', rest)) = s.split_first() {
        for b in rest {
            let j = digit(*b);
            if j > 9 || i < i32::MIN / 10 {
                return None;
            }
            i = i.checked_mul(10)?.checked_sub(j)?;
        }
    } else {
        for b in s {
            let j = digit(*b);
            if j > 9 || i > i32::MAX / 10 {
                return None;
            }
            i = i.checked_mul(10)?.checked_add(j)?;
        }
    }
    Some(i)
}

/// HAProxy's `buf2ip` / `url2ipv4`: a dotted quad at the start of `s`
/// (octets may have leading zeros; parsing stops at the first byte that is
/// neither a digit nor a dot). Returns the address and the bytes consumed.
pub(super) fn ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut idx = 0usize;
    let mut count = 0usize;
    let mut saw_digit = false;
    let mut used = 0usize;
    for &c in s {
        if c.is_ascii_digit() {
            let v = u32::from(octets[idx]) * 10 + u32::from(c - b'0');
            if v > 255 {
                return None;
            }
            octets[idx] = v as u8;
            if !saw_digit {
                count += 1;
                if count > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if c == b'.' && saw_digit {
            if count == 4 {
                return None;
            }
            idx += 1;
            saw_digit = false;
        } else if c == b'.' {
            return None;
        } else {
            break;
        }
        used += 1;
    }
    (count == 4).then_some((Ipv4Addr::from(octets), used))
}

/// `inet_pton(AF_INET6)` on the whole slice (HAProxy's `buf2ip6`).
pub(super) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    if s.len() > 46 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// glibc's `inet_ntop(AF_INET6)`: RFC 5952 compression of the longest run of
/// two or more zero groups, and the dotted form for `::a.b.c.d` and
/// `::ffff:a.b.c.d`.
pub(super) fn ipv6_to_string(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // Longest run of zero groups (first one on ties), at least 2 long.
    let (mut best, mut cur): ((usize, usize), Option<(usize, usize)>) = ((0, 0), None);
    for (i, g) in w.iter().enumerate() {
        if *g == 0 {
            let run = cur.map_or((i, 1), |(s, l)| (s, l + 1));
            cur = Some(run);
            if run.1 > best.1 {
                best = run;
            }
        } else {
            cur = None;
        }
    }
    let run = (best.1 >= 2).then_some(best);
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = run
            && i == start
        {
            if i == 0 {
                out.push(':');
            }
            out.push(':');
            i += len;
            continue;
        }
        // Embedded IPv4: ::a.b.c.d or ::ffff:a.b.c.d.
        if i == 6 && run.is_some_and(|(s, l)| s == 0 && (l == 6 || (l == 5 && w[5] == 0xffff))) {
            let v4 = Ipv4Addr::new((w[6] >> 8) as u8, w[6] as u8, (w[7] >> 8) as u8, w[7] as u8);
            out.push_str(&v4.to_string());
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (HAProxy's `a2base64`).
pub(super) fn base64_encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let idx = [
            b[0] >> 2,
            ((b[0] & 0x03) << 4) | (b[1] >> 4),
            ((b[1] & 0x0f) << 2) | (b[2] >> 6),
            b[2] & 0x3f,
        ];
        for (k, i) in idx.iter().enumerate() {
            if k <= chunk.len() {
                out.push(B64[usize::from(*i)]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// HAProxy's `base64dec`: length a multiple of 4, padding only at the end
/// ("XX==" or "XXX="); `None` on any other input.
pub(super) fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    const PAD: u8 = 64;
    let value = |c: u8| -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            b'=' => Some(PAD),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut t = [0u8; 4];
    let (mut i, mut pad) = (0usize, 0usize);
    for &c in input {
        let b = value(c)?;
        if pad > 0 && b != PAD {
            return None;
        }
        if pad > 0 && i < 2 {
            return None;
        }
        if b == PAD {
            pad += 1;
        }
        t[i] = b;
        i += 1;
        if i == 4 {
            let bytes = [
                (t[0] << 2).wrapping_add(t[1] >> 4),
                (t[1] << 4).wrapping_add(t[2] >> 2),
                (t[2] << 6).wrapping_add(t[3]),
            ];
            out.extend_from_slice(&bytes[..3usize.saturating_sub(pad)]);
            pad = 0;
            i = 0;
        }
    }
    Some(out)
}

/// Uppercase hex, as HAProxy's `hex` converter and OpenSSL dumps print it.
pub(super) fn hex_upper(bytes: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
    out
}

/// The bytes before the first NUL (what C string functions see).
pub(super) fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|b| *b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// `strncmp(a, b, n)` with glibc's result: the difference of the first
/// differing bytes, comparison stopping at a NUL.
pub(super) fn strncmp(a: &[u8], b: &[u8], n: usize) -> i64 {
    for k in 0..n {
        let x = a.get(k).copied().unwrap_or(0);
        let y = b.get(k).copied().unwrap_or(0);
        if x != y {
            return i64::from(x) - i64::from(y);
        }
        if x == 0 {
            return 0;
        }
    }
    0
}

/// `strncmp`/`strncasecmp` equality over `n` bytes.
pub(super) fn c_eq(a: &[u8], b: &[u8], n: usize, icase: bool) -> bool {
    for k in 0..n {
        let mut x = a.get(k).copied().unwrap_or(0);
        let mut y = b.get(k).copied().unwrap_or(0);
        if icase {
            x = x.to_ascii_lowercase();
            y = y.to_ascii_lowercase();
        }
        if x != y {
            return false;
        }
        if x == 0 {
            return true;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_haproxy() {
        assert_eq!(read_int64(b"42abc"), 42);
        assert_eq!(read_int64(b"-7"), -7);
        assert_eq!(read_int64(b"+7"), 7);
        assert_eq!(read_int64(b"x"), 0);
        assert_eq!(read_int64(b"99999999999999999999"), i64::MAX);
        assert_eq!(read_int64(b"-99999999999999999999"), i64::MIN);
        assert_eq!(strl2ic(b"1.5"), 85);
        assert_eq!(strl2ic(b"12abc"), 12);
        assert_eq!(strl2ic(b"-12"), -12);
        assert_eq!(strl2irc(b"8080"), Some(8080));
        assert_eq!(strl2irc(b"80a"), None);
        assert_eq!(strl2irc(b""), None);
    }

    #[test]
    fn addresses_parse_and_print_like_libc() {
        assert_eq!(
            ipv4_prefix(b"10.0.0.1:80"),
            Some((Ipv4Addr::new(10, 0, 0, 1), 8))
        );
        assert_eq!(
            ipv4_prefix(b"010.1.1.1"),
            Some((Ipv4Addr::new(10, 1, 1, 1), 9))
        );
        assert_eq!(ipv4_prefix(b"1.2.3"), None);
        assert_eq!(ipv4_prefix(b"1.2.3.4.5"), None);
        assert_eq!(ipv4_prefix(b"1.2.3.256"), None);
        let p = |s: &str| s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(ipv6_to_string(&p("::1.2.3.4")), "::1.2.3.4");
        assert_eq!(ipv6_to_string(&p("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
        assert_eq!(ipv6_to_string(&p("::1")), "::1");
        assert_eq!(ipv6_to_string(&p("::")), "::");
        assert_eq!(ipv6_to_string(&p("2001:db8::1")), "2001:db8::1");
        assert_eq!(
            ipv6_to_string(&p("2001:db8:0:1:0:0:0:1")),
            "2001:db8:0:1::1"
        );
        assert_eq!(ipv6_to_string(&p("1:0:2:3:4:5:6:7")), "1:0:2:3:4:5:6:7");
        assert_eq!(ipv6_to_string(&p("fe80::")), "fe80::");
    }

    #[test]
    fn base64_round_trips_with_haproxy_rules() {
        assert_eq!(base64_encode(b"hello"), b"aGVsbG8=");
        assert_eq!(base64_encode(b""), b"");
        assert_eq!(base64_encode(b"ab"), b"YWI=");
        assert_eq!(base64_decode(b"dXNlcjpwYXNz"), Some(b"user:pass".to_vec()));
        assert_eq!(base64_decode(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode(b"YQ="), None);
        assert_eq!(base64_decode(b"Y=Q="), None);
        assert_eq!(base64_decode(b"===="), None);
    }

    #[test]
    fn c_string_comparisons() {
        assert_eq!(strncmp(b"abc", b"abz", 3), -23);
        assert_eq!(strncmp(b"a\0x", b"a\0y", 3), 0);
        assert!(c_eq(b"ABC", b"abc", 3, true));
        assert!(!c_eq(b"ABC", b"abc", 3, false));
    }
}
