//! `cpu-map [auto:]<group>[/<threads>] <cpu-set>...`: which CPUs each worker
//! thread may run on, resolved at check time into one CPU list per thread.
//!
//! Follows HAProxy 2.6.12 (checked with `haproxy -c`): sets are `all`, `odd`,
//! `even`, `N`, `N-`, `N-M` with thread numbers 1 to 64 (a reversed range is
//! accepted as written backwards); CPUs are 0 to 1023; `auto:` binds the
//! threads in ascending order to the CPUs in ascending order and refuses more
//! CPUs than threads; a group set not containing 1 (HAProxy's historical
//! process numbers) maps nothing; a later line replaces earlier ones for the
//! threads it names.

use crate::config::word::Word;
use crate::diag::Diagnostic;
use std::collections::BTreeMap;

/// Highest thread (and group) number, as on a 64-bit HAProxy.
const MAX_THREAD: u32 = 64;
/// Highest CPU number HAProxy 2.6 accepts.
const MAX_CPU: u32 = 1023;

/// Applies one `cpu-map` line to the per-thread map.
pub(super) fn apply(
    map: &mut BTreeMap<u32, Vec<u32>>,
    kw: &Word,
    args: &[Word],
) -> Result<(), Diagnostic> {
    let Some((target, cpu_words)) = args.split_first() else {
        return Err(usage(kw, "expects a thread set and a CPU set"));
    };
    if cpu_words.is_empty() {
        return Err(usage(
            kw,
            "expects at least one CPU set after the thread set",
        ));
    }
    let (auto, spec) = match target.text.strip_prefix("auto:") {
        Some(rest) => (true, rest),
        None => (false, target.text.as_str()),
    };
    let (group_text, thread_text) = match spec.split_once('/') {
        Some((g, t)) => (g, Some(t)),
        None => (spec, None),
    };
    let groups = id_set(group_text, target)?;
    let threads = match thread_text {
        Some(t) => id_set(t, target)?,
        None => (1..=MAX_THREAD).collect(),
    };
    let mut cpus = Vec::new();
    for w in cpu_words {
        cpus.extend(cpu_set(w)?);
    }
    cpus.sort_unstable();
    cpus.dedup();
    if !groups.contains(&1) {
        // Process numbers above 1 are ignored by HAProxy 2.6 (no nbproc).
        return Ok(());
    }
    if auto {
        // With a group range under auto:, the group range is the one that
        // is walked; only group 1 exists, so it binds its threads to the
        // first CPU.
        let walked = if thread_text.is_some() && groups.len() == 1 {
            threads.clone()
        } else {
            vec![1]
        };
        let range_len = if thread_text.is_some() && groups.len() == 1 {
            threads.len()
        } else {
            groups.len()
        };
        if cpus.len() > range_len {
            return Err(Diagnostic::error(
                "cpu-map : PROC/THREAD range and CPU sets must have the same size to be automatically bound",
            )
            .at(target.span)
            .help("with 'auto:' give as many threads as CPUs, e.g. 'cpu-map auto:1/1-4 0-3'"));
        }
        for (thread, cpu) in walked.into_iter().zip(cpus) {
            map.insert(thread, vec![cpu]);
        }
    } else {
        for thread in threads {
            map.insert(thread, cpus.clone());
        }
    }
    Ok(())
}

fn usage(kw: &Word, what: &str) -> Diagnostic {
    Diagnostic::error(format!("'cpu-map' {what}"))
        .at(kw.span)
        .help("write e.g. 'cpu-map auto:1/1-4 0-3' (threads 1 to 4 on CPUs 0 to 3) or 'cpu-map 1/all 0-1'")
}

/// `all | odd | even | N | N- | N-M` over 1..=64.
fn id_set(text: &str, w: &Word) -> Result<Vec<u32>, Diagnostic> {
    let all = 1..=MAX_THREAD;
    let bad = || {
        Diagnostic::error(format!(
            "cpu-map : '{text}' is not a valid number/range. It supports numbers from 1 to {MAX_THREAD}."
        ))
        .at(w.span)
        .help("thread sets are all, odd, even, N, N- or N-M (1 to 64)")
    };
    match text {
        "all" => return Ok(all.collect()),
        "odd" => return Ok(all.filter(|n| n % 2 == 1).collect()),
        "even" => return Ok(all.filter(|n| n % 2 == 0).collect()),
        _ => {}
    }
    let (lo, hi) = range(text, MAX_THREAD).ok_or_else(bad)?;
    if lo == 0 || hi == 0 || lo > MAX_THREAD || hi > MAX_THREAD {
        return Err(bad());
    }
    Ok((lo.min(hi)..=lo.max(hi)).collect())
}

