//! Cookie persistence at run time, as HAProxy 2.6's
//! `http_manage_client_side_cookies` and `http_manage_server_side_cookies`
//! (`http_ana.c`) and the Set-Cookie insertion of `http_process_res_common`:
//! the request's persistence cookie picks the server (and is removed or
//! unprefixed on its way to it), the response's Set-Cookie is deleted,
//! rewritten or prefixed, and an `insert` cookie is added when the client
//! did not already hold the right one. Header edits are byte for byte
//! HAProxy's, so servers and clients see the same headers.
//!
//! Dynamic cookies (`cookie … dynamic` + `dynamic-cookie-key`) are
//! HAProxy's `srv_set_dyncookie`: XXH64 (seed 0) of the key, the server's
//! address bytes and its port as 4 big-endian bytes, printed `%016llx`.

use super::eval::{Txn, eval_sample};
use super::http::cond_holds;
use super::stick::{Key, Table, Tables};
use crate::ir::NamedAcl;
use crate::ir::persist::{CookieMode, CookiePersist, StickRule, StickRuleKind};
use crate::runtime::facts::{CookieState, SetCookieState};
use http::header::{CACHE_CONTROL, COOKIE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A backend's cookie persistence, with each server's cookie value.
#[derive(Debug)]
pub struct CookieRt {
    pub cfg: CookiePersist,
    /// `option persist`.
    pub force_down: bool,
    /// Each server's value (`cookie` or the dynamic one), by server index.
    pub values: Vec<Option<String>>,
}

/// What the request's cookies decided.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqCookie {
    /// The server the cookie designates (HAProxy's `SF_DIRECT|SF_ASSIGNED`).
    pub target: Option<usize>,
    pub state: Option<CookieState>,
    /// Dates carried by the cookie (seconds, multiples of 4; 0: none).
    pub last_date: i64,
    pub first_date: i64,
}

