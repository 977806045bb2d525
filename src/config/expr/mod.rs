//! Sample expressions, ACLs, conditions and log-format strings: the text inside
//! rule words, parsed, typed and validated into [`crate::ir::expr`].
//!
//! Called by lowering for every `acl` line, every `if`/`unless` condition,
//! every sample expression (`set-var`, `sni`) and every log-format string
//! (`log-format`, `set-header` values, `use_backend %[…]`). Semantics follow
//! HAProxy 2.6: the same keywords, argument rules, type casts (`sample.c`),
//! availability of fetches per rule stage, and the same wording for the common
//! errors. Problems become [`Diagnostic`]s pointing inside the word.
//!
//! Layout: `lex` (names and argument lists), `fetches` / `converters` (the
//! keyword tables), `sample` (fetch + converter chains), `acl` (criteria and
//! flags; `acl_patterns`: typed patterns and `-f` files), `cond` (conditions),
//! `logformat`, `names` (every HAProxy 2.6 keyword, for "not supported" errors).
//!
//! Availability: a fetch used where it cannot be evaluated is an error in an
//! expression (as HAProxy's "may not be reliably used here") and a warning in
//! an ACL (as HAProxy's "will never match"); named ACLs are checked where they
//! are used, with [`check_named_acl_use`]. HTTP fetches in a `mode tcp` proxy
//! are refused as not supported (portcullis does not parse HTTP there), except
//! in `http-request`/`http-response` rules, which such proxies ignore anyway.

mod acl;
mod cond;
mod converters;
mod fetches;
mod lex;
mod logformat;
mod maps;
mod names;
mod sample;
pub(crate) mod stickfetch;
mod tls_fetches;

use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::ir::expr::{AclTerm, Condition, LogFormat, Sample};
use std::ops::Range;

pub use crate::ir::expr::Mode;
pub use acl::check_named_acl_use;
pub use fetches::var_name as parse_var_name;

/// Where an expression is evaluated: decides which fetches are available
/// (HAProxy's sample "checkpoints").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `tcp-request connection`: only layer 4 (no TLS yet).
    TcpConnection,
    /// `tcp-request session`: after the TLS handshake.
    TcpSession,
    /// `tcp-request content` (and `use_backend` in `mode tcp`).
    TcpContent,
    /// `http-request`, `use_backend`, `redirect`, `stats admin`…
    HttpRequest,
    /// `http-response`.
    HttpResponse,
    /// `tcp-response content`.
    TcpResponse,
    /// `log-format` and friends, evaluated when the log line is emitted.
    Log,
    /// A server's `sni` expression (evaluated when connecting to it).
    ServerSni,
    /// An `acl` line: where it is used is not known yet, so availability is
    /// checked at each use ([`check_named_acl_use`]).
    Acl,
}

impl Stage {
    /// The rule kind, with its article: "an 'http-request' rule".
    pub fn describe(self) -> &'static str {
        match self {
            Stage::TcpConnection => "a 'tcp-request connection' rule",
            Stage::TcpSession => "a 'tcp-request session' rule",
            Stage::TcpContent => "a 'tcp-request content' rule",
            Stage::HttpRequest => "an 'http-request' rule",
            Stage::HttpResponse => "an 'http-response' rule",
            Stage::TcpResponse => "a 'tcp-response content' rule",
            Stage::Log => "a log-format string",
            Stage::ServerSni => "a server 'sni' expression",
            Stage::Acl => "an 'acl' line",
        }
    }

    /// Stages where a response exists (`hdr` means the response header there).
    fn is_response(self) -> bool {
        matches!(self, Stage::HttpResponse | Stage::TcpResponse)
    }

    /// Every concrete stage, for "usable in" hints.
    const CONCRETE: [Stage; 8] = [
        Stage::TcpConnection,
        Stage::TcpSession,
        Stage::TcpContent,
        Stage::HttpRequest,
        Stage::HttpResponse,
        Stage::TcpResponse,
        Stage::Log,
        Stage::ServerSni,
    ];
}

