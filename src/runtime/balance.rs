//! Server selection: HAProxy 2.6's load-balancing algorithms over the servers
//! health checks currently consider usable.
//!
//! Built once per backend of a Generation. The servers in use form a *view*,
//! recomputed whenever a health check changes a server's state (rare), and
//! read lock-free per request:
//! - the weighted **map** of `recalc_server_map` (lb_map.c): `roundrobin` and
//!   `static-rr` walk it in order, map-based hashing indexes it with
//!   `hash % total weight`;
//! - the **ring** of `hash-type consistent` (lb_chash.c): `weight × 16`
//!   points per server at `full_hash(id × 4096 + n)`, a hash picks the
//!   closest point (the one before wins ties); `random` always uses it.
//!
//! Active servers are used while one is usable; then the first usable backup
//! (all of them with `option allbackups`). Hash inputs are HAProxy's: the
//! client address (XOR of its 32-bit words, not hashed further), the request
//! URI up to `?` (or `whole`, cut by `len` and `depth`), a query parameter's
//! value, a header's first value (or, with `use_domain_only`, the main domain
//! of a Host), each through `hash-type`'s function (sdbm, djb2, wt6, crc32)
//! and `avalanche`. When the parameter or header is missing, the map is
//! walked round robin, as HAProxy does.

use crate::ir::{Balance, HashFunction, HashType, LbOptions};
use arc_swap::ArcSwap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `SRV_EWGHT_RANGE`: ring keys of a server start at `id × 4096`.
const EWGHT_RANGE: u32 = 256 * 16;
/// `BE_WEIGHT_SCALE`: ring points per unit of weight.
const WEIGHT_SCALE: u32 = 16;

/// What the algorithms know of one server.
pub struct LbServer {
    pub weight: u32,
    pub backup: bool,
    /// `disabled`: in maintenance, never used.
    pub disabled: bool,
    pub maxconn: Option<u32>,
    /// Health as the checks see it (servers start up, as in HAProxy).
    up: AtomicBool,
    /// The server has an address (false: in maintenance for resolution,
    /// `init-addr none` or a failed DNS resolution).
    has_addr: AtomicBool,
    /// Requests being sent to the server or waiting for its answer.
    inflight: AtomicUsize,
}

/// The request data hashing algorithms read.
#[derive(Default)]
pub struct LbInput<'a> {
    pub src: Option<IpAddr>,
    /// The request target as received (`/path?query`).
    pub uri: Option<&'a str>,
    pub headers: Option<&'a http::HeaderMap>,
}

/// The servers in use and their lookup structures.
#[derive(Default)]
struct View {
    /// Usable servers of the tier in use, declaration order.
    used: Vec<usize>,
    /// Weighted map (`recalc_server_map`).
    map: Vec<usize>,
    /// Consistent-hash ring, sorted by key.
    ring: Vec<(u32, usize)>,
    /// Usable active and backup servers (for the state-change messages).
    active: usize,
    backup: usize,
}

/// Selection state of one backend.
pub struct Lb {
    algo: Balance,
    opts: LbOptions,
    pub servers: Vec<LbServer>,
    view: ArcSwap<View>,
    rr: AtomicUsize,
}

