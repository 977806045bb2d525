//! OpenSSL's client-chain verification, step by step, to name errors the way
//! HAProxy 2.6 reports them.
//!
//! webpki says yes or no; HAProxy's `ssl_c_err`, `ssl_c_ca_err`,
//! `ssl_c_ca_err_depth`, `ssl_c_verify` and the `crt-ignore-err` /
//! `ca-ignore-err` lists depend on *which* X509 errors OpenSSL's
//! `X509_verify_cert` reports, at which depth and in which order, and on the
//! verification going on after an ignored error. This module replays
//! OpenSSL 3.0's `verify_chain` in that order:
//!
//! 1. `build_chain`: issuers from the trust store first, then from the
//!    certificates the client sent; a chain is trusted only when it ends on a
//!    self-signed certificate of the store (no partial chains). Failures: 22
//!    chain too long, 18 self-signed leaf, 19 self-signed in chain, 2 issuer
//!    missing after a store certificate, 20 issuer missing otherwise — at the
//!    depth of the last certificate.
//! 2. `check_extensions`: 26 invalid purpose (leaf EKU without clientAuth,
//!    leaf keyUsage without digitalSignature/keyAgreement, CA EKU without
//!    clientAuth), 24 invalid CA, 25 path length exceeded.
//! 3. `check_revocation` (with `crl-file`: every certificate of the chain,
//!    the root included): 3 no CRL, 33 no CRL issuer, 8 bad CRL signature,
//!    11/12 CRL not yet valid / expired, 23 revoked.
//! 4. `internal_verify`, from the top down: 21 when the leaf's issuer is
//!    unknown, 7 bad signature, 9 not yet valid, 10 expired.
//!
//! Each error goes to the caller's callback (HAProxy's verify callback),
//! which records it and decides whether verification goes on.

use super::TrustStore;
use super::codes::*;
use crate::tls::dn::NameKey;
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

/// The callback refused an error: verification stops.
#[derive(Debug)]
pub(super) struct Stop;

/// What the emulation needs besides the certificates.
pub(super) struct Params<'s> {
    pub store: &'s TrustStore,
    /// OpenSSL's verify depth: at most this many intermediates.
    pub max_depth: u32,
    /// `crl-file` given: revocation is checked for the whole chain.
    pub crl_check: bool,
    /// Unix seconds.
    pub now: i64,
}

/// One parsed certificate of the chain being built.
#[derive(Clone)]
struct Node<'a> {
    der: &'a [u8],
    cert: X509Certificate<'a>,
    subject: NameKey,
    issuer: NameKey,
    /// Found in the trust store (`ca-file` / `ca-verify-file`).
    from_store: bool,
    /// Self-issued and its signature verifies with its own key (or uses an
    /// algorithm the parser cannot check).
    self_signed: bool,
}

impl<'a> Node<'a> {
    fn parse(der: &'a [u8], from_store: bool) -> Option<Node<'a>> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let subject = NameKey::of(cert.subject());
        let issuer = NameKey::of(cert.issuer());
        let self_signed = subject == issuer && super::self_signed_by_own_key(&cert);
        Some(Node {
            der,
            cert,
            subject,
            issuer,
            from_store,
            self_signed,
        })
    }

    fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    fn signed_by(&self, issuer: &Node<'_>) -> bool {
        self.cert
            .verify_signature(Some(issuer.cert.public_key()))
            .is_ok()
    }
}

/// Runs the four steps; `report(code, depth)` is HAProxy's verify callback.
/// Returns `false` when a certificate does not parse (the caller rejects it
/// as badly encoded, as OpenSSL fails before verifying).
pub(super) fn emulate(
    p: &Params<'_>,
    leaf: &[u8],
    sent: &[&[u8]],
    report: &mut dyn FnMut(u32, usize) -> Result<(), Stop>,
) -> Result<bool, Stop> {
    let Some(leaf) = Node::parse(leaf, false) else {
        return Ok(false);
    };
    let mut sent_nodes = Vec::with_capacity(sent.len());
    for der in sent {
        match Node::parse(der, false) {
            Some(n) => sent_nodes.push(n),
            None => return Ok(false),
        }
    }
    let (chain, trusted) = build_chain(p, leaf, &sent_nodes);
    check_trust(p, &chain, trusted, report)?;
    check_extensions(&chain, report)?;
    if p.crl_check {
        check_revocation(p, &chain, report)?;
    }
    internal_verify(p, &chain, report)?;
    Ok(true)
}

