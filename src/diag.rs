//! Diagnostics: the one way every layer reports a problem to the user.
//!
//! Sits beside the whole pipeline (lex → parse → lower → build). Every file the
//! configuration touches (`.cfg`, crt-list) is registered in a [`SourceMap`] so a
//! [`Span`] can be turned into `file:line:col` plus the offending line with a caret,
//! which is what makes a config error fixable without guessing.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term::{self, Config as TermConfig};
use serde::Serialize;

/// Index of a file in the [`SourceMap`]; cheap to copy into every span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one source file, kept on every word so errors found late
/// (lowering, certificate loading) still point at the right column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// The files read for one configuration, so spans can be rendered.
#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    count: u32,
}

/// A resolved position, 1-based like every editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text and returns the id its spans will carry.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = self.files.add(name.into(), text.into());
        self.count += 1;
        FileId(id as u32)
    }

    /// The registered text of a file.
    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// The name a file was registered under.
    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|f| f.name().as_str())
            .unwrap_or("")
    }

    /// `file:line:col` of the start of a span.
    pub fn location(&self, span: Span) -> Location {
        let idx = span.file.0 as usize;
        let (line, column) = match self.files.location(idx, span.start as usize) {
            Ok(loc) => (loc.line_number, loc.column_number),
            Err(_) => (0, 0),
        };
        Location {
            file: self.name(span.file).to_string(),
            line,
            column,
        }
    }

    /// The source text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.text(span.file)
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

/// How bad a diagnostic is; the exit status of `check` follows HAProxy's:
/// errors make a config invalid, warnings never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Severity {
    Error,
    Warning,
    /// Informational (`.notice` in a config); never affects the verdict.
    Note,
}

/// One problem found in a configuration, with everything needed to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where the problem is; `None` for problems with no place in a file
    /// (an unreadable path given on the command line).
    pub span: Option<Span>,
    /// Label under the caret (e.g. "unknown keyword").
    pub label: Option<String>,
    /// A known fix, rendered as `help: …`.
    pub help: Option<String>,
    /// Extra facts, rendered as `note: …`.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error: makes the configuration invalid.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    /// A warning: reported, but the configuration stays valid.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    /// A notice: informational only.
    pub fn notice(message: impl Into<String>) -> Self {
        Self::new(Severity::Note, message)
    }

    fn new(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            span: None,
            label: None,
            help: None,
            notes: Vec::new(),
        }
    }

    /// Points the diagnostic at a span.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Points the diagnostic at a span when one is known.
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        if span.is_some() {
            self.span = span;
        }
        self
    }

    /// Sets the text shown under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds the `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a `note:` line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The diagnostics of one run, in the order they were found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Records an error built from a message and a span.
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(message).at(span));
    }

    /// Records a warning built from a message and a span.
    pub fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::warning(message).at(span));
    }

    /// Moves every diagnostic of `other` here.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// True when at least one error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// All diagnostics in order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Renders diagnostics as plain text (no colour), rustc style:
///
/// ```text
/// error: unknown keyword 'bindd' in frontend 'fe'
///   --> site.cfg:7:5
///   |
/// 7 |     bindd :443
///   |     ^^^^^ unknown keyword
///   |
///   = help: did you mean 'bind'?
/// ```
pub fn render(map: &SourceMap, diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in diags.iter() {
        out.push_str(&render_one(map, d));
    }
    out
}

/// Renders one diagnostic; see [`render`].
pub fn render_one(map: &SourceMap, d: &Diagnostic) -> String {
    let mut cs = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
        Severity::Note => CsDiagnostic::note(),
    }
    .with_message(d.message.clone());
    if let Some(span) = d.span {
        let label = Label::primary(span.file.0 as usize, span.start as usize..span.end as usize)
            .with_message(d.label.clone().unwrap_or_default());
        cs = cs.with_labels(vec![label]);
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    cs = cs.with_notes(notes);
    let config = TermConfig {
        chars: term::Chars::ascii(),
        ..TermConfig::default()
    };
    match term::emit_into_string(&config, &map.files, &cs) {
        Ok(text) => text,
        // Rendering can only fail on an out-of-range span: fall back to the bare message.
        Err(_) => format!("{}: {}\n", severity_word(d.severity), d.message),
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The closest candidate to a misspelt word, if one is close enough to be a
/// plausible typo (used for "did you mean" hints on keywords, fetches, options).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        let dist = strsim::levenshtein(word, c);
        let close = dist <= 2.max(word.len() / 4) || score >= 0.88;
        if close && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_caret_and_help() {
        let mut map = SourceMap::new();
        let f = map.add("site.cfg", "frontend fe\n    bindd :443\n");
        let mut diags = Diagnostics::new();
        diags.push(
            Diagnostic::error("unknown keyword 'bindd' in frontend 'fe'")
                .at(Span {
                    file: f,
                    start: 16,
                    end: 21,
                })
                .label("unknown keyword")
                .help("did you mean 'bind'?"),
        );
        let text = render(&map, &diags);
        println!("{text}");
        assert!(text.contains("site.cfg:2:5"), "{text}");
        assert!(text.contains("^^^^^ unknown keyword"), "{text}");
        assert!(text.contains("= help: did you mean 'bind'?"), "{text}");
    }

    #[test]
    fn suggests_close_words_only() {
        let cands = ["bind", "server", "balance"];
        assert_eq!(did_you_mean("bindd", cands), Some("bind"));
        assert_eq!(did_you_mean("zzzzzzzz", cands), None);
    }
}
