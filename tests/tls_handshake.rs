//! Real TLS handshakes on 127.0.0.1 between tokio-rustls clients and a bind
//! built by `BindTlsRuntime::build`, with the committed test PKI
//! (`tests/fixtures/pki`, see `tests/fixtures/make-pki.sh`). Each scenario
//! is one of HAProxy 2.6's verified behaviours (haproxy-spec.md §2.1, §2.2,
//! §11): what the client sees (alert or success) and what the server records
//! (`ssl_c_*`, `ssl_f_*`, `ssl_fc_*` facts, `fc_err`).

use portcullis::ir::{
    BindTls, ClientVerify, ErrorSet, IgnoreErrors, SniCert, SniFilter, TlsParams, TlsPolicy,
    TlsVersion, Trust,
};
use portcullis::runtime::facts::TlsFacts;
use portcullis::tls::handshake::{HandshakeError, accept};
use portcullis::tls::server::{BindTlsRuntime, PolicyId, TlsBuildError};
use portcullis::tls::{CaSpec, CertKey, Loader, provider};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, HandshakeKind, SignatureScheme,
    SupportedProtocolVersion,
};
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::{FromDer, X509Certificate};

type TestResult = Result<(), Box<dyn Error>>;

/// Bound on every network step of a test.
const STEP: Duration = Duration::from_secs(10);

const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pki")
        .join(name)
}

/// Loads fixture material once per test.
struct Material(Loader);

impl Material {
    fn new() -> Material {
        Material(Loader::new())
    }

    fn cert(&mut self, name: &str) -> Result<Arc<CertKey>, Box<dyn Error>> {
        Ok(self.0.cert_key(&pki(name))?)
    }

    /// `ca-file` / `ca-verify-file` / `crl-file` by fixture name.
    fn trust(
        &mut self,
        ca: &str,
        verify: Option<&str>,
        crl: Option<&str>,
    ) -> Result<Trust, Box<dyn Error>> {
        Ok(Trust {
            ca_file: Some(self.0.ca(&CaSpec::Path(pki(ca)))?),
            ca_verify_file: match verify {
                Some(v) => Some(self.0.ca(&CaSpec::Path(pki(v)))?),
                None => None,
            },
            crl: match crl {
                Some(c) => Some(self.0.crls(&pki(c))?),
                None => None,
            },
        })
    }

    /// The HAProxy-blog setup: intermediate advertised, root trusted only.
    fn mtls(&mut self) -> Result<Trust, Box<dyn Error>> {
        self.trust("inter.crt", Some("root.crt"), None)
    }
}

fn policy(verify: ClientVerify) -> TlsPolicy {
    TlsPolicy {
        verify,
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
                name: f.trim_start_matches('!').to_ascii_lowercase(),
                negated: f.starts_with('!'),
            })
            .collect(),
        policy,
        crt_list_origin: None,
    }
}

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

/// One bind serving `server.pem` for every name under `policy`.
fn single(m: &mut Material, policy: TlsPolicy) -> Result<Arc<BindTlsRuntime>, Box<dyn Error>> {
    let tls = bind(vec![entry(m.cert("server.pem")?, &[], policy)]);
    Ok(Arc::new(BindTlsRuntime::build(&tls)?))
}

type Served = Result<(TlsFacts, PolicyId), HandshakeError>;

/// Accepts one connection with [`accept`]; on success writes `ok\n` and
/// closes. The handle yields `None` only when no connection came in time.
async fn serve_once(
    rt: Arc<BindTlsRuntime>,
) -> std::io::Result<(SocketAddr, JoinHandle<Option<Served>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        let (tcp, _) = timeout(STEP, listener.accept()).await.ok()?.ok()?;
        match timeout(STEP, accept(tcp, &rt)).await.ok()? {
            Ok((mut stream, facts, policy)) => {
                let _ = stream.write_all(b"ok\n").await;
                let _ = stream.shutdown().await;
                Some(Ok((facts, policy)))
            }
            Err(e) => Some(Err(e)),
        }
    });
    Ok((addr, handle))
}

