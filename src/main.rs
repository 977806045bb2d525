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
        /// The local peer's name in `peers` sections (default: the global
        /// `localpeer`, else the host name), as HAProxy's `-L`.
        #[arg(short = 'L', value_name = "NAME")]
        local_peer: Option<String>,
    },
    /// Run the proxy in the foreground (HTTP frontends, TLS termination with
    /// mTLS, forwarding to servers with or without TLS). Stops on SIGINT/SIGTERM.
    Run {
        /// Configuration file or directory, as for `check`.
        #[arg(short = 'f', long = "file", required = true, value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Go to the background once the configuration is loaded and the
        /// listeners are bound (as the global `daemon` keyword).
        #[arg(short = 'D', long = "daemon")]
        daemon: bool,
        /// Write the serving process's pid to this file (as `pidfile`).
        #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
        pidfile: Option<PathBuf>,
        /// The local peer's name in `peers` sections, as for `check`.
        #[arg(short = 'L', value_name = "NAME")]
        local_peer: Option<String>,
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
            local_peer,
        } => check(&files, quiet, dump_ir, strict_haproxy, local_peer),
        Command::Run {
            files,
            daemon,
            pidfile,
            local_peer,
        } => run(&files, daemon, pidfile, local_peer),
    }
}

/// Loads a configuration like `check`, printing diagnostics; `None` if invalid.
fn load(
    paths: &[PathBuf],
    opts: &LowerOptions,
    quiet: bool,
) -> (Option<portcullis::ir::Config>, Diagnostics) {
    let mut map = SourceMap::new();
    let mut diags = Diagnostics::new();
    let files = config::load_paths(&mut map, paths, &mut diags);
    let (ir, more) = if diags.has_errors() {
        (None, Diagnostics::new())
    } else {
        config::build(&mut map, &files, opts, &lexer::process_env)
    };
    diags.extend(more);
    if !quiet {
        eprint!("{}", render(&map, &diags));
    }
    let ir = if diags.has_errors() { None } else { ir };
    (ir, diags)
}

fn run(
    paths: &[PathBuf],
    daemon_flag: bool,
    pidfile_flag: Option<PathBuf>,
    local_peer: Option<String>,
) -> ExitCode {
    let opts = LowerOptions {
        local_peer,
        ..LowerOptions::default()
    };
    let (ir, diags) = load(paths, &opts, false);
    let Some(ir) = ir else {
        eprintln!(
            "configuration is invalid: {} error(s); not starting",
            diags.error_count()
        );
        return ExitCode::from(1);
    };
    let admin_pages = ir
        .frontends
        .iter()
        .map(|f| &f.common)
        .chain(ir.backends.iter().map(|b| &b.common))
        .filter(|c| c.stats.as_ref().is_some_and(|s| s.admin.is_some()));
    for common in admin_pages {
        eprintln!(
            "warning: '{}' sets 'stats admin', but this version's stats page offers no admin actions: it only shows the statistics",
            common.name
        );
    }
    // Bind every listener before going to the background, so a bind error is
    // reported to the terminal and the exit status, as HAProxy does.
    let mut sockets = portcullis::runtime::listener::SocketSet::new();
    for fe in &ir.frontends {
        for bind in &fe.binds {
            for addr in &bind.addresses {
                if let Err(e) =
                    sockets.get_or_bind(addr, portcullis::runtime::serve::socket_opts(bind))
                {
                    eprintln!("error: frontend '{}': {e}", fe.common.name);
                    return ExitCode::from(1);
                }
            }
        }
    }
    if daemon_flag || ir.global.daemon {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        // Forks before any thread exists (the runtime is built below).
        if let Err(e) = daemonize::Daemonize::new().working_directory(cwd).start() {
            eprintln!("error: cannot go to the background: {e}");
            return ExitCode::from(1);
        }
    }
    if let Some(path) = pidfile_flag.as_ref().or(ir.global.pidfile.as_ref())
        && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
    {
        eprintln!("error: cannot write pidfile '{}': {e}", path.display());
        return ExitCode::from(1);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    let workers = ir.global.nbthread.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    rt.worker_threads(workers);
    let (pinning, pin_warnings) =
        portcullis::runtime::affinity::Pinning::plan(&ir.global.cpu_map, workers);
    for w in pin_warnings {
        eprintln!("warning: {w}");
    }
    let (pin_hook, started) = pinning.hook();
    rt.on_thread_start(pin_hook);
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // The workers' hooks must run before any blocking thread's (see
    // `Pinning::hook`); bounded, in case a worker is slow to be scheduled.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while started.load(std::sync::atomic::Ordering::Relaxed) < workers
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let global = ir.global.clone();
    rt.block_on(async move {
        let proxy = match portcullis::runtime::serve::Proxy::start(ir, &mut sockets).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        if let Err(e) = portcullis::runtime::privileges::drop_privileges(&global) {
            eprintln!("error: {e}; not serving with more privileges than configured");
            proxy.shutdown().await;
            return ExitCode::from(1);
        }
        // Announced once the process runs with its final identity.
        for (fe, addr) in &proxy.local_addrs {
            eprintln!("portcullis: frontend '{fe}' listening on {addr}");
        }
        wait_for_stop().await;
        eprintln!("portcullis: stopping");
        proxy.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGINT or SIGTERM: stop (HAProxy's hard stop).
async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn check(
    paths: &[PathBuf],
    quiet: bool,
    dump_ir: bool,
    strict_haproxy: bool,
    local_peer: Option<String>,
) -> ExitCode {
    let opts = LowerOptions {
        strict_haproxy,
        local_peer,
        ..LowerOptions::default()
    };
    let (ir, diags) = load(paths, &opts, quiet);
    let valid = !diags.has_errors() && ir.is_some();
    if !quiet {
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
