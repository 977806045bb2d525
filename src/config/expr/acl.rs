//! ACL criteria: `<fetch>[,conv…] [flags] [operator] [pattern…]`, as in
//! HAProxy 2.6's `parse_acl_expr` (`acl.c`) and the pattern parsers of
//! `pattern.c`.
//!
//! The match method is implied by an ACL keyword (`path_beg`), forced with
//! `-m`, or chosen from the sample type (bool, int, ip, str; binary and `any`
//! need `-m`). Patterns are parsed to their typed form here, including those
//! read from `-f` files, so a bad pattern is a check-time error.

use super::fetches::{self, Class, Implied};
use super::sample::{self, Site, usable_in};
use super::{DiagExt, ExprCtx, Stage, sub_span};
use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::ir::expr::{
    AclTerm, HttpMethod, IntRange, IpNet, Matcher, Mode, RegexSrc, SampleType, StrMatch, StrPattern,
};
use patterns::{load_file, operator_range, parse_pattern, pattern_help};

/// Where a criterion comes from (changes the wording of warnings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An `acl <name>` line.
    Declared,
    /// `{ … }` inside a condition.
    Anonymous,
}

/// Match methods before patterns are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Found,
    Bool,
    Int,
    Len,
    Ip,
    Bin,
    Str(StrMatch),
    Reg,
    Method,
    AuthGroup,
    /// Integers written `major.minor` (`req_ssl_ver 3.1`, HAProxy's
    /// `pat_parse_dotted_ver`).
    DottedVer,
}

impl Kind {
    /// The `-m` names of HAProxy 2.6 (`regm` behaves as `reg` in an ACL).
    const NAMES: [&'static str; 14] = [
        "found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dir", "dom", "end",
        "reg", "regm",
    ];

    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "found" => Kind::Found,
            "bool" => Kind::Bool,
            "int" => Kind::Int,
            "ip" => Kind::Ip,
            "bin" => Kind::Bin,
            "len" => Kind::Len,
            "str" => Kind::Str(StrMatch::Exact),
            "beg" => Kind::Str(StrMatch::Prefix),
            "sub" => Kind::Str(StrMatch::Substring),
            "dir" => Kind::Str(StrMatch::Dir),
            "dom" => Kind::Str(StrMatch::Dom),
            "end" => Kind::Str(StrMatch::Suffix),
            "reg" | "regm" => Kind::Reg,
            _ => return None,
        })
    }

    /// The type the sample must be castable to (`pat_match_types`).
    fn expected(self) -> SampleType {
        match self {
            Kind::Found | Kind::Bool | Kind::Int | Kind::DottedVer => SampleType::Int,
            Kind::Ip => SampleType::Addr,
            Kind::Bin => SampleType::Bin,
            Kind::Method => SampleType::Meth,
            Kind::Len | Kind::Str(_) | Kind::Reg | Kind::AuthGroup => SampleType::Str,
        }
    }

    /// Default method for a sample type, if it has one.
    fn default_for(t: SampleType) -> Option<Kind> {
        match t {
            SampleType::Bool => Some(Kind::Bool),
            SampleType::Int => Some(Kind::Int),
            SampleType::Addr | SampleType::Ipv4 | SampleType::Ipv6 => Some(Kind::Ip),
            SampleType::Str => Some(Kind::Str(StrMatch::Exact)),
            SampleType::Any | SampleType::Bin | SampleType::Meth => None,
        }
    }

    fn takes_int_operators(self) -> bool {
        matches!(self, Kind::Int | Kind::Len | Kind::DottedVer)
    }
}

/// Typed patterns accumulated for one criterion.
enum Pat {
    Range(IntRange),
    Ip(IpNet),
    Bin(Vec<u8>),
    Str(StrPattern),
    Reg(RegexSrc),
    Method(HttpMethod),
    Group(String),
    Ignored,
}

