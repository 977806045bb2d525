//! Lowering of proxy sections (`defaults`, `frontend`, `backend`, `listen`).
//!
//! A proxy starts as a copy of its defaults (the last anonymous/implicit one
//! above it, or the one named by `from`), exactly HAProxy's model, then each line
//! updates it. `finish` resolves backend names and modes once every section is
//! known and splits listens into their frontend and backend halves.

use super::bind::lower_bind;
use super::global::log_target;
use super::rules::{self, RuleKind};
use super::server::{ServerTemplate, lower_server};
use super::values::{ip_net, time_ms, uint, uint_in};
use super::{Lowerer, arg, extra_words, place};
use crate::config::ast::{Section, SectionKind};
use crate::config::expr::{self, ExprCtx, Stage};
use crate::config::keywords::{self, Context};
use crate::config::word::{Line, Word};
use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::ir::expr::{Condition, LogFormat, Mode};
use crate::ir::{
    self, Backend, BackendTarget, Balance, Config, ErrorFile, ForwardFor, Frontend, HealthCheck,
    HttpCheckExpect, HttpCheckRequest, LogStyle, NamedAcl, ProxyCommon, Stats, Timeouts,
    UseBackend, Userlist,
};
use std::collections::HashMap;
use std::sync::Arc;

/// HAProxy 2.6's `option httpslog` format (`default_https_log_format`).
const HTTPS_LOG_FORMAT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";

/// Status codes `errorfile` may replace (HAProxy 2.6).
const ERRORFILE_CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

/// A proxy being built: every setting a proxy keyword can touch.
#[derive(Clone)]
pub(crate) struct ProxyBuilder {
    pub kind: SectionKind,
    pub name: String,
    pub origin: String,
    pub span: Span,
    pub mode: Mode,
    pub timeouts: Timeouts,
    pub log: ir::ProxyLog,
    pub acls: Vec<NamedAcl>,
    /// Name → index into `acls`: conditions look names up once per use.
    pub acl_index: HashMap<String, usize>,
    pub tcp_request_connection: Vec<ir::TcpRule>,
    pub tcp_request_session: Vec<ir::TcpRule>,
    pub tcp_request_content: Vec<ir::TcpRule>,
    pub http_request: Vec<ir::HttpRule>,
    pub http_response: Vec<ir::HttpRule>,
    pub http_after_response: Vec<ir::HttpRule>,
    pub disabled: bool,
    pub http_reuse: ir::HttpReuse,
    pub redirects: Vec<ir::RedirectRule>,
    pub forward_for: Option<ForwardFor>,
    pub http_server_close: bool,
    pub http_close: bool,
    pub compression: Option<ir::Compression>,
    pub unique_id_format: Option<LogFormat>,
    pub unique_id_header: Option<String>,
    pub trace_filters: Vec<ir::TraceFilter>,
    pub errorfiles: Vec<ErrorFile>,
    pub stats: StatsBuilder,
    pub binds: Vec<ir::Bind>,
    pub maxconn: Option<u32>,
    /// `backlog`: the listen queue of binds that set none.
    pub backlog: Option<u32>,
    pub use_backend: Vec<PendingUseBackend>,
    pub default_backend: Option<Word>,
    pub monitor_uri: Option<String>,
    /// `monitor fail` conditions.
    pub monitor_fail: Vec<Condition>,
    pub request_captures: Vec<ir::HeaderCapture>,
    pub response_captures: Vec<ir::HeaderCapture>,
    pub balance: Balance,
    pub servers: Vec<ir::Server>,
    pub server_names: HashMap<String, Span>,
    /// `resolvers <name>` of servers (index into `servers`), checked in
    /// [`ProxySet::finish`].
    pub resolver_refs: Vec<(usize, Word)>,
    pub default_server: ServerTemplate,
    pub retries: Option<u32>,
    pub redispatch: Option<i32>,
    pub health: HealthCheck,
    pub http_check_used: Option<Span>,
    pub tcp_check_used: Option<Span>,
    pub lb: ir::LbOptions,
    /// `stick-table`.
    pub stick_table: Option<ir::stick::StickTable>,
    /// Proxies that declare a stick table (known before lowering).
    pub table_names: Arc<Vec<String>>,
    /// `cookie`, `dynamic-cookie-key`, `option persist`.
    pub persist: ir::persist::Persistence,
    /// Proxies with a backend side (known before lowering, for `nbsrv`).
    pub backend_names: Arc<Vec<String>>,
    /// What the Lua scripts of the global section registered.
    pub lua_names: Arc<ir::lua::LuaNames>,
}

/// `use_backend` before backend names are resolved.
#[derive(Clone)]
pub(crate) struct PendingUseBackend {
    pub name: Word,
    pub dynamic: Option<LogFormat>,
    pub cond: Option<Condition>,
}

/// `stats …` lines collected before deciding whether the page is on.
#[derive(Clone, Default)]
pub(crate) struct StatsBuilder {
    pub enabled: bool,
    pub uri: Option<String>,
    pub realm: Option<String>,
    pub auth: Vec<(String, String)>,
    pub admin: Option<Condition>,
    pub refresh: Option<u64>,
    pub show_legends: bool,
    pub show_node: Option<String>,
    pub show_desc: Option<String>,
    pub hide_version: bool,
}

impl ProxyBuilder {
    pub(crate) fn fresh() -> Self {
        ProxyBuilder {
            kind: SectionKind::Defaults,
            name: String::new(),
            origin: String::new(),
            span: Span {
                file: crate::diag::FileId(0),
                start: 0,
                end: 0,
            },
            mode: Mode::Tcp,
            timeouts: Timeouts::default(),
            log: ir::ProxyLog::default(),
            acls: Vec::new(),
            acl_index: HashMap::new(),
            tcp_request_connection: Vec::new(),
            tcp_request_session: Vec::new(),
            tcp_request_content: Vec::new(),
            http_request: Vec::new(),
            http_response: Vec::new(),
            http_after_response: Vec::new(),
            disabled: false,
            http_reuse: ir::HttpReuse::Safe,
            redirects: Vec::new(),
            forward_for: None,
            http_server_close: false,
            http_close: false,
            compression: None,
            unique_id_format: None,
            unique_id_header: None,
            trace_filters: Vec::new(),
            errorfiles: Vec::new(),
            stats: StatsBuilder::default(),
            binds: Vec::new(),
            maxconn: None,
            backlog: None,
            use_backend: Vec::new(),
            default_backend: None,
            monitor_uri: None,
            monitor_fail: Vec::new(),
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            balance: Balance::RoundRobin,
            servers: Vec::new(),
            server_names: HashMap::new(),
            resolver_refs: Vec::new(),
            default_server: ServerTemplate::default(),
            retries: None,
            redispatch: None,
            health: HealthCheck::default(),
            http_check_used: None,
            tcp_check_used: None,
            lb: ir::LbOptions::default(),
            stick_table: None,
            table_names: Arc::new(Vec::new()),
            persist: ir::persist::Persistence::default(),
            backend_names: Arc::new(Vec::new()),
            lua_names: Arc::default(),
        }
    }

    fn has_frontend(&self) -> bool {
        matches!(self.kind, SectionKind::Frontend | SectionKind::Listen)
    }

    fn has_backend(&self) -> bool {
        matches!(self.kind, SectionKind::Backend | SectionKind::Listen)
    }

    /// The expression context for rules of this proxy.
    pub fn expr_ctx<'a>(
        &'a self,
        stage: Stage,
        context: &'a str,
        acl_exists: &'a dyn Fn(&str) -> bool,
    ) -> ExprCtx<'a> {
        let own = self.kind != SectionKind::Defaults && self.table_names.contains(&self.name);
        ExprCtx {
            mode: self.mode,
            stage,
            acl_exists,
            context,
            tables: &self.table_names,
            own_table: own.then_some(self.name.as_str()),
            backends: &self.backend_names,
            proxy: &self.name,
            lua: &self.lua_names,
        }
    }

    /// Parses a condition and warns where a named ACL it uses can never match
    /// at this stage (HAProxy's "acl 'x' will never match").
    pub fn condition(
        &self,
        cx: &mut Lowerer,
        words: &[Word],
        ctx: &ExprCtx,
    ) -> Result<Condition, Diagnostic> {
        let cond = expr::parse_condition(words, ctx, cx.diags).ok_or_else(silent)?;
        for term in cond.any_of.iter().flatten() {
            if let crate::ir::expr::AclRef::Named(name) = &term.acl
                && let Some(terms) = self.acl_terms(name)
            {
                expr::check_named_acl_use(name, terms, ctx, term.span, cx.diags);
            }
        }
        Ok(cond)
    }

    /// True when an ACL of this name was declared so far.
    pub fn has_acl(&self, name: &str) -> bool {
        self.acl_index.contains_key(name)
    }

    /// The terms of a declared ACL.
    fn acl_terms(&self, name: &str) -> Option<&[crate::ir::expr::AclTerm]> {
        self.acl_index
            .get(name)
            .map(|&i| self.acls[i].terms.as_slice())
    }
}

