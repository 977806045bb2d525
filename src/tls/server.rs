//! Server-side TLS of one `bind … ssl`: the rustls `ServerConfig`s, one per
//! distinct (certificate, policy), and the SNI index that picks one per
//! ClientHello.
//!
//! Sits in the pipeline's *build* step: [`BindTlsRuntime::build`] runs once
//! per bind per configuration generation (so `check` and reload surface every
//! error here), never per connection. Everything rustls cannot do as asked is
//! a [`TlsBuildError`]; nothing is silently downgraded. The connection side
//! is [`crate::tls::handshake::accept`].

use crate::ir::{BindTls, ClientVerify, SniCert, TlsParams, TlsPolicy, TlsVersion, Trust};
use crate::runtime::facts::CertFacts;
use crate::tls::dh::{DhDefault, DhParams};
use crate::tls::gencert::{GenCertError, MintCache, Minter};
use crate::tls::material::CertKey;
use crate::tls::provider::provider;
use crate::tls::resumption::{Resumption, ResumptionError};
use crate::tls::sni::{ClientCaps, SniIndex};
use crate::tls::verifier::{ClientVerifier, VerifierError};
use rustls::crypto::KeyExchangeAlgorithm;
use rustls::crypto::ring::kx_group;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Identifies a client-certificate verification policy of a bind: verify
/// mode, trust store, CRLs and verify depth (the ignore lists are bind-wide).
/// Two SNI entries with the same verification share an id even when their
/// certificates, ALPN or ciphers differ; the HTTP layer answers 421 when a
/// request's Host maps to another id than the one negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyId(pub u32);

/// Why a bind's TLS could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsBuildError {
    #[error("bind has 'ssl' but no certificate")]
    NoCertificate,
    #[error("{at}: cipher '{name}' is not available in portcullis")]
    UnknownCipher { at: String, name: String },
    #[error("{at}: curve '{name}' is not available in portcullis")]
    UnknownCurve { at: String, name: String },
    #[error("{at}: no TLS version left between {min:?} and {max:?}")]
    NoVersion {
        at: String,
        min: TlsVersion,
        max: TlsVersion,
    },
    #[error("{at}: no cipher suite left for {version}")]
    NoSuites { at: String, version: &'static str },
    /// TLS 1.2 only, and none of the allowed suites can be used with the
    /// certificate's key (e.g. only ECDHE-RSA suites for an ECDSA key):
    /// every handshake would fail.
    #[error("{at}: no allowed TLSv1.2 cipher suite can be used with a {key} key")]
    NoSuitesForKey { at: String, key: String },
    #[error("{at}: {source}")]
    Verifier {
        at: String,
        #[source]
        source: VerifierError,
    },
    #[error("{at}: the TLS library refused the configuration: {source}")]
    Rustls {
        at: String,
        #[source]
        source: rustls::Error,
    },
    #[error("{at}: the certificate cannot be rendered for the ssl_f_* fetches")]
    CertFacts { at: String },
    #[error(transparent)]
    Resumption(#[from] ResumptionError),
    #[error("generate-certificates: {0}")]
    GenCert(#[source] GenCertError),
}

/// One prebuilt (certificate, policy) combination.
pub(crate) struct Slot {
    pub config: Arc<ServerConfig>,
    /// `None` for `verify none`.
    pub verifier: Option<Arc<ClientVerifier>>,
    pub policy: PolicyId,
    /// The served certificate, for `ssl_f_*`.
    pub frontend: Arc<CertFacts>,
    /// Clients refused with handshake_failure (no usable cipher suite).
    pub refusal: Refusal,
}

/// The built TLS side of one bind, for one configuration generation.
pub struct BindTlsRuntime {
    slots: Vec<Arc<Slot>>,
    /// Slot of each `BindTls::certs` entry.
    entry_slot: Vec<usize>,
    sni: SniIndex,
    policies: usize,
    /// `generate-certificates`: slots minted for unknown SNIs, cached.
    generator: Option<Generator>,
}

/// Mints and caches the slots of `generate-certificates`.
struct Generator {
    minter: Minter,
    cache: MintCache<Arc<Slot>>,
}

impl fmt::Debug for BindTlsRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindTlsRuntime")
            .field("configs", &self.slots.len())
            .field("entries", &self.entry_slot.len())
            .field("policies", &self.policies)
            .finish()
    }
}

