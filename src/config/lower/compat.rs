//! Keywords HAProxy 2.6 keeps for old configurations that have nothing to
//! act on in portcullis: each is parsed as strictly as HAProxy parses it
//! (so a config HAProxy refuses is refused here too) and accepted with a
//! warning that says why it has no effect.

use super::{Lowerer, arg, extra_words};
use crate::config::word::Line;
use crate::diag::Diagnostic;

/// `stats bind-process all|odd|even|<n>[-<m>]…`: HAProxy 2.6 runs one process,
/// so only process 1 (and the aliases `all`, `odd`, `even`) is valid.
pub(super) fn stats_bind_process(cx: &mut Lowerer, line: &Line) -> Result<(), Diagnostic> {
    let w = &line.words;
    arg(w, 2, &w[1], "a process set ('1', 'all', 'odd' or 'even')")?;
    for v in &w[2..] {
        let ok = match v.text.as_str() {
            "all" | "odd" | "even" => true,
            t => {
                let (lo, hi) = t.split_once('-').unwrap_or((t, t));
                let num = |s: &str| {
                    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| s.parse::<u64>().ok())
                        .flatten()
                };
                match (num(lo), num(hi)) {
                    (Some(l), Some(h)) if l == 1 && h == 1 => true,
                    (Some(_), Some(_)) => {
                        return Err(Diagnostic::error(format!(
                            "'stats bind-process' : '{t}' is not a valid number/range. It supports numbers from 1 to 1."
                        ))
                        .at(v.span)
                        .help("HAProxy 2.6 runs a single process: write 'stats bind-process 1' or remove the line"));
                    }
                    _ => false,
                }
            }
        };
        if !ok {
            return Err(Diagnostic::error(format!(
                "'stats bind-process' : '{}' is not a valid number/range.",
                v.text
            ))
            .at(v.span)
            .help("use '1', 'all', 'odd' or 'even', or remove the line"));
        }
    }
    cx.diags.push(
        Diagnostic::warning(
            "'stats bind-process' has no effect: it is deprecated in HAProxy 2.6 (one process), and portcullis is one process too",
        )
        .at(w[0].span.to(w[1].span))
        .help("remove the line"),
    );
    Ok(())
}

/// `tune.maxaccept <n>`: HAProxy's bound on the connections one listener
/// accepts in a row before other work runs.
pub(super) fn tune_maxaccept(cx: &mut Lowerer, line: &Line) -> Result<(), Diagnostic> {
    let w = &line.words;
    let v = arg(w, 1, &w[0], "a number of connections (-1 for no limit)")?;
    let n: i64 = v.text.parse().map_err(|_| {
        Diagnostic::error(format!(
            "'tune.maxaccept' expects an integer, got '{}'",
            v.text
        ))
        .at(v.span)
    })?;
    if n < -1 {
        return Err(
            Diagnostic::error(format!("'tune.maxaccept' must be -1 or positive, got {n}"))
                .at(v.span),
        );
    }
    cx.diags.push(
        Diagnostic::warning(
            "'tune.maxaccept' has no effect: each portcullis listener accepts in its own task of the async runtime, which already interleaves accepting with the other work; there is no accept batch to bound",
        )
        .at(w[0].span)
        .help("remove the line"),
    );
    extra_words(line, 2, "tune.maxaccept").map_or(Ok(()), Err)
}