/// A `defaults` section once lowered.
struct Defaults {
    name: Option<String>,
    span: Span,
    builder: ProxyBuilder,
    explicit: bool,
    implicit: bool,
}

/// Every proxy section of the configuration, in order.
#[derive(Default)]
pub(crate) struct ProxySet {
    defaults: Vec<Defaults>,
    /// Index of the last defaults section seen (the implicit one).
    last_defaults: Option<usize>,
    proxies: Vec<ProxyBuilder>,
    /// Proxies that declare a stick table.
    pub table_names: Arc<Vec<String>>,
    /// Proxies with a backend side.
    pub backend_names: Arc<Vec<String>>,
}

impl ProxySet {
    /// Lowers one proxy section.
    pub fn section(&mut self, cx: &mut Lowerer, section: &Section) {
        let base = match self.base_for(cx, section) {
            Some(b) => b,
            None => return,
        };
        let mut p = base;
        p.kind = section.kind;
        p.name = section.name_str().to_string();
        p.table_names = self.table_names.clone();
        p.backend_names = self.backend_names.clone();
        p.lua_names = cx.global.lua.names.clone();
        p.stick_table = None;
        p.origin = cx.origin(section.span());
        p.span = section.span();
        if section.kind != SectionKind::Defaults {
            // Instances never inherit these from defaults.
            p.binds.clear();
            p.servers.clear();
            p.server_names.clear();
        }
        let where_ = place(section);
        for line in &section.lines {
            if let Err(d) = proxy_line(cx, &mut p, line, &where_, section) {
                cx.err(d);
            }
        }
        if section.kind == SectionKind::Defaults {
            if let Some(name) = &section.name
                && let Some(prev) = self
                    .defaults
                    .iter()
                    .find(|d| d.name.as_deref() == Some(name.text.as_str()))
            {
                let at = cx.origin(prev.span);
                cx.warn(
                    name.span,
                    format!(
                        "defaults section '{}' redefines the one declared at {at}",
                        name.text
                    ),
                );
            }
            self.defaults.push(Defaults {
                name: section.name.as_ref().map(|n| n.text.clone()),
                span: section.span(),
                builder: p,
                explicit: false,
                implicit: false,
            });
            self.last_defaults = Some(self.defaults.len() - 1);
        } else {
            self.proxies.push(p);
        }
    }

    /// The starting point of a section: the defaults it inherits from.
    fn base_for(&mut self, cx: &mut Lowerer, section: &Section) -> Option<ProxyBuilder> {
        if let Some(from) = &section.from {
            let found = self
                .defaults
                .iter()
                .rposition(|d| d.name.as_deref() == Some(from.text.as_str()));
            let Some(i) = found else {
                let names: Vec<&str> = self
                    .defaults
                    .iter()
                    .filter_map(|d| d.name.as_deref())
                    .collect();
                let mut d = Diagnostic::error(format!(
                    "defaults section '{}' not found for {}",
                    from.text,
                    section.describe()
                ))
                .at(from.span)
                .label("no such defaults section above");
                d = match did_you_mean(&from.text, names.iter().copied()) {
                    Some(s) => d.help(format!("did you mean '{s}'?")),
                    None => d.help(
                        "declare 'defaults <name>' before the sections that use it with 'from'",
                    ),
                };
                cx.err(d);
                return None;
            };
            self.defaults[i].explicit = true;
            if self.defaults[i].implicit {
                mix_error(cx, &self.defaults[i], from.span);
            }
            return Some(self.defaults[i].builder.clone());
        }
        if section.kind == SectionKind::Defaults {
            return Some(ProxyBuilder::fresh());
        }
        match self.last_defaults {
            Some(i) => {
                self.defaults[i].implicit = true;
                if self.defaults[i].explicit {
                    mix_error(cx, &self.defaults[i], section.keyword.span);
                }
                Some(self.defaults[i].builder.clone())
            }
            None => Some(ProxyBuilder::fresh()),
        }
    }

    /// Resolves cross references and produces the IR.
    pub fn finish(
        self,
        cx: &mut Lowerer,
        userlists: Vec<Userlist>,
        mut resolvers: Vec<ir::Resolvers>,
    ) -> Option<Config> {
        // Names must be unique among proxies sharing a capability.
        let mut seen_fe: HashMap<&str, &ProxyBuilder> = HashMap::new();
        let mut seen_be: HashMap<&str, &ProxyBuilder> = HashMap::new();
        for p in &self.proxies {
            for (has, seen) in [
                (p.has_frontend(), &mut seen_fe),
                (p.has_backend(), &mut seen_be),
            ] {
                if !has {
                    continue;
                }
                if let Some(prev) = seen.get(p.name.as_str()) {
                    cx.err(
                        Diagnostic::error(format!(
                            "{} '{}' has the same name as {} '{}' declared at {}",
                            kind_word(p.kind),
                            p.name,
                            kind_word(prev.kind),
                            prev.name,
                            prev.origin
                        ))
                        .at(p.span)
                        .help("give every frontend and every backend a distinct name"),
                    );
                } else {
                    seen.insert(&p.name, p);
                }
            }
        }
        let backend_index: HashMap<String, usize> = self
            .proxies
            .iter()
            .filter(|p| p.has_backend())
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let backend_modes: Vec<(Mode, String)> = self
            .proxies
            .iter()
            .filter(|p| p.has_backend())
            .map(|p| (p.mode, p.origin.clone()))
            .collect();
        let mut frontends = Vec::new();
        let mut backends = Vec::new();
        let mut listeners = 0usize;
        // Builders are consumed one by one so the IR takes their contents
        // without copies (10,000 backends must not exist twice in memory).
        for mut p in self.proxies {
            check_userlists(cx, &p, &userlists);
            link_resolvers(cx, &mut p, &mut resolvers);
            missing_timeouts_warning(cx, &p);
            if p.tcp_check_used.is_some() && !p.health.tcp_check && p.has_backend() {
                cx.warn(
                    p.span,
                    format!(
                        "{} '{}' uses tcp-check rules without 'option tcp-check', so the rules are ignored",
                        kind_word(p.kind),
                        p.name
                    ),
                );
            }
            if p.http_check_used.is_some() && !p.health.httpchk && p.has_backend() {
                cx.warn(
                    p.span,
                    format!(
                        "{} '{}' uses http-check rules without 'option httpchk', so the rules are ignored",
                        kind_word(p.kind),
                        p.name
                    ),
                );
            }
            // A disabled frontend is checked like any other but never started.
            let frontend = if p.has_frontend() && !p.disabled {
                listeners += p.binds.len();
                if let Some(n) = p.backlog {
                    for b in p.binds.iter_mut().filter(|b| b.backlog.is_none()) {
                        b.backlog = Some(n);
                    }
                }
                let resolve = |cx: &mut Lowerer, w: &Word, what: &str| -> Option<usize> {
                    resolve_backend(cx, &p, w, what, &backend_index, &backend_modes)
                };
                let default_backend = match &p.default_backend {
                    Some(w) => resolve(cx, w, "default_backend"),
                    None if p.kind == SectionKind::Listen => backend_index.get(&p.name).copied(),
                    None => None,
                };
                let mut use_backend = Vec::new();
                for u in &p.use_backend {
                    let target = match &u.dynamic {
                        Some(fmt) => BackendTarget::Dynamic(fmt.clone()),
                        None => match resolve(cx, &u.name, "use_backend") {
                            Some(i) => BackendTarget::Static(i),
                            None => continue,
                        },
                    };
                    use_backend.push(UseBackend {
                        target,
                        cond: u.cond.clone(),
                    });
                }
                Some((use_backend, default_backend))
            } else {
                None
            };
            let has_backend = p.has_backend();
            if has_backend && p.mode == Mode::Tcp {
                // HAProxy 2.6: a warning, and the cookies do nothing.
                if p.persist.cookie.is_some() {
                    cx.warn(
                        p.span,
                        format!(
                            "cookie will be ignored for proxy '{}' (needs 'mode http')",
                            p.name
                        ),
                    );
                }
                for s in p.servers.iter().filter(|s| s.cookie.is_some()) {
                    let at = p.server_names.get(&s.name).copied().unwrap_or(p.span);
                    cx.warn(
                        at,
                        format!(
                            "{} '{}' : ignoring cookie for server '{}' as HTTP mode is disabled",
                            kind_word(p.kind),
                            p.name,
                            s.name
                        ),
                    );
                }
            }
            let (common, rest) = split_builder(p);
            // Only a `listen` has both halves and needs a copy.
            let (fe_common, be_common) = match (frontend.is_some(), has_backend) {
                (true, true) => (Some(common.clone()), Some(common)),
                (true, false) => (Some(common), None),
                (false, true) => (None, Some(common)),
                // A disabled frontend: nothing to start.
                (false, false) => (None, None),
            };
            if let (Some((use_backend, default_backend)), Some(common)) = (frontend, fe_common) {
                frontends.push(Frontend {
                    common,
                    binds: rest.binds,
                    maxconn: rest.maxconn,
                    use_backend,
                    default_backend,
                    monitor_uri: rest.monitor_uri,
                    monitor_fail: rest.monitor_fail,
                    request_captures: rest.request_captures,
                    response_captures: rest.response_captures,
                });
            }
            if let Some(common) = be_common {
                backends.push(Backend {
                    common,
                    balance: rest.balance,
                    servers: rest.servers,
                    retries: rest.retries.unwrap_or(3),
                    redispatch: rest.redispatch,
                    health_check: rest.health,
                    lb: rest.lb,
                    persist: rest.persist,
                });
            }
        }
        if listeners == 0 {
            cx.diags.push(
                Diagnostic::warning("configuration has no listener: portcullis would not start")
                    .help("add a 'frontend' or 'listen' section with a 'bind' line"),
            );
        }
        super::persist::check_stick_types(cx, &backends, &frontends);
        Some(Config {
            global: cx.global.clone(),
            frontends,
            backends,
            userlists,
            peers: Vec::new(),
            peer_tables: Vec::new(),
            resolvers,
        })
    }
}

