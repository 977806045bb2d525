//! Loading and analysis of real (rcgen-made) certificates, keys, CAs and CRLs.

use super::analysis::{Expiry, cas_missing_crl, expiry, stale_crls, unanchored};
use super::test_pki::*;
use super::*;
use rcgen::SerialNumber;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

fn tmp() -> std::io::Result<TempDir> {
    tempfile::tempdir()
}

fn combined(
    dir: &Path,
    name: &str,
    alg: Alg,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let (cert, key) = leaf(&format!("{name}.test"), alg, None)?;
    Ok(write(dir, name, &(cert.pem() + &key.serialize_pem()))?)
}

fn err_of<T: std::fmt::Debug>(r: Result<T, TlsError>) -> TlsError {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- crt

#[test]
fn ssl_load_extra_del_ext_finds_the_key_without_the_crt_extension() -> TestResult {
    let d = tmp()?;
    let (cert, key) = leaf("noext.test", Alg::P256, None)?;
    let crt = write(d.path(), "site.crt", &cert.pem())?;
    let key_file = write(d.path(), "site.key", &key.serialize_pem())?;
    // HAProxy's default: the key would be `site.crt.key`, which is missing.
    assert!(Loader::new().cert_key(&crt).is_err());
    let mut loader = Loader::new();
    loader.set_extra_del_ext(true);
    let ck = loader.cert_key(&crt)?;
    assert_eq!(ck.key_path, key_file);
    // Only `.crt` is stripped: `site.pem` still looks for `site.pem.key`.
    let pem = write(d.path(), "site.pem", &cert.pem())?;
    assert!(loader.cert_key(&pem).is_err());
    Ok(())
}

#[test]
fn combined_pem_loads_for_every_supported_key_type() -> TestResult {
    let d = tmp()?;
    let mut loader = Loader::new();
    for (alg, name) in [
        (Alg::P256, "EC256"),
        (Alg::P384, "EC384"),
        (Alg::Ed25519, "ED25519"),
        (Alg::Rsa, "RSA2048"),
    ] {
        let path = combined(d.path(), &format!("{name}.pem"), alg)?;
        let ck = loader.cert_key(&path)?;
        assert_eq!(ck.chain.len(), 1);
        assert_eq!(ck.key_path, path);
        assert_eq!(ck.infos[0].key_alg, name);
        // The rustls form is usable as is.
        assert!(ck.certified_key().keys_match().is_ok());
    }
    Ok(())
}

#[test]
fn key_is_read_from_the_dot_key_side_file() -> TestResult {
    let d = tmp()?;
    let (cert, key) = leaf("side.test", Alg::P256, None)?;
    let path = write(d.path(), "side.crt", &cert.pem())?;
    write(d.path(), "side.crt.key", &key.serialize_pem())?;
    let ck = Loader::new().cert_key(&path)?;
    assert_eq!(ck.key_path, d.path().join("side.crt.key"));
    assert_eq!(ck.infos[0].subject_oneline, "/CN=side.test/O=Acme");
    Ok(())
}

#[test]
fn pkcs1_rsa_and_sec1_ec_keys_are_accepted() -> TestResult {
    let d = tmp()?;
    for (pkcs8, legacy, name) in [(RSA_PKCS8, RSA_PKCS1, "rsa"), (P256_PKCS8, P256_SEC1, "ec")] {
        let key = rcgen::KeyPair::from_pem(pkcs8)?;
        let cert = leaf_params("legacy.test")?.self_signed(&key)?;
        let path = write(d.path(), name, &(cert.pem() + legacy))?;
        let ck = Loader::new().cert_key(&path)?;
        assert!(matches!(
            (name, ck.key.as_ref()),
            ("rsa", rustls_pki_types::PrivateKeyDer::Pkcs1(_))
                | ("ec", rustls_pki_types::PrivateKeyDer::Sec1(_))
        ));
    }
    Ok(())
}

#[test]
fn chain_keeps_file_order_with_leaf_first() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    let (cert, key) = leaf("chain.test", Alg::P256, Some(&inter))?;
    let path = write(
        d.path(),
        "chain.pem",
        &(cert.pem() + &inter.pem() + &key.serialize_pem()),
    )?;
    let ck = Loader::new().cert_key(&path)?;
    assert_eq!(ck.chain.len(), 2);
    assert_eq!(ck.infos[0].issuer_oneline, "/CN=Inter/O=Acme");
    assert_eq!(ck.infos[1].subject_rfc2253, "O=Acme,CN=Inter");
    assert!(ck.infos[1].is_ca && !ck.infos[0].is_ca);
    Ok(())
}

