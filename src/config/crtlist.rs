//! crt-list files: one certificate per line with its SSL options and SNI filters.
//!
//! Part of the lowering step: a `bind … crt-list <file>` makes the lowering
//! read the file here, which registers it in the [`SourceMap`] (so later errors
//! about an option or a filter point into the crt-list itself) and splits each
//! line into spanned [`Word`]s. Only the shape is checked here; option keywords
//! and filters are validated by the lowering, like bind options.
//!
//! Format (HAProxy 2.6): `<crtfile> [\[<sslbindconf> ...\]] [[!]<snifilter> ...]`.
//! Blank lines and `#` comments (whole line or trailing) are ignored; `[` and
//! `]` separate words by themselves, so `[verify required]`,
//! `[ verify required ]` and `cert.pem[verify required]` are the same. There is
//! no quoting. Unlike HAProxy, an unclosed `[` is an error.

use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, FileId, SourceMap, Span};
use std::path::Path;

/// One certificate line of a crt-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrtListLine {
    /// The certificate file, as written (the lowering applies `crt-base`).
    pub crt: Word,
    /// Words between `[` and `]`: bind SSL options overriding the bind line's.
    pub options: Vec<Word>,
    /// SNI filters: `name`, `*.domain`, `!name`, `!*`.
    pub filters: Vec<Word>,
    /// From the certificate to the last word of the line.
    pub span: Span,
}

/// Reads a crt-list file, registers it in `map` and splits its lines.
/// Problems become diagnostics (the one for an unreadable file has no
/// location; see [`read_crt_list_at`]); `None` when there was any error.
pub fn read_crt_list(
    map: &mut SourceMap,
    path: &Path,
    diags: &mut Diagnostics,
) -> Option<Vec<CrtListLine>> {
    read_crt_list_at(map, path, None, diags)
}

/// Like [`read_crt_list`], with the span of the word that named the file so
/// an unreadable file is reported there.
pub fn read_crt_list_at(
    map: &mut SourceMap,
    path: &Path,
    at: Option<Span>,
    diags: &mut Diagnostics,
) -> Option<Vec<CrtListLine>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let reason = e.to_string();
            let reason = reason
                .find(" (os error ")
                .map_or(reason.as_str(), |i| &reason[..i]);
            diags.push(
                Diagnostic::error(format!(
                    "'crt-list' : cannot open file '{}' : {reason}",
                    path.display()
                ))
                .at_opt(at)
                .help("check the path of the crt-list file"),
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let file = map.add(path.display().to_string(), text.clone());
    parse_crt_list(file, &text, diags)
}

/// Splits the text of a crt-list already registered as `file`.
pub fn parse_crt_list(
    file: FileId,
    text: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<CrtListLine>> {
    let mut lines = Vec::new();
    let mut ok = true;
    let mut offset = 0usize;
    for raw in text.split('\n') {
        match parse_line(file, raw, offset) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) => {}
            Err(d) => {
                diags.push(d);
                ok = false;
            }
        }
        offset += raw.len() + 1;
    }
    ok.then_some(lines)
}

/// A lexical piece of a line, with byte offsets in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Word(usize, usize),
    Open(usize),
    Close(usize),
}

/// C `isspace`, which HAProxy uses to split crt-list lines.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn tokenize(raw: &str, base: usize) -> Vec<Token> {
    let bytes = raw.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            _ if is_blank(b) => i += 1,
            b'[' => {
                tokens.push(Token::Open(base + i));
                i += 1;
            }
            b']' => {
                tokens.push(Token::Close(base + i));
                i += 1;
            }
            b'#' => break,
            _ => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|&c| !is_blank(c) && c != b'[' && c != b']')
                {
                    i += 1;
                }
                tokens.push(Token::Word(base + start, base + i));
            }
        }
    }
    tokens
}

fn span(file: FileId, start: usize, end: usize) -> Span {
    Span {
        file,
        start: u32::try_from(start).unwrap_or(u32::MAX),
        end: u32::try_from(end).unwrap_or(u32::MAX),
    }
}

fn bracket_span(file: FileId, at: usize) -> Span {
    span(file, at, at + 1)
}

/// Where the parser stands on a line.
enum State {
    /// After the certificate, nothing else yet.
    AfterCrt,
    /// Inside `[ … ]`, opened at this offset.
    InOptions(usize),
    /// Among the filters; `true` once an options block was closed.
    Filters { had_options: bool },
}

