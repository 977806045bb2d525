//! A Generation: everything the running proxy needs, built once from the IR and
//! swapped atomically on reload. Connections hold the Generation they started
//! under, so a reload never changes the rules under a request in flight.

use super::auth::Userlists;
use super::eval::ProcVars;
use super::facts::ConnFacts;
use super::upstream::{BackendRt, UpstreamBuildError};
use crate::ir;
use bytes::Bytes;
use http::Response;
use std::sync::Arc;

/// One immutable, ready-to-serve configuration.
pub struct Generation {
    pub config: Arc<ir::Config>,
    /// Same order as `config.backends`.
    pub backends: Vec<BackendRt>,
    /// `proc.*` variables live as long as the Generation.
    pub proc_vars: ProcVars,
    /// Credentials for `http_auth()`.
    pub userlists: Userlists,
}

/// Why a Generation could not be built from a valid IR.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Upstream(#[from] UpstreamBuildError),
    #[error(
        "userlist '{list}', user '{user}': crypt(3) password hashes are not supported by the runtime yet (use insecure-password)"
    )]
    HashedPassword { list: String, user: String },
    #[error("frontend '{frontend}', bind '{bind}': {what} is not supported by the runtime yet")]
    Unsupported {
        frontend: String,
        bind: String,
        what: &'static str,
    },
}

impl Generation {
    /// Builds the runtime state of a configuration.
    pub fn build(config: ir::Config) -> Result<Generation, BuildError> {
        for fe in &config.frontends {
            for b in &fe.binds {
                let unsupported = |what| BuildError::Unsupported {
                    frontend: fe.common.name.clone(),
                    bind: b.spec.clone(),
                    what,
                };
                if b.accept_proxy {
                    return Err(unsupported("'accept-proxy'"));
                }
                if b.tls.is_some() {
                    return Err(unsupported("TLS termination ('ssl')"));
                }
                if fe.common.mode == ir::expr::Mode::Tcp {
                    return Err(unsupported("'mode tcp'"));
                }
            }
        }
        let userlists = Userlists(config.userlists.clone());
        if let Some((list, user)) = userlists.hashed_user() {
            return Err(BuildError::HashedPassword {
                list: list.to_string(),
                user: user.to_string(),
            });
        }
        let backends = config
            .backends
            .iter()
            .map(BackendRt::build)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Generation {
            config: Arc::new(config),
            backends,
            proc_vars: ProcVars::new(),
            userlists,
        })
    }

    /// The 421 answer for a request whose Host is served under another TLS
    /// policy than the one its connection negotiated (SNI/Host fronting).
    pub fn misdirected(
        &self,
        _frontend: usize,
        facts: &ConnFacts,
        _parts: &http::request::Parts,
    ) -> Option<Response<Bytes>> {
        // Only TLS connections carry a policy.
        facts.tls.as_ref()?;
        None
    }
}
