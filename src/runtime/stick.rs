//! Stick tables at run time: per-key counters with HAProxy's frequency
//! counters, expiry and size limit, and the trackers a stream holds on them.
//!
//! A [`Table`] lives in the Generation (so a reload starts empty tables, as
//! HAProxy without peers). Tracking an entry (`track-sc<n>`) takes a
//! [`Tracker`]: while it is held the entry cannot expire or be purged and
//! counts in `conn_cur`; dropping it releases both.

use super::eval::Value;
use crate::ir::expr::SampleType;
use crate::ir::stick::{StickCounter, StickKey, StickTable, StoreType};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// A table key, normalised to the table's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Ip(IpAddr),
    Int(i64),
    Bytes(Vec<u8>),
}

/// HAProxy's `freq_ctr`: events in the current period plus the previous
/// period's count, weighted by how much of it is still in the window.
#[derive(Clone, Copy, Debug, Default)]
struct FreqCtr {
    /// Start of the current period, in ms since the table's epoch.
    start: u64,
    curr: u64,
    prev: u64,
}

impl FreqCtr {
    fn rotate(&mut self, now: u64, period: u64) {
        let period = period.max(1);
        let elapsed = now.saturating_sub(self.start);
        if elapsed >= period {
            let periods = elapsed / period;
            self.prev = if periods == 1 { self.curr } else { 0 };
            self.curr = 0;
            self.start += periods * period;
        }
    }

    fn add(&mut self, now: u64, period: u64, n: u64) {
        self.rotate(now, period);
        self.curr = self.curr.saturating_add(n);
    }

    fn read(mut self, now: u64, period: u64) -> u64 {
        self.rotate(now, period);
        let period = period.max(1);
        let remain = period - now.saturating_sub(self.start).min(period);
        self.curr + self.prev * remain / period
    }
}

/// One entry's stored values.
#[derive(Debug, Default)]
struct Entry {
    counts: HashMap<StickCounter, u64>,
    rates: HashMap<StickCounter, FreqCtr>,
    /// Streams tracking this entry.
    refs: usize,
    /// When the entry expires if nothing touches it (ms since epoch).
    expires: Option<u64>,
    /// Last update, for purging the oldest entry of a full table.
    touched: u64,
    /// The table's update number of the last local change (0: none, the
    /// entry only holds what peers sent): what the peers protocol pushes.
    upd: u32,
    /// The server a `stick` rule stored (`server_id`), by index in the
    /// backend that stored it.
    server: Option<usize>,
}

/// A stick table and its entries.
#[derive(Debug)]
pub struct Table {
    pub spec: StickTable,
    epoch: Instant,
    entries: Mutex<HashMap<Key, Entry>>,
    /// The number of the last local change; peers sessions watch it and push
    /// the entries changed since what they pushed last.
    updates: tokio::sync::watch::Sender<u32>,
}

/// An update to the counters of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A stream starts tracking the entry.
    TrackStart,
    /// An HTTP request was counted for the entry.
    HttpRequest,
    /// An HTTP response with a client error (4xx) was sent.
    HttpError,
    IncGpc(u8),
}

