//! Scenario tests of the whole front end on configuration text (no TLS files;
//! TLS material is covered by `tls_tests`).

use crate::config::{LowerOptions, build};
use crate::diag::{Diagnostics, SourceMap, render};
use crate::ir::{self, Config};

fn run(text: &str) -> (Option<Config>, Diagnostics, String) {
    let mut map = SourceMap::new();
    let f = map.add("t.cfg", text);
    let (ir, diags) = build(&mut map, &[f], &LowerOptions::default(), &|_| None);
    let rendered = render(&map, &diags);
    (ir, diags, rendered)
}

fn valid(text: &str) -> Config {
    let (ir, diags, rendered) = run(text);
    assert!(!diags.has_errors(), "unexpected errors:\n{rendered}");
    match ir {
        Some(ir) => ir,
        None => panic!("no IR:\n{rendered}"),
    }
}

fn invalid(text: &str, needle: &str) -> String {
    let (ir, diags, rendered) = run(text);
    assert!(
        diags.has_errors() && ir.is_none(),
        "expected an error containing {needle:?}:\n{rendered}"
    );
    assert!(
        rendered.contains(needle),
        "expected {needle:?} in:\n{rendered}"
    );
    rendered
}

const FE: &str = "frontend fe\n    mode http\n    bind 127.0.0.1:8080\n    timeout client 5s\n";

#[test]
fn defaults_are_inherited_by_the_following_proxies() {
    let ir = valid(
        "defaults\n    mode http\n    timeout client 7s\n    timeout connect 1s\n    timeout server 9s\n    option forwardfor\nfrontend fe\n    bind 127.0.0.1:8080\n    default_backend be\nbackend be\n    server s1 127.0.0.1:9000\n",
    );
    let fe = &ir.frontends[0];
    assert_eq!(fe.common.mode, ir::expr::Mode::Http);
    assert_eq!(fe.common.timeouts.client, Some(7000));
    assert!(fe.common.forward_for.is_some());
    assert_eq!(ir.backends[0].common.timeouts.server, Some(9000));
    assert_eq!(fe.default_backend, Some(0));
}

#[test]
fn named_defaults_with_from() {
    let ir = valid(
        "defaults base\n    mode http\n    timeout client 3s\ndefaults tcpish from base\n    mode tcp\nfrontend fe from base\n    bind 127.0.0.1:8080\nfrontend fe2 from tcpish\n    bind 127.0.0.1:8081\n",
    );
    assert_eq!(ir.frontends[0].common.mode, ir::expr::Mode::Http);
    assert_eq!(ir.frontends[1].common.mode, ir::expr::Mode::Tcp);
    assert_eq!(ir.frontends[1].common.timeouts.client, Some(3000));
}

#[test]
fn from_missing_defaults_is_an_error_with_suggestion() {
    let r = invalid(
        "defaults base\n    mode http\nfrontend fe from bsae\n    bind :80\n",
        "defaults section 'bsae' not found",
    );
    assert!(r.contains("did you mean 'base'?"), "{r}");
}

#[test]
fn mixing_explicit_and_implicit_defaults_warns_like_haproxy_2_6_12() {
    // HAProxy prints an ALERT but exits 0: a warning here.
    let (ir, diags, r) = run(
        "defaults d\n    mode http\nfrontend a from d\n    bind :80\nfrontend b\n    bind :81\n",
    );
    assert!(ir.is_some() && !diags.has_errors(), "{r}");
    assert!(
        r.contains("explicitly referenced by another proxy and implicitly used here"),
        "{r}"
    );
}

#[test]
fn unknown_keyword_suggests_and_unsupported_is_named() {
    let r = invalid(
        "frontend fe\n    bindd :443\n",
        "unknown keyword 'bindd' in frontend 'fe'",
    );
    assert!(r.contains("did you mean 'bind'?"));
    assert!(r.contains("t.cfg:2:5"), "{r}");
    invalid(
        "global\n    wurfl-data-file /x\n",
        "keyword 'wurfl-data-file' is not supported by portcullis",
    );
    invalid(
        "mailers m\n    mailer a 127.0.0.1:25\n",
        "section 'mailers' is not supported by portcullis",
    );
    invalid(
        &format!("{FE}    option http-use-htx\n"),
        "keyword 'option http-use-htx'",
    );
    invalid(
        &format!("{FE}    stick-table type ip size 1m peers p\n"),
        "Proxy 'fe': unable to find sync peers 'p'.",
    );
}

