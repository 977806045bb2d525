//! The keyword table: what portcullis accepts, where, and with what status.
//!
//! Lowering dispatches on these names; anything HAProxy 2.6 knows but this table
//! does not support is refused by name ("not supported by portcullis"), and a
//! word nobody knows gets a did-you-mean. `grammar/keywords.md` and
//! `man/portcullis.cfg.5` list the same table, and a test keeps them true.

use super::haproxy26;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Whether portcullis implements a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Implemented with HAProxy 2.6's meaning.
    Supported,
    /// Not in HAProxy: a portcullis extension (reported by `check --strict-haproxy`).
    Extension,
}

/// Where a keyword is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    /// A proxy section (`defaults`, `frontend`, `backend`, `listen`).
    Proxy,
    /// An option of a `bind` line.
    Bind,
    /// An option inside `[ … ]` of a crt-list line.
    CrtList,
    /// An option of a `server` / `default-server` line.
    Server,
    /// An `http-request` action.
    HttpRequest,
    /// An `http-response` action.
    HttpResponse,
    /// An `http-after-response` action.
    HttpAfterResponse,
    /// A `tcp-request connection` action.
    TcpConnection,
    /// A `tcp-request session` action.
    TcpSession,
    /// A `tcp-request content` action.
    TcpContent,
    /// A line of a `userlist` section.
    Userlist,
    /// A line of a `peers` section.
    Peers,
    /// A line of a `resolvers` section.
    Resolvers,
}

impl Context {
    /// How messages and the docs name the context.
    pub fn describe(self) -> &'static str {
        match self {
            Context::Global => "global section",
            Context::Proxy => "proxy sections",
            Context::Bind => "bind options",
            Context::CrtList => "crt-list options",
            Context::Server => "server options",
            Context::HttpRequest => "http-request actions",
            Context::HttpResponse => "http-response actions",
            Context::HttpAfterResponse => "http-after-response actions",
            Context::TcpConnection => "tcp-request connection actions",
            Context::TcpSession => "tcp-request session actions",
            Context::TcpContent => "tcp-request content actions",
            Context::Userlist => "userlist section",
            Context::Peers => "peers section",
            Context::Resolvers => "resolvers section",
        }
    }

    /// Every name HAProxy 2.6 knows in this context.
    pub fn haproxy_names(self) -> Vec<&'static str> {
        match self {
            Context::Global => haproxy26::GLOBAL.to_vec(),
            Context::Proxy => haproxy26::PROXY.iter().map(|(k, _)| *k).collect(),
            Context::Bind => haproxy26::BIND_OPTIONS.to_vec(),
            Context::CrtList => CRT_LIST_HAPROXY.to_vec(),
            Context::Server => haproxy26::SERVER_OPTIONS.to_vec(),
            Context::HttpRequest => haproxy26::HTTP_REQUEST_ACTIONS.to_vec(),
            Context::HttpResponse => haproxy26::HTTP_RESPONSE_ACTIONS.to_vec(),
            Context::HttpAfterResponse => haproxy26::HTTP_AFTER_RESPONSE_ACTIONS.to_vec(),
            Context::TcpConnection => haproxy26::TCP_REQUEST_CONNECTION_ACTIONS.to_vec(),
            Context::TcpSession => haproxy26::TCP_REQUEST_SESSION_ACTIONS.to_vec(),
            Context::TcpContent => haproxy26::TCP_REQUEST_CONTENT_ACTIONS.to_vec(),
            Context::Userlist => vec!["user", "group"],
            Context::Peers => vec![
                "bind",
                "default-bind",
                "default-server",
                "disabled",
                "enabled",
                "log",
                "peer",
                "server",
                "table",
            ],
            Context::Resolvers => vec![
                "nameserver",
                "parse-resolv-conf",
                "hold",
                "accepted_payload_size",
                "resolve_retries",
                "timeout",
                "resolution_pool_size",
            ],
        }
    }
}

/// Options HAProxy 2.6 accepts inside crt-list brackets.
pub const CRT_LIST_HAPROXY: &[&str] = &[
    "allow-0rtt",
    "alpn",
    "ca-file",
    "ca-verify-file",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "curves",
    "ecdhe",
    "no-ca-names",
    "npn",
    "verify",
    "ssl-min-ver",
    "ssl-max-ver",
];

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Keyword {
    pub context: Context,
    /// The keyword; multi-word keywords are written with single spaces
    /// (`timeout client`, `option httplog`).
    pub name: &'static str,
    pub status: Status,
    /// One line for the docs: what it does in portcullis.
    pub summary: &'static str,
}

const fn s(context: Context, name: &'static str, summary: &'static str) -> Keyword {
    Keyword {
        context,
        name,
        status: Status::Supported,
        summary,
    }
}

const fn ext(context: Context, name: &'static str, summary: &'static str) -> Keyword {
    Keyword {
        context,
        name,
        status: Status::Extension,
        summary,
    }
}

use Context::*;

