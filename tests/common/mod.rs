//! Helpers shared by the configuration-corpus tests (`haproxy_agreement`,
//! `golden`, `examples`): find the corpus files, run `portcullis check` and
//! `haproxy -c` on them the way a user would, from the crate root.
//!
//! Every test binary compiles this module separately and uses only part of it.
#![allow(dead_code)]

pub mod origins;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crate root: configs name their fixtures relative to it, exactly as
/// HAProxy resolves relative paths from its current directory.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Files of `dir` (relative to the crate root) whose name ends in `.ext`,
/// sorted, as paths relative to the crate root (so messages show short,
/// stable paths).
pub fn files_with_ext(dir: &str, ext: &str) -> Vec<PathBuf> {
    let abs = crate_root().join(dir);
    let entries = match std::fs::read_dir(&abs) {
        Ok(rd) => rd,
        Err(e) => panic!("cannot read {}: {e}", abs.display()),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().and_then(|x| x.to_str()) == Some(ext))
        .filter_map(|p| p.file_name().map(|n| Path::new(dir).join(n)))
        .collect();
    files.sort();
    files
}

/// What a checker said about one configuration file.
pub struct Outcome {
    /// Exit status; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A configuration's verdict, as `haproxy -c` and `portcullis check` report it
/// through their exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
}

impl Verdict {
    /// Exit 0 is valid (warnings allowed), 1 is invalid; anything else
    /// (usage error, HAProxy's "no listener" 2, a crash) is no verdict.
    pub fn from_exit(code: Option<i32>) -> Option<Verdict> {
        match code {
            Some(0) => Some(Verdict::Valid),
            Some(1) => Some(Verdict::Invalid),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
        }
    }
}

/// A command run from the crate root, with the `PORTCULLIS_TEST_*`
/// variables removed: the corpus uses them as "never set" names for
/// `${VAR-default}`, so a developer's environment must not change verdicts.
fn command_at_root(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(crate_root());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PORTCULLIS_TEST_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Outcome {
    match cmd.output() {
        Ok(out) => Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => panic!("cannot run {what}: {e}"),
    }
}

/// `portcullis check -f <file>` from the crate root (`file` relative to it).
pub fn portcullis_check(file: &Path) -> Outcome {
    let mut cmd = command_at_root(env!("CARGO_BIN_EXE_portcullis"));
    cmd.arg("check").arg("-f").arg(file);
    run(cmd, "portcullis check")
}

/// The HAProxy used as the reference: `$PORTCULLIS_HAPROXY` or `haproxy` on
/// PATH, only if it is a 2.6 release (the version portcullis follows; other
/// releases differ on a few verdicts, e.g. 2.7 accepts symbolic ignore-err
/// names). The reason is returned when there is none, to be printed.
pub fn reference_haproxy() -> Result<Haproxy, String> {
    let program = std::env::var_os("PORTCULLIS_HAPROXY").unwrap_or_else(|| "haproxy".into());
    let out = match Command::new(&program).arg("-v").output() {
        Ok(out) => out,
        Err(e) => {
            return Err(format!(
                "{} not runnable ({e})",
                Path::new(&program).display()
            ));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string();
    if version.starts_with("2.6.") || version == "2.6" {
        Ok(Haproxy {
            program: program.into(),
            version,
        })
    } else {
        Err(format!(
            "{} is version '{version}', not 2.6",
            Path::new(&program).display()
        ))
    }
}

/// A HAProxy 2.6 binary.
pub struct Haproxy {
    program: PathBuf,
    pub version: String,
}

impl Haproxy {
    /// The binary, to run it as a process (peers tests).
    #[allow(dead_code)] // not every test binary runs HAProxy
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `haproxy -c -f <file>` from the crate root.
    pub fn check(&self, file: &Path) -> Outcome {
        let mut cmd = command_at_root(&self.program);
        cmd.arg("-c").arg("-f").arg(file);
        run(cmd, "haproxy -c")
    }
}

/// At most `max` lines of `text`, indented, for failure reports.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut lines: Vec<String> = text
        .lines()
        .take(max)
        .map(|l| format!("    | {l}"))
        .collect();
    let total = text.lines().count();
    if total > max {
        lines.push(format!("    | … ({} more lines)", total - max));
    }
    if lines.is_empty() {
        lines.push("    | (nothing)".to_string());
    }
    lines.join("\n")
}