/// A request in flight on a server: counted by `leastconn`, `first` and
/// `random` until dropped.
pub struct InFlight {
    lb: Arc<Lb>,
    idx: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(s) = self.lb.servers.get(self.idx) {
            s.inflight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Lb {
    /// `servers` as (weight, backup, disabled, maxconn), declaration order.
    pub fn new(algo: Balance, opts: LbOptions, servers: Vec<(u32, bool, bool, Option<u32>)>) -> Lb {
        let lb = Lb {
            algo,
            opts,
            servers: servers
                .into_iter()
                .map(|(weight, backup, disabled, maxconn)| LbServer {
                    weight,
                    backup,
                    disabled,
                    maxconn,
                    up: AtomicBool::new(true),
                    has_addr: AtomicBool::new(true),
                    inflight: AtomicUsize::new(0),
                })
                .collect(),
            view: ArcSwap::from_pointee(View::default()),
            rr: AtomicUsize::new(0),
        };
        lb.recompute();
        lb
    }

    /// Marks a server up or down (health checks) and rebuilds the view.
    /// Returns the usable (active, backup) counts afterwards.
    pub fn set_up(&self, idx: usize, up: bool) -> (usize, usize) {
        if let Some(s) = self.servers.get(idx) {
            s.up.store(up, Ordering::SeqCst);
        }
        self.recompute();
        let v = self.view.load();
        (v.active, v.backup)
    }

    /// `nbsrv`: HAProxy's `be_usable_srv`. The usable active servers; else 1
    /// when the first backup serves alone; else the usable backups.
    pub fn usable_servers(&self) -> usize {
        let v = self.view.load();
        if v.active > 0 {
            v.active
        } else if !self.opts.allbackups && v.backup > 0 {
            1
        } else {
            v.backup
        }
    }

    /// Gives a server an address or takes it away (DNS resolution) and
    /// rebuilds the view. Returns the usable (active, backup) counts.
    pub fn set_has_addr(&self, idx: usize, has: bool) -> (usize, usize) {
        if let Some(s) = self.servers.get(idx) {
            s.has_addr.store(has, Ordering::SeqCst);
        }
        self.recompute();
        let v = self.view.load();
        (v.active, v.backup)
    }

    /// Whether the server has an address.
    pub fn has_addr(&self, idx: usize) -> bool {
        self.servers
            .get(idx)
            .is_some_and(|s| s.has_addr.load(Ordering::SeqCst))
    }

    /// Whether the checks consider the server up.
    pub fn is_up(&self, idx: usize) -> bool {
        self.servers
            .get(idx)
            .is_some_and(|s| s.up.load(Ordering::SeqCst))
    }

    /// Requests in flight on a server.
    pub fn inflight(&self, idx: usize) -> usize {
        self.servers
            .get(idx)
            .map_or(0, |s| s.inflight.load(Ordering::Relaxed))
    }

    /// Counts a request on a server until the guard is dropped.
    pub fn take(self: &Arc<Self>, idx: usize) -> InFlight {
        if let Some(s) = self.servers.get(idx) {
            s.inflight.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            lb: self.clone(),
            idx,
        }
    }

    fn usable(&self, s: &LbServer) -> bool {
        !s.disabled
            && s.weight > 0
            && s.up.load(Ordering::SeqCst)
            && s.has_addr.load(Ordering::SeqCst)
    }

    fn recompute(&self) {
        let usable = |backup: bool| -> Vec<usize> {
            (0..self.servers.len())
                .filter(|&i| self.servers[i].backup == backup && self.usable(&self.servers[i]))
                .collect()
        };
        let active = usable(false);
        let backups = usable(true);
        let mut view = View {
            active: active.len(),
            backup: backups.len(),
            ..View::default()
        };
        view.used = if !active.is_empty() {
            active
        } else if self.opts.allbackups {
            backups
        } else {
            backups.into_iter().take(1).collect()
        };
        view.map = weighted_map(&view.used, |i| self.servers[i].weight);
        let ring_needed =
            self.opts.hash_type.consistent || matches!(self.algo, Balance::Random { .. });
        if ring_needed {
            for &i in &view.used {
                let id = i as u32 + 1;
                for n in 0..self.servers[i].weight.saturating_mul(WEIGHT_SCALE) {
                    let key = full_hash(id.wrapping_mul(EWGHT_RANGE).wrapping_add(n));
                    view.ring.push((key, i));
                }
            }
            // Stable: equal keys keep declaration order, like the tree's
            // insertion order.
            view.ring.sort_by_key(|(k, _)| *k);
        }
        self.view.store(Arc::new(view));
    }

    /// The server a request goes to, avoiding `avoid` where the algorithm
    /// can (a redispatch); `None` when no server is usable.
    pub fn pick(&self, input: &LbInput<'_>, avoid: Option<usize>) -> Option<usize> {
        let view = self.view.load();
        if view.used.is_empty() {
            return None;
        }
        let hash = match &self.algo {
            Balance::RoundRobin | Balance::StaticRr => return self.next_rr(&view, avoid),
            Balance::LeastConn => return self.least_conn(&view, avoid),
            Balance::First => return self.first(&view, avoid),
            Balance::Random { draws } => return self.random(&view, *draws, avoid),
            Balance::Source => input.src.map(source_hash),
            Balance::Uri { whole, len, depth } => input
                .uri
                .map(|u| self.gen_hash(uri_key(u, *whole, *len, *depth))),
            Balance::UrlParam { name } => input
                .uri
                .and_then(|u| url_param(u, name))
                .map(|v| self.gen_hash(v)),
            Balance::Hdr {
                name,
                use_domain_only,
            } => input
                .headers
                .and_then(|h| first_header_value(h, name))
                .map(|v| {
                    if *use_domain_only {
                        self.gen_hash(main_domain(v))
                    } else {
                        self.gen_hash(v)
                    }
                }),
        };
        let Some(mut hash) = hash else {
            return self.next_rr(&view, avoid);
        };
        if self.opts.hash_type.avalanche {
            hash = full_hash(hash);
        }
        if self.opts.hash_type.consistent {
            ring_lookup(&view.ring, hash, avoid)
        } else {
            view.map.get(hash as usize % view.map.len().max(1)).copied()
        }
    }

    fn gen_hash(&self, key: &[u8]) -> u32 {
        hash_key(self.opts.hash_type, key)
    }

    /// The map in order (`map_get_server_rr`), skipping `avoid` and servers
    /// at their `maxconn`.
    fn next_rr(&self, view: &View, avoid: Option<usize>) -> Option<usize> {
        let n = view.map.len();
        let start = self.rr.fetch_add(1, Ordering::Relaxed);
        let mut fallback = None;
        for k in 0..n {
            let i = view.map[(start + k) % n];
            if self.full(i) {
                continue;
            }
            if Some(i) == avoid {
                fallback = Some(i);
                continue;
            }
            if k > 0 {
                self.rr.fetch_add(k, Ordering::Relaxed);
            }
            return Some(i);
        }
        fallback.or_else(|| view.map.get(start % n.max(1)).copied())
    }

    fn full(&self, i: usize) -> bool {
        let s = &self.servers[i];
        s.maxconn
            .is_some_and(|m| m > 0 && s.inflight.load(Ordering::Relaxed) >= m as usize)
    }

    fn load(&self, i: usize) -> usize {
        self.servers[i].inflight.load(Ordering::Relaxed)
    }

    /// The fewest requests in flight relative to the weight; equal servers
    /// take turns.
    fn least_conn(&self, view: &View, avoid: Option<usize>) -> Option<usize> {
        let n = view.used.len();
        let start = self.rr.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(u64, usize)> = None;
        for k in 0..n {
            let i = view.used[(start + k) % n];
            if Some(i) == avoid && n > 1 {
                continue;
            }
            let key = (self.load(i) as u64 * 4096) / self.servers[i].weight.max(1) as u64;
            if best.is_none_or(|(b, _)| key < b) {
                best = Some((key, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The first server (declaration order) below its `maxconn`.
    fn first(&self, view: &View, avoid: Option<usize>) -> Option<usize> {
        view.used
            .iter()
            .copied()
            .find(|&i| Some(i) != avoid && !self.full(i))
            .or_else(|| view.used.first().copied())
    }

    /// `random(draws)`: random points on the ring; the least loaded of the
    /// servers drawn, relative to weight.
    fn random(&self, view: &View, draws: u32, avoid: Option<usize>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for _ in 0..draws.max(1) {
            let Some(cur) = ring_lookup(&view.ring, random32(), avoid) else {
                break;
            };
            best = Some(match best {
                Some(prev)
                    if prev != cur
                        && self.load(cur) as u64 * self.servers[prev].weight as u64
                            > self.load(prev) as u64 * self.servers[cur].weight as u64 =>
                {
                    prev
                }
                _ => cur,
            });
        }
        best
    }
}

/// HAProxy's `recalc_server_map`: `total weight` slots, each given to the
/// server whose accumulated score is highest (the first declared wins ties).
fn weighted_map(used: &[usize], weight: impl Fn(usize) -> u32) -> Vec<usize> {
    let tot: i64 = used.iter().map(|&i| weight(i) as i64).sum();
    if tot <= 1 {
        return used.first().copied().into_iter().collect();
    }
    let mut score = vec![0i64; used.len()];
    let mut map = Vec::with_capacity(tot as usize);
    for _ in 0..tot {
        let mut best: Option<(i64, usize)> = None;
        for (k, &i) in used.iter().enumerate() {
            score[k] += weight(i) as i64;
            let v = (score[k] + tot) / tot;
            if best.is_none_or(|(m, _)| v > m) {
                best = Some((v, k));
            }
        }
        if let Some((_, k)) = best {
            score[k] -= tot;
            map.push(used[k]);
        }
    }
    map
}

/// `chash_get_server_hash`: the point closest to `hash` (the one before it
/// on ties), then onwards past `avoid`.
fn ring_lookup(ring: &[(u32, usize)], hash: u32, avoid: Option<usize>) -> Option<usize> {
    if ring.is_empty() {
        return None;
    }
    let n = ring.len();
    let ge = ring.partition_point(|(k, _)| *k < hash);
    let next = if ge == n { 0 } else { ge };
    let prev = if next == 0 { n - 1 } else { next - 1 };
    let dp = hash.wrapping_sub(ring[prev].0);
    let dn = ring[next].0.wrapping_sub(hash);
    let mut at = if dp <= dn { prev } else { next };
    for _ in 0..n {
        if Some(ring[at].1) != avoid {
            break;
        }
        at = (at + 1) % n;
    }
    Some(ring[at].1)
}

/// `get_server_sh`: the address's 32-bit words XORed (no hash function).
pub fn source_hash(ip: IpAddr) -> u32 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .fold(0, |h, w| h ^ w)
}

/// The part of the URI `balance uri` hashes (`get_server_uh`).
pub fn uri_key(uri: &str, whole: bool, len: Option<u32>, depth: Option<u32>) -> &[u8] {
    let mut b = uri.as_bytes();
    if let Some(l) = len.filter(|l| *l > 0) {
        b = &b[..b.len().min(l as usize)];
    }
    // HAProxy stores depth + 1 and stops at that slash.
    let stop_at = depth.filter(|d| *d > 0).map(|d| d + 1);
    let mut slashes = 0;
    for (k, c) in b.iter().enumerate() {
        if *c == b'/' {
            slashes += 1;
            if Some(slashes) == stop_at {
                return &b[..k];
            }
        } else if *c == b'?' && !whole {
            return &b[..k];
        }
    }
    b
}

/// The value of `name=` in the query string (`get_server_ph`).
pub fn url_param<'a>(uri: &'a str, name: &str) -> Option<&'a [u8]> {
    let (_, query) = uri.split_once('?')?;
    query.split('&').find_map(|p| {
        p.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::as_bytes)
    })
}

/// The first comma-separated value of a header.
fn first_header_value<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a [u8]> {
    let v = h.get(name)?.as_bytes();
    let first = v.split(|b| *b == b',').next().unwrap_or(v);
    Some(first.trim_ascii())
}

/// `use_domain_only`: the label before the last dot (`www.example.com` →
/// `example`), as `get_server_hh` walks it; a name without dots is whole.
pub fn main_domain(v: &[u8]) -> &[u8] {
    let Some(last_dot) = v.iter().rposition(|b| *b == b'.') else {
        return v;
    };
    let start = v[..last_dot]
        .iter()
        .rposition(|b| *b == b'.')
        .map_or(0, |d| d + 1);
    &v[start..last_dot]
}

/// `gen_hash` with the configured function.
pub fn hash_key(t: HashType, key: &[u8]) -> u32 {
    match t.function {
        HashFunction::Sdbm => sdbm(key),
        HashFunction::Djb2 => djb2(key),
        HashFunction::Wt6 => wt6(key),
        HashFunction::Crc32 => crc32(key),
    }
}

pub fn sdbm(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |h, &c| {
        (c as u32)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

pub fn djb2(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(c as u32)
    })
}

pub fn wt6(key: &[u8]) -> u32 {
    let (mut h0, mut h1) = (0xa53c_965a_u32, 0x5ca6_953a_u32);
    let (mut step0, mut step1) = (6u32, 18u32);
    for &c in key {
        let t = c as u32;
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

pub fn crc32(key: &[u8]) -> u32 {
    let mut h = !0u32;
    for &c in key {
        h ^= c as u32;
        for _ in 0..8 {
            h = (h >> 1) ^ if h & 1 != 0 { 0xedb8_8320 } else { 0 };
        }
    }
    !h
}

/// Bob Jenkins' avalanche with HAProxy's final multiplication (`full_hash`).
pub fn full_hash(mut a: u32) -> u32 {
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

/// A statistical (not cryptographic) random 32-bit value.
fn random32() -> u32 {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_usize(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_functions_match_haproxy() {
        // Values computed with HAProxy 2.6's hash.c.
        assert_eq!(sdbm(b""), 0);
        assert_eq!(djb2(b""), 5381);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(sdbm(b"a"), 97);
        assert_eq!(djb2(b"a"), 5381 * 33 + 97);
    }

    #[test]
    fn map_interleaves_by_weight_first_declared_first() {
        assert_eq!(weighted_map(&[0, 1], |_| 1), vec![0, 1]);
        assert_eq!(weighted_map(&[0, 1], |i| [2, 1][i]), vec![0, 0, 1]);
        let m = weighted_map(&[0, 1, 2], |i| [3, 2, 1][i]);
        assert_eq!(m.len(), 6);
        assert_eq!(m.iter().filter(|&&i| i == 0).count(), 3);
        assert_eq!(m[0], 0);
    }

    #[test]
    fn uri_key_follows_whole_len_depth() {
        assert_eq!(uri_key("/a/b/c?x=1", false, None, None), b"/a/b/c");
        assert_eq!(uri_key("/a/b/c?x=1", true, None, None), b"/a/b/c?x=1");
        assert_eq!(uri_key("/a/b/c", false, None, Some(2)), b"/a/b");
        assert_eq!(uri_key("/a/b/c", false, Some(3), None), b"/a/");
    }

    #[test]
    fn url_param_and_domain() {
        assert_eq!(url_param("/x?a=1&user=bob&c", "user"), Some(&b"bob"[..]));
        assert_eq!(url_param("/x?username=bob", "user"), None);
        assert_eq!(main_domain(b"www.example.com"), b"example");
        assert_eq!(main_domain(b"example.com"), b"example");
        assert_eq!(main_domain(b"localhost"), b"localhost");
    }

    #[test]
    fn ring_picks_closest_point_and_skips_avoided() {
        let ring = vec![(100, 0), (200, 1), (300, 2)];
        assert_eq!(ring_lookup(&ring, 140, None), Some(0));
        assert_eq!(ring_lookup(&ring, 150, None), Some(0));
        assert_eq!(ring_lookup(&ring, 160, None), Some(1));
        assert_eq!(ring_lookup(&ring, 10, None), Some(0));
        assert_eq!(ring_lookup(&ring, u32::MAX, None), Some(0));
        assert_eq!(ring_lookup(&ring, 160, Some(1)), Some(2));
    }
}
