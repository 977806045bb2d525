//! Finite-field DHE and P-521, end to end: real handshakes on 127.0.0.1
//! between `openssl s_client` / `openssl s_server` and a proxy running
//! in-process. What `s_client` reports as "Server Temp Key" is the group the
//! proxy really used; the sizes are HAProxy 2.6's (checked against it).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PKI: &str = "tests/fixtures/pki";
const DH: &str = "tests/fixtures/dh";
const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 2s\n    timeout server 5s\n";

/// `openssl s_client` against 127.0.0.1:`port` with extra arguments; its
/// whole output (the handshake summary, or the alert it received).
async fn s_client(port: u16, args: &[&str]) -> String {
    let mut all: Vec<String> = vec![
        "10".into(),
        "openssl".into(),
        "s_client".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-servername".into(),
        "test.example".into(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(&all)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("openssl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A PEM file holding `server.pem` (RSA 2048) followed by DH parameters.
fn crt_with_dh(dir: &tempfile::TempDir, dh: &str) -> String {
    let path = dir.path().join("server-dh.pem");
    let mut text = std::fs::read_to_string(format!("{PKI}/server.pem")).unwrap();
    text.push_str(&std::fs::read_to_string(format!("{DH}/{dh}")).unwrap());
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_dh_param_is_capped_by_the_rsa_key_as_haproxy() {
    let port = free_port();
    let _p = start(&format!(
        "global\n    tune.ssl.default-dh-param 4096\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port} ssl crt {PKI}/server.pem ciphers DHE-RSA-AES256-GCM-SHA384 ssl-max-ver TLSv1.2\n    http-request return status 200\n"
    ))
    .await;
    let out = s_client(port, &["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"]).await;
    // A 2048-bit RSA key: ffdhe2048, not 4096 (HAProxy's ssl_get_tmp_dh).
    assert!(out.contains("Server Temp Key: DH, 2048 bits"), "{out}");
    assert!(out.contains("Cipher is DHE-RSA-AES256-GCM-SHA384"), "{out}");
    // A client offering TLS 1.3 too (so listing the ffdhe groups) still
    // gets the bind's parameters in TLS 1.2, as from OpenSSL.
    let out = s_client(port, &[]).await;
    assert!(out.contains("Server Temp Key: DH, 2048 bits"), "{out}");
    for cipher in ["DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-CHACHA20-POLY1305"] {
        let out = s_client(port, &["-tls1_2", "-cipher", cipher]).await;
        assert!(out.contains("alert handshake failure"), "{cipher}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dh_in_the_crt_file_wins_over_ssl_dh_param_file() {
    let dir = tempfile::tempdir().unwrap();
    let crt = crt_with_dh(&dir, "ffdhe4096.pem");
    let (a, b) = (free_port(), free_port());
    let _p = start(&format!(
        "global\n    ssl-dh-param-file {DH}/ffdhe2048.pem\n    tune.ssl.default-dh-param 2048\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{a} ssl crt {crt} ssl-max-ver TLSv1.2\n    bind 127.0.0.1:{b} ssl crt {PKI}/server.pem ssl-max-ver TLSv1.2\n    http-request return status 200\n"
    ))
    .await;
    let out = s_client(a, &["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"]).await;
    assert!(out.contains("Server Temp Key: DH, 4096 bits"), "{out}");
    let out = s_client(b, &["-tls1_2", "-cipher", "DHE-RSA-CHACHA20-POLY1305"]).await;
    assert!(out.contains("Server Temp Key: DH, 2048 bits"), "{out}");
    assert!(out.contains("Cipher is DHE-RSA-CHACHA20-POLY1305"), "{out}");
    // Default cipher list: ECDHE is preferred when the client offers it.
    let out = s_client(b, &["-tls1_2"]).await;
    assert!(
        out.contains("Cipher is ECDHE-RSA-AES256-GCM-SHA384"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dh_parameters_dhe_is_unavailable() {
    let (only, dflt) = (free_port(), free_port());
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{only} ssl crt {PKI}/server.pem ciphers DHE-RSA-AES256-GCM-SHA384 ssl-max-ver TLSv1.2\n    bind 127.0.0.1:{dflt} ssl crt {PKI}/server.pem\n    http-request return status 200\n"
    ))
    .await;
    let out = s_client(only, &["-tls1_2"]).await;
    assert!(out.contains("alert handshake failure"), "{out}");
    let out = s_client(dflt, &["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"]).await;
    assert!(out.contains("alert handshake failure"), "{out}");
    let out = s_client(dflt, &["-tls1_3"]).await;
    assert!(out.contains("TLSv1.3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p521_is_negotiated_on_binds() {
    let (only, dflt) = (free_port(), free_port());
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{only} ssl crt {PKI}/server.pem ecdhe secp521r1\n    bind 127.0.0.1:{dflt} ssl crt {PKI}/server-ecdsa.pem\n    http-request return status 200\n"
    ))
    .await;
    for v in ["-tls1_2", "-tls1_3"] {
        let out = s_client(only, &[v]).await;
        assert!(
            out.contains("Server Temp Key: ECDH, secp521r1, 521 bits"),
            "{v}: {out}"
        );
        let out = s_client(dflt, &[v, "-curves", "P-521"]).await;
        assert!(
            out.contains("Server Temp Key: ECDH, secp521r1, 521 bits"),
            "{v}: {out}"
        );
    }
    let out = s_client(only, &["-tls1_2", "-curves", "P-256"]).await;
    assert!(out.contains("alert handshake failure"), "{out}");
}

/// `openssl s_server -www` on a free port with the given extra arguments.
struct SServer(Child, u16);

impl SServer {
    fn start(args: &[&str]) -> SServer {
        let port = free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-accept", &port.to_string(), "-www", "-quiet"])
            .args(["-cert", &format!("{PKI}/server.pem")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server runs");
        // Bounded wait for the listening socket.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        SServer(child, port)
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_lines_connect_to_dhe_only_servers_with_rfc7919_groups() {
    let rfc = SServer::start(&[
        "-tls1_2",
        "-cipher",
        "DHE-RSA-AES256-GCM-SHA384",
        "-dhparam",
        &format!("{DH}/ffdhe4096.pem"),
    ]);
    let custom = SServer::start(&[
        "-tls1_2",
        "-cipher",
        "DHE-RSA-AES128-GCM-SHA256",
        "-dhparam",
        &format!("{DH}/custom2048.pem"),
    ]);
    let p521 = SServer::start(&["-groups", "P-521"]);
    let port = free_port();
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    use_backend custom if {{ path /custom }}\n    use_backend p521 if {{ path /p521 }}\n    default_backend rfc\n    http-response set-header x-cipher %[ssl_bc_cipher]\nbackend rfc\n    server s 127.0.0.1:{} ssl verify none\nbackend custom\n    server s 127.0.0.1:{} ssl verify none\nbackend p521\n    server s 127.0.0.1:{} ssl verify none\n",
        rfc.1, custom.1, p521.1
    ))
    .await;
    // Default ciphers, as OpenSSL's client: DHE suites are offered.
    let a = get(port, "/", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("x-cipher"), "DHE-RSA-AES256-GCM-SHA384");
    // Parameters that are no RFC 7919 group cannot be recognised: refused.
    let a = get(port, "/custom", &[]).await;
    assert_eq!(a.status, 503, "{}", a.body);
    // P-521 is among the client's default groups.
    let a = get(port, "/p521", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}
