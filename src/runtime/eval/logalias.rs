//! The `%x` aliases of log-format strings, computed from the connection and
//! the stream's [`LogFacts`] exactly as `sess_build_logline` does (dates,
//! timers, counters, names, captures and the parts of the request line).

use super::Txn;
use super::logformat::{Renderer, text_len};
use crate::ir::expr::{LogAlias, LogFlags};
use crate::runtime::calendar::{Civil, civil_from_unix, local_from_unix, unix_parts};
use crate::runtime::eval::text::c_str;
use crate::runtime::facts::{LogFacts, LogTimers};
use std::time::{Duration, SystemTime};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(tm: &Civil) -> &'static str {
    MONTHS[(tm.month as usize + 11) % 12]
}

/// `date2str_log`: `10/Oct/2000:13:55:36.123` (local time).
fn date_ms(tm: &Civil, micros: u32) -> String {
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
        tm.day,
        month(tm),
        tm.year,
        tm.hour,
        tm.minute,
        tm.second,
        (micros / 1000) % 1000
    )
}

/// `gmt2str_log` / `localdate2str_log`: `10/Oct/2000:13:55:36 +0000`.
fn date_zone(tm: &Civil) -> String {
    let sign = if tm.offset < 0 { '-' } else { '+' };
    let off = tm.offset.abs() / 60;
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
        tm.day,
        month(tm),
        tm.year,
        tm.hour,
        tm.minute,
        tm.second,
        off / 60,
        off % 60
    )
}

/// Start of the request: accept date plus idle and handshake times when
/// the idle time is known (`%tr`).
fn request_date(l: &LogFacts) -> SystemTime {
    let LogTimers {
        idle, handshake, ..
    } = l.timers;
    if idle >= 0 {
        let ms = u64::try_from(idle.saturating_add(handshake)).unwrap_or(0);
        l.accept_date + Duration::from_millis(ms)
    } else {
        l.accept_date
    }
}

