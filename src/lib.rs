//! portcullis: a reverse proxy that reads HAProxy's configuration language and
//! makes mutual TLS first-class.
//!
//! The pipeline (see `design.md`):
//!
//! ```text
//! site.cfg ─lex─▶ lines of spanned words ─parse─▶ AST with spans
//!          ─lower (+ load PEM/CRL files)─▶ ir::Config ─build─▶ Generation ─▶ runtime
//! ```
//!
//! `portcullis check` runs everything up to the IR (and the TLS material it
//! loads); `portcullis run` goes on to the runtime.

pub mod config;
pub mod diag;
pub mod ir;
pub mod lua;
pub mod runtime;
pub mod tls;

use diag::{Diagnostics, SourceMap};

/// Checks configuration text held in memory, as `portcullis check` would check a
/// file of that name (files it references are read from disk relative to the
/// current directory). Never panics on any input: fuzzers and the mutation test
/// call this.
pub fn check_source(name: &str, text: &str) -> (SourceMap, Diagnostics) {
    let mut map = SourceMap::new();
    let file = map.add(name, text);
    let diags = config::check_files(&mut map, &[file]);
    (map, diags)
}
