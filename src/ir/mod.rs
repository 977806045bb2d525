//! The typed intermediate representation: what lowering produces from the AST and
//! what the runtime builds a `Generation` from. No text to re-parse, no sockets;
//! invalid states are unrepresentable where the types allow it (e.g.
//! [`ClientVerify::Required`] carries its trust store, there is no "verify
//! required without CA" state).
//!
//! Every proxy keeps the `file:line` it came from so runtime messages and the
//! stats page can point back at the configuration.

pub mod expr;
pub mod lua;
pub mod peers;
pub mod persist;
pub mod stick;

use crate::tls::{CaBundle, CertKey, CrlSet};
use expr::{AclTerm, Condition, LogFormat, Mode, Sample};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// A whole validated configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub global: Global,
    /// Frontends and listens, in declaration order.
    pub frontends: Vec<Frontend>,
    /// Backends and listens, in declaration order.
    pub backends: Vec<Backend>,
    pub userlists: Vec<Userlist>,
    /// `peers` sections that synchronise stick tables.
    pub peers: Vec<peers::Peers>,
    /// Stick tables declared by `table` lines of `peers` sections (named
    /// `<section>/<table>`).
    pub peer_tables: Vec<stick::StickTable>,
    /// `resolvers` sections servers refer to (with the implicit `default`
    /// one when it is used), in declaration order.
    pub resolvers: Vec<Resolvers>,
}

/// Durations are kept in milliseconds, HAProxy's unit.
pub type Millis = u64;

impl Global {
    /// The most bytes of request headers accepted: HAProxy's buffer minus the
    /// room it keeps for rewrites.
    pub fn max_request_head(&self) -> usize {
        let bufsize = self.tune_bufsize.unwrap_or(16_384) as usize;
        let maxrewrite = self
            .tune_maxrewrite
            .map_or(1024.min(bufsize / 2), |m| m as usize);
        bufsize.saturating_sub(maxrewrite)
    }

    /// The most header lines in a request.
    pub fn max_request_headers(&self) -> usize {
        self.tune_http_maxhdr.unwrap_or(101) as usize
    }
}

/// Process-wide settings (`global`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Global {
    /// `lua-load`, `lua-load-per-thread`, `lua-prepend-path`, `tune.lua.*`.
    pub lua: lua::LuaConfig,
    /// Worker threads (`nbthread`); `None` = one per CPU, as HAProxy.
    pub nbthread: Option<u32>,
    /// `cpu-map`: the CPUs each worker thread (numbered from 1) may run on;
    /// threads not listed are not pinned.
    pub cpu_map: std::collections::BTreeMap<u32, Vec<u32>>,
    /// Process-wide connection limit (`maxconn`).
    pub maxconn: Option<u32>,
    pub log: Vec<LogTarget>,
    pub pidfile: Option<PathBuf>,
    pub hard_stop_after: Option<Millis>,
    /// Default `verify` of servers with `ssl` and no `verify` (`ssl-server-verify`).
    pub server_verify_default: ServerVerifyDefault,
    /// `ssl-default-bind-*`: applied to every `bind … ssl` before its own options.
    pub bind_tls_defaults: TlsParams,
    /// `ssl-default-server-*`: applied to every `server … ssl`.
    pub server_tls_defaults: TlsParams,
    pub crt_base: Option<PathBuf>,
    pub ca_base: Option<PathBuf>,
    /// `user`/`uid`: the process drops to this user id once listeners are bound.
    pub uid: Option<u32>,
    /// `group`/`gid`: the group id taken with the user id.
    pub gid: Option<u32>,
    /// `chroot`: directory the process confines itself to after binding.
    pub chroot: Option<PathBuf>,
    /// `daemon`: go to the background once listeners are bound.
    pub daemon: bool,
    /// `stats socket`: where the runtime API listens, in declaration order.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: idle time after which a runtime API session is
    /// closed; `None` = HAProxy's 10 s.
    pub stats_timeout: Option<Millis>,
    /// `tune.bufsize` (HAProxy default 16384): with `tune.maxrewrite`, bounds
    /// the size of request headers.
    pub tune_bufsize: Option<u32>,
    /// `tune.maxrewrite` (default 1024, at most half of the buffer).
    pub tune_maxrewrite: Option<u32>,
    /// `tune.http.maxhdr` (default 101): most header lines in a request.
    pub tune_http_maxhdr: Option<u32>,
    /// `tune.ssl.cachesize` / `tune.ssl.lifetime`.
    pub session_cache: SessionCache,
    /// `tune.ssl.ssl-ctx-cache-size`: generated certificates kept per bind
    /// (`None`: HAProxy's default, 1000).
    pub ssl_ctx_cache_size: Option<usize>,
    /// `ssl-dh-param-file` / `tune.ssl.default-dh-param` (the file wins).
    pub dh_file: Option<std::sync::Arc<crate::tls::dh::DhParams>>,
    pub dh_default_bits: Option<u32>,
}