/// OpenSSL's limit: the chain is built up to `depth + 2` certificates
/// (leaf, `depth` intermediates, anchor) and one more to detect "too long".
fn depth_limit(p: &Params<'_>) -> usize {
    usize::try_from(p.max_depth)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

fn build_chain<'a>(p: &Params<'a>, leaf: Node<'a>, sent: &[Node<'a>]) -> (Vec<Node<'a>>, bool) {
    let limit = depth_limit(p);
    let mut chain = vec![leaf];
    loop {
        let Some(cur) = chain.last() else {
            return (chain, false);
        };
        if cur.self_signed && p.store.is_anchor(cur.der, &cur.subject) {
            return (chain, true);
        }
        if cur.self_signed || chain.len() > limit {
            return (chain, false);
        }
        match find_issuer(p, cur, &chain, sent) {
            Some(next) => chain.push(next),
            None => return (chain, false),
        }
    }
}

/// The issuer of `cur`: store certificates first (as OpenSSL looks in the
/// trusted store first), then the ones the client sent; among name matches,
/// one whose key verifies `cur`'s signature is preferred (OpenSSL would
/// otherwise fail later with error 7).
fn find_issuer<'a>(
    p: &Params<'a>,
    cur: &Node<'a>,
    chain: &[Node<'a>],
    sent: &[Node<'a>],
) -> Option<Node<'a>> {
    let in_chain = |der: &[u8]| chain.iter().any(|n| n.der == der);
    let mut fallback = None;
    for der in p.store.certs_named(&cur.issuer) {
        if in_chain(der) {
            continue;
        }
        let Some(node) = Node::parse(der, true) else {
            continue;
        };
        if cur.signed_by(&node) {
            return Some(node);
        }
        fallback.get_or_insert(node);
    }
    for node in sent {
        if node.subject != cur.issuer || in_chain(node.der) {
            continue;
        }
        if cur.signed_by(node) {
            return Some(node.clone());
        }
        fallback.get_or_insert_with(|| node.clone());
    }
    fallback
}