/// Points each server's `resolvers <name>` at its section. `default` names
/// HAProxy 2.6's implicit section (`parse-resolv-conf`) when none is
/// declared, which exists only when /etc/resolv.conf lists a name server.
fn link_resolvers(cx: &mut Lowerer, p: &mut ProxyBuilder, resolvers: &mut Vec<ir::Resolvers>) {
    for (si, w) in std::mem::take(&mut p.resolver_refs) {
        let mut idx = resolvers.iter().position(|r| r.name == w.text);
        if idx.is_none() && w.text == "default" {
            let text = std::fs::read_to_string(super::resolvers::RESOLV_CONF).unwrap_or_default();
            if let Some(d) = super::resolvers::implicit_default(&text) {
                resolvers.push(d);
                idx = Some(resolvers.len() - 1);
            }
        }
        let Some(server) = p.servers.get_mut(si) else {
            continue;
        };
        match (idx, server.resolve.as_mut()) {
            (Some(i), Some(r)) => r.resolvers = i,
            _ => cx.err(
                Diagnostic::error(format!(
                    "{} '{}', server '{}': unable to find required resolvers '{}'",
                    kind_word(p.kind),
                    p.name,
                    server.name,
                    w.text
                ))
                .at(w.span)
                .help(if w.text == "default" {
                    "declare a 'resolvers default' section with 'nameserver' lines: /etc/resolv.conf lists no name server to build the implicit one from".to_string()
                } else {
                    format!("declare it with a 'resolvers {}' section", w.text)
                }),
            ),
        }
    }
}

/// `http_auth(L)` / `http_auth_group(L)` must name a declared userlist.
fn check_userlists(cx: &mut Lowerer, p: &ProxyBuilder, userlists: &[Userlist]) {
    use crate::ir::expr::{AclRef, AclTerm};
    let mut terms: Vec<(&AclTerm, Option<Span>)> = p
        .acls
        .iter()
        .flat_map(|a| a.terms.iter().map(|t| (t, None)))
        .collect();
    let conds = p
        .http_request
        .iter()
        .chain(&p.http_response)
        .chain(&p.http_after_response)
        .filter_map(|r| r.cond.as_ref())
        .chain(
            p.tcp_request_connection
                .iter()
                .chain(&p.tcp_request_session)
                .chain(&p.tcp_request_content)
                .filter_map(|r| r.cond.as_ref()),
        )
        .chain(p.use_backend.iter().filter_map(|u| u.cond.as_ref()));
    for c in conds {
        for t in c.any_of.iter().flatten() {
            if let AclRef::Anonymous(term) = &t.acl {
                terms.push((term, Some(t.span)));
            }
        }
    }
    for (term, span) in terms {
        for name in term.sample.userlists() {
            if !userlists.iter().any(|u| u.name == name) {
                cx.err(
                    Diagnostic::error(format!(
                        "{} '{}': unable to find userlist '{name}'",
                        kind_word(p.kind),
                        p.name
                    ))
                    .at(span.unwrap_or(p.span))
                    .help(format!("declare it with a 'userlist {name}' section")),
                );
            }
        }
    }
}

/// HAProxy 2.6.12 prints an ALERT for this but still loads the configuration
/// (exit 0), so it is a warning here.
fn mix_error(cx: &mut Lowerer, d: &Defaults, at: Span) {
    let origin = cx.origin(d.span);
    cx.diags.push(
        Diagnostic::warning(format!(
            "defaults section '{}' (declared at {origin}) is explicitly referenced by another proxy and implicitly used here",
            d.name.as_deref().unwrap_or("")
        ))
        .at(at)
        .help("to avoid any ambiguity don't mix both usages: add 'from <name>' to every proxy using it, or add a last defaults section that is not explicitly used"),
    );
}

fn kind_word(k: SectionKind) -> &'static str {
    k.as_str()
}

/// The per-side parts of a builder once its common part is taken out.
struct BuilderRest {
    binds: Vec<ir::Bind>,
    maxconn: Option<u32>,
    monitor_uri: Option<String>,
    monitor_fail: Vec<Condition>,
    request_captures: Vec<ir::HeaderCapture>,
    response_captures: Vec<ir::HeaderCapture>,
    balance: Balance,
    servers: Vec<ir::Server>,
    retries: Option<u32>,
    redispatch: Option<i32>,
    health: HealthCheck,
    lb: ir::LbOptions,
    persist: ir::persist::Persistence,
}

/// Moves a finished builder into the IR's pieces.
fn split_builder(p: ProxyBuilder) -> (ProxyCommon, BuilderRest) {
    let stats = p.stats.enabled.then(|| Stats {
        uri: p.stats.uri.unwrap_or_else(|| "/haproxy?stats".to_string()),
        realm: p.stats.realm,
        auth: p.stats.auth,
        admin: p.stats.admin,
        refresh: p.stats.refresh,
        show_legends: p.stats.show_legends,
        show_node: p.stats.show_node,
        show_desc: p.stats.show_desc,
        hide_version: p.stats.hide_version,
    });
    let common = ProxyCommon {
        stick_table: p.stick_table,
        name: p.name,
        origin: p.origin,
        mode: p.mode,
        timeouts: p.timeouts,
        log: p.log,
        acls: p.acls,
        tcp_request_connection: p.tcp_request_connection,
        tcp_request_session: p.tcp_request_session,
        tcp_request_content: p.tcp_request_content,
        http_request: p.http_request,
        http_response: p.http_response,
        http_after_response: p.http_after_response,
        disabled: p.disabled,
        http_reuse: p.http_reuse,
        redirects: p.redirects,
        forward_for: p.forward_for,
        http_server_close: p.http_server_close,
        http_close: p.http_close,
        compression: p.compression,
        unique_id_format: p.unique_id_format,
        unique_id_header: p.unique_id_header,
        trace_filters: p.trace_filters,
        errorfiles: p.errorfiles,
        stats,
    };
    let rest = BuilderRest {
        binds: p.binds,
        maxconn: p.maxconn,
        monitor_uri: p.monitor_uri,
        monitor_fail: p.monitor_fail,
        request_captures: p.request_captures,
        response_captures: p.response_captures,
        balance: p.balance,
        servers: p.servers,
        retries: p.retries,
        redispatch: p.redispatch,
        health: p.health,
        lb: p.lb,
        persist: p.persist,
    };
    (common, rest)
}