/// One `stats socket` line: a runtime API listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsSocket {
    pub address: StatsAddress,
    /// `mode <octal>`: permissions of a Unix socket file (umask otherwise).
    pub mode: Option<u32>,
    /// `level`: what the sessions of this socket may do.
    pub level: StatsLevel,
    /// `expose-fd listeners`: accepted for compatibility; portcullis has no
    /// master-worker fd passing, so it changes nothing.
    pub expose_fd_listeners: bool,
    /// `file:line` of the declaration, for runtime messages.
    pub origin: String,
}

/// Where a runtime API socket listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StatsAddress {
    /// A Unix stream socket file.
    Unix(PathBuf),
    /// A TCP address (`ipv4@ip:port` or `ip:port`).
    Tcp(std::net::SocketAddr),
}

/// Access level of a runtime API session, ordered from least to most
/// privileged (HAProxy's `ACCESS_LVL_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum StatsLevel {
    User,
    /// HAProxy's default.
    #[default]
    Operator,
    Admin,
}

impl StatsLevel {
    /// The keyword, as `show cli level` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsLevel::User => "user",
            StatsLevel::Operator => "operator",
            StatsLevel::Admin => "admin",
        }
    }
}

/// `ssl-server-verify`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum ServerVerifyDefault {
    #[default]
    Required,
    None,
}

/// Where log lines go (`log` in global or a proxy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogTarget {
    pub address: LogAddress,
    /// `len <n>`: maximum line length.
    pub max_len: Option<u32>,
    pub format: Option<String>,
    pub facility: String,
    pub level: Option<String>,
    pub min_level: Option<String>,
}

/// Destination of a log target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum LogAddress {
    Stdout,
    Stderr,
    /// A Unix datagram socket (`/dev/log`).
    Unix(PathBuf),
    /// Syslog over UDP.
    Udp {
        host: String,
        port: u16,
    },
}

/// Log settings of a proxy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProxyLog {
    /// `log global` was given: use the global targets.
    pub global: bool,
    pub targets: Vec<LogTarget>,
    pub format: LogStyle,
    /// `option dontlognull`.
    pub dont_log_null: bool,
    /// `option logasap`: log when the response headers leave, not at the end.
    pub logasap: bool,
    /// `error-log-format`: the line of connection-level errors (failed TLS
    /// handshakes, requests the HTTP layer refused before any stream)
    /// instead of HAProxy's fixed error line or the access-log format.
    pub error_format: Option<LogFormat>,
}

/// Which access-log line format a proxy uses.
#[derive(Clone, Debug, Default, Serialize)]
pub enum LogStyle {
    /// HAProxy's default short format.
    #[default]
    Default,
    /// `option httplog`.
    Http,
    /// `option httplog clf`.
    HttpClf,
    /// `option tcplog`.
    Tcp,
    /// `log-format`.
    Custom(LogFormat),
}

/// Every `timeout` of a proxy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeouts {
    pub client: Option<Millis>,
    pub server: Option<Millis>,
    pub connect: Option<Millis>,
    pub http_request: Option<Millis>,
    pub http_keep_alive: Option<Millis>,
    pub queue: Option<Millis>,
    pub tunnel: Option<Millis>,
    pub client_fin: Option<Millis>,
    pub server_fin: Option<Millis>,
    pub check: Option<Millis>,
    pub tarpit: Option<Millis>,
}

