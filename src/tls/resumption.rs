//! Session-resumption isolation for the server configs of one bind.
//!
//! Built once per bind per configuration generation, next to the rustls
//! `ServerConfig`s. HAProxy 2.6 resumes a session made under a lax policy
//! (`verify none`) on a strict one (`verify required`) with the same SNI, and
//! after a reload: a verified mTLS bypass (haproxy-spec.md §11.2). Here every
//! server config gets its own *view* of one shared key rotator and one shared
//! session cache, tagged with a per-generation random nonce and the config's
//! index: a ticket or session id made under one (certificate, policy) is
//! unreadable under any other, and nothing made by an older generation
//! decrypts or is found under a newer one (fresh keys and a fresh cache per
//! build). Sharing the rotator and the cache keeps memory flat when a
//! crt-list has thousands of lines.
//!
//! Both views also stamp the creation time inside the protected data and
//! refuse anything older than [`SESSION_LIFETIME_SECS`] (HAProxy's
//! `tune.ssl.lifetime`), so a resumed session never outlives HAProxy's.

use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a session may be resumed, in seconds (HAProxy's
/// `tune.ssl.lifetime` default).
pub const SESSION_LIFETIME_SECS: u32 = 300;

/// Entries in the stateful session cache of one bind (HAProxy's
/// `tune.ssl.cachesize` default).
pub const SESSION_CACHE_SIZE: usize = 20_000;

/// Length of the tag: 8 bytes of generation nonce + 4 bytes of config index.
const TAG_LEN: usize = 12;

/// The resumption state shared by the server configs of one bind, for one
/// generation.
pub struct Resumption {
    nonce: [u8; 8],
    rotator: Arc<dyn ProducesTickets>,
    /// `None` when `tune.ssl.cachesize 0` turned the stateful cache off.
    cache: Option<Arc<ServerSessionMemoryCache>>,
    lifetime: u32,
}

impl fmt::Debug for Resumption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resumption").finish_non_exhaustive()
    }
}

/// The key rotator or the random nonce could not be made (the system RNG failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS session resumption: {0}")]
pub struct ResumptionError(String);

impl Resumption {
    /// Fresh ticket keys, a fresh cache and a fresh nonce, with HAProxy's
    /// default cache size and lifetime.
    pub fn new() -> Result<Resumption, ResumptionError> {
        Self::with_limits(SESSION_CACHE_SIZE, SESSION_LIFETIME_SECS)
    }

    /// Like [`Resumption::new`] with `tune.ssl.cachesize` entries (0 turns the
    /// stateful cache off) and sessions valid `tune.ssl.lifetime` seconds.
    pub fn with_limits(cache_size: usize, lifetime: u32) -> Result<Resumption, ResumptionError> {
        let rotator =
            rustls::crypto::ring::Ticketer::new().map_err(|e| ResumptionError(e.to_string()))?;
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| ResumptionError("the system random generator failed".to_string()))?;
        Ok(Resumption {
            nonce,
            rotator,
            cache: (cache_size > 0).then(|| ServerSessionMemoryCache::new(cache_size)),
            lifetime,
        })
    }

    fn tag(&self, config_index: u32) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        tag[..8].copy_from_slice(&self.nonce);
        tag[8..].copy_from_slice(&config_index.to_be_bytes());
        tag
    }

    /// The stateful cache view of one server config (TLS 1.2 session ids,
    /// TLS 1.3 stateful tickets).
    pub fn store_for(&self, config_index: u32) -> Arc<dyn StoresServerSessions> {
        match &self.cache {
            Some(cache) => Arc::new(TaggedStore {
                inner: cache.clone(),
                tag: self.tag(config_index),
                lifetime: self.lifetime,
            }),
            None => Arc::new(rustls::server::NoServerSessionStorage {}),
        }
    }

    /// The ticket view of one server config (stateless resumption).
    pub fn ticketer_for(&self, config_index: u32) -> Arc<dyn ProducesTickets> {
        Arc::new(TaggedTicketer {
            inner: self.rotator.clone(),
            tag: self.tag(config_index),
            lifetime: self.lifetime,
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `tag || created (u64 BE) || data`.
fn seal(tag: &[u8; TAG_LEN], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TAG_LEN + 8 + data.len());
    out.extend_from_slice(tag);
    out.extend_from_slice(&now_secs().to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The data of [`seal`]ed bytes when the tag matches and the session is
/// still within its lifetime.
fn open(tag: &[u8; TAG_LEN], sealed: &[u8], lifetime: u32) -> Option<Vec<u8>> {
    let rest = sealed.strip_prefix(tag.as_slice())?;
    let (created, data) = rest.split_first_chunk::<8>()?;
    let age = now_secs().checked_sub(u64::from_be_bytes(*created))?;
    (age <= u64::from(lifetime)).then(|| data.to_vec())
}

/// A per-config view of the shared ticket key rotator: the tag and the
/// creation time travel inside the encrypted ticket.
struct TaggedTicketer {
    inner: Arc<dyn ProducesTickets>,
    tag: [u8; TAG_LEN],
    lifetime: u32,
}

impl fmt::Debug for TaggedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaggedTicketer").finish_non_exhaustive()
    }
}

impl ProducesTickets for TaggedTicketer {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.lifetime.min(self.inner.lifetime())
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner.encrypt(&seal(&self.tag, plain))
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        open(&self.tag, &self.inner.decrypt(cipher)?, self.lifetime)
    }
}

/// A per-config view of the shared session cache: keys are prefixed with the
/// tag, values carry their creation time.
struct TaggedStore {
    inner: Arc<ServerSessionMemoryCache>,
    tag: [u8; TAG_LEN],
    lifetime: u32,
}

impl fmt::Debug for TaggedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaggedStore").finish_non_exhaustive()
    }
}