/// Resolves a backend name used by a frontend, checking modes.
fn resolve_backend(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    w: &Word,
    what: &str,
    backend_index: &HashMap<String, usize>,
    backend_modes: &[(Mode, String)],
) -> Option<usize> {
    match backend_index.get(w.text.as_str()) {
        Some(&i) => {
            let (mode, origin) = &backend_modes[i];
            if p.mode == Mode::Http && *mode == Mode::Tcp {
                cx.err(
                    Diagnostic::error(format!(
                        "http {} '{}' ({}) tries to use incompatible tcp backend '{}' ({}) as its {what} (see 'mode')",
                        kind_word(p.kind),
                        p.name,
                        p.origin,
                        w.text,
                        origin
                    ))
                    .at(w.span)
                    .help("set 'mode http' in the backend, or 'mode tcp' in the frontend"),
                );
            }
            Some(i)
        }
        None => {
            let names = backend_index.keys().map(String::as_str);
            let mut d = Diagnostic::error(format!(
                "Proxy '{}': unable to find required {what}: '{}'",
                p.name, w.text
            ))
            .at(w.span)
            .label("no backend or listen has this name");
            if let Some(s) = did_you_mean(&w.text, names) {
                d = d.help(format!("did you mean '{s}'?"));
            }
            cx.err(d);
            None
        }
    }
}

fn missing_timeouts_warning(cx: &mut Lowerer, p: &ProxyBuilder) {
    let mut missing = Vec::new();
    if p.has_frontend() && p.timeouts.client.is_none() {
        missing.push("'client'");
    }
    if p.has_backend() && p.timeouts.connect.is_none() {
        missing.push("'connect'");
    }
    if p.has_backend() && p.timeouts.server.is_none() {
        missing.push("'server'");
    }
    if !missing.is_empty() {
        cx.diags.push(
            Diagnostic::warning(format!("missing timeouts for {} '{}'", kind_word(p.kind), p.name))
                .at(p.span)
                .note("while not properly invalid, you will certainly encounter various problems with such a configuration")
                .help(format!("set these timeouts to a non-zero value: {}", missing.join(", "))),
        );
    }
}