/// What the expression parser needs to know about where it is called from.
pub struct ExprCtx<'a> {
    /// The proxy's mode (HTTP fetches need `mode http`).
    pub mode: Mode,
    pub stage: Stage,
    /// Named ACLs declared so far in this proxy.
    pub acl_exists: &'a dyn Fn(&str) -> bool,
    /// Where we are, for messages: `'http-request set-header' rule in frontend 'fe'`.
    pub context: &'a str,
    /// Names of the proxies that have a `stick-table` (stick fetches name them).
    pub tables: &'a [String],
    /// This proxy's own table, if it has one.
    pub own_table: Option<&'a str>,
    /// Names of the proxies with a backend side (`nbsrv(<backend>)`).
    pub backends: &'a [String],
    /// This proxy's name (`nbsrv` without argument counts its servers).
    pub proxy: &'a str,
    /// What the Lua scripts registered (`lua.<name>` fetches and converters).
    pub lua: &'a crate::ir::lua::LuaNames,
}

/// Parses one word as a sample expression: `req.hdr(host),field(1,:),lower`.
pub fn parse_sample(word: &Word, ctx: &ExprCtx, diags: &mut Diagnostics) -> Option<Sample> {
    match sample::parse_standalone(word, ctx, diags) {
        Ok(s) => Some(s),
        Err(e) => {
            diags.push(e.into_diag(word, ctx));
            None
        }
    }
}

/// Parses an ACL criterion with its flags and patterns: the words after
/// `acl <name>`, or inside `{ … }`.
pub fn parse_acl_criterion(
    words: &[Word],
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Option<AclTerm> {
    acl::parse_criterion(words, ctx, diags, acl::Origin::Declared)
}

/// Parses a condition: words starting with `if` or `unless`.
pub fn parse_condition(
    words: &[Word],
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Option<Condition> {
    cond::parse(words, ctx, diags)
}

/// Parses one word as a log-format string: `%ci:%cp [%tr] %[ssl_c_s_dn]`.
pub fn parse_log_format(word: &Word, ctx: &ExprCtx, diags: &mut Diagnostics) -> Option<LogFormat> {
    logformat::parse(word, ctx, diags)
}

/// Every sample fetch name portcullis supports.
pub fn supported_fetches() -> &'static [&'static str] {
    fetches::SUPPORTED_NAMES
}

/// Every converter name portcullis supports.
pub fn supported_converters() -> &'static [&'static str] {
    converters::all_names()
}

/// Every ACL-only keyword portcullis supports (`path_beg`, `hdr_sub`…).
pub fn supported_acl_keywords() -> Vec<&'static str> {
    fetches::ACL_KEYWORDS.iter().map(|k| k.name).collect()
}

/// Every sample fetch HAProxy 2.6 knows, supported or not.
pub fn haproxy_fetches() -> &'static [&'static str] {
    names::HAPROXY_FETCHES
}

/// Every converter HAProxy 2.6 knows, supported or not.
pub fn haproxy_converters() -> &'static [&'static str] {
    names::HAPROXY_CONVERTERS
}

/// What went wrong inside a word, before it becomes a [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExprErrorKind {
    #[error("missing fetch method")]
    MissingFetch,
    #[error("unknown fetch method '{0}'")]
    UnknownFetch(String),
    #[error("fetch '{0}' is not supported by portcullis")]
    UnsupportedFetch(String),
    #[error("missing converter name after ','")]
    MissingConverter,
    #[error("unknown converter '{0}'")]
    UnknownConverter(String),
    #[error("converter '{0}' is not supported by portcullis")]
    UnsupportedConverter(String),
    #[error(
        "converter '{conv}' cannot be applied to {} '{from}' sample",
        article(from)
    )]
    CannotApply { conv: String, from: &'static str },
    #[error("missing comma after '{0}'")]
    MissingComma(String),
    #[error("unterminated quote in the arguments of '{0}'")]
    UnterminatedQuote(String),
    #[error("missing ')' to close the arguments of '{0}'")]
    MissingCloseParen(String),
    #[error("'{0}' does not take arguments")]
    NoArgs(String),
    #[error("too many arguments to '{kw}' (at most {max})")]
    TooManyArgs { kw: String, max: usize },
    #[error("missing arguments to '{kw}' (got {got}/{min}), type '{expected}' expected")]
    MissingArgs {
        kw: String,
        got: usize,
        min: usize,
        expected: &'static str,
    },
    #[error("invalid argument {pos} to '{kw}': {msg}")]
    BadArg { kw: String, pos: usize, msg: String },
    #[error("fetch '{kw}' needs '{needs}', which is not available in {stage}")]
    NotAvailable {
        kw: String,
        needs: &'static str,
        stage: &'static str,
    },
    #[error(
        "fetch '{0}' is not supported by portcullis in 'mode tcp' proxies (it needs HTTP, which portcullis only parses in 'mode http')"
    )]
    NeedsHttpMode(String),
    #[error("{0}")]
    LogFormat(String),
}