fn with_local(text: &str, local: &str) -> (Option<Config>, String) {
    let mut map = SourceMap::new();
    let f = map.add("t.cfg", text);
    let opts = crate::config::LowerOptions {
        local_peer: Some(local.to_string()),
        ..crate::config::LowerOptions::default()
    };
    let (ir, diags) = crate::config::build(&mut map, &[f], &opts, &|_| None);
    let rendered = crate::diag::render(&map, &diags);
    (ir.filter(|_| !diags.has_errors()), rendered)
}

#[test]
fn peers_sections_follow_haproxy() {
    let base = "peers mesh\n    bind 127.0.0.1:1\n    server me\n    server other 127.0.0.1:2\n    table t type ip size 1k store gpc0\nbackend b\n    stick-table type string size 1k store gpc0 peers mesh\n";
    let (ir, out) = with_local(base, "me");
    let ir = ir.unwrap_or_else(|| panic!("{out}"));
    assert_eq!(ir.peers.len(), 1);
    let p = &ir.peers[0];
    assert_eq!(p.local, "me");
    assert_eq!(p.remotes.len(), 1);
    assert_eq!(p.tables, ["mesh/t", "b"]);
    assert_eq!(ir.peer_tables[0].name, "mesh/t");
    // Another local name: the section is removed, the tables stay local.
    let (ir, out) = with_local(base, "vm");
    let ir = ir.unwrap_or_else(|| panic!("{out}"));
    assert!(ir.peers.is_empty());
    assert!(
        out.contains("Removing incomplete section 'peers mesh' (no peer named 'vm')."),
        "{out}"
    );
    assert_eq!(
        ir.backends[0]
            .common
            .stick_table
            .as_ref()
            .map(|t| t.peers.clone()),
        Some(None)
    );
    // The local server line takes no address.
    let (ir, out) = with_local(base, "other");
    assert!(ir.is_none());
    assert!(
        out.contains("'server mesh/other' : unknown keyword '127.0.0.1:2'. Hint: no address was expected for this server."),
        "{out}"
    );
    let (ir, out) = with_local(
        "peers mesh\n    peer me 127.0.0.1:1\n    bind 127.0.0.1:3\n",
        "me",
    );
    assert!(ir.is_none());
    assert!(
        out.contains("mixing \"peer\" and \"bind\" line is forbidden"),
        "{out}"
    );
    // localpeer names the local peer unless -L did.
    let text = "global\n    localpeer me\npeers mesh\n    peer me 127.0.0.1:1\n";
    let (ir, out) = with_local(text, "x");
    assert!(
        out.contains(
            "'localpeer' ignored since it is already set by using the '-L' command line argument."
        ),
        "{out}"
    );
    assert!(ir.is_some_and(|c| c.peers.is_empty()));
    // track-sc may name a table declared in a peers section.
    let (ir, out) = with_local(
        "peers mesh\n    peer me 127.0.0.1:1\n    table t type ip size 1k store gpc0\nfrontend f\n    mode http\n    bind :8080\n    http-request track-sc0 src table mesh/t\n",
        "me",
    );
    assert!(ir.is_some(), "{out}");
}

#[test]
fn backend_references_and_modes_are_checked() {
    let r = invalid(
        &format!("{FE}    default_backend nope\nbackend nop\n    mode http\n"),
        "unable to find required default_backend: 'nope'",
    );
    assert!(r.contains("did you mean 'nop'?"), "{r}");
    invalid(
        &format!("{FE}    use_backend be if {{ path_beg /api }}\nbackend be\n    mode tcp\n"),
        "incompatible tcp backend 'be'",
    );
}

#[test]
fn layer4_and_session_rules_belong_to_frontends() {
    for rule in ["connection accept", "session reject"] {
        let kind = rule.split(' ').next().unwrap_or_default();
        invalid(
            &format!(
                "{FE}    default_backend be\nbackend be\n    mode http\n    tcp-request {rule}\n"
            ),
            &format!("tcp-request {kind} is not allowed because backend be is not a frontend"),
        );
    }
    let ir = valid(&format!(
        "{FE}    tcp-request session set-var(sess.sni) ssl_fc_sni\n    tcp-request session reject unless {{ ssl_fc }}\n"
    ));
    assert_eq!(ir.frontends[0].common.tcp_request_session.len(), 2);
}

