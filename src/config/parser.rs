//! Parser: active lines → sections (the AST).
//!
//! Second stage of the pipeline. A section starts at a section keyword and runs
//! to the next one or to the end of its file (sections never continue across
//! files, as in HAProxy). Header syntax is checked here: names, `from`.

use super::ast::{ConfigAst, Section, SectionKind};
use super::lexer::SECTION_KEYWORDS;
use super::word::Line;
use crate::diag::{Diagnostic, Diagnostics};

/// Appends the sections of one file's lines to `ast`.
pub fn parse_file(lines: Vec<Line>, ast: &mut ConfigAst, diags: &mut Diagnostics) {
    let mut current: Option<Section> = None;
    for line in lines {
        let kw = line.keyword().text.as_str();
        if SECTION_KEYWORDS.contains(&kw) {
            if let Some(s) = current.take() {
                ast.sections.push(s);
            }
            current = section_header(line, diags);
            continue;
        }
        match current.as_mut() {
            Some(s) => s.lines.push(line),
            None => {
                let w = line.keyword();
                diags.push(
                    Diagnostic::error(format!("unknown keyword '{}' out of section", w.text))
                        .at(w.span)
                        .label("no section is open here")
                        .help("put it under a 'global', 'defaults', 'frontend', 'backend' or 'listen' line; a section never continues into the next file"),
                );
            }
        }
    }
    if let Some(s) = current {
        ast.sections.push(s);
    }
}

/// Characters HAProxy allows in proxy and section names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn section_header(line: Line, diags: &mut Diagnostics) -> Option<Section> {
    let words = &line.words;
    let keyword = words[0].clone();
    let kind = match keyword.text.as_str() {
        "global" => SectionKind::Global,
        "defaults" => SectionKind::Defaults,
        "frontend" => SectionKind::Frontend,
        "backend" => SectionKind::Backend,
        "listen" => SectionKind::Listen,
        "userlist" => SectionKind::Userlist,
        "peers" => SectionKind::Peers,
        "resolvers" => SectionKind::Resolvers,
        _ => SectionKind::Unsupported,
    };
    let mut name = None;
    let mut from = None;
    let mut rest = &words[1..];
    match kind {
        SectionKind::Global => {
            if let Some(extra) = rest.first() {
                diags.push(
                    Diagnostic::error(format!(
                        "unexpected argument '{}' after 'global'",
                        extra.text
                    ))
                    .at(extra.span)
                    .help("the global section takes no name"),
                );
            }
            rest = &[];
        }
        SectionKind::Unsupported => rest = &[],
        SectionKind::Defaults => {
            if let Some(w) = rest.first().filter(|w| w.text != "from") {
                name = Some(w.clone());
                rest = &rest[1..];
            }
        }
        _ => match rest.first() {
            Some(w) => {
                name = Some(w.clone());
                rest = &rest[1..];
            }
            None => {
                diags.push(
                    Diagnostic::error(format!("'{}' expects a name", keyword.text))
                        .at(keyword.span)
                        .help(format!("write '{} <name>'", keyword.text)),
                );
                return None;
            }
        },
    }
    if let Some(n) = &name
        && !valid_name(&n.text)
    {
        diags.push(
            Diagnostic::error(format!(
                "invalid name '{}' for {}: only letters, digits, '-', '_', '.' and ':' are allowed",
                n.text, keyword.text
            ))
            .at(n.span),
        );
        return None;
    }
    if kind.is_proxy() && !rest.is_empty() {
        if rest[0].text == "from" {
            match rest.get(1) {
                Some(w) => {
                    from = Some(w.clone());
                    rest = &rest[2..];
                }
                None => {
                    diags.push(
                        Diagnostic::error("'from' expects the name of a defaults section")
                            .at(rest[0].span),
                    );
                    return None;
                }
            }
        }
        if let Some(extra) = rest.first() {
            let mut d = Diagnostic::error(format!(
                "unexpected argument '{}' after {} '{}'",
                extra.text,
                keyword.text,
                name.as_ref().map(|n| n.text.as_str()).unwrap_or("")
            ))
            .at(extra.span);
            if kind == SectionKind::Listen {
                d = d.help("the address form 'listen <name> <addr>' was removed before HAProxy 2.6: use a 'bind <addr>' line in the section");
            }
            diags.push(d);
            return None;
        }
    }
    Some(Section {
        kind,
        keyword,
        name,
        from,
        header: line.clone(),
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lexer::lex_file;
    use crate::diag::FileId;

    fn parse(text: &str) -> (ConfigAst, Diagnostics) {
        let mut diags = Diagnostics::new();
        let lines = lex_file(FileId(0), "t.cfg", text, &|_| None, &mut diags);
        let mut ast = ConfigAst::default();
        parse_file(lines, &mut ast, &mut diags);
        (ast, diags)
    }

    #[test]
    fn groups_lines_into_sections() {
        let (ast, d) = parse(
            "global\n maxconn 10\ndefaults base\n mode http\ndefaults from base\nfrontend fe from base\n bind :80\nlisten l\n",
        );
        assert!(!d.has_errors(), "{d:?}");
        let kinds: Vec<_> = ast.sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Global,
                SectionKind::Defaults,
                SectionKind::Defaults,
                SectionKind::Frontend,
                SectionKind::Listen
            ]
        );
        assert_eq!(ast.sections[1].name_str(), "base");
        assert_eq!(ast.sections[2].name_str(), "");
        assert_eq!(
            ast.sections[2].from.as_ref().map(|w| w.text.as_str()),
            Some("base")
        );
        assert_eq!(ast.sections[3].lines.len(), 1);
    }

    #[test]
    fn header_errors() {
        for (text, msg) in [
            ("server s1 1.2.3.4\n", "out of section"),
            ("frontend\n", "expects a name"),
            ("backend b@d\n", "invalid name"),
            ("listen l 1.2.3.4:80\n", "unexpected argument"),
            ("frontend f from\n", "'from' expects"),
        ] {
            let (_, d) = parse(text);
            assert!(d.iter().any(|d| d.message.contains(msg)), "{text:?}: {d:?}");
        }
    }
}
