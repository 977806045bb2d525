//! Facts about a client connection and its transactions: plain data filled by
//! the connection, TLS and HTTP layers and read by [`crate::runtime::eval`].
//!
//! Nothing here does I/O or evaluates anything. Certificate facts are computed
//! once per handshake ([`CertFacts::from_der`]) in the exact formats HAProxy
//! 2.6 exposes them (`ssl_c_s_dn` oneline and RFC 2253 strings, magnitude
//! serial, SHA-1 fingerprint, `YYMMDDhhmmssZ` dates, OpenSSL algorithm names),
//! so evaluating a fetch is a lookup.

mod cert;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// What is known about the client connection (HAProxy's session).
#[derive(Clone, Debug)]
pub struct ConnFacts {
    /// Client address (`src`, `src_port`, `%ci:%cp`).
    pub src: SocketAddr,
    /// Address the client connected to (`dst`, `dst_port`, `%fi:%fp`).
    pub dst: SocketAddr,
    /// Name of the frontend that accepted the connection (`%f`, `%ft`).
    pub frontend: Arc<str>,
    /// TLS parameters when the listener deciphers TLS (`ssl_fc` is true).
    pub tls: Option<Arc<TlsFacts>>,
    /// When the connection was accepted.
    pub accept_date: SystemTime,
    /// The PROXY protocol header the connection opened with, if any
    /// (`fc_rcvd_proxy`, `fc_pp_*`).
    pub proxy_header: Option<Arc<ProxyHeaderFacts>>,
    /// HAProxy's connection-level error code (`fc_err`): 0 on a connection
    /// that was established; set only for the error log of one that failed.
    pub conn_error: i64,
    /// The Generation's Lua states, for `lua.<name>` fetches and converters.
    pub lua: Option<Arc<crate::lua::LuaRuntime>>,
}

/// What a received PROXY v2 header carried besides the addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyHeaderFacts {
    /// The AUTHORITY TLV (`fc_pp_authority`).
    pub authority: Option<bytes::Bytes>,
    /// The UNIQUE_ID TLV (`fc_pp_unique_id`).
    pub unique_id: Option<bytes::Bytes>,
}

/// The TLS session of the client connection, as the `ssl_fc_*` / `ssl_c_*` /
/// `ssl_f_*` fetches see it.
#[derive(Clone, Debug, Default)]
pub struct TlsFacts {
    /// SNI the client sent (`ssl_fc_sni`).
    pub sni: Option<String>,
    /// Protocol, cipher, ALPN and resumption (`ssl_fc_protocol`…).
    pub session: SessionFacts,
    /// The client certificate attached to the session, also on resumption
    /// (`ssl_c_used`).
    pub client: Option<PeerCertFacts>,
    /// A certificate was presented and verified during *this* handshake
    /// (`ssl_fc_has_crt`): false on resumption even when `client` is set.
    pub cert_presented_this_handshake: bool,
    /// Final X509 verify result (`ssl_c_verify`): 0 when verified, and also
    /// when no certificate was sent; OpenSSL's `X509_V_ERR_*` numbers.
    pub verify_result: i64,
    /// First verify error at depth 0 (`ssl_c_err`).
    pub crt_err: i64,
    /// First verify error at depth > 0 (`ssl_c_ca_err`) and its depth
    /// (`ssl_c_ca_err_depth`).
    pub ca_err: i64,
    pub ca_err_depth: i64,
    /// OpenSSL error code recorded on the connection (`ssl_fc_err`), 0 when none.
    pub error_code: i64,
    /// OpenSSL's reason text of `error_code` (`ssl_fc_err_str`).
    pub error_reason: Option<&'static str>,
    /// The certificate the frontend presented (chosen by SNI), for `ssl_f_*`.
    pub frontend_cert: Option<Arc<CertFacts>>,
}

/// What was negotiated on one TLS connection, either side: the client's
/// (`ssl_fc_*`) or the one to a server (`ssl_bc_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionFacts {
    /// Protocol name as OpenSSL prints it: `TLSv1.3`, `TLSv1.2`.
    pub protocol: &'static str,
    /// Cipher name as HAProxy prints it: `TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`.
    pub cipher: &'static str,
    /// Negotiated ALPN protocol; `None` when none was agreed.
    pub alpn: Option<Vec<u8>>,
    /// The session was resumed.
    pub resumed: bool,
}

/// The TLS of the connection to a server that carried a response, as the
/// `ssl_bc_*` and `ssl_s_*` fetches see it. Computed once per connection
/// and kept with it, so a pooled connection reports the same facts for
/// every response it carries (as HAProxy's reused connection does).
#[derive(Clone, Debug, Default)]
pub struct BackendTlsFacts {
    pub session: SessionFacts,
    /// The certificates the server sent; `None` when its leaf cannot be
    /// parsed (only possible under `verify none`).
    pub server: Option<PeerCertFacts>,
}

