//! Loading `crt`, `ca-file` and `crl-file` material, memoised.
//!
//! The lowering calls a [`Loader`] for every path a configuration names; the
//! loader reads and parses each file once (a config naming the same bundle on
//! 10,000 lines costs one read), checks what HAProxy checks at startup (the key
//! matches the leaf, the CA file is not empty…) and what our TLS stack needs
//! (the key type can sign, the CRL parses for webpki), and returns shared
//! `Arc`s that the runtime builder uses as they are.

use crate::tls::error::{TlsError, io_reason};
use crate::tls::info::{CertInfo, CrlInfo};
use crate::tls::pem;
use crate::tls::provider::provider;
use crate::tls::system::SystemCaPaths;
use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

mod trust;

/// A served (bind) or presented (server) certificate chain with its key.
#[derive(Clone, Serialize)]
pub struct CertKey {
    /// The `crt` file.
    pub path: PathBuf,
    /// Where the key came from: `path` itself or `<path>.key`.
    pub key_path: PathBuf,
    /// Leaf first, then the intermediates as they appear in the file.
    #[serde(skip)]
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key; never printed or serialized.
    #[serde(skip)]
    pub key: Arc<PrivateKeyDer<'static>>,
    /// The key loaded by the crypto provider (proves it can sign).
    #[serde(skip)]
    pub signing_key: Arc<dyn SigningKey>,
    /// One entry per certificate of `chain`, same order.
    pub infos: Vec<CertInfo>,
    /// `DH PARAMETERS` appended to the `crt` file: they take precedence
    /// over `ssl-dh-param-file` and `tune.ssl.default-dh-param`.
    pub dh: Option<Arc<crate::tls::dh::DhParams>>,
}

impl CertKey {
    /// The rustls form, for certificate resolvers and client configs.
    pub fn certified_key(&self) -> CertifiedKey {
        CertifiedKey::new(self.chain.clone(), self.signing_key.clone())
    }

    /// The leaf certificate's facts.
    pub fn leaf(&self) -> Option<&CertInfo> {
        self.infos.first()
    }
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey")
            .field("path", &self.path)
            .field("key_path", &self.key_path)
            .field("key", &"<redacted>")
            .field("infos", &self.infos)
            .finish()
    }
}

/// What a `ca-file` / `ca-verify-file` names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CaSpec {
    /// `@system-ca`: the platform store (never prefixed with `ca-base`).
    System,
    /// A PEM bundle or a directory of them (already resolved against `ca-base`).
    Path(PathBuf),
}

/// The certificates (and CRLs) of a `ca-file` / `ca-verify-file`.
#[derive(Clone, Serialize)]
pub struct CaBundle {
    /// The path as given, or `@system-ca`.
    pub source: String,
    /// DER of each certificate, in file (or directory) order.
    #[serde(skip)]
    pub certs: Vec<CertificateDer<'static>>,
    /// One entry per certificate of `certs`, same order.
    pub infos: Vec<CertInfo>,
    /// CRLs found in the bundle; they join the verify store as in HAProxy.
    #[serde(skip)]
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// One entry per CRL of `crls`, same order.
    pub crl_infos: Vec<CrlInfo>,
    /// Problems HAProxy only warns about (an unreadable file in a CA
    /// directory, a directory with no CA); the lowering reports them as warnings.
    pub warnings: Vec<String>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("source", &self.source)
            .field("infos", &self.infos)
            .field("crl_infos", &self.crl_infos)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// The CRLs of a `crl-file`.
#[derive(Clone, Serialize)]
pub struct CrlSet {
    /// The path as given.
    pub path: PathBuf,
    /// DER of each CRL, in file order.
    #[serde(skip)]
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// One entry per CRL of `crls`, same order.
    pub infos: Vec<CrlInfo>,
}

impl fmt::Debug for CrlSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlSet")
            .field("path", &self.path)
            .field("infos", &self.infos)
            .finish()
    }
}

/// Reads TLS files once per configuration load and remembers the outcome
/// (failures too) by canonical path.
pub struct Loader {
    certs: HashMap<PathBuf, Result<Arc<CertKey>, TlsError>>,
    crt_dirs: HashMap<PathBuf, Result<Vec<Arc<CertKey>>, TlsError>>,
    cas: HashMap<CaSpec, Result<Arc<CaBundle>, TlsError>>,
    crls: HashMap<PathBuf, Result<Arc<CrlSet>, TlsError>>,
    system_paths: SystemCaPaths,
    files_read: usize,
    /// `ssl-load-extra-del-ext`: `site.crt` finds its key in `site.key`.
    del_ext: bool,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    /// A loader whose `@system-ca` follows `SSL_CERT_FILE` / `SSL_CERT_DIR`
    /// as set in the process environment now.
    pub fn new() -> Self {
        Self::with_system_ca_paths(SystemCaPaths::from_env())
    }