/// What the client saw.
#[derive(Debug, PartialEq)]
enum Seen {
    Ok { resumed: bool },
    Alert(AlertDescription),
    Failed(String),
}

fn seen_error(e: std::io::Error) -> Seen {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => Seen::Alert(*a),
        _ => Seen::Failed(e.to_string()),
    }
}

/// Connects, completes the handshake and reads until the server closes.
/// `sni` = `None` sends no SNI.
async fn connect(addr: SocketAddr, config: Arc<ClientConfig>, sni: Option<&str>) -> Seen {
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_string()),
        None => ServerName::try_from("127.0.0.1".to_string()),
    };
    let Ok(name) = name else {
        return Seen::Failed("bad server name".to_string());
    };
    let tcp = match timeout(STEP, TcpStream::connect(addr)).await {
        Ok(Ok(t)) => t,
        other => return Seen::Failed(format!("connect: {other:?}")),
    };
    let mut tls = match timeout(STEP, TlsConnector::from(config).connect(name, tcp)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return seen_error(e),
        Err(_) => return Seen::Failed("handshake timeout".to_string()),
    };
    let resumed = tls.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
    let mut buf = Vec::new();
    match timeout(STEP, tls.read_to_end(&mut buf)).await {
        Ok(Ok(_)) if buf == b"ok\n" => Seen::Ok { resumed },
        Ok(Ok(_)) => Seen::Failed(format!("unexpected data {buf:?}")),
        Ok(Err(e)) => seen_error(e),
        Err(_) => Seen::Failed("read timeout".to_string()),
    }
}

/// One connection: what the client saw and what the server returned.
async fn exchange(
    rt: &Arc<BindTlsRuntime>,
    client: &Arc<ClientConfig>,
    sni: Option<&str>,
) -> Result<(Seen, Served), Box<dyn Error>> {
    let (addr, server) = serve_once(rt.clone()).await?;
    let seen = connect(addr, client.clone(), sni).await;
    let served = timeout(STEP, server)
        .await??
        .ok_or("the server saw no connection")?;
    Ok((seen, served))
}

/// The server's facts of a successful exchange.
fn facts(served: Served) -> Result<(TlsFacts, PolicyId), Box<dyn Error>> {
    served.map_err(|e| format!("server handshake failed: {e}").into())
}

/// The server's error of a failed exchange.
fn failure(served: Served) -> Result<HandshakeError, Box<dyn Error>> {
    match served {
        Ok((f, _)) => Err(format!("the server accepted: {f:?}").into()),
        Err(e) => Ok(e),
    }
}

/// The client does not check the server (server authentication is not
/// under test), but still checks its handshake signatures.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Presents a certificate (if any) and remembers the CA names the server sent.
#[derive(Debug)]
struct Presenter {
    key: Option<Arc<CertifiedKey>>,
    hints: Mutex<Vec<Vec<u8>>>,
}

