//! TLS material: loading and checking certificates, keys, CAs and CRLs.
//!
//! Sits in the pipeline's *lower* step: the lowering resolves `crt`,
//! `ca-file`, `ca-verify-file` and `crl-file` paths and asks a [`Loader`] for
//! them; the loaded, validated material goes into the IR unchanged and the
//! runtime builder makes rustls configs from it with the one crypto
//! [`provider`]. [`analysis`] finds what HAProxy would only reveal at
//! handshake time (unanchored CAs, missing CRLs, expiry); [`dn`] renders
//! names the way HAProxy prints them.

pub mod analysis;
pub mod client;
pub mod dh;
pub mod dn;
mod error;
pub mod errors;
pub mod ffdhe;
pub mod gencert;
pub mod handshake;
pub mod info;
pub mod material;
pub mod oids;
pub mod p521;
pub mod pem;
pub mod provider;
pub mod resumption;
pub mod server;
pub mod sni;
pub mod suites;
pub mod system;
pub mod verifier;

#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod test_pki;
#[cfg(test)]
mod tests;

pub use dn::{
    issuer_oneline, issuer_rfc2253, name_oneline, name_rfc2253, subject_oneline, subject_rfc2253,
};
pub use error::TlsError;
pub use info::{CertInfo, CrlInfo};
pub use material::{CaBundle, CaSpec, CertKey, CrlSet, Loader};
pub use provider::provider;