/// Applies one line of a proxy section.
fn proxy_line(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
    section: &Section,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    // `no option x` / `default option x`.
    if matches!(kw.text.as_str(), "no" | "default") {
        let next = arg(w, 1, kw, "'option' or 'log'")?;
        return match next.text.as_str() {
            // `default option x` restores the built-in setting, which is "off" for
            // every option portcullis supports: the same as `no option x`.
            "option" => option_line(cx, p, line, 2, true, where_),
            "log" if kw.text == "no" => {
                p.log.targets.clear();
                p.log.global = false;
                extra_words(line, 2, "no log").map_or(Ok(()), Err)
            }
            _ => Err(Diagnostic::error(format!(
                "negation/default is only supported for options and log, not '{}'",
                next.text
            ))
            .at(kw.span.to(next.span))),
        };
    }
    let name = kw.text.as_str();
    // Multi-word keywords are looked up with their second word.
    let full = match name {
        "timeout" | "option" | "stats" | "http-check" | "tcp-check" | "tcp-request" | "capture"
        | "monitor" | "filter" => match w.get(1) {
            Some(second) => format!("{name} {}", second.text),
            None => name.to_string(),
        },
        _ => name.to_string(),
    };
    if let Some(caps) = keywords::proxy_sections(&full).or_else(|| keywords::proxy_sections(name))
        && !section_allows(section.kind, caps)
        && keywords::lookup(Context::Proxy, &full)
            .or_else(|| keywords::lookup(Context::Proxy, name))
            .is_some()
    {
        let words_span = if full != name {
            kw.span.to(w[1].span)
        } else {
            kw.span
        };
        return capability_mismatch(cx, p, kw, words_span, &full, section);
    }
    match name {
        "mode" => {
            let m = arg(w, 1, kw, "'http' or 'tcp'")?;
            p.mode = match m.text.as_str() {
                "http" => Mode::Http,
                "tcp" => Mode::Tcp,
                "health" => {
                    return Err(Diagnostic::error(
                        "'mode health' was removed from HAProxy and is not supported",
                    )
                    .at(m.span)
                    .help("use 'monitor-uri' in an http frontend"));
                }
                other => {
                    return Err(Diagnostic::error(format!("unknown proxy mode '{other}'"))
                        .at(m.span)
                        .help("use 'mode http' or 'mode tcp'"));
                }
            };
            extra_words(line, 2, "mode").map_or(Ok(()), Err)
        }
        "http-reuse" => {
            let v = arg(w, 1, kw, "'never', 'safe', 'aggressive' or 'always'")?;
            p.http_reuse = match v.text.as_str() {
                "never" => ir::HttpReuse::Never,
                "safe" => ir::HttpReuse::Safe,
                "aggressive" => ir::HttpReuse::Aggressive,
                "always" => ir::HttpReuse::Always,
                other => {
                    return Err(Diagnostic::error(format!(
                        "'http-reuse' expects 'never', 'safe', 'aggressive' or 'always', got '{other}'"
                    ))
                    .at(v.span));
                }
            };
            extra_words(line, 2, name).map_or(Ok(()), Err)
        }
        "backlog" => {
            p.backlog = Some(uint_in(
                arg(w, 1, kw, "a number of connections")?,
                name,
                1,
                i32::MAX as u32,
            )?);
            extra_words(line, 2, name).map_or(Ok(()), Err)
        }
        "disabled" | "enabled" => {
            p.disabled = name == "disabled";
            extra_words(line, 1, name).map_or(Ok(()), Err)
        }
        "bind" => {
            if let Some(b) = lower_bind(cx, line, where_) {
                p.binds.push(b);
            }
            Ok(())
        }
        "server" | "default-server" | "server-template" => lower_server(cx, p, line, where_),
        "default_backend" => {
            let b = arg(w, 1, kw, "a backend name")?;
            p.default_backend = Some(b.clone());
            extra_words(line, 2, "default_backend").map_or(Ok(()), Err)
        }
        "use_backend" => {
            let b = arg(w, 1, kw, "a backend name")?;
            let ctx_text = format!("'use_backend' rule in {where_}");
            let exists = |n: &str| p.has_acl(n);
            let ctx = p.expr_ctx(
                if p.mode == Mode::Http {
                    Stage::HttpRequest
                } else {
                    Stage::TcpContent
                },
                &ctx_text,
                &exists,
            );
            let dynamic = if b.text.contains("%[") {
                Some(expr::parse_log_format(b, &ctx, cx.diags).ok_or_else(silent)?)
            } else {
                None
            };
            let cond = match w.get(2) {
                None => None,
                Some(_) => Some(p.condition(cx, &w[2..], &ctx)?),
            };
            p.use_backend.push(PendingUseBackend {
                name: b.clone(),
                dynamic,
                cond,
            });
            Ok(())
        }
        "acl" => {
            let n = arg(w, 1, kw, "a name and a criterion")?;
            if !crate::config::parser::valid_name(&n.text) {
                return Err(Diagnostic::error(format!("invalid ACL name '{}'", n.text))
                    .at(n.span)
                    .help("ACL names use letters, digits, '-', '_', '.' and ':'"));
            }
            arg(w, 2, kw, "a criterion after the ACL name")?;
            let ctx_text = format!("acl '{}' in {where_}", n.text);
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::Acl, &ctx_text, &exists);
            let Some(term) = expr::parse_acl_criterion(&w[2..], &ctx, cx.diags) else {
                // Declare the name anyway: rules using it would otherwise add
                // "no such ACL" errors that only repeat this one.
                if !p.acl_index.contains_key(&n.text) {
                    p.acl_index.insert(n.text.clone(), p.acls.len());
                    p.acls.push(NamedAcl {
                        name: n.text.clone(),
                        terms: Vec::new(),
                    });
                }
                return Err(silent());
            };
            match p.acl_index.get(&n.text) {
                Some(&i) => p.acls[i].terms.push(term),
                None => {
                    p.acl_index.insert(n.text.clone(), p.acls.len());
                    p.acls.push(NamedAcl {
                        name: n.text.clone(),
                        terms: vec![term],
                    });
                }
            }
            Ok(())
        }
        "http-request" | "http-response" | "http-after-response" => {
            let kind = match name {
                "http-request" => RuleKind::HttpRequest,
                "http-response" => RuleKind::HttpResponse,
                _ => RuleKind::HttpAfterResponse,
            };
            if section.kind == SectionKind::Defaults && section.name.is_none() {
                // HAProxy 2.6: rules live only in named defaults (a proxy
                // refers to them with `from`), never in anonymous ones.
                return Err(Diagnostic::error(format!(
                    "'{name}' not allowed in anonymous 'defaults' section"
                ))
                .at(kw.span)
                .help("name the section ('defaults mydefaults') and use 'from mydefaults' in the proxies, or move the rule into the proxies"));
            }
            if p.mode == Mode::Tcp && section.kind != SectionKind::Defaults {
                cx.warn(
                    kw.span,
                    format!("'{name}' rules are ignored because {where_} is in 'mode tcp'"),
                );
            }
            let rule = rules::http_rule(cx, p, line, kind, where_)?;
            match kind {
                RuleKind::HttpRequest => p.http_request.push(rule),
                RuleKind::HttpAfterResponse => p.http_after_response.push(rule),
                _ => p.http_response.push(rule),
            }
            Ok(())
        }
        "tcp-request" => {
            let sub = arg(
                w,
                1,
                kw,
                "'connection', 'session', 'content' or 'inspect-delay'",
            )?;
            match sub.text.as_str() {
                "connection" => {
                    let r = rules::tcp_rule(cx, p, line, RuleKind::TcpConnection, where_)?;
                    p.tcp_request_connection.push(r);
                }
                "session" => {
                    let r = rules::tcp_rule(cx, p, line, RuleKind::TcpSession, where_)?;
                    p.tcp_request_session.push(r);
                }
                "content" => {
                    let r = rules::tcp_rule(cx, p, line, RuleKind::TcpContent, where_)?;
                    p.tcp_request_content.push(r);
                }
                "inspect-delay" => {
                    let t = time_ms(arg(w, 2, sub, "a time")?, "tcp-request inspect-delay")?;
                    p.tcp_request_content.insert(
                        0,
                        ir::TcpRule {
                            action: ir::TcpAction::InspectDelay(t),
                            cond: None,
                            origin: cx.origin(line.span),
                        },
                    );
                }
                _ => {
                    let combined = Word {
                        text: format!("tcp-request {}", sub.text),
                        span: kw.span.to(sub.span),
                        quoted: false,
                    };
                    cx.unknown_keyword(Context::Proxy, &combined, where_);
                }
            }
            Ok(())
        }
        "balance" => {
            p.balance = balance(w, kw)?;
            Ok(())
        }
        "timeout" => {
            let which = arg(w, 1, kw, "a timeout name and a value")?;
            let full_name = format!("timeout {}", which.text);
            let value = || -> Result<u64, Diagnostic> {
                time_ms(arg(w, 2, which, "a time value")?, &full_name)
            };
            let t = &mut p.timeouts;
            let slot = match which.text.as_str() {
                "client" => &mut t.client,
                "server" => &mut t.server,
                "connect" => &mut t.connect,
                "http-request" => &mut t.http_request,
                "http-keep-alive" => &mut t.http_keep_alive,
                "queue" => &mut t.queue,
                "tunnel" => &mut t.tunnel,
                "client-fin" => &mut t.client_fin,
                "server-fin" => &mut t.server_fin,
                "check" => &mut t.check,
                "tarpit" => &mut t.tarpit,
                _ => {
                    let combined = Word {
                        text: full_name.clone(),
                        span: kw.span.to(which.span),
                        quoted: false,
                    };
                    cx.unknown_keyword(Context::Proxy, &combined, where_);
                    return Ok(());
                }
            };
            *slot = Some(value()?);
            extra_words(line, 3, &full_name).map_or(Ok(()), Err)
        }
        "option" => option_line(cx, p, line, 1, false, where_),
        "http-check" => http_check(cx, p, line, where_),
        "tcp-check" => super::checks::tcp_check(cx, p, line, where_),
        "hash-type" => {
            p.lb.hash_type = super::checks::hash_type(w, kw)?;
            Ok(())
        }
        "retries" => {
            p.retries = Some(uint(arg(w, 1, kw, "a number")?, "retries")?);
            extra_words(line, 2, "retries").map_or(Ok(()), Err)
        }
        "maxconn" => {
            p.maxconn = Some(uint(arg(w, 1, kw, "a number")?, "maxconn")?);
            extra_words(line, 2, "maxconn").map_or(Ok(()), Err)
        }
        "log" => {
            let first = arg(w, 1, kw, "'global' or a target")?;
            if first.text == "global" {
                p.log.global = true;
                return extra_words(line, 2, "log global").map_or(Ok(()), Err);
            }
            let t = log_target(&w[1..], kw)?;
            p.log.targets.push(t);
            Ok(())
        }
        "unique-id-format" => {
            let f = arg(w, 1, kw, "a log-format string")?;
            if let Some(extra) = extra_words(line, 2, "unique-id-format") {
                return Err(extra.help("quote the whole format or escape its spaces with '\\ '"));
            }
            let ctx_text = format!("'unique-id-format' in {where_}");
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::HttpRequest, &ctx_text, &exists);
            p.unique_id_format =
                Some(expr::parse_log_format(f, &ctx, cx.diags).ok_or_else(silent)?);
            Ok(())
        }
        "unique-id-header" => {
            let h = arg(w, 1, kw, "a header name")?;
            if http::header::HeaderName::from_bytes(h.text.as_bytes()).is_err() {
                return Err(
                    Diagnostic::error(format!("'{}' is not a valid header name", h.text))
                        .at(h.span),
                );
            }
            p.unique_id_header = Some(h.text.clone());
            extra_words(line, 2, "unique-id-header").map_or(Ok(()), Err)
        }
        "filter" => {
            let kind = arg(w, 1, kw, "a filter type")?;
            match kind.text.as_str() {
                "trace" => {}
                "compression" | "cache" | "spoe" | "fcgi-app" | "bwlim-in" | "bwlim-out" => {
                    return Err(Diagnostic::error(format!(
                        "filter '{}' is not supported by portcullis (in {where_})",
                        kind.text
                    ))
                    .at(kind.span)
                    .help("'compression' works without an explicit filter line; 'filter trace' is supported"));
                }
                other => {
                    return Err(Diagnostic::error(format!(
                        "'filter' : unknown filter '{other}'"
                    ))
                    .at(kind.span)
                    .help("HAProxy 2.6's filters are trace, compression, cache, spoe, fcgi-app, bwlim-in and bwlim-out"));
                }
            }
            let mut filter = ir::TraceFilter {
                name: "TRACE".to_string(),
                quiet: false,
            };
            let mut i = 2;
            while let Some(o) = w.get(i) {
                match o.text.as_str() {
                    "name" => {
                        filter.name = arg(w, i + 1, o, "a name")?.text.clone();
                        i += 1;
                    }
                    "quiet" => filter.quiet = true,
                    "random-parsing" | "random-forwarding" | "hexdump" => {
                        cx.diags.push(
                            Diagnostic::warning(format!(
                                "'filter trace {}' has no effect in {where_}: portcullis traces the steps of each stream (headers, backend, end), not HAProxy's internal buffering of the payload",
                                o.text
                            ))
                            .at(o.span)
                            .help("remove it"),
                        );
                    }
                    other => {
                        return Err(Diagnostic::error(format!(
                            "'filter trace' : unknown argument '{other}'"
                        ))
                        .at(o.span)
                        .help("arguments are name <name>, quiet, random-forwarding and hexdump"));
                    }
                }
                i += 1;
            }
            p.trace_filters.push(filter);
            Ok(())
        }
        "error-log-format" => {
            let f = arg(w, 1, kw, "a log-format string")?;
            if let Some(extra) = extra_words(line, 2, "error-log-format") {
                return Err(extra.help("quote the whole format or escape its spaces with '\\ '"));
            }
            let ctx_text = format!("'error-log-format' in {where_}");
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::Log, &ctx_text, &exists);
            let fmt = expr::parse_log_format(f, &ctx, cx.diags).ok_or_else(silent)?;
            p.log.error_format = Some(fmt);
            Ok(())
        }
        "log-format" => {
            let f = arg(w, 1, kw, "a log-format string")?;
            if let Some(extra) = extra_words(line, 2, "log-format") {
                return Err(extra.help("quote the whole format or escape its spaces with '\\ '"));
            }
            let ctx_text = format!("'log-format' in {where_}");
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::Log, &ctx_text, &exists);
            let fmt = expr::parse_log_format(f, &ctx, cx.diags).ok_or_else(silent)?;
            p.log.format = LogStyle::Custom(fmt);
            Ok(())
        }
        "stats" => stats_line(cx, p, line, where_),
        "errorfile" => {
            let code = arg(w, 1, kw, "a status code and a file")?;
            let file = arg(w, 2, kw, "a file after the status code")?;
            let status = code
                .text
                .parse::<u16>()
                .ok()
                .filter(|c| ERRORFILE_CODES.contains(c));
            let Some(status) = status else {
                return Err(Diagnostic::error(format!(
                    "'errorfile' : status code '{}' cannot be customized",
                    code.text
                ))
                .at(code.span)
                .help(format!(
                    "codes: {}",
                    ERRORFILE_CODES
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            };
            let content = std::fs::read(&file.text).map_err(|e| {
                Diagnostic::error(format!(
                    "'errorfile' : error opening file '{}' : {e}",
                    file.text
                ))
                .at(file.span)
            })?;
            p.errorfiles.retain(|e| e.status != status);
            p.errorfiles.push(ErrorFile {
                status,
                path: file.text.clone().into(),
                content: Arc::new(content),
            });
            extra_words(line, 3, "errorfile").map_or(Ok(()), Err)
        }
        "compression" => {
            let sub = arg(w, 1, kw, "'algo', 'type' or 'offload'")?;
            let c = p.compression.get_or_insert_with(ir::Compression::default);
            match sub.text.as_str() {
                "algo" => {
                    arg(w, 2, sub, "at least one algorithm")?;
                    c.algos.clear();
                    for a in &w[2..] {
                        c.algos.push(match a.text.as_str() {
                            "gzip" => ir::CompressAlgo::Gzip,
                            "deflate" => ir::CompressAlgo::Deflate,
                            "raw-deflate" => ir::CompressAlgo::RawDeflate,
                            "identity" => continue,
                            other => {
                                return Err(Diagnostic::error(format!(
                                    "'compression algo' : unknown algorithm '{other}'"
                                ))
                                .at(a.span)
                                .help("algorithms are identity, gzip, deflate and raw-deflate"));
                            }
                        });
                    }
                }
                "type" => {
                    arg(w, 2, sub, "at least one media type")?;
                    c.types
                        .extend(w[2..].iter().map(|t| t.text.to_ascii_lowercase()));
                }
                "offload" => {
                    c.offload = true;
                    if let Some(x) = extra_words(line, 2, "compression offload") {
                        return Err(x);
                    }
                }
                other => {
                    return Err(Diagnostic::error(format!("'compression' : unknown setting '{other}'"))
                        .at(sub.span)
                        .help("write 'compression algo <algo>…', 'compression type <mime>…' or 'compression offload'"));
                }
            }
            Ok(())
        }
        "capture" => {
            let what = arg(w, 1, kw, "'request header' or 'response header'")?;
            if what.text == "cookie" || w.get(2).is_none_or(|h| h.text != "header") {
                let combined = Word {
                    text: format!("capture {}", what.text),
                    span: kw.span.to(what.span),
                    quoted: false,
                };
                cx.unknown_keyword(Context::Proxy, &combined, where_);
                return Ok(());
            }
            let name = arg(w, 3, &w[2], "a header name")?;
            let len_kw = arg(w, 4, name, "'len <length>'")?;
            if len_kw.text != "len" {
                return Err(Diagnostic::error(format!(
                    "'capture {} header' expects 'len <length>', got '{}'",
                    what.text, len_kw.text
                ))
                .at(len_kw.span));
            }
            let len =
                super::values::uint_in(arg(w, 5, len_kw, "a length")?, "len", 1, 65_535)? as usize;
            let cap = ir::HeaderCapture {
                name: name.text.clone(),
                len,
            };
            match what.text.as_str() {
                "request" => p.request_captures.push(cap),
                "response" => p.response_captures.push(cap),
                other => {
                    return Err(Diagnostic::error(format!("'capture' : unknown kind '{other}'"))
                        .at(what.span)
                        .help("write 'capture request header <name> len <n>' or 'capture response header <name> len <n>'"));
                }
            }
            extra_words(line, 6, "capture").map_or(Ok(()), Err)
        }
        "redirect" => {
            let rule = rules::redirect_rule(cx, p, line, where_)?;
            p.redirects.push(rule);
            Ok(())
        }
        "stick-table" => {
            if p.kind == SectionKind::Defaults {
                return Err(Diagnostic::error(
                    "'stick-table' is not allowed in 'defaults' sections",
                )
                .at(kw.span)
                .help("declare the table in a frontend, backend or listen section"));
            }
            if p.stick_table.is_some() {
                return Err(Diagnostic::error("only one 'stick-table' per proxy")
                    .at(kw.span)
                    .help("declare another table in a dummy backend and refer to it with 'table <name>'"));
            }
            p.stick_table = Some(super::stick::table(&p.name, kw, &w[1..])?);
            Ok(())
        }
        "cookie" => {
            let (cookie, warnings) = super::persist::cookie(w)?;
            for d in warnings {
                cx.diags.push(d);
            }
            p.persist.cookie = Some(cookie);
            Ok(())
        }
        "stick" => {
            let rule = super::persist::stick_rule(cx, p, line, where_)?;
            p.persist.stick.push(rule);
            Ok(())
        }
        "dynamic-cookie-key" => {
            let key = arg(w, 1, kw, "<secret_key>")?;
            p.persist.dynamic_cookie_key = Some(key.text.clone());
            extra_words(line, 2, "dynamic-cookie-key").map_or(Ok(()), Err)
        }
        "monitor-uri" => {
            let u = arg(w, 1, kw, "a URI")?;
            p.monitor_uri = Some(u.text.clone());
            extra_words(line, 2, "monitor-uri").map_or(Ok(()), Err)
        }
        "monitor" if full == "monitor fail" => {
            let cond_words = &w[2..];
            if !cond_words
                .first()
                .is_some_and(|c| c.text == "if" || c.text == "unless")
            {
                return Err(Diagnostic::error(
                    "'monitor fail' expects 'if' or 'unless' followed by a condition",
                )
                .at(kw.span.to(w[1].span))
                .help("e.g. 'monitor fail if { nbsrv(app) lt 1 }'"));
            }
            let context = format!("'monitor fail' in {where_}");
            let exists = |n: &str| p.has_acl(n);
            let ctx = p.expr_ctx(Stage::HttpRequest, &context, &exists);
            let cond = p.condition(cx, cond_words, &ctx)?;
            p.monitor_fail.push(cond);
            Ok(())
        }
        _ => {
            let combined = if full != name {
                Word {
                    text: full.clone(),
                    span: kw.span.to(w[1].span),
                    quoted: false,
                }
            } else {
                kw.clone()
            };
            if keywords::known_to_haproxy(Context::Proxy, &full)
                || !keywords::known_to_haproxy(Context::Proxy, name)
            {
                cx.unknown_keyword(Context::Proxy, &combined, where_);
            } else {
                cx.unknown_keyword(Context::Proxy, kw, where_);
            }
            Ok(())
        }
    }
}

/// A placeholder error meaning "already reported": the expression parsers
/// push their own diagnostics and return `None`.
pub(crate) fn silent() -> Diagnostic {
    Diagnostic::error(String::new())
}

fn section_allows(kind: SectionKind, caps: [bool; 4]) -> bool {
    match kind {
        SectionKind::Defaults => caps[0],
        SectionKind::Frontend => caps[1],
        SectionKind::Listen => caps[2],
        SectionKind::Backend => caps[3],
        _ => true,
    }
}

/// A keyword used in a section type that cannot use it: HAProxy warns and
/// ignores it, except `server` which is fatal.
fn capability_mismatch(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    kw: &Word,
    span: Span,
    full: &str,
    section: &Section,
) -> Result<(), Diagnostic> {
    let missing = if matches!(section.kind, SectionKind::Backend) {
        "frontend"
    } else {
        "backend"
    };
    let shown = if full.starts_with("option ")
        || full.starts_with("timeout ")
        || full.starts_with("stats ")
    {
        full
    } else {
        kw.text.as_str()
    };
    if section.kind == SectionKind::Defaults {
        return Err(
            Diagnostic::error(format!("'{shown}' is not allowed in a defaults section"))
                .at(kw.span)
                .help("move it to the frontend, backend or listen sections that need it"),
        );
    }
    // HAProxy's tcp-request parser refuses layer-4/5 rules outside frontends.
    if matches!(full, "tcp-request connection" | "tcp-request session") {
        return Err(Diagnostic::error(format!(
            "{full} is not allowed because {} {} is not a frontend",
            kind_word(p.kind),
            p.name
        ))
        .at(span)
        .help("move it to the 'frontend' or 'listen' section that accepts the connections"));
    }
    if kw.text == "server" || kw.text == "default-server" {
        return Err(Diagnostic::error(format!(
            "'{}' not allowed because {} '{}' has no {missing} capability",
            kw.text,
            kind_word(p.kind),
            p.name
        ))
        .at(kw.span)
        .help("servers belong in a 'backend' or 'listen' section"));
    }
    cx.diags.push(
        Diagnostic::warning(format!(
            "'{shown}' ignored because {} '{}' has no {missing} capability",
            kind_word(p.kind),
            p.name
        ))
        .at(kw.span)
        .help(if missing == "frontend" {
            "move it to a 'frontend' or 'listen' section"
        } else {
            "move it to a 'backend' or 'listen' section"
        })
        .at(span),
    );
    Ok(())
}

fn balance(w: &[Word], kw: &Word) -> Result<Balance, Diagnostic> {
    let algo = arg(w, 1, kw, "an algorithm")?;
    let rest = &w[2..];
    let no_extra = |b: Balance| -> Result<Balance, Diagnostic> {
        match rest.first() {
            Some(x) => Err(Diagnostic::error(format!(
                "'balance {}' : unexpected argument '{}'",
                algo.text, x.text
            ))
            .at(x.span)),
            None => Ok(b),
        }
    };
    let text = algo.text.as_str();
    match text {
        "roundrobin" => no_extra(Balance::RoundRobin),
        "static-rr" => no_extra(Balance::StaticRr),
        "leastconn" => no_extra(Balance::LeastConn),
        "first" => no_extra(Balance::First),
        "source" => no_extra(Balance::Source),
        "uri" => {
            let (mut whole, mut len, mut depth) = (false, None, None);
            let mut i = 0;
            while let Some(o) = rest.get(i) {
                match o.text.as_str() {
                    "whole" => whole = true,
                    "len" | "depth" => {
                        let word = arg(rest, i + 1, o, "a number")?;
                        let v = uint(word, &format!("balance uri {}", o.text))?;
                        if v == 0 {
                            return Err(Diagnostic::error(format!(
                                "'balance uri {}' expects a positive integer",
                                o.text
                            ))
                            .at(word.span));
                        }
                        i += 1;
                        if o.text == "len" {
                            len = Some(v)
                        } else {
                            depth = Some(v)
                        }
                    }
                    "path-only" | "hash-type" => {
                        return Err(Diagnostic::error(format!(
                            "'balance uri {}' is not supported by portcullis",
                            o.text
                        ))
                        .at(o.span));
                    }
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "'balance uri' : unknown option '{}'",
                            o.text
                        ))
                        .at(o.span)
                        .help("options are whole, len <n> and depth <n>"));
                    }
                }
                i += 1;
            }
            Ok(Balance::Uri { whole, len, depth })
        }
        t if t.starts_with("hdr(") => {
            let name = t
                .strip_prefix("hdr(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or("");
            if name.is_empty() {
                return Err(
                    Diagnostic::error("'balance hdr' requires an http header field name")
                        .at(algo.span)
                        .help("write 'balance hdr(Host)'"),
                );
            }
            let mut use_domain_only = false;
            for o in rest {
                if o.text == "use_domain_only" {
                    use_domain_only = true;
                } else {
                    return Err(Diagnostic::error(format!(
                        "'balance hdr()' : unexpected argument '{}'",
                        o.text
                    ))
                    .at(o.span));
                }
            }
            Ok(Balance::Hdr {
                name: name.to_string(),
                use_domain_only,
            })
        }
        "hdr" => Err(
            Diagnostic::error("'balance hdr' requires an http header field name")
                .at(algo.span)
                .help("write 'balance hdr(Host)'"),
        ),
        "random" => no_extra(Balance::Random { draws: 2 }),
        t if t.starts_with("random(") => {
            let draws = t
                .strip_prefix("random(")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|d| *d >= 1)
                .ok_or_else(|| {
                    Diagnostic::error(format!(
                        "'balance {t}' : the number of draws must be a positive integer"
                    ))
                    .at(algo.span)
                    .help("write 'balance random(2)'")
                })?;
            no_extra(Balance::Random { draws })
        }
        "url_param" => {
            let name = arg(w, 2, algo, "a URL parameter name")?;
            if let Some(x) = rest.get(1) {
                return Err(Diagnostic::error(format!(
                    "'balance url_param {}' is not supported by portcullis",
                    x.text
                ))
                .at(x.span)
                .help("only the query string is hashed ('check_post' is not supported)"));
            }
            Ok(Balance::UrlParam {
                name: name.text.clone(),
            })
        }
        "hash" | "rdp-cookie" => Err(Diagnostic::error(format!(
            "'balance {text}' is not supported by portcullis"
        ))
        .at(algo.span)
        .help("supported: roundrobin, static-rr, leastconn, first, source, random, uri, url_param, hdr(<name>)")),
        t if t.starts_with("rdp-cookie(") => Err(Diagnostic::error(format!(
            "'balance {t}' is not supported by portcullis"
        ))
        .at(algo.span)),
        _ => {
            let algos = [
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "random",
                "uri",
                "url_param",
                "hdr",
            ];
            let mut d =
                Diagnostic::error(format!("'balance' : unknown algorithm '{text}'")).at(algo.span);
            if let Some(s) = did_you_mean(text, algos) {
                d = d.help(format!("did you mean '{s}'?"));
            }
            Err(d)
        }
    }
}

