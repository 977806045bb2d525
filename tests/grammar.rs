//! The written language definition stays true to the code.
//!
//! `grammar/keywords.md`, `grammar/portcullis.ebnf` and `man/portcullis.cfg.5`
//! are hand-written copies of what the code accepts. These tests compare them
//! with the tables the code dispatches on — `config::keywords::TABLE` and the
//! fetch, converter, ACL-keyword, log-alias and predefined-ACL tables of the
//! expression parser — and fail, printing the difference, when a keyword is
//! added, removed or changes status on one side only. They also check that the
//! EBNF is well formed (every rule used is defined, brackets balance), so the
//! grammar cannot rot into prose.

use portcullis::config::expr;
use portcullis::config::keywords::{Context, Keyword, Status, TABLE};
use portcullis::ir::expr::{LogAlias, PredefinedAcl};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Reads a file of the repository.
fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The contexts of the keyword table, in table order.
fn contexts() -> Vec<Context> {
    let mut out: Vec<Context> = Vec::new();
    for k in TABLE {
        if !out.contains(&k.context) {
            out.push(k.context);
        }
    }
    out
}

/// The context whose `describe()` is `heading` (case-insensitive).
fn context_named(heading: &str) -> Option<Context> {
    contexts()
        .into_iter()
        .find(|c| c.describe().eq_ignore_ascii_case(heading.trim()))
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Supported => "supported",
        Status::Extension => "extension",
    }
}

/// Compares two name lists as sets; returns a readable difference, or `None`.
fn set_diff(what: &str, expected: &[String], found: &[String]) -> Option<String> {
    let exp: BTreeSet<&String> = expected.iter().collect();
    let got: BTreeSet<&String> = found.iter().collect();
    let missing: Vec<&&String> = exp.difference(&got).collect();
    let extra: Vec<&&String> = got.difference(&exp).collect();
    let mut seen = BTreeSet::new();
    let dups: Vec<&String> = found.iter().filter(|n| !seen.insert(*n)).collect();
    if missing.is_empty() && extra.is_empty() && dups.is_empty() {
        return None;
    }
    let mut out = format!("{what}:\n");
    for m in missing {
        let _ = writeln!(out, "  missing: {m}");
    }
    for x in extra {
        let _ = writeln!(out, "  extra (not in the code): {x}");
    }
    for d in dups {
        let _ = writeln!(out, "  listed twice: {d}");
    }
    Some(out)
}

fn strings<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names.into_iter().map(String::from).collect()
}

// ---------------------------------------------------------------------------
// grammar/keywords.md
// ---------------------------------------------------------------------------

