//! Lowering: AST → [`crate::ir::Config`].
//!
//! Third stage of the pipeline. Applies the keyword table section by section in
//! file order (so `crt-base` and the last `defaults` apply to what follows, as in
//! HAProxy), merges `defaults` inheritance, loads every certificate, key, CA and
//! CRL through one memoising [`Loader`], then resolves cross references
//! (backends, modes) once the whole file is known. Like `haproxy -c`, the cross
//! reference phase only runs when the parse phase found no error, so one typo
//! does not cascade into a screen of unrelated complaints.

mod bind;
mod checks;
mod compat;
mod cpumap;
mod gencert;
mod global;
mod lua;
mod peers;
mod persist;
mod proxy;
mod resolvers;
mod rules;
mod server;
mod statssock;
mod stick;
mod tlsopts;
pub mod values;

use super::ast::{ConfigAst, Section, SectionKind};
use super::keywords::{self, Context, Status};
use super::word::{Line, Word};
use crate::diag::{Diagnostic, Diagnostics, SourceMap, Span, did_you_mean};
use crate::ir::{self, Config};
use crate::tls::Loader;
use std::path::{Path, PathBuf};

/// Options of one lowering run.
#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    /// `check --strict-haproxy`: report portcullis extensions as errors.
    pub strict_haproxy: bool,
    /// Seconds since the epoch used for certificate expiry warnings (tests pin it).
    pub now_unix: Option<i64>,
    /// `-L <name>`: the local peer's name in `peers` sections (default: the
    /// global `localpeer`, else the host name, as HAProxy).
    pub local_peer: Option<String>,
}