fn option_line(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    at: usize,
    negate: bool,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let opt = arg(w, at, &w[at - 1], "an option name")?;
    let full = format!("option {}", opt.text);
    let rest = &w[at + 1..];
    let no_args = |n: &str| -> Result<(), Diagnostic> {
        match rest.first() {
            Some(x) => Err(Diagnostic::error(format!(
                "'option {n}' : unexpected argument '{}'",
                x.text
            ))
            .at(x.span)),
            None => Ok(()),
        }
    };
    match opt.text.as_str() {
        "httplog" => {
            if let Some(x) = rest.first().filter(|x| x.text != "clf") {
                return Err(Diagnostic::error(format!(
                    "'option httplog' : unexpected argument '{}'",
                    x.text
                ))
                .at(x.span));
            }
            let clf = rest.len() == 1;
            p.log.format = match (negate, clf) {
                (true, _) => LogStyle::Default,
                (false, true) => LogStyle::HttpClf,
                (false, false) => LogStyle::Http,
            };
        }
        "httpslog" => {
            no_args("httpslog")?;
            if negate {
                p.log.format = LogStyle::Default;
                return Ok(());
            }
            // HAProxy 2.6's default_https_log_format (log.c), parsed like any
            // log-format so the TLS fields come from the same fetches.
            let word = Word {
                text: HTTPS_LOG_FORMAT.to_string(),
                span: opt.span,
                quoted: true,
            };
            let ctx_text = format!("'option httpslog' in {where_}");
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::Log, &ctx_text, &exists);
            let fmt = expr::parse_log_format(&word, &ctx, cx.diags).ok_or_else(silent)?;
            p.log.format = LogStyle::Custom(fmt);
        }
        "tcplog" => {
            no_args("tcplog")?;
            p.log.format = if negate {
                LogStyle::Default
            } else {
                LogStyle::Tcp
            };
        }
        "abortonclose" | "http-pretend-keepalive" => {
            // Both describe what portcullis always does (see the man page):
            // a client that closes aborts its request and the server
            // exchange; servers are never told `Connection: close`.
            no_args(&opt.text)?;
        }
        "contstats" => {
            no_args("contstats")?;
            if !negate {
                cx.diags.push(
                    Diagnostic::warning(
                        "'option contstats' has no effect: portcullis keeps no traffic counters for the statistics, so there is nothing to update continuously",
                    )
                    .at(opt.span)
                    .help("remove the line"),
                );
            }
        }
        "dontlognull" => {
            no_args("dontlognull")?;
            p.log.dont_log_null = !negate;
        }
        "logasap" => {
            no_args("logasap")?;
            p.log.logasap = !negate;
        }
        "http-server-close" => {
            no_args("http-server-close")?;
            p.http_server_close = !negate;
        }
        "httpclose" => {
            no_args("httpclose")?;
            p.http_close = !negate;
        }
        "http-keep-alive" => {
            // HAProxy's default mode; it cancels the close modes set before.
            no_args("http-keep-alive")?;
            if !negate {
                p.http_server_close = false;
                p.http_close = false;
            }
        }
        "persist" => {
            no_args("persist")?;
            p.persist.force_down = !negate;
        }
        "redispatch" => {
            let interval = match rest.first() {
                Some(v) => Some(v.text.parse::<i32>().map_err(|_| {
                    Diagnostic::error(format!(
                        "'option redispatch' : invalid interval '{}'",
                        v.text
                    ))
                    .at(v.span)
                })?),
                None => Some(-1),
            };
            p.redispatch = if negate { None } else { interval };
        }
        "forwardfor" => {
            if negate {
                p.forward_for = None;
                return Ok(());
            }
            let mut ff = ForwardFor {
                except: None,
                header: "X-Forwarded-For".to_string(),
                if_none: false,
            };
            let mut i = 0;
            while let Some(o) = rest.get(i) {
                match o.text.as_str() {
                    "except" => {
                        ff.except = Some(ip_net(
                            arg(rest, i + 1, o, "a network")?,
                            "option forwardfor except",
                        )?);
                        i += 1;
                    }
                    "header" => {
                        ff.header = arg(rest, i + 1, o, "a header name")?.text.clone();
                        i += 1;
                    }
                    "if-none" => ff.if_none = true,
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "'option forwardfor' : unknown parameter '{}'",
                            o.text
                        ))
                        .at(o.span)
                        .help("parameters are except <network>, header <name> and if-none"));
                    }
                }
                i += 1;
            }
            p.forward_for = Some(ff);
        }
        "httpchk" => {
            if negate {
                p.health.httpchk = false;
                return Ok(());
            }
            let mut req = HttpCheckRequest {
                method: "OPTIONS".into(),
                uri: "/".into(),
                version: "HTTP/1.0".into(),
                headers: Vec::new(),
                body: None,
            };
            match rest {
                [] => {}
                [uri] => req.uri = uri.text.clone(),
                [m, uri] => {
                    req.method = m.text.clone();
                    req.uri = uri.text.clone();
                }
                [m, uri, ver, more @ ..] => {
                    req.method = m.text.clone();
                    req.uri = uri.text.clone();
                    req.version = ver.text.clone();
                    if let Some(x) = more.first() {
                        return Err(Diagnostic::error(format!(
                            "'option httpchk' : unexpected argument '{}'",
                            x.text
                        ))
                        .at(x.span)
                        .help("headers are added with 'http-check send hdr <name> <value>'"));
                    }
                }
            }
            p.health.http = Some(req);
            p.health.httpchk = true;
            p.health.tcp_check = false;
            p.health.ssl_hello = false;
        }
        "tcp-check" => {
            no_args("tcp-check")?;
            p.health.tcp_check = !negate;
            if !negate {
                p.health.httpchk = false;
                p.health.ssl_hello = false;
            }
        }
        "ssl-hello-chk" => {
            no_args("ssl-hello-chk")?;
            p.health.ssl_hello = !negate;
            if !negate {
                p.health.httpchk = false;
                p.health.tcp_check = false;
            }
        }
        "log-health-checks" => {
            no_args("log-health-checks")?;
            p.health.log_health_checks = !negate;
        }
        "allbackups" => {
            no_args("allbackups")?;
            p.lb.allbackups = !negate;
        }
        _ => {
            let combined = Word {
                text: full,
                span: w[at - 1].span.to(opt.span),
                quoted: false,
            };
            cx.unknown_keyword(Context::Proxy, &combined, where_);
        }
    }
    Ok(())
}