#[test]
fn key_of_another_certificate_is_a_mismatch() -> TestResult {
    let d = tmp()?;
    let (cert, _) = leaf("a.test", Alg::P256, None)?;
    let (_, other_key) = leaf("b.test", Alg::P256, None)?;
    let path = write(
        d.path(),
        "mism.pem",
        &(cert.pem() + &other_key.serialize_pem()),
    )?;
    let e = err_of(Loader::new().cert_key(&path));
    assert_eq!(
        e.to_string(),
        format!(
            "inconsistencies between private key and certificate loaded '{}'",
            path.display()
        )
    );
    assert!(matches!(&e, TlsError::KeyMismatch { key_path, .. } if key_path == &path));
    assert!(
        e.help()
            .is_some_and(|h| h.contains("belongs to another certificate"))
    );

    // Same with the wrong key in the side file; the help names that file.
    let side = write(d.path(), "side.pem", &cert.pem())?;
    write(d.path(), "side.pem.key", &other_key.serialize_pem())?;
    let e = err_of(Loader::new().cert_key(&side));
    assert!(
        e.help()
            .is_some_and(|h| h.starts_with(&format!("the key in '{}.key'", side.display())))
    );
    Ok(())
}

#[test]
fn certificate_without_key_reports_the_dot_key_path() -> TestResult {
    let d = tmp()?;
    let (cert, _) = leaf("nokey.test", Alg::P256, None)?;
    let path = write(d.path(), "nokey.crt", &cert.pem())?;
    let e = err_of(Loader::new().cert_key(&path));
    assert_eq!(
        e.to_string(),
        format!("No Private Key found in '{}.key'", path.display())
    );
    Ok(())
}

#[test]
fn missing_junk_and_key_only_files_use_haproxy_wording() -> TestResult {
    let d = tmp()?;
    let mut loader = Loader::new();
    let missing = d.path().join("missing.pem");
    assert_eq!(
        err_of(loader.cert_key(&missing)).to_string(),
        format!(
            "unable to stat SSL certificate from file '{}' : No such file or directory",
            missing.display()
        )
    );
    assert_eq!(
        err_of(loader.crt_path(&missing)).to_string(),
        format!(
            "unable to stat SSL certificate from file '{}' : No such file or directory",
            missing.display()
        )
    );
    let junk = write(d.path(), "junk.pem", "junk\n")?;
    assert_eq!(
        err_of(loader.cert_key(&junk)).to_string(),
        format!("unable to load certificate from file '{}'", junk.display())
    );
    let key_only = write(d.path(), "k.pem", P256_PKCS8)?;
    assert!(matches!(
        err_of(loader.cert_key(&key_only)),
        TlsError::NoCertificate { .. }
    ));
    let broken = write(
        d.path(),
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n",
    )?;
    assert!(matches!(
        err_of(loader.cert_key(&broken)),
        TlsError::CertBadPem { .. }
    ));
    Ok(())
}

#[test]
fn encrypted_key_is_named_as_such() -> TestResult {
    let d = tmp()?;
    let (cert, _) = leaf("enc.test", Alg::P256, None)?;
    let text = cert.pem()
        + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let path = write(d.path(), "enc.pem", &text)?;
    assert!(matches!(
        err_of(Loader::new().cert_key(&path)),
        TlsError::EncryptedKey { .. }
    ));
    Ok(())
}

