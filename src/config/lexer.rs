//! Lexer: configuration text → active lines of spanned words.
//!
//! First stage of the pipeline. It applies HAProxy 2.6's line rules exactly
//! (`tools.c:parse_line`): words split on unprotected blanks, `#` comments, weak
//! `"…"` and strong `'…'` quoting, backslash escapes, `$VAR`/`${VAR}`/
//! `${VAR-default}`/`${VAR[*]}` expanded only inside double quotes, the 64-word
//! limit, no line continuation, a mandatory final LF. Conditional blocks
//! (`.if/.elif/.else/.endif`) and messages (`.notice/.warning/.alert/.diag`) are
//! resolved here too, so later stages only ever see the lines that are active.

use super::cond;
use super::word::{Line, Word};
use crate::diag::{Diagnostic, Diagnostics, FileId, Severity, Span};

/// HAProxy's `MAX_LINE_ARGS`: more words on one line is a fatal error.
pub const MAX_WORDS: usize = 64;
/// HAProxy's `MAXNESTEDCONDS`.
pub const MAX_NESTED_CONDS: usize = 100;

/// Section keywords: a line starting with one of these opens a section, which is
/// what `${.SECTION}` reports.
pub const SECTION_KEYWORDS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "mailers",
    "namespace_list",
    "resolvers",
    "cache",
    "fcgi-app",
    "http-errors",
    "log-forward",
    "program",
    "ring",
];

/// Where environment variables come from; a parameter so tests and fuzzers stay
/// hermetic.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads variables from the process environment, as HAProxy does.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Lexes one file. Returns the active lines; problems go to `diags`.
pub fn lex_file(
    file: FileId,
    file_name: &str,
    text: &str,
    env: EnvLookup,
    diags: &mut Diagnostics,
) -> Vec<Line> {
    let mut lexer = FileLexer {
        file,
        file_name,
        env,
        diags,
        section: String::new(),
        conds: Vec::new(),
        out: Vec::new(),
    };
    lexer.run(text);
    lexer.out
}

/// State of one `.if` level.
struct CondFrame {
    /// Some branch of this block was already taken.
    taken: bool,
    /// Lines are currently active in this block.
    active: bool,
    /// `.else` was seen.
    seen_else: bool,
    /// Where the `.if` was, for "non-terminated" errors.
    span: Span,
}

struct FileLexer<'a, 'd> {
    file: FileId,
    file_name: &'a str,
    env: EnvLookup<'a>,
    diags: &'d mut Diagnostics,
    section: String,
    conds: Vec<CondFrame>,
    out: Vec<Line>,
}