impl Table {
    /// An empty table.
    pub fn new(spec: StickTable) -> Arc<Table> {
        // The epoch lies a day back so that rate counters received from
        // peers, whose period started before this process, stay representable.
        let now = Instant::now();
        Arc::new(Table {
            spec,
            epoch: now
                .checked_sub(std::time::Duration::from_secs(86_400))
                .unwrap_or(now),
            entries: Mutex::new(HashMap::new()),
            updates: tokio::sync::watch::Sender::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // Entries are plain counters: a panic elsewhere leaves them usable.
        match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The key a sample gives in this table, converted as HAProxy does
    /// (strings truncated, binaries padded); `None` if it cannot convert.
    pub fn key_of(&self, v: Value) -> Option<Key> {
        match self.spec.key {
            StickKey::Ip => match v.cast(SampleType::Ipv4)? {
                Value::Ip(ip) => Some(Key::Ip(ip)),
                _ => None,
            },
            StickKey::Ipv6 => match v.cast(SampleType::Ipv6)? {
                Value::Ip(ip) => Some(Key::Ip(ip)),
                _ => None,
            },
            StickKey::Integer => match v.cast(SampleType::Int)? {
                Value::Int(i) => Some(Key::Int(i)),
                _ => None,
            },
            StickKey::String { len } => match v.cast(SampleType::Str)? {
                Value::Str(b) => Some(Key::Bytes(b[..b.len().min(len)].to_vec())),
                _ => None,
            },
            StickKey::Binary { len } => match v.cast(SampleType::Bin)? {
                Value::Bin(b) => {
                    let mut k = b[..b.len().min(len)].to_vec();
                    k.resize(len, 0);
                    Some(Key::Bytes(k))
                }
                _ => None,
            },
        }
    }

    fn stores(&self, c: StickCounter) -> Option<StoreType> {
        self.spec.store.iter().copied().find(|s| s.counter() == c)
    }

    /// Drops expired entries; when still full, the least recently touched
    /// untracked one (unless `nopurge`). Returns whether there is room.
    fn make_room(&self, map: &mut HashMap<Key, Entry>, now: u64) -> bool {
        if (map.len() as u64) < self.spec.size {
            return true;
        }
        map.retain(|_, e| e.refs > 0 || e.expires.is_none_or(|t| t > now));
        if (map.len() as u64) < self.spec.size {
            return true;
        }
        if self.spec.nopurge {
            return false;
        }
        let oldest = map
            .iter()
            .filter(|(_, e)| e.refs == 0)
            .min_by_key(|(_, e)| e.touched)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                map.remove(&k);
                true
            }
            None => false,
        }
    }

    /// Gives an entry changed locally the next update number (the caller
    /// holds the entries lock, which orders the numbers).
    fn touch_local(&self, e: &mut Entry) {
        let mut n = 0;
        self.updates.send_modify(|u| {
            *u = u.wrapping_add(1);
            if *u == 0 {
                *u = 1;
            }
            n = *u;
        });
        e.upd = n;
    }

    fn apply(&self, e: &mut Entry, now: u64, event: Event) {
        let mut bump = |c: StickCounter, rate: StickCounter| {
            if self.stores(c).is_some() {
                *e.counts.entry(c).or_default() += 1;
            }
            if let Some(p) = self.stores(rate).and_then(StoreType::period) {
                e.rates.entry(rate).or_default().add(now, p, 1);
            }
        };
        match event {
            Event::TrackStart => {
                bump(StickCounter::ConnCnt, StickCounter::ConnRate);
                bump(StickCounter::SessCnt, StickCounter::SessRate);
                if self.stores(StickCounter::ConnCur).is_some() {
                    *e.counts.entry(StickCounter::ConnCur).or_default() += 1;
                }
            }
            Event::HttpRequest => bump(StickCounter::HttpReqCnt, StickCounter::HttpReqRate),
            Event::HttpError => bump(StickCounter::HttpErrCnt, StickCounter::HttpErrRate),
            Event::IncGpc(0) => bump(StickCounter::Gpc0, StickCounter::Gpc0Rate),
            Event::IncGpc(_) => bump(StickCounter::Gpc1, StickCounter::Gpc1Rate),
        }
        e.touched = now;
        e.expires = self.spec.expire.map(|x| now + x);
        self.touch_local(e);
    }

    /// Starts tracking `key` (creating the entry): counts the connection
    /// and, for HTTP trackers, the current request. `None` if the table is
    /// full and may not purge.
    pub fn track(self: &Arc<Self>, key: Key, http_request: bool) -> Option<Tracker> {
        let now = self.now();
        let mut map = self.lock();
        if !map.contains_key(&key) && !self.make_room(&mut map, now) {
            return None;
        }
        let e = map.entry(key.clone()).or_default();
        e.refs += 1;
        self.apply(e, now, Event::TrackStart);
        if http_request {
            self.apply(e, now, Event::HttpRequest);
        }
        Some(Tracker {
            table: self.clone(),
            key,
        })
    }

    /// Records an event on an existing entry (a tracked one).
    pub fn record(&self, key: &Key, event: Event) {
        let now = self.now();
        let mut map = self.lock();
        if let Some(e) = map.get_mut(key) {
            self.apply(e, now, event);
        }
    }

    /// `stick match`: the server stored for `key` in a live entry, which
    /// is refreshed (HAProxy's `stktable_touch_local`).
    pub fn server_of(&self, key: &Key) -> Option<usize> {
        let now = self.now();
        let mut map = self.lock();
        let e = map
            .get_mut(key)
            .filter(|e| e.refs > 0 || e.expires.is_none_or(|t| t > now))?;
        e.touched = now;
        e.expires = self.spec.expire.map(|x| now + x);
        e.server
    }

    /// `stick on` / `stick store-*`: records the server that answered for
    /// `key`, creating the entry (unless the table is full and may not
    /// purge) or replacing the server of an existing one.
    pub fn store_server(&self, key: Key, server: usize) {
        let now = self.now();
        let mut map = self.lock();
        if let Some(e) = map.get(&key)
            && e.refs == 0
            && e.expires.is_some_and(|t| t <= now)
        {
            map.remove(&key);
        }
        if !map.contains_key(&key) && !self.make_room(&mut map, now) {
            return;
        }
        let e = map.entry(key).or_default();
        e.server = Some(server);
        e.touched = now;
        e.expires = self.spec.expire.map(|x| now + x);
    }

    /// Sets gpt0 of an entry.
    pub fn set_gpt0(&self, key: &Key, v: u64) {
        let now = self.now();
        if self.stores(StickCounter::Gpt0).is_none() {
            return;
        }
        if let Some(e) = self.lock().get_mut(key) {
            e.counts.insert(StickCounter::Gpt0, v);
            e.touched = now;
            self.touch_local(e);
        }
    }

    /// A counter of an entry: `Some(0)` for a missing entry, `None` when the
    /// table does not store it (the fetch then fails, as in HAProxy).
    pub fn get(&self, key: &Key, c: StickCounter) -> Option<u64> {
        let store = self.stores(c)?;
        let now = self.now();
        let map = self.lock();
        let Some(e) = map
            .get(key)
            .filter(|e| e.refs > 0 || e.expires.is_none_or(|t| t > now))
        else {
            return Some(0);
        };
        Some(match store.period() {
            Some(p) => e.rates.get(&c).map_or(0, |f| f.read(now, p)),
            None => e.counts.get(&c).copied().unwrap_or(0),
        })
    }

    /// `sc_inc_gpc0`: increments and returns the new value; `sc_clr_gpc0`:
    /// clears and returns the old one. `None` when not stored.
    pub fn inc_or_clear(&self, key: &Key, c: StickCounter, clear: bool) -> Option<u64> {
        self.stores(c)?;
        let now = self.now();
        let mut map = self.lock();
        let e = map.get_mut(key)?;
        if clear {
            let old = e.counts.insert(c, 0).unwrap_or(0);
            e.touched = now;
            self.touch_local(e);
            Some(old)
        } else {
            let which = if c == StickCounter::Gpc0 { 0 } else { 1 };
            self.apply(e, now, Event::IncGpc(which));
            Some(e.counts.get(&c).copied().unwrap_or(0))
        }
    }

    fn release(&self, key: &Key) {
        let now = self.now();
        let mut map = self.lock();
        if let Some(e) = map.get_mut(key) {
            e.refs = e.refs.saturating_sub(1);
            if let Some(cur) = e.counts.get_mut(&StickCounter::ConnCur) {
                *cur = cur.saturating_sub(1);
            }
            e.touched = now;
            e.expires = self.spec.expire.map(|x| now + x);
            // Only conn_cur changes: peers hear of it only when it is
            // stored, as in HAProxy (a release is no update otherwise).
            if self.stores(StickCounter::ConnCur).is_some() {
                self.touch_local(e);
            }
        }
    }
}

/// One stored value as the peers protocol carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireValue {
    /// A counter (`gpc0`, `conn_cnt`…).
    Count(u64),
    /// A rate: ms since its current period started, the events of the
    /// current period and of the previous one.
    Rate { elapsed: u64, curr: u64, prev: u64 },
}

