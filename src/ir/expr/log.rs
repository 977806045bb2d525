//! IR of log-format strings: literal text, `%x` aliases and `%[sample]`
//! parts with their rendering flags. Produced by `config::expr::logformat`;
//! rendered by the runtime for log lines and header values.

use super::Sample;
use serde::Serialize;

/// Per-part rendering flags of a log-format string (`%{+Q,-X}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct LogFlags {
    /// `Q`: wrap in double quotes.
    pub quote: bool,
    /// `X`: hexadecimal (IPs, ports, numbers).
    pub hex: bool,
    /// `E`: escape `"`, `\` and `]`.
    pub escape: bool,
    /// `M`: print `-` for an empty value (default in `log-format` lines).
    pub mandatory: bool,
}

/// The `%x` variables of HAProxy 2.6 log-format strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum LogAlias {
    /// `%B` bytes read (server → client).
    BytesRead,
    /// `%CC` captured request cookie.
    CapturedReqCookie,
    /// `%CS` captured response cookie.
    CapturedResCookie,
    /// `%H` hostname.
    Hostname,
    /// `%ID` unique id.
    UniqueId,
    /// `%ST` status code.
    Status,
    /// `%T` GMT date.
    DateGmt,
    /// `%Ta` active time.
    TimeActive,
    /// `%Tc` connect time.
    TimeConnect,
    /// `%Th` handshake time.
    TimeHandshake,
    /// `%Ti` idle time.
    TimeIdle,
    /// `%Tl` local date.
    DateLocal,
    /// `%Tq` = Th + Ti + TR.
    TimeRequest,
    /// `%Tr` response time.
    TimeResponse,
    /// `%TR` time to receive the request.
    TimeReceive,
    /// `%Td` data transfer time.
    TimeData,
    /// `%Ts` timestamp.
    Timestamp,
    /// `%Tt` total time.
    TimeTotal,
    /// `%Tu` = Tt - Ti.
    TimeUser,
    /// `%Tw` queue time.
    TimeWait,
    /// `%U` bytes uploaded.
    BytesUploaded,
    /// `%ac` active connections.
    ActConn,
    /// `%b` backend name.
    Backend,
    /// `%bc` backend connections.
    BackendConn,
    /// `%bi` backend source ip.
    BackendSourceIp,
    /// `%bp` backend source port.
    BackendSourcePort,
    /// `%bq` backend queue.
    BackendQueue,
    /// `%ci` client ip.
    ClientIp,
    /// `%cp` client port.
    ClientPort,
    /// `%f` frontend name.
    Frontend,
    /// `%fc` frontend connections.
    FrontendConn,
    /// `%fi` frontend ip.
    FrontendIp,
    /// `%fp` frontend port.
    FrontendPort,
    /// `%ft` frontend name with `~` when TLS.
    FrontendTransport,
    /// `%hr` captured request headers.
    CapturedReqHeaders,
    /// `%hrl` captured request headers, CLF style.
    CapturedReqHeadersList,
    /// `%hs` captured response headers.
    CapturedResHeaders,
    /// `%hsl` captured response headers, CLF style.
    CapturedResHeadersList,
    /// `%HM` method.
    HttpMethod,
    /// `%HP` path (relative or absolute, no query).
    HttpPath,
    /// `%HPO` path only.
    HttpPathOnly,
    /// `%HQ` query string with `?`.
    HttpQuery,
    /// `%HU` URI.
    HttpUri,
    /// `%HV` version.
    HttpVersion,
    /// `%lc` log counter.
    LogCounter,
    /// `%ms` accept date milliseconds.
    Millis,
    /// `%pid`.
    Pid,
    /// `%r` request line.
    RequestLine,
    /// `%rc` retries.
    Retries,
    /// `%rt` request counter.
    RequestCounter,
    /// `%s` server name.
    Server,
    /// `%sc` server connections.
    ServerConn,
    /// `%si` server ip.
    ServerIp,
    /// `%sp` server port.
    ServerPort,
    /// `%sq` server queue.
    ServerQueue,
    /// `%sslc` TLS cipher.
    SslCipher,
    /// `%sslv` TLS version.
    SslVersion,
    /// `%t` date with milliseconds.
    Date,
    /// `%tr` date of request start.
    RequestDate,
    /// `%trg` GMT date of request start.
    RequestDateGmt,
    /// `%trl` local date of request start.
    RequestDateLocal,
    /// `%ts` termination state.
    TermState,
    /// `%tsc` termination state with cookie status.
    TermStateCookie,
}

