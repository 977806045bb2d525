//! Tests of the evaluation engine: the IR is built by the real parser
//! (`config::expr`) and evaluated against hand-built facts. Expected
//! strings come from HAProxy 2.6.12 runs, OpenSSL, or the manual.

mod acls;
mod converters;
mod fetches;
mod l6;
mod logs;

use super::*;
use crate::config::expr::testutil::{errors, with_ctx, word, words};
use crate::config::expr::{
    Mode, Stage, parse_acl_criterion, parse_condition, parse_log_format, parse_sample,
};
use crate::diag::Diagnostics;
use crate::ir::expr::{AclTerm, Condition, LogFormat, Sample};
use crate::runtime::facts::{
    BackendTlsFacts, CertFacts, ConnFacts, ContentFacts, LogFacts, PeerCertFacts, SessionFacts,
    TlsFacts,
};
use crate::runtime::testpki::{Pki, client_pki};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Userlist `L1`: `alice`/`secret` in group `admins`, `bob`/`pw` in `users`.
struct TestAuth;

impl UserAuth for TestAuth {
    fn check_user(&self, userlist: &str, user: &[u8], pass: &[u8]) -> bool {
        userlist == "L1" && matches!((user, pass), (b"alice", b"secret") | (b"bob", b"pw"))
    }

    fn user_in_group(&self, userlist: &str, user: &[u8], group: &str) -> bool {
        userlist == "L1" && matches!((user, group), (b"alice", "admins") | (b"bob", "users"))
    }
}

/// Everything one test evaluates against.
pub(super) struct World {
    pub conn: ConnFacts,
    pub req: Option<http::request::Parts>,
    pub res: Option<http::response::Parts>,
    pub vars: Vars,
    pub content: Option<ContentFacts>,
    pub log: Option<LogFacts>,
    /// TLS of the server connection that carried the response.
    pub backend_tls: Option<BackendTlsFacts>,
    /// ACLs declared with `acl <name> <criterion>`.
    pub acls: Vec<(String, Vec<AclTerm>)>,
}

fn must<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("test setup: {e:?}"),
    }
}

/// 2026-11-23 08:43:47.123 UTC.
pub(super) fn accept_date() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_423_427_123)
}

pub(super) fn conn(tls: Option<TlsFacts>) -> ConnFacts {
    ConnFacts {
        src: must("192.0.2.10:40648".parse()),
        dst: must("127.0.0.1:8443".parse()),
        frontend: "fe".into(),
        tls: tls.map(Arc::new),
        accept_date: accept_date(),
        conn_error: 0,
        proxy_header: None,
        lua: None,
    }
}

/// A verified mTLS session with the test PKI's client certificate.
pub(super) fn mtls() -> TlsFacts {
    mtls_with(&client_pki())
}

/// A verified mTLS session with `pki`'s client certificate; the frontend
/// presented the CA certificate and the client sent the CA after its leaf.
pub(super) fn mtls_with(pki: &Pki) -> TlsFacts {
    TlsFacts {
        sni: Some("api.example".into()),
        session: SessionFacts {
            protocol: "TLSv1.3",
            cipher: "TLS_AES_256_GCM_SHA384",
            alpn: Some(b"h2".to_vec()),
            resumed: false,
        },
        client: Some(PeerCertFacts {
            leaf: Arc::new(pki.client()),
            chain_der: vec![pki.ca_der.clone()],
        }),
        cert_presented_this_handshake: true,
        verify_result: 0,
        crt_err: 0,
        ca_err: 0,
        ca_err_depth: 0,
        error_code: 0,
        error_reason: None,
        frontend_cert: Some(Arc::new(pki.ca())),
    }
}

pub(super) fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    must(b.body(())).into_parts().0
}

impl World {
    pub fn new(conn: ConnFacts) -> World {
        World {
            conn,
            req: None,
            res: None,
            vars: Vars::new(ProcVars::new()),
            content: None,
            log: None,
            backend_tls: None,
            acls: Vec::new(),
        }
    }

    /// A plain HTTP/1.1 request.
    pub fn http(method: &str, uri: &str, headers: &[(&str, &str)]) -> World {
        let mut w = World::new(conn(None));
        w.req = Some(request(method, uri, headers));
        w
    }

    pub fn with_response(mut self, status: u16, headers: &[(&str, &str)]) -> World {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.res = Some(must(b.body(())).into_parts().0);
        self
    }

