//! Compiled regular expressions for `-m reg` and `regsub`, built once per
//! distinct source and shared by every evaluation.
//!
//! HAProxy compiles PCRE patterns without UTF-8 mode: `.` is one byte and
//! `\w` is ASCII, so patterns are compiled for bytes with Unicode off; a
//! pattern that needs Unicode (`\p{…}`) falls back to Unicode mode.

use crate::ir::expr::RegexSrc;
use regex::bytes::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

type Cache = RwLock<HashMap<(String, bool), Option<Arc<Regex>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| RwLock::new(HashMap::new()))
}

fn build(src: &RegexSrc) -> Option<Arc<Regex>> {
    let with = |unicode: bool| {
        RegexBuilder::new(&src.source)
            .case_insensitive(src.case_insensitive)
            .unicode(unicode)
            .build()
    };
    with(false).or_else(|_| with(true)).ok().map(Arc::new)
}

/// The compiled form of `src` (`None` only if it does not compile, which
/// the configuration checker already refused).
pub(super) fn compiled(src: &RegexSrc) -> Option<Arc<Regex>> {
    let key = (src.source.clone(), src.case_insensitive);
    if let Ok(map) = cache().read()
        && let Some(found) = map.get(&key)
    {
        return found.clone();
    }
    let built = build(src);
    if let Ok(mut map) = cache().write() {
        map.insert(key, built.clone());
    }
    built
}