impl Renderer<'_> {
    /// Writes one alias.
    pub(super) fn alias(&mut self, alias: LogAlias, flags: LogFlags, t: &Txn, l: &LogFacts) {
        let tm = &l.timers;
        let (accept_secs, accept_us) = unix_parts(l.accept_date);
        match alias {
            LogAlias::BytesRead => {
                self.plus_unless_final(l);
                self.num(l.bytes_out);
            }
            LogAlias::BytesUploaded => self.num(l.bytes_in),
            LogAlias::CapturedReqCookie => text_len(
                self.out,
                l.captured_req_cookie.as_deref().map(str::as_bytes),
                flags,
            ),
            LogAlias::CapturedResCookie => text_len(
                self.out,
                l.captured_res_cookie.as_deref().map(str::as_bytes),
                flags,
            ),
            LogAlias::Hostname => text_len(self.out, Some(l.hostname.as_bytes()), flags),
            LogAlias::UniqueId => {
                text_len(self.out, l.unique_id.as_deref().map(str::as_bytes), flags)
            }
            LogAlias::Status => self.num(l.status),
            LogAlias::DateGmt => self.push_str(&date_zone(&civil_from_unix(accept_secs))),
            LogAlias::DateLocal => self.push_str(&date_zone(&local_from_unix(accept_secs))),
            LogAlias::Date => self.push_str(&date_ms(&local_from_unix(accept_secs), accept_us)),
            LogAlias::RequestDate => {
                let (s, us) = unix_parts(request_date(l));
                self.push_str(&date_ms(&local_from_unix(s), us));
            }
            LogAlias::RequestDateGmt => {
                let (s, _) = unix_parts(request_date(l));
                self.push_str(&date_zone(&civil_from_unix(s)));
            }
            LogAlias::RequestDateLocal => {
                let (s, _) = unix_parts(request_date(l));
                self.push_str(&date_zone(&local_from_unix(s)));
            }
            LogAlias::Timestamp => {
                if flags.hex {
                    self.push_str(&format!("{:04X}", accept_secs as u32));
                } else {
                    self.num(accept_secs);
                }
            }
            LogAlias::Millis => {
                let ms = accept_us / 1000;
                if flags.hex {
                    self.push_str(&format!("{ms:02X}"));
                } else {
                    self.push_str(&format!("{ms:03}"));
                }
            }
            LogAlias::TimeHandshake => self.num(tm.handshake),
            LogAlias::TimeIdle => self.num(tm.idle),
            LogAlias::TimeReceive => self.num(if tm.request >= 0 {
                tm.request - tm.idle - tm.handshake
            } else {
                -1
            }),
            LogAlias::TimeRequest => self.num(tm.request),
            LogAlias::TimeWait => self.num(if tm.queue >= 0 {
                tm.queue - tm.request
            } else {
                -1
            }),
            LogAlias::TimeConnect => self.num(if tm.connect >= 0 {
                tm.connect - tm.queue
            } else {
                -1
            }),
            LogAlias::TimeResponse => self.num(if tm.data >= 0 {
                tm.data - tm.connect
            } else {
                -1
            }),
            LogAlias::TimeData => {
                let v = if l.backend_is_http {
                    if tm.data >= 0 { tm.close - tm.data } else { -1 }
                } else if tm.connect >= 0 {
                    tm.close - tm.connect
                } else {
                    -1
                };
                self.num(v);
            }
            LogAlias::TimeActive => {
                self.plus_unless_final(l);
                let before = if tm.idle >= 0 {
                    tm.idle + tm.handshake
                } else {
                    0
                };
                self.num(tm.close - before);
            }
            LogAlias::TimeTotal => {
                self.plus_unless_final(l);
                self.num(tm.close);
            }
            LogAlias::TimeUser => {
                self.plus_unless_final(l);
                self.num(tm.close - tm.idle.max(0));
            }
            LogAlias::ActConn => self.num(l.counters.act_conn),
            LogAlias::FrontendConn => self.num(l.counters.fe_conn),
            LogAlias::BackendConn => self.num(l.counters.be_conn),
            LogAlias::ServerConn => self.num(l.counters.srv_conn),
            LogAlias::Retries => {
                if l.counters.redispatched {
                    self.out.push(b'+');
                }
                self.num(l.counters.retries);
            }
            LogAlias::ServerQueue => self.num(l.counters.srv_queue),
            LogAlias::BackendQueue => self.num(l.counters.be_queue),
            LogAlias::LogCounter => self.counter(l.counters.log_count, flags, 4),
            LogAlias::RequestCounter => self.counter(l.counters.request_id, flags, 4),
            LogAlias::Pid => self.counter(u64::from(l.pid), flags, 4),
            LogAlias::Backend => text_len(self.out, Some(l.backend.as_bytes()), flags),
            LogAlias::Server => {
                let s = l.server.as_deref().unwrap_or("<NOSRV>");
                text_len(self.out, Some(s.as_bytes()), flags);
            }
            LogAlias::Frontend => text_len(self.out, Some(t.conn.frontend.as_bytes()), flags),
            LogAlias::FrontendTransport => {
                if flags.quote {
                    self.out.push(b'"');
                }
                self.push_str(&t.conn.frontend);
                if t.conn.tls.is_some() {
                    self.out.push(b'~');
                }
                if flags.quote {
                    self.out.push(b'"');
                }
            }
            LogAlias::ClientIp => self.ip(Some(t.conn.src.ip()), flags),
            LogAlias::ClientPort => self.port(Some(t.conn.src), flags),
            LogAlias::FrontendIp => self.ip(Some(t.conn.dst.ip()), flags),
            LogAlias::FrontendPort => self.port(Some(t.conn.dst), flags),
            LogAlias::BackendSourceIp => self.ip(l.backend_conn.map(|c| c.0.ip()), flags),
            LogAlias::BackendSourcePort => self.port(l.backend_conn.map(|c| c.0), flags),
            LogAlias::ServerIp => self.ip(l.backend_conn.map(|c| c.1.ip()), flags),
            LogAlias::ServerPort => self.port(l.backend_conn.map(|c| c.1), flags),
            LogAlias::SslCipher => {
                let s = t.conn.tls.as_deref().map(|s| s.session.cipher.as_bytes());
                text_len(self.out, s, flags);
            }
            LogAlias::SslVersion => {
                let s = t.conn.tls.as_deref().map(|s| s.session.protocol.as_bytes());
                text_len(self.out, s, flags);
            }
            LogAlias::TermState => {
                self.out.push(l.termination.cause.as_char() as u8);
                self.out.push(l.termination.state.as_char() as u8);
            }
            LogAlias::TermStateCookie => {
                self.out.push(l.termination.cause.as_char() as u8);
                self.out.push(l.termination.state.as_char() as u8);
                match l.cookie_states {
                    Some((c, s)) => {
                        self.out.push(c.as_char() as u8);
                        self.out.push(s.as_char() as u8);
                    }
                    None => self.push_str("--"),
                }
            }
            LogAlias::CapturedReqHeaders => {
                self.captures(&l.req_captures, flags, false);
                return;
            }
            LogAlias::CapturedReqHeadersList => {
                self.captures(&l.req_captures, flags, true);
                return;
            }
            LogAlias::CapturedResHeaders => {
                self.captures(&l.res_captures, flags, false);
                return;
            }
            LogAlias::CapturedResHeadersList => {
                self.captures(&l.res_captures, flags, true);
                return;
            }
            LogAlias::RequestLine => {
                let line = l.request_line.as_deref().map_or(&b"<BADREQ>"[..], c_str);
                self.request_part(line, flags);
            }
            LogAlias::HttpMethod
            | LogAlias::HttpUri
            | LogAlias::HttpPath
            | LogAlias::HttpPathOnly
            | LogAlias::HttpQuery
            | LogAlias::HttpVersion => {
                let part = http_part(alias, l.request_line.as_deref().map(c_str));
                self.request_part(&part, flags);
            }
        }
        self.last_is_space = false;
    }
}