#[test]
fn p521_key_is_unsupported_with_its_algorithm_named() -> TestResult {
    let d = tmp()?;
    let path = write(d.path(), "p521.pem", P521_COMBINED)?;
    let e = err_of(Loader::new().cert_key(&path));
    assert!(
        matches!(&e, TlsError::UnsupportedKey { algorithm, .. } if algorithm == "EC521"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("unsupported private key type EC521 in '")
    );
    Ok(())
}

#[test]
fn same_file_named_many_times_is_read_once() -> TestResult {
    let d = tmp()?;
    let path = combined(d.path(), "once.pem", Alg::P256)?;
    let mut loader = Loader::new();
    let first = loader.cert_key(&path)?;
    for _ in 0..10_000 {
        let again = loader.cert_key(&path)?;
        assert!(Arc::ptr_eq(&first, &again));
    }
    // Through another spelling of the same file too.
    let other = d.path().join(".").join("once.pem");
    assert!(Arc::ptr_eq(&first, &loader.cert_key(&other)?));
    assert_eq!(loader.files_read(), 1);

    // Failures are remembered as well.
    let (cert, _) = leaf("nokey.test", Alg::P256, None)?;
    let nokey = write(d.path(), "nokey.pem", &cert.pem())?;
    let e1 = err_of(loader.cert_key(&nokey));
    let reads = loader.files_read();
    let e2 = err_of(loader.cert_key(&nokey));
    assert_eq!(e1, e2);
    assert_eq!(loader.files_read(), reads);
    Ok(())
}

#[test]
fn debug_and_serde_never_show_the_key() -> TestResult {
    let d = tmp()?;
    let path = combined(d.path(), "secret.pem", Alg::P256)?;
    let ck = Loader::new().cert_key(&path)?;
    let debug = format!("{ck:?}");
    assert!(debug.contains("<redacted>"));
    let secret = format!("{:?}", ck.key.secret_der());
    assert!(!debug.contains(&secret[1..secret.len() - 1]));
    let json = serde_json::to_value(ck.as_ref())?;
    let keys: Vec<&str> = json
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["dh", "infos", "key_path", "path"]);
    Ok(())
}

#[test]
fn crt_directory_loads_in_lexical_order_skipping_side_and_hidden_files() -> TestResult {
    let d = tmp()?;
    combined(d.path(), "10-b.pem", Alg::P256)?;
    let (cert, key) = leaf("02-a.pem.test", Alg::P256, None)?;
    write(d.path(), "02-a.pem", &cert.pem())?;
    write(d.path(), "02-a.pem.key", &key.serialize_pem())?;
    for junk in [".hidden.pem", "x.issuer", "x.ocsp", "x.sctl", "y.key"] {
        write(d.path(), junk, "not a certificate")?;
    }
    std::fs::create_dir(d.path().join("subdir"))?;
    let list = Loader::new().crt_path(d.path())?;
    let names: Vec<String> = list
        .iter()
        .filter_map(|c| c.path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["02-a.pem", "10-b.pem"]);

    let empty = tmp()?;
    assert!(Loader::new().crt_path(empty.path())?.is_empty());
    let file = Loader::new().crt_path(&d.path().join("10-b.pem"))?;
    assert_eq!(file.len(), 1);
    Ok(())
}

#[test]
fn bad_file_in_crt_directory_fails_the_directory() -> TestResult {
    let d = tmp()?;
    combined(d.path(), "a.pem", Alg::P256)?;
    let (cert, _) = leaf("b.test", Alg::P256, None)?;
    write(d.path(), "b.pem", &cert.pem())?;
    assert!(matches!(
        err_of(Loader::new().crt_path(d.path())),
        TlsError::NoPrivateKey { .. }
    ));
    Ok(())
}