/// An entry as sent to peers: its key, its update number, the ms left
/// before it expires, and a value per stored type (in `store` order).
#[derive(Clone, Debug)]
pub struct EntrySnapshot {
    pub key: Key,
    pub upd: u32,
    pub expire_in: u64,
    pub values: Vec<(StoreType, WireValue)>,
}

impl Table {
    /// The number of the last local change, and a receiver woken by the next.
    pub fn watch_updates(&self) -> tokio::sync::watch::Receiver<u32> {
        self.updates.subscribe()
    }

    fn snapshot(&self, key: &Key, e: &Entry, now: u64) -> EntrySnapshot {
        let values = self
            .spec
            .store
            .iter()
            .map(|&st| {
                let c = st.counter();
                if st == StoreType::ServerId {
                    // HAProxy's server ids count from 1 in declaration order.
                    return (st, WireValue::Count(e.server.map_or(0, |i| i as u64 + 1)));
                }
                let v = match st.period() {
                    Some(p) => {
                        let mut f = e.rates.get(&c).copied().unwrap_or_default();
                        f.rotate(now, p);
                        if f.start == 0 {
                            f.start = now;
                        }
                        WireValue::Rate {
                            elapsed: now.saturating_sub(f.start),
                            curr: f.curr,
                            prev: f.prev,
                        }
                    }
                    None => WireValue::Count(e.counts.get(&c).copied().unwrap_or(0)),
                };
                (st, v)
            })
            .collect();
        EntrySnapshot {
            key: key.clone(),
            upd: e.upd,
            expire_in: e.expires.map_or(0, |t| t.saturating_sub(now)),
            values,
        }
    }