fn http_check(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let sub = arg(w, 1, kw, "'send' or 'expect'")?;
    p.http_check_used = Some(kw.span);
    match sub.text.as_str() {
        "send" => {
            let req = p.health.http.get_or_insert_with(|| HttpCheckRequest {
                method: "GET".into(),
                uri: "/".into(),
                version: "HTTP/1.0".into(),
                headers: Vec::new(),
                body: None,
            });
            let mut i = 2;
            while let Some(o) = w.get(i) {
                let v = arg(w, i + 1, o, "a value")?;
                match o.text.as_str() {
                    "meth" => req.method = v.text.clone(),
                    "uri" => req.uri = v.text.clone(),
                    "ver" => req.version = v.text.clone(),
                    "hdr" => {
                        let val = arg(w, i + 2, o, "a header name and a value")?;
                        req.headers.push((v.text.clone(), val.text.clone()));
                        i += 1;
                    }
                    "body" => req.body = Some(v.text.clone()),
                    "uri-lf" | "body-lf" | "comment" => {
                        return Err(Diagnostic::error(format!(
                            "'http-check send {}' is not supported by portcullis",
                            o.text
                        ))
                        .at(o.span));
                    }
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "'http-check send' : unknown parameter '{}'",
                            o.text
                        ))
                        .at(o.span)
                        .help("parameters are meth, uri, ver, hdr and body"));
                    }
                }
                i += 2;
            }
            // Written only in a backend with `option httpchk`; keep the request
            // even when the option comes later.
            Ok(())
        }
        "expect" => {
            let mut i = 2;
            let negate = w.get(i).is_some_and(|x| x.text == "!");
            if negate {
                i += 1;
            }
            let kind = arg(w, i, sub, "a match type and a pattern")?;
            let pattern = arg(w, i + 1, kind, "a pattern")?;
            match kind.text.as_str() {
                "status" | "rstatus" | "string" | "rstring" => {}
                other => {
                    return Err(Diagnostic::error(format!(
                        "'http-check expect' : unsupported match '{other}'"
                    ))
                    .at(kind.span)
                    .help("portcullis supports status, rstatus, string and rstring"));
                }
            }
            if kind.text == "status" {
                super::checks::status_list(pattern)?;
            }
            if kind.text.starts_with('r')
                && let Err(e) = regex::Regex::new(&pattern.text)
            {
                return Err(Diagnostic::error(format!(
                    "'http-check expect {}' : invalid regex: {e}",
                    kind.text
                ))
                .at(pattern.span));
            }
            p.health.expect.push(HttpCheckExpect {
                negate,
                kind: kind.text.clone(),
                pattern: pattern.text.clone(),
            });
            extra_words(line, i + 2, "http-check expect").map_or(Ok(()), Err)
        }
        _ => {
            let combined = Word {
                text: format!("http-check {}", sub.text),
                span: kw.span.to(sub.span),
                quoted: false,
            };
            cx.unknown_keyword(Context::Proxy, &combined, where_);
            Ok(())
        }
    }
}