/// The part of a frontend or backend that is built from the same keywords.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyCommon {
    pub name: String,
    /// The proxy's `stick-table`, named after the proxy.
    pub stick_table: Option<stick::StickTable>,
    /// `file:line` of the section header.
    pub origin: String,
    pub mode: Mode,
    pub timeouts: Timeouts,
    pub log: ProxyLog,
    /// Named ACLs: every line of a name is one term, the terms are ORed.
    pub acls: Vec<NamedAcl>,
    pub tcp_request_connection: Vec<TcpRule>,
    /// `tcp-request session`: after the PROXY header and TLS handshake.
    pub tcp_request_session: Vec<TcpRule>,
    pub tcp_request_content: Vec<TcpRule>,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    /// `http-after-response`: run on every response sent, the proxy's own too.
    pub http_after_response: Vec<HttpRule>,
    /// `http-reuse` (backends).
    pub http_reuse: HttpReuse,
    /// `disabled`: a disabled backend answers 503 without running its rules
    /// (a disabled frontend is not in the configuration at all: never bound).
    pub disabled: bool,
    /// `option forwardfor`.
    pub forward_for: Option<ForwardFor>,
    /// `option http-server-close`.
    pub http_server_close: bool,
    /// `option httpclose`: close both sides after each response.
    pub http_close: bool,
    /// `compression algo|type|offload`.
    pub compression: Option<Compression>,
    /// `unique-id-format`: the request's unique ID (`unique-id`, `%ID`).
    pub unique_id_format: Option<LogFormat>,
    /// `unique-id-header`: the request header carrying that ID to servers.
    pub unique_id_header: Option<String>,
    /// `filter trace` lines, in declaration order.
    pub trace_filters: Vec<TraceFilter>,
    /// `errorfile <code> <file>`: raw HTTP responses, read at check time.
    pub errorfiles: Vec<ErrorFile>,
    pub stats: Option<Stats>,
    /// The classic `redirect` rules, evaluated after `http-request` rules.
    pub redirects: Vec<RedirectRule>,
}

/// A classic `redirect … [if|unless cond]` rule.
#[derive(Clone, Debug, Serialize)]
pub struct RedirectRule {
    pub redirect: Redirect,
    pub cond: Option<Condition>,
    pub origin: String,
}

/// Response compression of a proxy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Compression {
    /// In preference order; empty means the proxy compresses nothing.
    pub algos: Vec<CompressAlgo>,
    /// Lower-cased media types; empty = every type.
    pub types: Vec<String>,
    /// `compression offload`: servers never see Accept-Encoding.
    pub offload: bool,
}

/// Compression algorithms (`compression algo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CompressAlgo {
    Gzip,
    /// zlib-wrapped deflate (`deflate`).
    Deflate,
    /// Headerless deflate (`raw-deflate`).
    RawDeflate,
}

/// A named ACL with its ORed terms.
#[derive(Clone, Debug, Serialize)]
pub struct NamedAcl {
    pub name: String,
    pub terms: Vec<AclTerm>,
}

/// A frontend (or the frontend half of a `listen`).
#[derive(Clone, Debug, Serialize)]
pub struct Frontend {
    pub common: ProxyCommon,
    pub binds: Vec<Bind>,
    pub maxconn: Option<u32>,
    /// `use_backend` rules in order; the first whose condition holds wins.
    pub use_backend: Vec<UseBackend>,
    /// Index into [`Config::backends`] (a `listen` defaults to itself).
    pub default_backend: Option<usize>,
    pub monitor_uri: Option<String>,
    /// `monitor fail` conditions: when one holds, `monitor_uri` answers 503.
    pub monitor_fail: Vec<expr::Condition>,
    /// `capture request header <name> len <n>`, in declaration order (`%hr`).
    pub request_captures: Vec<HeaderCapture>,
    /// `capture response header <name> len <n>` (`%hs`).
    pub response_captures: Vec<HeaderCapture>,
}

/// One captured header shown in the access log.
#[derive(Clone, Debug, Serialize)]
pub struct HeaderCapture {
    pub name: String,
    /// At most this many bytes are kept.
    pub len: usize,
}

/// A backend (or the backend half of a `listen`).
#[derive(Clone, Debug, Serialize)]
pub struct Backend {
    pub common: ProxyCommon,
    pub balance: Balance,
    pub servers: Vec<Server>,
    /// `retries` (HAProxy default 3).
    pub retries: u32,
    /// `option redispatch [interval]`.
    pub redispatch: Option<i32>,
    pub health_check: HealthCheck,
    /// `hash-type`, `option allbackups`.
    pub lb: LbOptions,
    /// `cookie`, `option persist`, `stick` rules.
    pub persist: persist::Persistence,
}

/// Load-balancing settings besides the algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LbOptions {
    pub hash_type: HashType,
    /// `option allbackups`: all backup servers share the load once every
    /// active one is down (otherwise only the first backup is used).
    pub allbackups: bool,
}

/// `hash-type <method> [<function>] [avalanche]` (default: map-based sdbm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HashType {
    /// `consistent` (a hash ring) rather than `map-based` (hash modulo the
    /// total weight).
    pub consistent: bool,
    pub function: HashFunction,
    /// `avalanche`: the hash is mixed once more before use.
    pub avalanche: bool,
}

/// The hash functions of `hash-type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum HashFunction {
    #[default]
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
}

/// `use_backend <name> [cond]`.
#[derive(Clone, Debug, Serialize)]
pub struct UseBackend {
    pub target: BackendTarget,
    pub cond: Option<Condition>,
}