/// Every keyword portcullis accepts.
pub static TABLE: &[Keyword] = &[
    // global
    s(Global, "nbthread", "number of worker threads"),
    s(
        Global,
        "cpu-map",
        "CPUs each worker thread may run on (Linux; pinned at start)",
    ),
    s(Global, "maxconn", "process-wide connection limit"),
    s(
        Global,
        "crt-base",
        "directory prefixed to relative crt paths",
    ),
    s(
        Global,
        "ca-base",
        "directory prefixed to relative ca-file, ca-verify-file and crl-file paths (never to @system-ca)",
    ),
    s(
        Global,
        "ssl-default-bind-ciphers",
        "TLS <= 1.2 cipher list of every bind",
    ),
    s(
        Global,
        "ssl-default-bind-ciphersuites",
        "TLS 1.3 suites of every bind",
    ),
    s(
        Global,
        "ssl-default-bind-curves",
        "key-exchange groups of every bind",
    ),
    s(
        Global,
        "ssl-default-bind-options",
        "default TLS options of every bind (ssl-min-ver, no-tls-tickets, ...)",
    ),
    s(
        Global,
        "ssl-default-server-ciphers",
        "TLS <= 1.2 cipher list towards servers",
    ),
    s(
        Global,
        "ssl-default-server-ciphersuites",
        "TLS 1.3 suites towards servers",
    ),
    s(
        Global,
        "ssl-default-server-options",
        "default TLS options of every server",
    ),
    s(
        Global,
        "ssl-server-verify",
        "default verify of servers: required or none",
    ),
    s(
        Global,
        "log",
        "global log targets (stdout, stderr, /dev/log, udp syslog)",
    ),
    s(Global, "pidfile", "file receiving the process id"),
    s(
        Global,
        "server-state-file",
        "file of saved server states (read only by load-server-state-from-file)",
    ),
    s(
        Global,
        "localpeer",
        "the local peer's name in peers sections (default: host name)",
    ),
    s(Global, "hard-stop-after", "upper bound on a soft stop"),
    s(
        Global,
        "tune.ssl.cachesize",
        "entries of each bind's TLS session cache (default 20000; 0 turns it off)",
    ),
    s(
        Global,
        "tune.ssl.ssl-ctx-cache-size",
        "generated certificates kept per bind (default 1000)",
    ),
    s(
        Global,
        "tune.ssl.lifetime",
        "how long a TLS session may be resumed (default 300 s)",
    ),
    s(
        Global,
        "tune.ssl.capture-buffer-size",
        "accepted with a warning: it only feeds ssl_fc_cipherlist_* fetches, which portcullis does not have",
    ),
    s(
        Global,
        "tune.bufsize",
        "buffer size; with tune.maxrewrite it bounds request headers (larger requests get 400)",
    ),
    s(
        Global,
        "tune.maxrewrite",
        "room kept for rewrites in the buffer (default 1024)",
    ),
    s(
        Global,
        "tune.http.maxhdr",
        "most header lines in a request (default 101; more get 400)",
    ),
    s(
        Global,
        "daemon",
        "go to the background once listeners are bound",
    ),
    s(
        Global,
        "stats socket",
        "runtime API on a Unix path or loopback TCP (mode, level, expose-fd listeners)",
    ),
    s(
        Global,
        "stats timeout",
        "idle time before a runtime API session is closed (default 10s)",
    ),
    s(
        Global,
        "user",
        "user the process runs as once listeners are bound",
    ),
    s(
        Global,
        "group",
        "group the process runs as once listeners are bound",
    ),
    s(
        Global,
        "uid",
        "numeric user id the process runs as once listeners are bound",
    ),
    s(
        Global,
        "gid",
        "numeric group id the process runs as once listeners are bound",
    ),
    s(
        Global,
        "chroot",
        "directory the process confines itself to once listeners are bound",
    ),
    s(
        Global,
        "stats bind-process",
        "accepted with a warning: deprecated in HAProxy 2.6, and portcullis is one process",
    ),
    s(
        Global,
        "tune.maxaccept",
        "accepted with a warning: each listener accepts in its own task, there is no accept batch to bound",
    ),
    s(
        Global,
        "ssl-load-extra-del-ext",
        "the side key of 'crt site.crt' is 'site.key' instead of 'site.crt.key'",
    ),
    s(
        Global,
        "tune.ssl.default-dh-param",
        "DHE suites use the RFC 7919 group matching the RSA key (ffdhe2048 or ffdhe4096), at most this size",
    ),
    s(
        Global,
        "ssl-dh-param-file",
        "PEM DH parameters (PKCS#3) of DHE suites for certificates that carry none",
    ),
    s(
        Global,
        "lua-load",
        "run a Lua script in the shared state (it registers fetches, converters, actions, services)",
    ),
    s(
        Global,
        "lua-load-per-thread",
        "run a Lua script in a state of its own for each worker thread",
    ),
    s(
        Global,
        "lua-prepend-path",
        "put a pattern in front of Lua's package.path (or package.cpath)",
    ),
    s(
        Global,
        "tune.lua.forced-yield",
        "Lua instructions between two checks of a call's timeout (default 10000)",
    ),
    s(
        Global,
        "tune.lua.maxmem",
        "memory each Lua state may use, in MB (default 0: no limit)",
    ),
    s(
        Global,
        "tune.lua.session-timeout",
        "Lua run time allowed to one fetch, converter or action call (default 4s)",
    ),
    s(
        Global,
        "tune.lua.service-timeout",
        "Lua run time allowed to one service call (default 4s)",
    ),
    s(
        Global,
        "tune.lua.task-timeout",
        "Lua run time allowed to a core.register_init function (default none)",
    ),
    s(
        Global,
        "tune.idle-pool.shared",
        "accepted with a warning: idle server connections are always shared by all threads",
    ),
    // proxies
    s(Proxy, "mode", "http or tcp"),
    s(
        Proxy,
        "disabled",
        "do not start the proxy: a frontend is not bound, a backend answers 503",
    ),
    s(Proxy, "enabled", "undo an inherited disabled"),
    s(
        Proxy,
        "http-reuse",
        "never: a new server connection per request; safe, aggressive, always: reuse idle ones",
    ),
    s(Proxy, "bind", "listening address with its TLS settings"),
    s(Proxy, "server", "a backend server"),
    s(
        Proxy,
        "server-template",
        "several identical servers named <prefix><id>",
    ),
    s(
        Proxy,
        "default-server",
        "settings inherited by the following servers",
    ),
    s(
        Proxy,
        "default_backend",
        "backend used when no use_backend rule matches",
    ),
    s(Proxy, "use_backend", "conditional backend switching"),
    s(Proxy, "acl", "named ACL declaration"),
    s(Proxy, "http-request", "HTTP request rules"),
    s(Proxy, "http-response", "HTTP response rules"),
    s(
        Proxy,
        "http-after-response",
        "rules run on every response sent, the proxy's own ones included",
    ),
    s(
        Proxy,
        "tcp-request connection",
        "rules run when a connection is accepted",
    ),
    s(
        Proxy,
        "tcp-request session",
        "rules run once the handshakes are done, before any data",
    ),
    s(
        Proxy,
        "tcp-request content",
        "rules run on the first bytes / after the TLS handshake",
    ),
    s(
        Proxy,
        "tcp-request inspect-delay",
        "how long content rules may wait for data",
    ),
    s(
        Proxy,
        "balance",
        "load-balancing algorithm: roundrobin static-rr leastconn first source random uri url_param hdr()",
    ),
    s(
        Proxy,
        "hash-type",
        "hashing of hash-based balancing: map-based or consistent, sdbm djb2 wt6 crc32, avalanche",
    ),
    s(
        Proxy,
        "option allbackups",
        "use every backup server, not only the first, when all active ones are down",
    ),
    s(
        Proxy,
        "option log-health-checks",
        "log every health-check result change, not only servers going up or down",
    ),
    s(
        Proxy,
        "option tcp-check",
        "health checks run the tcp-check rules",
    ),
    s(
        Proxy,
        "option ssl-hello-chk",
        "health checks send an SSLv3 hello and want a TLS record back",
    ),
    s(
        Proxy,
        "tcp-check connect",
        "open the check connection: port, ssl, sni",
    ),
    s(
        Proxy,
        "tcp-check send",
        "send a string on the check connection",
    ),
    s(
        Proxy,
        "tcp-check send-binary",
        "send hexadecimal bytes on the check connection",
    ),
    s(
        Proxy,
        "tcp-check expect",
        "expect [!] string, rstring or binary in the check answer",
    ),
    s(Proxy, "timeout client", "client inactivity timeout"),
    s(Proxy, "timeout server", "server inactivity timeout"),
    s(Proxy, "timeout connect", "server connection timeout"),
    s(
        Proxy,
        "timeout http-request",
        "time allowed for complete request headers",
    ),
    s(
        Proxy,
        "timeout http-keep-alive",
        "idle time between two requests",
    ),
    s(
        Proxy,
        "timeout queue",
        "time a request may wait for a server slot",
    ),
    s(
        Proxy,
        "timeout tunnel",
        "inactivity timeout of tunnels (WebSocket, CONNECT)",
    ),
    s(
        Proxy,
        "timeout client-fin",
        "inactivity timeout on half-closed client connections",
    ),
    s(
        Proxy,
        "timeout server-fin",
        "inactivity timeout on half-closed server connections",
    ),
    s(Proxy, "timeout check", "health-check read timeout"),
    s(
        Proxy,
        "timeout tarpit",
        "how long tarpitted requests are held",
    ),
    s(Proxy, "option httplog", "HTTP access-log format"),
    s(
        Proxy,
        "option httpslog",
        "HTTPS access-log format (httplog plus TLS fields)",
    ),
    s(Proxy, "option tcplog", "TCP access-log format"),
    s(Proxy, "option forwardfor", "add X-Forwarded-For"),
    s(
        Proxy,
        "option http-server-close",
        "close server connections after each response",
    ),
    s(
        Proxy,
        "compression algo",
        "compress responses with gzip, deflate or raw-deflate when the client accepts it",
    ),
    s(
        Proxy,
        "compression type",
        "media types to compress (all when not set)",
    ),
    s(
        Proxy,
        "compression offload",
        "remove Accept-Encoding towards servers so the proxy does the compressing",
    ),
    s(
        Proxy,
        "option httpclose",
        "close client and server connections after each response",
    ),
    s(
        Proxy,
        "option http-keep-alive",
        "keep connections open between requests (the default; cancels the close modes)",
    ),
    s(Proxy, "option httpchk", "HTTP health checks"),
    s(Proxy, "option redispatch", "retry on another server"),
    s(
        Proxy,
        "option persist",
        "a persistence cookie naming a DOWN server still sends the request to it",
    ),
    s(
        Proxy,
        "cookie",
        "cookie-based server persistence (insert, rewrite, prefix or passive)",
    ),
    s(
        Proxy,
        "stick",
        "stick match, on, store-request or store-response: server persistence through a stick table",
    ),
    s(
        Proxy,
        "dynamic-cookie-key",
        "secret from which 'cookie … dynamic' derives the servers' cookie values",
    ),
    s(
        Proxy,
        "option abortonclose",
        "a client that closes aborts its pending request and the server exchange (portcullis always does)",
    ),
    s(
        Proxy,
        "option http-pretend-keepalive",
        "servers are not told 'Connection: close' even in close modes (portcullis never tells them)",
    ),
    s(
        Proxy,
        "option contstats",
        "accepted with a warning: portcullis keeps no traffic counters for the statistics",
    ),
    s(
        Proxy,
        "option dontlognull",
        "do not log connections that sent nothing",
    ),
    s(
        Proxy,
        "option logasap",
        "log when the response headers leave instead of at the end",
    ),
    s(Proxy, "http-check send", "request of HTTP health checks"),
    s(
        Proxy,
        "http-check expect",
        "expected answer of HTTP health checks",
    ),
    s(Proxy, "retries", "connection retries to servers"),
    s(Proxy, "maxconn", "frontend connection limit"),
    s(
        Proxy,
        "backlog",
        "listen queue of the frontend's binds that set none (default 1024)",
    ),
    s(Proxy, "log", "proxy log targets or 'log global'"),
    s(Proxy, "log-format", "custom access-log format"),
    s(
        Proxy,
        "error-log-format",
        "format of connection error logs (failed TLS handshakes, refused requests)",
    ),
    s(Proxy, "stats enable", "enable the stats page"),
    s(Proxy, "stats uri", "URI prefix of the stats page"),
    s(Proxy, "stats realm", "HTTP auth realm of the stats page"),
    s(
        Proxy,
        "stats auth",
        "user:password allowed on the stats page",
    ),
    s(
        Proxy,
        "stats admin",
        "condition enabling admin actions on the stats page",
    ),
    s(Proxy, "stats refresh", "stats page auto-refresh interval"),
    s(
        Proxy,
        "stats show-legends",
        "show process information and the status legend on the stats page",
    ),
    s(
        Proxy,
        "stats show-node",
        "show a node name (default: the host name) on the stats page",
    ),
    s(
        Proxy,
        "stats show-desc",
        "show a description on the stats page",
    ),
    s(
        Proxy,
        "stats hide-version",
        "do not show the version on the stats page",
    ),
    s(
        Proxy,
        "errorfile",
        "raw HTTP response replacing a built-in error",
    ),
    s(Proxy, "monitor-uri", "URI answered 200 by the proxy itself"),
    s(
        Proxy,
        "filter trace",
        "trace each stream's steps on standard error (debugging)",
    ),
    s(
        Proxy,
        "monitor fail",
        "condition making the monitor-uri answer 503",
    ),
    s(
        Proxy,
        "unique-id-format",
        "format of each request's unique ID (unique-id fetch, %ID), computed when the request arrives",
    ),
    s(
        Proxy,
        "unique-id-header",
        "request header carrying the unique ID to the server",
    ),
    s(
        Proxy,
        "stick-table",
        "the proxy's table of per-key counters (rates, gpc, gpt0), local to the process",
    ),
    s(
        Proxy,
        "capture request header",
        "show a request header in the access log (%hr)",
    ),
    s(
        Proxy,
        "capture response header",
        "show a response header in the access log (%hs)",
    ),
    s(
        Proxy,
        "redirect",
        "classic redirect rules, evaluated after http-request rules",
    ),
    // bind options
    s(Bind, "ssl", "terminate TLS on this listener"),
    s(
        Bind,
        "crt",
        "certificate+key file or directory (key may be in <file>.key)",
    ),
    s(
        Bind,
        "crt-list",
        "file of certificates with per-SNI options and filters",
    ),
    s(
        Bind,
        "ca-file",
        "CAs that verify client certificates, advertised as acceptable names",
    ),
    s(
        Bind,
        "ca-verify-file",
        "CAs that verify client certificates, not advertised",
    ),
    s(
        Bind,
        "ca-ignore-err",
        "verify errors ignored on CA certificates (all or ids)",
    ),
    s(
        Bind,
        "crt-ignore-err",
        "verify errors ignored on the client certificate (all or ids)",
    ),
    s(Bind, "crl-file", "CRLs, one per CA level"),
    s(
        Bind,
        "verify",
        "client certificates: none, optional or required",
    ),
    s(Bind, "no-ca-names", "do not advertise acceptable CA names"),
    s(Bind, "alpn", "ALPN protocols offered (h2,http/1.1)"),
    s(
        Bind,
        "ssl-min-ver",
        "lowest TLS version (TLSv1.2 or TLSv1.3 are possible)",
    ),
    s(Bind, "ssl-max-ver", "highest TLS version"),
    s(Bind, "ciphers", "TLS <= 1.2 cipher list (OpenSSL syntax)"),
    s(Bind, "ciphersuites", "TLS 1.3 suites"),
    s(
        Bind,
        "curves",
        "key-exchange groups (X25519:P-256:P-384:P-521)",
    ),
    s(Bind, "ecdhe", "single key-exchange group"),
    s(
        Bind,
        "strict-sni",
        "refuse handshakes whose SNI matches no certificate",
    ),
    s(Bind, "no-tls-tickets", "disable stateless session tickets"),
    s(
        Bind,
        "generate-certificates",
        "mint a certificate, signed by the ca-sign-file CA, for an SNI no certificate matches",
    ),
    s(
        Bind,
        "ca-sign-file",
        "CA certificate and key signing generated certificates",
    ),
    s(
        Bind,
        "ca-sign-pass",
        "passphrase of the ca-sign-file key (no effect, as in HAProxy 2.6)",
    ),
    s(
        Bind,
        "prefer-client-ciphers",
        "use the client's cipher preference",
    ),
    s(Bind, "no-sslv3", "SSLv3 is never offered anyway"),
    s(Bind, "no-tlsv10", "TLS 1.0 is never offered anyway"),
    s(Bind, "no-tlsv11", "TLS 1.1 is never offered anyway"),
    s(Bind, "no-tlsv12", "disable TLS 1.2"),
    s(Bind, "no-tlsv13", "disable TLS 1.3"),
    s(Bind, "force-tlsv12", "only TLS 1.2"),
    s(Bind, "force-tlsv13", "only TLS 1.3"),
    s(Bind, "accept-proxy", "expect a PROXY protocol header"),
    s(Bind, "name", "listener name"),
    s(Bind, "maxconn", "listener connection limit"),
    s(Bind, "backlog", "listen queue of this listener"),
    s(Bind, "tfo", "accept TCP Fast Open (data in the SYN)"),
    ext(
        Bind,
        "no-strict-sni-host",
        "do not answer 421 when a request's Host belongs to another client-verification policy than its SNI",
    ),
    ext(
        Bind,
        "verify-depth",
        "maximum number of intermediate CAs in a client chain (APISIX client.depth)",
    ),
    // crt-list options
    s(CrtList, "verify", "per-SNI client verification"),
    s(CrtList, "ca-file", "per-SNI client CAs (advertised)"),
    s(
        CrtList,
        "ca-verify-file",
        "per-SNI client CAs (not advertised)",
    ),
    s(CrtList, "crl-file", "per-SNI CRLs"),
    s(CrtList, "alpn", "per-SNI ALPN"),
    s(CrtList, "ssl-min-ver", "per-SNI lowest TLS version"),
    s(CrtList, "ssl-max-ver", "per-SNI highest TLS version"),
    s(CrtList, "ciphers", "per-SNI TLS <= 1.2 ciphers"),
    s(CrtList, "ciphersuites", "per-SNI TLS 1.3 suites"),
    s(CrtList, "curves", "per-SNI key-exchange groups"),
    s(CrtList, "ecdhe", "per-SNI single key-exchange group"),
    s(CrtList, "no-ca-names", "per-SNI: do not advertise CA names"),
    ext(
        CrtList,
        "verify-depth",
        "per-SNI maximum number of intermediate CAs",
    ),
    // server options
    s(Server, "ssl", "TLS to the server"),
    s(Server, "no-ssl", "undo an inherited ssl"),
    s(
        Server,
        "verify",
        "server certificate verification: none or required",
    ),
    s(
        Server,
        "ca-file",
        "CAs trusted for the server certificate, or @system-ca",
    ),
    s(Server, "crl-file", "CRLs for the server certificate"),
    s(Server, "crt", "client certificate presented to the server"),
    s(
        Server,
        "sni",
        "SNI sent, as a sample expression (str(name), req.hdr(host))",
    ),
    s(Server, "verifyhost", "name checked when no SNI is sent"),
    s(Server, "no-verifyhost", "undo an inherited verifyhost"),
    s(Server, "alpn", "ALPN offered to the server"),
    s(Server, "check", "enable health checks"),
    s(Server, "no-check", "undo an inherited check"),
    s(Server, "check-ssl", "health checks over TLS"),
    s(Server, "no-check-ssl", "undo an inherited check-ssl"),
    s(Server, "check-sni", "SNI of TLS health checks"),
    s(Server, "inter", "interval between checks"),
    s(Server, "fastinter", "interval while a server changes state"),
    s(Server, "downinter", "interval while a server is down"),
    s(Server, "rise", "successful checks to mark a server up"),
    s(Server, "fall", "failed checks to mark a server down"),
    s(Server, "weight", "load-balancing weight (0..256)"),
    s(
        Server,
        "cookie",
        "the server's value of the persistence cookie",
    ),
    s(
        Server,
        "backup",
        "only used when all normal servers are down",
    ),
    s(Server, "no-backup", "undo an inherited backup"),
    s(Server, "maxconn", "concurrent requests per server"),
    s(
        Server,
        "pool-max-conn",
        "most idle connections kept to the server (-1: no limit, 0: none)",
    ),
    s(
        Server,
        "pool-purge-delay",
        "how long an idle server connection is kept (default 30s)",
    ),
    s(
        Server,
        "pool-low-conn",
        "accepted with a warning: there is no per-thread idle pool to protect from stealing",
    ),
    s(Server, "disabled", "start in maintenance"),
    s(Server, "enabled", "undo an inherited disabled"),
    s(Server, "send-proxy", "send a PROXY protocol v1 header"),
    s(Server, "no-send-proxy", "undo an inherited send-proxy"),
    s(
        Server,
        "send-proxy-v2",
        "send a PROXY protocol v2 (binary) header",
    ),
    s(
        Server,
        "no-send-proxy-v2",
        "undo an inherited send-proxy-v2",
    ),
    s(
        Server,
        "send-proxy-v2-ssl",
        "send-proxy-v2 with the TLS TLV (proxy-v2-options ssl)",
    ),
    s(
        Server,
        "send-proxy-v2-ssl-cn",
        "send-proxy-v2 with the TLS TLV and the client certificate's CN",
    ),
    s(
        Server,
        "proxy-v2-options",
        "TLVs of the v2 header: ssl, cert-cn, ssl-cipher, cert-sig, cert-key, authority, crc32c, unique-id",
    ),
    s(
        Server,
        "no-ssl-reuse",
        "no TLS session resumption to the server",
    ),
    s(Server, "ssl-reuse", "undo an inherited no-ssl-reuse"),
    s(Server, "ssl-min-ver", "lowest TLS version to the server"),
    s(Server, "ssl-max-ver", "highest TLS version to the server"),
    s(Server, "ciphers", "TLS <= 1.2 ciphers to the server"),
    s(Server, "ciphersuites", "TLS 1.3 suites to the server"),
    s(Server, "no-tls-tickets", "no session tickets to the server"),
    s(Server, "no-sslv3", "SSLv3 is never offered anyway"),
    s(Server, "no-tlsv10", "TLS 1.0 is never offered anyway"),
    s(Server, "no-tlsv11", "TLS 1.1 is never offered anyway"),
    s(Server, "no-tlsv12", "no TLS 1.2 to the server"),
    s(Server, "no-tlsv13", "no TLS 1.3 to the server"),
    s(Server, "force-tlsv12", "only TLS 1.2 to the server"),
    s(Server, "force-tlsv13", "only TLS 1.3 to the server"),
    s(Server, "port", "health-check port"),
    s(Server, "addr", "health-check address"),
    // http-request actions
    s(
        HttpRequest,
        "allow",
        "stop evaluating rules and let the request through",
    ),
    s(
        HttpRequest,
        "set-header",
        "replace a header (use it for identity headers)",
    ),
    s(HttpRequest, "add-header", "append a header"),
    s(HttpRequest, "del-header", "remove a header"),
    s(
        HttpRequest,
        "replace-header",
        "regex-rewrite a whole header",
    ),
    s(
        HttpRequest,
        "replace-value",
        "regex-rewrite each comma-separated value",
    ),
    s(HttpRequest, "set-path", "rewrite the path"),
    s(
        HttpRequest,
        "replace-path",
        "regex-rewrite the path (query string kept)",
    ),
    s(
        HttpRequest,
        "replace-pathq",
        "regex-rewrite the path with its query string",
    ),
    s(
        HttpRequest,
        "replace-uri",
        "regex-rewrite the request target as received",
    ),
    s(HttpRequest, "set-query", "rewrite the query string"),
    s(HttpRequest, "set-var", "set a variable"),
    s(HttpRequest, "track-sc0", "track stick counter 0 on a key"),
    s(HttpRequest, "track-sc1", "track stick counter 1 on a key"),
    s(HttpRequest, "track-sc2", "track stick counter 2 on a key"),
    s(
        HttpRequest,
        "sc-inc-gpc0",
        "increment gpc0 of a tracked counter",
    ),
    s(
        HttpRequest,
        "sc-inc-gpc1",
        "increment gpc1 of a tracked counter",
    ),
    s(HttpRequest, "sc-set-gpt0", "set gpt0 of a tracked counter"),
    s(HttpRequest, "unset-var", "unset a variable"),
    s(HttpRequest, "deny", "answer an error (403 by default)"),
    s(HttpRequest, "return", "answer from the proxy itself"),
    s(HttpRequest, "redirect", "answer a redirect"),
    s(HttpRequest, "auth", "answer 401 with a Basic challenge"),
    s(
        HttpRequest,
        "reject",
        "close the connection without an answer",
    ),
    s(
        HttpRequest,
        "set-src",
        "rewrite the connection's source address",
    ),
    s(
        HttpRequest,
        "set-src-port",
        "rewrite the connection's source port",
    ),
    s(
        HttpRequest,
        "set-dst",
        "rewrite the connection's destination address",
    ),
    s(
        HttpRequest,
        "set-dst-port",
        "rewrite the connection's destination port",
    ),
    s(
        HttpRequest,
        "use-service",
        "answer with a Lua service: use-service lua.<name>",
    ),
    // http-response actions
    s(HttpResponse, "allow", "stop evaluating response rules"),
    s(HttpResponse, "set-header", "replace a response header"),
    s(HttpResponse, "add-header", "append a response header"),
    s(HttpResponse, "del-header", "remove a response header"),
    s(
        HttpResponse,
        "replace-header",
        "regex-rewrite a response header",
    ),
    s(
        HttpResponse,
        "replace-value",
        "regex-rewrite response header values",
    ),
    s(HttpResponse, "set-var", "set a variable"),
    s(HttpResponse, "unset-var", "unset a variable"),
    s(
        HttpResponse,
        "deny",
        "replace the response with an error (502 by default)",
    ),
    s(
        HttpResponse,
        "set-status",
        "replace the status code (and reason)",
    ),
    // http-after-response actions
    s(
        HttpAfterResponse,
        "allow",
        "stop evaluating this proxy's after-response rules",
    ),
    s(
        HttpAfterResponse,
        "set-header",
        "replace a header of the response",
    ),
    s(
        HttpAfterResponse,
        "add-header",
        "append a header to the response",
    ),
    s(
        HttpAfterResponse,
        "del-header",
        "remove a header of the response",
    ),
    s(
        HttpAfterResponse,
        "replace-header",
        "regex-rewrite a header of the response",
    ),
    s(
        HttpAfterResponse,
        "replace-value",
        "regex-rewrite header values of the response",
    ),
    s(
        HttpAfterResponse,
        "set-status",
        "replace the status code (and reason)",
    ),
    s(HttpAfterResponse, "set-var", "set a variable"),
    s(HttpAfterResponse, "unset-var", "unset a variable"),
    // tcp-request actions
    s(TcpConnection, "accept", "accept the connection"),
    s(TcpConnection, "reject", "close the connection"),
    s(
        TcpConnection,
        "track-sc0",
        "track stick counter 0 on a key for the session",
    ),
    s(
        TcpConnection,
        "track-sc1",
        "track stick counter 1 on a key for the session",
    ),
    s(
        TcpConnection,
        "track-sc2",
        "track stick counter 2 on a key for the session",
    ),
    s(
        TcpConnection,
        "sc-inc-gpc0",
        "increment gpc0 of a tracked counter",
    ),
    s(
        TcpConnection,
        "sc-inc-gpc1",
        "increment gpc1 of a tracked counter",
    ),
    s(
        TcpConnection,
        "sc-set-gpt0",
        "set gpt0 of a tracked counter",
    ),
    s(
        TcpConnection,
        "expect-proxy",
        "expect a PROXY protocol header (layer4)",
    ),
    s(TcpSession, "accept", "accept the session"),
    s(TcpSession, "reject", "close the connection"),
    s(TcpSession, "set-var", "set a variable"),
    s(TcpSession, "unset-var", "unset a variable"),
    s(
        TcpSession,
        "track-sc0",
        "track stick counter 0 on a key for the session",
    ),
    s(
        TcpSession,
        "track-sc1",
        "track stick counter 1 on a key for the session",
    ),
    s(
        TcpSession,
        "track-sc2",
        "track stick counter 2 on a key for the session",
    ),
    s(
        TcpSession,
        "sc-inc-gpc0",
        "increment gpc0 of a tracked counter",
    ),
    s(
        TcpSession,
        "sc-inc-gpc1",
        "increment gpc1 of a tracked counter",
    ),
    s(TcpSession, "sc-set-gpt0", "set gpt0 of a tracked counter"),
    s(TcpContent, "accept", "accept the connection"),
    s(TcpContent, "reject", "close the connection"),
    s(TcpContent, "set-var", "set a variable"),
    s(TcpContent, "unset-var", "unset a variable"),
    s(
        TcpContent,
        "track-sc0",
        "track stick counter 0 on a key for the session",
    ),
    s(
        TcpContent,
        "track-sc1",
        "track stick counter 1 on a key for the session",
    ),
    s(
        TcpContent,
        "track-sc2",
        "track stick counter 2 on a key for the session",
    ),
    s(
        TcpContent,
        "sc-inc-gpc0",
        "increment gpc0 of a tracked counter",
    ),
    s(
        TcpContent,
        "sc-inc-gpc1",
        "increment gpc1 of a tracked counter",
    ),
    s(TcpContent, "sc-set-gpt0", "set gpt0 of a tracked counter"),
    // userlist
    s(Userlist, "user", "a user with its password and groups"),
    s(Userlist, "group", "a group with its users"),
    // peers
    s(
        Peers,
        "bind",
        "the local peer's listener, with bind options (TLS)",
    ),
    s(
        Peers,
        "default-server",
        "connection settings (TLS) of the remote peers",
    ),
    s(Peers, "disabled", "turn the section off"),
    s(Peers, "enabled", "turn the section back on"),
    s(
        Peers,
        "peer",
        "a peer and its address (the local one listens there)",
    ),
    s(
        Peers,
        "server",
        "a remote peer and its address, or the local peer without one",
    ),
    s(Peers, "table", "a stick table synchronised by this section"),
    // resolvers
    s(Resolvers, "nameserver", "a UDP name server (ip:port)"),
    s(
        Resolvers,
        "parse-resolv-conf",
        "add the name servers of /etc/resolv.conf",
    ),
    s(
        Resolvers,
        "hold",
        "how long a status is held (nx, other, refused, timeout, valid, obsolete)",
    ),
    s(
        Resolvers,
        "accepted_payload_size",
        "the EDNS0 UDP payload size announced",
    ),
    s(
        Resolvers,
        "resolve_retries",
        "queries sent before a resolution gives up",
    ),
    s(
        Resolvers,
        "timeout resolve",
        "time between two resolutions of a name",
    ),
    s(
        Resolvers,
        "timeout retry",
        "time to wait for an answer before querying again",
    ),
    // server options: DNS
    s(
        Server,
        "resolvers",
        "resolve the server's name again at run time with this resolvers section",
    ),
    s(
        Server,
        "resolve-prefer",
        "the address family preferred in DNS answers (ipv4 or ipv6)",
    ),
    s(
        Server,
        "resolve-opts",
        "allow-dup-ip, prevent-dup-ip or ignore-weight for DNS resolution",
    ),
    s(
        Server,
        "resolve-net",
        "networks whose addresses are preferred in DNS answers",
    ),
    s(
        Server,
        "init-addr",
        "how the address is found at startup (last, libc, none, an IP)",
    ),
];

