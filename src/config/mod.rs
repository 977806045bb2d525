//! The configuration front end: text → words → sections → typed IR.
//!
//! `lexer` applies HAProxy 2.6's word rules and conditional blocks, `parser`
//! groups lines into sections (AST with spans), `keywords` is the table of what
//! each section accepts, `expr` parses sample expressions, ACL conditions and
//! log-format strings, and `lower` turns the AST into [`crate::ir::Config`],
//! loading every certificate, CA and CRL on the way.

pub mod ast;
pub mod cond;
pub mod crtlist;
pub mod expr;
pub mod haproxy26;
pub mod keywords;
pub mod lexer;
pub mod lower;
pub mod parser;
pub mod word;

use crate::diag::{Diagnostic, Diagnostics, FileId, SourceMap};
use crate::ir;
use std::path::{Path, PathBuf};

pub use lower::LowerOptions;

/// Reads configuration paths as HAProxy's `-f` does: a file, or a directory whose
/// non-hidden `*.cfg` files are loaded in lexical (byte) order. Files are
/// registered in `map`; unreadable paths become diagnostics.
pub fn load_paths(map: &mut SourceMap, paths: &[PathBuf], diags: &mut Diagnostics) -> Vec<FileId> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                        !name.starts_with('.') && name.ends_with(".cfg") && p.is_file()
                    })
                    .collect(),
                Err(e) => {
                    diags.push(Diagnostic::error(format!(
                        "cannot read configuration directory '{}': {e}",
                        path.display()
                    )));
                    continue;
                }
            };
            entries.sort();
            for e in entries {
                if let Some(id) = read_one(map, &e, diags) {
                    files.push(id);
                }
            }
        } else if let Some(id) = read_one(map, path, diags) {
            files.push(id);
        }
    }
    files
}

fn read_one(map: &mut SourceMap, path: &Path, diags: &mut Diagnostics) -> Option<FileId> {
    match std::fs::read(path) {
        Ok(bytes) => Some(map.add(
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )),
        Err(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "cannot open configuration file '{}': {e}",
                    path.display()
                ))
                .help("check the path given with -f"),
            );
            None
        }
    }
}

/// Runs the whole front end over files registered in `map`: lexing, parsing,
/// lowering and TLS material loading. The IR is returned only when no error was
/// found.
pub fn build(
    map: &mut SourceMap,
    files: &[FileId],
    opts: &LowerOptions,
    env: lexer::EnvLookup,
) -> (Option<ir::Config>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut tree = ast::ConfigAst::default();
    for &file in files {
        let name = map.name(file).to_string();
        let text = map.text(file).to_string();
        let lines = lexer::lex_file(file, &name, &text, env, &mut diags);
        parser::parse_file(lines, &mut tree, &mut diags);
    }
    if diags.has_errors() {
        return (None, diags);
    }
    let config = lower::lower(&tree, map, opts, &mut diags);
    if let Some(c) = &config {
        build_tls(c, &mut diags);
    }
    if diags.has_errors() {
        return (None, diags);
    }
    (config, diags)
}

/// Builds the rustls configurations the runtime would build, so `check`
/// reports what the TLS stack refuses (e.g. no cipher suite usable with a
/// certificate's key) exactly as a start or a reload would.
fn build_tls(config: &ir::Config, diags: &mut Diagnostics) {
    for p in &config.peers {
        for s in &p.remotes {
            if let Some(tls) = &s.tls {
                let at = format!("'server {}/{}' at {}", p.name, s.name, s.origin);
                if let Err(e) = crate::tls::client::ServerTlsConfigs::build(tls, &at) {
                    diags.push(Diagnostic::error(format!("{at}: {e}")).help(
                        "the TLS settings of this peer cannot be put together; check its certificate, CA file, ciphers and versions",
                    ));
                }
            }
        }
        if let Some(b) = &p.bind
            && let Some(tls) = &b.tls
            && let Err(e) = crate::tls::server::BindTlsRuntime::build(tls)
        {
            diags.push(
                Diagnostic::error(format!(
                    "peers '{}', bind '{}' ({}): {e}",
                    p.name, b.spec, b.origin
                ))
                .help("the TLS settings of this listener cannot be put together"),
            );
        }
    }
    for be in &config.backends {
        for s in &be.servers {
            if let Some(tls) = &s.tls {
                let at = format!("'server {}/{}' at {}", be.common.name, s.name, s.origin);
                if let Err(e) = crate::tls::client::ServerTlsConfigs::build(tls, &at) {
                    diags.push(
                        Diagnostic::error(format!("{at}: {e}"))
                            .help("the TLS settings of this server cannot be put together; check its certificate, CA file, ciphers and versions"),
                    );
                }
            }
        }
    }
    for fe in &config.frontends {
        for b in &fe.binds {
            if let Some(tls) = &b.tls
                && let Err(e) = crate::tls::server::BindTlsRuntime::build(tls)
            {
                diags.push(
                    Diagnostic::error(format!(
                        "'bind {}' in frontend '{}' at {}: {e}",
                        b.spec, fe.common.name, b.origin
                    ))
                    .help("the TLS settings of this bind cannot be put together; check its certificates, ciphers, curves and versions"),
                );
            }
        }
    }
}

/// Runs the front end with default options and the process environment.
pub fn check_files(map: &mut SourceMap, files: &[FileId]) -> Diagnostics {
    build(map, files, &LowerOptions::default(), &lexer::process_env).1
}