impl BindTlsRuntime {
    /// Builds every server config of a bind: one per distinct (certificate,
    /// policy), each with its own view of the bind's fresh resumption state
    /// (see [`crate::tls::resumption`]), client verifiers shared per policy.
    pub fn build(tls: &BindTls) -> Result<BindTlsRuntime, TlsBuildError> {
        if tls.certs.is_empty() {
            return Err(TlsBuildError::NoCertificate);
        }
        let resumption =
            Resumption::with_limits(tls.session_cache.size, tls.session_cache.lifetime_secs)?;
        let mut slots: Vec<Arc<Slot>> = Vec::new();
        let mut slot_keys: HashMap<String, usize> = HashMap::new();
        let mut policy_ids: HashMap<String, PolicyId> = HashMap::new();
        let mut verifiers: HashMap<String, Option<Arc<ClientVerifier>>> = HashMap::new();
        let mut entry_slot = Vec::with_capacity(tls.certs.len());
        for entry in &tls.certs {
            let key = slot_key(entry);
            if let Some(i) = slot_keys.get(&key) {
                entry_slot.push(*i);
                continue;
            }
            let at = context(entry);
            let p = &entry.policy;
            let pkey = policy_key(p);
            let next_id = PolicyId(u32::try_from(policy_ids.len()).unwrap_or(u32::MAX));
            let policy = *policy_ids.entry(pkey.clone()).or_insert(next_id);
            let vkey = format!("{pkey}|{}|{:?}", p.no_ca_names, p.params.curves);
            let verifier = match verifiers.get(&vkey) {
                Some(v) => v.clone(),
                None => {
                    let v = verifier(p, tls).map_err(|source| TlsBuildError::Verifier {
                        at: at.clone(),
                        source,
                    })?;
                    verifiers.insert(vkey, v.clone());
                    v
                }
            };
            let index = u32::try_from(slots.len()).unwrap_or(u32::MAX);
            let (config, refusal) = server_config(
                &entry.cert,
                &tls.dh,
                p,
                verifier.clone(),
                &resumption,
                index,
                &at,
            )?;
            let frontend = entry
                .cert
                .chain
                .first()
                .and_then(|der| CertFacts::from_der(der.as_ref()))
                .ok_or_else(|| TlsBuildError::CertFacts { at: at.clone() })?;
            slot_keys.insert(key, slots.len());
            entry_slot.push(slots.len());
            slots.push(Arc::new(Slot {
                config: Arc::new(config),
                verifier,
                policy,
                frontend: Arc::new(frontend),
                refusal,
            }));
        }
        let generator = match &tls.generate {
            None => None,
            Some(g) => Some(Generator {
                minter: Minter::new(&g.ca, &tls.certs[0].cert).map_err(TlsBuildError::GenCert)?,
                cache: MintCache::new(g.cache_size),
            }),
        };
        Ok(BindTlsRuntime {
            slots,
            entry_slot,
            sni: SniIndex::new(&tls.certs, tls.strict_sni),
            policies: policy_ids.len(),
            generator,
        })
    }

    /// The config for a ClientHello: the configured certificate matching its
    /// SNI, else (`generate-certificates`) one minted for the SNI, else the
    /// default certificate; `None` when `strict-sni` refuses it. A minting
    /// failure falls back to the default certificate, as in HAProxy.
    pub(crate) fn select(&self, server_name: Option<&str>, caps: ClientCaps) -> Option<Arc<Slot>> {
        if let (Some(g), Some(name)) = (&self.generator, server_name)
            && self.sni.matching(name, caps).is_none()
        {
            match self.minted(g, &name.to_ascii_lowercase()) {
                Ok(slot) => return Some(slot),
                Err(e) => {
                    tracing::warn!(sni = name, error = %e, "generate-certificates failed; serving the default certificate")
                }
            }
        }
        self.configured(server_name, caps)
    }

    fn configured(&self, server_name: Option<&str>, caps: ClientCaps) -> Option<Arc<Slot>> {
        let entry = self.sni.select(server_name, caps)?;
        self.slots.get(*self.entry_slot.get(entry)?).cloned()
    }