    /// The entries changed locally after update `after` (up to `upto`), in
    /// update order, at most `max` of them.
    pub fn changed_since(&self, after: u32, upto: u32, max: usize) -> Vec<EntrySnapshot> {
        let now = self.now();
        let map = self.lock();
        // Update numbers wrap: compare by distance from `after`.
        let span = upto.wrapping_sub(after);
        let mut found: Vec<(u32, &Key, &Entry)> = map
            .iter()
            .filter(|(_, e)| e.upd != 0)
            .map(|(k, e)| (e.upd.wrapping_sub(after), k, e))
            .filter(|(d, _, _)| *d != 0 && *d <= span)
            .collect();
        found.sort_by_key(|(d, _, _)| *d);
        found
            .into_iter()
            .take(max)
            .map(|(_, k, e)| self.snapshot(k, e, now))
            .collect()
    }

    /// Every live entry, for a peer asking for a full resynchronisation.
    pub fn all_entries(&self) -> Vec<EntrySnapshot> {
        let now = self.now();
        let map = self.lock();
        let mut out: Vec<EntrySnapshot> = map
            .iter()
            .filter(|(_, e)| e.refs > 0 || e.expires.is_none_or(|t| t > now))
            .map(|(k, e)| self.snapshot(k, e, now))
            .collect();
        out.sort_by_key(|s| s.upd);
        out
    }

    /// Stores what a peer sent for `key`: its values replace ours (the
    /// local-only `conn_cur` excepted, as in HAProxy), and the entry is not
    /// pushed on to other peers. `expire_in` overrides the table's `expire`.
    pub fn apply_remote(
        &self,
        key: Key,
        values: &[(StoreType, WireValue)],
        expire_in: Option<u64>,
    ) {
        let now = self.now();
        let mut map = self.lock();
        if !map.contains_key(&key) && !self.make_room(&mut map, now) {
            return;
        }
        let e = map.entry(key).or_default();
        for &(st, v) in values {
            if self.stores(st.counter()).is_none() || st == StoreType::ConnCur {
                continue;
            }
            match v {
                WireValue::Count(n) if st == StoreType::ServerId => {
                    e.server = n.checked_sub(1).map(|i| i as usize);
                }
                WireValue::Count(n) => {
                    e.counts.insert(st.counter(), n);
                }
                WireValue::Rate {
                    elapsed,
                    curr,
                    prev,
                } => {
                    e.rates.insert(
                        st.counter(),
                        FreqCtr {
                            start: now.saturating_sub(elapsed),
                            curr,
                            prev,
                        },
                    );
                }
            }
        }
        e.touched = now;
        if let Some(x) = self.spec.expire {
            e.expires = Some(now + expire_in.unwrap_or(x));
        }
    }
}

/// A stream's hold on a tracked entry.
#[derive(Debug)]
pub struct Tracker {
    pub table: Arc<Table>,
    pub key: Key,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.table.release(&self.key);
    }
}

/// The three stick counters of a stream or a session.
#[derive(Debug, Default)]
pub struct Slots(pub [Option<Tracker>; 3]);

/// The tables of a generation, by name.
pub type Tables = Arc<HashMap<String, Arc<Table>>>;

/// What stick-counter fetches and actions of one stream can see: the tables
/// of the generation, the session's counters (tcp-request) and the stream's
/// own (http-request), released when the stream ends.
#[derive(Debug)]
pub struct StickCtx {
    pub tables: Tables,
    pub session: Arc<Mutex<Slots>>,
    pub stream: Mutex<Slots>,
}