impl CookieRt {
    /// Builds the runtime form; `dynamic` values come from the key and the
    /// resolved addresses.
    pub fn new(
        cfg: &CookiePersist,
        force_down: bool,
        key: Option<&str>,
        servers: &[(Option<String>, SocketAddr)],
    ) -> CookieRt {
        let values = servers
            .iter()
            .map(|(v, addr)| match (v, key) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(k)) if cfg.dynamic => Some(dynamic_cookie(k, *addr)),
                _ => None,
            })
            .collect();
        CookieRt {
            cfg: cfg.clone(),
            force_down,
            values,
        }
    }

    /// Whether the log's termination state shows the cookie states (HAProxy
    /// prints them only when a mode or `indirect` is set: `PR_CK_ANY`).
    pub fn logged(&self) -> bool {
        self.cfg.mode != CookieMode::Passive || self.cfg.indirect
    }

    /// Reads and edits the request's `Cookie` headers. `up` tells whether a
    /// server is UP.
    pub fn request(
        &self,
        headers: &mut HeaderMap,
        up: &dyn Fn(usize) -> bool,
        now: i64,
    ) -> ReqCookie {
        let mut st = ReqCookie {
            state: Some(CookieState::None),
            ..ReqCookie::default()
        };
        if !headers.contains_key(COOKIE) {
            return st;
        }
        let old: Vec<Vec<u8>> = headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect();
        let mut changed = false;
        let mut kept = Vec::with_capacity(old.len());
        for value in old {
            let mut buf = value.clone();
            self.client_header(&mut buf, &mut st, up, now);
            changed |= buf != value;
            if !buf.is_empty() {
                kept.push(buf);
            }
        }
        if changed {
            headers.remove(COOKIE);
            for v in kept {
                if let Ok(v) = HeaderValue::from_bytes(&v) {
                    headers.append(COOKIE, v);
                }
            }
        }
        st
    }

    /// One `Cookie` header line (`http_manage_client_side_cookies`).
    fn client_header(
        &self,
        buf: &mut Vec<u8>,
        st: &mut ReqCookie,
        up: &dyn Fn(usize) -> bool,
        now: i64,
    ) {
        let name = self.cfg.name.as_bytes();
        let mut hdr_end = buf.len();
        let mut del_from: Option<usize> = None;
        let mut preserve_hdr = false;
        let mut is_first = true;
        let mut prev = 0usize;
        while prev < hdr_end {
            let mut att_beg = prev;
            if !is_first {
                att_beg += 1;
            }
            is_first = false;
            while att_beg < hdr_end && sp(buf[att_beg]) {
                att_beg += 1;
            }
            let (mut equal, mut att_end) = (att_beg, att_beg);
            while equal < hdr_end {
                let c = buf[equal];
                if c == b'=' || c == b',' || c == b';' {
                    break;
                }
                equal += 1;
                if sp(c) {
                    continue;
                }
                att_end = equal;
            }
            let (mut val_beg, mut val_end, mut next);
            if equal < hdr_end && buf[equal] == b'=' {
                val_beg = equal + 1;
                while val_beg < hdr_end && sp(buf[val_beg]) {
                    val_beg += 1;
                }
                next = cookie_value_end(buf, val_beg, hdr_end);
                val_end = next;
                while val_end > val_beg && sp(buf[val_end - 1]) {
                    val_end -= 1;
                }
            } else {
                val_beg = equal;
                val_end = equal;
                next = equal;
            }
            if buf.get(att_beg) == Some(&b'$') {
                prev = next;
                continue;
            }
            if equal == next {
                // Not our cookie (no '='): keep it, flushing a pending deletion.
                preserve_hdr = true;
                if let Some(mut from) = del_from.take() {
                    let delta = del_hdr_value(buf, hdr_end, &mut from, prev);
                    next = shift(next, delta);
                    hdr_end = shift(hdr_end, delta);
                }
                prev = next;
                continue;
            }
            // Spaces around '=' are removed.
            if att_end != equal || val_beg > equal + 1 {
                let mut stripped: isize = 0;
                if att_end != equal {
                    buf.drain(att_end..equal);
                    stripped = att_end as isize - equal as isize;
                    equal = shift(equal, stripped);
                    val_beg = shift(val_beg, stripped);
                }
                if val_beg > equal + 1 {
                    buf.drain(equal + 1..val_beg);
                    let after = (equal + 1) as isize - val_beg as isize;
                    val_beg = shift(val_beg, after);
                    stripped += after;
                }
                val_end = shift(val_end, stripped);
                next = shift(next, stripped);
                hdr_end = shift(hdr_end, stripped);
            }
            if buf[att_beg..att_end] == *name {
                let delim = self.read_value(buf, val_beg, val_end, st, now);
                // A cookie met once the server is chosen is "unused".
                let assigned_before = st.target.is_some();
                let mut found = false;
                if delim != val_beg && !assigned_before {
                    let value = &buf[val_beg..delim];
                    for (i, v) in self.values.iter().enumerate() {
                        if v.as_deref().map(str::as_bytes) != Some(value) {
                            continue;
                        }
                        let is_up = up(i);
                        if is_up || self.force_down {
                            st.state = Some(if is_up {
                                CookieState::Valid
                            } else {
                                CookieState::Down
                            });
                            st.target = Some(i);
                            found = true;
                            break;
                        }
                        // That server is down: look for another one sharing the value.
                        st.state = Some(CookieState::Down);
                    }
                }
                // HAProxy tests `flags & (DOWN|EXPIRED|OLD)`, which every
                // state but "none" has bits of: only a first cookie is
                // judged invalid or unused.
                if !found && matches!(st.state, None | Some(CookieState::None)) {
                    st.state = Some(if assigned_before {
                        CookieState::Unused
                    } else {
                        CookieState::Invalid
                    });
                }
                if self.cfg.mode == CookieMode::Prefix && delim != val_end {
                    buf.drain(val_beg..delim + 1);
                    let delta = val_beg as isize - (delim + 1) as isize;
                    next = shift(next, delta);
                    hdr_end = shift(hdr_end, delta);
                    del_from = None;
                    preserve_hdr = true;
                } else if del_from.is_none()
                    && self.cfg.mode == CookieMode::Insert
                    && self.cfg.indirect
                {
                    del_from = Some(prev);
                }
            } else {
                preserve_hdr = true;
                if let Some(mut from) = del_from.take() {
                    let delta = del_hdr_value(buf, hdr_end, &mut from, prev);
                    next = shift(next, delta);
                    hdr_end = shift(hdr_end, delta);
                }
            }
            prev = next;
        }
        if let Some(from) = del_from {
            hdr_end = if preserve_hdr { from } else { 0 };
        }
        buf.truncate(hdr_end);
    }

    /// Finds the end of the server id in a cookie value and reads the
    /// dates (`SRV|last|first`), or the `~` of prefix mode. Expired and too
    /// old cookies are reported and their id ignored (the returned end is
    /// then `val_beg`).
    fn read_value(
        &self,
        buf: &[u8],
        val_beg: usize,
        val_end: usize,
        st: &mut ReqCookie,
        now: i64,
    ) -> usize {
        if self.cfg.mode == CookieMode::Prefix {
            return buf[val_beg..val_end]
                .iter()
                .position(|c| *c == b'~')
                .map_or(val_end, |p| val_beg + p);
        }
        let mut delim = val_end;
        if let Some(p) = buf[val_beg..val_end].iter().position(|c| *c == b'|') {
            delim = val_beg + p;
            let v1 = delim + 1;
            if val_end - v1 >= 5
                && let Some(v) = b64tos30(&buf[v1..v1 + 5]).filter(|v| *v > 0)
            {
                st.last_date = i64::from(v) << 2;
            }
            if let Some(q) = buf[v1..val_end].iter().position(|c| *c == b'|') {
                let v2 = v1 + q;
                if val_end - v2 > 5
                    && let Some(v) = b64tos30(&buf[v2 + 1..v2 + 6]).filter(|v| *v > 0)
                {
                    st.first_date = i64::from(v) << 2;
                }
            }
        }
        let (maxlife, maxidle) = (i64::from(self.cfg.maxlife), i64::from(self.cfg.maxidle));
        if st.first_date != 0
            && maxlife != 0
            && (now - st.first_date > maxlife || st.first_date - now > 86400)
        {
            st.state = Some(CookieState::Old);
            st.first_date = 0;
            st.last_date = 0;
            return val_beg;
        }
        if st.last_date != 0
            && maxidle != 0
            && (now - st.last_date > maxidle || st.last_date - now > 86400)
        {
            st.state = Some(CookieState::Expired);
            st.first_date = 0;
            st.last_date = 0;
            return val_beg;
        }
        delim
    }

    /// Edits the response's `Set-Cookie` headers and inserts the
    /// persistence cookie when needed (`served`: the server that answered;
    /// `direct`: it is the one the request's cookie named).
    #[allow(clippy::too_many_arguments)]
    pub fn response(
        &self,
        req: &ReqCookie,
        served: Option<usize>,
        direct: bool,
        method: &Method,
        status: StatusCode,
        headers: &mut HeaderMap,
        now: i64,
    ) -> SetCookieState {
        let mut sck = SetCookieState::None;
        let server_cookie = served.and_then(|i| self.values.get(i).cloned().flatten());
        if headers.contains_key(SET_COOKIE) {
            let old: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
            let mut out = Vec::with_capacity(old.len());
            for v in old {
                match self.server_header(
                    v.as_bytes(),
                    served.is_some(),
                    direct,
                    server_cookie.as_deref(),
                    &mut sck,
                ) {
                    Some(b) if b.as_slice() == v.as_bytes() => out.push(v),
                    Some(b) => {
                        if let Ok(nv) = HeaderValue::from_bytes(&b) {
                            out.push(nv);
                        }
                    }
                    None => {}
                }
            }
            headers.remove(SET_COOKIE);
            for v in out {
                headers.append(SET_COOKIE, v);
            }
        }
        let c = &self.cfg;
        let insert = served.is_some()
            && c.mode == CookieMode::Insert
            && !(sck == SetCookieState::Passive && c.preserve)
            && (!direct
                || ((c.maxidle != 0 || req.last_date != 0)
                    && (req.last_date == 0 || req.last_date - now < 0))
                || (c.maxlife != 0 && req.first_date == 0)
                || (c.maxlife == 0 && req.first_date != 0))
            && (!c.postonly || *method == Method::POST);
        if !insert {
            return sck;
        }
        let mut v = String::new();
        match &server_cookie {
            None => {
                v.push_str(&c.name);
                v.push_str("=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/");
            }
            Some(sc) => {
                v.push_str(&c.name);
                v.push('=');
                v.push_str(sc);
                if c.maxidle != 0 || c.maxlife != 0 {
                    v.push('|');
                    v.push_str(&s30tob64(((now + 3) >> 2) as u32));
                    if c.maxlife != 0 {
                        v.push('|');
                        let first = if req.first_date != 0 {
                            req.first_date >> 2
                        } else {
                            (now + 3) >> 2
                        };
                        v.push_str(&s30tob64(first as u32));
                    }
                }
                v.push_str("; path=/");
            }
        }
        if !c.domains.is_empty() {
            v.push_str("; domain=");
            v.push_str(&c.domains.join("; domain="));
        }
        if c.httponly {
            v.push_str("; HttpOnly");
        }
        if c.secure {
            v.push_str("; Secure");
        }
        if !c.attrs.is_empty() {
            v.push_str("; ");
            v.push_str(&c.attrs.join("; "));
        }
        if let Ok(hv) = HeaderValue::from_str(&v) {
            headers.append(SET_COOKIE, hv);
        }
        sck = if server_cookie.is_some() && direct {
            SetCookieState::Updated
        } else {
            SetCookieState::Inserted
        };
        if c.nocache && cacheable(method, status, headers) {
            headers.append(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
        sck
    }

    /// One `Set-Cookie` line (`http_manage_server_side_cookies`): `None`
    /// deletes it.
    fn server_header(
        &self,
        value: &[u8],
        has_server: bool,
        direct: bool,
        server_cookie: Option<&str>,
        sck: &mut SetCookieState,
    ) -> Option<Vec<u8>> {
        let mut buf = value.to_vec();
        let hdr_end = buf.len();
        let mut att_beg = 0;
        while att_beg < hdr_end && sp(buf[att_beg]) {
            att_beg += 1;
        }
        let (mut equal, mut att_end) = (att_beg, att_beg);
        while equal < hdr_end {
            let c = buf[equal];
            if c == b'=' || c == b';' {
                break;
            }
            equal += 1;
            if sp(c) {
                continue;
            }
            att_end = equal;
        }
        let (mut val_beg, mut val_end);
        if equal < hdr_end && buf[equal] == b'=' {
            val_beg = equal + 1;
            while val_beg < hdr_end && sp(buf[val_beg]) {
                val_beg += 1;
            }
            let next = cookie_value_end(&buf, val_beg, hdr_end);
            val_end = next;
            while val_end > val_beg && sp(buf[val_end - 1]) {
                val_end -= 1;
            }
        } else {
            val_beg = equal;
            val_end = equal;
        }
        if equal == val_end {
            return Some(buf);
        }
        if att_end != equal || val_beg > equal + 1 {
            let mut stripped: isize = 0;
            if att_end != equal {
                buf.drain(att_end..equal);
                stripped = att_end as isize - equal as isize;
                equal = shift(equal, stripped);
                val_beg = shift(val_beg, stripped);
            }
            if val_beg > equal + 1 {
                buf.drain(equal + 1..val_beg);
                let after = (equal + 1) as isize - val_beg as isize;
                val_beg = shift(val_beg, after);
                stripped += after;
            }
            val_end = shift(val_end, stripped);
        }
        if buf[att_beg..att_end] != *self.cfg.name.as_bytes() {
            return Some(buf);
        }
        *sck = SetCookieState::Passive;
        let c = &self.cfg;
        if c.preserve {
            return Some(buf);
        }
        if (has_server && c.mode == CookieMode::Insert) || (direct && c.indirect) {
            *sck = SetCookieState::Deleted;
            return None;
        }
        match (server_cookie, c.mode) {
            (Some(sc), CookieMode::Rewrite) => {
                buf.splice(val_beg..val_end, sc.bytes());
                *sck = SetCookieState::Rewritten;
            }
            (Some(sc), CookieMode::Prefix) => {
                let mut pre = sc.as_bytes().to_vec();
                pre.push(b'~');
                buf.splice(val_beg..val_beg, pre);
                *sck = SetCookieState::Rewritten;
            }
            _ => {}
        }
        Some(buf)
    }
}

/// The current time in seconds since the epoch (HAProxy's `date.tv_sec`).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `nocache` must add `Cache-Control: private`: the response is
/// cacheable (`TX_CACHEABLE`: a safe method, a cacheable status, no
/// `Pragma: no-cache` nor `private`-like Cache-Control) and carries
/// freshness or a validator (else HAProxy 2.6.12 marks it
/// `TX_CACHE_IGNORE` and adds nothing; measured with haproxy).
fn cacheable(method: &Method, status: StatusCode, headers: &HeaderMap) -> bool {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let status_ok = matches!(
        status.as_u16(),
        200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501
    );
    let mut cacheable = safe && status_ok;
    if headers
        .get_all(http::header::PRAGMA)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"no-cache"))
    {
        return false;
    }
    let mut fresh = false;
    for v in headers.get_all(CACHE_CONTROL) {
        for item in v.as_bytes().split(|c| *c == b',') {
            let item = item.trim_ascii();
            let starts =
                |p: &[u8]| item.len() >= p.len() && item[..p.len()].eq_ignore_ascii_case(p);
            if item.eq_ignore_ascii_case(b"public") {
                cacheable = true;
            } else if [
                &b"private"[..],
                b"no-cache",
                b"no-store",
                b"max-age=0",
                b"s-maxage=0",
            ]
            .iter()
            .any(|k| item.eq_ignore_ascii_case(k))
            {
                cacheable = false;
            } else if starts(b"no-cache=\"set-cookie") {
                // Only the cookie is uncacheable.
            } else if starts(b"s-maxage") || starts(b"max-age") {
                fresh = true;
            }
        }
    }
    let fresh = fresh
        || headers.contains_key(http::header::EXPIRES)
        || headers.contains_key(http::header::ETAG)
        || headers.contains_key(http::header::LAST_MODIFIED);
    cacheable && fresh
}