#[test]
fn listen_defaults_to_itself_and_capabilities_warn() {
    let text = "listen l\n    mode http\n    bind 127.0.0.1:8080\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n    server s 127.0.0.1:9000\nbackend be\n    monitor-uri /x\n";
    let (ir, diags, r) = run(text);
    assert!(!diags.has_errors(), "{r}");
    let ir = ir.unwrap_or_else(|| panic!("{r}"));
    assert_eq!(ir.frontends[0].default_backend, Some(0));
    assert!(
        r.contains("'monitor-uri' ignored because backend 'be' has no frontend capability"),
        "{r}"
    );
    invalid(
        &format!("{FE}    server s 127.0.0.1:1\n"),
        "'server' not allowed because frontend 'fe' has no backend capability",
    );
}

#[test]
fn server_checks() {
    let be = "backend be\n    mode http\n    timeout connect 1s\n    timeout server 1s\n";
    invalid(
        &format!("{be}    server s1 127.0.0.1:1\n    server s1 127.0.0.1:2\n"),
        "another server named 's1' was already defined at line 5",
    );
    invalid(
        &format!("{be}    server s1 127.0.0.1:1 weight 300\n"),
        "weight of server is not within 0 and 256 (300)",
    );
    invalid(
        &format!("{be}    server s1 127.0.0.1:1 ssl\n"),
        "verify is enabled by default but no CA file specified",
    );
    invalid(
        &format!("{be}    server s1 127.0.0.1:1 ssl verify required\n"),
        "verify is enabled but no CA file specified",
    );
    invalid(
        &format!("{be}    server s1 127.0.0.1:1 chek\n"),
        "did you mean 'check'?",
    );
    let ir = valid(&format!(
        "{FE}    default_backend be\n{be}    default-server check inter 3s rise 4 fall 5\n    server s1 127.0.0.1:1 ssl verify none weight 10 backup\n    server s2 127.0.0.1:2 no-check\n"
    ));
    let s = &ir.backends[0].servers;
    let c = s[0].check.as_ref().map(|c| (c.inter, c.rise, c.fall));
    assert_eq!(c, Some((3000, 4, 5)));
    assert!(s[0].backup && s[0].weight == 10);
    assert!(matches!(
        s[0].tls.as_ref().map(|t| &t.verify),
        Some(ir::ServerVerify::None)
    ));
    assert!(s[1].check.is_none());
}

#[test]
fn bind_checks() {
    invalid(
        "frontend fe\n    bind 127.0.0.1:1 verfy required\n",
        "did you mean 'verify'?",
    );
    invalid(
        "frontend fe\n    bind 127.0.0.1:1 ssl\n",
        "no SSL certificate specified",
    );
    invalid(
        "frontend fe\n    bind 127.0.0.1\n",
        "missing port specification in '127.0.0.1'",
    );
    invalid(
        "frontend fe\n    bind 127.0.0.1:1 ssl crt x.pem crt-ignore-err 0\n",
        "ID '0' out of range (1..94)",
    );
    invalid(
        "frontend fe\n    bind 127.0.0.1:1 npn h2\n",
        "bind option 'npn' is not supported by portcullis",
    );
    let (_, _, r) = run("frontend fe\n    bind 127.0.0.1:1 crt x.pem\n    timeout client 1s\n");
    assert!(
        r.contains("without 'ssl' this listener speaks clear text"),
        "{r}"
    );
}

#[test]
fn timeouts_and_numbers_are_strict() {
    invalid(
        &format!("{FE}    timeout client 5x\n"),
        "unexpected character 'x' in 'timeout client'",
    );
    invalid(
        &format!("{FE}    maxconn abc\n"),
        "'maxconn' expects a positive integer, got 'abc'",
    );
    invalid(
        &format!("{FE}    timeout clinet 5s\n"),
        "did you mean 'timeout client'?",
    );
    let (_, _, r) = run("frontend fe\n    mode http\n    bind 127.0.0.1:1\n");
    assert!(r.contains("missing timeouts for frontend 'fe'"), "{r}");
}

