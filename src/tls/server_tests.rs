//! Server-side TLS without sockets: SNI selection against what HAProxy
//! 2.6.12 answered for the same crt-lists, the verifier's OpenSSL error
//! classification (codes, depths, ignore lists, alerts), and the builder's
//! sharing and refusals. Real handshakes are in `tests/tls_handshake.rs`.

use super::server::{BindTlsRuntime, TlsBuildError};
use super::sni::{ClientCaps, SniIndex};
use super::test_pki::{self, Alg, Ca, TestResult};
use super::verifier::{ClientVerifier, Rejection, VerifyOutcome, alert_error};
use super::{CaSpec, CertKey, Loader};
use crate::ir::{
    BindTls, ClientVerify, ErrorSet, IgnoreErrors, SniCert, SniFilter, TlsParams, TlsPolicy,
    TlsVersion, Trust,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, NameConstraints, SerialNumber,
};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{AlertDescription, CertificateError};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pki")
        .join(name)
}

fn none() -> TlsPolicy {
    TlsPolicy {
        verify: ClientVerify::None,
        params: TlsParams::default(),
        verify_depth: None,
        no_ca_names: false,
    }
}

fn entry(cert: Arc<CertKey>, filters: &[&str], policy: TlsPolicy) -> SniCert {
    SniCert {
        cert,
        filters: filters
            .iter()
            .map(|f| SniFilter {
                name: f.trim_start_matches('!').to_string(),
                negated: f.starts_with('!'),
            })
            .collect(),
        policy,
        crt_list_origin: None,
    }
}

/// A crt-list from (fixture, filters) lines, all `verify none`.
fn crt_list(lines: &[(&str, &[&str])]) -> Result<Vec<SniCert>, Box<dyn Error>> {
    let mut loader = Loader::new();
    lines
        .iter()
        .map(|(file, filters)| Ok(entry(loader.cert_key(&fixture(file))?, filters, none())))
        .collect()
}

const RSA_ONLY: ClientCaps = ClientCaps {
    ecdsa: false,
    rsa: true,
};

// ------------------------------------------------------------------ SNI
// Each case reproduces a crt-list tried on HAProxy 2.6.12 with
// `openssl s_client -servername` (which offers ECDSA and RSA).