    /// A loader whose `@system-ca` reads the given `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` values instead of the environment (tests, and callers
    /// that must not depend on the process environment).
    pub fn with_system_ca_env(file: Option<OsString>, dir: Option<OsString>) -> Self {
        Self::with_system_ca_paths(SystemCaPaths { file, dir })
    }

    fn with_system_ca_paths(system_paths: SystemCaPaths) -> Self {
        Loader {
            certs: HashMap::new(),
            crt_dirs: HashMap::new(),
            cas: HashMap::new(),
            crls: HashMap::new(),
            system_paths,
            files_read: 0,
            del_ext: false,
        }
    }

    /// `ssl-load-extra-del-ext`: from now on, the side key of `<name>.crt` is
    /// `<name>.key` instead of `<name>.crt.key` (HAProxy only strips `.crt`).
    pub fn set_extra_del_ext(&mut self, on: bool) {
        self.del_ext = on;
    }

    /// How many files have been read so far (shows the memoisation works).
    pub fn files_read(&self) -> usize {
        self.files_read
    }

    /// `crt` on a bind or server line naming one file: a PEM holding the
    /// certificate chain and the key, or the chain with the key in
    /// `<path>.key` (HAProxy's `ssl-load-extra-files` default). RSA, ECDSA
    /// P-256/P-384 and Ed25519 keys, PKCS#1/PKCS#8/SEC1; the key must match
    /// the leaf certificate.
    pub fn cert_key(&mut self, path: &Path) -> Result<Arc<CertKey>, TlsError> {
        let key = cache_key(path);
        if let Some(r) = self.certs.get(&key) {
            return r.clone();
        }
        let r = self.load_cert_key(path).map(Arc::new);
        self.certs.insert(key, r.clone());
        r
    }

    /// `crt <file|dir>`: a file gives one entry; a directory gives every
    /// regular file in lexical order except dotfiles and the side files
    /// `*.key *.issuer *.ocsp *.sctl` (an empty directory gives none; the
    /// caller decides whether that is an error).
    pub fn crt_path(&mut self, path: &Path) -> Result<Vec<Arc<CertKey>>, TlsError> {
        let meta = fs::metadata(path).map_err(|e| TlsError::CertMissing {
            path: path.to_path_buf(),
            reason: io_reason(&e),
        })?;
        if !meta.is_dir() {
            return self.cert_key(path).map(|c| vec![c]);
        }
        let key = cache_key(path);
        if let Some(r) = self.crt_dirs.get(&key) {
            return r.clone();
        }
        let r = self.load_crt_dir(path);
        self.crt_dirs.insert(key, r.clone());
        r
    }

    /// `ca-file` / `ca-verify-file`: a PEM bundle, a directory of `.pem .crt
    /// .cer .crl` files, or `@system-ca`. Certificates and CRLs are kept. A
    /// file with neither is an error (as in HAProxy); a directory problem is a
    /// warning in [`CaBundle::warnings`] (HAProxy warns too).
    pub fn ca(&mut self, spec: &CaSpec) -> Result<Arc<CaBundle>, TlsError> {
        let key = match spec {
            CaSpec::System => CaSpec::System,
            CaSpec::Path(p) => CaSpec::Path(cache_key(p)),
        };
        if let Some(r) = self.cas.get(&key) {
            return r.clone();
        }
        let r = match spec {
            CaSpec::System => self.load_system_ca(),
            CaSpec::Path(p) => self.load_ca_path(p),
        }
        .map(Arc::new);
        self.cas.insert(key, r.clone());
        r
    }