/// Parses a criterion; reports problems into `diags` and returns `None` on error.
pub(crate) fn parse_criterion(
    words: &[Word],
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
    origin: Origin,
) -> Option<AclTerm> {
    let Some(first) = words.first() else {
        diags.push(Diagnostic::error(format!(
            "missing ACL criterion in {}",
            ctx.context
        )));
        return None;
    };
    let parsed = match sample::parse_at(first, 0, Site::Acl, ctx, diags) {
        Ok(p) => p,
        Err(e) => {
            diags.push(e.into_diag(first, ctx));
            return None;
        }
    };
    if !parsed.class.available_at(ctx.stage) {
        let who = match origin {
            Origin::Declared => "ACL",
            Origin::Anonymous => "anonymous ACL",
        };
        diags.push(never_matches(
            who,
            &parsed.sample.keyword,
            parsed.class,
            ctx,
            sub_span(first, &parsed.fetch_at),
        ));
    }
    if ctx.mode == Mode::Http && parsed.class == Class::L6Request {
        diags.push(l6_in_http(
            &parsed.sample.keyword,
            ctx,
            sub_span(first, &parsed.fetch_at),
        ));
    }
    let kw = parsed.sample.keyword.clone();
    let out_type = parsed.sample.out_type;
    let kind = match parsed.implied.map(|k| k.implied) {
        Some(Implied::Str(m)) => Some(Kind::Str(m)),
        Some(Implied::Len) => Some(Kind::Len),
        Some(Implied::Reg) => Some(Kind::Reg),
        Some(Implied::Method) => Some(Kind::Method),
        Some(Implied::AuthGroup) => Some(Kind::AuthGroup),
        Some(Implied::Bin) => Some(Kind::Bin),
        Some(Implied::DottedVer) => Some(Kind::DottedVer),
        None => Kind::default_for(out_type),
    };
    if kind.is_some() && out_type != SampleType::Bool && words.len() == 1 {
        diags.push(
            Diagnostic::warning(format!(
                "no pattern to match against was provided for '{kw}' in {}, so this ACL will never match",
                ctx.context
            ))
            .at(first.span)
            .help("add patterns; use '-m found' to test for existence, '-m bool' to test a number as a boolean, or '--' if this is intended"),
        );
    }

    let mut st = State {
        kind,
        ignore_case: false,
        map_file: false,
        loaded: false,
        patterns: Vec::new(),
        ignored: Vec::new(),
    };
    let mut i = 1;
    let mut failed = false;
    while let Some(w) = words.get(i) {
        if !w.text.starts_with('-') {
            break;
        }
        let next = words.get(i + 1);
        let err = |msg: String| Diagnostic::error(format!("{msg} in {}", ctx.context)).at(w.span);
        match w.text.as_str() {
            "-i" => st.ignore_case = true,
            "-n" => {}
            "-M" => st.map_file = true,
            "--" => {
                i += 1;
                break;
            }
            "-u" => {
                if next.and_then(|n| n.text.parse::<i64>().ok()).is_none() {
                    diags.push(
                        err("the argument of -u must be an integer".into())
                            .at(next.map_or(w.span, |n| n.span)),
                    );
                    return None;
                }
                i += 1;
            }
            "-m" => {
                let Some(name) = next else {
                    diags.push(
                        err("missing matching method after '-m'".into())
                            .help(format!("methods: {}", Kind::NAMES.join(", "))),
                    );
                    return None;
                };
                if st.loaded {
                    diags.push(
                        err("'-m' must only be specified before patterns and files".into())
                            .help("move '-m <method>' before '-f <file>'"),
                    );
                    return None;
                }
                let Some(k) = Kind::from_name(&name.text) else {
                    let mut d = Diagnostic::error(format!(
                        "unknown matching method '{}' when parsing ACL expression in {}",
                        name.text, ctx.context
                    ))
                    .at(name.span);
                    d = match did_you_mean(&name.text, Kind::NAMES) {
                        Some(s) => d.help(format!("did you mean '{s}'?")),
                        None => d.help(format!("methods: {}", Kind::NAMES.join(", "))),
                    };
                    diags.push(d);
                    return None;
                };
                if k != Kind::Found && !out_type.can_cast_to(k.expected()) {
                    diags.push(
                        Diagnostic::error(format!(
                            "matching method '{}' cannot be used with fetch keyword '{kw}' in {}",
                            name.text, ctx.context
                        ))
                        .at(name.span)
                        .help(format!(
                            "'{kw}' returns '{}', which cannot be matched as '{}'",
                            out_type.name(),
                            k.expected().name()
                        )),
                    );
                    return None;
                }
                st.kind = Some(k);
                i += 1;
            }
            "-f" => {
                let Some(k) = st.kind else {
                    diags.push(needs_method(first, &kw, out_type, ctx));
                    return None;
                };
                let Some(file) = next else {
                    diags.push(err("missing file name after '-f'".into()));
                    return None;
                };
                if !load_file(&mut st, k, file, ctx, diags) {
                    failed = true;
                }
                st.loaded = true;
                i += 1;
            }
            other => {
                diags.push(err(format!(
                    "'{other}' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"
                ))
                .help("options are -i, -f <file>, -m <method>, -n, -M, -u <id> and --"));
                return None;
            }
        }
        i += 1;
    }
    let Some(kind) = st.kind else {
        diags.push(needs_method(first, &kw, out_type, ctx));
        return None;
    };
    if !inline_patterns(&mut st, kind, words.get(i..).unwrap_or(&[]), ctx, diags) {
        failed = true;
    }
    if failed {
        return None;
    }
    if !st.ignored.is_empty() {
        diags.push(ignored_patterns(&kw, kind, &st.ignored, ctx));
    }
    let last = words.last().map_or(first.span, |w| w.span);
    Some(AclTerm {
        sample: parsed.sample,
        matcher: matcher(kind, st.patterns, st.ignore_case),
        span: first.span.to(last),
    })
}

