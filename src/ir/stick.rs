//! Stick tables (`stick-table`), the counters they store, and the actions
//! and fetches that track and read them: HAProxy's rate limiting and abuse
//! detection.

use super::Millis;
use super::expr::Sample;
use serde::Serialize;

/// A proxy's `stick-table`: keyed by one sample type, holding the counters
/// of `store`. Named after its proxy, as in HAProxy.
#[derive(Clone, Debug, Serialize)]
pub struct StickTable {
    pub name: String,
    pub key: StickKey,
    /// Most entries kept (`size`).
    pub size: u64,
    /// Idle time after which an entry is dropped (`expire`); `None` keeps
    /// entries until the table is full.
    pub expire: Option<Millis>,
    /// `nopurge`: a full table refuses new entries instead of dropping the
    /// oldest ones.
    pub nopurge: bool,
    pub store: Vec<StoreType>,
    /// `peers <section>`: the peers section synchronising this table
    /// (`None` when absent, or when that section is disabled or lacks
    /// the local peer, as HAProxy drops it then).
    pub peers: Option<String>,
}

/// The key type of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StickKey {
    Ip,
    Ipv6,
    Integer,
    /// `string [len N]` (default 31, HAProxy's 32 bytes with the NUL):
    /// longer keys are truncated.
    String {
        len: usize,
    },
    /// `binary [len N]` (default 32): shorter keys are padded with zeros.
    Binary {
        len: usize,
    },
}

/// A data type a table stores (`store`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StoreType {
    Gpc0,
    Gpc1,
    Gpc0Rate(Millis),
    Gpc1Rate(Millis),
    Gpt0,
    ConnCnt,
    ConnCur,
    ConnRate(Millis),
    SessCnt,
    SessRate(Millis),
    HttpReqCnt,
    HttpReqRate(Millis),
    HttpErrCnt,
    HttpErrRate(Millis),
    /// `server_id`: the server a `stick` rule stored for the key (stick
    /// rules store it whether or not `store` names it, as HAProxy).
    ServerId,
    /// `server_key`: HAProxy keeps it beside `server_id` for `srvkey`;
    /// portcullis looks servers up by id, which is the default.
    ServerKey,
}

impl StoreType {
    /// The counter this data type holds, whatever its period.
    pub fn counter(self) -> StickCounter {
        match self {
            StoreType::Gpc0 => StickCounter::Gpc0,
            StoreType::Gpc1 => StickCounter::Gpc1,
            StoreType::Gpc0Rate(_) => StickCounter::Gpc0Rate,
            StoreType::Gpc1Rate(_) => StickCounter::Gpc1Rate,
            StoreType::Gpt0 => StickCounter::Gpt0,
            StoreType::ConnCnt => StickCounter::ConnCnt,
            StoreType::ConnCur => StickCounter::ConnCur,
            StoreType::ConnRate(_) => StickCounter::ConnRate,
            StoreType::SessCnt => StickCounter::SessCnt,
            StoreType::SessRate(_) => StickCounter::SessRate,
            StoreType::HttpReqCnt => StickCounter::HttpReqCnt,
            StoreType::HttpReqRate(_) => StickCounter::HttpReqRate,
            StoreType::HttpErrCnt => StickCounter::HttpErrCnt,
            StoreType::HttpErrRate(_) => StickCounter::HttpErrRate,
            StoreType::ServerId => StickCounter::ServerId,
            StoreType::ServerKey => StickCounter::ServerKey,
        }
    }

    /// The averaging period of a rate.
    pub fn period(self) -> Option<Millis> {
        match self {
            StoreType::Gpc0Rate(p)
            | StoreType::Gpc1Rate(p)
            | StoreType::ConnRate(p)
            | StoreType::SessRate(p)
            | StoreType::HttpReqRate(p)
            | StoreType::HttpErrRate(p) => Some(p),
            _ => None,
        }
    }
}

/// One stored value, as fetches name it (`sc_<counter>`, `src_<counter>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum StickCounter {
    Gpc0,
    Gpc1,
    Gpc0Rate,
    Gpc1Rate,
    Gpt0,
    ConnCnt,
    ConnCur,
    ConnRate,
    SessCnt,
    SessRate,
    HttpReqCnt,
    HttpReqRate,
    HttpErrCnt,
    HttpErrRate,
    /// Not a counter: the stored server (no fetch reads it).
    ServerId,
    ServerKey,
}

/// What a stick-counter fetch does with the entry it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StickRead {
    /// Reads a counter (`sc_http_req_rate`, `sc_get_gpc0`…).
    Get(StickCounter),
    /// Increments gpc0/gpc1 and returns the new value (`sc_inc_gpc0`).
    Inc(StickCounter),
    /// Clears gpc0/gpc1 and returns the old value (`sc_clr_gpc0`).
    Clear(StickCounter),
    /// Whether the counter is tracked (`sc_tracked`).
    Tracked,
}

/// Which entry a stick-counter fetch looks at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StickEntry {
    /// The entry tracked by `track-sc<n>` (`sc_*(n)`, `sc<n>_*`).
    Tracked(u8),
    /// The client's source address, looked up without tracking (`src_*`).
    Src,
}

/// `http-request` / `tcp-request` actions on stick counters.
#[derive(Clone, Debug, Serialize)]
pub enum StickAction {
    /// `track-sc<n> <key> [table <t>]`.
    Track {
        slot: u8,
        key: Sample,
        table: String,
    },
    /// `sc-inc-gpc0(<n>)` / `sc-inc-gpc1(<n>)`.
    IncGpc { slot: u8, which: u8 },
    /// `sc-set-gpt0(<n>) <expr>`.
    SetGpt0 { slot: u8, value: Sample },
}