fn stats_line(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let sub = arg(w, 1, kw, "a stats setting")?;
    let s = &mut p.stats;
    match sub.text.as_str() {
        "enable" => {
            s.enabled = true;
            extra_words(line, 2, "stats enable").map_or(Ok(()), Err)
        }
        "uri" => {
            s.uri = Some(arg(w, 2, sub, "a URI prefix")?.text.clone());
            s.enabled = true;
            extra_words(line, 3, "stats uri").map_or(Ok(()), Err)
        }
        "realm" => {
            s.realm = Some(arg(w, 2, sub, "a realm")?.text.clone());
            s.enabled = true;
            extra_words(line, 3, "stats realm").map_or(Ok(()), Err)
        }
        "auth" => {
            let up = arg(w, 2, sub, "user:password")?;
            let Some((u, pw)) = up.text.split_once(':') else {
                return Err(Diagnostic::error(format!(
                    "'stats auth' expects user:password, got '{}'",
                    up.text
                ))
                .at(up.span));
            };
            s.auth.push((u.to_string(), pw.to_string()));
            s.enabled = true;
            extra_words(line, 3, "stats auth").map_or(Ok(()), Err)
        }
        "refresh" => {
            s.refresh = Some(time_ms(arg(w, 2, sub, "a time")?, "stats refresh")?);
            s.enabled = true;
            extra_words(line, 3, "stats refresh").map_or(Ok(()), Err)
        }
        "show-legends" | "hide-version" => {
            if sub.text == "show-legends" {
                s.show_legends = true;
            } else {
                s.hide_version = true;
            }
            s.enabled = true;
            extra_words(line, 2, &format!("stats {}", sub.text)).map_or(Ok(()), Err)
        }
        "show-node" | "show-desc" => {
            let v = w.get(2).map_or_else(String::new, |v| v.text.clone());
            if sub.text == "show-node" {
                // HAProxy: letters, digits, '-', '_' and '.' only.
                if let Some(bad) = v
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                {
                    return Err(Diagnostic::error(format!(
                        "'stats show-node' : character '{bad}' is not permitted in node name"
                    ))
                    .at(w[2].span)
                    .help("node names use letters, digits, '-', '_' and '.'"));
                }
                s.show_node = Some(v);
            } else {
                s.show_desc = Some(v);
            }
            s.enabled = true;
            extra_words(line, 3, &format!("stats {}", sub.text)).map_or(Ok(()), Err)
        }
        "admin" => {
            if w.len() < 4 || !matches!(w[2].text.as_str(), "if" | "unless") {
                return Err(Diagnostic::error("'stats admin' requires a condition")
                    .at(sub.span)
                    .help("write 'stats admin if <condition>' (e.g. 'stats admin if TRUE')"));
            }
            let ctx_text = format!("'stats admin' in {where_}");
            let exists = |n: &str| p.has_acl(n);
            let ctx = p.expr_ctx(Stage::HttpRequest, &ctx_text, &exists);
            let cond = p.condition(cx, &w[2..], &ctx)?;
            p.stats.admin = Some(cond);
            Ok(())
        }
        "socket" => Err(
            Diagnostic::error("'stats socket' is only valid in the global section").at(sub.span),
        ),
        _ => {
            let combined = Word {
                text: format!("stats {}", sub.text),
                span: kw.span.to(sub.span),
                quoted: false,
            };
            cx.unknown_keyword(Context::Proxy, &combined, where_);
            Ok(())
        }
    }
}
