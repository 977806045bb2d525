//! TLS protocol options shared by `bind`, crt-list lines, `server` and the
//! `ssl-default-*` globals: versions, cipher lists, curves, ALPN.
//!
//! HAProxy hands these strings to OpenSSL. portcullis' TLS stack (rustls) speaks
//! TLS 1.2 and 1.3 with AEAD suites only, so an OpenSSL cipher string is evaluated
//! the way OpenSSL would (aliases, `!`, `-`, `+`, `:` lists) over the suites that
//! exist here: the result is narrowed, never widened, and an empty result is an
//! error rather than a silent fallback to defaults.

use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::{TlsParams, TlsVersion};

use super::values::tls_version;

/// TLS ≤ 1.2 suites available, with the OpenSSL aliases each belongs to, in
/// OpenSSL's `DEFAULT` order. The DHE-RSA suites need DH parameters
/// (`ssl-dh-param-file`, `tune.ssl.default-dh-param`, or in the `crt` file);
/// without them a bind does not offer them, as HAProxy.
const TLS12_SUITES: &[(&str, &[&str])] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aECDSA",
            "ECDSA",
            "AESGCM",
            "AES",
            "AES256",
            "SHA384",
            "AESGCM256",
        ],
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aRSA",
            "RSA",
            "AESGCM",
            "AES",
            "AES256",
            "SHA384",
            "AESGCM256",
        ],
    ),
    (
        "DHE-RSA-AES256-GCM-SHA384",
        &[
            "DHE", "EDH", "kDHE", "kEDH", "DH", "aRSA", "AESGCM", "AES", "AES256",
        ],
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aECDSA",
            "ECDSA",
            "CHACHA20",
            "CHACHA20-POLY1305",
            "SHA256",
        ],
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aRSA",
            "RSA",
            "CHACHA20",
            "CHACHA20-POLY1305",
            "SHA256",
        ],
    ),
    (
        "DHE-RSA-CHACHA20-POLY1305",
        &["DHE", "EDH", "kDHE", "kEDH", "DH", "aRSA", "CHACHA20"],
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aECDSA",
            "ECDSA",
            "AESGCM",
            "AES",
            "AES128",
            "SHA256",
            "AESGCM128",
        ],
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        &[
            "ECDHE",
            "EECDH",
            "kECDHE",
            "kEECDH",
            "aRSA",
            "RSA",
            "AESGCM",
            "AES",
            "AES128",
            "SHA256",
            "AESGCM128",
        ],
    ),
    (
        "DHE-RSA-AES128-GCM-SHA256",
        &[
            "DHE", "EDH", "kDHE", "kEDH", "DH", "aRSA", "AESGCM", "AES", "AES128",
        ],
    ),
];

/// Aliases every available suite belongs to.
const UNIVERSAL: &[&str] = &[
    "ALL",
    "DEFAULT",
    "HIGH",
    "TLSv1.2",
    "AEAD",
    "SSLv3",
    "FIPS",
    "SECURE128",
    "SECURE256",
];

/// TLS 1.3 suites available.
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
];
/// TLS 1.3 suites OpenSSL knows and portcullis does not implement.
const TLS13_ELSEWHERE: &[&str] = &["TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"];

/// Key-exchange groups available, with their OpenSSL spellings.
const GROUPS: &[(&str, &[&str])] = &[
    ("X25519", &["X25519", "x25519"]),
    ("P-256", &["P-256", "prime256v1", "secp256r1"]),
    ("P-384", &["P-384", "secp384r1"]),
    ("P-521", &["P-521", "secp521r1"]),
];
/// Groups OpenSSL knows and portcullis does not implement.
const GROUPS_ELSEWHERE: &[&str] = &[
    "X448",
    "x448",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
    "brainpoolP256r1",
    "brainpoolP384r1",
    "brainpoolP512r1",
    "secp224r1",
    "P-224",
    "secp256k1",
];

/// Evaluates an OpenSSL cipher string over the TLS 1.2 suites available.
pub fn ciphers(w: &Word, what: &str) -> Result<Vec<String>, Diagnostic> {
    let mut list: Vec<&str> = Vec::new();
    let mut banned: Vec<&str> = Vec::new();
    for token in w.text.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        if token.starts_with('@') {
            continue; // @STRENGTH, @SECLEVEL=n: ordering/level hints with no effect here
        }
        let (op, body) = match token.as_bytes()[0] {
            b'!' | b'-' | b'+' => (token.as_bytes()[0], &token[1..]),
            _ => (b' ', token),
        };
        let matched: Vec<&str> = TLS12_SUITES
            .iter()
            .filter(|(name, aliases)| {
                *name == body
                    || body
                        .split('+')
                        .all(|part| aliases.contains(&part) || UNIVERSAL.contains(&part))
            })
            .map(|(name, _)| *name)
            .collect();
        match op {
            b'!' => {
                banned.extend(&matched);
                list.retain(|s| !matched.contains(s));
            }
            b'-' => list.retain(|s| !matched.contains(s)),
            b'+' => {
                let (moved, kept): (Vec<&str>, Vec<&str>) =
                    list.iter().partition(|s| matched.contains(s));
                list = kept;
                list.extend(moved);
            }
            _ => {
                for s in matched {
                    if !list.contains(&s) && !banned.contains(&s) {
                        list.push(s);
                    }
                }
            }
        }
    }
    if list.is_empty() {
        let names: Vec<&str> = TLS12_SUITES.iter().map(|(n, _)| *n).collect();
        return Err(Diagnostic::error(format!(
            "'{what} {}' is not supported by portcullis: none of these ciphers is available",
            w.text
        ))
        .at(w.span)
        .help(format!(
            "portcullis offers these TLS 1.2 suites: {}; TLS 1.3 suites are set with 'ciphersuites'",
            names.join(":")
        )));
    }
    Ok(list.into_iter().map(String::from).collect())
}