fn sp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn shift(i: usize, delta: isize) -> usize {
    i.checked_add_signed(delta).unwrap_or(0)
}

/// `http_find_cookie_value_end`: the first unquoted `,` or `;`.
fn cookie_value_end(buf: &[u8], from: usize, end: usize) -> usize {
    let (mut quoted, mut qdpair) = (false, false);
    for (i, c) in buf.iter().enumerate().take(end).skip(from) {
        if qdpair {
            qdpair = false;
        } else if quoted {
            if *c == b'\\' {
                qdpair = true;
            } else if *c == b'"' {
                quoted = false;
            }
        } else if *c == b'"' {
            quoted = true;
        } else if *c == b',' || *c == b';' {
            return i;
        }
    }
    end
}

/// `http_del_hdr_value`: removes `[*from, next)` from a header value,
/// keeping one delimiter (and a space) between the remaining values.
/// Returns how much the end moved (negative).
fn del_hdr_value(buf: &mut Vec<u8>, end: usize, from: &mut usize, next: usize) -> isize {
    let mut prev = *from;
    let mut next = next;
    if prev == 0 {
        if next < end {
            next += 1;
        }
        while next < end && sp(buf[next]) {
            next += 1;
        }
    } else {
        while prev > 0 && sp(buf[prev - 1]) {
            prev -= 1;
        }
        *from = prev;
        if next < end {
            buf[prev] = buf[next];
            prev += 1;
            next += 1;
            if prev + 1 < next {
                buf[prev] = b' ';
                prev += 1;
            }
            while next < end && sp(buf[next]) {
                next += 1;
            }
        }
    }
    buf.drain(prev..next);
    prev as isize - next as isize
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `s30tob64`: the low 30 bits as 5 base64 characters, most significant first.
pub fn s30tob64(v: u32) -> String {
    (0..5)
        .map(|i| char::from(B64[((v >> (24 - 6 * i)) & 0x3f) as usize]))
        .collect()
}

/// `b64tos30`: 5 base64 characters back to 30 bits.
pub fn b64tos30(s: &[u8]) -> Option<u32> {
    s.iter().take(5).try_fold(0u32, |acc, c| {
        let d = B64.iter().position(|b| b == c)?;
        Some((acc << 6) | d as u32)
    })
}

/// HAProxy's dynamic cookie value of a server.
pub fn dynamic_cookie(key: &str, addr: SocketAddr) -> String {
    let mut buf = key.as_bytes().to_vec();
    match addr.ip() {
        IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
    }
    buf.extend_from_slice(&u32::from(addr.port()).to_be_bytes());
    format!("{:016x}", xxh64(&buf, 0))
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8]) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(a))
}