/// Option state while reading a criterion.
struct State {
    kind: Option<Kind>,
    ignore_case: bool,
    map_file: bool,
    loaded: bool,
    patterns: Vec<Pat>,
    /// Spans of patterns a boolean / found match ignores.
    ignored: Vec<Span>,
}

/// "will never match" warning for a criterion used where its fetch is unavailable.
pub(crate) fn never_matches(
    who: &str,
    kw: &str,
    class: Class,
    ctx: &ExprCtx,
    span: Span,
) -> Diagnostic {
    Diagnostic::warning(format!(
        "{who} will never match in {} because it uses keyword '{kw}' which is not available in {}",
        ctx.context,
        ctx.stage.describe()
    ))
    .at(span)
    .label(format!("needs '{}'", class.needs()))
    .help(usable_in(class))
}

/// HAProxy: "L6 sample fetches ignored on HTTP proxies" — raw-buffer fetches
/// see nothing once the request has been parsed as HTTP.
pub(crate) fn l6_in_http(kw: &str, ctx: &ExprCtx, span: Span) -> Diagnostic {
    Diagnostic::warning(format!(
        "L6 sample fetch '{kw}' is ignored in 'mode http' proxies, in {}",
        ctx.context
    ))
    .at(span)
    .label("reads the raw request buffer")
    .help("in 'mode http' use 'ssl_fc_sni' for the TLS SNI or 'req.hdr(host)' for the Host header")
}

/// Warns when a named ACL is used where one of its criteria can never be
/// evaluated (HAProxy: "acl 'x' will never match in …"). Lowering calls this
/// for each named ACL a condition refers to, with the ACL's terms.
pub fn check_named_acl_use(
    name: &str,
    terms: &[AclTerm],
    ctx: &ExprCtx,
    at: Span,
    diags: &mut Diagnostics,
) {
    if let Some(term) = terms
        .iter()
        .find(|t| !fetches::class_of(&t.sample.fetch).available_at(ctx.stage))
    {
        let class = fetches::class_of(&term.sample.fetch);
        diags.push(never_matches(
            &format!("acl '{name}'"),
            &term.sample.keyword,
            class,
            ctx,
            at,
        ));
    }
}

fn needs_method(first: &Word, kw: &str, out_type: SampleType, ctx: &ExprCtx) -> Diagnostic {
    let help = match out_type {
        SampleType::Bin => format!(
            "binary fetch needs -m: write '{kw} -m bin <hex>', or compare text with '{kw},hex -m str <HEX>'"
        ),
        SampleType::Meth => format!("write '{kw} -m str <value>'"),
        _ => format!("'{kw}' has no fixed type: add '-m str', '-m int', '-m found'…"),
    };
    Diagnostic::error(format!(
        "matching method must be specified first (using '-m') when using a sample fetch of this type ('{kw}') in {}",
        ctx.context
    ))
    .at(first.span)
    .label(format!("returns '{}'", out_type.name()))
    .help(help)
}