    /// The slot minted for `name`: the default slot's configuration (same
    /// verification policy, versions, ciphers, ALPN and resumption state)
    /// serving a certificate for `name`.
    fn minted(&self, g: &Generator, name: &str) -> Result<Arc<Slot>, GenCertError> {
        g.cache.get_or_insert(name, || {
            let default = self
                .entry_slot
                .first()
                .and_then(|i| self.slots.get(*i))
                .ok_or_else(|| GenCertError::Mint("no default certificate".into()))?;
            let cert = g.minter.mint(name)?;
            let frontend = cert
                .cert
                .first()
                .and_then(|der| CertFacts::from_der(der.as_ref()))
                .ok_or_else(|| GenCertError::Mint("unparsable minted certificate".into()))?;
            let mut config = (*default.config).clone();
            config.cert_resolver = Arc::new(FixedCert(Arc::new(cert)));
            Ok(Arc::new(Slot {
                config: Arc::new(config),
                verifier: default.verifier.clone(),
                policy: default.policy,
                frontend: Arc::new(frontend),
                refusal: default.refusal,
            }))
        })
    }

    /// How many certificates `generate-certificates` keeps minted.
    pub fn generated_count(&self) -> usize {
        self.generator.as_ref().map_or(0, |g| g.cache.len())
    }

    /// The policy that would serve `host` had the client sent it as SNI (for
    /// a client accepting both ECDSA and RSA certificates); `None` when no
    /// certificate would (`strict-sni`). Compare it with the policy of the
    /// connection to answer 421 to domain fronting. A name that would get a
    /// generated certificate gets the default certificate's policy.
    pub fn policy_for_host(&self, host: &str) -> Option<PolicyId> {
        let configured = match &self.generator {
            // Generated certificates are served under the default one's policy.
            Some(_) => self.sni.matching(host, ClientCaps::ANY).or(Some(0)),
            None => self.sni.select(Some(host), ClientCaps::ANY),
        };
        let slot = self.slots.get(*self.entry_slot.get(configured?)?)?;
        Some(slot.policy)
    }

    /// How many distinct verification policies the bind has: with one, a
    /// Host can never map to another policy than the SNI did.
    pub fn policy_count(&self) -> usize {
        self.policies
    }

    /// How many rustls server configs were built (one per distinct
    /// certificate and policy).
    pub fn config_count(&self) -> usize {
        self.slots.len()
    }
}

/// `file:line` of the crt-list line, or the certificate path, for messages.
fn context(entry: &SniCert) -> String {
    match &entry.crt_list_origin {
        Some(origin) => format!("{origin}: '{}'", entry.cert.path.display()),
        None => format!("'{}'", entry.cert.path.display()),
    }
}

fn ptr<T>(a: &Option<Arc<T>>) -> usize {
    a.as_ref()
        .map_or(0, |a| Arc::as_ptr(a) as *const () as usize)
}

fn trust_key(t: &Trust) -> String {
    format!(
        "{:x}/{:x}/{:x}",
        ptr(&t.ca_file),
        ptr(&t.ca_verify_file),
        ptr(&t.crl)
    )
}

/// What identifies a verification policy. Trust material is compared by
/// identity: the loader hands out one `Arc` per file.
fn policy_key(p: &TlsPolicy) -> String {
    let verify = match &p.verify {
        ClientVerify::None => "none".to_string(),
        ClientVerify::Optional(t) => format!("optional:{}", trust_key(t)),
        ClientVerify::Required(t) => format!("required:{}", trust_key(t)),
    };
    match (&p.verify, p.verify_depth) {
        (ClientVerify::None, _) | (_, None) => verify,
        (_, Some(d)) => format!("{verify}:depth={d}"),
    }
}

/// What makes two entries need different server configs.
fn slot_key(e: &SniCert) -> String {
    format!(
        "{:x}|{}|{}|{:?}",
        Arc::as_ptr(&e.cert) as *const () as usize,
        policy_key(&e.policy),
        e.policy.no_ca_names,
        e.policy.params
    )
}