/// Which backend a `use_backend` names.
#[derive(Clone, Debug, Serialize)]
pub enum BackendTarget {
    /// Index into [`Config::backends`], resolved at check time.
    Static(usize),
    /// A log-format resolved per request (`use_backend be_%[req.hdr(host)]`).
    Dynamic(LogFormat),
}

/// `balance`.
#[derive(Clone, Debug, Default, Serialize)]
pub enum Balance {
    #[default]
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Source,
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    /// `url_param <name>`: hash of the query-string parameter's value.
    UrlParam {
        name: String,
    },
    /// `random[(<draws>)]`: the least loaded of `draws` random picks.
    Random {
        draws: u32,
    },
}

/// Health-check settings of a backend (`option httpchk`, `http-check`,
/// `option tcp-check`, `tcp-check`, `option log-health-checks`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct HealthCheck {
    /// `option httpchk` was given (and not undone): HTTP checks instead of
    /// TCP connects.
    pub httpchk: bool,
    /// The request of HTTP checks (`option httpchk [meth] [uri] [ver]`,
    /// `http-check send`).
    pub http: Option<HttpCheckRequest>,
    /// `http-check expect …` rules.
    pub expect: Vec<HttpCheckExpect>,
    /// `option tcp-check`: the `tcp-check` rules run instead of a bare
    /// connect (the last of `option httpchk` / `option tcp-check` wins).
    pub tcp_check: bool,
    /// `tcp-check …` rules in order.
    pub tcp_rules: Vec<TcpCheckRule>,
    /// `option ssl-hello-chk`: checks send an SSLv3 ClientHello and want a
    /// TLS record (handshake or alert) back.
    pub ssl_hello: bool,
    /// `option log-health-checks`: every health change is logged.
    pub log_health_checks: bool,
}

/// One `tcp-check` rule.
#[derive(Clone, Debug, Serialize)]
pub enum TcpCheckRule {
    /// `tcp-check connect [port <n>] [ssl] [sni <name>]`.
    Connect {
        port: Option<u16>,
        ssl: bool,
        sni: Option<String>,
    },
    /// `tcp-check send <string>` / `send-binary <hex>`.
    Send(Vec<u8>),
    /// `tcp-check expect [!] string|rstring|binary <pattern>`.
    Expect {
        negate: bool,
        matcher: TcpCheckMatch,
    },
}

/// What a `tcp-check expect` looks for in the data received so far.
#[derive(Clone, Debug, Serialize)]
pub enum TcpCheckMatch {
    String(String),
    /// A regex, checked at `check` time.
    Rstring(String),
    Binary(Vec<u8>),
}

/// The request an HTTP health check sends.
#[derive(Clone, Debug, Serialize)]
pub struct HttpCheckRequest {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// `http-check send body <string>`.
    pub body: Option<String>,
}

/// `http-check expect [!] <match> <pattern>`.
#[derive(Clone, Debug, Serialize)]
pub struct HttpCheckExpect {
    pub negate: bool,
    pub kind: String,
    pub pattern: String,
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
#[derive(Clone, Debug, Serialize)]
pub struct ForwardFor {
    pub except: Option<IpNet>,
    pub header: String,
    pub if_none: bool,
}

/// An IP network (`10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// `errorfile <code> <file>`.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorFile {
    pub status: u16,
    pub path: PathBuf,
    /// The raw HTTP response, read at check time.
    #[serde(skip)]
    pub content: Arc<Vec<u8>>,
}

/// The stats page (`stats enable`, `stats uri`, …).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub uri: String,
    pub realm: Option<String>,
    /// `stats auth user:pass`, several allowed.
    pub auth: Vec<(String, String)>,
    /// `stats admin if <cond>`.
    pub admin: Option<Condition>,
    pub refresh: Option<Millis>,
    /// `stats show-legends`: process information and the status legend.
    pub show_legends: bool,
    /// `stats show-node [name]`: `Some("")` shows the host name.
    pub show_node: Option<String>,
    /// `stats show-desc [text]`.
    pub show_desc: Option<String>,
    /// `stats hide-version`.
    pub hide_version: bool,
}

/// `userlist` section (for `http_auth()` and `http-request auth`).
#[derive(Clone, Debug, Serialize)]
pub struct Userlist {
    pub name: String,
    pub users: Vec<User>,
    pub groups: Vec<(String, Vec<String>)>,
}

/// One user of a userlist.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub groups: Vec<String>,
}

/// How a userlist password is stored.
#[derive(Clone, Debug, Serialize)]
pub enum Password {
    /// `insecure-password`.
    #[serde(skip)]
    Insecure(String),
    /// `password <crypt(3) hash>`.
    Hashed(String),
}

// ---------------------------------------------------------------------------
// Listeners and client-side TLS