/// The host name, HAProxy's default local peer name.
fn host_name() -> String {
    // gethostname(2) as the kernel reports it (the UTS name).
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Lowers a parsed configuration. Returns `None` when errors were found (they are
/// in `diags`).
pub fn lower(
    ast: &ConfigAst,
    map: &mut SourceMap,
    opts: &LowerOptions,
    diags: &mut Diagnostics,
) -> Option<Config> {
    let now = opts.now_unix.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let mut cx = Lowerer {
        map,
        diags,
        loader: Loader::new(),
        global: ir::Global::default(),
        strict: opts.strict_haproxy,
        now,
        had_parse_errors: false,
        local_peer_cmdline: opts.local_peer.is_some(),
        local_peer: opts.local_peer.clone().unwrap_or_else(host_name),
    };
    let errors_before = cx.diags.error_count();
    let mut proxies = proxy::ProxySet::default();
    let mut names = stick::table_names(ast);
    for s in ast.sections.iter().filter(|s| s.kind == SectionKind::Peers) {
        names.extend(peers::table_names(s));
    }
    proxies.table_names = std::sync::Arc::new(names);
    proxies.backend_names = std::sync::Arc::new(
        ast.sections
            .iter()
            .filter(|s| matches!(s.kind, SectionKind::Backend | SectionKind::Listen))
            .map(|s| s.name_str().to_string())
            .collect(),
    );
    let mut userlists = Vec::new();
    let mut peer_sections: Vec<peers::PeersSection> = Vec::new();
    let mut resolvers_sections: Vec<(ir::Resolvers, Span)> = Vec::new();
    for section in &ast.sections {
        match section.kind {
            SectionKind::Global => global::lower_global(&mut cx, section),
            SectionKind::Userlist => {
                if let Some(u) = global::lower_userlist(&mut cx, section) {
                    userlists.push(u);
                }
            }
            SectionKind::Peers => {
                if let Some(prev) = peer_sections.iter().find(|p| p.name == section.name_str()) {
                    let _ = prev;
                    cx.err(
                        Diagnostic::error(format!(
                            "peers section '{}' has the same name as another peers section",
                            section.name_str()
                        ))
                        .at(section.span())
                        .help("give every peers section a distinct name"),
                    );
                } else if let Some(p) = peers::lower_peers(&mut cx, section) {
                    peer_sections.push(p);
                }
            }
            SectionKind::Resolvers => {
                if let Some(r) = resolvers::lower_resolvers(&mut cx, section, &resolvers_sections) {
                    resolvers_sections.push((r, section.span()));
                }
            }
            SectionKind::Unsupported => {
                cx.diags.push(
                    Diagnostic::error(format!(
                        "section '{}' is not supported by portcullis",
                        section.keyword.text
                    ))
                    .at(section.keyword.span)
                    .help("remove the section and what refers to it; see portcullis.cfg(5) for what is supported"),
                );
            }
            _ => proxies.section(&mut cx, section),
        }
    }
    cx.had_parse_errors = cx.diags.error_count() > errors_before;
    if cx.had_parse_errors {
        return None;
    }
    let resolvers = resolvers_sections.into_iter().map(|(r, _)| r).collect();
    let mut config = proxies.finish(&mut cx, userlists, resolvers)?;
    peers::attach(&mut cx, &mut config, peer_sections);
    if cx.diags.error_count() > errors_before {
        return None;
    }
    Some(config)
}

/// State shared by every lowering step.
pub(crate) struct Lowerer<'a> {
    pub map: &'a mut SourceMap,
    pub diags: &'a mut Diagnostics,
    pub loader: Loader,
    pub global: ir::Global,
    pub strict: bool,
    pub now: i64,
    pub had_parse_errors: bool,
    /// The local peer's name (`-L`, `localpeer`, host name).
    pub local_peer: String,
    /// `-L` was given: `localpeer` is then ignored, as in HAProxy.
    pub local_peer_cmdline: bool,
}

impl Lowerer<'_> {
    /// `file:line` of a span, for IR origins and cross-reference messages.
    pub fn origin(&self, span: Span) -> String {
        let loc = self.map.location(span);
        format!("{}:{}", loc.file, loc.line)
    }

    /// Records an error. An error with an empty message means "already
    /// reported" (the expression parsers push their own) and is dropped.
    pub fn err(&mut self, d: Diagnostic) {
        if !d.message.is_empty() {
            self.diags.push(d);
        }
    }

    /// Records a warning at a span.
    pub fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(msg).at(span));
    }

    /// Reports an extension keyword under `--strict-haproxy`.
    pub fn extension_used(&mut self, w: &Word, context: Context) {
        if self.strict {
            self.err(
                Diagnostic::error(format!(
                    "'{}' is a portcullis extension ({}), refused by --strict-haproxy",
                    w.text,
                    context.describe()
                ))
                .at(w.span)
                .help("remove it to keep the file loadable by HAProxy"),
            );
        }
    }

    /// The error for a keyword no table entry accepts: "not supported" when
    /// HAProxy 2.6 has it, "unknown" with a did-you-mean otherwise.
    pub fn unknown_keyword(&mut self, context: Context, w: &Word, place: &str) {
        let name = w.text.as_str();
        let what = match context {
            Context::Global
            | Context::Proxy
            | Context::Userlist
            | Context::Peers
            | Context::Resolvers => "keyword",
            Context::Bind => "bind option",
            Context::CrtList => "crt-list option",
            Context::Server => "server option",
            Context::HttpRequest => "http-request action",
            Context::HttpResponse => "http-response action",
            Context::HttpAfterResponse => "http-after-response action",
            Context::TcpConnection => "tcp-request connection action",
            Context::TcpSession => "tcp-request session action",
            Context::TcpContent => "tcp-request content action",
        };
        if keywords::known_to_haproxy(context, name) {
            self.err(
                Diagnostic::error(format!("{what} '{name}' is not supported by portcullis (in {place})"))
                    .at(w.span)
                    .label("HAProxy 2.6 keyword that portcullis does not implement")
                    .help(format!(
                        "remove it or use a supported equivalent; `man portcullis.cfg` lists the supported {}",
                        context.describe()
                    )),
            );
            return;
        }
        let supported: Vec<&str> = keywords::names(context).collect();
        let mut suggestion = did_you_mean(name, supported.iter().copied());
        if suggestion.is_none() {
            let all = context.haproxy_names();
            suggestion = did_you_mean(name, all.iter().copied());
        }
        let mut d = Diagnostic::error(format!("unknown {what} '{name}' in {place}"))
            .at(w.span)
            .label(format!("unknown {what}"));
        if let Some(s) = suggestion {
            d = d.help(format!("did you mean '{s}'?"));
        }
        self.err(d);
    }

    /// Checks a keyword's table status (extensions under `--strict-haproxy`).
    pub fn note_status(&mut self, context: Context, w: &Word, name: &str) {
        if let Some(k) = keywords::lookup(context, name)
            && k.status == Status::Extension
        {
            self.extension_used(w, context);
        }
    }

    /// Resolves a certificate path against `crt-base`.
    pub fn crt_path(&self, w: &Word) -> PathBuf {
        base_join(self.global.crt_base.as_deref(), &w.text)
    }

    /// Resolves a CA / CRL path against `ca-base` (never `@system-ca`, unlike
    /// HAProxy 2.6.12's bug).
    pub fn ca_path(&self, w: &Word) -> PathBuf {
        if w.text.starts_with('@') {
            return PathBuf::from(&w.text);
        }
        base_join(self.global.ca_base.as_deref(), &w.text)
    }
}

fn base_join(base: Option<&Path>, p: &str) -> PathBuf {
    let path = Path::new(p);
    match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_path_buf(),
    }
}

/// The argument after a keyword, or an error naming the keyword.
pub(crate) fn arg<'w>(
    words: &'w [Word],
    i: usize,
    kw: &Word,
    expects: &str,
) -> Result<&'w Word, Diagnostic> {
    words.get(i).ok_or_else(|| {
        Diagnostic::error(format!("'{}' expects {expects}", kw.text))
            .at(kw.span)
            .label("argument missing")
    })
}

/// An error for extra words after a complete statement.
pub(crate) fn extra_words(line: &Line, from: usize, what: &str) -> Option<Diagnostic> {
    let w = line.words.get(from)?;
    Some(
        Diagnostic::error(format!("'{what}' : unexpected extra argument '{}'", w.text))
            .at(w.span.to(line.words[line.words.len() - 1].span))
            .label("not expected here"),
    )
}

/// Describes a section for messages (`frontend 'fe'`).
pub(crate) fn place(section: &Section) -> String {
    section.describe()
}

#[cfg(test)]
mod keyword_tests;
#[cfg(test)]
mod tests;
