//! Tokens inside one word of a sample expression: keyword names and the
//! parenthesised argument lists of fetches and converters.
//!
//! Follows HAProxy 2.6's `is_idchar` and `make_arg_list` (`arg.c`): names are
//! letters, digits and `._-+:`; arguments are separated by `,` and end at `)`,
//! and inside them `"…"` and `'…'` quote, and `\` escapes `\ ' " space` and
//! makes `\r \n \t` (any other backslash is kept as is). Offsets are byte
//! positions in the text being parsed so errors can point inside the word.

use super::{ExprError, ExprErrorKind};
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{take_till, take_till1, take_while};
use nom::character::complete::{anychar, char};
use nom::combinator::{map, opt};
use std::ops::Range;

/// HAProxy's keyword characters.
pub(crate) fn is_idchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':')
}

/// One argument as written, after quote and escape processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawArg {
    pub text: String,
    /// Where the argument sits in the parsed text.
    pub at: Range<usize>,
}

/// A keyword with its optional argument list: `name` or `name(a,b)`.
#[derive(Clone, Debug)]
pub(crate) struct Call<'t> {
    pub name: &'t str,
    pub name_at: Range<usize>,
    /// `None` without parentheses; `name()` holds one empty argument, as in
    /// HAProxy (it is an empty string for string arguments).
    pub args: Option<Vec<RawArg>>,
    /// From the name to the closing parenthesis (or the end of the name).
    pub at: Range<usize>,
}

/// Parses a keyword and its arguments starting at byte `start` of `text`;
/// returns the call and the offset just after it.
pub(crate) fn call(text: &str, start: usize) -> Result<(Call<'_>, usize), ExprError> {
    let input = text.get(start..).unwrap_or("");
    let name = keyword(input);
    let name_end = start + name.len();
    let after = text.get(name_end..).unwrap_or("");
    if !after.starts_with('(') {
        let call = Call {
            name,
            name_at: start..name_end,
            args: None,
            at: start..name_end,
        };
        return Ok((call, name_end));
    }
    let (args, end) = arg_list(text, name_end + 1, name)?;
    let call = Call {
        name,
        name_at: start..name_end,
        args: Some(args),
        at: start..end,
    };
    Ok((call, end))
}

/// The longest run of keyword characters at the start of `input`.
pub(crate) fn keyword(input: &str) -> &str {
    let parsed: IResult<&str, &str> = take_while(is_idchar)(input);
    parsed.map(|(_, name)| name).unwrap_or("")
}

/// Parses arguments from `start` (just after `(`) up to and including `)`.
fn arg_list(text: &str, start: usize, name: &str) -> Result<(Vec<RawArg>, usize), ExprError> {
    let mut args = Vec::new();
    let mut pos = start;
    loop {
        let rest = text.get(pos..).unwrap_or("");
        let (value, consumed) = match raw_arg(rest) {
            Ok((remaining, value)) => (value, rest.len() - remaining.len()),
            Err(_) => (ArgText::default(), 0),
        };
        if let Some(quote_at) = value.unterminated {
            return Err(ExprError::new(
                ExprErrorKind::UnterminatedQuote(name.to_string()),
                pos + quote_at..text.len(),
            ));
        }
        let end = pos + consumed;
        args.push(RawArg {
            text: value.text,
            at: pos..end,
        });
        match text.get(end..).and_then(|r| r.chars().next()) {
            Some(',') => pos = end + 1,
            Some(')') => return Ok((args, end + 1)),
            _ => {
                return Err(ExprError::new(
                    ExprErrorKind::MissingCloseParen(name.to_string()),
                    start.saturating_sub(1)..text.len(),
                ));
            }
        }
    }
}

/// The text of one argument, and where an unterminated quote started.
#[derive(Default)]
struct ArgText {
    text: String,
    unterminated: Option<usize>,
}

enum Piece<'a> {
    Text(&'a str),
    Owned(String),
    Char(char),
    /// A quote that never closes, at this offset in the argument.
    Unterminated,
}

/// One argument: pieces until an unquoted `,` or `)` or the end of the text.
fn raw_arg(input: &str) -> IResult<&str, ArgText> {
    let mut out = ArgText::default();
    let mut rest = input;
    while !rest.is_empty() && !rest.starts_with([',', ')']) {
        let offset = input.len() - rest.len();
        let (next, piece) = piece(rest)?;
        match piece {
            Piece::Text(t) => out.text.push_str(t),
            Piece::Owned(t) => out.text.push_str(&t),
            Piece::Char(c) => out.text.push(c),
            Piece::Unterminated => {
                out.unterminated = Some(offset);
                return Ok(("", out));
            }
        }
        rest = next;
    }
    Ok((rest, out))
}

fn piece(input: &str) -> IResult<&str, Piece<'_>> {
    alt((
        double_quoted,
        single_quoted,
        map(escape, Piece::Char),
        map(
            take_till1(|c| matches!(c, ',' | ')' | '"' | '\'' | '\\')),
            Piece::Text,
        ),
    ))
    .parse(input)
}

/// `\x`: the escaped character, or a lone backslash kept verbatim.
fn escape(input: &str) -> IResult<&str, char> {
    let (rest, _) = char('\\')(input)?;
    let escaped: IResult<&str, char> = anychar(rest);
    match escaped {
        Ok((after, c @ ('\\' | ' ' | '"' | '\''))) => Ok((after, c)),
        Ok((after, 'r')) => Ok((after, '\r')),
        Ok((after, 'n')) => Ok((after, '\n')),
        Ok((after, 't')) => Ok((after, '\t')),
        _ => Ok((rest, '\\')),
    }
}

/// `"…"`: escapes apply inside, `,` and `)` are literal.
fn double_quoted(input: &str) -> IResult<&str, Piece<'_>> {
    let (mut rest, _) = char('"')(input)?;
    let mut text = String::new();
    loop {
        if rest.is_empty() {
            return Ok(("", Piece::Unterminated));
        }
        if let Ok((after, _)) = char::<&str, nom::error::Error<&str>>('"')(rest) {
            return Ok((after, Piece::Owned(text)));
        }
        let (after, piece) = alt((
            map(escape, Piece::Char),
            map(take_till1(|c| c == '"' || c == '\\'), Piece::Text),
        ))
        .parse(rest)?;
        match piece {
            Piece::Char(c) => text.push(c),
            Piece::Text(t) => text.push_str(t),
            Piece::Owned(t) => text.push_str(&t),
            Piece::Unterminated => {}
        }
        rest = after;
    }
}

/// `'…'`: everything literal up to the closing quote.
fn single_quoted(input: &str) -> IResult<&str, Piece<'_>> {
    let (rest, _) = char('\'')(input)?;
    let (rest, body): (&str, &str) = take_till(|c| c == '\'')(rest)?;
    let closing: IResult<&str, Option<char>> = opt(char('\'')).parse(rest);
    match closing {
        Ok((after, Some(_))) => Ok((after, Piece::Text(body))),
        _ => Ok(("", Piece::Unterminated)),
    }
}
