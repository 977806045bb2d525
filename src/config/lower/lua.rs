//! Lowering of `lua-load`, `lua-load-per-thread`, `lua-prepend-path` and
//! `tune.lua.*`. Each script is read and run here (as `haproxy -c` does) so
//! a syntax or runtime error is a check error at its `lua-load` line, and so
//! the names it registers are known to the proxies that follow.

use super::values::{time_ms, uint};
use super::{Lowerer, arg, extra_words};
use crate::config::word::Line;
use crate::diag::Diagnostic;
use crate::ir::lua::{LuaScript, LuaStep};
use std::path::PathBuf;
use std::sync::Arc;

/// `lua-load <file>`, `lua-load-per-thread <file>`, `lua-prepend-path <path> [path|cpath]`.
pub(crate) fn global_line(cx: &mut Lowerer, line: &Line) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    if kw.text == "lua-prepend-path" {
        let path = arg(w, 1, kw, "a path pattern")?;
        let cpath = match w.get(2).map(|t| t.text.as_str()) {
            None | Some("path") => false,
            Some("cpath") => true,
            Some(_) => {
                return Err(Diagnostic::error(
                    "'lua-prepend-path' expects <type> to either be 'path' or 'cpath'",
                )
                .at(w[2].span));
            }
        };
        if let Some(d) = extra_words(line, 3, &kw.text) {
            return Err(d);
        }
        cx.global.lua.steps.push(LuaStep::Prepend {
            path: path.text.clone(),
            cpath,
        });
        return Ok(());
    }
    let file = arg(w, 1, kw, "a Lua file")?;
    if w.len() > 2 {
        // HAProxy 2.6 ignores them (2.8 passes them to the script as `...`).
        cx.diags.push(
            Diagnostic::warning(format!(
                "'{}' : arguments after the file name are ignored, as in HAProxy 2.6",
                kw.text
            ))
            .at(w[2].span)
            .help("remove them, or read them from environment variables in the script"),
        );
    }
    let path = PathBuf::from(&file.text);
    let source = std::fs::read(&path).map_err(|e| {
        Diagnostic::error(format!(
            "'{}' : cannot read Lua file '{}': {e}",
            kw.text, file.text
        ))
        .at(file.span)
        .help("give the path of a readable Lua script")
    })?;
    let origin = cx.origin(line.span);
    cx.global.lua.steps.push(LuaStep::Load {
        script: LuaScript {
            path,
            origin,
            source: Arc::new(source),
        },
        per_thread: kw.text == "lua-load-per-thread",
    });
    // Run every script loaded so far, as the states will at run time.
    match crate::lua::probe(&cx.global.lua) {
        Ok(names) => {
            cx.global.lua.names = Arc::new(names);
            Ok(())
        }
        Err(e) => {
            cx.global.lua.steps.pop();
            let help = match e {
                crate::lua::LuaError::Syntax { .. } => {
                    "fix the script; `luac -p FILE` checks its syntax"
                }
                _ => "fix the script: it runs at check time, as with haproxy -c",
            };
            Err(Diagnostic::error(e.to_string()).at(file.span).help(help))
        }
    }
}

/// `tune.lua.forced-yield|maxmem|session-timeout|service-timeout|task-timeout`.
pub(crate) fn tune(cx: &mut Lowerer, line: &Line) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let v = arg(w, 1, kw, "a value")?;
    let t = &mut cx.global.lua.tune;
    match kw.text.as_str() {
        "tune.lua.forced-yield" => {
            let n = uint(v, &kw.text)?;
            if n == 0 {
                return Err(Diagnostic::error(format!(
                    "'{}' expects a positive number of instructions",
                    kw.text
                ))
                .at(v.span));
            }
            t.forced_yield = n;
        }
        "tune.lua.maxmem" => {
            let mb = uint(v, &kw.text)?;
            t.maxmem = (mb as usize).saturating_mul(1024 * 1024);
        }
        "tune.lua.session-timeout" => t.session_timeout = time_ms(v, &kw.text)?,
        "tune.lua.service-timeout" => t.service_timeout = time_ms(v, &kw.text)?,
        _ => t.task_timeout = Some(time_ms(v, &kw.text)?),
    }
    extra_words(line, 2, &kw.text).map_or(Ok(()), Err)
}