/// One `bind` line.
#[derive(Clone, Debug, Serialize)]
pub struct Bind {
    /// `file:line` of the bind line.
    pub origin: String,
    /// The address as written (`:443`, `127.0.0.1:8443-8445`).
    pub spec: String,
    pub addresses: Vec<ListenAddr>,
    /// `name <n>`.
    pub name: Option<String>,
    pub maxconn: Option<u32>,
    /// `backlog` of the bind line, else of its frontend: the listen queue.
    pub backlog: Option<u32>,
    /// `tfo`: enable TCP Fast Open on the listening socket, so a returning
    /// client's ClientHello rides in the SYN.
    pub tfo: bool,
    /// `accept-proxy`: a PROXY protocol header precedes every connection.
    pub accept_proxy: bool,
    pub tls: Option<BindTls>,
}

/// A socket address to listen on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ListenAddr {
    /// `host` is `None` for "all addresses" (`:443`, `*:443`).
    Inet {
        host: Option<IpAddr>,
        port: u16,
    },
    Unix(PathBuf),
}

/// TLS termination on a bind: certificates selected by SNI, each with its policy.
#[derive(Clone, Debug, Serialize)]
pub struct BindTls {
    /// In declaration order; the first is the default certificate.
    pub certs: Vec<SniCert>,
    /// `strict-sni`: no default certificate, unknown SNI → `unrecognized_name`.
    pub strict_sni: bool,
    /// Answer 421 when a request's Host maps to another client-verification
    /// policy than the one negotiated (on by default; `no-strict-sni-host`).
    pub sni_host_check: bool,
    /// `tune.ssl.cachesize` / `tune.ssl.lifetime` of the bind's resumption state.
    pub session_cache: SessionCache,
    /// `ca-ignore-err` / `crt-ignore-err`: bind-wide, as in HAProxy.
    pub ignore_errors: IgnoreErrors,
    /// `generate-certificates`: a certificate is minted for an SNI no
    /// configured certificate matches.
    pub generate: Option<GenerateCerts>,
    /// DH parameters of certificates that carry none (`ssl-dh-param-file`,
    /// `tune.ssl.default-dh-param`).
    pub dh: crate::tls::dh::DhDefault,
}

/// `generate-certificates` with its `ca-sign-file`.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateCerts {
    /// The signing CA: its certificate first, and its key.
    pub ca: Arc<CertKey>,
    /// Minted certificates kept (`tune.ssl.ssl-ctx-cache-size`, 1000 by default).
    pub cache_size: usize,
}

/// Session resumption limits (`tune.ssl.cachesize`, `tune.ssl.lifetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SessionCache {
    /// Entries of the stateful cache; 0 turns it off (tickets still work).
    pub size: usize,
    /// Seconds a session may be resumed.
    pub lifetime_secs: u32,
}

impl Default for SessionCache {
    /// HAProxy's defaults: 20000 entries, 300 s.
    fn default() -> Self {
        SessionCache {
            size: 20_000,
            lifetime_secs: 300,
        }
    }
}

/// One certificate of a bind with the SNI names it answers and its policy.
#[derive(Clone, Debug, Serialize)]
pub struct SniCert {
    pub cert: Arc<CertKey>,
    /// Explicit filters (crt-list); empty = the certificate's own CN/SAN names.
    pub filters: Vec<SniFilter>,
    pub policy: TlsPolicy,
    /// `file:line` of the crt-list line, when it came from one.
    pub crt_list_origin: Option<String>,
}

/// One SNI filter of a crt-list line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SniFilter {
    /// Lower-cased name; a wildcard keeps its `*.` prefix.
    pub name: String,
    /// `!name`: exclude.
    pub negated: bool,
}

/// Everything that decides how one handshake is made and verified. Two
/// certificates with equal policies may share a rustls `ServerConfig`; a session
/// never resumes across different policies.
#[derive(Clone, Debug, Serialize)]
pub struct TlsPolicy {
    pub verify: ClientVerify,
    pub params: TlsParams,
    /// `verify-depth N` (portcullis extension): at most N intermediates.
    pub verify_depth: Option<u32>,
    /// `no-ca-names`: do not advertise acceptable CA names.
    pub no_ca_names: bool,
}

/// Client-certificate verification of a policy.
#[derive(Clone, Debug, Serialize)]
pub enum ClientVerify {
    /// No CertificateRequest is sent.
    None,
    /// A certificate is requested; none is fine, a bad one still aborts unless ignored.
    Optional(Trust),
    /// A certificate is required.
    Required(Trust),
}