impl ResolvesClientCert for Presenter {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut h) = self.hints.lock() {
            *h = root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

struct Client {
    config: Arc<ClientConfig>,
    presenter: Arc<Presenter>,
}

impl Client {
    fn hints(&self) -> Vec<Vec<u8>> {
        self.presenter
            .hints
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }
}

fn client_with(
    m: &mut Material,
    cert: Option<&str>,
    versions: &[&'static SupportedProtocolVersion],
    provider: Arc<CryptoProvider>,
    alpn: &[&str],
) -> Result<Client, Box<dyn Error>> {
    let key = match cert {
        Some(name) => Some(Arc::new(m.cert(name)?.certified_key())),
        None => None,
    };
    let presenter = Arc::new(Presenter {
        key,
        hints: Mutex::new(Vec::new()),
    });
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_client_cert_resolver(presenter.clone());
    config.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Ok(Client {
        config: Arc::new(config),
        presenter,
    })
}

fn client(m: &mut Material, cert: Option<&str>) -> Result<Client, Box<dyn Error>> {
    client_with(m, cert, TLS13, provider(), &[])
}

fn subject_raw(path: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let der = std::fs::read(pki(path))?;
    let pem = rustls::pki_types::pem::PemObject::from_pem_slice(&der)
        .map(|c: CertificateDer<'static>| c)?;
    let (_, cert) = X509Certificate::from_der(pem.as_ref())?;
    Ok(cert.subject().as_raw().to_vec())
}

fn frontend_dn(f: &TlsFacts) -> String {
    f.frontend_cert
        .as_ref()
        .map(|c| String::from_utf8_lossy(&c.subject.oneline).into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// verify required / optional / none (haproxy-spec.md §2.1)

#[tokio::test]
async fn leaf_only_client_is_completed_by_the_ca_file_intermediate() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    let peer = f.client.as_ref().ok_or("no client certificate recorded")?;
    assert_eq!(peer.leaf.subject.oneline, b"/CN=scanner/O=warehouse");
    assert!(peer.chain_der.is_empty(), "the client sent its leaf only");
    assert!(f.cert_presented_this_handshake);
    assert_eq!(
        (f.verify_result, f.crt_err, f.ca_err, f.ca_err_depth),
        (0, 0, 0, 0)
    );
    assert_eq!(f.session.protocol, "TLSv1.3");
    assert!(f.session.cipher.starts_with("TLS_"), "{}", f.session.cipher);
    assert_eq!(f.sni.as_deref(), Some("test.example"));
    assert!(!f.session.resumed);
    assert_eq!(frontend_dn(&f), "/CN=test.example");
    // Only ca-file's subject is advertised; ca-verify-file's root is not.
    assert_eq!(c.hints(), vec![subject_raw("inter.crt")?]);
    Ok(())
}

#[tokio::test]
async fn client_sending_its_chain_is_recorded_with_the_chain() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, Some("client-chain.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    let peer = f.client.ok_or("no client certificate")?;
    assert_eq!(peer.chain_der.len(), 1);
    assert_eq!(f.verify_result, 0);
    Ok(())
}

#[tokio::test]
async fn ca_names_follow_ca_file_and_no_ca_names() -> TestResult {
    let mut m = Material::new();
    let bundle = m.trust("inter-root-bundle.crt", None, None)?;
    let rt = single(&mut m, policy(ClientVerify::Required(bundle)))?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert_eq!(
        c.hints(),
        vec![subject_raw("inter.crt")?, subject_raw("root.crt")?]
    );

    let mut quiet = policy(ClientVerify::Required(m.mtls()?));
    quiet.no_ca_names = true;
    let rt = single(&mut m, quiet)?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert!(c.hints().is_empty());
    Ok(())
}

#[tokio::test]
async fn no_client_cert_under_required_gets_certificate_required() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, None)?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::CertificateRequired));
    let e = failure(served)?;
    assert_eq!(e.fc_err(), 34);
    assert!(matches!(
        e.rustls_error(),
        Some(rustls::Error::NoCertificatesPresented)
    ));
    Ok(())
}

#[tokio::test]
async fn no_client_cert_under_optional_is_accepted_with_verify_0() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let rt = single(&mut m, policy(ClientVerify::Optional(trust)))?;
    let c = client(&mut m, None)?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    assert!(f.client.is_none(), "ssl_c_used must be 0");
    assert!(!f.cert_presented_this_handshake);
    assert_eq!(f.verify_result, 0);
    Ok(())
}

#[tokio::test]
async fn verify_none_asks_for_no_certificate() -> TestResult {
    let mut m = Material::new();
    let rt = single(&mut m, policy(ClientVerify::None))?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    assert!(
        f.client.is_none(),
        "no CertificateRequest, so no certificate"
    );
    Ok(())
}

/// A bad certificate under `verify optional` (no ignore lists) still aborts.
async fn refused(
    client_pem: &str,
    trust_crl: Option<&str>,
    optional: bool,
) -> Result<(Seen, HandshakeError), Box<dyn Error>> {
    let mut m = Material::new();
    let trust = m.trust("inter.crt", Some("root.crt"), trust_crl)?;
    let verify = if optional {
        ClientVerify::Optional(trust)
    } else {
        ClientVerify::Required(trust)
    };
    let rt = single(&mut m, policy(verify))?;
    let c = client(&mut m, Some(client_pem))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    Ok((seen, failure(served)?))
}