/// The certificates a peer sent.
#[derive(Clone, Debug)]
pub struct PeerCertFacts {
    /// The peer's leaf certificate.
    pub leaf: Arc<CertFacts>,
    /// DER of the certificates the peer sent after its leaf, in order
    /// (`ssl_c_chain_der`: OpenSSL's server-side peer chain excludes the
    /// leaf; `ssl_s_chain_der` puts the leaf in front).
    pub chain_der: Vec<Vec<u8>>,
}

impl PeerCertFacts {
    /// The leaf and the chain after it; `None` when the leaf cannot be
    /// parsed.
    pub fn from_ders<'a>(
        leaf: &[u8],
        rest: impl IntoIterator<Item = &'a [u8]>,
    ) -> Option<PeerCertFacts> {
        Some(PeerCertFacts {
            leaf: Arc::new(CertFacts::from_der(leaf)?),
            chain_der: rest.into_iter().map(<[u8]>::to_vec).collect(),
        })
    }
}

/// One certificate, pre-rendered in HAProxy's formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// DER encoding (`ssl_c_der`).
    pub der: Vec<u8>,
    pub subject: DnFacts,
    pub issuer: DnFacts,
    /// Serial number magnitude bytes, as OpenSSL stores them: no sign byte,
    /// no leading zero (`ssl_c_serial`; `,hex` gives the usual uppercase form).
    pub serial: Vec<u8>,
    /// SHA-1 of the DER (`ssl_c_sha1`).
    pub sha1: [u8; 20],
    /// Validity bounds as `YYMMDDhhmmssZ` (`ssl_c_notbefore`/`notafter`);
    /// `None` where HAProxy's fetch fails: UTCTime years 1950–1999 and
    /// GeneralizedTime years outside 2000–2099.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// X.509 version number (v3 → 3).
    pub version: i64,
    /// OpenSSL short name of the TBS signature algorithm (`RSA-SHA256`,
    /// `ecdsa-with-SHA256`, `UNDEF` when OpenSSL would not know it).
    pub sig_alg: String,
    /// OpenSSL short name of the public key algorithm (`rsaEncryption`,
    /// `id-ecPublicKey`, `ED25519`).
    pub key_alg: String,
}

impl CertFacts {
    /// Parses a DER certificate and renders everything HAProxy's fetches
    /// expose. `None` when the DER is not a certificate x509-parser accepts.
    pub fn from_der(der: &[u8]) -> Option<CertFacts> {
        cert::from_der(der)
    }
}

/// A distinguished name in the forms the DN fetches return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnFacts {
    /// Attributes in certificate order.
    pub entries: Vec<DnEntry>,
    /// HAProxy's own oneline form: `/` + short name + `=` + raw value for each
    /// attribute in certificate order (`/C=FR/O=Acme/CN=x`). Raw value bytes
    /// are copied unescaped, as HAProxy does.
    pub oneline: Vec<u8>,
    /// OpenSSL `XN_FLAG_RFC2253` form (`CN=x,O=Acme,C=FR`: reversed, `,`
    /// between RDNs, `+` inside a multi-valued RDN, RFC 2253 escaping, bytes
    /// above 0x7F as `\XX`). `None` where OpenSSL's printer fails (a
    /// malformed BMP/Universal string).
    pub rfc2253: Option<String>,
}

impl DnFacts {
    /// The value of the `occurrence`-th attribute whose short name (or dotted
    /// OID for names OpenSSL does not know) equals `entry` case-insensitively:
    /// counted from the start when positive, from the end when negative; 0
    /// never matches (HAProxy's `ssl_sock_get_dn_entry`).
    pub fn entry(&self, entry: &str, occurrence: i64) -> Option<&[u8]> {
        let matching = |e: &&DnEntry| e.name.eq_ignore_ascii_case(entry);
        let nth = |n: i64| usize::try_from(n).ok()?.checked_sub(1);
        if occurrence > 0 {
            self.entries
                .iter()
                .filter(matching)
                .nth(nth(occurrence)?)
                .map(|e| e.value.as_slice())
        } else if occurrence < 0 {
            self.entries
                .iter()
                .rev()
                .filter(matching)
                .nth(nth(occurrence.checked_neg()?)?)
                .map(|e| e.value.as_slice())
        } else {
            None
        }
    }
}

/// One attribute of a distinguished name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnEntry {
    /// OpenSSL short name (`CN`, `emailAddress`, `DC`…), or the dotted OID
    /// when OpenSSL has no name for it.
    pub name: String,
    /// Raw content bytes of the attribute value (what HAProxy copies).
    pub value: Vec<u8>,
    /// Index of the RDN (SET) holding the attribute: equal for the members of
    /// a multi-valued RDN.
    pub rdn: usize,
}

