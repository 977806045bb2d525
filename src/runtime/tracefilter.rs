//! `filter trace`: a debugging trace of each HTTP stream on standard error,
//! in HAProxy's line layout (`<sec>.<usec> [<name>/<proxy>] [strm <id>]
//! <event> : <details>`). HAProxy also prints its internal analyser flags
//! and buffer offsets; portcullis has no such internals and prints the
//! steps a user can relate to: the stream's start, its backend, the request
//! and response heads, and its end.

use crate::ir::{Config, TraceFilter};
use std::io::Write;
use std::time::SystemTime;

/// The trace filters that see a stream: the frontend's, then the chosen
/// backend's (once for a `listen`).
pub fn active(
    config: &Config,
    frontend: usize,
    backend: Option<usize>,
) -> Vec<(&TraceFilter, &str)> {
    let fe = &config.frontends[frontend].common;
    let mut out: Vec<(&TraceFilter, &str)> = fe
        .trace_filters
        .iter()
        .map(|f| (f, fe.name.as_str()))
        .collect();
    if let Some(be) = backend
        .and_then(|b| config.backends.get(b))
        .map(|b| &b.common)
        && !(be.name == fe.name && be.origin == fe.origin)
    {
        out.extend(be.trace_filters.iter().map(|f| (f, be.name.as_str())));
    }
    out.retain(|(f, _)| !f.quiet);
    out
}

/// Writes one event of stream `stream` for every active filter; `details`
/// lines after the first are continuation lines (headers), as HAProxy
/// prints them.
pub fn event(filters: &[(&TraceFilter, &str)], stream: u64, event: &str, details: &[String]) {
    if filters.is_empty() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = format!("{}.{:06}", now.as_secs(), now.subsec_micros());
    let mut err = std::io::stderr().lock();
    for (f, proxy) in filters {
        let who = format!("{}/{proxy}", f.name);
        let head = format!("{stamp} [{who:<20}] [strm {stream}]");
        let first = details.first().map(String::as_str).unwrap_or("");
        let sep = if first.is_empty() { "" } else { " : " };
        let _ = writeln!(err, "{head} {event:<24}{sep}{first}");
        for more in details.iter().skip(1) {
            let _ = writeln!(err, "{head} \t{more}");
        }
    }
}

/// The lines of a message head: its first line, then one per header.
pub fn head_lines(first: String, headers: &http::HeaderMap) -> Vec<String> {
    let mut out = vec![first];
    for (name, value) in headers {
        out.push(format!(
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    out
}