#[tokio::test]
async fn untrusted_client_gets_unknown_ca() -> TestResult {
    for optional in [false, true] {
        let (seen, e) = refused("intruder.pem", None, optional).await?;
        assert_eq!(seen, Seen::Alert(AlertDescription::UnknownCA));
        let v = e.verify().ok_or("no verify outcome")?;
        assert_eq!(v.crt_err, 20);
        assert_eq!(e.fc_err(), 31);
    }
    Ok(())
}

#[tokio::test]
async fn expired_client_gets_certificate_expired() -> TestResult {
    let (seen, e) = refused("expired-client.pem", None, false).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::CertificateExpired));
    assert_eq!(e.verify().map(|v| v.crt_err), Some(10));
    assert_eq!(e.fc_err(), 31);
    Ok(())
}

#[tokio::test]
async fn revoked_client_gets_certificate_revoked_when_every_level_has_a_crl() -> TestResult {
    let (seen, e) = refused("revoked-client.pem", Some("crl-bundle.pem"), true).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::CertificateRevoked));
    assert_eq!(e.verify().map(|v| v.crt_err), Some(23));

    // The same store lets a good client in.
    let mut m = Material::new();
    let trust = m.trust("inter.crt", Some("root.crt"), Some("crl-bundle.pem"))?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert_eq!(facts(served)?.0.verify_result, 0);
    Ok(())
}

#[tokio::test]
async fn missing_root_crl_rejects_even_a_good_client_with_error_3() -> TestResult {
    let (seen, e) = refused("client.pem", Some("inter.crl"), false).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::UnknownCA));
    let v = e.verify().ok_or("no verify outcome")?;
    assert_eq!((v.ca_err, v.ca_err_depth, v.crt_err), (3, 1, 0));
    assert_eq!(e.fc_err(), 30);
    Ok(())
}

#[tokio::test]
async fn ignore_lists_turn_errors_into_recorded_results() -> TestResult {
    for (pem, crl, crt_err, verify) in [
        ("intruder.pem", None, 20, 21),
        ("expired-client.pem", None, 10, 10),
        ("revoked-client.pem", Some("crl-bundle.pem"), 23, 23),
    ] {
        let mut m = Material::new();
        let trust = m.trust("inter.crt", Some("root.crt"), crl)?;
        let mut tls = bind(vec![entry(
            m.cert("server.pem")?,
            &[],
            policy(ClientVerify::Optional(trust)),
        )]);
        tls.ignore_errors = IgnoreErrors {
            ca: ErrorSet::All,
            crt: ErrorSet::All,
        };
        let rt = Arc::new(BindTlsRuntime::build(&tls)?);
        let c = client(&mut m, Some(pem))?;
        let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
        assert_eq!(seen, Seen::Ok { resumed: false }, "{pem}");
        let (f, _) = facts(served)?;
        assert!(f.client.is_some(), "{pem}: ssl_c_used");
        assert_eq!((f.crt_err, f.verify_result), (crt_err, verify), "{pem}");
    }
    Ok(())
}

#[tokio::test]
async fn ignore_list_by_id_covers_only_that_error() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let mut tls = bind(vec![entry(
        m.cert("server.pem")?,
        &[],
        policy(ClientVerify::Required(trust)),
    )]);
    tls.ignore_errors.crt = ErrorSet::Ids(vec![10]);
    let rt = Arc::new(BindTlsRuntime::build(&tls)?);
    let expired = client(&mut m, Some("expired-client.pem"))?;
    let (seen, served) = exchange(&rt, &expired.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert_eq!(facts(served)?.0.verify_result, 10);
    let intruder = client(&mut m, Some("intruder.pem"))?;
    let (seen, _) = exchange(&rt, &intruder.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::UnknownCA));
    Ok(())
}

