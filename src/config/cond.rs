//! `.if` / `.elif` conditions (HAProxy 2.6 `cfgcond.c`), parsed with nom.
//!
//! Used by the lexer to decide which lines are active. Grammar (see
//! `grammar/portcullis.ebnf`): `expr = and { "||" and }`, `and = term { "&&" term }`,
//! `term = { "!" } ( "(" expr ")" | pred "(" args ")" | integer )`; an empty
//! condition is false. portcullis answers version questions as the HAProxy
//! release it is compatible with, so configs written for 2.6 pick their 2.6 branch.

use super::lexer::EnvLookup;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{all_consuming, map, opt, recognize};
use nom::multi::{many0, separated_list0};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// The HAProxy version portcullis is compatible with (for `version_atleast`).
pub const COMPAT_VERSION: &str = "2.6.12";
/// The OpenSSL version whose feature set portcullis' TLS stack covers (for
/// `openssl_version_atleast`, used by configs to test TLS 1.3 support).
pub const COMPAT_OPENSSL_VERSION: &str = "3.0.0";
/// Build features reported by `feature()`: only what portcullis really has.
pub const FEATURES: &[&str] = &["OPENSSL", "LINUX_SPLICE", "THREAD", "TFO"];
/// TLS library name reported to `ssllib_name_startswith`.
pub const SSL_LIB_NAME: &str = "rustls";

/// Help shown with condition errors.
pub const HELP: &str = "conditions are integers, defined(VAR), feature(F), streq(a,b), strneq(a,b), version_atleast(V), version_before(V), openssl_version_atleast(V), openssl_version_before(V), ssllib_name_startswith(S), combined with !, &&, || and parentheses";

#[derive(Debug, Clone)]
enum Cond {
    Int(i64),
    Pred(String, Vec<String>),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// Evaluates a condition; the error text says what could not be understood.
pub fn evaluate(text: &str, env: EnvLookup) -> Result<bool, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(false);
    }
    let (_, cond) = all_consuming(ws(or_expr))
        .parse(text)
        .map_err(|_| format!("unparsable conditional expression '{text}'"))?;
    eval(&cond, env)
}

fn ws<'a, O, P>(inner: P) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>
where
    P: Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
{
    delimited(multispace0, inner, multispace0)
}

fn or_expr(i: &str) -> IResult<&str, Cond> {
    let (i, first) = and_expr(i)?;
    let (i, rest) = many0(preceded(ws(tag("||")), and_expr)).parse(i)?;
    Ok((
        i,
        rest.into_iter()
            .fold(first, |a, b| Cond::Or(Box::new(a), Box::new(b))),
    ))
}

fn and_expr(i: &str) -> IResult<&str, Cond> {
    let (i, first) = term(i)?;
    let (i, rest) = many0(preceded(ws(tag("&&")), term)).parse(i)?;
    Ok((
        i,
        rest.into_iter()
            .fold(first, |a, b| Cond::And(Box::new(a), Box::new(b))),
    ))
}

fn term(i: &str) -> IResult<&str, Cond> {
    ws(alt((
        map(preceded(char('!'), term), |c| Cond::Not(Box::new(c))),
        delimited(char('('), or_expr, char(')')),
        predicate,
        map(recognize((opt(char('-')), digit1)), |s: &str| {
            Cond::Int(s.parse().unwrap_or(i64::MAX))
        }),
    )))
    .parse(i)
}

fn predicate(i: &str) -> IResult<&str, Cond> {
    let (i, name) = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_')(i)?;
    let (i, args) =
        delimited(char('('), separated_list0(char(','), argument), char(')')).parse(i)?;
    Ok((i, Cond::Pred(name.to_string(), args)))
}

/// One predicate argument: quoted (single or double) or bare up to `,` / `)`.
fn argument(i: &str) -> IResult<&str, String> {
    ws(alt((
        map(
            delimited(char('"'), take_while(|c| c != '"'), char('"')),
            String::from,
        ),
        map(
            delimited(char('\''), take_while(|c| c != '\''), char('\'')),
            String::from,
        ),
        map(take_while(|c| c != ',' && c != ')'), |s: &str| {
            s.trim().to_string()
        }),
    )))
    .parse(i)
}