fn is_spht(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits HAProxy's `txn->uri` for `%HM %HU %HP %HPO %HQ %HV`, with the same
/// scanning (and `<BADREQ>` cases) as `sess_build_logline`.
fn http_part(alias: LogAlias, line: Option<&[u8]>) -> Vec<u8> {
    const BAD: &[u8] = b"<BADREQ>";
    let Some(line) = line else {
        return BAD.to_vec();
    };
    let end = line.len();
    let mut uri = line.iter().position(|b| is_spht(*b)).unwrap_or(end);
    let method_end = uri;
    let mut nspaces = 0;
    while uri < end && is_spht(line[uri]) {
        uri += 1;
        nspaces += 1;
    }
    let until = |from: usize, stop: &dyn Fn(u8) -> bool| {
        line[from..]
            .iter()
            .position(|b| stop(*b))
            .map_or(end, |p| from + p)
    };
    match alias {
        LogAlias::HttpMethod => {
            if method_end == end {
                BAD.to_vec()
            } else {
                line[..method_end].to_vec()
            }
        }
        LogAlias::HttpQuery => {
            let q = line.iter().position(|b| *b == b'?').unwrap_or(end);
            let stop = until(q, &is_spht);
            line[q..stop].to_vec()
        }
        _ if nspaces == 0 => BAD.to_vec(),
        LogAlias::HttpPath => line[uri..until(uri, &|b| b == b'?' || is_spht(b))].to_vec(),
        LogAlias::HttpUri => line[uri..until(uri, &is_spht)].to_vec(),
        LogAlias::HttpPathOnly => {
            let target = &line[uri..until(uri, &is_spht)];
            super::fetch::path_bytes(target)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        }
        _ => {
            // %HV: after the URI and the spaces following it.
            let mut v = until(uri, &is_spht);
            while v < end && is_spht(line[v]) {
                v += 1;
            }
            if v == end {
                b"HTTP/0.9".to_vec()
            } else {
                line[v..].to_vec()
            }
        }
    }
}