/// XXH64 (the reference algorithm HAProxy embeds).
pub fn xxh64(input: &[u8], seed: u64) -> u64 {
    let len = input.len();
    let mut rest = input;
    let mut h = if len >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, le64(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len as u64);
    while rest.len() >= 8 {
        h ^= round(0, le64(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h ^= le32(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for b in rest {
        h ^= u64::from(*b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

/// A key a `stick` rule will store the answering server under.
pub type PendingStore = (Arc<Table>, Key);

/// HAProxy keeps at most 8 pending stores per stream.
const MAX_STORES: usize = 8;

/// `process_sticking_rules`: the `stick match`/`stick on` rules pick the
/// server stored for their key (unless a server is already `assigned`, by
/// a cookie), and the `stick on`/`stick store-request` rules note their key
/// (only the first per table). Returns the matched server.
#[allow(clippy::too_many_arguments)]
pub fn stick_request(
    rules: &[StickRule],
    tables: &Tables,
    acls: &[NamedAcl],
    t: &mut Txn,
    mut assigned: bool,
    usable: &dyn Fn(usize) -> bool,
    force_down: bool,
    stores: &mut Vec<PendingStore>,
) -> Option<usize> {
    let mut target = None;
    for r in rules
        .iter()
        .filter(|r| r.kind != StickRuleKind::StoreResponse)
    {
        let Some(table) = tables.get(&r.table) else {
            continue;
        };
        if r.kind.stores_request() && stores.iter().any(|(tb, _)| Arc::ptr_eq(tb, table)) {
            continue;
        }
        if !cond_holds(&r.cond, acls, t) {
            continue;
        }
        let Some(key) = eval_sample(&r.key, t).and_then(|v| table.key_of(v)) else {
            continue;
        };
        if r.kind.matches()
            && let Some(srv) = table.server_of(&key)
            && !assigned
            && (usable(srv) || force_down)
        {
            assigned = true;
            target = Some(srv);
        }
        if r.kind.stores_request() && stores.len() < MAX_STORES {
            stores.push((table.clone(), key));
        }
    }
    target
}

/// `process_store_rules`: the `stick store-response` rules note their key
/// (one per table besides the request's), then every noted key records
/// the server that answered.
pub fn stick_response(
    rules: &[StickRule],
    tables: &Tables,
    acls: &[NamedAcl],
    t: &mut Txn,
    mut stores: Vec<PendingStore>,
    served: usize,
) {
    let from_request = stores.len();
    for r in rules
        .iter()
        .filter(|r| r.kind == StickRuleKind::StoreResponse)
    {
        let Some(table) = tables.get(&r.table) else {
            continue;
        };
        if stores[from_request..]
            .iter()
            .any(|(tb, _)| Arc::ptr_eq(tb, table))
        {
            continue;
        }
        if !cond_holds(&r.cond, acls, t) {
            continue;
        }
        let Some(key) = eval_sample(&r.key, t).and_then(|v| table.key_of(v)) else {
            continue;
        };
        if stores.len() < MAX_STORES {
            stores.push((table.clone(), key));
        }
    }
    for (table, key) in stores {
        table.store_server(key, served);
    }
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