/// "a" or "an" before a type name (`an 'ipv6' sample`).
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// An error located by byte offsets inside one word's text (boxed: errors
/// are rare and the happy path should stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError(Box<ExprErrorData>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprErrorData {
    pub kind: ExprErrorKind,
    pub at: Range<usize>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl ExprError {
    pub(crate) fn new(kind: ExprErrorKind, at: Range<usize>) -> Self {
        ExprError(Box::new(ExprErrorData {
            kind,
            at,
            label: None,
            help: None,
        }))
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    pub(crate) fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.0.help = help;
        }
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.0.label = Some(label.into());
        self
    }

    /// The diagnostic, with the caret under the offending part of `word`.
    pub(crate) fn into_diag(self, word: &Word, ctx: &ExprCtx) -> Diagnostic {
        let data = *self.0;
        let span = sub_span(word, &data.at);
        let mut d = Diagnostic::error(format!("{} in {}", data.kind, ctx.context)).at(span);
        if let Some(l) = data.label {
            d = d.label(l);
        }
        if let Some(h) = data.help {
            d = d.help(h);
        }
        d
    }
}

/// `help` when there is one (`Diagnostic::help` takes a value).
pub(crate) trait DiagExt {
    fn help_opt(self, help: Option<String>) -> Self;
}

impl DiagExt for Diagnostic {
    fn help_opt(self, help: Option<String>) -> Self {
        match help {
            Some(h) => self.help(h),
            None => self,
        }
    }
}

