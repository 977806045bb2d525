//! HAProxy 2.6's default log formats (`option httplog`, `option httplog
//! clf`, `option tcplog`, from `log.c`) and the request line the logs quote.

use super::Txn;
use super::logformat::{LfTarget, render_log_format};
use crate::ir::expr::{LogAlias, LogFlags, LogFormat, LogPart};

/// The format of `option httplog`.
pub fn httplog_format() -> LogFormat {
    builtin(
        "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r",
    )
}

/// The format of `option httplog clf`.
pub fn httplog_clf_format() -> LogFormat {
    builtin(
        "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl",
    )
}

/// The format of `option tcplog`.
pub fn tcplog_format() -> LogFormat {
    builtin("%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq")
}

/// The message of an `option httplog` line (without the syslog header).
pub fn httplog_line(t: &mut Txn) -> Vec<u8> {
    let mut out = Vec::new();
    render_log_format(&httplog_format(), LfTarget::Log, t, &mut out);
    out
}

/// The message of an `option tcplog` line (without the syslog header).
pub fn tcplog_line(t: &mut Txn) -> Vec<u8> {
    let mut out = Vec::new();
    render_log_format(&tcplog_format(), LfTarget::Log, t, &mut out);
    out
}

/// HAProxy's fixed line for a connection that failed before any stream
/// (`session_kill_embryonic` without `error-log-format`):
/// `127.0.0.1:56059 [03/Dec/2012:17:35:10.380] frt/f1: message`.
pub fn conn_error_line(t: &mut Txn, bind: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    render_log_format(&builtin("%ci:%cp [%t] %f"), LfTarget::Log, t, &mut out);
    out.extend_from_slice(format!("/{bind}: {message}").as_bytes());
    out
}

/// HAProxy's `txn->uri` for the logs: method, URI and version separated
/// by single spaces, cut to 1023 bytes (`tune.http.logurilen` - 1).
pub fn request_line(req: &http::request::Parts) -> Vec<u8> {
    let version = match req.version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    let mut line = format!("{} {} {}", req.method, req.uri, version).into_bytes();
    line.truncate(1023);
    line
}

/// Parses one of HAProxy's built-in default formats (trusted constants:
/// `%name`, `%{±Q}name`, `%{+Q}o` and text).
fn builtin(fmt: &str) -> LogFormat {
    let mut defaults = LogFlags {
        mandatory: true,
        ..LogFlags::default()
    };
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = fmt;
    while let Some(pct) = rest.find('%') {
        text.push_str(&rest[..pct]);
        rest = &rest[pct + 1..];
        let mut flags = defaults;
        if let Some(inner) = rest.strip_prefix('{') {
            let close = inner.find('}').unwrap_or(inner.len());
            for item in inner[..close].split(',') {
                match item {
                    "+Q" => flags.quote = true,
                    "-Q" => flags.quote = false,
                    _ => {}
                }
            }
            rest = inner.get(close + 1..).unwrap_or("");
        }
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let name = &rest[..end];
        rest = &rest[end..];
        if name == "o" {
            defaults = flags;
            continue;
        }
        if let Some(alias) = LogAlias::from_name(name) {
            if !text.is_empty() {
                parts.push(LogPart::Text(std::mem::take(&mut text)));
            }
            parts.push(LogPart::Alias { alias, flags });
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(LogPart::Text(text));
    }
    LogFormat { parts }
}