fn parse_line(file: FileId, raw: &str, base: usize) -> Result<Option<CrtListLine>, Diagnostic> {
    let tokens = tokenize(raw, base);
    let word = |s: usize, e: usize| Word {
        text: raw.get(s - base..e - base).unwrap_or("").to_string(),
        span: span(file, s, e),
        quoted: false,
    };
    let mut iter = tokens.iter();
    let crt =
        match iter.next() {
            None => return Ok(None),
            Some(Token::Word(s, e)) => word(*s, *e),
            Some(Token::Open(at)) => {
                return Err(Diagnostic::error("crt-list line must start with a certificate file")
                .at(bracket_span(file, *at))
                .label("options before any certificate")
                .help("write the certificate first: '<crtfile> [<ssl options>] [<sni filters>]'"));
            }
            Some(Token::Close(at)) => return Err(stray_close(file, *at)),
        };
    let mut options = Vec::new();
    let mut filters = Vec::new();
    let mut state = State::AfterCrt;
    let mut last_end = crt.span.end as usize;
    for t in iter {
        match (t, &state) {
            (Token::Word(s, e), State::InOptions(_)) => options.push(word(*s, *e)),
            (Token::Word(s, e), _) => {
                filters.push(word(*s, *e));
                if matches!(state, State::AfterCrt) {
                    state = State::Filters { had_options: false };
                }
            }
            (Token::Open(at), State::AfterCrt) => state = State::InOptions(*at),
            (Token::Open(at), State::InOptions(_))
            | (Token::Open(at), State::Filters { had_options: true }) => {
                return Err(Diagnostic::error("too many '[' in crt-list line")
                    .at(bracket_span(file, *at))
                    .label("second '['")
                    .help("a crt-list line has a single '[<ssl options>]' block, right after the certificate"));
            }
            (Token::Open(at), State::Filters { had_options: false }) => {
                return Err(Diagnostic::error(
                    "SSL options must come right after the certificate in a crt-list line",
                )
                .at(bracket_span(file, *at))
                .label("'[' after an SNI filter")
                .help("write '<crtfile> [<ssl options>] <sni filters>'"));
            }
            (Token::Close(_), State::InOptions(_)) => state = State::Filters { had_options: true },
            (Token::Close(at), State::Filters { had_options: true }) => {
                return Err(Diagnostic::error("too many ']' in crt-list line")
                    .at(bracket_span(file, *at))
                    .label("second ']'")
                    .help("a crt-list line has a single '[<ssl options>]' block"));
            }
            (Token::Close(at), _) => return Err(stray_close(file, *at)),
        }
        last_end = match t {
            Token::Word(_, e) => *e,
            Token::Open(at) | Token::Close(at) => at + 1,
        };
    }
    if let State::InOptions(at) = state {
        return Err(Diagnostic::error("unclosed '[' in crt-list line")
            .at(bracket_span(file, at))
            .label("this '[' is never closed")
            .help("close the SSL options with ']' before the SNI filters"));
    }
    let line_span = span(file, crt.span.start as usize, last_end);
    Ok(Some(CrtListLine {
        crt,
        options,
        filters,
        span: line_span,
    }))
}