fn verifier(p: &TlsPolicy, tls: &BindTls) -> Result<Option<Arc<ClientVerifier>>, VerifierError> {
    let (trust, mandatory) = match &p.verify {
        ClientVerify::None => return Ok(None),
        ClientVerify::Optional(t) => (t, false),
        ClientVerify::Required(t) => (t, true),
    };
    let v = ClientVerifier::new(
        trust,
        mandatory,
        p.no_ca_names,
        p.verify_depth,
        &tls.ignore_errors,
    )?
    .with_tls12_curves(p.params.curves.clone());
    Ok(Some(Arc::new(v)))
}

/// Serves one fixed certificate (the SNI choice is made before the config).
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[allow(clippy::too_many_arguments)]
fn server_config(
    cert: &CertKey,
    dh_default: &DhDefault,
    policy: &TlsPolicy,
    verifier: Option<Arc<ClientVerifier>>,
    resumption: &Resumption,
    index: u32,
    at: &str,
) -> Result<(ServerConfig, Refusal), TlsBuildError> {
    let params = &policy.params;
    let mut versions = versions(params, at)?;
    // DHE narrowed to what this certificate's DH parameters allow (the
    // configured lists are checked before that narrowing).
    let dh = crate::tls::dh::choose(cert.dh.as_ref(), dh_default, rsa_bits(cert));
    let provider = narrowed_provider(params, &versions, at, KxRole::Server(dh.as_deref()))?;
    let key = cert.signing_key.algorithm();
    // Judged on the configured suites, before DHE availability narrows them.
    let configured = narrowed_provider(params, &versions, at, KxRole::Client)?;
    if versions
        .iter()
        .all(|v| v.version == rustls::ProtocolVersion::TLSv1_2)
        && !configured
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .any(|s| s.usable_for_signature_algorithm(key))
    {
        return Err(TlsBuildError::NoSuitesForKey {
            at: at.to_string(),
            key: format!("{key:?}"),
        });
    }
    let rustls_err = |source| TlsBuildError::Rustls {
        at: at.to_string(),
        source,
    };
    // Only DHE suites were allowed and DHE is unavailable: OpenSSL answers
    // TLS 1.2 clients with handshake_failure ("no shared cipher"); so does
    // the acceptor, rustls being left with TLS 1.3 only (or nothing).
    let mut refusal = Refusal::Never;
    let has_tls12_suite = provider
        .cipher_suites
        .iter()
        .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
    if !has_tls12_suite
        && let Some(i) = versions
            .iter()
            .position(|v| v.version == rustls::ProtocolVersion::TLSv1_2)
    {
        versions.remove(i);
        refusal = Refusal::Tls12;
    }
    let mut provider = provider;
    if versions.is_empty() {
        refusal = Refusal::Always;
        versions.push(&rustls::version::TLS13);
        if !provider
            .cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        {
            provider.cipher_suites = crate::tls::provider::provider().cipher_suites.clone();
        }
    }
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(rustls_err)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_cert_resolver(Arc::new(FixedCert(Arc::new(cert.certified_key()))));
    config.alpn_protocols = params
        .alpn
        .iter()
        .flatten()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    // HAProxy sets SSL_OP_CIPHER_SERVER_PREFERENCE unless prefer-client-ciphers.
    config.ignore_client_order = !params.prefer_client_ciphers;
    // Resumption scoped to this (certificate, policy) and this generation.
    config.session_storage = resumption.store_for(index);
    if !params.no_tls_tickets {
        config.ticketer = resumption.ticketer_for(index);
    }
    Ok((config, refusal))
}

/// The RSA modulus size of a certificate's key (`RSA2048` → 2048).
fn rsa_bits(cert: &CertKey) -> Option<u32> {
    cert.leaf()?.key_alg.strip_prefix("RSA")?.parse().ok()
}

/// Handshakes a slot refuses before rustls sees them (see [`server_config`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Never,
    /// Clients that cannot speak TLS 1.3 (offer no TLS 1.3 suite).
    Tls12,
    /// Every client.
    Always,
}