impl FileLexer<'_, '_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span {
            file: self.file,
            start: start as u32,
            end: end as u32,
        }
    }

    fn active(&self) -> bool {
        self.conds.iter().all(|c| c.active)
    }

    fn run(&mut self, text: &str) {
        let mut offset = 0usize;
        let mut line_no = 0usize;
        while offset < text.len() {
            line_no += 1;
            let rest = &text[offset..];
            let (raw, next, has_lf) = match rest.find('\n') {
                Some(i) => (&rest[..i], offset + i + 1, true),
                None => (rest, text.len(), false),
            };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if !has_lf {
                self.diags.push(
                    Diagnostic::error("missing LF on last line, file might have been truncated")
                        .at(self.span(offset + raw.len(), offset + raw.len()))
                        .label("the file ends here without a newline")
                        .help("end the file with a newline, as HAProxy requires"),
                );
            }
            if let Some(pos) = raw.find('\0') {
                self.diags.push(
                    Diagnostic::error("stray NUL character")
                        .at(self.span(offset + pos, offset + pos + 1))
                        .help("remove the NUL byte; configuration files are text"),
                );
                offset = next;
                continue;
            }
            self.line(raw, offset, line_no);
            offset = next;
        }
        if let Some(frame) = self.conds.last() {
            self.diags.push(
                Diagnostic::error("non-terminated '.if' block")
                    .at(frame.span)
                    .help("close the block with '.endif' before the end of the file"),
            );
        }
    }

    fn line(&mut self, raw: &str, offset: usize, line_no: usize) {
        let Some(words) = split_words(
            raw,
            offset,
            self.file,
            &LineVars {
                env: self.env,
                file: self.file_name,
                line: line_no,
                section: &self.section,
            },
            self.diags,
        ) else {
            return;
        };
        // A line whose first word is empty is an empty line; an empty quoted word
        // ends the argument list (HAProxy terminates its argument array there).
        let end = words
            .iter()
            .position(|w| w.text.is_empty())
            .unwrap_or(words.len());
        let mut words = words;
        words.truncate(end);
        if words.is_empty() {
            return;
        }
        if words[0].text.starts_with('.') && !words[0].quoted {
            self.directive(words);
            return;
        }
        if !self.active() {
            return;
        }
        if words.len() > MAX_WORDS {
            let extra = &words[MAX_WORDS];
            self.diags.push(
                Diagnostic::error(format!(
                    "too many words on one line: HAProxy accepts at most {MAX_WORDS}"
                ))
                .at(extra.span)
                .label("word 65")
                .help("split the statement over several lines (e.g. several 'acl' lines with the same name are ORed)"),
            );
            return;
        }
        if SECTION_KEYWORDS.contains(&words[0].text.as_str()) {
            self.section = words
                .get(1)
                .map(|w| w.text.clone())
                .unwrap_or_else(|| words[0].text.clone());
        }
        let span = words[0].span.to(words[words.len() - 1].span);
        self.out.push(Line { words, span });
    }

    fn directive(&mut self, words: Vec<Word>) {
        let kw = words[0].text.as_str();
        let kw_span = words[0].span;
        match kw {
            ".if" => {
                let parent_active = self.active();
                let frame_span = kw_span;
                if self.conds.len() >= MAX_NESTED_CONDS {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "too many nested '.if', max is {MAX_NESTED_CONDS}"
                        ))
                        .at(kw_span),
                    );
                    return;
                }
                let value = parent_active && self.eval(&words);
                self.conds.push(CondFrame {
                    taken: value || !parent_active,
                    active: value,
                    seen_else: false,
                    span: frame_span,
                });
            }
            ".elif" => {
                let parent_active = self.conds.len() <= 1
                    || self.conds[..self.conds.len() - 1].iter().all(|c| c.active);
                let Some(frame) = self.conds.last() else {
                    self.diags
                        .push(Diagnostic::error("lone '.elif' with no matching '.if'").at(kw_span));
                    return;
                };
                if frame.seen_else {
                    self.diags.push(
                        Diagnostic::error("'.elif' after '.else' is not permitted").at(kw_span),
                    );
                    return;
                }
                let taken = frame.taken;
                let value = parent_active && !taken && self.eval(&words);
                if let Some(frame) = self.conds.last_mut() {
                    frame.active = value;
                    frame.taken |= value;
                }
            }
            ".else" | ".endif" => {
                if let Some(extra) = words.get(1) {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "unexpected argument '{}' for '{kw}'",
                            extra.text
                        ))
                        .at(extra.span)
                        .help("comments after a directive start with '#'"),
                    );
                    return;
                }
                let Some(frame) = self.conds.last_mut() else {
                    self.diags.push(
                        Diagnostic::error(format!("lone '{kw}' with no matching '.if'"))
                            .at(kw_span)
                            .help("remove it, or add the '.if' it closes"),
                    );
                    return;
                };
                if kw == ".endif" {
                    self.conds.pop();
                } else if frame.seen_else {
                    self.diags.push(
                        Diagnostic::error("'.else' after '.else' is not permitted").at(kw_span),
                    );
                } else {
                    frame.seen_else = true;
                    frame.active = !frame.taken;
                    frame.taken = true;
                }
            }
            ".diag" | ".notice" | ".warning" | ".alert" => {
                if !self.active() {
                    return;
                }
                if words.len() != 2 {
                    let at = words.get(2).map(|w| w.span).unwrap_or(kw_span);
                    let msg = match words.get(2) {
                        Some(w) => format!("unexpected argument '{}' for '{kw}'", w.text),
                        None => format!("'{kw}' expects exactly one argument"),
                    };
                    self.diags.push(
                        Diagnostic::error(msg)
                            .at(at)
                            .help("use quotes if the message should contain spaces"),
                    );
                    return;
                }
                let text = words[1].text.clone();
                let span = kw_span.to(words[1].span);
                let severity = match kw {
                    ".diag" => return, // only shown by HAProxy's -dD diagnostic mode
                    ".notice" => Severity::Note,
                    ".warning" => Severity::Warning,
                    _ => Severity::Error,
                };
                let d = match severity {
                    Severity::Note => Diagnostic::notice(text),
                    Severity::Warning => Diagnostic::warning(text),
                    Severity::Error => Diagnostic::error(text),
                };
                self.diags
                    .push(d.at(span).label(kw.trim_start_matches('.').to_string()));
            }
            _ => {
                if !self.active() {
                    return;
                }
                let known = [
                    ".if", ".elif", ".else", ".endif", ".diag", ".notice", ".warning", ".alert",
                ];
                let mut d = Diagnostic::error(format!("unknown directive '{kw}'")).at(kw_span);
                if let Some(s) = crate::diag::did_you_mean(kw, known) {
                    d = d.help(format!("did you mean '{s}'?"));
                }
                self.diags.push(d);
            }
        }
    }

    /// Evaluates the condition of `.if`/`.elif`: words re-joined with spaces as
    /// HAProxy does, then parsed by [`cond::evaluate`].
    fn eval(&mut self, words: &[Word]) -> bool {
        let text: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
        let text = text.join(" ");
        let span = match (words.get(1), words.last()) {
            (Some(first), Some(last)) => first.span.to(last.span),
            _ => words[0].span,
        };
        match cond::evaluate(&text, self.env) {
            Ok(v) => v,
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!("in '{}': {e}", words[0].text))
                        .at(span)
                        .help(cond::HELP),
                );
                false
            }
        }
    }
}

