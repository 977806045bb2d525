//! Test PKI for the runtime's tests: a root CA and a client certificate
//! made with rcgen, plus helpers to ask the `openssl` command line tool for
//! independent answers about the same certificates.

use crate::runtime::facts::CertFacts;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyPair,
    SerialNumber,
};
use std::io::Write;
use std::process::Command;
use time::OffsetDateTime;

/// Unwraps a result in test setup, with the error in the panic message.
pub(crate) fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("test setup failed: {e:?}"),
    }
}

/// A root CA and a client certificate it signed.
pub(crate) struct Pki {
    pub ca_der: Vec<u8>,
    pub ca_pem: String,
    pub client_der: Vec<u8>,
    pub client_pem: String,
}

impl Pki {
    pub(crate) fn client(&self) -> CertFacts {
        match CertFacts::from_der(&self.client_der) {
            Some(c) => c,
            None => panic!("client certificate does not parse"),
        }
    }

    pub(crate) fn ca(&self) -> CertFacts {
        match CertFacts::from_der(&self.ca_der) {
            Some(c) => c,
            None => panic!("CA certificate does not parse"),
        }
    }
}

fn at(unix: i64) -> OffsetDateTime {
    ok(OffsetDateTime::from_unix_timestamp(unix))
}

/// Root `CN=Acme Root CA,O=Acme` → client with subject
/// `C=FR, ST=Some-State, O=Acme "Test", OU=é ü, CN= a,b, emailAddress=x@y`,
/// serial 0x800102, valid 2024-01-02 03:04:05 → 2051-06-07 08:09:10.
pub(crate) fn client_pki() -> Pki {
    let ca_key = ok(KeyPair::generate());
    let mut ca = ok(CertificateParams::new(Vec::<String>::new()));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Acme Root CA");
    dn.push(DnType::OrganizationName, "Acme");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.serial_number = Some(SerialNumber::from_slice(&[0x01]));
    let ca_cert = ok(ca.self_signed(&ca_key));
    let issuer = Issuer::new(ca, ca_key);

    let key = ok(KeyPair::generate());
    let mut leaf = ok(CertificateParams::new(Vec::<String>::new()));
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString(ok("FR".try_into())),
    );
    dn.push(DnType::StateOrProvinceName, "Some-State");
    dn.push(DnType::OrganizationName, "Acme \"Test\"");
    dn.push(DnType::OrganizationalUnitName, "é ü");
    dn.push(DnType::CommonName, " a,b");
    dn.push(
        DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
        DnValue::Ia5String(ok("x@y".try_into())),
    );
    leaf.distinguished_name = dn;
    leaf.serial_number = Some(SerialNumber::from_slice(&[0x80, 0x01, 0x02]));
    leaf.not_before = at(1_704_164_645);
    leaf.not_after = at(2_569_738_150);
    let cert = ok(leaf.signed_by(&key, &issuer));
    Pki {
        ca_der: ca_cert.der().to_vec(),
        ca_pem: ca_cert.pem(),
        client_der: cert.der().to_vec(),
        client_pem: cert.pem(),
    }
}

/// Runs `openssl <args>` with `pem` in a temporary file passed as `-in`,
/// and returns its standard output.
pub(crate) fn openssl_x509(pem: &str, args: &[&str]) -> String {
    let mut file = ok(tempfile::NamedTempFile::new());
    ok(file.write_all(pem.as_bytes()));
    let path = file.path().to_string_lossy().into_owned();
    let mut cmd = Command::new("openssl");
    cmd.arg("x509").arg("-in").arg(&path).args(args);
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("the openssl command line tool is needed by this test: {e}"),
    };
    assert!(
        out.status.success(),
        "openssl x509 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Makes a self-signed certificate with `openssl req` (for DNs rcgen cannot
/// express, such as multi-valued RDNs) and returns its PEM.
pub(crate) fn openssl_self_signed(subject: &str) -> String {
    let dir = ok(tempfile::tempdir());
    let key = dir.path().join("k.pem");
    let crt = dir.path().join("c.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .args(["-days", "1", "-utf8", "-multivalue-rdn", "-subj", subject])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("the openssl command line tool is needed by this test: {e}"),
    };
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(std::fs::read_to_string(&crt))
}

/// DER of the first certificate in a PEM text.
pub(crate) fn pem_to_der(pem: &str) -> Vec<u8> {
    let (_, p) = ok(x509_parser::pem::parse_x509_pem(pem.as_bytes()));
    p.contents
}