#[test]
fn exclusion_sends_the_name_to_the_default() -> TestResult {
    let certs = crt_list(&[
        ("server2.crt", &["!*"]),
        ("server.pem", &["*.wild.example", "!secret.wild.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(
        sni.select(Some("secret.wild.example"), ClientCaps::ANY),
        Some(0)
    );
    assert_eq!(sni.select(Some("a.wild.example"), ClientCaps::ANY), Some(1));
    // One label only.
    assert_eq!(
        sni.select(Some("a.b.wild.example"), ClientCaps::ANY),
        Some(0)
    );
    assert_eq!(sni.select(Some("wild.example"), ClientCaps::ANY), Some(0));
    Ok(())
}

#[test]
fn exclusion_applies_to_its_own_line_only() -> TestResult {
    // T5: the exclusion sits on another line than the wildcard.
    let certs = crt_list(&[
        ("server2.crt", &["!*"]),
        ("server-ecdsa.pem", &["!secret.wild.example"]),
        ("server.pem", &["*.wild.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(
        sni.select(Some("secret.wild.example"), ClientCaps::ANY),
        Some(2)
    );
    // T6: two wildcards, the ECDSA one excludes the name.
    let certs = crt_list(&[
        ("server2.crt", &["!*"]),
        (
            "server-ecdsa.pem",
            &["*.wild.example", "!secret.wild.example"],
        ),
        ("server.pem", &["*.wild.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(
        sni.select(Some("secret.wild.example"), ClientCaps::ANY),
        Some(2)
    );
    assert_eq!(sni.select(Some("a.wild.example"), ClientCaps::ANY), Some(1));
    Ok(())
}

#[test]
fn ecdsa_beats_rsa_then_declaration_order_decides() -> TestResult {
    // T3: RSA wildcard first, ECDSA wildcard second.
    let certs = crt_list(&[
        ("server2.crt", &["!*"]),
        ("server.pem", &["*.wild.example"]),
        ("server-ecdsa.pem", &["*.wild.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(sni.select(Some("a.wild.example"), ClientCaps::ANY), Some(2));
    assert_eq!(sni.select(Some("a.wild.example"), RSA_ONLY), Some(1));
    // T7: same key type: the first declared.
    let certs = crt_list(&[
        ("server2.crt", &["!*"]),
        ("crts/b.pem", &["*.wild.example", "x.example"]),
        ("crts/a.pem", &["*.wild.example", "x.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(sni.select(Some("q.wild.example"), ClientCaps::ANY), Some(1));
    assert_eq!(sni.select(Some("x.example"), ClientCaps::ANY), Some(1));
    // T8: the default (RSA) keeps its name only against RSA.
    let certs = crt_list(&[("server.pem", &[]), ("crts/b.pem", &["test.example"])])?;
    let sni = SniIndex::new(&certs, false);
    assert_eq!(sni.select(Some("test.example"), ClientCaps::ANY), Some(1));
    assert_eq!(sni.select(Some("test.example"), RSA_ONLY), Some(0));
    Ok(())
}

#[test]
fn own_names_exact_before_wildcard_default_and_strict() -> TestResult {
    let certs = crt_list(&[
        ("server2.crt", &["!*", "*"]),
        ("server.pem", &[]),
        ("crts/a.pem", &["*.wild.example"]),
    ])?;
    let sni = SniIndex::new(&certs, false);
    // server.pem's CN and SANs, wildcard SAN included.
    for name in ["test.example", "LOCALHOST", "z.wild.example"] {
        assert_eq!(sni.select(Some(name), RSA_ONLY), Some(1), "{name}");
    }
    // Exact names beat wildcards whatever the key type.
    assert_eq!(sni.select(Some("test.example"), ClientCaps::ANY), Some(1));
    // `!*` keeps the default's own names out.
    assert_eq!(sni.select(Some("open.example"), ClientCaps::ANY), Some(0));
    assert_eq!(sni.select(None, ClientCaps::ANY), Some(0));
    let strict = SniIndex::new(&certs, true);
    assert_eq!(strict.select(Some("open.example"), ClientCaps::ANY), None);
    assert_eq!(strict.select(None, ClientCaps::ANY), None);
    assert_eq!(
        strict.select(Some("test.example"), ClientCaps::ANY),
        Some(1)
    );
    Ok(())
}

// ------------------------------------------------------- verifier: fixtures

fn fixture_trust(
    ca: &str,
    verify: Option<&str>,
    crl: Option<&str>,
) -> Result<Trust, Box<dyn Error>> {
    let mut l = Loader::new();
    Ok(Trust {
        ca_file: Some(l.ca(&CaSpec::Path(fixture(ca)))?),
        ca_verify_file: match verify {
            Some(v) => Some(l.ca(&CaSpec::Path(fixture(v)))?),
            None => None,
        },
        crl: match crl {
            Some(c) => Some(l.crls(&fixture(c))?),
            None => None,
        },
    })
}

fn verifier(
    trust: &Trust,
    ignore: IgnoreErrors,
    depth: Option<u32>,
) -> Result<ClientVerifier, Box<dyn Error>> {
    Ok(ClientVerifier::new(trust, true, false, depth, &ignore)?)
}

fn fixture_chain(name: &str) -> Result<Vec<CertificateDer<'static>>, Box<dyn Error>> {
    Ok(Loader::new().cert_key(&fixture(name))?.chain.clone())
}

fn check(v: &ClientVerifier, chain: &[CertificateDer<'_>]) -> VerifyOutcome {
    match chain.split_first() {
        Some((leaf, rest)) => v.check(leaf, rest, UnixTime::now()),
        None => VerifyOutcome::default(),
    }
}

fn rejected(code: u32, depth: u32) -> Option<Rejection> {
    Some(Rejection::X509 { code, depth })
}

const ALL: IgnoreErrors = IgnoreErrors {
    ca: ErrorSet::All,
    crt: ErrorSet::All,
};

#[test]
fn good_chains_verify_clean() -> TestResult {
    let v = verifier(
        &fixture_trust("inter.crt", Some("root.crt"), Some("crl-bundle.pem"))?,
        IgnoreErrors::default(),
        None,
    )?;
    for pem in ["client.pem", "client-chain.pem"] {
        assert_eq!(
            check(&v, &fixture_chain(pem)?),
            VerifyOutcome::default(),
            "{pem}"
        );
    }
    let v = verifier(
        &fixture_trust("inter-root-bundle.crt", None, None)?,
        IgnoreErrors::default(),
        Some(2),
    )?;
    assert_eq!(
        check(&v, &fixture_chain("deep-client.pem")?),
        VerifyOutcome::default()
    );
    Ok(())
}

#[test]
fn intermediate_without_root_is_error_2_at_depth_1() -> TestResult {
    let v = verifier(
        &fixture_trust("inter.crt", None, None)?,
        IgnoreErrors::default(),
        None,
    )?;
    let o = check(&v, &fixture_chain("client.pem")?);
    assert_eq!((o.ca_err, o.ca_err_depth, o.crt_err), (2, 1, 0));
    assert_eq!(o.rejected, rejected(2, 1));
    Ok(())
}

#[test]
fn unknown_issuer_is_20_then_21_when_ignored() -> TestResult {
    let trust = fixture_trust("inter.crt", Some("root.crt"), None)?;
    let strict = verifier(&trust, IgnoreErrors::default(), None)?;
    let intruder = fixture_chain("intruder.pem")?;
    assert_eq!(check(&strict, &intruder).rejected, rejected(20, 0));
    let lenient = verifier(&trust, ALL, None)?;
    let o = check(&lenient, &intruder);
    assert_eq!((o.crt_err, o.result, o.rejected), (20, 21, None));
    // The deep client without its sub-CA: nothing known issues it.
    let deep = fixture_chain("deep-client.pem")?;
    let leaf_only = deep.get(..1).ok_or("empty chain")?;
    assert_eq!(check(&strict, leaf_only).rejected, rejected(20, 0));
    Ok(())
}

#[test]
fn chain_too_long_is_22_at_the_first_certificate_past_the_depth() -> TestResult {
    let trust = fixture_trust("inter-root-bundle.crt", None, None)?;
    let deep = fixture_chain("deep-client.pem")?;
    let v = verifier(&trust, IgnoreErrors::default(), Some(1))?;
    let o = check(&v, &deep);
    assert_eq!(o.rejected, rejected(22, 2));
    assert_eq!((o.ca_err, o.ca_err_depth), (22, 2));
    Ok(())
}

#[test]
fn ignore_lists_are_per_depth_and_per_id() -> TestResult {
    let trust = fixture_trust("inter.crt", Some("root.crt"), None)?;
    // ca-ignore-err does not cover a depth-0 error.
    let ca_only = IgnoreErrors {
        ca: ErrorSet::All,
        crt: ErrorSet::Nothing,
    };
    let v = verifier(&trust, ca_only, None)?;
    assert_eq!(
        check(&v, &fixture_chain("expired-client.pem")?).rejected,
        rejected(10, 0)
    );
    // A missing root CRL is a CA-level error: `ca-ignore-err 3` lets it pass.
    let no_root_crl = fixture_trust("inter.crt", Some("root.crt"), Some("inter.crl"))?;
    let ca3 = IgnoreErrors {
        ca: ErrorSet::Ids(vec![3]),
        crt: ErrorSet::Nothing,
    };
    let v = verifier(&no_root_crl, ca3, None)?;
    let o = check(&v, &fixture_chain("client.pem")?);
    assert_eq!(
        (o.ca_err, o.ca_err_depth, o.result, o.rejected),
        (3, 1, 3, None)
    );
    Ok(())
}

// --------------------------------------------------------- verifier: rcgen

/// rcgen PKI: root + intermediate written as ca-verify-file / ca-file, and
/// CRLs for both.
struct Lab {
    _dir: TempDir,
    root: Ca,
    inter: Ca,
    trust: Trust,
}

/// A CRL of `ca` revoking nothing, expired since yesterday.
fn expired_crl(ca: &Ca) -> Result<String, rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now - Duration::days(2),
        next_update: now - Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::from_params(&ca.params, &ca.key))?
    .pem()
}

/// `inter_crl_expired`: the intermediate's CRL is past its nextUpdate.
fn lab(inter_crl_expired: bool) -> Result<Lab, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let root = test_pki::root("lab-root")?;
    let inter = test_pki::intermediate("lab-inter", &root)?;
    let root_path = test_pki::write(dir.path(), "root.pem", &root.pem())?;
    let inter_path = test_pki::write(dir.path(), "inter.pem", &inter.pem())?;
    let inter_crl = if inter_crl_expired {
        expired_crl(&inter)?
    } else {
        test_pki::crl(&inter, &[], 30)?
    };
    let crls = inter_crl + &test_pki::crl(&root, &[], 30)?;
    let crl_path = test_pki::write(dir.path(), "crls.pem", &crls)?;
    let mut l = Loader::new();
    let trust = Trust {
        ca_file: Some(l.ca(&CaSpec::Path(inter_path))?),
        ca_verify_file: Some(l.ca(&CaSpec::Path(root_path))?),
        crl: Some(l.crls(&crl_path)?),
    };
    Ok(Lab {
        _dir: dir,
        root,
        inter,
        trust,
    })
}

fn client_params(cn: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut p = test_pki::leaf_params(cn)?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(p)
}

fn sign(p: &CertificateParams, by: &Ca) -> Result<CertificateDer<'static>, rcgen::Error> {
    let key = test_pki::key(Alg::P256)?;
    Ok(
        p.signed_by(&key, &Issuer::from_params(&by.params, &by.key))?
            .der()
            .clone(),
    )
}

fn outcome(
    lab: &Lab,
    ignore: IgnoreErrors,
    chain: &[CertificateDer<'_>],
) -> Result<VerifyOutcome, Box<dyn Error>> {
    Ok(check(&verifier(&lab.trust, ignore, None)?, chain))
}

#[test]
fn rcgen_lab_client_is_clean() -> TestResult {
    let lab = lab(false)?;
    let leaf = sign(&client_params("ok")?, &lab.inter)?;
    assert_eq!(
        outcome(&lab, IgnoreErrors::default(), &[leaf])?,
        VerifyOutcome::default()
    );
    Ok(())
}

#[test]
fn not_yet_valid_is_9_with_alert_bad_certificate() -> TestResult {
    let lab = lab(false)?;
    let mut p = client_params("future")?;
    p.not_before = OffsetDateTime::now_utc() + Duration::days(1);
    let o = outcome(&lab, IgnoreErrors::default(), &[sign(&p, &lab.inter)?])?;
    assert_eq!(o.rejected, rejected(9, 0));
    let rustls::Error::InvalidCertificate(e) = alert_error(Rejection::X509 { code: 9, depth: 0 })
    else {
        return Err("not a certificate error".into());
    };
    assert_eq!(AlertDescription::from(e), AlertDescription::BadCertificate);
    Ok(())
}

#[test]
fn self_signed_leaf_is_18_and_untrusted_root_in_chain_is_19() -> TestResult {
    let lab = lab(false)?;
    let key = KeyPair::generate()?;
    let selfie = client_params("selfie")?.self_signed(&key)?.der().clone();
    assert_eq!(
        outcome(&lab, IgnoreErrors::default(), &[selfie])?.rejected,
        rejected(18, 0)
    );
    let rogue = test_pki::root("rogue")?;
    let leaf = sign(&client_params("rogue-client")?, &rogue)?;
    let sent = [leaf, rogue.cert.der().clone()];
    let o = outcome(&lab, IgnoreErrors::default(), &sent)?;
    assert_eq!(o.rejected, rejected(19, 1));
    assert!(matches!(
        alert_error(Rejection::X509 { code: 19, depth: 1 }),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    ));
    Ok(())
}

#[test]
fn server_only_eku_is_invalid_purpose_26() -> TestResult {
    let lab = lab(false)?;
    let mut p = client_params("server-ish")?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let o = outcome(&lab, IgnoreErrors::default(), &[sign(&p, &lab.inter)?])?;
    assert_eq!(o.rejected, rejected(26, 0));
    Ok(())
}

#[test]
fn issuer_that_is_not_a_ca_is_24() -> TestResult {
    let lab = lab(false)?;
    // A non-CA certificate of the root, sent by the client as "intermediate".
    let mut p = client_params("not-a-ca")?;
    p.is_ca = IsCa::ExplicitNoCa;
    let fake_key = test_pki::key(Alg::P256)?;
    let fake = p.signed_by(
        &fake_key,
        &Issuer::from_params(&lab.root.params, &lab.root.key),
    )?;
    let leaf_key = test_pki::key(Alg::P256)?;
    let leaf =
        client_params("victim")?.signed_by(&leaf_key, &Issuer::from_params(&p, &fake_key))?;
    let o = outcome(
        &lab,
        IgnoreErrors::default(),
        &[leaf.der().clone(), fake.der().clone()],
    )?;
    // Revocation is checked after the CA flag: with the CA error ignored,
    // the fake issuer has no CRL (error 3) and the first CA error stays 24.
    assert_eq!(o.rejected, rejected(24, 1));
    let o = outcome(&lab, ALL, &[leaf.der().clone(), fake.der().clone()])?;
    assert_eq!((o.ca_err, o.ca_err_depth, o.rejected), (24, 1, None));
    assert_eq!(o.result, 3);
    Ok(())
}

#[test]
fn expired_crl_is_12() -> TestResult {
    let lab = lab(true)?;
    let leaf = sign(&client_params("late")?, &lab.inter)?;
    assert_eq!(
        outcome(&lab, IgnoreErrors::default(), &[leaf])?.rejected,
        rejected(12, 0)
    );
    Ok(())
}

#[test]
fn webpki_catches_what_the_emulation_does_not_check() -> TestResult {
    // Name constraints are not replayed; webpki refuses, reported as 47.
    let dir = tempfile::tempdir()?;
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("allowed.example".to_string())],
        excluded_subtrees: vec![],
    });
    let key = test_pki::key(Alg::P256)?;
    let cert = params.self_signed(&key)?;
    let ca_path = test_pki::write(dir.path(), "ca.pem", &cert.pem())?;
    let trust = Trust {
        ca_file: Some(Loader::new().ca(&CaSpec::Path(ca_path))?),
        ca_verify_file: None,
        crl: None,
    };
    let leaf_key = test_pki::key(Alg::P256)?;
    let leaf = client_params("elsewhere.example")?
        .signed_by(&leaf_key, &Issuer::from_params(&params, &key))?;
    let o = check(
        &verifier(&trust, IgnoreErrors::default(), None)?,
        &[leaf.der().clone()],
    );
    assert_eq!(o.rejected, rejected(47, 0));
    Ok(())
}

#[test]
fn undecodable_certificate_is_refused_as_bad_encoding() -> TestResult {
    let lab = lab(false)?;
    let o = outcome(
        &lab,
        ALL,
        &[CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])],
    )?;
    assert_eq!(o.rejected, Some(Rejection::Undecodable));
    assert!(matches!(
        alert_error(Rejection::Undecodable),
        rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
    ));
    Ok(())
}

// ---------------------------------------------------------------- builder

fn bind(certs: Vec<SniCert>) -> BindTls {
    BindTls {
        certs,
        strict_sni: false,
        sni_host_check: true,
        session_cache: Default::default(),
        ignore_errors: IgnoreErrors::default(),
        generate: None,
        dh: Default::default(),
    }
}

#[test]
fn configs_are_shared_per_certificate_and_policy() -> TestResult {
    let mut l = Loader::new();
    let server = l.cert_key(&fixture("server.pem"))?;
    let other = l.cert_key(&fixture("server2.crt"))?;
    let trust = fixture_trust("inter.crt", Some("root.crt"), None)?;
    let required = TlsPolicy {
        verify: ClientVerify::Required(trust),
        ..none()
    };
    let mut alpn = none();
    alpn.params.alpn = Some(vec!["h2".to_string()]);
    let rt = BindTlsRuntime::build(&bind(vec![
        entry(server.clone(), &["a.example"], none()),
        entry(server.clone(), &["b.example"], none()),
        entry(other.clone(), &["c.example"], none()),
        entry(other, &["d.example"], alpn),
        entry(server, &["e.example"], required),
    ]))?;
    assert_eq!(rt.config_count(), 4);
    assert_eq!(rt.policy_count(), 2);
    let p = |h: &str| rt.policy_for_host(h);
    assert_eq!(
        p("a.example"),
        p("d.example"),
        "ALPN is not a verification policy"
    );
    assert_ne!(p("a.example"), p("e.example"));
    Ok(())
}

#[test]
fn impossible_settings_fail_the_build() -> TestResult {
    let cert = Loader::new().cert_key(&fixture("server.pem"))?;
    let build =
        |policy: TlsPolicy| BindTlsRuntime::build(&bind(vec![entry(cert.clone(), &[], policy)]));
    let mut p = none();
    p.params.min_version = Some(TlsVersion::Tls13);
    p.params.max_version = Some(TlsVersion::Tls12);
    assert!(matches!(build(p), Err(TlsBuildError::NoVersion { .. })));
    let ecdsa = Loader::new().cert_key(&fixture("server-ecdsa.pem"))?;
    let mut p = none();
    p.params.max_version = Some(TlsVersion::Tls12);
    p.params.ciphers = Some(vec!["ECDHE-RSA-AES128-GCM-SHA256".to_string()]);
    assert!(matches!(
        BindTlsRuntime::build(&bind(vec![entry(ecdsa, &[], p.clone())])),
        Err(TlsBuildError::NoSuitesForKey { .. })
    ));
    assert!(build(p).is_ok(), "the same suites serve an RSA key");
    let mut p = none();
    p.params.curves = Some(vec!["X448".to_string()]);
    assert!(matches!(build(p), Err(TlsBuildError::UnknownCurve { .. })));
    let mut p = none();
    p.params.ciphersuites = Some(vec!["ECDHE-RSA-AES128-GCM-SHA256".to_string()]);
    assert!(matches!(build(p), Err(TlsBuildError::UnknownCipher { .. })));
    let p = TlsPolicy {
        verify: ClientVerify::Optional(Trust {
            ca_file: None,
            ca_verify_file: None,
            crl: None,
        }),
        ..none()
    };
    assert!(matches!(build(p), Err(TlsBuildError::Verifier { .. })));
    assert!(matches!(
        BindTlsRuntime::build(&bind(vec![])),
        Err(TlsBuildError::NoCertificate)
    ));
    Ok(())
}