#[test]
fn cert_info_has_haproxy_forms() -> TestResult {
    let d = tmp()?;
    let ca = root("Info CA")?;
    let mut params = leaf_params("info.test")?;
    params.serial_number = Some(SerialNumber::from_slice(&[0x8a, 0x01]));
    let nb = OffsetDateTime::from_unix_timestamp(1_700_000_000)?;
    params.not_before = nb;
    params.not_after = nb + Duration::days(365);
    let key = key(Alg::P256)?;
    let cert = params.signed_by(&key, &rcgen::Issuer::from_params(&ca.params, &ca.key))?;
    let path = write(d.path(), "info.pem", &(cert.pem() + &key.serialize_pem()))?;
    let ck = Loader::new().cert_key(&path)?;
    let i = &ck.infos[0];
    assert_eq!(i.subject_oneline, "/CN=info.test/O=Acme");
    assert_eq!(i.subject_rfc2253, "O=Acme,CN=info.test");
    assert_eq!(i.issuer_oneline, "/CN=Info CA/O=Acme");
    assert_eq!(i.issuer_rfc2253, "O=Acme,CN=Info CA");
    assert_eq!(i.serial_hex, "8A01");
    assert_eq!(i.sha1_hex, info::sha1_hex(cert.der()));
    assert_eq!(i.sha1_hex.len(), 40);
    assert_eq!(
        (i.not_before, i.not_after),
        (1_700_000_000, 1_700_000_000 + 365 * 86_400)
    );
    assert_eq!(i.common_names, ["info.test"]);
    assert_eq!(i.dns_names, ["info.test"]);
    assert_eq!(i.ip_addresses, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert!(!i.is_ca && !i.self_issued);
    assert_eq!(
        subject_oneline(cert.der()).as_deref(),
        Some("/CN=info.test/O=Acme")
    );
    assert_eq!(
        issuer_rfc2253(cert.der()).as_deref(),
        Some("O=Acme,CN=Info CA")
    );
    let ca_info = CertInfo::from_der(ca.cert.der())?;
    assert!(ca_info.is_ca && ca_info.self_issued);
    Ok(())
}

// ---------------------------------------------------------------- ca-file

#[test]
fn ca_bundle_keeps_every_certificate_and_crl() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    let text = inter.pem() + &root.pem() + &crl(&root, &[7], 30)?;
    let path = write(d.path(), "bundle.pem", &text)?;
    let b = Loader::new().ca(&CaSpec::Path(path.clone()))?;
    assert_eq!(b.certs.len(), 2);
    assert_eq!(b.infos.len(), 2);
    assert_eq!(b.crl_infos.len(), 1);
    assert_eq!(b.crl_infos[0].revoked, 1);
    assert_eq!(b.crl_infos[0].issuer_oneline, "/CN=Root/O=Acme");
    assert_eq!(b.source, path.display().to_string());
    assert!(b.warnings.is_empty());
    Ok(())
}

#[test]
fn empty_missing_or_key_only_ca_file_is_an_error() -> TestResult {
    let d = tmp()?;
    let mut loader = Loader::new();
    let empty = write(d.path(), "empty.pem", "")?;
    assert_eq!(
        err_of(loader.ca(&CaSpec::Path(empty.clone()))).to_string(),
        format!(
            "Couldn't open the ca-file '{}' (no certificate or crl found)",
            empty.display()
        )
    );
    let key_only = write(d.path(), "key.pem", P256_PKCS8)?;
    assert!(matches!(
        err_of(loader.ca(&CaSpec::Path(key_only))),
        TlsError::CaEmpty { .. }
    ));
    let missing = d.path().join("nope.pem");
    assert_eq!(
        err_of(loader.ca(&CaSpec::Path(missing.clone()))).to_string(),
        format!(
            "Couldn't open the ca-file '{}' (No such file or directory)",
            missing.display()
        )
    );
    Ok(())
}

