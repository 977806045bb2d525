//! IR of the `map*` converters: a map file loaded at check time, how its keys
//! are matched and what type its values have (HAProxy 2.6's `map.c`).

use super::{IntRange, IpNet, RegexSrc, SampleType, StrMatch, StrPattern};
use serde::Serialize;
use std::net::IpAddr;

/// How the converter's input is matched against the keys (`map_<match>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MapMatch {
    /// `str beg sub dir dom end`, with the semantics of the ACL methods.
    Str(StrMatch),
    Reg,
    /// `regm`: like `reg`, and the value's `\N` refer to the key's groups.
    Regm,
    Ip,
    Int,
}

impl MapMatch {
    /// The converter's input type (`map_ip` takes an address, `map_int` an
    /// integer, the others a string).
    pub fn in_type(self) -> SampleType {
        match self {
            MapMatch::Ip => SampleType::Addr,
            MapMatch::Int => SampleType::Int,
            _ => SampleType::Str,
        }
    }
}

/// The type of the values (`map_<match>_<output>`; `str` by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MapOut {
    Str,
    Int,
    Ip,
}

impl MapOut {
    pub fn out_type(self) -> SampleType {
        match self {
            MapOut::Str => SampleType::Str,
            MapOut::Int => SampleType::Int,
            MapOut::Ip => SampleType::Addr,
        }
    }
}

/// A key, parsed for its match method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum MapKey {
    /// A string key (maps have no `-i`: `ignore_case` is always false).
    Str(StrPattern),
    Reg(RegexSrc),
    Ip(IpNet),
    Int(IntRange),
}

/// A value, parsed for the output type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum MapValue {
    Str(String),
    Int(i64),
    Ip(IpAddr),
}

/// One `key value` line of a map file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MapEntry {
    pub key: MapKey,
    pub value: MapValue,
    /// Line number in the file (1-based).
    pub line: usize,
}

/// A `map*` converter with its file loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MapConv {
    /// The file as written in the configuration.
    pub path: String,
    pub matching: MapMatch,
    pub output: MapOut,
    /// The entries in file order.
    pub entries: Vec<MapEntry>,
    /// Returned when no key matches (else the converter fails).
    pub default: Option<MapValue>,
}