fn check_trust(
    p: &Params<'_>,
    chain: &[Node<'_>],
    trusted: bool,
    report: &mut dyn FnMut(u32, usize) -> Result<(), Stop>,
) -> Result<(), Stop> {
    if trusted {
        return Ok(());
    }
    let num = chain.len();
    let top_ss = chain.last().is_some_and(|n| n.self_signed);
    let code = if num > depth_limit(p) {
        X509_V_ERR_CERT_CHAIN_TOO_LONG
    } else if top_ss && num == 1 {
        X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    } else if top_ss {
        X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    } else if chain.iter().any(|n| n.from_store) {
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    } else {
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    };
    report(code, num.saturating_sub(1))
}

fn check_extensions(
    chain: &[Node<'_>],
    report: &mut dyn FnMut(u32, usize) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let num = chain.len();
    // Non-self-issued intermediates below the certificate being checked.
    let mut below = 0u32;
    for (i, node) in chain.iter().enumerate() {
        let c = &node.cert;
        if i == 0 {
            if !eku_allows_client(c) || !leaf_key_usage_ok(c) {
                report(X509_V_ERR_INVALID_PURPOSE, 0)?;
            }
            continue;
        }
        let top = i + 1 == num;
        if !is_ca(c, top && node.self_issued()) {
            report(X509_V_ERR_INVALID_CA, i)?;
        }
        if !eku_allows_client(c) {
            report(X509_V_ERR_INVALID_PURPOSE, i)?;
        }
        if i > 1
            && !node.self_issued()
            && let Ok(Some(bc)) = c.basic_constraints()
            && let Some(max) = bc.value.path_len_constraint
            && below > max
        {
            report(X509_V_ERR_PATH_LENGTH_EXCEEDED, i)?;
        }
        if !node.self_issued() {
            below += 1;
        }
    }
    Ok(())
}

/// OpenSSL's `xku_reject(x, XKU_SSL_CLIENT)`: an EKU extension must list
/// clientAuth (anyExtendedKeyUsage does not count).
fn eku_allows_client(c: &X509Certificate<'_>) -> bool {
    match c.extended_key_usage() {
        Ok(Some(eku)) => eku.value.client_auth,
        Ok(None) => true,
        Err(_) => false,
    }
}

/// `ku_reject(x, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)`.
fn leaf_key_usage_ok(c: &X509Certificate<'_>) -> bool {
    match c.key_usage() {
        Ok(Some(ku)) => ku.value.digital_signature() || ku.value.key_agreement(),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// `X509_check_ca` as `check_extensions` applies it: intermediates need
/// CA:TRUE (and keyCertSign when keyUsage is present); the top certificate
/// may also be an old v1 self-issued root or rely on keyCertSign alone.
fn is_ca(c: &X509Certificate<'_>, top_self_issued: bool) -> bool {
    let ku_cert_sign = match c.key_usage() {
        Ok(Some(ku)) => Some(ku.value.key_cert_sign()),
        Ok(None) => None,
        Err(_) => Some(false),
    };
    match c.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca && ku_cert_sign != Some(false),
        Ok(None) => {
            top_self_issued && (c.version() == X509Version::V1 || ku_cert_sign == Some(true))
        }
        Err(_) => false,
    }
}

fn check_revocation(
    p: &Params<'_>,
    chain: &[Node<'_>],
    report: &mut dyn FnMut(u32, usize) -> Result<(), Stop>,
) -> Result<(), Stop> {
    for (i, node) in chain.iter().enumerate() {
        let issuer = match chain.get(i + 1) {
            Some(next) => Some(next),
            None if node.self_signed => Some(node),
            None => None,
        };
        let candidates: Vec<_> = p.store.crls_from(&node.issuer).collect();
        if candidates.is_empty() {
            report(X509_V_ERR_UNABLE_TO_GET_CRL, i)?;
            continue;
        }
        let Some(issuer) = issuer else {
            report(X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER, i)?;
            continue;
        };
        let spki = issuer.cert.public_key();
        let verified: Vec<&super::StoreCrl> = candidates
            .iter()
            .copied()
            .filter(|crl| crl.signed_by(spki))
            .collect();
        let current = |crl: &super::StoreCrl| {
            crl.this_update <= p.now && crl.next_update.is_none_or(|n| n >= p.now)
        };
        let chosen = verified
            .iter()
            .find(|crl| current(crl))
            .or(verified.first())
            .copied();
        let crl = match chosen {
            Some(crl) => crl,
            None => {
                report(X509_V_ERR_CRL_SIGNATURE_FAILURE, i)?;
                match candidates.first() {
                    Some(crl) => *crl,
                    None => continue,
                }
            }
        };
        if crl.this_update > p.now {
            report(X509_V_ERR_CRL_NOT_YET_VALID, i)?;
        }
        if crl.next_update.is_some_and(|n| n < p.now) {
            report(X509_V_ERR_CRL_HAS_EXPIRED, i)?;
        }
        if crl.revokes(node.cert.raw_serial()) {
            report(X509_V_ERR_CERT_REVOKED, i)?;
        }
    }
    Ok(())
}

fn internal_verify(
    p: &Params<'_>,
    chain: &[Node<'_>],
    report: &mut dyn FnMut(u32, usize) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let Some(top) = chain.len().checked_sub(1) else {
        return Ok(());
    };
    let top_ss = chain.get(top).is_some_and(|n| n.self_signed);
    // (first certificate to check, index of its issuer)
    let (start, mut issuer) = if top_ss {
        (top, top)
    } else if top == 0 {
        report(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, 0)?;
        (0, 0)
    } else {
        // The top certificate's issuer is unknown: OpenSSL checks neither its
        // signature nor its validity.
        (top - 1, top)
    };
    for n in (0..=start).rev() {
        let (Some(xs), Some(xi)) = (chain.get(n), chain.get(issuer)) else {
            break;
        };
        if n != issuer && !xs.signed_by(xi) {
            report(X509_V_ERR_CERT_SIGNATURE_FAILURE, n)?;
        }
        let validity = xs.cert.validity();
        if validity.not_before.timestamp() > p.now {
            report(X509_V_ERR_CERT_NOT_YET_VALID, n)?;
        }
        if validity.not_after.timestamp() < p.now {
            report(X509_V_ERR_CERT_HAS_EXPIRED, n)?;
        }
        issuer = n;
    }
    Ok(())
}
