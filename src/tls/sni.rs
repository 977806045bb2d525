//! SNI → certificate entry selection with HAProxy 2.6's `crt` / `crt-list`
//! rules, built once per bind per generation and consulted on every
//! ClientHello (and for the SNI/Host check, see
//! [`crate::tls::server::BindTlsRuntime::policy_for_host`]).
//!
//! The rules (haproxy-spec.md §2.2, checked against HAProxy 2.6.12 with
//! `openssl s_client`):
//! - a line's names are its filters, or the certificate's CN(s) and DNS SANs
//!   when it has none; names are compared lower-cased;
//! - `*.domain` matches exactly one more leading label;
//! - an exact name beats a wildcard;
//! - among entries answering the same name, the key type the client can use
//!   decides first (ECDSA if the client offers ECDSA signatures and an
//!   ECDSA-capable suite, then RSA, then other key types), then declaration
//!   order — so the default certificate keeps its own names only against
//!   certificates of the same key type;
//! - `!name` excludes that name from the wildcards *of the same line*; other
//!   lines' wildcards still match it;
//! - `!*` (and any negated wildcard) adds nothing: on the first line it keeps
//!   the default certificate out of SNI matching;
//! - no SNI or no match → the first certificate, or a refusal under
//!   `strict-sni`.

use crate::ir::SniCert;
use rustls::server::ClientHello;
use std::collections::HashMap;

/// Key type of a served certificate, as HAProxy's SNI selection sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Ecdsa,
    Rsa,
    /// Ed25519 and anything else ("anonymous" in HAProxy).
    Other,
}

/// What the client can verify, from its ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientCaps {
    /// Offers an ECDSA signature scheme and a suite an ECDSA certificate can
    /// serve (any TLS 1.3 suite or an ECDHE-ECDSA one).
    pub ecdsa: bool,
    /// Offers an RSA PKCS#1 signature scheme, or sent no signature_algorithms.
    pub rsa: bool,
}

impl ClientCaps {
    /// A modern client: both key types usable.
    pub const ANY: ClientCaps = ClientCaps {
        ecdsa: true,
        rsa: true,
    };

    /// Reads the capabilities the way HAProxy's ClientHello callback does:
    /// the low byte of each signature scheme (1 = RSA, 3 = ECDSA), then an
    /// ECDSA-capable cipher suite check.
    pub fn from_hello(hello: &ClientHello<'_>) -> ClientCaps {
        let schemes = hello.signature_schemes();
        if schemes.is_empty() {
            return ClientCaps {
                ecdsa: false,
                rsa: true,
            };
        }
        let low = |s: &rustls::SignatureScheme| u16::from(*s) & 0xff;
        let rsa = schemes.iter().any(|s| low(s) == 1);
        let ecdsa_sig = schemes.iter().any(|s| low(s) == 3);
        let ecdsa_suite = hello.cipher_suites().iter().any(|cs| {
            let id = u16::from(*cs);
            // TLS 1.3 suites (any key type) and the ECDHE-ECDSA suites.
            (0x1301..=0x1305).contains(&id)
                || matches!(
                    id,
                    0xC009 | 0xC00A | 0xC023 | 0xC024 | 0xC02B | 0xC02C | 0xCCA9 | 0xC0AC..=0xC0AF
                )
        });
        ClientCaps {
            ecdsa: ecdsa_sig && ecdsa_suite,
            rsa,
        }
    }
}

/// One name inserted for an entry.
#[derive(Clone, Copy, Debug)]
struct Node {
    entry: usize,
    negated: bool,
    key: KeyKind,
}

/// The SNI lookup tables of one bind.
#[derive(Debug, Default)]
pub struct SniIndex {
    /// Exact names, each with its entries in declaration order.
    exact: HashMap<String, Vec<Node>>,
    /// Wildcards keyed by the suffix after `*` (`.wild.example`).
    wild: HashMap<String, Vec<Node>>,
    /// `strict-sni`: no default.
    strict: bool,
}

