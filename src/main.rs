//! The `portcullis` command line: argument parsing, exit codes, output. No logic
//! lives here; everything is in the library.

use clap::{Parser, Subcommand};
use portcullis::config::{self, LowerOptions, lexer};
use portcullis::diag::{Diagnostics, SourceMap, render};
use std::path::PathBuf;
use std::process::ExitCode;

/// A reverse proxy that reads HAProxy's configuration language and makes mutual
/// TLS first-class.
#[derive(Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate configuration files like `haproxy -c`: exit 0 when valid (warnings
    /// allowed), 1 when invalid.
    Check {
        /// Configuration file or directory (its *.cfg files, in lexical order).
        /// Repeatable; files load in the order given.
        #[arg(short = 'f', long = "file", required = true, value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Print nothing; the exit status is the verdict.
        #[arg(short, long)]
        quiet: bool,
        /// Print the lowered configuration (IR) as JSON on stdout when valid.
        #[arg(long)]
        dump_ir: bool,
        /// Refuse portcullis extensions (e.g. verify-depth) so the file stays
        /// loadable by HAProxy.
        #[arg(long)]
        strict_haproxy: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            files,
            quiet,
            dump_ir,
            strict_haproxy,
        } => check(&files, quiet, dump_ir, strict_haproxy),
    }
}

fn check(paths: &[PathBuf], quiet: bool, dump_ir: bool, strict_haproxy: bool) -> ExitCode {
    let mut map = SourceMap::new();
    let mut diags = Diagnostics::new();
    let files = config::load_paths(&mut map, paths, &mut diags);
    let opts = LowerOptions {
        strict_haproxy,
        ..LowerOptions::default()
    };
    let (ir, more) = if diags.has_errors() {
        (None, Diagnostics::new())
    } else {
        config::build(&mut map, &files, &opts, &lexer::process_env)
    };
    diags.extend(more);
    let valid = !diags.has_errors() && ir.is_some();
    if !quiet {
        eprint!("{}", render(&map, &diags));
        let (errors, warnings) = (diags.error_count(), diags.warning_count());
        if valid {
            eprintln!(
                "configuration is valid{}",
                match warnings {
                    0 => String::new(),
                    1 => " (1 warning)".to_string(),
                    n => format!(" ({n} warnings)"),
                }
            );
        } else {
            eprintln!(
                "configuration is invalid: {errors} error{}, {warnings} warning{}",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            );
        }
    }
    if valid
        && dump_ir
        && let Some(ir) = &ir
    {
        match serde_json::to_string_pretty(ir) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot serialize the IR: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