/// The span of `at` inside `word` (the whole word when `at` is empty or out of range).
pub(crate) fn sub_span(word: &Word, at: &Range<usize>) -> Span {
    if at.start >= at.end {
        let width = word
            .text
            .get(at.start..)
            .and_then(|r| r.chars().next())
            .map_or(0, char::len_utf8);
        return word.sub_span(at.start, at.start + width);
    }
    word.sub_span(at.start, at.end)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builds words and contexts the way the lexer and lowering would.
    use super::*;
    use crate::diag::FileId;

    /// Splits `text` on spaces into words with spans relative to offset 0.
    pub fn words(text: &str) -> Vec<Word> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        for part in text.split(' ') {
            if !part.is_empty() {
                out.push(word_at(part, pos));
            }
            pos += part.len() + 1;
        }
        out
    }

    /// One unquoted word starting at `start`.
    pub fn word_at(text: &str, start: usize) -> Word {
        Word {
            text: text.to_string(),
            span: Span {
                file: FileId(0),
                start: start as u32,
                end: (start + text.len()) as u32,
            },
            quoted: false,
        }
    }

    /// One unquoted word at offset 0.
    pub fn word(text: &str) -> Word {
        word_at(text, 0)
    }

    /// Runs `f` with a context for `stage` in `mode`, where ACLs `known` exist.
    pub fn with_ctx<T>(
        mode: Mode,
        stage: Stage,
        known: &[&str],
        f: impl FnOnce(&ExprCtx) -> T,
    ) -> T {
        let exists = |n: &str| known.contains(&n);
        let ctx = ExprCtx {
            mode,
            stage,
            acl_exists: &exists,
            context: "test rule",
            tables: &[],
            own_table: None,
            backends: &[],
            proxy: "",
            lua: &crate::ir::lua::LuaNames::default(),
        };
        f(&ctx)
    }

    /// The messages of the errors in `diags`.
    pub fn errors(diags: &Diagnostics) -> Vec<String> {
        diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect()
    }

    /// The messages of the warnings in `diags`.
    pub fn warnings(diags: &Diagnostics) -> Vec<String> {
        diags
            .iter()
            .filter(|d| !d.is_error())
            .map(|d| d.message.clone())
            .collect()
    }

    /// Parses a sample in an HTTP request rule; panics with the diagnostics on failure.
    pub fn sample_ok(text: &str) -> Sample {
        sample_in(Mode::Http, Stage::HttpRequest, text).unwrap_or_else(|d| panic!("{text}: {d:?}"))
    }

    /// Parses a sample; returns the error messages on failure.
    pub fn sample_in(mode: Mode, stage: Stage, text: &str) -> Result<Sample, Vec<String>> {
        let mut diags = Diagnostics::new();
        let w = word(text);
        let r = with_ctx(mode, stage, &[], |ctx| parse_sample(&w, ctx, &mut diags));
        r.ok_or_else(|| errors(&diags))
    }

    /// Parses a sample in an HTTP request rule and returns its first error.
    pub fn sample_err(text: &str) -> String {
        match sample_in(Mode::Http, Stage::HttpRequest, text) {
            Ok(s) => panic!("{text} parsed: {s:?}"),
            Err(e) => e.into_iter().next().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{with_ctx, word, words};
    use super::*;
    use crate::diag::{SourceMap, render};

    #[test]
    fn errors_render_with_a_caret_inside_the_word() {
        let mut map = SourceMap::new();
        let line = "    http-request set-header X-Serial %[ssl_c_serial,lowr]\n";
        let file = map.add("site.cfg", line);
        let start = line.find('%').unwrap_or(0);
        let text = "%[ssl_c_serial,lowr]";
        let mut w = word(text);
        w.span = Span {
            file,
            start: start as u32,
            end: (start + text.len()) as u32,
        };
        let mut diags = Diagnostics::new();
        let ctx = ExprCtx {
            mode: Mode::Http,
            stage: Stage::HttpRequest,
            acl_exists: &|_| false,
            context: "'http-request set-header' rule in frontend 'fe'",
            tables: &[],
            own_table: None,
            backends: &[],
            proxy: "",
            lua: &crate::ir::lua::LuaNames::default(),
        };
        assert!(parse_log_format(&w, &ctx, &mut diags).is_none());
        let out = render(&map, &diags);
        assert!(
            out.contains(
                "error: unknown converter 'lowr' in 'http-request set-header' rule in frontend 'fe'"
            ),
            "{out}"
        );
        assert!(out.contains("site.cfg:1:53"), "{out}");
        assert!(out.contains("^^^^ unknown converter"), "{out}");
        assert!(out.contains("help: did you mean 'lower'?"), "{out}");
    }

    #[test]
    fn var_names_are_exposed_for_actions() {
        let v = parse_var_name("txn.host").ok();
        assert_eq!(v.map(|v| v.name), Some("host".to_string()));
        assert!(parse_var_name("host").is_err());
    }

    /// Deterministic garbage: no input may panic any parser.
    #[test]
    fn never_panics_on_garbage() {
        let alphabet: Vec<char> = "%[]{}(),!|' \"\\-+:.aZ09_é{}xyorifunless".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..1500 {
            let mut s = String::new();
            for _ in 0..(seed % 24) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let i = (seed >> 33) as usize % alphabet.len();
                s.push(alphabet[i]);
            }
            seed = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
            let mut diags = Diagnostics::new();
            with_ctx(Mode::Http, Stage::HttpRequest, &["a"], |ctx| {
                let w = word(&s);
                let _ = parse_sample(&w, ctx, &mut diags);
                let _ = parse_log_format(&w, ctx, &mut diags);
                let ws = words(&s);
                let _ = parse_acl_criterion(&ws, ctx, &mut diags);
                let mut cond = words("if");
                cond.extend(ws);
                let _ = parse_condition(&cond, ctx, &mut diags);
            });
        }
    }
}