fn eval(c: &Cond, env: EnvLookup) -> Result<bool, String> {
    Ok(match c {
        Cond::Int(n) => *n != 0,
        Cond::Not(c) => !eval(c, env)?,
        Cond::And(a, b) => eval(a, env)? && eval(b, env)?,
        Cond::Or(a, b) => eval(a, env)? || eval(b, env)?,
        Cond::Pred(name, args) => predicate_value(name, args, env)?,
    })
}

fn predicate_value(name: &str, args: &[String], env: EnvLookup) -> Result<bool, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "'{name}' expects {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    match name {
        "defined" => {
            want(1)?;
            Ok(env(&args[0]).is_some())
        }
        "feature" => {
            want(1)?;
            Ok(FEATURES.contains(&args[0].as_str()))
        }
        "streq" => {
            want(2)?;
            Ok(args[0] == args[1])
        }
        "strneq" => {
            want(2)?;
            Ok(args[0] != args[1])
        }
        "version_atleast"
        | "version_before"
        | "openssl_version_atleast"
        | "openssl_version_before" => {
            want(1)?;
            let ours = if name.starts_with("openssl") {
                COMPAT_OPENSSL_VERSION
            } else {
                COMPAT_VERSION
            };
            let theirs = parse_version(&args[0])
                .ok_or_else(|| format!("invalid version '{}' in '{name}'", args[0]))?;
            let atleast = parse_version(ours).unwrap_or_default() >= theirs;
            Ok(if name.ends_with("atleast") {
                atleast
            } else {
                !atleast
            })
        }
        "ssllib_name_startswith" => {
            want(1)?;
            Ok(SSL_LIB_NAME.starts_with(args[0].as_str()))
        }
        _ => Err(format!("unknown conditional predicate '{name}'")),
    }
}

/// `2.6.12` → `[2, 6, 12, 0]`; trailing text such as `-dev` is ignored like HAProxy.
fn parse_version(v: &str) -> Option<[u32; 4]> {
    let mut out = [0u32; 4];
    let numeric: &str = v
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    if numeric.is_empty() {
        return None;
    }
    for (slot, part) in out.iter_mut().zip(numeric.split('.')) {
        *slot = if part.is_empty() {
            0
        } else {
            part.parse().ok()?
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<bool, String> {
        let env = |n: &str| (n == "SET").then(|| "1".to_string());
        evaluate(s, &env)
    }

    #[test]
    fn evaluates_2_6_predicates() {
        assert_eq!(ev(""), Ok(false));
        assert_eq!(ev("0"), Ok(false));
        assert_eq!(ev("42"), Ok(true));
        assert_eq!(ev("defined(SET)"), Ok(true));
        assert_eq!(ev("defined(UNSET)"), Ok(false));
        assert_eq!(ev("streq(a,a) && strneq(a,b)"), Ok(true));
        assert_eq!(ev("!streq(a , a) || 0"), Ok(false));
        assert_eq!(ev("version_atleast(2.5)"), Ok(true));
        assert_eq!(ev("version_atleast(2.7-dev0)"), Ok(false));
        assert_eq!(ev("version_before(3.0)"), Ok(true));
        assert_eq!(ev("openssl_version_atleast(1.1.1)"), Ok(true));
        assert_eq!(ev("feature(OPENSSL) && !feature(QUIC)"), Ok(true));
        assert_eq!(ev("ssllib_name_startswith(OpenSSL)"), Ok(false));
        assert_eq!(ev("(0 || 1) && !(0)"), Ok(true));
        assert_eq!(ev("1 || 0 && 0"), Ok(true));
        assert_eq!(ev("streq(\"a b\",'a b')"), Ok(true));
    }

    #[test]
    fn rejects_garbage() {
        assert!(ev("bogus(1)").is_err());
        assert!(ev("defined(A").is_err());
        assert!(ev("1 &&").is_err());
        assert!(ev("streq(a)").is_err());
        assert!(ev("version_atleast(abc)").is_err());
    }
}