/// Values the pseudo-variables `${.FILE}`, `${.LINE}`, `${.SECTION}` expand to.
struct LineVars<'a> {
    env: EnvLookup<'a>,
    file: &'a str,
    line: usize,
    section: &'a str,
}

impl LineVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        match name {
            ".FILE" => Some(self.file.to_string()),
            ".LINE" => Some(self.line.to_string()),
            ".SECTION" => Some(self.section.to_string()),
            _ => (self.env)(name),
        }
    }
}

/// A word being built.
struct Pending {
    text: String,
    start: usize,
    quoted: bool,
    started: bool,
}

/// Splits one physical line into words (HAProxy's `parse_line`). `offset` is the
/// line's byte offset in its file. Returns `None` after reporting an error.
fn split_words(
    raw: &str,
    offset: usize,
    file: FileId,
    vars: &LineVars,
    diags: &mut Diagnostics,
) -> Option<Vec<Word>> {
    let bytes = raw.as_bytes();
    let span = |s: usize, e: usize| Span {
        file,
        start: (offset + s) as u32,
        end: (offset + e) as u32,
    };
    let mut words: Vec<Word> = Vec::new();
    let mut cur = Pending {
        text: String::new(),
        start: 0,
        quoted: false,
        started: false,
    };
    // Extra words produced by `${VAR[*]}` in the current word: they follow it.
    let mut dquote = false;
    let mut squote = false;
    let mut quote_start = 0;
    let mut i = 0;
    let flush = |cur: &mut Pending, words: &mut Vec<Word>, end: usize| {
        if cur.started {
            words.push(Word {
                text: std::mem::take(&mut cur.text),
                span: span(cur.start, end),
                quoted: cur.quoted,
            });
        }
        cur.started = false;
        cur.quoted = false;
    };
    while i < bytes.len() {
        let c = bytes[i];
        if squote {
            if c == b'\'' {
                squote = false;
            } else {
                push_char(&mut cur.text, raw, &mut i);
                continue;
            }
            i += 1;
            continue;
        }
        match c {
            b' ' | b'\t' if !dquote => {
                flush(&mut cur, &mut words, i);
                i += 1;
            }
            b'#' if !dquote => break,
            b'\'' if !dquote => {
                start_word(&mut cur, i);
                cur.quoted = true;
                squote = true;
                quote_start = i;
                i += 1;
            }
            b'"' => {
                start_word(&mut cur, i);
                cur.quoted = true;
                dquote = !dquote;
                quote_start = i;
                i += 1;
            }
            b'\\' => {
                start_word(&mut cur, i);
                let next = bytes.get(i + 1).copied();
                match next {
                    Some(b' ' | b'\\' | b'#' | b'\'' | b'"' | b'$') => {
                        cur.text.push(next.map(char::from).unwrap_or('\\'));
                        cur.quoted = true;
                        i += 2;
                    }
                    Some(b'n') => {
                        cur.text.push('\n');
                        i += 2;
                    }
                    Some(b'r') => {
                        cur.text.push('\r');
                        i += 2;
                    }
                    Some(b't') => {
                        cur.text.push('\t');
                        i += 2;
                    }
                    Some(b'x') => {
                        let hex = raw
                            .get(i + 2..i + 4)
                            .and_then(|h| u8::from_str_radix(h, 16).ok());
                        match hex {
                            Some(b) if b.is_ascii() => {
                                cur.text.push(char::from(b));
                                i += 4;
                            }
                            Some(_) => {
                                // Non-ASCII byte: keep the text valid UTF-8 by
                                // writing the escape back literally.
                                cur.text.push_str(&raw[i..i + 4]);
                                i += 4;
                            }
                            None => {
                                diags.push(
                                    Diagnostic::error("truncated or invalid hexadecimal sequence")
                                        .at(span(i, (i + 4).min(raw.len())))
                                        .help("write a byte as \\xNN with two hexadecimal digits"),
                                );
                                return None;
                            }
                        }
                    }
                    _ => {
                        // Any other `\c` stays as the two characters.
                        cur.text.push('\\');
                        i += 1;
                    }
                }
            }
            b'$' if dquote => {
                start_word(&mut cur, i);
                match expand_var(raw, i, vars) {
                    Ok((Expansion::One(v), next)) => {
                        cur.text.push_str(&v);
                        i = next;
                    }
                    Ok((Expansion::Many(parts), next)) => {
                        // `${VAR[*]}`: the first part ends the current word, the
                        // others become words of their own.
                        let mut parts = parts.into_iter();
                        if let Some(first) = parts.next() {
                            cur.text.push_str(&first);
                        }
                        for p in parts {
                            flush(&mut cur, &mut words, next);
                            start_word(&mut cur, i);
                            cur.quoted = true;
                            cur.text.push_str(&p);
                        }
                        i = next;
                    }
                    Err((msg, at)) => {
                        diags.push(
                            Diagnostic::error(msg)
                                .at(span(at, (at + 1).min(raw.len()).max(at)))
                                .help("write a literal '$' as \"\\$\" or inside single quotes"),
                        );
                        return None;
                    }
                }
            }
            _ => {
                start_word(&mut cur, i);
                push_char(&mut cur.text, raw, &mut i);
            }
        }
    }
    if squote || dquote {
        diags.push(
            Diagnostic::error("unmatched quote")
                .at(span(quote_start, quote_start + 1))
                .label("this quote is never closed")
                .help("close the quote on the same line; HAProxy has no line continuation"),
        );
        return None;
    }
    flush(&mut cur, &mut words, bytes.len());
    Some(words)
}

