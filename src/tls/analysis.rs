//! Trust-material analysis behind `check`'s TLS warnings.
//!
//! HAProxy 2.6 accepts these configurations and then fails every affected
//! handshake; `check` says so up front: certificates expired or expiring,
//! `ca-file` CAs whose chain cannot reach a self-signed root (fc_err 30 for
//! every client), CA levels without a CRL (error 3 for every client) and
//! expired CRLs (error 12). Issuer matching is by name (OpenSSL's canonical
//! comparison) and by signature, so a same-name impostor does not count.

use crate::tls::info::{CertInfo, CrlInfo};
use crate::tls::material::{CaBundle, CrlSet};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use std::collections::HashSet;
use x509_parser::error::X509Error;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// Below this many days left, a certificate "expires soon".
pub const EXPIRY_WARNING_DAYS: i64 = 30;

const DAY: i64 = 86_400;

/// Where a certificate stands in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Valid for at least [`EXPIRY_WARNING_DAYS`] more days.
    Valid,
    /// Valid now, but for fewer than [`EXPIRY_WARNING_DAYS`] days (whole days left).
    ExpiresSoon { days: i64 },
    /// notAfter has passed (whole days since).
    Expired { days_ago: i64 },
    /// notBefore is in the future.
    NotYetValid,
}

/// Classifies a certificate's validity at `now_unix`.
pub fn expiry(info: &CertInfo, now_unix: i64) -> Expiry {
    if now_unix < info.not_before {
        Expiry::NotYetValid
    } else if now_unix > info.not_after {
        Expiry::Expired {
            days_ago: (now_unix - info.not_after) / DAY,
        }
    } else if info.not_after - now_unix < EXPIRY_WARNING_DAYS * DAY {
        Expiry::ExpiresSoon {
            days: (info.not_after - now_unix) / DAY,
        }
    } else {
        Expiry::Valid
    }
}

/// One certificate of the pool, parsed once.
struct Node<'a> {
    info: &'a CertInfo,
    cert: Option<X509Certificate<'a>>,
}

fn nodes<'a>(certs: &'a [CertificateDer<'static>], infos: &'a [CertInfo]) -> Vec<Node<'a>> {
    certs
        .iter()
        .zip(infos)
        .map(|(der, info)| Node {
            info,
            cert: X509Certificate::from_der(der.as_ref()).ok().map(|(_, c)| c),
        })
        .collect()
}

/// True when `issuer`'s key verifies `child`'s signature. An algorithm ring
/// cannot check counts as verified: the warning must not be a false alarm.
fn signed_by(child: &Node<'_>, issuer: &Node<'_>) -> bool {
    let (Some(c), Some(i)) = (&child.cert, &issuer.cert) else {
        return false;
    };
    match c.verify_signature(Some(i.public_key())) {
        Ok(()) => true,
        Err(X509Error::SignatureUnsupportedAlgorithm) => true,
        Err(_) => false,
    }
}

fn is_self_signed(n: &Node<'_>) -> bool {
    n.info.self_issued && signed_by(n, n)
}

/// CA certificates of `ca_file` whose chain cannot be built up to a
/// self-signed certificate of `ca_file` or `verify_file`. HAProxy (OpenSSL
/// without partial chains) then rejects every client certificate they issued
/// (fc_err 30, ssl_c_ca_err 2). Certificates that cannot issue (no CA:TRUE,
/// not self-issued) are ignored.
pub fn unanchored(ca_file: &CaBundle, verify_file: Option<&CaBundle>) -> Vec<CertInfo> {
    let mut pool = nodes(&ca_file.certs, &ca_file.infos);
    let own = pool.len();
    if let Some(v) = verify_file {
        pool.extend(nodes(&v.certs, &v.infos));
    }
    let mut memo: Vec<Option<bool>> = vec![None; pool.len()];
    let mut out = Vec::new();
    for i in 0..own {
        let Some(node) = pool.get(i) else { continue };
        if !node.info.may_issue() {
            continue;
        }
        let mut visiting = HashSet::new();
        if !anchored(&pool, i, &mut memo, &mut visiting) {
            out.push(node.info.clone());
        }
    }
    out
}

/// Depth-first search for a path from `i` to a self-signed certificate.
fn anchored(
    pool: &[Node<'_>],
    i: usize,
    memo: &mut Vec<Option<bool>>,
    visiting: &mut HashSet<usize>,
) -> bool {
    if let Some(Some(known)) = memo.get(i) {
        return *known;
    }
    let Some(node) = pool.get(i) else {
        return false;
    };
    if is_self_signed(node) {
        memo[i] = Some(true);
        return true;
    }
    if !visiting.insert(i) {
        return false;
    }
    let mut found = false;
    for (j, parent) in pool.iter().enumerate() {
        if j != i
            && parent.info.subject_key == node.info.issuer_key
            && signed_by(node, parent)
            && anchored(pool, j, memo, visiting)
        {
            found = true;
            break;
        }
    }
    visiting.remove(&i);
    memo[i] = Some(found);
    found
}

/// CA certificates of `cas` (ca-file, ca-verify-file) with no CRL issued by
/// them in `crls` or in the bundles themselves (HAProxy puts both in one
/// store). HAProxy checks revocation at every level (`CRL_CHECK_ALL`), so a
/// missing CRL fails every client whose chain goes through that CA with
/// error 3. Each CA is reported once.
pub fn cas_missing_crl(cas: &[&CaBundle], crls: &CrlSet) -> Vec<CertInfo> {
    let mut all_crls: Vec<(&CertificateRevocationListDer<'static>, &CrlInfo)> =
        crls.crls.iter().zip(&crls.infos).collect();
    for b in cas {
        all_crls.extend(b.crls.iter().zip(&b.crl_infos));
    }
    let parsed: Vec<(Option<CertificateRevocationList<'_>>, &CrlInfo)> = all_crls
        .iter()
        .map(|(der, info)| {
            (
                CertificateRevocationList::from_der(der.as_ref())
                    .ok()
                    .map(|(_, c)| c),
                *info,
            )
        })
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for bundle in cas {
        for node in nodes(&bundle.certs, &bundle.infos) {
            if !node.info.may_issue() || !seen.insert(node.info.sha1_hex.clone()) {
                continue;
            }
            let has_crl = parsed.iter().any(|(crl, info)| {
                info.issuer_key == node.info.subject_key && crl_signed_by(crl.as_ref(), &node)
            });
            if !has_crl {
                out.push(node.info.clone());
            }
        }
    }
    out
}

fn crl_signed_by(crl: Option<&CertificateRevocationList<'_>>, ca: &Node<'_>) -> bool {
    let (Some(crl), Some(cert)) = (crl, &ca.cert) else {
        return false;
    };
    match crl.verify_signature(cert.public_key()) {
        Ok(()) => true,
        Err(X509Error::SignatureUnsupportedAlgorithm) => true,
        Err(_) => false,
    }
}

/// CRLs whose nextUpdate has passed at `now_unix`: OpenSSL then fails every
/// client of that CA with X509_V_ERR_CRL_HAS_EXPIRED (12).
pub fn stale_crls(crls: &CrlSet, now_unix: i64) -> Vec<CrlInfo> {
    crls.infos
        .iter()
        .filter(|i| i.next_update.is_some_and(|n| n < now_unix))
        .cloned()
        .collect()
}