/// What the TCP layer has read from the client before any HTTP parsing
/// (`tcp-request content` with an inspect delay).
#[derive(Clone, Debug)]
pub struct ContentFacts {
    /// The bytes waiting in the request buffer (`req.len`, `req.payload`,
    /// `req.ssl_sni`…, `REQ_CONTENT`).
    pub data: bytes::Bytes,
    /// The most the buffer holds (`tune.bufsize`): payload fetches reaching
    /// past it can never match.
    pub limit: usize,
    /// RDP cookies found in the buffer (`RDP_COOKIE`).
    pub rdp_cookie_count: usize,
    /// The inspect delay expired or the buffer is full: no more data will
    /// change the verdict (`WAIT_END`).
    pub inspect_done: bool,
}

impl Default for ContentFacts {
    /// An empty buffer of HAProxy's default size, still waiting for data.
    fn default() -> Self {
        ContentFacts {
            data: bytes::Bytes::new(),
            limit: 16_384,
            rdp_cookie_count: 0,
            inspect_done: false,
        }
    }
}

/// Everything a log line needs beyond the connection and the HTTP messages,
/// in HAProxy's own representation (`struct strm_logs` and friends) so the
/// aliases compute exactly as HAProxy does.
#[derive(Clone, Debug)]
pub struct LogFacts {
    /// When this stream started: the connection's accept date for its first
    /// request, the end of the previous transaction for later ones (`%t`,
    /// `%T`, `%Ts`, `%ms`; `%tr` adds idle and handshake times).
    pub accept_date: SystemTime,
    pub timers: LogTimers,
    /// Backend name (`%b`); the frontend's name when no backend was chosen.
    pub backend: Arc<str>,
    /// The backend is in `mode http` (changes `%Td`).
    pub backend_is_http: bool,
    /// Server name (`%s`); `None` prints `<NOSRV>`.
    pub server: Option<Arc<str>>,
    /// Final status (`%ST`); -1 when there was no response.
    pub status: i64,
    /// Bytes sent to the client (`%B`) and received from it (`%U`).
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// False while logging before the end (`option logasap`): `%B`, `%Ta`,
    /// `%Tt` and `%Tu` are then prefixed with `+`.
    pub bytes_final: bool,
    pub termination: Termination,
    /// Cookie persistence states for `%tsc` (`None`: the backend uses no
    /// cookie, printed `--`).
    pub cookie_states: Option<(CookieState, SetCookieState)>,
    /// Captured request / response cookie (`%CC`, `%CS`).
    pub captured_req_cookie: Option<String>,
    pub captured_res_cookie: Option<String>,
    /// `capture request header` slots (`%hr`, `%hrl`); empty when the frontend
    /// captures nothing, `None` for a slot whose header was absent.
    pub req_captures: Vec<Option<Vec<u8>>>,
    /// `capture response header` slots (`%hs`, `%hsl`).
    pub res_captures: Vec<Option<Vec<u8>>>,
    /// The request line as received (HAProxy's `txn->uri`: method, URI and
    /// version, at most 1023 bytes; see [`crate::runtime::eval::request_line`]);
    /// `None` prints `<BADREQ>`.
    pub request_line: Option<Vec<u8>>,
    /// Unique ID of the request (`%ID`).
    pub unique_id: Option<String>,
    pub counters: LogCounters,
    /// Addresses of the server-side connection: source (`%bi:%bp`) and
    /// destination (`%si:%sp`).
    pub backend_conn: Option<(SocketAddr, SocketAddr)>,
    /// TLS of that connection, for `ssl_bc*` / `ssl_s_*` in log formats.
    pub backend_tls: Option<Arc<BackendTlsFacts>>,
    /// Host name (`%H`) and process id (`%pid`).
    pub hostname: Arc<str>,
    pub pid: u32,
}

impl LogFacts {
    /// What a stream knows before anything happened: no backend chosen (the
    /// frontend's name stands in, as in HAProxy), no server, no status, no
    /// timer reached. The HTTP and TCP layers update the fields as the
    /// stream progresses.
    pub fn new(conn: &ConnFacts) -> LogFacts {
        LogFacts {
            accept_date: conn.accept_date,
            timers: LogTimers::default(),
            backend: conn.frontend.clone(),
            backend_is_http: false,
            server: None,
            status: -1,
            bytes_out: 0,
            bytes_in: 0,
            bytes_final: true,
            termination: Termination::default(),
            cookie_states: None,
            captured_req_cookie: None,
            captured_res_cookie: None,
            req_captures: Vec::new(),
            res_captures: Vec::new(),
            request_line: None,
            unique_id: None,
            counters: LogCounters::default(),
            backend_conn: None,
            backend_tls: None,
            hostname: host_name(),
            pid: std::process::id(),
        }
    }
}