/// The trust material of a verifying policy.
#[derive(Clone, Debug, Serialize)]
pub struct Trust {
    /// `ca-file`: trusted and advertised as acceptable CA names; intermediates
    /// in it complete client chains.
    pub ca_file: Option<Arc<CaBundle>>,
    /// `ca-verify-file`: trusted, not advertised.
    pub ca_verify_file: Option<Arc<CaBundle>>,
    pub crl: Option<Arc<CrlSet>>,
}

/// `ca-ignore-err` / `crt-ignore-err`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IgnoreErrors {
    pub ca: ErrorSet,
    pub crt: ErrorSet,
}

/// A set of OpenSSL X509 verify error ids.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub enum ErrorSet {
    #[default]
    Nothing,
    All,
    Ids(Vec<u32>),
}

/// TLS protocol parameters shared by binds and servers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsParams {
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    /// TLS ≤ 1.2 cipher suites as OpenSSL names, already narrowed to those the
    /// TLS stack implements; `None` = the stack's defaults.
    pub ciphers: Option<Vec<String>>,
    /// TLS 1.3 suites (`ciphersuites`).
    pub ciphersuites: Option<Vec<String>>,
    /// Key-exchange groups (`curves` / `ecdhe`).
    pub curves: Option<Vec<String>>,
    pub alpn: Option<Vec<String>>,
    pub no_tls_tickets: bool,
    pub prefer_client_ciphers: bool,
}

/// The TLS versions portcullis can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

// ---------------------------------------------------------------------------
// Servers and upstream TLS

/// One `server` line (with `default-server` settings merged in).
#[derive(Clone, Debug, Serialize)]
pub struct Server {
    pub name: String,
    pub origin: String,
    pub address: ServerAddr,
    pub weight: u32,
    pub backup: bool,
    pub disabled: bool,
    pub maxconn: Option<u32>,
    /// `send-proxy` / `send-proxy-v2`: a PROXY protocol header opens every
    /// server connection.
    pub send_proxy: Option<ProxyVersion>,
    /// `proxy-v2-options` (and `send-proxy-v2-ssl[-cn]`): the TLVs a v2
    /// header carries.
    pub proxy_v2: ProxyV2Options,
    /// `pool-max-conn` / `pool-purge-delay`: the server's idle connections.
    pub pool: ServerPool,
    pub check: Option<Box<ServerCheck>>,
    /// Boxed: most servers of big configurations are plain, and a Server is
    /// kept per backend line.
    pub tls: Option<Box<ServerTls>>,
    /// `cookie <value>`: the server's persistence cookie value.
    pub cookie: Option<String>,
    /// `init-addr`: how the address is found at startup, in order.
    pub init_addr: Vec<InitAddr>,
    /// `resolvers`: the name is resolved again at run time (`None`: never).
    pub resolve: Option<Box<ServerResolve>>,
}

/// One `init-addr` method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum InitAddr {
    /// `last`: the server-state file (portcullis has none, so it never gives
    /// an address; kept so the order of the list stays HAProxy's).
    Last,
    /// `libc`: the system resolver (getaddrinfo).
    Libc,
    /// `none`: start without an address, in maintenance.
    None,
    /// A fixed address.
    Ip(IpAddr),
}

/// Run-time resolution of a server's name (`resolvers` on the server line).
#[derive(Clone, Debug, Serialize)]
pub struct ServerResolve {
    /// Index into [`Config::resolvers`].
    pub resolvers: usize,
    /// `resolve-prefer`: the family asked first and preferred in answers.
    pub prefer: AddrFamily,
    /// `resolve-net`: networks whose addresses are preferred.
    pub nets: Vec<IpNet>,
    /// `resolve-opts allow-dup-ip`: may share an address with another server
    /// of the backend resolving the same name.
    pub allow_dup_ip: bool,
}

/// An address family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AddrFamily {
    Ipv4,
    /// HAProxy's default preference.
    #[default]
    Ipv6,
}

/// A `resolvers` section.
#[derive(Clone, Debug, Serialize)]
pub struct Resolvers {
    pub name: String,
    pub origin: String,
    /// UDP name servers, in order (`nameserver`, `parse-resolv-conf`).
    pub nameservers: Vec<Nameserver>,
    /// `accepted_payload_size`: the EDNS0 UDP size announced.
    pub accepted_payload_size: u16,
    /// `resolve_retries`: queries sent before giving up.
    pub resolve_retries: u32,
    /// `timeout resolve`: time between two resolutions of a name.
    pub timeout_resolve: Millis,
    /// `timeout retry`: time to wait for answers before querying again.
    pub timeout_retry: Millis,
    pub hold: ResolverHold,
}

