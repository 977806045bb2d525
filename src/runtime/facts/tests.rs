//! Certificate facts checked against the `openssl` command line tool run on
//! the same certificates: fingerprint, serial, DNs, dates and algorithms.

use super::*;
use crate::runtime::testpki::{client_pki, openssl_self_signed, openssl_x509, pem_to_der};

/// `AA:BB:…` → `AABB…`, the form `,hex` produces.
fn colon_hex_to_plain(s: &str) -> String {
    s.replace(':', "")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[test]
fn sha1_and_serial_match_openssl() {
    let pki = client_pki();
    let c = pki.client();
    let fp = openssl_x509(&pki.client_pem, &["-noout", "-fingerprint", "-sha1"]);
    let fp = fp.rsplit('=').next().unwrap_or_default();
    assert_eq!(hex(&c.sha1), colon_hex_to_plain(fp));
    let serial = openssl_x509(&pki.client_pem, &["-noout", "-serial"]);
    assert_eq!(serial, "serial=800102");
    assert_eq!(hex(&c.serial), "800102");
    assert_eq!(c.der, pki.client_der);
}

#[test]
fn subject_and_issuer_match_openssl_rfc2253() {
    let pki = client_pki();
    let c = pki.client();
    let subject = openssl_x509(
        &pki.client_pem,
        &["-noout", "-subject", "-nameopt", "RFC2253"],
    );
    assert_eq!(
        subject,
        "subject=emailAddress=x@y,CN=\\ a\\,b,OU=\\C3\\A9 \\C3\\BC,O=Acme \\\"Test\\\",ST=Some-State,C=FR"
    );
    assert_eq!(
        Some(subject.trim_start_matches("subject=")),
        c.subject.rfc2253.as_deref()
    );
    let issuer = openssl_x509(
        &pki.client_pem,
        &["-noout", "-issuer", "-nameopt", "RFC2253"],
    );
    assert_eq!(
        Some(issuer.trim_start_matches("issuer=")),
        c.issuer.rfc2253.as_deref()
    );
    assert_eq!(c.issuer.rfc2253.as_deref(), Some("O=Acme,CN=Acme Root CA"));
}

#[test]
fn oneline_is_haproxy_raw_form() {
    let pki = client_pki();
    let c = pki.client();
    assert_eq!(
        String::from_utf8_lossy(&c.subject.oneline),
        "/C=FR/ST=Some-State/O=Acme \"Test\"/OU=é ü/CN= a,b/emailAddress=x@y"
    );
    // For plain ASCII names HAProxy's form equals OpenSSL's legacy oneline.
    let issuer = openssl_x509(
        &pki.client_pem,
        &["-noout", "-issuer", "-nameopt", "compat"],
    );
    assert_eq!(
        issuer.trim_start_matches("issuer="),
        String::from_utf8_lossy(&c.issuer.oneline)
    );
    assert_eq!(c.subject.entry("cn", 1), Some(&b" a,b"[..]));
    assert_eq!(c.subject.entry("EMAILADDRESS", -1), Some(&b"x@y"[..]));
    assert_eq!(c.subject.entry("CN", 2), None);
    assert_eq!(c.subject.entry("CN", 0), None);
}

#[test]
fn validity_dates_and_algorithms() {
    let pki = client_pki();
    let c = pki.client();
    assert_eq!(c.not_before.as_deref(), Some("240102030405Z"));
    // 2051 is encoded as GeneralizedTime: HAProxy strips the century.
    assert_eq!(c.not_after.as_deref(), Some("510607080910Z"));
    let text = openssl_x509(&pki.client_pem, &["-noout", "-text"]);
    assert!(
        text.contains("Not After : Jun  7 08:09:10 2051 GMT"),
        "{text}"
    );
    assert!(
        text.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{text}"
    );
    assert!(
        text.contains("Public Key Algorithm: id-ecPublicKey"),
        "{text}"
    );
    assert_eq!(c.sig_alg, "ecdsa-with-SHA256");
    assert_eq!(c.key_alg, "id-ecPublicKey");
    assert_eq!(c.version, 3);
    let ca = pki.ca();
    assert_eq!(ca.subject, ca.issuer);
    assert_eq!(ca.serial, vec![0x01]);
}

#[test]
fn multi_valued_rdns_and_escapes_match_openssl() {
    let pem = openssl_self_signed(
        "/C=FR/O=#hash, inc/OU=é ü/CN= a\\,b+UID=c\"d\\\\e<f>g;h=i#j /emailAddress=x@y",
    );
    let c = CertFacts::from_der(&pem_to_der(&pem)).unwrap_or_else(|| panic!("parse"));
    let subject = openssl_x509(&pem, &["-noout", "-subject", "-nameopt", "RFC2253"]);
    assert_eq!(
        subject,
        "subject=emailAddress=x@y,UID=c\\\"d\\\\e\\<f\\>g\\;h=i#j\\ +CN=\\ a\\,b,OU=\\C3\\A9 \\C3\\BC,O=\\#hash\\, inc,C=FR"
    );
    assert_eq!(
        Some(subject.trim_start_matches("subject=")),
        c.subject.rfc2253.as_deref()
    );
    assert_eq!(
        String::from_utf8_lossy(&c.subject.oneline),
        "/C=FR/O=#hash, inc/OU=é ü/CN= a,b/UID=c\"d\\e<f>g;h=i#j /emailAddress=x@y"
    );
    let cn = c
        .subject
        .entries
        .iter()
        .find(|e| e.name == "CN")
        .map(|e| e.rdn);
    let uid = c
        .subject
        .entries
        .iter()
        .find(|e| e.name == "UID")
        .map(|e| e.rdn);
    assert_eq!(cn, uid);
}

#[test]
fn single_character_values_get_only_the_trailing_rule() {
    // OpenSSL escapes a leading '#' but a one-character value is only
    // treated as "last": `CN=#`, while a lone space is escaped.
    let pem = openssl_self_signed("/CN=#/O= /OU=#a");
    let c = CertFacts::from_der(&pem_to_der(&pem)).unwrap_or_else(|| panic!("parse"));
    let subject = openssl_x509(&pem, &["-noout", "-subject", "-nameopt", "RFC2253"]);
    assert_eq!(subject, "subject=OU=\\#a,O=\\ ,CN=#");
    assert_eq!(
        Some(subject.trim_start_matches("subject=")),
        c.subject.rfc2253.as_deref()
    );
}

#[test]
fn unknown_attributes_and_other_string_types_match_openssl() {
    use crate::runtime::testpki::ok;
    use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};
    let key = ok(KeyPair::generate());
    let mut p = ok(CertificateParams::new(Vec::<String>::new()));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CustomDnType(vec![1, 2, 3, 4]), "xyz");
    dn.push(DnType::CommonName, DnValue::BmpString(ok("é#".try_into())));
    dn.push(
        DnType::OrganizationalUnitName,
        DnValue::UniversalString(ok("ü".try_into())),
    );
    p.distinguished_name = dn;
    let cert = ok(p.self_signed(&key));
    let c = CertFacts::from_der(cert.der()).unwrap_or_else(|| panic!("parse"));
    let subject = openssl_x509(&cert.pem(), &["-noout", "-subject", "-nameopt", "RFC2253"]);
    assert_eq!(
        Some(subject.trim_start_matches("subject=")),
        c.subject.rfc2253.as_deref()
    );
    assert!(subject.contains("1.2.3.4=#0C0378797A"), "{subject}");
    assert_eq!(c.subject.entry("1.2.3.4", 1), Some(&b"xyz"[..]));
    assert_eq!(c.sig_alg, "ecdsa-with-SHA256");
}