    /// `crl-file`: PEM or DER CRLs (a file, or a directory like `ca-file`'s),
    /// at least one. A file holding only certificates is refused (HAProxy
    /// silently checks nothing then).
    pub fn crls(&mut self, path: &Path) -> Result<Arc<CrlSet>, TlsError> {
        let key = cache_key(path);
        if let Some(r) = self.crls.get(&key) {
            return r.clone();
        }
        let r = self.load_crls(path).map(Arc::new);
        self.crls.insert(key, r.clone());
        r
    }

    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files_read += 1;
        fs::read(path)
    }

    fn load_cert_key(&mut self, path: &Path) -> Result<CertKey, TlsError> {
        let owned = || path.to_path_buf();
        if let Err(e) = fs::metadata(path) {
            return Err(TlsError::CertMissing {
                path: owned(),
                reason: io_reason(&e),
            });
        }
        let bytes = self.read(path).map_err(|e| TlsError::CertUnreadable {
            path: owned(),
            reason: io_reason(&e),
        })?;
        let items = pem::parse(&bytes).map_err(|detail| TlsError::CertBadPem {
            path: owned(),
            detail,
        })?;
        if items.certs.is_empty() {
            return Err(TlsError::NoCertificate { path: owned() });
        }
        let infos = cert_infos(path, &items.certs)?;
        let (key, key_path) = match items.keys.into_iter().next() {
            Some(k) => (k, owned()),
            None if items.encrypted_key => {
                return Err(TlsError::EncryptedKey { key_path: owned() });
            }
            None => {
                let key_path = side_key_path(path, self.del_ext);
                (self.load_side_key(&key_path)?, key_path)
            }
        };
        let leaf = items
            .certs
            .first()
            .ok_or_else(|| TlsError::NoCertificate { path: owned() })?;
        let signing_key = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TlsError::UnsupportedKey {
                path: owned(),
                key_path: key_path.clone(),
                algorithm: infos
                    .first()
                    .map_or_else(String::new, |i| i.key_alg.clone()),
                detail: e.to_string(),
            })?;
        if !key_matches_leaf(signing_key.as_ref(), leaf) {
            return Err(TlsError::KeyMismatch {
                path: owned(),
                key_path,
            });
        }
        let dh = crate::tls::dh::DhParams::from_pem(&bytes)
            .map_err(|detail| TlsError::CertBadPem {
                path: owned(),
                detail,
            })?
            .map(Arc::new);
        Ok(CertKey {
            path: owned(),
            key_path,
            chain: items.certs,
            key: Arc::new(key),
            signing_key,
            infos,
            dh,
        })
    }

    fn load_side_key(&mut self, key_path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
        let kp = || key_path.to_path_buf();
        let bytes = match self.read(key_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TlsError::NoPrivateKey { key_path: kp() });
            }
            Err(e) => {
                return Err(TlsError::KeyUnreadable {
                    key_path: kp(),
                    reason: io_reason(&e),
                });
            }
        };
        let items = pem::parse(&bytes).map_err(|detail| TlsError::KeyBadPem {
            key_path: kp(),
            detail,
        })?;
        match items.keys.into_iter().next() {
            Some(k) => Ok(k),
            None if items.encrypted_key => Err(TlsError::EncryptedKey { key_path: kp() }),
            None => Err(TlsError::NoPrivateKey { key_path: kp() }),
        }
    }

    fn load_crt_dir(&mut self, dir: &Path) -> Result<Vec<Arc<CertKey>>, TlsError> {
        let mut out = Vec::new();
        for entry in list_dir(dir)? {
            let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if name.starts_with('.')
                || [".key", ".issuer", ".ocsp", ".sctl"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
            {
                continue;
            }
            // HAProxy stats every entry: a dangling link is an error, a
            // sub-directory or a socket is skipped.
            let meta = fs::metadata(&entry).map_err(|e| TlsError::CertMissing {
                path: entry.clone(),
                reason: io_reason(&e),
            })?;
            if !meta.is_file() {
                continue;
            }
            out.push(self.cert_key(&entry)?);
        }
        Ok(out)
    }
}

/// The memo key of a path: canonical when it exists, as given otherwise (so
/// a missing file is also remembered).
fn cache_key(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `<crt>.key`: the name is extended, not replaced (`site.pem.key`); with
/// `ssl-load-extra-del-ext` a `.crt` extension is replaced (`site.key`).
fn side_key_path(path: &Path, del_ext: bool) -> PathBuf {
    let base = match path.to_str().and_then(|s| s.strip_suffix(".crt")) {
        Some(stem) if del_ext => Path::new(stem),
        _ => path,
    };
    let mut s = base.as_os_str().to_os_string();
    s.push(".key");
    PathBuf::from(s)
}

/// Directory entries sorted by name (HAProxy's `scandir` + `alphasort` in the
/// C locale: byte order).
fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, TlsError> {
    let unreadable = |e: std::io::Error| TlsError::DirUnreadable {
        path: dir.to_path_buf(),
        reason: io_reason(&e),
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        entries.push(entry.map_err(unreadable)?.path());
    }
    entries.sort();
    Ok(entries)
}

fn cert_infos(path: &Path, certs: &[CertificateDer<'_>]) -> Result<Vec<CertInfo>, TlsError> {
    certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            CertInfo::from_der(der.as_ref()).map_err(|detail| TlsError::BadCertificate {
                path: path.to_path_buf(),
                index: i + 1,
                detail,
            })
        })
        .collect()
}

/// Does the signing key's public half equal the leaf's subject public key?
fn key_matches_leaf(key: &dyn SigningKey, leaf: &CertificateDer<'_>) -> bool {
    let Some(key_spki) = key.public_key() else {
        // Every ring key type reports its public key; a provider that cannot
        // is not ours, and rustls would then skip the same check.
        return true;
    };
    let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
        return false;
    };
    match SubjectPublicKeyInfo::from_der(key_spki.as_ref()) {
        Ok((_, spki)) => spki.subject_public_key.data == cert.public_key().subject_public_key.data,
        Err(_) => key_spki.as_ref() == cert.public_key().raw,
    }
}