/// One name server of a `resolvers` section.
#[derive(Clone, Debug, Serialize)]
pub struct Nameserver {
    pub name: String,
    pub addr: SocketAddr,
}

/// `hold <status> <period>` of a `resolvers` section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ResolverHold {
    pub nx: Millis,
    pub other: Millis,
    pub refused: Millis,
    pub timeout: Millis,
    /// Only `do-resolve` reads it in HAProxy 2.6 (not supported here).
    pub valid: Millis,
    pub obsolete: Millis,
}

impl Default for ResolverHold {
    /// HAProxy 2.6's defaults.
    fn default() -> Self {
        ResolverHold {
            nx: 30_000,
            other: 30_000,
            refused: 30_000,
            timeout: 30_000,
            valid: 10_000,
            obsolete: 0,
        }
    }
}

impl Resolvers {
    /// A section with HAProxy 2.6's defaults and no name server.
    pub fn new(name: &str, origin: String) -> Resolvers {
        Resolvers {
            name: name.to_string(),
            origin,
            nameservers: Vec::new(),
            accepted_payload_size: 512,
            resolve_retries: 3,
            timeout_resolve: 1000,
            timeout_retry: 1000,
            hold: ResolverHold::default(),
        }
    }
}

/// Idle connections kept to a server for reuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerPool {
    /// `pool-max-conn`: most idle connections kept (`None`: no limit).
    pub max_idle: Option<usize>,
    /// `pool-purge-delay`: how long an idle connection is kept.
    pub purge_delay: Option<Millis>,
}

/// `http-reuse`: whether idle server connections serve other requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum HttpReuse {
    /// Every request gets a new server connection.
    Never,
    /// HAProxy's default; portcullis reuses any idle connection.
    #[default]
    Safe,
    Aggressive,
    Always,
}

/// `filter trace [name <name>] [quiet] [random-forwarding] [hexdump]`:
/// a debugging trace of each stream's steps on standard error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceFilter {
    /// Shown in every line; HAProxy's default is `TRACE`.
    pub name: String,
    /// `quiet`: the filter is there but prints nothing.
    pub quiet: bool,
}

/// What a PROXY v2 header tells the server besides the addresses (the
/// client's ALPN is always sent, as HAProxy does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyV2Options {
    /// `ssl`: the TLS TLV (client flags, verify result, version).
    pub ssl: bool,
    /// `cert-cn`: the client certificate's CN, inside the TLS TLV.
    pub cert_cn: bool,
    /// `ssl-cipher`: the cipher name, inside the TLS TLV.
    pub ssl_cipher: bool,
    /// `cert-sig`: the certificate's signature algorithm.
    pub cert_sig: bool,
    /// `cert-key`: the certificate's key algorithm and size.
    pub cert_key: bool,
    /// `authority`: the SNI the client sent.
    pub authority: bool,
    /// `crc32c`: a checksum of the header.
    pub crc32c: bool,
    /// `unique-id`: the stream's unique ID (`unique-id-format`).
    pub unique_id: bool,
}

/// PROXY protocol version sent to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ProxyVersion {
    /// Text header (`send-proxy`).
    V1,
    /// Binary header (`send-proxy-v2`).
    V2,
}

/// Where a server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ServerAddr {
    /// `port` is `None` when the server line has none (use the client's port).
    Inet {
        host: String,
        port: Option<u16>,
    },
    Unix(PathBuf),
}

/// Health checking of one server (`check` and its settings).
#[derive(Clone, Debug, Serialize)]
pub struct ServerCheck {
    pub inter: Millis,
    pub fastinter: Option<Millis>,
    pub downinter: Option<Millis>,
    pub rise: u32,
    pub fall: u32,
    pub port: Option<u16>,
    pub addr: Option<String>,
    /// `check-ssl`: checks speak TLS even when `port`/`addr` redirect them.
    pub ssl: bool,
    pub sni: Option<String>,
    /// The TLS settings of `check-ssl` on a server without `ssl`.
    pub tls: Option<Box<ServerTls>>,
}

/// TLS to a server.
#[derive(Clone, Debug, Serialize)]
pub struct ServerTls {
    pub verify: ServerVerify,
    /// `crt`: client certificate presented when the server asks for one.
    pub client_cert: Option<Arc<CertKey>>,
    /// `sni <expr>`.
    pub sni: Option<Sample>,
    pub params: TlsParams,
    /// `no-ssl-reuse` turns TLS session resumption to this server off.
    pub session_reuse: bool,
}

/// Verification of a server certificate.
#[derive(Clone, Debug, Serialize)]
pub enum ServerVerify {
    None,
    Required {
        ca: Arc<CaBundle>,
        crl: Option<Arc<CrlSet>>,
        /// `verifyhost`: the name to check when no SNI is sent.
        verifyhost: Option<String>,
    },
}