#[test]
fn ed25519_and_p384_algorithm_names() {
    use crate::runtime::testpki::ok;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
    for (alg, sig, key_alg) in [
        (&PKCS_ED25519, "ED25519", "ED25519"),
        (
            &PKCS_ECDSA_P384_SHA384,
            "ecdsa-with-SHA384",
            "id-ecPublicKey",
        ),
    ] {
        let key = ok(KeyPair::generate_for(alg));
        let cert = ok(ok(CertificateParams::new(vec!["x".to_string()])).self_signed(&key));
        let c = CertFacts::from_der(cert.der()).unwrap_or_else(|| panic!("parse"));
        assert_eq!((c.sig_alg.as_str(), c.key_alg.as_str()), (sig, key_alg));
    }
}

#[test]
fn garbage_is_not_a_certificate() {
    assert!(CertFacts::from_der(b"not a certificate").is_none());
    assert!(CertFacts::from_der(&[]).is_none());
}

#[test]
fn log_facts_start_empty() {
    let conn = ConnFacts {
        src: "127.0.0.1:1234".parse().unwrap_or_else(|_| panic!()),
        dst: "127.0.0.1:80".parse().unwrap_or_else(|_| panic!()),
        frontend: "fe".into(),
        tls: None,
        accept_date: SystemTime::UNIX_EPOCH,
        conn_error: 0,
        proxy_header: None,
        lua: None,
    };
    let l = LogFacts::new(&conn);
    assert_eq!(&*l.backend, "fe");
    assert_eq!(l.status, -1);
    assert_eq!(l.timers.queue, -1);
    assert!(!l.hostname.is_empty());
    assert_eq!(TermCause::ClientAbort.as_char(), 'C');
    assert_eq!(FinState::Data.as_char(), 'D');
    assert_eq!(CookieState::Valid.as_char(), 'V');
    assert_eq!(SetCookieState::Inserted.as_char(), 'I');
}
