//! `chroot`, `group`/`gid` and `user`/`uid`: once every listener is bound (which
//! may need root for ports below 1024), the process confines itself and drops
//! to an unprivileged identity. If any step fails the proxy refuses to run,
//! rather than serving with more privileges than configured.

use crate::ir::Global;
use nix::unistd::{Gid, Uid, chdir, chroot, setgid, setgroups, setuid};

/// Why privileges could not be dropped.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot chroot to '{dir}': {source}")]
    Chroot { dir: String, source: nix::Error },
    #[error("cannot switch to group id {gid}: {source}")]
    Group { gid: u32, source: nix::Error },
    #[error("cannot switch to user id {uid}: {source}")]
    User { uid: u32, source: nix::Error },
}

/// Applies `chroot`, then the group, then the user (the order in which each
/// step still has the rights it needs). glibc applies set*id to every thread.
pub fn drop_privileges(global: &Global) -> Result<(), PrivilegeError> {
    if let Some(dir) = &global.chroot {
        let shown = || dir.display().to_string();
        chroot(dir.as_path()).map_err(|source| PrivilegeError::Chroot {
            dir: shown(),
            source,
        })?;
        chdir("/").map_err(|source| PrivilegeError::Chroot {
            dir: shown(),
            source,
        })?;
    }
    if let Some(gid) = global.gid {
        let g = Gid::from_raw(gid);
        setgroups(&[g]).map_err(|source| PrivilegeError::Group { gid, source })?;
        setgid(g).map_err(|source| PrivilegeError::Group { gid, source })?;
    }
    if let Some(uid) = global.uid {
        setuid(Uid::from_raw(uid)).map_err(|source| PrivilegeError::User { uid, source })?;
    }
    Ok(())
}
