//! ECDHE over secp521r1 (P-521) for rustls, whose ring provider stops at
//! P-384. Used by `curves P-521` / `ecdhe secp521r1` and offered by default,
//! as OpenSSL does.
//!
//! Sits in the pipeline's *build* step as one more `SupportedKxGroup`. The
//! curve arithmetic is RustCrypto's `p521` (constant-time field and scalar
//! arithmetic); the ephemeral scalar comes from ring's system RNG. Public
//! keys are uncompressed SEC1 points (RFC 8446 §4.2.8.2, RFC 8422 §5.4.1);
//! `PublicKey::from_sec1_bytes` rejects points off the curve and the
//! identity, and the shared secret is the x-coordinate (66 bytes).

use p521::elliptic_curve::ecdh::diffie_hellman;
use p521::{PublicKey, SecretKey};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use zeroize::Zeroize;

/// Byte length of a P-521 scalar or coordinate.
const FIELD_LEN: usize = 66;
/// Uncompressed point: 0x04 || x || y.
const POINT_LEN: usize = 1 + 2 * FIELD_LEN;

/// The P-521 key-exchange group.
#[derive(Debug)]
pub struct P521;

/// The group, for provider lists.
pub static SECP521R1: &dyn SupportedKxGroup = &P521;

impl SupportedKxGroup for P521 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let rng = SystemRandom::new();
        let mut bytes = [0u8; FIELD_LEN];
        // Rejection sampling: 521 random bits, retried while not in [1, n).
        for _ in 0..64 {
            rng.fill(&mut bytes)
                .map_err(|_| Error::FailedToGetRandomBytes)?;
            bytes[0] &= 0x01;
            if let Ok(secret) = SecretKey::from_slice(&bytes) {
                bytes.zeroize();
                let public = secret.public_key().to_sec1_bytes().to_vec();
                return Ok(Box::new(ActiveP521 { secret, public }));
            }
        }
        bytes.zeroize();
        Err(Error::FailedToGetRandomBytes)
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

struct ActiveP521 {
    secret: SecretKey,
    public: Vec<u8>,
}

impl ActiveKeyExchange for ActiveP521 {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let invalid = || Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare);
        if peer_pub_key.len() != POINT_LEN || peer_pub_key.first() != Some(&0x04) {
            return Err(invalid());
        }
        let peer = PublicKey::from_sec1_bytes(peer_pub_key).map_err(|_| invalid())?;
        let shared = diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        Ok(SharedSecret::from(&shared.raw_secret_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_sides_agree_and_bad_points_are_refused() {
        let a = P521.start().unwrap();
        let b = P521.start().unwrap();
        assert_eq!(a.pub_key().len(), POINT_LEN);
        assert_eq!(a.pub_key()[0], 4);
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        let sa = a.complete(&b_pub).unwrap();
        let sb = b.complete(&a_pub).unwrap();
        assert_eq!(sa.secret_bytes(), sb.secret_bytes());
        assert_eq!(sa.secret_bytes().len(), FIELD_LEN);
        let mut off_curve = a_pub.clone();
        off_curve[POINT_LEN - 1] ^= 1;
        assert!(P521.start().unwrap().complete(&off_curve).is_err());
        assert!(P521.start().unwrap().complete(&a_pub[..67]).is_err());
        assert!(P521.start().unwrap().complete(&[0x04; POINT_LEN]).is_err());
    }
}