fn start_word(cur: &mut Pending, at: usize) {
    if !cur.started {
        cur.started = true;
        cur.start = at;
    }
}

/// Copies one UTF-8 character starting at byte `*i` and advances past it.
fn push_char(out: &mut String, raw: &str, i: &mut usize) {
    let ch = raw[*i..].chars().next().unwrap_or('\u{FFFD}');
    out.push(ch);
    *i += ch.len_utf8().max(1);
}

enum Expansion {
    One(String),
    Many(Vec<String>),
}

/// Expands a variable reference starting at the `$` at byte `at`. Returns the
/// value and the index just after the reference.
fn expand_var(
    raw: &str,
    at: usize,
    vars: &LineVars,
) -> Result<(Expansion, usize), (String, usize)> {
    let bytes = raw.as_bytes();
    let mut i = at + 1;
    let braced = bytes.get(i) == Some(&b'{');
    if braced {
        i += 1;
    }
    let name_start = i;
    let valid_first = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b'.';
    match bytes.get(i) {
        Some(&b) if valid_first(b) => i += 1,
        _ => {
            return Err((
                "forbidden first char in environment variable name".into(),
                i,
            ));
        }
    }
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_alphanumeric() || b == b'_' {
            i += 1;
        } else {
            break;
        }
    }
    let name = &raw[name_start..i];
    if !braced {
        return Ok((Expansion::One(vars.get(name).unwrap_or_default()), i));
    }
    let mut default: Option<String> = None;
    let mut split = false;
    match bytes.get(i) {
        Some(b'}') => {}
        Some(b'-') => {
            let close = raw[i..].find('}').map(|p| i + p);
            let Some(close) = close else {
                return Err(("unmatched brace in environment variable name".into(), at));
            };
            default = Some(raw[i + 1..close].to_string());
            i = close;
        }
        Some(b'[') => {
            if raw.get(i..i + 4) != Some("[*]}") {
                return Err(("truncated or invalid word expansion sequence".into(), i));
            }
            split = true;
            i += 3;
        }
        _ => return Err(("unmatched brace in environment variable name".into(), at)),
    }
    // `i` is on the closing brace.
    let value = match vars.get(name) {
        Some(v) => v,
        None => default.unwrap_or_default(),
    };
    let next = i + 1;
    if split {
        let parts: Vec<String> = value
            .split([' ', '\t'])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        return Ok((Expansion::Many(parts), next));
    }
    Ok((Expansion::One(value), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_with(text: &str, env: &[(&str, &str)]) -> (Vec<Vec<String>>, Diagnostics) {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let lookup = move |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut diags = Diagnostics::new();
        let lines = lex_file(FileId(0), "t.cfg", text, &lookup, &mut diags);
        let words = lines
            .into_iter()
            .map(|l| l.words.into_iter().map(|w| w.text).collect())
            .collect();
        (words, diags)
    }

    fn lex(text: &str) -> Vec<Vec<String>> {
        let (w, d) = lex_with(text, &[]);
        assert!(!d.has_errors(), "{d:?}");
        w
    }

    #[test]
    fn splits_words_and_comments() {
        assert_eq!(
            lex("  bind :443 ssl # comment\n"),
            vec![vec!["bind", ":443", "ssl"]]
        );
        assert_eq!(lex("a#b c\n"), vec![vec!["a"]]);
        assert_eq!(lex("\n\n   \n# only\n"), Vec::<Vec<String>>::new());
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(
            lex("x \"a # not a comment\"\n"),
            vec![vec!["x", "a # not a comment"]]
        );
        assert_eq!(
            lex("x 'single $HOME \\n'\n"),
            vec![vec!["x", "single $HOME \\n"]]
        );
        assert_eq!(lex("x a\\ b\n"), vec![vec!["x", "a b"]]);
        assert_eq!(lex("x \"a\"'b'\\ c\n"), vec![vec!["x", "ab c"]]);
        assert_eq!(lex("x \\1 \\x41\n"), vec![vec!["x", "\\1", "A"]]);
        assert_eq!(lex("x \\\n"), vec![vec!["x", "\\"]]);
    }

    #[test]
    fn env_only_inside_double_quotes() {
        let (w, _) = lex_with(
            "global\n x \"A=${A} B=${B-defB} C=${C-defC} L=${.LINE} S=${.SECTION}\" ${A} $A\n",
            &[("A", "hello"), ("C", "")],
        );
        assert_eq!(
            w[1],
            vec!["x", "A=hello B=defB C= L=2 S=global", "${A}", "$A"]
        );
    }

    #[test]
    fn env_split_and_empty_word_ends_args() {
        let (w, _) = lex_with("x \"${M[*]}\" y\n", &[("M", "a b  c")]);
        assert_eq!(w[0], vec!["x", "a", "b", "c", "y"]);
        let (w, _) = lex_with("set-header X-A \"${UNSET}\" tail\n", &[]);
        assert_eq!(w[0], vec!["set-header", "X-A"]);
        assert_eq!(lex("\"\" bind\n"), Vec::<Vec<String>>::new());
    }

    #[test]
    fn errors_like_haproxy() {
        for (text, msg) in [
            ("x \"a $ b\"\n", "forbidden first char"),
            ("x \"abc\n", "unmatched quote"),
            ("x \\xZZ\n", "hexadecimal"),
            ("x\n y", "missing LF"),
            ("x \"${A\"\n", "unmatched brace"),
            ("x\0\n", "NUL"),
        ] {
            let (_, d) = lex_with(text, &[]);
            assert!(d.iter().any(|d| d.message.contains(msg)), "{text:?}: {d:?}");
        }
        let words: String = (0..70).map(|i| format!(" w{i}")).collect();
        let (_, d) = lex_with(&format!("x{words}\n"), &[]);
        assert!(d.iter().any(|d| d.message.contains("too many words")));
    }

    #[test]
    fn conditional_blocks() {
        let text = ".if defined(A)\na\n.elif streq(x,x)\nb\n.else\nc\n.endif\n.if 0\nd\n.else\ne\n.endif\n";
        let (w, d) = lex_with(text, &[]);
        assert!(!d.has_errors());
        assert_eq!(w, vec![vec!["b"], vec!["e"]]);
        let (w, _) = lex_with(text, &[("A", "1")]);
        assert_eq!(w, vec![vec!["a"], vec!["e"]]);
        let (w, _) = lex_with(".if 1\n.if 0\nx\n.else\ny\n.endif\n.else\nz\n.endif\n", &[]);
        assert_eq!(w, vec![vec!["y"]]);
        let (w, _) = lex_with(".if 0\n.if 1\nx\n.else\ny\n.endif\n.endif\n", &[]);
        assert!(w.is_empty());
    }

    #[test]
    fn conditional_errors_and_messages() {
        for (text, msg) in [
            (".endif\n", "lone '.endif'"),
            (".elif 1\n", "lone '.elif'"),
            (".if 1\n", "non-terminated"),
            (".if 1\n.else\n.else\n.endif\n", "'.else' after '.else'"),
            (".if 1\n.else\n.elif 1\n.endif\n", "'.elif' after '.else'"),
            (".if bogus(1)\n.endif\n", "in '.if'"),
            (".warning a b\n", "unexpected argument 'b'"),
            (".foo\n", "unknown directive"),
            (".alert \"stop here\"\n", "stop here"),
        ] {
            let (_, d) = lex_with(text, &[]);
            assert!(d.has_errors(), "{text:?}");
            assert!(d.iter().any(|d| d.message.contains(msg)), "{text:?}: {d:?}");
        }
        let (_, d) = lex_with(
            ".warning \"careful\"\n.notice hi\n.if 0\n.alert no\n.endif\n",
            &[],
        );
        assert!(!d.has_errors());
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn spans_cover_raw_words() {
        let mut diags = Diagnostics::new();
        let text = "frontend fe\n    bind \"a b\" c\n";
        let lines = lex_file(FileId(0), "t.cfg", text, &process_env, &mut diags);
        let w = &lines[1].words[1];
        assert_eq!(&text[w.span.start as usize..w.span.end as usize], "\"a b\"");
        assert!(w.quoted);
    }
}