fn ignored_patterns(kw: &str, kind: Kind, ignored: &[Span], ctx: &ExprCtx) -> Diagnostic {
    let span = match (ignored.first(), ignored.last()) {
        (Some(a), Some(b)) => a.to(*b),
        _ => Span {
            file: crate::diag::FileId(0),
            start: 0,
            end: 0,
        },
    };
    let msg = if kind == Kind::Found {
        format!(
            "'-m found' takes no patterns: the words after '{kw}' are ignored in {}",
            ctx.context
        )
    } else {
        format!(
            "'{kw}' is a boolean criterion: the words after it are ignored in {}",
            ctx.context
        )
    };
    Diagnostic::warning(msg)
        .at(span)
        .label("ignored")
        .help("one criterion per acl line: `acl has_cert ssl_c_used` then `acl cert_ok ssl_c_verify 0`, and `if has_cert cert_ok`")
}

fn inline_patterns(
    st: &mut State,
    kind: Kind,
    words: &[Word],
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> bool {
    let is_op =
        |t: &str| kind.takes_int_operators() && matches!(t, "eq" | "ge" | "gt" | "le" | "lt");
    let mut op = "eq";
    let mut ok = true;
    for w in words {
        let text = w.text.as_str();
        if is_op(text) {
            op = if text == "eq" { "eq" } else { text };
            continue;
        }
        let pat = if kind.takes_int_operators() && op != "eq" && !text.contains([':', '-']) {
            operator_range(op, text, kind)
        } else {
            parse_pattern(kind, text, st.ignore_case)
        };
        match pat {
            Ok(Pat::Ignored) => st.ignored.push(w.span),
            Ok(p) => st.patterns.push(p),
            Err(msg) => {
                diags.push(
                    Diagnostic::error(format!("{msg} in {}", ctx.context))
                        .at(w.span)
                        .help_opt(pattern_help(kind, text)),
                );
                ok = false;
            }
        }
    }
    if let Some(last) = words.last().filter(|w| is_op(&w.text)) {
        diags.push(
            Diagnostic::error(format!(
                "operator '{}' is not followed by a value in {}",
                last.text, ctx.context
            ))
            .at(last.span)
            .help(format!("write e.g. '{} 0'", last.text)),
        );
        ok = false;
    }
    ok
}

fn matcher(kind: Kind, patterns: Vec<Pat>, ignore_case: bool) -> Matcher {
    macro_rules! collect {
        ($variant:ident) => {
            patterns
                .into_iter()
                .filter_map(|p| match p {
                    Pat::$variant(v) => Some(v),
                    _ => None,
                })
                .collect()
        };
    }
    match kind {
        Kind::Found => Matcher::Found,
        Kind::Bool => Matcher::Bool,
        Kind::Int | Kind::DottedVer => Matcher::Int(collect!(Range)),
        Kind::Len => Matcher::Len(collect!(Range)),
        Kind::Ip => Matcher::Ip(collect!(Ip)),
        Kind::Bin => Matcher::Bin(collect!(Bin)),
        Kind::Str(m) => Matcher::Str {
            kind: m,
            patterns: collect!(Str),
        },
        Kind::Reg => Matcher::Reg(collect!(Reg)),
        Kind::Method => Matcher::Method {
            methods: collect!(Method),
            ignore_case,
        },
        Kind::AuthGroup => Matcher::AuthGroup(collect!(Group)),
    }
}

/// Whether `stage` can evaluate this class; re-exported for conditions.
pub(crate) fn available(class: Class, stage: Stage) -> bool {
    class.available_at(stage)
}

#[path = "acl_patterns.rs"]
mod patterns;

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;

/// Parses one key of a map file with the ACL pattern parser of its match
/// method (maps have no `-i`).
pub(crate) fn parse_map_key(
    m: crate::ir::expr::MapMatch,
    text: &str,
) -> Result<crate::ir::expr::MapKey, String> {
    use crate::ir::expr::{MapKey, MapMatch};
    let kind = match m {
        MapMatch::Str(s) => Kind::Str(s),
        MapMatch::Reg | MapMatch::Regm => Kind::Reg,
        MapMatch::Ip => Kind::Ip,
        MapMatch::Int => Kind::Int,
    };
    Ok(match parse_pattern(kind, text, false)? {
        Pat::Str(p) => MapKey::Str(p),
        Pat::Reg(r) => MapKey::Reg(r),
        Pat::Ip(n) => MapKey::Ip(n),
        Pat::Range(r) => MapKey::Int(r),
        _ => return Err(format!("'{text}' is not a valid key")),
    })
}