/// Name, alias and whether it is reserved for `mode http` (HAProxy's
/// `logformat_keywords`).
const LOG_ALIASES: &[(&str, LogAlias, bool)] = &[
    ("B", LogAlias::BytesRead, false),
    ("CC", LogAlias::CapturedReqCookie, true),
    ("CS", LogAlias::CapturedResCookie, true),
    ("H", LogAlias::Hostname, false),
    ("ID", LogAlias::UniqueId, false),
    ("ST", LogAlias::Status, false),
    ("T", LogAlias::DateGmt, false),
    ("Ta", LogAlias::TimeActive, true),
    ("Tc", LogAlias::TimeConnect, false),
    ("Th", LogAlias::TimeHandshake, false),
    ("Ti", LogAlias::TimeIdle, true),
    ("Tl", LogAlias::DateLocal, false),
    ("Tq", LogAlias::TimeRequest, true),
    ("Tr", LogAlias::TimeResponse, true),
    ("TR", LogAlias::TimeReceive, true),
    ("Td", LogAlias::TimeData, false),
    ("Ts", LogAlias::Timestamp, false),
    ("Tt", LogAlias::TimeTotal, false),
    ("Tu", LogAlias::TimeUser, false),
    ("Tw", LogAlias::TimeWait, false),
    ("U", LogAlias::BytesUploaded, false),
    ("ac", LogAlias::ActConn, false),
    ("b", LogAlias::Backend, false),
    ("bc", LogAlias::BackendConn, false),
    ("bi", LogAlias::BackendSourceIp, false),
    ("bp", LogAlias::BackendSourcePort, false),
    ("bq", LogAlias::BackendQueue, false),
    ("ci", LogAlias::ClientIp, false),
    ("cp", LogAlias::ClientPort, false),
    ("f", LogAlias::Frontend, false),
    ("fc", LogAlias::FrontendConn, false),
    ("fi", LogAlias::FrontendIp, false),
    ("fp", LogAlias::FrontendPort, false),
    ("ft", LogAlias::FrontendTransport, false),
    ("hr", LogAlias::CapturedReqHeaders, false),
    ("hrl", LogAlias::CapturedReqHeadersList, false),
    ("hs", LogAlias::CapturedResHeaders, false),
    ("hsl", LogAlias::CapturedResHeadersList, false),
    ("HM", LogAlias::HttpMethod, true),
    ("HP", LogAlias::HttpPath, true),
    ("HPO", LogAlias::HttpPathOnly, true),
    ("HQ", LogAlias::HttpQuery, true),
    ("HU", LogAlias::HttpUri, true),
    ("HV", LogAlias::HttpVersion, true),
    ("lc", LogAlias::LogCounter, false),
    ("ms", LogAlias::Millis, false),
    ("pid", LogAlias::Pid, false),
    ("r", LogAlias::RequestLine, true),
    ("rc", LogAlias::Retries, false),
    ("rt", LogAlias::RequestCounter, false),
    ("s", LogAlias::Server, false),
    ("sc", LogAlias::ServerConn, false),
    ("si", LogAlias::ServerIp, false),
    ("sp", LogAlias::ServerPort, false),
    ("sq", LogAlias::ServerQueue, false),
    ("sslc", LogAlias::SslCipher, false),
    ("sslv", LogAlias::SslVersion, false),
    ("t", LogAlias::Date, false),
    ("tr", LogAlias::RequestDate, true),
    ("trg", LogAlias::RequestDateGmt, true),
    ("trl", LogAlias::RequestDateLocal, true),
    ("ts", LogAlias::TermState, false),
    ("tsc", LogAlias::TermStateCookie, false),
];

impl LogAlias {
    /// Looks an alias up by the name written after `%` (case-sensitive).
    pub fn from_name(name: &str) -> Option<LogAlias> {
        LOG_ALIASES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, a, _)| *a)
    }

    /// The name written after `%`.
    pub fn name(self) -> &'static str {
        LOG_ALIASES
            .iter()
            .find(|(_, a, _)| *a == self)
            .map(|(n, _, _)| *n)
            .unwrap_or("")
    }

    /// True for aliases HAProxy reserves to `mode http` proxies.
    pub fn http_only(self) -> bool {
        LOG_ALIASES.iter().any(|(_, a, h)| *a == self && *h)
    }

    /// Every alias name (for did-you-mean hints and the docs).
    pub fn names() -> impl Iterator<Item = &'static str> {
        LOG_ALIASES.iter().map(|(n, _, _)| *n)
    }
}

/// One piece of a log-format string.
#[derive(Clone, Debug, Serialize)]
pub enum LogPart {
    /// Verbatim text (`%%` already turned into `%`).
    Text(String),
    /// A `%x` variable.
    Alias { alias: LogAlias, flags: LogFlags },
    /// A `%[sample]` expression.
    Sample { sample: Sample, flags: LogFlags },
}

/// A parsed log-format string (`log-format`, `set-header` values, …).
#[derive(Clone, Debug, Serialize)]
pub struct LogFormat {
    pub parts: Vec<LogPart>,
}

impl LogFormat {
    /// True when the string has no variable part (the runtime can render it once).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, LogPart::Text(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_aliases_round_trip() {
        for name in LogAlias::names() {
            let alias = LogAlias::from_name(name);
            assert_eq!(alias.map(LogAlias::name), Some(name));
        }
        assert!(LogAlias::RequestLine.http_only());
        assert!(!LogAlias::ClientIp.http_only());
    }
}