#[test]
fn rules_lower_to_actions() {
    let ir = valid(&format!(
        "{FE}    acl api path_beg /api\n    http-request deny deny_status 401 if api !{{ ssl_c_used }}\n    http-request set-header X-Client-DN %[ssl_c_s_dn] if {{ ssl_c_used }}\n    http-request redirect scheme https code 301 unless {{ ssl_fc }}\n    http-request return status 200 content-type text/plain string ok if {{ path /health }}\n    http-response del-header Server\n    tcp-request connection reject if {{ src 10.0.0.0/8 }}\n"
    ));
    let fe = &ir.frontends[0].common;
    assert_eq!(fe.http_request.len(), 4);
    assert!(matches!(&fe.http_request[0].action, ir::HttpAction::Deny(r) if r.status == 401));
    assert!(matches!(&fe.http_request[2].action, ir::HttpAction::Redirect(r) if r.code == 301));
    assert_eq!(fe.http_response.len(), 1);
    assert_eq!(fe.tcp_request_connection.len(), 1);
    invalid(
        &format!("{FE}    http-request set-header X-A\n"),
        "expects exactly 2 arguments",
    );
    invalid(
        &format!("{FE}    http-request return status 200 string ok\n"),
        "a 'content-type' is required",
    );
    invalid(
        &format!("{FE}    http-request set-hdr X a\n"),
        "did you mean 'set-header'?",
    );
}

#[test]
fn identity_header_added_with_add_header_warns() {
    let (_, diags, r) = run(&format!(
        "{FE}    http-request add-header X-SSL-Client-DN %[ssl_c_s_dn]\n"
    ));
    assert!(!diags.has_errors(), "{r}");
    assert!(
        r.contains("identity header 'X-SSL-Client-DN' is appended with 'add-header'"),
        "{r}"
    );
}

#[test]
fn global_keywords() {
    let ir = valid(&format!(
        "global\n    nbthread 2\n    maxconn 100\n    log stderr local0 info\n    hard-stop-after 30s\n    ssl-server-verify none\n    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n    ssl-default-bind-ciphers ECDHE+AESGCM\n{FE}"
    ));
    assert_eq!(ir.global.nbthread, Some(2));
    assert_eq!(ir.global.hard_stop_after, Some(30_000));
    assert_eq!(
        ir.global.server_verify_default,
        ir::ServerVerifyDefault::None
    );
    assert!(ir.global.bind_tls_defaults.no_tls_tickets);
    assert_eq!(
        ir.global.bind_tls_defaults.ciphers.as_ref().map(Vec::len),
        Some(4)
    );
    invalid(
        "global\n    stats socket /run/x.sock ssl crt a.pem\n",
        "'ssl' on a stats socket gives no protection",
    );
    invalid(
        "global\n    log stderr local9\n",
        "unknown log facility 'local9'",
    );
}

#[test]
fn lexer_errors_stop_before_lowering() {
    let r = invalid("frontend fe\n    bind \"127.0.0.1:1\n", "unmatched quote");
    assert!(!r.contains("missing timeouts"), "{r}");
}

#[test]
fn dh_param_keywords_set_the_binds_dh_source() {
    let (ir, diags, r) = run(&format!("global\n    tune.ssl.default-dh-param 4096\n{FE}"));
    assert!(ir.is_some() && !diags.has_errors(), "{r}");
    assert!(!r.contains("has no effect"), "{r}");
    assert_eq!(ir.and_then(|c| c.global.dh_default_bits), Some(4096));
    let (_, _, r) = run(&format!("global\n    tune.ssl.default-dh-param 1024\n{FE}"));
    assert!(r.contains("DH ciphers won't be available"), "{r}");
    invalid(
        &format!("global\n    tune.ssl.default-dh-param big\n{FE}"),
        "expects a value >= 1024",
    );
    invalid(
        &format!("global\n    tune.ssl.default-dh-param 512\n{FE}"),
        "expects a value >= 1024",
    );
    invalid(
        &format!("global\n    ssl-dh-param-file /nonexistent/dh.pem\n{FE}"),
        "unable to load DH parameters",
    );
    invalid(
        &format!("global\n    ssl-dh-param-file tests/fixtures/pki/server.pem\n{FE}"),
        "no 'DH PARAMETERS' block",
    );
}