#[test]
fn ca_directory_loads_ca_extensions_and_warns_like_haproxy() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    write(d.path(), "a.pem", &root.pem())?;
    write(d.path(), "b.crt", &inter.pem())?;
    write(d.path(), "c.crl", &crl(&root, &[], 30)?)?;
    write(d.path(), "d.txt", &root.pem())?;
    let junk = write(d.path(), "e.cer", "junk")?;
    let b = Loader::new().ca(&CaSpec::Path(d.path().to_path_buf()))?;
    assert_eq!(b.infos.len(), 2);
    assert_eq!(b.crl_infos.len(), 1);
    assert_eq!(
        b.warnings,
        [format!(
            "ca-file: '{}' couldn't load '{}' (no certificate or crl found)",
            d.path().display(),
            junk.display()
        )]
    );

    let empty = tmp()?;
    let b = Loader::new().ca(&CaSpec::Path(empty.path().to_path_buf()))?;
    assert_eq!(
        b.warnings,
        [format!(
            "ca-file: 0 CA were loaded from '{}'",
            empty.path().display()
        )]
    );
    Ok(())
}

#[test]
fn system_ca_follows_ssl_cert_file_and_dir() -> TestResult {
    let d = tmp()?;
    let (a, b) = (root("Sys A")?, root("Sys B")?);
    let bundle = write(d.path(), "bundle.pem", &(a.pem() + &b.pem()))?;
    let mut loader = Loader::with_system_ca_env(Some(bundle.clone().into()), None);
    let ca = loader.ca(&CaSpec::System)?;
    assert_eq!(ca.source, "@system-ca");
    assert_eq!(ca.infos.len(), 2);
    assert!(Arc::ptr_eq(&ca, &loader.ca(&CaSpec::System)?));

    let dir = d.path().join("dir");
    std::fs::create_dir(&dir)?;
    write(&dir, "one.pem", &a.pem())?;
    let ca = Loader::with_system_ca_env(None, Some(dir.clone().into())).ca(&CaSpec::System)?;
    assert_eq!(ca.infos.len(), 1);
    // File and directory together, duplicates counted once.
    let ca =
        Loader::with_system_ca_env(Some(bundle.into()), Some(dir.into())).ca(&CaSpec::System)?;
    assert_eq!(ca.infos.len(), 2);
    Ok(())
}

#[test]
fn system_ca_errors_are_reported() -> TestResult {
    let d = tmp()?;
    let missing = d.path().join("missing.pem");
    let e = err_of(Loader::with_system_ca_env(Some(missing.into()), None).ca(&CaSpec::System));
    assert!(
        matches!(&e, TlsError::SystemCa { errors } if errors.len() == 1),
        "{e:?}"
    );
    // Set but empty counts as set (rustls-native-certs' rule): an error, not the platform store.
    let e = err_of(Loader::with_system_ca_env(Some(OsString::new()), None).ca(&CaSpec::System));
    assert!(matches!(e, TlsError::SystemCa { .. }));
    let empty = write(d.path(), "empty.pem", "")?;
    let e = err_of(Loader::with_system_ca_env(Some(empty.into()), None).ca(&CaSpec::System));
    assert!(matches!(e, TlsError::SystemCaEmpty { .. }));
    Ok(())
}

/// The real Debian bundle, where present: every root parses and is kept.
#[test]
fn debian_system_bundle_parses_completely() -> TestResult {
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !bundle.exists() {
        return Ok(());
    }
    let ca = Loader::with_system_ca_env(Some(bundle.into()), None).ca(&CaSpec::System)?;
    assert!(ca.infos.len() > 100, "{}", ca.infos.len());
    assert!(ca.warnings.is_empty(), "{:?}", ca.warnings);
    assert!(ca.infos.iter().all(|i| i.self_issued || i.is_ca));
    Ok(())
}

// ---------------------------------------------------------------- crl-file

