//! Words: the unit the lexer hands to the parser and everything after it.
//!
//! A [`Word`] is one HAProxy argument after quote removal, escape processing and
//! environment expansion, still carrying the span of its raw text so any later
//! stage can point at it.

use crate::diag::Span;
use serde::Serialize;

/// One argument of a configuration line, after HAProxy's quoting rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Word {
    /// The processed text (quotes removed, escapes and `${VAR}` applied).
    pub text: String,
    /// Where the raw word sits in its file.
    pub span: Span,
    /// True when any part of the word was quoted: `"a b"` and `a\ b` are one word,
    /// and a quoted empty word ends the argument list as in HAProxy.
    pub quoted: bool,
}

impl Word {
    /// The processed text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The span of bytes `start..end` of [`Word::text`]: exact when the word was
    /// written plainly (no quotes, escapes or variables), the whole word otherwise.
    /// Lets expression errors put the caret under the faulty fetch inside a word.
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        let raw_len = (self.span.end - self.span.start) as usize;
        if !self.quoted && raw_len == self.text.len() && start <= end && end <= self.text.len() {
            Span {
                file: self.span.file,
                start: self.span.start + start as u32,
                end: self.span.start + end as u32,
            }
        } else {
            self.span
        }
    }
}

/// One logical configuration line: its words and the span of the whole line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub words: Vec<Word>,
    /// From the first to the last word.
    pub span: Span,
}

impl Line {
    /// The first word (the keyword); lines are never empty.
    pub fn keyword(&self) -> &Word {
        &self.words[0]
    }
}