    pub fn txn(&mut self) -> Txn<'_> {
        Txn {
            conn: &self.conn,
            req: self.req.as_ref(),
            res: self.res.as_ref(),
            vars: &mut self.vars,
            auth: &TestAuth,
            content: self.content.as_ref(),
            log: self.log.as_ref(),
            backend_tls: self.backend_tls.as_ref(),
            captures: Default::default(),
        }
    }

    /// Evaluates an expression parsed as in an `http-request` rule.
    pub fn eval(&mut self, expr: &str) -> Option<Value> {
        let s = parse_expr(Stage::HttpRequest, expr);
        eval_sample(&s, &mut self.txn())
    }

    /// Evaluates an expression parsed as in an `http-response` rule.
    pub fn eval_res(&mut self, expr: &str) -> Option<Value> {
        let s = parse_expr(Stage::HttpResponse, expr);
        eval_sample(&s, &mut self.txn())
    }

    /// The value of an `http-response` expression as text.
    pub fn text_res(&mut self, expr: &str) -> Option<String> {
        self.eval_res(expr)
            .and_then(Value::into_text)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The expression's value as text (what `%[…]` prints).
    pub fn text(&mut self, expr: &str) -> Option<String> {
        self.eval(expr)
            .and_then(Value::into_text)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Declares `acl <name> <criterion…>`.
    pub fn declare(&mut self, name: &str, criterion: &str) {
        let term = parse_acl(criterion);
        match self.acls.iter_mut().find(|(n, _)| n == name) {
            Some((_, terms)) => terms.push(term),
            None => self.acls.push((name.to_string(), vec![term])),
        }
    }

    /// Evaluates an anonymous criterion.
    pub fn acl(&mut self, criterion: &str) -> bool {
        let term = parse_acl(criterion);
        eval_acl_term(&term, &mut self.txn())
    }

    /// Evaluates `if …` / `unless …` with the declared ACLs.
    pub fn cond(&mut self, text: &str) -> bool {
        let names: Vec<String> = self.acls.iter().map(|(n, _)| n.clone()).collect();
        let c = parse_cond(&names, text);
        let acls = std::mem::take(&mut self.acls);
        let lookup = |n: &str| -> &[AclTerm] {
            acls.iter()
                .find(|(name, _)| name == n)
                .map_or(&[][..], |(_, t)| t.as_slice())
        };
        let r = eval_condition(&c, &lookup, &mut self.txn());
        self.acls = acls;
        r
    }

    /// Evaluates a condition while content inspection may still wait:
    /// `None` when it needs more data.
    pub fn cond_partial(&mut self, text: &str) -> Option<bool> {
        let names: Vec<String> = self.acls.iter().map(|(n, _)| n.clone()).collect();
        let c = parse_cond(&names, text);
        let acls = std::mem::take(&mut self.acls);
        let lookup = |n: &str| -> &[AclTerm] {
            acls.iter()
                .find(|(name, _)| name == n)
                .map_or(&[][..], |(_, t)| t.as_slice())
        };
        let r = eval_condition_partial(&c, &lookup, &mut self.txn());
        self.acls = acls;
        r
    }

    /// Renders a log-format string parsed at `stage`.
    pub fn render(&mut self, stage: Stage, target: LfTarget, fmt: &str) -> String {
        let f = parse_lf(stage, fmt);
        let mut out = Vec::new();
        render_log_format(&f, target, &mut self.txn(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub(super) fn parse_expr(stage: Stage, text: &str) -> Sample {
    let mut diags = Diagnostics::new();
    let w = word(text);
    let s = with_ctx(Mode::Http, stage, &[], |ctx| {
        parse_sample(&w, ctx, &mut diags)
    });
    s.unwrap_or_else(|| panic!("{text}: {:?}", errors(&diags)))
}

pub(super) fn parse_acl(text: &str) -> AclTerm {
    let mut diags = Diagnostics::new();
    let ws = words(text);
    let t = with_ctx(Mode::Http, Stage::HttpRequest, &[], |ctx| {
        parse_acl_criterion(&ws, ctx, &mut diags)
    });
    t.unwrap_or_else(|| panic!("{text}: {:?}", errors(&diags)))
}

pub(super) fn parse_cond(known: &[String], text: &str) -> Condition {
    let mut diags = Diagnostics::new();
    let ws = words(text);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let c = with_ctx(Mode::Http, Stage::HttpRequest, &known, |ctx| {
        parse_condition(&ws, ctx, &mut diags)
    });
    c.unwrap_or_else(|| panic!("{text}: {:?}", errors(&diags)))
}

pub(super) fn parse_lf(stage: Stage, text: &str) -> LogFormat {
    let mut diags = Diagnostics::new();
    let w = word(text);
    let f = with_ctx(Mode::Http, stage, &[], |ctx| {
        parse_log_format(&w, ctx, &mut diags)
    });
    f.unwrap_or_else(|| panic!("{text}: {:?}", errors(&diags)))
}

/// Uppercase hex of bytes (what `,hex` prints).
pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[test]
fn a_txn_without_a_request_fails_http_fetches() {
    let mut w = World::new(conn(None));
    assert_eq!(w.eval("path"), None);
    assert_eq!(w.eval("src"), Some(Value::Ip(must("192.0.2.10".parse()))));
    assert!(!w.acl("path -m found"));
    assert!(w.acl("src 192.0.2.0/24"));
}

#[test]
fn certificate_facts_flow_into_fetches() {
    let pki = client_pki();
    let mut w = World::new(conn(Some(mtls_with(&pki))));
    let c = match CertFacts::from_der(&pki.client_der) {
        Some(c) => c,
        None => panic!("parse"),
    };
    assert_eq!(
        w.text("ssl_c_sha1,hex").as_deref(),
        Some(hex(&c.sha1).as_str())
    );
}