#[test]
fn crl_file_loads_pem_and_der() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    let path = write(
        d.path(),
        "crls.pem",
        &(crl(&root, &[1, 2], 30)? + &crl(&inter, &[], 30)?),
    )?;
    let set = Loader::new().crls(&path)?;
    assert_eq!(set.crls.len(), 2);
    assert_eq!(set.infos[0].revoked, 2);
    assert_eq!(set.infos[1].issuer_rfc2253, "O=Acme,CN=Inter");

    let der = set.crls[0].as_ref().to_vec();
    let der_path = d.path().join("one.crl");
    std::fs::write(&der_path, der)?;
    assert_eq!(Loader::new().crls(&der_path)?.crls.len(), 1);
    Ok(())
}

#[test]
fn crl_file_holding_certificates_or_nothing_is_an_error() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let certs = write(d.path(), "ca.pem", &root.pem())?;
    let e = err_of(Loader::new().crls(&certs));
    assert_eq!(
        e.to_string(),
        format!(
            "crl-file '{}' holds 1 certificate(s) but no CRL",
            certs.display()
        )
    );
    assert!(e.help().is_some_and(|h| h.contains("go in ca-file")));
    let der = d.path().join("ca.der");
    std::fs::write(&der, root.cert.der().as_ref())?;
    assert!(matches!(
        err_of(Loader::new().crls(&der)),
        TlsError::CrlOnlyCertificates { count: 1, .. }
    ));
    let empty = write(d.path(), "empty.pem", "")?;
    assert!(matches!(
        err_of(Loader::new().crls(&empty)),
        TlsError::CrlEmpty { .. }
    ));
    let junk = write(d.path(), "junk.crl", "junk")?;
    assert!(matches!(
        err_of(Loader::new().crls(&junk)),
        TlsError::CrlBadPem { .. }
    ));
    let missing = d.path().join("missing.crl");
    assert_eq!(
        err_of(Loader::new().crls(&missing)).to_string(),
        format!(
            "Couldn't open the crl-file '{}' (No such file or directory)",
            missing.display()
        )
    );
    Ok(())
}

// ---------------------------------------------------------------- analysis

fn bundle(dir: &Path, name: &str, text: &str) -> Result<Arc<CaBundle>, Box<dyn std::error::Error>> {
    let path = write(dir, name, text)?;
    Ok(Loader::new().ca(&CaSpec::Path(path))?)
}

fn subjects(infos: &[CertInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.subject_oneline.as_str()).collect()
}

#[test]
fn intermediate_without_its_root_is_unanchored() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    let sub = intermediate("Sub", &inter)?;
    let (leaf_cert, _) = leaf("client.test", Alg::P256, Some(&inter))?;

    let inter_only = bundle(d.path(), "inter.pem", &inter.pem())?;
    assert_eq!(
        subjects(&unanchored(&inter_only, None)),
        ["/CN=Inter/O=Acme"]
    );

    let root_file = bundle(d.path(), "root.pem", &root.pem())?;
    assert!(unanchored(&inter_only, Some(&root_file)).is_empty());
    assert!(unanchored(&root_file, None).is_empty());

    let both = bundle(d.path(), "both.pem", &(inter.pem() + &root.pem()))?;
    assert!(unanchored(&both, None).is_empty());

    // Three levels, root only in ca-verify-file; a leaf in ca-file is ignored.
    let two = bundle(
        d.path(),
        "two.pem",
        &(sub.pem() + &inter.pem() + &leaf_cert.pem()),
    )?;
    assert!(unanchored(&two, Some(&root_file)).is_empty());
    let sub_only = bundle(d.path(), "sub.pem", &sub.pem())?;
    assert_eq!(
        subjects(&unanchored(&sub_only, Some(&root_file))),
        ["/CN=Sub/O=Acme"]
    );
    Ok(())
}