fn stray_close(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::error("']' without '[' in crt-list line")
        .at(bracket_span(file, at))
        .label("no '[' before this")
        .help("SSL options are written '[<option> ...]' right after the certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (SourceMap, Option<Vec<CrtListLine>>, Diagnostics) {
        let mut map = SourceMap::new();
        let file = map.add("list.txt", text);
        let mut diags = Diagnostics::new();
        let lines = parse_crt_list(file, text, &mut diags);
        (map, lines, diags)
    }

    fn texts(ws: &[Word]) -> Vec<&str> {
        ws.iter().map(|w| w.text.as_str()).collect()
    }

    fn lines_of(text: &str) -> Vec<CrtListLine> {
        match parse(text) {
            (_, Some(l), d) if !d.has_errors() => l,
            (_, _, d) => panic!("{text:?}: {d:?}"),
        }
    }

    fn error_of(text: &str) -> (String, String, usize) {
        let (map, lines, diags) = parse(text);
        assert!(lines.is_none(), "{text:?} parsed");
        let Some(d) = diags.iter().next() else {
            panic!("{text:?}: no diagnostic")
        };
        let Some(span) = d.span else {
            panic!("no span")
        };
        let loc = map.location(span);
        (d.message.clone(), map.slice(span).to_string(), loc.column)
    }

    #[test]
    fn full_line_with_options_and_filters() {
        let l =
            lines_of("server.pem [verify required ca-file inter.crt] test.example !x.example\n");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].crt.text, "server.pem");
        assert_eq!(
            texts(&l[0].options),
            ["verify", "required", "ca-file", "inter.crt"]
        );
        assert_eq!(texts(&l[0].filters), ["test.example", "!x.example"]);
    }

    #[test]
    fn brackets_glued_or_spaced_are_the_same() {
        for text in [
            "c.pem [verify required] a.test",
            "c.pem [ verify required ] a.test",
            "c.pem[verify required]a.test",
            "  \tc.pem [verify required] a.test   ",
        ] {
            let l = lines_of(text);
            assert_eq!(l[0].crt.text, "c.pem", "{text}");
            assert_eq!(texts(&l[0].options), ["verify", "required"], "{text}");
            assert_eq!(texts(&l[0].filters), ["a.test"], "{text}");
        }
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_ignored() {
        let l = lines_of(
            "# header\n\n   \ndefault.crt !*\r\n  # indented comment\ncommon.pem !not.test1.com *.test1.com !localhost # comment\n",
        );
        assert_eq!(l.len(), 2);
        assert_eq!(texts(&l[0].filters), ["!*"]);
        assert_eq!(
            texts(&l[1].filters),
            ["!not.test1.com", "*.test1.com", "!localhost"]
        );
    }

    #[test]
    fn words_carry_spans_into_the_crt_list() {
        let text = "a.pem\n  b.pem [alpn h2] x.test\n";
        let (map, lines, _) = parse(text);
        let Some(lines) = lines else {
            panic!("no lines")
        };
        let b = &lines[1];
        let loc = map.location(b.crt.span);
        assert_eq!((loc.line, loc.column), (2, 3));
        assert_eq!(map.slice(b.options[1].span), "h2");
        assert_eq!(map.slice(b.filters[0].span), "x.test");
        assert_eq!(map.slice(b.span), "b.pem [alpn h2] x.test");
        assert!(!b.crt.quoted);
    }

    #[test]
    fn empty_options_block_is_allowed() {
        let l = lines_of("c.pem [] a.test");
        assert!(l[0].options.is_empty());
        assert_eq!(texts(&l[0].filters), ["a.test"]);
    }

    #[test]
    fn unclosed_bracket_is_an_error_at_the_bracket() {
        let (msg, slice, col) = error_of("c.pem [verify required a.test\n");
        assert_eq!(msg, "unclosed '[' in crt-list line");
        assert_eq!((slice.as_str(), col), ("[", 7));
    }

    #[test]
    fn close_without_open_is_an_error() {
        let (msg, _, col) = error_of("c.pem verify] a.test");
        assert_eq!(msg, "']' without '[' in crt-list line");
        assert_eq!(col, 13);
    }

    #[test]
    fn missing_certificate_is_an_error() {
        let (msg, _, col) = error_of("  [verify required] a.test");
        assert_eq!(msg, "crt-list line must start with a certificate file");
        assert_eq!(col, 3);
    }

    #[test]
    fn second_block_and_late_block_are_errors() {
        assert_eq!(error_of("c.pem [a] [b]").0, "too many '[' in crt-list line");
        assert_eq!(error_of("c.pem [a [b]").0, "too many '[' in crt-list line");
        assert_eq!(error_of("c.pem [a] x]").0, "too many ']' in crt-list line");
        assert_eq!(
            error_of("c.pem x.test [a]").0,
            "SSL options must come right after the certificate in a crt-list line"
        );
    }

    #[test]
    fn every_bad_line_is_reported() {
        let (_, lines, diags) = parse("a.pem [x\nb.pem]\nc.pem\n");
        assert!(lines.is_none());
        assert_eq!(diags.iter().count(), 2);
    }

    #[test]
    fn read_registers_the_file_and_reports_missing_files() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("list");
        std::fs::write(&path, "x.pem y.test\n")?;
        let mut map = SourceMap::new();
        let mut diags = Diagnostics::new();
        let Some(lines) = read_crt_list(&mut map, &path, &mut diags) else {
            panic!("{diags:?}")
        };
        assert_eq!(map.name(lines[0].crt.span.file), path.display().to_string());
        assert_eq!(map.slice(lines[0].filters[0].span), "y.test");

        let missing = dir.path().join("nope");
        let at = lines[0].crt.span;
        assert!(read_crt_list_at(&mut map, &missing, Some(at), &mut diags).is_none());
        let Some(d) = diags.iter().next() else {
            panic!("no diagnostic")
        };
        assert_eq!(
            d.message,
            format!(
                "'crt-list' : cannot open file '{}' : No such file or directory",
                missing.display()
            )
        );
        assert_eq!(d.span, Some(at));
        Ok(())
    }
}