#[tokio::test]
async fn verify_depth_counts_intermediates() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let mut p = policy(ClientVerify::Required(trust.clone()));
    p.verify_depth = Some(0);
    let rt = single(&mut m, p)?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::UnknownCA));
    let e = failure(served)?;
    let v = e.verify().ok_or("no verify outcome")?;
    assert_eq!((v.ca_err, v.ca_err_depth), (22, 1));

    let mut p = policy(ClientVerify::Required(trust));
    p.verify_depth = Some(1);
    let rt = single(&mut m, p)?;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    Ok(())
}

#[tokio::test]
async fn three_level_chain_verifies_with_ca_file_intermediates() -> TestResult {
    let mut m = Material::new();
    let trust = m.trust("inter-root-bundle.crt", None, None)?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, Some("deep-client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    assert_eq!(f.client.map(|c| c.chain_der.len()), Some(2));
    Ok(())
}

// ---------------------------------------------------------------------------
// SNI selection (haproxy-spec.md §2.2)

fn sni_bind(m: &mut Material, strict: bool) -> Result<Arc<BindTlsRuntime>, Box<dyn Error>> {
    let none = || policy(ClientVerify::None);
    let mut tls = bind(vec![
        entry(m.cert("server2.crt")?, &["!*"], none()),
        entry(m.cert("server.pem")?, &["test.example"], none()),
        entry(
            m.cert("server-ecdsa.pem")?,
            &["*.wild.example", "!secret.wild.example"],
            none(),
        ),
        entry(m.cert("crts/a.pem")?, &[], none()),
    ]);
    tls.strict_sni = strict;
    Ok(Arc::new(BindTlsRuntime::build(&tls)?))
}

#[tokio::test]
async fn sni_selects_exact_wildcard_exclusion_and_default() -> TestResult {
    let mut m = Material::new();
    let rt = sni_bind(&mut m, false)?;
    let c = client(&mut m, None)?;
    for (sni, expected) in [
        (Some("test.example"), "/CN=test.example"),
        (Some("TEST.example"), "/CN=test.example"),
        (Some("a.wild.example"), "/CN=ecdsa.example"),
        (Some("x.y.wild.example"), "/CN=open.example"),
        (Some("secret.wild.example"), "/CN=open.example"),
        (Some("a.example"), "/CN=a.example"),
        (Some("open.example"), "/CN=open.example"),
        (Some("unknown.example"), "/CN=open.example"),
        (None, "/CN=open.example"),
    ] {
        let (seen, served) = exchange(&rt, &c.config, sni).await?;
        // (The client may resume: it keys sessions by the lower-cased name.)
        assert!(matches!(seen, Seen::Ok { .. }), "{sni:?}: {seen:?}");
        let (f, _) = facts(served)?;
        assert_eq!(frontend_dn(&f), expected, "{sni:?}");
        assert_eq!(
            f.sni.as_deref(),
            sni.map(str::to_ascii_lowercase).as_deref()
        );
    }
    Ok(())
}

#[tokio::test]
async fn strict_sni_refuses_unknown_and_missing_names_with_unrecognized_name() -> TestResult {
    let mut m = Material::new();
    let rt = sni_bind(&mut m, true)?;
    let c = client(&mut m, None)?;
    for sni in [Some("unknown.example"), Some("secret.wild.example"), None] {
        let (seen, served) = exchange(&rt, &c.config, sni).await?;
        assert_eq!(
            seen,
            Seen::Alert(AlertDescription::UnrecognisedName),
            "{sni:?}"
        );
        let e = failure(served)?;
        assert!(matches!(e, HandshakeError::UnrecognizedName { .. }), "{e}");
        assert_eq!(e.fc_err(), 34);
    }
    let (seen, _) = exchange(&rt, &c.config, Some("a.wild.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    Ok(())
}

#[tokio::test]
async fn policy_of_the_sni_is_reported_and_predictable_from_a_host() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let tls = bind(vec![
        entry(m.cert("server2.crt")?, &[], policy(ClientVerify::None)),
        entry(
            m.cert("server.pem")?,
            &["test.example"],
            policy(ClientVerify::Required(trust)),
        ),
    ]);
    let rt = Arc::new(BindTlsRuntime::build(&tls)?);
    assert_eq!(rt.policy_count(), 2);
    let c = client(&mut m, Some("client.pem"))?;
    let (_, served) = exchange(&rt, &c.config, Some("open.example")).await?;
    let (_, open_policy) = facts(served)?;
    let (_, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    let (_, test_policy) = facts(served)?;
    assert_ne!(open_policy, test_policy);
    assert_eq!(rt.policy_for_host("open.example"), Some(open_policy));
    assert_eq!(rt.policy_for_host("Test.Example"), Some(test_policy));
    assert_eq!(rt.policy_for_host("elsewhere.example"), Some(open_policy));
    Ok(())
}

// ---------------------------------------------------------------------------
// Resumption isolation (haproxy-spec.md §11.2)

#[tokio::test]
async fn tls13_ticket_resumes_on_its_policy_only() -> TestResult {
    let mut m = Material::new();
    let lax = single(&mut m, policy(ClientVerify::None))?;
    let anon = client(&mut m, None)?;
    let (seen, _) = exchange(&lax, &anon.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (seen, served) = exchange(&lax, &anon.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: true }, "same policy resumes");
    assert!(facts(served)?.0.session.resumed);

    // The next generation requires a certificate for the same name: the
    // ticket from the lax policy must not let the anonymous client in.
    let trust = m.mtls()?;
    let strict = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let (seen, served) = exchange(&strict, &anon.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Alert(AlertDescription::CertificateRequired));
    assert!(failure(served).is_ok());
    Ok(())
}

#[tokio::test]
async fn resumed_mtls_session_keeps_the_certificate_but_not_has_crt() -> TestResult {
    let mut m = Material::new();
    let trust = m.mtls()?;
    let rt = single(&mut m, policy(ClientVerify::Required(trust)))?;
    let c = client(&mut m, Some("client.pem"))?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert!(facts(served)?.0.cert_presented_this_handshake);
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: true });
    let (f, _) = facts(served)?;
    assert!(f.session.resumed);
    assert!(f.client.is_some(), "ssl_c_used stays 1 on resumption");
    assert!(
        !f.cert_presented_this_handshake,
        "ssl_fc_has_crt is 0 on resumption"
    );
    assert_eq!(f.verify_result, 0);
    Ok(())
}

#[tokio::test]
async fn tls12_session_id_resumes_on_its_policy_only() -> TestResult {
    let mut m = Material::new();
    let mut p = policy(ClientVerify::None);
    p.params.no_tls_tickets = true;
    let lax = single(&mut m, p)?;
    let anon = client_with(&mut m, None, TLS12, provider(), &[])?;
    let (seen, served) = exchange(&lax, &anon.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    assert_eq!(facts(served)?.0.session.protocol, "TLSv1.2");
    let (seen, _) = exchange(&lax, &anon.config, Some("test.example")).await?;
    assert_eq!(
        seen,
        Seen::Ok { resumed: true },
        "session id resumes on the same policy"
    );

    let mut p = policy(ClientVerify::Required(m.mtls()?));
    p.params.no_tls_tickets = true;
    let strict = single(&mut m, p)?;
    let (seen, served) = exchange(&strict, &anon.config, Some("test.example")).await?;
    assert!(!matches!(seen, Seen::Ok { .. }), "{seen:?}");
    let e = failure(served)?;
    assert!(
        matches!(
            e.rustls_error(),
            Some(rustls::Error::NoCertificatesPresented)
        ),
        "{e}"
    );
    Ok(())
}

#[tokio::test]
async fn tls12_ticket_resumes_on_the_same_policy() -> TestResult {
    let mut m = Material::new();
    let rt = single(&mut m, policy(ClientVerify::None))?;
    let c = client_with(&mut m, None, TLS12, provider(), &[])?;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: true });
    Ok(())
}