impl TaggedStore {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(TAG_LEN + key.len());
        k.extend_from_slice(&self.tag);
        k.extend_from_slice(key);
        k
    }
}

impl StoresServerSessions for TaggedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(self.key(&key), seal(&self.tag, &value))
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        open(&self.tag, &self.inner.get(&self.key(key))?, self.lifetime)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        open(&self.tag, &self.inner.take(&self.key(key))?, self.lifetime)
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resumption() -> Resumption {
        match Resumption::new() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn ticket_opens_only_under_the_config_that_made_it() {
        let r = resumption();
        let a = r.ticketer_for(0);
        let b = r.ticketer_for(1);
        let Some(ticket) = a.encrypt(b"session state") else {
            panic!("encrypt failed");
        };
        assert_eq!(a.decrypt(&ticket).as_deref(), Some(&b"session state"[..]));
        assert_eq!(b.decrypt(&ticket), None);
        assert!(a.lifetime() <= SESSION_LIFETIME_SECS);
    }

    #[test]
    fn ticket_from_an_older_generation_does_not_open() {
        let old = resumption().ticketer_for(0);
        let new = resumption().ticketer_for(0);
        let Some(ticket) = old.encrypt(b"x") else {
            panic!("encrypt failed");
        };
        assert_eq!(new.decrypt(&ticket), None);
    }

    #[test]
    fn session_ids_are_scoped_per_config() {
        let r = resumption();
        let a = r.store_for(0);
        let b = r.store_for(1);
        assert!(a.put(b"id".to_vec(), b"value".to_vec()));
        assert_eq!(b.get(b"id"), None);
        assert_eq!(b.take(b"id"), None);
        assert_eq!(a.get(b"id").as_deref(), Some(&b"value"[..]));
        assert_eq!(a.take(b"id").as_deref(), Some(&b"value"[..]));
        assert_eq!(a.get(b"id"), None);
    }

    #[test]
    fn stale_sessions_are_refused() {
        let tag = [7u8; TAG_LEN];
        let mut sealed = seal(&tag, b"v");
        let old = now_secs() - u64::from(SESSION_LIFETIME_SECS) - 1;
        sealed[TAG_LEN..TAG_LEN + 8].copy_from_slice(&old.to_be_bytes());
        assert_eq!(open(&tag, &sealed, SESSION_LIFETIME_SECS), None);
        assert_eq!(
            open(&tag, &seal(&tag, b"v"), SESSION_LIFETIME_SECS).as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(open(&tag, b"short", SESSION_LIFETIME_SECS), None);
    }
}
