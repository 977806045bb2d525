//! HAProxy's runtime API on `stats socket`: listeners and sessions.
//!
//! Each socket (a Unix path with its `mode`, or TCP) accepts sessions that
//! read one command line at a time; `;` separates commands on a line. As in
//! HAProxy 2.6 a session is non-interactive by default (it answers what it
//! has received, then closes), `prompt` toggles interactive mode (`> `
//! prompts), `quit` closes, and `stats timeout` closes an idle session. The
//! commands themselves live in [`super::admin_cmd`]; they read the current
//! Generation, so a reload changes what they report.

use super::admin_cmd::{Reply, Session, run_command};
use super::generation::Generation;
use crate::ir::{self, StatsAddress, StatsSocket};
use arc_swap::ArcSwap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// HAProxy's default `stats timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest command line accepted (HAProxy's is one buffer); longer closes.
const MAX_LINE: usize = 64 * 1024;

/// Why a stats socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("stats socket '{path}' ({origin}): {source}")]
    Unix {
        path: PathBuf,
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stats socket {addr} ({origin}): {source}")]
    Tcp {
        addr: std::net::SocketAddr,
        origin: String,
        #[source]
        source: std::io::Error,
    },
}

/// Process facts that `show info` reports and no Generation holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Started {
    pub at: Instant,
    pub wall: SystemTime,
}

/// What an accept loop needs to run sessions.
#[derive(Clone)]
struct Shared {
    current: Arc<ArcSwap<Generation>>,
    started: Started,
    timeout: Duration,
}

/// Binds every `stats socket` of the configuration and starts serving them;
/// the loops end when `stop` turns true. Must run inside a tokio runtime,
/// before privileges are dropped (the socket files are created here).
pub fn start(
    global: &ir::Global,
    current: Arc<ArcSwap<Generation>>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, AdminError> {
    let shared = Shared {
        current,
        started: Started {
            at: Instant::now(),
            wall: SystemTime::now(),
        },
        timeout: global
            .stats_timeout
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
    };
    let mut tasks = Vec::new();
    for sock in &global.stats_sockets {
        let task = match &sock.address {
            StatsAddress::Unix(path) => {
                let listener = bind_unix(path, sock.mode).map_err(|source| AdminError::Unix {
                    path: path.clone(),
                    origin: sock.origin.clone(),
                    source,
                })?;
                tokio::spawn(unix_loop(
                    listener,
                    sock.clone(),
                    shared.clone(),
                    stop.clone(),
                ))
            }
            StatsAddress::Tcp(addr) => {
                let listener = bind_tcp(*addr).map_err(|source| AdminError::Tcp {
                    addr: *addr,
                    origin: sock.origin.clone(),
                    source,
                })?;
                tokio::spawn(tcp_loop(
                    listener,
                    sock.clone(),
                    shared.clone(),
                    stop.clone(),
                ))
            }
        };
        tasks.push(task);
    }
    Ok(tasks)
}

/// Creates the socket file, replacing a stale socket (never another kind of
/// file), then applies `mode`.
fn bind_unix(path: &Path, mode: Option<u32>) -> std::io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(listener)
}

fn bind_tcp(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    TcpListener::from_std(std_listener)
}

async fn unix_loop(
    listener: UnixListener,
    sock: StatsSocket,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { serve_session(stream, sock.level, &shared).await });
            }
            Err(e) => {
                tracing::warn!("stats socket ({}): accept failed: {e}", sock.origin);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn tcp_loop(
    listener: TcpListener,
    sock: StatsSocket,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { serve_session(stream, sock.level, &shared).await });
            }
            Err(e) => {
                tracing::warn!("stats socket ({}): accept failed: {e}", sock.origin);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Runs one session until `quit`, the end of a non-interactive exchange,
/// the client closing, or `stats timeout` of inactivity.
async fn serve_session<S>(stream: S, level: ir::StatsLevel, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = BufReader::new(rd);
    let mut session = Session::new(level);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = tokio::time::timeout(
            shared.timeout,
            (&mut rd).take(MAX_LINE as u64).read_until(b'\n', &mut line),
        )
        .await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(_)) => {}
        }
        if line.last() != Some(&b'\n') && line.len() >= MAX_LINE {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let mut out = String::new();
        let generation = shared.current.load_full();
        let mut quit = false;
        let commands = split_commands(text);
        if commands.is_empty() {
            // An empty line: HAProxy prints the command list when not
            // interactive, and just a new prompt when it is.
            if !session.interactive {
                out.push_str(&super::admin_cmd::empty_line_help());
                out.push('\n');
            } else {
                out.push_str("> ");
            }
        }
        for words in commands {
            match run_command(&words, &mut session, &generation, shared.started) {
                Reply::Text(t) => out.push_str(&t),
                Reply::Quit => {
                    quit = true;
                    break;
                }
            }
            out.push('\n');
            if session.interactive {
                out.push_str("> ");
            }
        }
        if wr.write_all(out.as_bytes()).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        // Non-interactive: answer every complete line already received, then close.
        if quit || (!session.interactive && !rd.buffer().contains(&b'\n')) {
            let _ = wr.shutdown().await;
            return;
        }
    }
}

/// Splits a command line on unescaped `;` into commands, each into words
/// (whitespace-separated; `\` escapes the next character, as in HAProxy).
/// Empty commands are dropped.
pub(crate) fn split_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            ';' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::split_commands;

    #[test]
    fn splits_on_semicolons_and_whitespace() {
        assert_eq!(
            split_commands("show version; show  info ;;"),
            vec![vec!["show", "version"], vec!["show", "info"]]
        );
        assert_eq!(split_commands("a\\;b c"), vec![vec!["a;b", "c"]]);
        assert!(split_commands("  ").is_empty());
    }
}