// ---------------------------------------------------------------------------
// Rules

/// A `tcp-request connection|session|content` rule.
#[derive(Clone, Debug, Serialize)]
pub struct TcpRule {
    pub action: TcpAction,
    pub cond: Option<Condition>,
    pub origin: String,
}

/// Actions of tcp-request rules.
#[derive(Clone, Debug, Serialize)]
pub enum TcpAction {
    Accept,
    Reject,
    /// `expect-proxy layer4`.
    ExpectProxy,
    SetVar {
        var: expr::VarName,
        value: Sample,
    },
    UnsetVar(expr::VarName),
    /// `tcp-request inspect-delay` is not a rule but lives with them.
    InspectDelay(Millis),
    /// `track-sc<n>`, `sc-inc-gpc<n>`, `sc-set-gpt0`: session-level counters.
    Stick(stick::StickAction),
}

/// An `http-request` or `http-response` rule.
#[derive(Clone, Debug, Serialize)]
pub struct HttpRule {
    pub action: HttpAction,
    pub cond: Option<Condition>,
    pub origin: String,
}

/// Actions of http-request / http-response rules.
#[derive(Clone, Debug, Serialize)]
pub enum HttpAction {
    Allow,
    SetHeader {
        name: String,
        value: LogFormat,
    },
    AddHeader {
        name: String,
        value: LogFormat,
    },
    DelHeader {
        name: String,
        method: HeaderMatch,
    },
    ReplaceHeader {
        name: String,
        regex: String,
        replacement: LogFormat,
    },
    ReplaceValue {
        name: String,
        regex: String,
        replacement: LogFormat,
    },
    SetPath(LogFormat),
    SetQuery(LogFormat),
    /// `replace-path` / `replace-pathq` / `replace-uri <regex> <format>`.
    ReplaceUri {
        part: UriPart,
        regex: String,
        replacement: LogFormat,
    },
    /// `set-status <code> [reason <text>]` (responses).
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    SetVar {
        var: expr::VarName,
        value: Sample,
    },
    UnsetVar(expr::VarName),
    Deny(Reply),
    Return(Reply),
    Redirect(Redirect),
    Auth {
        realm: Option<String>,
    },
    /// `track-sc<n>`, `sc-inc-gpc<n>`, `sc-set-gpt0`.
    Stick(stick::StickAction),
    /// `set-src`, `set-src-port`, `set-dst`, `set-dst-port`: rewrite an
    /// address of the client connection itself (later requests on it see
    /// the change too; a server without a port follows `dst_port`).
    SetAddr {
        part: AddrPart,
        value: Sample,
    },
    /// `reject`: close the connection (or reset the HTTP/2 stream) without
    /// an answer.
    Reject,
    /// `lua.<name> [args]`: a `core.register_action` function.
    Lua {
        name: String,
        args: Vec<String>,
    },
    /// `use-service lua.<name>`: a `core.register_service` HTTP applet answers.
    UseService(String),
}

/// Which address of the connection a `set-src|dst[-port]` rule rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AddrPart {
    Src,
    SrcPort,
    Dst,
    DstPort,
}

/// The part of the request target a `replace-*` action rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UriPart {
    /// `replace-path`: the path, without the query string.
    Path,
    /// `replace-pathq`: the path and the query string.
    PathQuery,
    /// `replace-uri`: the whole target as received (absolute form included).
    Uri,
}

/// How `del-header -m` matches names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum HeaderMatch {
    #[default]
    Str,
    Beg,
    End,
    Sub,
    Reg,
}

/// A response produced by the proxy (`deny`, `return`).
#[derive(Clone, Debug, Serialize)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: ReplyBody,
    pub headers: Vec<(String, LogFormat)>,
}

/// Payload of a [`Reply`].
#[derive(Clone, Debug, Serialize)]
pub enum ReplyBody {
    /// HAProxy's built-in error page for the status (or the proxy's errorfile).
    Default,
    /// No payload.
    Empty,
    Text(String),
    Format(LogFormat),
    /// `file` / `errorfile`: read at check time.
    File {
        path: PathBuf,
        #[serde(skip)]
        content: Arc<Vec<u8>>,
        /// `errorfile`: the file is a complete raw HTTP response.
        raw_response: bool,
    },
}

/// `redirect location|prefix|scheme`.
#[derive(Clone, Debug, Serialize)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
}

/// What a redirect replaces.
#[derive(Clone, Debug, Serialize)]
pub enum RedirectKind {
    Location(LogFormat),
    Prefix(LogFormat),
    Scheme(LogFormat),
}