pub(crate) fn versions(
    params: &TlsParams,
    at: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsBuildError> {
    let min = params.min_version.unwrap_or(TlsVersion::Tls12);
    let max = params.max_version.unwrap_or(TlsVersion::Tls13);
    let mut out = Vec::new();
    if (min..=max).contains(&TlsVersion::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if (min..=max).contains(&TlsVersion::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    if out.is_empty() {
        return Err(TlsBuildError::NoVersion {
            at: at.to_string(),
            min,
            max,
        });
    }
    Ok(out)
}

/// A cipher suite's name as HAProxy prints it (`ssl_fc_cipher`, `%sslc`):
/// IANA names for TLS 1.3, OpenSSL names for TLS 1.2.
pub fn cipher_name(suite: CipherSuite) -> &'static str {
    crate::tls::suites::name(suite)
}

/// Which side a provider is narrowed for: what DHE needs differs.
#[derive(Clone, Copy)]
pub(crate) enum KxRole<'a> {
    /// A bind serving one certificate: its DH parameters, if DHE is
    /// available ([`crate::tls::dh::choose`]); without them DHE suites are
    /// dropped, as OpenSSL drops them without a tmp DH.
    Server(Option<&'a DhParams>),
    /// A `server` line: DHE suites are offered with the RFC 7919 groups.
    Client,
}

pub(crate) fn narrowed_provider(
    params: &TlsParams,
    versions: &[&'static SupportedProtocolVersion],
    at: &str,
    role: KxRole<'_>,
) -> Result<CryptoProvider, TlsBuildError> {
    let base = provider();
    let table = crate::tls::suites::table();
    let pick = |names: &Option<Vec<String>>,
                tls13: bool|
     -> Result<Vec<SupportedCipherSuite>, TlsBuildError> {
        let Some(names) = names else {
            // OpenSSL's DEFAULT list, in its order (DHE suites included).
            return Ok(table
                .iter()
                .filter(|(_, s)| matches!(s, SupportedCipherSuite::Tls13(_)) == tls13)
                .map(|(_, s)| *s)
                .collect());
        };
        names
            .iter()
            .map(|name| {
                table
                    .iter()
                    .find(|(n, s)| {
                        n == name && matches!(s, SupportedCipherSuite::Tls13(_)) == tls13
                    })
                    .map(|(_, s)| *s)
                    .ok_or_else(|| TlsBuildError::UnknownCipher {
                        at: at.to_string(),
                        name: name.clone(),
                    })
            })
            .collect()
    };
    let tls13 = pick(&params.ciphersuites, true)?;
    let tls12 = pick(&params.ciphers, false)?;
    for (version, suites, label) in [
        (&rustls::version::TLS13, &tls13, "TLSv1.3"),
        (&rustls::version::TLS12, &tls12, "TLSv1.2"),
    ] {
        if versions.iter().any(|v| v.version == version.version) && suites.is_empty() {
            return Err(TlsBuildError::NoSuites {
                at: at.to_string(),
                version: label,
            });
        }
    }
    let mut kx_groups: Vec<&'static dyn SupportedKxGroup> = match &params.curves {
        // OpenSSL's default groups include P-521.
        None => base
            .kx_groups
            .iter()
            .copied()
            .chain([crate::tls::p521::SECP521R1])
            .collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                let group: Option<&'static dyn SupportedKxGroup> = match name.as_str() {
                    "X25519" => Some(kx_group::X25519),
                    "P-256" => Some(kx_group::SECP256R1),
                    "P-384" => Some(kx_group::SECP384R1),
                    "P-521" => Some(crate::tls::p521::SECP521R1),
                    _ => None,
                };
                group.ok_or_else(|| TlsBuildError::UnknownCurve {
                    at: at.to_string(),
                    name: name.clone(),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut tls12 = tls12;
    match role {
        KxRole::Server(Some(dh)) => kx_groups.extend(crate::tls::ffdhe::server_groups(dh)),
        KxRole::Server(None) => tls12.retain(|s| !crate::tls::suites::is_dhe(s)),
        KxRole::Client => kx_groups.extend(crate::tls::ffdhe::client_groups()),
    }
    if !tls12.iter().any(crate::tls::suites::is_dhe) {
        kx_groups.retain(|g| g.name().key_exchange_algorithm() != KeyExchangeAlgorithm::DHE);
    }
    Ok(CryptoProvider {
        cipher_suites: tls13.into_iter().chain(tls12).collect(),
        kx_groups,
        ..(*base).clone()
    })
}