impl SniIndex {
    /// Indexes the certificates of a bind; entry numbers are positions in `certs`.
    pub fn new(certs: &[SniCert], strict: bool) -> SniIndex {
        let mut index = SniIndex {
            strict,
            ..SniIndex::default()
        };
        for (entry, cert) in certs.iter().enumerate() {
            let leaf = cert.cert.leaf();
            let key = match leaf.map(|l| l.key_alg.as_str()) {
                Some(a) if a.starts_with("EC") => KeyKind::Ecdsa,
                Some(a) if a.starts_with("RSA") => KeyKind::Rsa,
                _ => KeyKind::Other,
            };
            if cert.filters.is_empty() {
                let names = leaf.map(|l| {
                    l.common_names
                        .iter()
                        .chain(l.dns_names.iter())
                        .cloned()
                        .collect::<Vec<_>>()
                });
                for name in names.unwrap_or_default() {
                    index.insert(
                        &name,
                        Node {
                            entry,
                            negated: false,
                            key,
                        },
                    );
                }
            } else {
                for filter in &cert.filters {
                    let node = Node {
                        entry,
                        negated: filter.negated,
                        key,
                    };
                    index.insert(&filter.name, node);
                }
            }
        }
        index
    }

    fn insert(&mut self, name: &str, node: Node) {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix('*') {
            // `!*`, `!*.x`: no-ops in HAProxy; a bare `*` inserts nothing.
            Some(_) if node.negated => {}
            Some("") => {}
            Some(suffix) => self.wild.entry(suffix.to_string()).or_default().push(node),
            None if name.is_empty() => {}
            None => self.exact.entry(name).or_default().push(node),
        }
    }

    /// The entry that serves `server_name` (`None` = no SNI) for a client
    /// with `caps`: `Some(i)` for `certs[i]`, `None` when `strict-sni`
    /// refuses the handshake.
    pub fn select(&self, server_name: Option<&str>, caps: ClientCaps) -> Option<usize> {
        let matched = server_name.and_then(|name| self.lookup(&name.to_ascii_lowercase(), caps));
        match matched {
            Some(entry) => Some(entry),
            None if self.strict => None,
            None => Some(0),
        }
    }

    /// The entry whose names match `server_name`, without falling back to
    /// the default certificate.
    pub fn matching(&self, server_name: &str, caps: ClientCaps) -> Option<usize> {
        self.lookup(&server_name.to_ascii_lowercase(), caps)
    }

    fn lookup(&self, name: &str, caps: ClientCaps) -> Option<usize> {
        let exact = self.exact.get(name).map_or(&[][..], Vec::as_slice);
        if let Some(entry) = choose(exact.iter().filter(|n| !n.negated), caps) {
            return Some(entry);
        }
        let suffix = &name[name.find('.')?..];
        let excluded = |entry: usize| exact.iter().any(|n| n.negated && n.entry == entry);
        let wild = self.wild.get(suffix)?;
        choose(
            wild.iter().filter(|n| !n.negated && !excluded(n.entry)),
            caps,
        )
    }
}

/// HAProxy's priority among the entries answering one name: the first ECDSA
/// one if the client can use it, else the first RSA one if it can, else the
/// first of another key type, else whatever exists (ECDSA before RSA).
fn choose<'a>(nodes: impl Iterator<Item = &'a Node>, caps: ClientCaps) -> Option<usize> {
    let (mut ecdsa, mut rsa, mut other) = (None, None, None);
    for n in nodes {
        let slot = match n.key {
            KeyKind::Ecdsa => &mut ecdsa,
            KeyKind::Rsa => &mut rsa,
            KeyKind::Other => &mut other,
        };
        slot.get_or_insert(n.entry);
    }
    match (ecdsa, rsa) {
        (Some(e), _) if caps.ecdsa => Some(e),
        (_, Some(r)) if caps.rsa => Some(r),
        _ => other.or(ecdsa).or(rsa),
    }
}