/// The table indexed by (context, name): lowering looks a keyword up for every
/// line, and a 50,000-line configuration must not pay a table scan each time.
static INDEX: LazyLock<HashMap<(Context, &'static str), &'static Keyword>> =
    LazyLock::new(|| TABLE.iter().map(|k| ((k.context, k.name), k)).collect());

/// HAProxy's proxy keyword matrix, indexed by keyword.
static PROXY_MATRIX: LazyLock<HashMap<&'static str, [bool; 4]>> =
    LazyLock::new(|| haproxy26::PROXY.iter().copied().collect());

/// The table row for a keyword in a context.
pub fn lookup(context: Context, name: &str) -> Option<&'static Keyword> {
    INDEX.get(&(context, name)).copied()
}

/// Names accepted in a context (for did-you-mean hints).
pub fn names(context: Context) -> impl Iterator<Item = &'static str> {
    TABLE
        .iter()
        .filter(move |k| k.context == context)
        .map(|k| k.name)
}

/// True when HAProxy 2.6 knows this keyword in this context, so an unsupported
/// use is "not supported" rather than "unknown".
pub fn known_to_haproxy(context: Context, name: &str) -> bool {
    let names = context.haproxy_names();
    // HAProxy derives `no-<kw>` (and `<kw>` from `no-<kw>`) for server options.
    let server_variant = context == Context::Server
        && match name.strip_prefix("no-") {
            Some(base) => names.contains(&base),
            None => names.iter().any(|n| n.strip_prefix("no-") == Some(name)),
        };
    server_variant
        || names.contains(&name)
        || (context == Context::Proxy && names.iter().any(|k| k.split(' ').next() == Some(name)))
}

/// Proxy section capabilities from HAProxy's keyword matrix: may `name` appear in
/// (defaults, frontend, listen, backend)? `None` if the matrix does not list it.
pub fn proxy_sections(name: &str) -> Option<[bool; 4]> {
    PROXY_MATRIX.get(name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_haproxy_keywords_exist_in_haproxy() {
        for k in TABLE.iter().filter(|k| k.status == Status::Supported) {
            let first = k.name.split(' ').next().unwrap_or(k.name);
            assert!(
                known_to_haproxy(k.context, k.name) || known_to_haproxy(k.context, first),
                "{:?} {} is marked supported but HAProxy 2.6 does not know it",
                k.context,
                k.name
            );
        }
    }

    #[test]
    fn extensions_are_not_haproxy_keywords() {
        for k in TABLE.iter().filter(|k| k.status == Status::Extension) {
            assert!(!known_to_haproxy(k.context, k.name), "{}", k.name);
        }
    }
}