/// A Markdown table under a `## ` heading: its header cells and body rows.
struct MdTable {
    heading: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Splits a Markdown table row into trimmed cells (`\|` is a literal bar).
fn md_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn is_separator_row(cells: &[String]) -> bool {
    cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// Every table of the document, with the `## ` heading it sits under.
fn md_tables(text: &str) -> Vec<MdTable> {
    let mut out: Vec<MdTable> = Vec::new();
    let mut heading = String::new();
    let mut current: Option<MdTable> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if !trimmed.starts_with('|') {
            if let Some(t) = current.take() {
                out.push(t);
            }
            if let Some(h) = trimmed.strip_prefix("## ") {
                heading = h.trim().to_string();
            }
            continue;
        }
        let cells = md_cells(trimmed);
        match current.as_mut() {
            None => {
                current = Some(MdTable {
                    heading: heading.clone(),
                    header: cells,
                    rows: Vec::new(),
                })
            }
            Some(t) if t.rows.is_empty() && is_separator_row(&cells) => {}
            Some(t) => t.rows.push(cells),
        }
    }
    if let Some(t) = current {
        out.push(t);
    }
    out
}

/// The text of a cell without the backticks around a name.
fn unticked(cell: &str) -> String {
    cell.trim().trim_matches('`').to_string()
}

/// The Markdown rows that `keywords.md` should hold for a context.
fn expected_md(context: Context) -> String {
    let mut out = format!(
        "## {}\n\n| keyword | status | summary |\n|---|---|---|\n",
        capitalise(context.describe())
    );
    for k in TABLE.iter().filter(|k| k.context == context) {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            k.name,
            status_word(k.status),
            k.summary
        );
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[test]
fn keywords_md_lists_exactly_the_keyword_table() {
    let text = read("grammar/keywords.md");
    let mut problems = String::new();
    let mut stale: BTreeSet<String> = BTreeSet::new();
    let mut found: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for table in md_tables(&text) {
        if table.header.first().map(String::as_str) != Some("keyword") {
            continue;
        }
        let Some(context) = context_named(&table.heading) else {
            let _ = writeln!(
                problems,
                "keyword table under '## {}', which names no context of the keyword table (expected one of: {})",
                table.heading,
                contexts()
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            continue;
        };
        let rows = found.entry(context.describe().to_string()).or_default();
        for row in &table.rows {
            let cell = |i: usize| row.get(i).cloned().unwrap_or_default();
            rows.push((unticked(&cell(0)), cell(1), cell(2)));
        }
    }
    for context in contexts() {
        let label = context.describe();
        let Some(rows) = found.get(label) else {
            let _ = writeln!(problems, "no table for the {label}");
            stale.insert(label.to_string());
            continue;
        };
        let expected: Vec<&Keyword> = TABLE.iter().filter(|k| k.context == context).collect();
        let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        if let Some(d) = set_diff(label, &strings(expected.iter().map(|k| k.name)), &names) {
            problems.push_str(&d);
            stale.insert(label.to_string());
        }
        for k in &expected {
            if let Some((_, status, summary)) = rows.iter().find(|r| r.0 == k.name) {
                if status != status_word(k.status) {
                    let _ = writeln!(
                        problems,
                        "{label}: '{}' is marked '{status}' but the table says '{}'",
                        k.name,
                        status_word(k.status)
                    );
                    stale.insert(label.to_string());
                }
                if summary != k.summary {
                    let _ = writeln!(
                        problems,
                        "{label}: summary of '{}' is '{summary}' but the table says '{}'",
                        k.name, k.summary
                    );
                    stale.insert(label.to_string());
                }
            }
        }
    }
    if !problems.is_empty() {
        let mut fix = String::new();
        for context in contexts()
            .into_iter()
            .filter(|c| stale.contains(c.describe()))
        {
            fix.push_str(&expected_md(context));
            fix.push('\n');
        }
        panic!(
            "grammar/keywords.md disagrees with src/config/keywords.rs:\n{problems}\n\
             The tables should read (keep each table's introduction):\n\n{fix}"
        );
    }
}

/// First-column names of the table under `## heading`.
fn md_names_under(text: &str, heading: &str) -> Vec<String> {
    md_tables(text)
        .into_iter()
        .filter(|t| t.heading == heading)
        .flat_map(|t| t.rows.into_iter())
        .map(|row| unticked(row.first().map(String::as_str).unwrap_or("")))
        .collect()
}

#[test]
fn keywords_md_lists_the_supported_fetches_converters_and_acl_keywords() {
    let text = read("grammar/keywords.md");
    let mut problems = String::new();
    let checks: [(&str, Vec<String>); 3] = [
        (
            "Sample fetches",
            strings(expr::supported_fetches().iter().copied()),
        ),
        (
            "Converters",
            strings(expr::supported_converters().iter().copied()),
        ),
        ("ACL keywords", strings(expr::supported_acl_keywords())),
    ];
    for (heading, expected) in checks {
        let found = md_names_under(&text, heading);
        if found.is_empty() {
            let _ = writeln!(problems, "no table under '## {heading}'");
        }
        if let Some(d) = set_diff(
            &format!("'## {heading}' of grammar/keywords.md"),
            &expected,
            &found,
        ) {
            problems.push_str(&d);
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

// ---------------------------------------------------------------------------
// grammar/portcullis.ebnf
// ---------------------------------------------------------------------------

/// A token of ISO 14977 EBNF.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// A meta identifier (rule name); inner blanks collapsed to one space.
    Ident(String),
    /// A terminal string, without its quotes.
    Terminal(String),
    /// A `? … ?` special sequence.
    Special,
    /// One of `= , | [ ] { } ( ) - ;`.
    Sym(char),
}

/// Tokenises EBNF text (comments, which nest, are dropped). Errors name the
/// byte offset of the problem.
fn ebnf_tokens(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    while let Some(c) = at(i) {
        let offset = chars.get(i).map(|(o, _)| *o).unwrap_or(0);
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' && at(i + 1) == Some('*') {
            let mut depth = 0usize;
            loop {
                match (at(i), at(i + 1)) {
                    (Some('('), Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    (Some('*'), Some(')')) => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some(_), _) => i += 1,
                    (None, _) => {
                        return Err(format!("unterminated comment starting at byte {offset}"));
                    }
                }
            }
        } else if c == '"' || c == '\'' || c == '?' {
            let mut j = i + 1;
            let mut s = String::new();
            loop {
                match at(j) {
                    Some(q) if q == c => break,
                    Some(ch) => s.push(ch),
                    None => return Err(format!("unterminated {c}…{c} starting at byte {offset}")),
                }
                j += 1;
            }
            if c == '?' {
                toks.push(Tok::Special);
            } else if s.is_empty() {
                return Err(format!("empty terminal at byte {offset}"));
            } else {
                toks.push(Tok::Terminal(s));
            }
            i = j + 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut name = String::new();
            while let Some(ch) = at(i) {
                if ch.is_ascii_alphanumeric() || ch == '_' || ch == ' ' || ch == '\t' {
                    name.push(ch);
                    i += 1;
                } else {
                    break;
                }
            }
            toks.push(Tok::Ident(
                name.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
        } else if "=,|[]{}()-;".contains(c) {
            toks.push(Tok::Sym(c));
            i += 1;
        } else {
            return Err(format!("unexpected character '{c}' at byte {offset}"));
        }
    }
    Ok(toks)
}

/// A parsed grammar: each rule's name and the tokens of its right-hand side.
struct Grammar {
    rules: Vec<(String, Vec<Tok>)>,
}

impl Grammar {
    fn parse(text: &str) -> Result<Grammar, String> {
        let toks = ebnf_tokens(text)?;
        let mut rules = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let Some(Tok::Ident(name)) = toks.get(i) else {
                return Err(format!(
                    "expected a rule name, found {:?} (after rule {:?})",
                    toks.get(i),
                    rules.last().map(|r: &(String, Vec<Tok>)| &r.0)
                ));
            };
            if toks.get(i + 1) != Some(&Tok::Sym('=')) {
                return Err(format!("rule '{name}': expected '=' after the name"));
            }
            let end = toks[i + 2..]
                .iter()
                .position(|t| *t == Tok::Sym(';'))
                .map(|p| i + 2 + p)
                .ok_or_else(|| format!("rule '{name}' has no terminating ';'"))?;
            let body = toks[i + 2..end].to_vec();
            check_rule_body(name, &body)?;
            rules.push((name.clone(), body));
            i = end + 1;
        }
        Ok(Grammar { rules })
    }

    fn rule(&self, name: &str) -> Option<&[Tok]> {
        self.rules
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// The terminals of one rule, in order.
    fn terminals_of(&self, name: &str) -> Vec<String> {
        self.rule(name)
            .unwrap_or_else(|| panic!("grammar/portcullis.ebnf has no rule '{name}'"))
            .iter()
            .filter_map(|t| match t {
                Tok::Terminal(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Checks a rule's right-hand side: balanced brackets, operators between
/// operands, no operator at either end of a group.
fn check_rule_body(name: &str, body: &[Tok]) -> Result<(), String> {
    let mut stack: Vec<char> = Vec::new();
    // Whether the previous token ended an operand (so an operator may follow).
    let mut after_operand = false;
    for t in body {
        match t {
            Tok::Ident(_) | Tok::Terminal(_) | Tok::Special => {
                if after_operand {
                    return Err(format!(
                        "rule '{name}': two operands without ',' or '|' between them near {t:?}"
                    ));
                }
                after_operand = true;
            }
            Tok::Sym(open @ ('[' | '{' | '(')) => {
                if after_operand {
                    return Err(format!("rule '{name}': missing ',' before '{open}'"));
                }
                stack.push(*open);
            }
            Tok::Sym(close @ (']' | '}' | ')')) => {
                let want = match close {
                    ']' => '[',
                    '}' => '{',
                    _ => '(',
                };
                if stack.pop() != Some(want) {
                    return Err(format!("rule '{name}': unbalanced '{close}'"));
                }
                if !after_operand {
                    return Err(format!(
                        "rule '{name}': empty group or operator before '{close}'"
                    ));
                }
                after_operand = true;
            }
            Tok::Sym(op @ (',' | '|' | '-')) => {
                if !after_operand {
                    return Err(format!("rule '{name}': '{op}' without a left operand"));
                }
                after_operand = false;
            }
            Tok::Sym(other) => return Err(format!("rule '{name}': unexpected '{other}'")),
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("rule '{name}': unclosed '{open}'"));
    }
    if !after_operand {
        return Err(format!("rule '{name}': ends with an operator or is empty"));
    }
    Ok(())
}

fn grammar() -> Grammar {
    Grammar::parse(&read("grammar/portcullis.ebnf"))
        .unwrap_or_else(|e| panic!("grammar/portcullis.ebnf: {e}"))
}

/// Rules nothing refers to: the start symbols of the grammar's parts.
const EBNF_ROOTS: &[&str] = &[
    "configuration",
    "line sequence",
    "condition text",
    "file sections",
    "crt list file",
];

#[test]
fn ebnf_is_well_formed() {
    let g = grammar();
    let mut problems = String::new();
    let mut defined = BTreeSet::new();
    for (name, _) in &g.rules {
        if !defined.insert(name.as_str()) {
            let _ = writeln!(problems, "rule '{name}' is defined twice");
        }
    }
    let mut used = BTreeSet::new();
    for (name, body) in &g.rules {
        for t in body {
            if let Tok::Ident(r) = t {
                used.insert(r.as_str());
                if !defined.contains(r.as_str()) {
                    let _ = writeln!(problems, "rule '{name}' uses '{r}', which is not defined");
                }
            }
        }
    }
    for name in &defined {
        if !used.contains(name) && !EBNF_ROOTS.contains(name) {
            let _ = writeln!(problems, "rule '{name}' is defined but never used");
        }
    }
    assert!(problems.is_empty(), "grammar/portcullis.ebnf:\n{problems}");
}

/// Whether the token stream holds the terminals `words` in a row, joined by
/// `,` (`"timeout" , "client"`).
fn has_terminal_sequence(g: &Grammar, words: &[&str]) -> bool {
    g.rules.iter().any(|(_, body)| {
        body.windows(words.len() * 2 - 1).any(|win| {
            win.iter().enumerate().all(|(i, t)| {
                if i % 2 == 1 {
                    *t == Tok::Sym(',')
                } else {
                    matches!(t, Tok::Terminal(s) if words.get(i / 2) == Some(&s.as_str()))
                }
            })
        })
    })
}

#[test]
fn ebnf_mentions_every_keyword_of_the_table() {
    let g = grammar();
    let missing: Vec<String> = TABLE
        .iter()
        .filter(|k| {
            let words: Vec<&str> = k.name.split(' ').collect();
            !has_terminal_sequence(&g, &words)
        })
        .map(|k| {
            let quoted: Vec<String> = k.name.split(' ').map(|w| format!("\"{w}\"")).collect();
            format!(
                "  {} ({}): write it as {}",
                k.name,
                k.context.describe(),
                quoted.join(" , ")
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "grammar/portcullis.ebnf does not mention these keywords of src/config/keywords.rs (outside comments):\n{}",
        missing.join("\n")
    );
}

#[test]
fn ebnf_lists_exactly_the_supported_names() {
    let g = grammar();
    let checks: [(&str, Vec<String>); 4] = [
        (
            "fetch name",
            strings(expr::supported_fetches().iter().copied()),
        ),
        (
            "converter name",
            strings(expr::supported_converters().iter().copied()),
        ),
        ("log alias", strings(LogAlias::names())),
        (
            "predefined acl",
            strings(PredefinedAcl::ALL.iter().map(|p| p.name())),
        ),
    ];
    let mut problems = String::new();
    for (rule, expected) in checks {
        if let Some(d) = set_diff(
            &format!("rule '{rule}' of grammar/portcullis.ebnf"),
            &expected,
            &g.terminals_of(rule),
        ) {
            problems.push_str(&d);
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn ebnf_acl_keywords_expand_to_the_supported_acl_keywords() {
    let g = grammar();
    let bases = g.terminals_of("acl keyword base");
    let suffixes = g.terminals_of("acl keyword suffix");
    let mut names: Vec<String> = Vec::new();
    for b in &bases {
        names.push(b.clone());
        names.extend(suffixes.iter().map(|s| format!("{b}{s}")));
    }
    names.extend(
        g.terminals_of("acl keyword")
            .into_iter()
            .filter(|t| !bases.contains(t) && !suffixes.contains(t)),
    );
    let expected = strings(expr::supported_acl_keywords());
    if let Some(d) = set_diff(
        "ACL keywords described by rule 'acl keyword' of grammar/portcullis.ebnf",
        &expected,
        &names,
    ) {
        panic!("{d}");
    }
}

#[test]
fn ebnf_checker_rejects_broken_grammars() {
    // The checker itself must catch what it claims to catch.
    for (text, what) in [
        ("a = \"x\" ", "no terminating"),
        ("a = ( \"x\" ;", "unclosed"),
        ("a = \"x\" \"y\" ;", "two operands"),
        ("a = \"x\" , ;", "ends with an operator"),
        ("a = (* open comment ;", "unterminated comment"),
        ("a = [ ] ;", "empty group"),
    ] {
        match Grammar::parse(text) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => assert!(e.contains(what), "{text:?}: {e}"),
        }
    }
    let g = Grammar::parse("a = \"timeout\" , \"client\" | b ; (* \"x\" *) b = 'y' ;")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(has_terminal_sequence(&g, &["timeout", "client"]));
    assert!(!has_terminal_sequence(&g, &["client", "timeout"]));
    assert_eq!(g.terminals_of("b"), vec!["y".to_string()]);
}

// ---------------------------------------------------------------------------
// man/portcullis.cfg.5
// ---------------------------------------------------------------------------

/// One `.TP` entry of the man page: its tag line (as text) and its body.
struct ManEntry {
    section: String,
    subsection: String,
    tag: String,
    body: String,
}

/// Splits macro arguments, honouring `"…"` quoting.
fn roff_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' | '\t' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            _ => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// Removes font changes and turns roff escapes into the characters a reader
/// sees.
fn roff_plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => {
                // \fB, \fI, \fR, \fP or \f(XX / \f[XX]
                match chars.next() {
                    Some('(') => {
                        chars.next();
                        chars.next();
                    }
                    Some('[') => {
                        for ch in chars.by_ref() {
                            if ch == ']' {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some('(') => {
                let name: String = [chars.next(), chars.next()].into_iter().flatten().collect();
                out.push_str(match name.as_str() {
                    "dq" => "\"",
                    "aq" => "'",
                    "em" => "—",
                    "bu" => "•",
                    _ => "?",
                });
            }
            Some('-') => out.push('-'),
            Some('e') | Some('\\') => out.push('\\'),
            Some(' ') => out.push(' '),
            Some('&') | Some('%') | Some('c') => {}
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The text of a tag line: macro arguments joined the way the macro prints
/// them (alternating-font macros join without spaces).
fn roff_line_text(line: &str) -> String {
    let Some(rest) = line.strip_prefix('.') else {
        return roff_plain(line);
    };
    let (mac, args) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    let args = roff_args(args);
    let joined = match mac {
        "BI" | "BR" | "IB" | "IR" | "RB" | "RI" => args.concat(),
        _ => args.join(" "),
    };
    roff_plain(&joined)
}

/// Every `.TP` entry of the page, with the `.SH` / `.SS` it belongs to.
fn man_entries(text: &str) -> Vec<ManEntry> {
    let mut out: Vec<ManEntry> = Vec::new();
    let mut section = String::new();
    let mut subsection = String::new();
    let mut lines = text.lines().peekable();
    let mut current: Option<ManEntry> = None;
    while let Some(line) = lines.next() {
        let request = line.split_whitespace().next().unwrap_or("");
        match request {
            ".SH" | ".SS" | ".TP" => {
                if let Some(e) = current.take() {
                    out.push(e);
                }
                let title = roff_plain(&roff_args(line.get(3..).unwrap_or("")).join(" "));
                if request == ".SH" {
                    section = title;
                    subsection.clear();
                } else if request == ".SS" {
                    subsection = title;
                } else {
                    let tag = lines.next().map(roff_line_text).unwrap_or_default();
                    current = Some(ManEntry {
                        section: section.clone(),
                        subsection: subsection.clone(),
                        tag: tag.trim().to_string(),
                        body: String::new(),
                    });
                }
            }
            // A new paragraph ends the entry; .RS/.IP inside an entry do not.
            ".PP" | ".LP" | ".P" => {
                if let Some(e) = current.take() {
                    out.push(e);
                }
            }
            _ => {
                if let Some(e) = current.as_mut() {
                    e.body.push_str(&roff_line_text(line));
                    e.body.push('\n');
                }
            }
        }
    }
    if let Some(e) = current {
        out.push(e);
    }
    out
}

/// The keyword an entry documents: the longest name of `names` that starts
/// the tag and is followed by a blank, `(` or the end.
fn entry_keyword<'a>(tag: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .filter(|n| {
            tag.strip_prefix(**n)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '(']))
        })
        .max_by_key(|n| n.len())
        .copied()
}

#[test]
fn man_page_documents_exactly_the_keyword_table() {
    let text = read("man/portcullis.cfg.5");
    let entries = man_entries(&text);
    let mut problems = String::new();
    let mut by_context: BTreeMap<&str, Vec<&ManEntry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.section == "KEYWORDS") {
        match context_named(&e.subsection) {
            Some(c) => by_context.entry(c.describe()).or_default().push(e),
            None => {
                let _ = writeln!(
                    problems,
                    "KEYWORDS: entry '{}' is under '.SS {}', which names no context (expected one of: {})",
                    e.tag,
                    e.subsection,
                    contexts()
                        .iter()
                        .map(|c| c.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    for context in contexts() {
        let label = context.describe();
        let table: Vec<&Keyword> = TABLE.iter().filter(|k| k.context == context).collect();
        let names: Vec<&str> = table.iter().map(|k| k.name).collect();
        let documented = by_context.get(label).cloned().unwrap_or_default();
        if documented.is_empty() {
            let _ = writeln!(
                problems,
                "no '.SS {}' subsection (or it has no .TP entries) under KEYWORDS",
                capitalise(label)
            );
        }
        let mut found = Vec::new();
        for e in &documented {
            match entry_keyword(&e.tag, &names) {
                Some(n) => {
                    found.push(n.to_string());
                    let k = table.iter().find(|k| k.name == n);
                    if k.is_some_and(|k| k.status == Status::Extension)
                        && !e.body.contains("extension")
                    {
                        let _ = writeln!(
                            problems,
                            "{label}: '{n}' is a portcullis extension; its entry must say so (the word 'extension')"
                        );
                    }
                }
                None => {
                    let _ = writeln!(
                        problems,
                        "{label}: entry '{}' documents no keyword of the table",
                        e.tag
                    );
                }
            }
        }
        if let Some(d) = set_diff(
            &format!("man/portcullis.cfg.5, '{}'", capitalise(label)),
            &strings(names.iter().copied()),
            &found,
        ) {
            problems.push_str(&d);
        }
    }
    assert!(
        problems.is_empty(),
        "man/portcullis.cfg.5 disagrees with src/config/keywords.rs:\n{problems}"
    );
}

#[test]
fn man_page_documents_exactly_the_supported_fetches_and_converters() {
    let text = read("man/portcullis.cfg.5");
    let entries = man_entries(&text);
    let name_of = |tag: &str| -> String { tag.split(['(', ' ']).next().unwrap_or("").to_string() };
    let mut problems = String::new();
    let checks: [(&str, Vec<String>); 2] = [
        (
            "Sample fetches",
            strings(expr::supported_fetches().iter().copied()),
        ),
        (
            "Converters",
            strings(expr::supported_converters().iter().copied()),
        ),
    ];
    for (sub, expected) in checks {
        let found: Vec<String> = entries
            .iter()
            .filter(|e| e.section == "SAMPLE FETCHES AND CONVERTERS" && e.subsection == sub)
            .map(|e| name_of(&e.tag))
            .collect();
        if let Some(d) = set_diff(&format!("man/portcullis.cfg.5, '{sub}'"), &expected, &found) {
            problems.push_str(&d);
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn man_parser_reads_tags_as_a_reader_sees_them() {
    assert_eq!(roff_line_text(".BI nbthread \" n\""), "nbthread n");
    assert_eq!(roff_line_text(".B option httplog"), "option httplog");
    assert_eq!(
        roff_line_text(".BR verify \" \" none | optional | required"),
        "verify none|optional|required"
    );
    assert_eq!(
        roff_line_text(".BI set\\-var( var ) \" expression\""),
        "set-var(var) expression"
    );
    assert_eq!(
        roff_line_text(".BI \"tcp\\-request connection\" \" action\""),
        "tcp-request connection action"
    );
    let names = ["ssl", "ssl-min-ver", "set-var"];
    assert_eq!(
        entry_keyword("ssl-min-ver version", &names),
        Some("ssl-min-ver")
    );
    assert_eq!(entry_keyword("ssl", &names), Some("ssl"));
    assert_eq!(
        entry_keyword("set-var(var) expression", &names),
        Some("set-var")
    );
    assert_eq!(entry_keyword("sslx", &names), None);
}
