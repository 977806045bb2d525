//! `@system-ca`: the platform's trusted roots, via rustls-native-certs.
//!
//! Like rustls-native-certs (and unlike Debian's HAProxy 2.6, which reads only
//! OpenSSL's built-in directory), `SSL_CERT_FILE` and `SSL_CERT_DIR` are
//! honoured and, when either is set, replace the platform store — what
//! containers need. The variables are taken as parameters so tests never race
//! on the process environment.

use rustls_pki_types::CertificateDer;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where `@system-ca` reads from: the values of `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` (`None` = unset; set-but-empty counts as set, as in
/// rustls-native-certs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemCaPaths {
    pub file: Option<OsString>,
    pub dir: Option<OsString>,
}

impl SystemCaPaths {
    /// The paths named by the process environment.
    pub fn from_env() -> Self {
        SystemCaPaths {
            file: std::env::var_os("SSL_CERT_FILE"),
            dir: std::env::var_os("SSL_CERT_DIR"),
        }
    }

    fn dirs(&self) -> Vec<PathBuf> {
        match &self.dir {
            Some(d) => std::env::split_paths(d)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Human description of the source, for messages.
    pub fn origin(&self) -> String {
        let dirs = self.dirs();
        if self.file.is_none() && dirs.is_empty() {
            return "platform store".to_string();
        }
        let mut parts = Vec::new();
        if let Some(f) = &self.file {
            parts.push(format!("SSL_CERT_FILE={}", Path::new(f).display()));
        }
        if let Some(d) = &self.dir {
            parts.push(format!("SSL_CERT_DIR={}", Path::new(d).display()));
        }
        parts.join(", ")
    }
}

/// What the system store gave: certificates (deduplicated by DER) and the
/// loader's error messages.
pub struct SystemCaLoad {
    pub certs: Vec<CertificateDer<'static>>,
    pub errors: Vec<String>,
}

/// Loads the system roots from `paths`. With neither variable set, the
/// platform store is used (rustls-native-certs' own probing; it re-reads the
/// environment, which is consistent because both are unset then).
pub fn load(paths: &SystemCaPaths) -> SystemCaLoad {
    let dirs = paths.dirs();
    let mut results = Vec::new();
    if paths.file.is_none() && dirs.is_empty() {
        results.push(rustls_native_certs::load_native_certs());
    } else {
        if let Some(f) = &paths.file {
            results.push(rustls_native_certs::load_certs_from_paths(
                Some(Path::new(f)),
                None,
            ));
        }
        for d in &dirs {
            results.push(rustls_native_certs::load_certs_from_paths(None, Some(d)));
        }
    }
    let mut seen = HashSet::new();
    let mut out = SystemCaLoad {
        certs: Vec::new(),
        errors: Vec::new(),
    };
    for r in results {
        out.errors.extend(r.errors.iter().map(|e| e.to_string()));
        for c in r.certs {
            if seen.insert(c.as_ref().to_vec()) {
                out.certs.push(c);
            }
        }
    }
    out
}