#[test]
fn strict_haproxy_refuses_extensions() {
    let text = "frontend fe\n    mode http\n    bind 127.0.0.1:8443 ssl crt tests/fixtures/pki/server.pem verify required ca-file tests/fixtures/pki/inter-root-bundle.crt verify-depth 1 no-strict-sni-host\n    timeout client 5s\n";
    let (ir, diags, r) = run(text);
    assert!(
        ir.is_some() && !diags.has_errors(),
        "extensions are accepted by default:\n{r}"
    );
    let mut map = SourceMap::new();
    let f = map.add("t.cfg", text);
    let opts = LowerOptions {
        strict_haproxy: true,
        ..LowerOptions::default()
    };
    let (ir, diags) = build(&mut map, &[f], &opts, &|_| None);
    let r = render(&map, &diags);
    assert!(ir.is_none(), "{r}");
    assert!(
        r.contains("'verify-depth' is a portcullis extension"),
        "{r}"
    );
    assert!(
        r.contains("'no-strict-sni-host' is a portcullis extension"),
        "{r}"
    );
}

#[test]
fn server_tls_version_flags() {
    let be = "backend be\n    mode http\n    timeout connect 1s\n    timeout server 1s\n";
    let ir = valid(&format!(
        "{FE}    default_backend be\n{be}    server s1 127.0.0.1:1 ssl verify none force-tlsv12 no-sslv3\n"
    ));
    let p = ir.backends[0].servers[0]
        .tls
        .as_ref()
        .map(|t| (t.params.min_version, t.params.max_version));
    assert_eq!(
        p,
        Some((Some(ir::TlsVersion::Tls12), Some(ir::TlsVersion::Tls12)))
    );
    invalid(
        &format!(
            "{FE}    default_backend be\n{be}    server s1 127.0.0.1:1 ssl verify none force-tlsv10\n"
        ),
        "'force-tlsv10' is not supported by portcullis",
    );
}

#[test]
fn process_identity_keywords() {
    let ir = valid(&format!(
        "global\n    user root\n    gid 0\n    chroot /\n{FE}"
    ));
    assert_eq!((ir.global.uid, ir.global.gid), (Some(0), Some(0)));
    invalid(
        &format!("global\n    user no-such-user-here\n{FE}"),
        "cannot find user id for 'no-such-user-here'",
    );
    invalid(
        &format!("global\n    group no-such-group-here\n{FE}"),
        "cannot find group id for 'no-such-group-here'",
    );
    let (_, diags, r) = run(&format!("global\n    chroot /no/such/jail\n{FE}"));
    assert!(
        !diags.has_errors() && r.contains("'run' will refuse to start"),
        "{r}"
    );
}

#[test]
fn tls_session_tuning_reaches_every_bind() {
    let ir = valid(
        "global\n    tune.ssl.cachesize 0\n    tune.ssl.lifetime 2m\nfrontend tls\n    mode http\n    bind 127.0.0.1:8443 ssl crt tests/fixtures/pki/server.pem\n    timeout client 5s\n",
    );
    let c = ir.frontends[0].binds[0]
        .tls
        .as_ref()
        .map(|t| t.session_cache);
    assert_eq!(
        c,
        Some(ir::SessionCache {
            size: 0,
            lifetime_secs: 120
        })
    );
    let ir = valid(&format!("global\n    tune.ssl.lifetime 60\n{FE}"));
    assert_eq!(ir.global.session_cache.lifetime_secs, 60);
    let (_, _, r) = run(&format!(
        "global\n    tune.ssl.capture-buffer-size 96\n{FE}"
    ));
    assert!(r.contains("has no effect"), "{r}");
}

#[test]
fn server_template_declares_numbered_servers() {
    let be = "backend be\n    mode http\n    timeout connect 1s\n    timeout server 1s\n";
    let ir = valid(&format!(
        "{be}    server-template web 3 127.0.0.1:9000 check disabled\n    server-template x- 2-4 127.0.0.1:9001 weight 7\n"
    ));
    let servers = &ir.backends[0].servers;
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web1", "web2", "web3", "x-2", "x-3", "x-4"]);
    assert!(servers[..3].iter().all(|s| s.disabled && s.check.is_some()));
    assert!(servers[3..].iter().all(|s| s.weight == 7));
    invalid(
        &format!("{be}    server-template web 3-1 127.0.0.1:9000\n"),
        "wrong server-template number or range arg '3-1'",
    );
    invalid(
        &format!("{be}    server-template web 2 127.0.0.1:9000\n    server web2 127.0.0.1:1\n"),
        "another server named 'web2' was already defined",
    );
}
