//! The running proxy: what happens to a connection once a Generation is live.
//!
//! `facts` is the plain data the connection, TLS and HTTP layers gather about
//! a client (addresses, TLS parameters, the client certificate, timings), and
//! `eval` evaluates the IR's sample expressions, ACLs, conditions and
//! log-format strings against it with HAProxy 2.6's semantics.

pub mod admin;
mod admin_cmd;
pub mod affinity;
mod after;
pub mod auth;
pub mod balance;
mod calendar;
pub mod clienthello;
pub mod compress;
pub mod errors;
pub mod eval;
pub mod facts;
pub mod generation;
pub mod h1guard;
pub mod h1head;
pub mod health;
pub mod http;
pub mod listener;
pub mod log;
pub mod logbody;
pub mod peers;
pub mod persist;
pub mod privileges;
pub mod proxyproto;
pub mod proxytlv;
pub mod resolve;
pub mod serve;
mod stats_page;
pub mod stick;
mod stickrules;
pub mod tcp;
pub mod tcprules;
pub mod tracefilter;
pub mod upstream;
pub mod upstream_tls;

#[cfg(test)]
pub(crate) mod testpki;