/// Parses a TLS 1.3 `ciphersuites` list.
pub fn ciphersuites(w: &Word, what: &str) -> Result<Vec<String>, Diagnostic> {
    let mut out = Vec::new();
    for name in w.text.split(':').filter(|t| !t.is_empty()) {
        if TLS13_SUITES.contains(&name) {
            if !out.iter().any(|s: &String| s == name) {
                out.push(name.to_string());
            }
        } else if !TLS13_ELSEWHERE.contains(&name) {
            return Err(Diagnostic::error(format!(
                "'{what}' : unknown TLS 1.3 cipher suite '{name}'"
            ))
            .at(w.span)
            .help(format!("TLS 1.3 suites are {}", TLS13_SUITES.join(":"))));
        }
    }
    if out.is_empty() {
        return Err(Diagnostic::error(format!(
            "'{what} {}' is not supported by portcullis: none of these suites is available",
            w.text
        ))
        .at(w.span)
        .help(format!("portcullis offers {}", TLS13_SUITES.join(":"))));
    }
    Ok(out)
}

/// Parses a `curves` list (`X25519:P-256`) or a single `ecdhe` curve.
pub fn curves(w: &Word, what: &str) -> Result<Vec<String>, Diagnostic> {
    let mut out: Vec<String> = Vec::new();
    for name in w.text.split(':').filter(|t| !t.is_empty()) {
        if let Some((canon, _)) = GROUPS
            .iter()
            .find(|(_, spellings)| spellings.contains(&name))
        {
            if !out.iter().any(|s| s == canon) {
                out.push(canon.to_string());
            }
        } else if !GROUPS_ELSEWHERE.contains(&name) {
            return Err(
                Diagnostic::error(format!("'{what}' : unknown curve '{name}'"))
                    .at(w.span)
                    .help(
                        "curves portcullis offers: X25519, P-256 (prime256v1), P-384 (secp384r1), P-521 (secp521r1)",
                    ),
            );
        }
    }
    if out.is_empty() {
        return Err(Diagnostic::error(format!(
            "'{what} {}' is not supported by portcullis: none of these curves is available",
            w.text
        ))
        .at(w.span)
        .help("curves portcullis offers: X25519, P-256 (prime256v1), P-384 (secp384r1), P-521 (secp521r1)"));
    }
    Ok(out)
}

/// Parses an ALPN list (`h2,http/1.1`).
pub fn alpn(w: &Word, what: &str) -> Result<Vec<String>, Diagnostic> {
    let protos: Vec<String> = w.text.split(',').map(String::from).collect();
    if protos.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(
            Diagnostic::error(format!("'{what}' : invalid ALPN list '{}'", w.text))
                .at(w.span)
                .help("write protocol names separated by commas, e.g. h2,http/1.1"),
        );
    }
    Ok(protos)
}

