//! `userlist` credentials for `http_auth()` / `http_auth_group()`.
//!
//! Clear-text (`insecure-password`) users are checked here; crypt(3) hashes
//! (`password <hash>`) are refused when the Generation is built, so a userlist
//! never silently rejects every user.

use super::eval::UserAuth;
use crate::ir::{Password, Userlist};

/// The userlists of a Generation.
pub struct Userlists(pub Vec<Userlist>);

impl Userlists {
    /// The first user whose password is a crypt(3) hash, if any: the runtime
    /// cannot verify those yet.
    pub fn hashed_user(&self) -> Option<(&str, &str)> {
        self.0.iter().find_map(|l| {
            l.users
                .iter()
                .find(|u| matches!(u.password, Password::Hashed(_)))
                .map(|u| (l.name.as_str(), u.name.as_str()))
        })
    }
}

/// Compares without an early exit so a guess's timing does not reveal how
/// many leading bytes were right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl UserAuth for Userlists {
    fn check_user(&self, userlist: &str, user: &[u8], pass: &[u8]) -> bool {
        let Some(list) = self.0.iter().find(|l| l.name == userlist) else {
            return false;
        };
        list.users.iter().any(|u| {
            u.name.as_bytes() == user
                && match &u.password {
                    Password::Insecure(p) => same(p.as_bytes(), pass),
                    Password::Hashed(_) => false,
                }
        })
    }

    fn user_in_group(&self, userlist: &str, user: &[u8], group: &str) -> bool {
        let Some(list) = self.0.iter().find(|l| l.name == userlist) else {
            return false;
        };
        let user_lists_group = list
            .users
            .iter()
            .any(|u| u.name.as_bytes() == user && u.groups.iter().any(|g| g == group));
        let group_lists_user = list
            .groups
            .iter()
            .any(|(g, members)| g == group && members.iter().any(|m| m.as_bytes() == user));
        user_lists_group || group_lists_user
    }
}