/// The machine's host name (`gethostname`), read once.
fn host_name() -> Arc<str> {
    static NAME: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_string())
            .into()
    })
    .clone()
}

/// HAProxy's stream timers, in milliseconds counted from `accept_date`, -1
/// when the event did not happen (`%Th %Ti %TR %Tw %Tc %Tr %Td %Ta %Tt`
/// derive from these exactly as in `sess_build_logline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTimers {
    /// Handshake duration (`%Th`).
    pub handshake: i64,
    /// Idle time before the first request byte (`%Ti`); -1 unknown.
    pub idle: i64,
    /// Complete request headers received.
    pub request: i64,
    /// Left the queue (a server connection slot was obtained).
    pub queue: i64,
    /// Server connection established.
    pub connect: i64,
    /// Response headers received.
    pub data: i64,
    /// End of the stream (`%Tt`).
    pub close: i64,
}

impl Default for LogTimers {
    fn default() -> Self {
        LogTimers {
            handshake: 0,
            idle: -1,
            request: -1,
            queue: -1,
            connect: -1,
            data: -1,
            close: 0,
        }
    }
}

/// Connection and queue counters printed by the default formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Process-wide active connections (`%ac`).
    pub act_conn: u64,
    /// Frontend / backend / server concurrent connections (`%fc %bc %sc`).
    pub fe_conn: u64,
    pub be_conn: u64,
    pub srv_conn: u64,
    /// Connection retries (`%rc`), prefixed with `+` when redispatched.
    pub retries: u64,
    pub redispatched: bool,
    /// Queue positions (`%sq`, `%bq`).
    pub srv_queue: u64,
    pub be_queue: u64,
    /// Frontend log counter (`%lc`) and request counter (`%rt`).
    pub log_count: u64,
    pub request_id: u64,
}

/// How a stream ended: the two first characters of `%ts`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Termination {
    pub cause: TermCause,
    pub state: FinState,
}

/// First character of `%ts`: who or what ended the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TermCause {
    #[default]
    None,
    /// `L`: the proxy answered locally (`http-request return`, deny…).
    Local,
    ClientTimeout,
    ClientAbort,
    ServerTimeout,
    ServerError,
    /// `P`: a proxy rule or protocol check refused the stream.
    ProxyCond,
    Resource,
    Internal,
    Down,
    Killed,
    Up,
}

impl TermCause {
    /// HAProxy's character (`sess_term_cond`).
    pub fn as_char(self) -> char {
        match self {
            TermCause::None => '-',
            TermCause::Local => 'L',
            TermCause::ClientTimeout => 'c',
            TermCause::ClientAbort => 'C',
            TermCause::ServerTimeout => 's',
            TermCause::ServerError => 'S',
            TermCause::ProxyCond => 'P',
            TermCause::Resource => 'R',
            TermCause::Internal => 'I',
            TermCause::Down => 'D',
            TermCause::Killed => 'K',
            TermCause::Up => 'U',
        }
    }
}

/// Second character of `%ts`: the stream's state when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FinState {
    #[default]
    None,
    Request,
    Connect,
    Headers,
    Data,
    Last,
    Queue,
    Tarpit,
}

impl FinState {
    /// HAProxy's character (`sess_fin_state`).
    pub fn as_char(self) -> char {
        match self {
            FinState::None => '-',
            FinState::Request => 'R',
            FinState::Connect => 'C',
            FinState::Headers => 'H',
            FinState::Data => 'D',
            FinState::Last => 'L',
            FinState::Queue => 'Q',
            FinState::Tarpit => 'T',
        }
    }
}

/// Third character of `%tsc`: the persistence cookie the client sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieState {
    None,
    Invalid,
    Down,
    Valid,
    Expired,
    Old,
    Unused,
}

impl CookieState {
    /// HAProxy's character (`sess_cookie`).
    pub fn as_char(self) -> char {
        match self {
            CookieState::None => 'N',
            CookieState::Invalid => 'I',
            CookieState::Down => 'D',
            CookieState::Valid => 'V',
            CookieState::Expired => 'E',
            CookieState::Old => 'O',
            CookieState::Unused => 'U',
        }
    }
}

/// Fourth character of `%tsc`: what happened to the server's Set-Cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookieState {
    None,
    Passive,
    Deleted,
    Inserted,
    Rewritten,
    Updated,
}

impl SetCookieState {
    /// HAProxy's character (`sess_set_cookie`).
    pub fn as_char(self) -> char {
        match self {
            SetCookieState::None => 'N',
            SetCookieState::Passive => 'P',
            SetCookieState::Deleted => 'D',
            SetCookieState::Inserted => 'I',
            SetCookieState::Rewritten => 'R',
            SetCookieState::Updated => 'U',
        }
    }
}

#[cfg(test)]
#[path = "facts/tests.rs"]
mod tests;