/// Applies one version-related flag (`no-tlsv12`, `force-tlsv13`, …). Returns
/// `Ok(false)` when the word is not a version flag.
pub fn version_flag(params: &mut TlsParams, w: &Word) -> Result<bool, Diagnostic> {
    let cant = |v: &str| {
        Err(Diagnostic::error(format!(
            "'{}' is not supported by portcullis: it cannot speak {v}",
            w.text
        ))
        .at(w.span)
        .help("portcullis speaks TLSv1.2 and TLSv1.3 only; use force-tlsv12, force-tlsv13 or ssl-min-ver"))
    };
    match w.text.as_str() {
        // Never offered: these flags are true by construction.
        "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {}
        "no-tlsv12" => params.min_version = Some(TlsVersion::Tls13),
        "no-tlsv13" => params.max_version = Some(TlsVersion::Tls12),
        "force-tlsv12" => {
            params.min_version = Some(TlsVersion::Tls12);
            params.max_version = Some(TlsVersion::Tls12);
        }
        "force-tlsv13" => {
            params.min_version = Some(TlsVersion::Tls13);
            params.max_version = Some(TlsVersion::Tls13);
        }
        "force-sslv3" => return cant("SSLv3"),
        "force-tlsv10" => return cant("TLSv1.0"),
        "force-tlsv11" => return cant("TLSv1.1"),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies `ssl-min-ver` / `ssl-max-ver`.
pub fn version_bound(params: &mut TlsParams, kw: &Word, value: &Word) -> Result<(), Diagnostic> {
    let v = tls_version(value, &kw.text)?;
    match (kw.text.as_str(), v) {
        ("ssl-min-ver", v) => params.min_version = v,
        (_, Some(v)) => params.max_version = Some(v),
        (_, None) => {
            return Err(Diagnostic::error(format!(
                "'ssl-max-ver {}' is not supported by portcullis: it leaves no TLS version portcullis can speak",
                value.text
            ))
            .at(value.span)
            .help("portcullis speaks TLSv1.2 and TLSv1.3"));
        }
    }
    Ok(())
}

/// Checks that a finished parameter set still allows one version.
pub fn check_versions(params: &TlsParams, at: &Word) -> Result<(), Diagnostic> {
    if let (Some(min), Some(max)) = (params.min_version, params.max_version)
        && min > max
    {
        return Err(Diagnostic::error(format!(
            "no TLS version left: minimum {min:?} is above maximum {max:?}"
        ))
        .at(at.span)
        .help("check ssl-min-ver, ssl-max-ver and the no-tlsv1x/force-tlsv1x flags (including ssl-default-*-options)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{FileId, Span};

    fn w(s: &str) -> Word {
        Word {
            text: s.into(),
            span: Span {
                file: FileId(0),
                start: 0,
                end: s.len() as u32,
            },
            quoted: false,
        }
    }

    #[test]
    fn openssl_cipher_strings() {
        let mozilla = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256";
        let l = ciphers(&w(mozilla), "ciphers").unwrap_or_default();
        assert_eq!(l.len(), 7);
        assert_eq!(l[0], "ECDHE-ECDSA-AES128-GCM-SHA256");
        assert_eq!(l[6], "DHE-RSA-AES128-GCM-SHA256");
        let l = ciphers(&w("HIGH:!aNULL:!MD5"), "ciphers").unwrap_or_default();
        assert_eq!(l.len(), 9);
        let l = ciphers(&w("DHE-RSA-AES256-GCM-SHA384"), "ciphers").unwrap_or_default();
        assert_eq!(l, vec!["DHE-RSA-AES256-GCM-SHA384"]);
        let l = ciphers(&w("kEDH+AESGCM"), "ciphers").unwrap_or_default();
        assert_eq!(
            l,
            vec!["DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES128-GCM-SHA256"]
        );
        let l = ciphers(&w("HIGH:!DHE"), "ciphers").unwrap_or_default();
        assert_eq!(l.len(), 6);
        let l = ciphers(&w("ECDHE+AESGCM:!aRSA"), "ciphers").unwrap_or_default();
        assert_eq!(
            l,
            vec![
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-AES128-GCM-SHA256"
            ]
        );
        let l = ciphers(&w("ALL:+CHACHA20"), "ciphers").unwrap_or_default();
        assert!(l.last().is_some_and(|s| s.contains("CHACHA20")));
        assert!(ciphers(&w("DHE-RSA-AES256-SHA:RC4"), "ciphers").is_err());
    }

    #[test]
    fn suites_and_curves() {
        assert_eq!(
            ciphersuites(&w("TLS_AES_128_CCM_SHA256:TLS_AES_128_GCM_SHA256"), "x")
                .unwrap_or_default(),
            vec!["TLS_AES_128_GCM_SHA256"]
        );
        assert!(ciphersuites(&w("TLS_AES_128_CCM_SHA256"), "x").is_err());
        assert!(ciphersuites(&w("TLS_FOO"), "x").is_err());
        assert_eq!(
            curves(&w("X25519:prime256v1:P-521:ffdhe2048"), "x").unwrap_or_default(),
            vec!["X25519", "P-256", "P-521"]
        );
        assert_eq!(
            curves(&w("secp521r1"), "x").unwrap_or_default(),
            vec!["P-521"]
        );
        assert!(curves(&w("ffdhe2048"), "x").is_err());
        assert!(curves(&w("bogus"), "x").is_err());
    }

    #[test]
    fn versions() {
        let mut p = TlsParams::default();
        assert_eq!(version_flag(&mut p, &w("no-tlsv12")).ok(), Some(true));
        assert_eq!(p.min_version, Some(TlsVersion::Tls13));
        assert!(version_flag(&mut p, &w("force-tlsv10")).is_err());
        assert_eq!(version_flag(&mut p, &w("crt")).ok(), Some(false));
        let mut p = TlsParams::default();
        assert!(version_bound(&mut p, &w("ssl-min-ver"), &w("TLSv1.0")).is_ok());
        assert_eq!(p.min_version, None);
        assert!(version_bound(&mut p, &w("ssl-max-ver"), &w("TLSv1.1")).is_err());
        p.min_version = Some(TlsVersion::Tls13);
        p.max_version = Some(TlsVersion::Tls12);
        assert!(check_versions(&p, &w("x")).is_err());
    }
}