#[test]
fn impostor_root_with_the_same_name_does_not_anchor() -> TestResult {
    let d = tmp()?;
    let real = root("Root")?;
    let inter = intermediate("Inter", &real)?;
    let impostor = root("Root")?;
    assert_eq!(
        CertInfo::from_der(impostor.cert.der())?.subject_oneline,
        CertInfo::from_der(real.cert.der())?.subject_oneline
    );
    let inter_file = bundle(d.path(), "inter.pem", &inter.pem())?;
    let fake = bundle(d.path(), "fake.pem", &impostor.pem())?;
    assert_eq!(
        subjects(&unanchored(&inter_file, Some(&fake))),
        ["/CN=Inter/O=Acme"]
    );
    let mixed = bundle(d.path(), "mixed.pem", &(impostor.pem() + &real.pem()))?;
    assert!(unanchored(&inter_file, Some(&mixed)).is_empty());
    Ok(())
}

#[test]
fn every_ca_level_needs_its_own_crl() -> TestResult {
    let d = tmp()?;
    let impostor = root("Root")?;
    let root = root("Root")?;
    let inter = intermediate("Inter", &root)?;
    let ca_file = bundle(d.path(), "inter.pem", &inter.pem())?;
    let verify = bundle(d.path(), "root.pem", &root.pem())?;
    let cas = [ca_file.as_ref(), verify.as_ref()];
    let mut loader = Loader::new();

    let inter_crl = write(d.path(), "inter.crl", &crl(&inter, &[], 30)?)?;
    let only_inter = loader.crls(&inter_crl)?;
    assert_eq!(
        subjects(&cas_missing_crl(&cas, &only_inter)),
        ["/CN=Root/O=Acme"]
    );

    let both = write(
        d.path(),
        "both.crl",
        &(crl(&inter, &[], 30)? + &crl(&root, &[], 30)?),
    )?;
    assert!(cas_missing_crl(&cas, &*loader.crls(&both)?).is_empty());

    // A CRL signed by a same-name impostor is not the root's CRL.
    let fake = write(
        d.path(),
        "fake.crl",
        &(crl(&inter, &[], 30)? + &crl(&impostor, &[], 30)?),
    )?;
    assert_eq!(
        subjects(&cas_missing_crl(&cas, &*loader.crls(&fake)?)),
        ["/CN=Root/O=Acme"]
    );

    // A CRL shipped inside the ca-file counts (HAProxy loads it into the same store).
    let root_with_crl = bundle(
        d.path(),
        "rootcrl.pem",
        &(root.pem() + &crl(&root, &[], 30)?),
    )?;
    assert!(cas_missing_crl(&[ca_file.as_ref(), root_with_crl.as_ref()], &only_inter).is_empty());
    Ok(())
}

#[test]
fn stale_crl_is_reported() -> TestResult {
    let d = tmp()?;
    let root = root("Root")?;
    let path = write(d.path(), "r.crl", &crl(&root, &[], 1)?)?;
    let set = Loader::new().crls(&path)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!(stale_crls(&set, now).is_empty());
    assert_eq!(stale_crls(&set, now + 2 * 86_400).len(), 1);
    Ok(())
}

#[test]
fn expiry_categories() -> TestResult {
    let d = tmp()?;
    let mut params = leaf_params("old.test")?;
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
    params.not_before = now - Duration::days(400);
    params.not_after = now - Duration::days(3);
    let key = key(Alg::P256)?;
    let cert = params.self_signed(&key)?;
    // An expired certificate still loads (HAProxy accepts it); check warns.
    let path = write(d.path(), "old.pem", &(cert.pem() + &key.serialize_pem()))?;
    let ck = Loader::new().cert_key(&path)?;
    let info = &ck.infos[0];
    let t = now.unix_timestamp();
    assert_eq!(expiry(info, t), Expiry::Expired { days_ago: 3 });
    assert_eq!(
        expiry(info, t - 10 * 86_400),
        Expiry::ExpiresSoon { days: 7 }
    );
    assert_eq!(expiry(info, t - 100 * 86_400), Expiry::Valid);
    assert_eq!(expiry(info, t - 500 * 86_400), Expiry::NotYetValid);
    Ok(())
}