// ---------------------------------------------------------------------------
// Protocol parameters

#[tokio::test]
async fn tls12_cipher_and_alpn_restrictions_are_honoured() -> TestResult {
    let mut m = Material::new();
    let mut p = policy(ClientVerify::None);
    p.params.min_version = Some(TlsVersion::Tls12);
    p.params.max_version = Some(TlsVersion::Tls12);
    p.params.ciphers = Some(vec!["ECDHE-RSA-AES128-GCM-SHA256".to_string()]);
    p.params.alpn = Some(vec!["h2".to_string(), "http/1.1".to_string()]);
    let rt = single(&mut m, p)?;
    let c = client_with(&mut m, None, BOTH, provider(), &["http/1.1"])?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    assert_eq!(f.session.protocol, "TLSv1.2");
    assert_eq!(f.session.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
    assert_eq!(f.session.alpn.as_deref(), Some(&b"http/1.1"[..]));

    let tls13_only = client_with(&mut m, None, TLS13, provider(), &[])?;
    let (seen, served) = exchange(&rt, &tls13_only.config, Some("test.example")).await?;
    assert!(!matches!(seen, Seen::Ok { .. }), "{seen:?}");
    assert!(failure(served).is_ok());
    Ok(())
}

#[tokio::test]
async fn tls13_suite_and_curve_restrictions_are_honoured() -> TestResult {
    let mut m = Material::new();
    let mut p = policy(ClientVerify::None);
    p.params.ciphersuites = Some(vec!["TLS_AES_256_GCM_SHA384".to_string()]);
    p.params.curves = Some(vec!["X25519".to_string()]);
    let rt = single(&mut m, p)?;
    let c = client(&mut m, None)?;
    let (seen, served) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(seen, Seen::Ok { resumed: false });
    let (f, _) = facts(served)?;
    assert_eq!(f.session.cipher, "TLS_AES_256_GCM_SHA384");
    assert_eq!(f.session.alpn, None);

    let p256_only = Arc::new(CryptoProvider {
        kx_groups: vec![rustls::crypto::ring::kx_group::SECP256R1],
        ..(*provider()).clone()
    });
    let c = client_with(&mut m, None, TLS13, p256_only, &[])?;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert!(!matches!(seen, Seen::Ok { .. }), "{seen:?}");
    Ok(())
}

#[test]
fn unknown_cipher_names_fail_the_build() -> TestResult {
    let mut m = Material::new();
    let mut p = policy(ClientVerify::None);
    p.params.ciphers = Some(vec!["AES128-SHA".to_string()]);
    let tls = bind(vec![entry(m.cert("server.pem")?, &[], p)]);
    assert!(matches!(
        BindTlsRuntime::build(&tls),
        Err(TlsBuildError::UnknownCipher { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn session_cache_size_and_lifetime_are_honoured() -> TestResult {
    // tune.ssl.cachesize 0 turns the stateful cache off: TLS 1.2 session ids
    // (tickets off) no longer resume.
    let mut m = Material::new();
    let mut p = policy(ClientVerify::None);
    p.params.no_tls_tickets = true;
    let mut tls = bind(vec![entry(m.cert("server.pem")?, &[], p)]);
    tls.session_cache.size = 0;
    let rt = Arc::new(BindTlsRuntime::build(&tls)?);
    let c = client_with(&mut m, None, TLS12, provider(), &[])?;
    let (first, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(first, Seen::Ok { resumed: false });
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(
        seen,
        Seen::Ok { resumed: false },
        "cachesize 0: no resumption"
    );

    // tune.ssl.lifetime 1: a TLS 1.3 ticket older than a second is refused.
    let mut tls = bind(vec![entry(
        m.cert("server.pem")?,
        &[],
        policy(ClientVerify::None),
    )]);
    tls.session_cache.lifetime_secs = 1;
    let rt = Arc::new(BindTlsRuntime::build(&tls)?);
    let c = client(&mut m, None)?;
    let (first, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(first, Seen::Ok { resumed: false });
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (seen, _) = exchange(&rt, &c.config, Some("test.example")).await?;
    assert_eq!(
        seen,
        Seen::Ok { resumed: false },
        "expired ticket: full handshake"
    );
    Ok(())
}
