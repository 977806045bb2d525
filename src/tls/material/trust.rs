//! The trust half of the [`Loader`]: `ca-file`, `ca-verify-file`,
//! `@system-ca` and `crl-file` loading.

use super::{CaBundle, CrlSet, Loader, cert_infos, list_dir};
use crate::tls::error::{TlsError, io_reason};
use crate::tls::info::{CertInfo, CrlInfo};
use crate::tls::pem;
use crate::tls::system;
use rustls_pki_types::CertificateRevocationListDer;
use std::fs;
use std::path::{Path, PathBuf};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

impl Loader {
    pub(super) fn load_system_ca(&mut self) -> Result<CaBundle, TlsError> {
        let loaded = system::load(&self.system_paths);
        if !loaded.errors.is_empty() {
            return Err(TlsError::SystemCa {
                errors: loaded.errors,
            });
        }
        if loaded.certs.is_empty() {
            return Err(TlsError::SystemCaEmpty {
                origin: self.system_paths.origin(),
            });
        }
        let mut bundle = empty_bundle("@system-ca".to_string());
        let mut skipped = 0;
        for der in loaded.certs {
            match CertInfo::from_der(der.as_ref()) {
                Ok(info) => {
                    bundle.certs.push(der);
                    bundle.infos.push(info);
                }
                Err(_) => skipped += 1,
            }
        }
        if skipped > 0 {
            bundle.warnings.push(format!(
                "@system-ca: {skipped} certificate(s) of the {} could not be parsed and are ignored",
                self.system_paths.origin()
            ));
        }
        Ok(bundle)
    }

    pub(super) fn load_ca_path(&mut self, path: &Path) -> Result<CaBundle, TlsError> {
        let owned = || path.to_path_buf();
        let meta = fs::metadata(path).map_err(|e| TlsError::CaOpen {
            path: owned(),
            reason: io_reason(&e),
        })?;
        let mut bundle = empty_bundle(path.display().to_string());
        if meta.is_dir() {
            for file in ca_dir_files(path)? {
                if let Err(why) = self.add_ca_file(&mut bundle, &file) {
                    bundle.warnings.push(format!(
                        "ca-file: '{}' couldn't load '{}' ({why})",
                        path.display(),
                        file.display()
                    ));
                }
            }
            if bundle.certs.is_empty() {
                bundle.warnings.push(format!(
                    "ca-file: 0 CA were loaded from '{}'",
                    path.display()
                ));
            }
            return Ok(bundle);
        }
        let bytes = self.read(path).map_err(|e| TlsError::CaOpen {
            path: owned(),
            reason: io_reason(&e),
        })?;
        let items = pem::parse(&bytes).map_err(|detail| TlsError::CaBadPem {
            path: owned(),
            detail,
        })?;
        if items.certs.is_empty() && items.crls.is_empty() {
            return Err(TlsError::CaEmpty { path: owned() });
        }
        bundle.infos = cert_infos(path, &items.certs)?;
        bundle.certs = items.certs;
        bundle.crl_infos = crl_infos(path, &items.crls)?;
        bundle.crls = items.crls;
        Ok(bundle)
    }

    /// Adds one file of a CA directory; the error is the reason shown in the
    /// warning.
    pub(super) fn add_ca_file(&mut self, bundle: &mut CaBundle, file: &Path) -> Result<(), String> {
        let bytes = self.read(file).map_err(|e| io_reason(&e))?;
        let items = pem::parse(&bytes)?;
        if items.certs.is_empty() && items.crls.is_empty() {
            return Err("no certificate or crl found".to_string());
        }
        let infos = cert_infos(file, &items.certs).map_err(|e| e.to_string())?;
        let crl_infos = crl_infos(file, &items.crls).map_err(|e| e.to_string())?;
        bundle.certs.extend(items.certs);
        bundle.infos.extend(infos);
        bundle.crls.extend(items.crls);
        bundle.crl_infos.extend(crl_infos);
        Ok(())
    }

    pub(super) fn load_crls(&mut self, path: &Path) -> Result<CrlSet, TlsError> {
        let owned = || path.to_path_buf();
        let meta = fs::metadata(path).map_err(|e| TlsError::CrlOpen {
            path: owned(),
            reason: io_reason(&e),
        })?;
        let mut set = CrlSet {
            path: owned(),
            crls: Vec::new(),
            infos: Vec::new(),
        };
        let mut certs = 0;
        let files = if meta.is_dir() {
            ca_dir_files(path)?
        } else {
            vec![owned()]
        };
        for file in &files {
            let (crls, n_certs) = self.read_crl_file(file)?;
            set.infos.extend(crl_infos(file, &crls)?);
            set.crls.extend(crls);
            certs += n_certs;
        }
        if set.crls.is_empty() {
            return Err(if certs > 0 {
                TlsError::CrlOnlyCertificates {
                    path: owned(),
                    count: certs,
                }
            } else {
                TlsError::CrlEmpty { path: owned() }
            });
        }
        Ok(set)
    }

    /// The CRLs of one file (PEM, or a single DER CRL) and how many
    /// certificates it held instead.
    pub(super) fn read_crl_file(
        &mut self,
        file: &Path,
    ) -> Result<(Vec<CertificateRevocationListDer<'static>>, usize), TlsError> {
        let owned = || file.to_path_buf();
        let bytes = self.read(file).map_err(|e| TlsError::CrlOpen {
            path: owned(),
            reason: io_reason(&e),
        })?;
        if bytes.is_empty() {
            return Ok((Vec::new(), 0));
        }
        if pem::looks_like_pem(&bytes) {
            let items = pem::parse(&bytes).map_err(|detail| TlsError::CrlBadPem {
                path: owned(),
                detail,
            })?;
            return Ok((items.crls, items.certs.len()));
        }
        if CertificateRevocationList::from_der(&bytes).is_ok() {
            return Ok((vec![CertificateRevocationListDer::from(bytes)], 0));
        }
        if X509Certificate::from_der(&bytes).is_ok() {
            return Ok((Vec::new(), 1));
        }
        Err(TlsError::CrlBadPem {
            path: owned(),
            detail: "neither PEM nor a DER CRL".to_string(),
        })
    }
}

fn empty_bundle(source: String) -> CaBundle {
    CaBundle {
        source,
        certs: Vec::new(),
        infos: Vec::new(),
        crls: Vec::new(),
        crl_infos: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The files of a CA / CRL directory HAProxy loads: `.pem .crt .cer .crl`,
/// regular files only, in lexical order.
fn ca_dir_files(dir: &Path) -> Result<Vec<PathBuf>, TlsError> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            [".pem", ".crt", ".cer", ".crl"]
                .iter()
                .any(|e| name.ends_with(e))
                && fs::metadata(p).is_ok_and(|m| m.is_file())
        })
        .collect())
}

/// Parses each CRL for our reports and checks webpki (the verifier rustls
/// uses) accepts it, so `check` fails where the runtime would.
fn crl_infos(
    path: &Path,
    crls: &[CertificateRevocationListDer<'_>],
) -> Result<Vec<CrlInfo>, TlsError> {
    crls.iter()
        .enumerate()
        .map(|(i, der)| {
            let bad = |detail: String| TlsError::BadCrl {
                path: path.to_path_buf(),
                index: i + 1,
                detail,
            };
            let info = CrlInfo::from_der(der.as_ref()).map_err(bad)?;
            webpki::OwnedCertRevocationList::from_der(der.as_ref())
                .map_err(|e| bad(format!("not usable by the TLS verifier: {e:?}")))?;
            Ok(info)
        })
        .collect()
}