fn lock_slots(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl StickCtx {
    /// The counters of a new stream on a connection.
    pub fn new(tables: Tables, session: Arc<Mutex<Slots>>) -> StickCtx {
        StickCtx {
            tables,
            session,
            stream: Mutex::new(Slots::default()),
        }
    }

    /// The (table, key) tracked by counter `slot`: the stream's first, then
    /// the session's, as HAProxy.
    pub fn tracked(&self, slot: u8) -> Option<(Arc<Table>, Key)> {
        let i = slot as usize;
        let from = |m: &Mutex<Slots>| {
            lock_slots(m)
                .0
                .get(i)
                .and_then(|t| t.as_ref().map(|t| (t.table.clone(), t.key.clone())))
        };
        from(&self.stream).or_else(|| from(&self.session))
    }

    /// Starts tracking on the stream (`http-request`) or the session
    /// (`tcp-request`) unless the counter is already tracked there.
    pub fn track(&self, slot: u8, table: &str, key: Value, on_stream: bool) {
        let Some(t) = self.tables.get(table) else {
            return;
        };
        let i = slot as usize;
        let target = if on_stream {
            &self.stream
        } else {
            &*self.session
        };
        if lock_slots(target).0.get(i).is_none_or(|s| s.is_some()) {
            return;
        }
        // HAProxy tracks each counter once per stream: a session-level one
        // already in place wins.
        if on_stream
            && lock_slots(&self.session)
                .0
                .get(i)
                .is_some_and(|s| s.is_some())
        {
            return;
        }
        let Some(k) = t.key_of(key) else {
            return;
        };
        if let Some(tracker) = t.track(k, on_stream)
            && let Some(s) = lock_slots(target).0.get_mut(i)
        {
            *s = Some(tracker);
        }
    }

    /// Records an event on every tracked counter (stream and session).
    pub fn record_all(&self, event: Event) {
        for m in [&self.stream, &*self.session] {
            for t in lock_slots(m).0.iter().flatten() {
                t.table.record(&t.key, event);
            }
        }
    }

    /// A new request on the connection: session-level trackers count it.
    pub fn count_request_on_session(&self) {
        for t in lock_slots(&self.session).0.iter().flatten() {
            t.table.record(&t.key, Event::HttpRequest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;

    fn table(store: Vec<StoreType>, size: u64) -> Arc<Table> {
        Table::new(StickTable {
            name: "t".into(),
            key: StickKey::Ip,
            size,
            expire: Some(60_000),
            nopurge: false,
            store,
            peers: None,
        })
    }

    #[test]
    fn freq_counters_weigh_the_previous_period() {
        let mut f = FreqCtr::default();
        for _ in 0..10 {
            f.add(100, 1000, 1);
        }
        assert_eq!(f.read(500, 1000), 10);
        // Half-way into the next period: 0 + 10 * 1/2.
        assert_eq!(f.read(1500, 1000), 5);
        // Two periods later nothing remains.
        assert_eq!(f.read(3100, 1000), 0);
    }

    #[test]
    fn tracking_counts_and_releases() {
        let t = table(
            vec![
                StoreType::ConnCur,
                StoreType::HttpReqCnt,
                StoreType::HttpReqRate(10_000),
            ],
            10,
        );
        let k = t.key_of(Value::Ip("10.0.0.1".parse().unwrap())).unwrap();
        let a = t.track(k.clone(), true).unwrap();
        let b = t.track(k.clone(), true).unwrap();
        assert_eq!(t.get(&k, StickCounter::ConnCur), Some(2));
        assert_eq!(t.get(&k, StickCounter::HttpReqCnt), Some(2));
        assert_eq!(t.get(&k, StickCounter::HttpReqRate), Some(2));
        assert_eq!(t.get(&k, StickCounter::Gpc0), None, "not stored");
        drop(a);
        drop(b);
        assert_eq!(t.get(&k, StickCounter::ConnCur), Some(0));
        assert_eq!(t.get(&k, StickCounter::HttpReqCnt), Some(2));
    }

    #[test]
    fn a_full_table_purges_the_oldest_untracked_entry() {
        let t = table(vec![StoreType::HttpReqCnt], 2);
        let key = |s: &str| t.key_of(Value::Ip(s.parse().unwrap())).unwrap();
        let held = t.track(key("10.0.0.1"), true).unwrap();
        drop(t.track(key("10.0.0.2"), true));
        drop(t.track(key("10.0.0.3"), true));
        assert_eq!(t.get(&key("10.0.0.2"), StickCounter::HttpReqCnt), Some(0));
        assert_eq!(t.get(&key("10.0.0.3"), StickCounter::HttpReqCnt), Some(1));
        assert_eq!(t.get(&key("10.0.0.1"), StickCounter::HttpReqCnt), Some(1));
        drop(held);
    }
}