/// `N | N- | N-M` over 0..=1023.
fn cpu_set(w: &Word) -> Result<Vec<u32>, Diagnostic> {
    let (lo, hi) = range(&w.text, MAX_CPU).ok_or_else(|| {
        Diagnostic::error(format!("cpu-map : '{}' is not a valid CPU set", w.text))
            .at(w.span)
            .help("CPU sets are N, N- or N-M, counting CPUs from 0")
    })?;
    if lo > MAX_CPU || hi > MAX_CPU {
        return Err(Diagnostic::error(format!(
            "cpu-map : supports CPU numbers from 0 to {MAX_CPU}."
        ))
        .at(w.span));
    }
    Ok((lo.min(hi)..=lo.max(hi)).collect())
}

/// `N`, `N-` (up to `max`) or `N-M`.
fn range(text: &str, max: u32) -> Option<(u32, u32)> {
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Saturate: an out-of-range number is reported by the caller.
        Some(
            s.parse::<u64>()
                .map_or(u32::MAX, |v| v.min(u64::from(u32::MAX)) as u32),
        )
    };
    match text.split_once('-') {
        None => num(text).map(|n| (n, n)),
        Some((lo, "")) => Some((num(lo)?, max)),
        Some((lo, hi)) => Some((num(lo)?, num(hi)?)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing loudly is the point
mod tests {
    use super::*;
    use crate::diag::{FileId, Span};

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace()
            .map(|t| Word {
                text: t.to_string(),
                span: Span {
                    file: FileId(0),
                    start: 0,
                    end: 0,
                },
                quoted: false,
            })
            .collect()
    }

    fn map_of(lines: &[&str]) -> Result<BTreeMap<u32, Vec<u32>>, String> {
        let mut map = BTreeMap::new();
        for l in lines {
            let w = words(l);
            apply(&mut map, &w[0], &w[1..]).map_err(|d| d.message.clone())?;
        }
        Ok(map)
    }

    #[test]
    fn sets_resolve_per_thread_as_haproxy() {
        let m = map_of(&["cpu-map auto:1/1-4 0-3"]).unwrap();
        assert_eq!(m.get(&1), Some(&vec![0]));
        assert_eq!(m.get(&4), Some(&vec![3]));
        assert_eq!(m.len(), 4);
        // CPU sets are sorted whatever their order.
        let m = map_of(&["cpu-map auto:1/1-4 3 2 1 0"]).unwrap();
        assert_eq!(m.get(&1), Some(&vec![0]));
        let m = map_of(&["cpu-map 1/all 0-1", "cpu-map 1/2 5"]).unwrap();
        assert_eq!(m.get(&1), Some(&vec![0, 1]));
        assert_eq!(m.get(&2), Some(&vec![5]), "a later line replaces");
        assert_eq!(m.len(), 64);
        let m = map_of(&["cpu-map 1/odd 0 2"]).unwrap();
        assert_eq!(m.get(&3), Some(&vec![0, 2]));
        assert_eq!(m.get(&2), None);
        // Fewer CPUs than threads under auto: is accepted by 2.6.12.
        let m = map_of(&["cpu-map auto:1/1-4 0"]).unwrap();
        assert_eq!(m.len(), 1);
        // Group 2 does not exist: nothing is mapped.
        assert!(map_of(&["cpu-map 2 1"]).unwrap().is_empty());
        // Open-ended and reversed ranges.
        assert_eq!(map_of(&["cpu-map 1/1- 0-"]).unwrap().len(), 64);
        assert_eq!(
            map_of(&["cpu-map 1/1-2 3-1"]).unwrap().get(&2),
            Some(&vec![1, 2, 3])
        );
    }

    #[test]
    fn invalid_lines_are_refused_like_haproxy() {
        for bad in [
            "cpu-map auto:1/1 0-3",
            "cpu-map 0 1",
            "cpu-map 1/0 1",
            "cpu-map 1/1",
            "cpu-map 1/x 0",
            "cpu-map 1/1 a",
            "cpu-map 1/65 0",
            "cpu-map 1/1-99 0",
            "cpu-map 1/1 1024",
            "cpu-map",
        ] {
            assert!(map_of(&[bad]).is_err(), "{bad}");
        }
    }
}
