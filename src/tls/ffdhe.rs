//! Finite-field Diffie-Hellman key exchange (DHE) for rustls, which has the
//! protocol but no implementation in its ring provider.
//!
//! Sits in the pipeline's *build* step: [`server_groups`] and
//! [`client_groups`] hand rustls the `SupportedKxGroup`s of one config. The
//! arithmetic is `crypto-bigint`'s Montgomery exponentiation, which is
//! constant-time in the exponent's value (its length, fixed per group, is
//! public): the secret exponent never steers a branch or a memory access. A
//! variable-time bignum would leak it through timing.
//!
//! Exponent sizes follow OpenSSL: for the RFC 7919 groups, twice the
//! group's security strength (225/275/325/375/400 bits, RFC 7919 §5.2);
//! for other parameters, PKCS#3's `privateValueLength` if given, else one bit
//! less than the modulus (nothing is known about their subgroups).
//!
//! The peer's public value must satisfy 1 < y < p-1 (RFC 7919 §5.1). Shared
//! secrets are left-padded to the modulus length (TLS 1.3); rustls strips the
//! zeros itself for TLS 1.2.

use crate::tls::dh::DhParams;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use zeroize::Zeroize;

/// The precomputed arithmetic of one DH group.
struct Group {
    /// `p` and `g`, big-endian, `'static` because rustls' `FfdheGroup` is.
    p_bytes: &'static [u8],
    g_bytes: &'static [u8],
    /// Byte length of `p` (public values and secrets are padded to it).
    len: usize,
    bits: u32,
    p_minus_1: BoxedUint,
    g: BoxedMontyForm,
    monty: BoxedMontyParams,
    exp_bits: u32,
}

impl Group {
    fn new(params: &DhParams) -> Option<Group> {
        let bits = params.bits;
        let p = BoxedUint::from_be_slice(&params.p, bits).ok()?;
        let p_minus_1 = p.wrapping_sub(BoxedUint::one_with_precision(bits));
        let odd: Odd<BoxedUint> = Option::from(p.to_odd())?;
        // The modulus is public: the variable-time setup is fine.
        let monty = BoxedMontyParams::new_vartime(odd);
        let g = BoxedUint::from_be_slice(&params.g, bits).ok()?;
        let g = BoxedMontyForm::new(g, &monty);
        let exp_bits = match params.named {
            Some(NamedGroup::FFDHE2048) => 225,
            Some(NamedGroup::FFDHE3072) => 275,
            Some(NamedGroup::FFDHE4096) => 325,
            Some(NamedGroup::FFDHE6144) => 375,
            Some(NamedGroup::FFDHE8192) => 400,
            _ => params
                .private_len
                .filter(|l| *l >= 160 && *l < bits)
                .unwrap_or(bits - 1),
        };
        Some(Group {
            p_bytes: Box::leak(params.p.clone().into_boxed_slice()),
            g_bytes: Box::leak(params.g.clone().into_boxed_slice()),
            len: params.p.len(),
            bits,
            p_minus_1,
            g,
            monty,
            exp_bits,
        })
    }

    fn ffdhe(&self) -> FfdheGroup<'static> {
        FfdheGroup::from_params_trimming_leading_zeros(self.p_bytes, self.g_bytes)
    }

    /// `base^x mod p`, left-padded to the modulus length.
    fn pow(&self, base: &BoxedMontyForm, x: &BoxedUint) -> Vec<u8> {
        let r = base.pow_bounded_exp(x, self.exp_bits).retrieve();
        let be = r.to_be_bytes();
        let skip = be.len().saturating_sub(self.len);
        be[skip..].to_vec()
    }

    /// Parses and range-checks a peer's public value: 1 < y < p-1.
    fn peer_value(&self, bytes: &[u8]) -> Option<BoxedMontyForm> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let bytes = &bytes[start..];
        if bytes.is_empty() || bytes.len() > self.len {
            return None;
        }
        let y = BoxedUint::from_be_slice(bytes, self.bits).ok()?;
        // y is public: variable-time comparisons are fine.
        let one = BoxedUint::one_with_precision(self.bits);
        if y.cmp_vartime(&one).is_le() || y.cmp_vartime(&self.p_minus_1).is_ge() {
            return None;
        }
        Some(BoxedMontyForm::new(y, &self.monty))
    }
}

/// A DHE group as rustls sees it: a TLS name, the parameters, and the
/// protocol versions it may be used with.
pub struct FfdheKx {
    name: NamedGroup,
    group: Arc<Group>,
    tls12: bool,
    tls13: bool,
}

impl fmt::Debug for FfdheKx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FfdheKx")
            .field("name", &self.name)
            .field("bits", &self.group.bits)
            .field("tls12", &self.tls12)
            .field("tls13", &self.tls13)
            .finish()
    }
}

impl SupportedKxGroup for FfdheKx {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = vec![0u8; self.group.exp_bits.div_ceil(8) as usize];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::FailedToGetRandomBytes)?;
        // Exactly exp_bits bits: clear the excess, set the top one.
        let excess = bytes.len() as u32 * 8 - self.group.exp_bits;
        if let Some(first) = bytes.first_mut() {
            *first &= 0xff >> excess;
            *first |= 0x80 >> excess;
        }
        let secret = BoxedUint::from_be_slice(&bytes, self.group.bits)
            .map_err(|_| Error::General("DHE exponent encoding".into()))?;
        bytes.zeroize();
        let public = self.group.pow(&self.group.g, &secret);
        Ok(Box::new(ActiveFfdhe {
            name: self.name,
            group: self.group.clone(),
            secret,
            public,
        }))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        Some(self.group.ffdhe())
    }

    fn name(&self) -> NamedGroup {
        self.name
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        match version {
            ProtocolVersion::TLSv1_3 => self.tls13,
            _ => self.tls12,
        }
    }
}

struct ActiveFfdhe {
    name: NamedGroup,
    group: Arc<Group>,
    secret: BoxedUint,
    public: Vec<u8>,
}

impl Drop for ActiveFfdhe {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl ActiveKeyExchange for ActiveFfdhe {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let y = self
            .group
            .peer_value(peer_pub_key)
            .ok_or(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))?;
        let mut z = self.group.pow(&y, &self.secret);
        let secret = SharedSecret::from(&z[..]);
        z.zeroize();
        Ok(secret)
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        Some(self.group.ffdhe())
    }

    fn group(&self) -> NamedGroup {
        self.name
    }
}

/// rustls wants `&'static` groups: each distinct (parameters, name,
/// versions) is built once per process and kept, so reloads with the same
/// files reuse them instead of leaking more.
fn interned(
    params: &DhParams,
    name: NamedGroup,
    tls12: bool,
    tls13: bool,
) -> Option<&'static FfdheKx> {
    type Key = (Vec<u8>, Vec<u8>, u16, bool, bool);
    static GROUPS: OnceLock<Mutex<HashMap<Vec<u8>, Arc<Group>>>> = OnceLock::new();
    static KX: OnceLock<Mutex<HashMap<Key, &'static FfdheKx>>> = OnceLock::new();
    let key: Key = (
        params.p.clone(),
        params.g.clone(),
        u16::from(name),
        tls12,
        tls13,
    );
    let mut kx = KX.get_or_init(Default::default).lock().ok()?;
    if let Some(k) = kx.get(&key) {
        return Some(k);
    }
    let group = {
        let mut groups = GROUPS.get_or_init(Default::default).lock().ok()?;
        let gkey = [params.p.as_slice(), b"|", params.g.as_slice()].concat();
        match groups.get(&gkey) {
            Some(g) => g.clone(),
            None => {
                let g = Arc::new(Group::new(params)?);
                groups.insert(gkey, g.clone());
                g
            }
        }
    };
    let leaked: &'static FfdheKx = Box::leak(Box::new(FfdheKx {
        name,
        group,
        tls12,
        tls13,
    }));
    kx.insert(key, leaked);
    Some(leaked)
}

/// The TLS 1.2 DHE groups of a server config whose DHE suites use `params`.
///
/// OpenSSL (so HAProxy) ignores the client's RFC 7919 group list in TLS 1.2
/// and always uses its configured parameters; rustls would instead refuse
/// DHE when the client lists FFDHE groups that do not include ours. So the
/// parameters answer to every FFDHE name, first under their own (or a
/// private-use one), which rustls uses when the client lists none.
pub fn server_groups(params: &DhParams) -> Vec<&'static dyn SupportedKxGroup> {
    let own = params.named.unwrap_or(NamedGroup::Unknown(0x01fc));
    let mut names = vec![own];
    names.extend(
        crate::tls::dh::RFC7919
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| *n != own),
    );
    names
        .into_iter()
        .filter_map(|n| interned(params, n, true, false))
        .map(|k| k as &'static dyn SupportedKxGroup)
        .collect()
}

/// The DHE groups a client (a `server … ssl` line) accepts: the RFC 7919
/// ones, the only parameters rustls can recognise in a ServerKeyExchange.
/// A server sending other parameters gets alert illegal_parameter.
pub fn client_groups() -> Vec<&'static dyn SupportedKxGroup> {
    crate::tls::dh::RFC7919
        .iter()
        .filter_map(|(n, _)| {
            let params = DhParams::rfc7919(*n)?;
            interned(&params, *n, true, false)
        })
        .map(|k| k as &'static dyn SupportedKxGroup)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    fn exchange(params: &DhParams) {
        let kx = interned(
            params,
            params.named.unwrap_or(NamedGroup::Unknown(0x01fc)),
            true,
            false,
        )
        .unwrap();
        let a = kx.start().unwrap();
        let b = kx.start().unwrap();
        assert_eq!(a.pub_key().len(), params.p.len());
        assert_ne!(a.pub_key(), b.pub_key());
        let b_pub = b.pub_key().to_vec();
        let sa = a.complete(&b_pub).unwrap();
        let a2 = kx.start().unwrap();
        let a2_pub = a2.pub_key().to_vec();
        let sb = b.complete(&a2_pub).unwrap();
        // different pairs: different secrets; same pair: same secret
        assert_ne!(sa.secret_bytes(), sb.secret_bytes());
        let c = kx.start().unwrap();
        let d = kx.start().unwrap();
        let (c_pub, d_pub) = (c.pub_key().to_vec(), d.pub_key().to_vec());
        let sc = c.complete(&d_pub).unwrap();
        let sd = d.complete(&c_pub).unwrap();
        assert_eq!(sc.secret_bytes(), sd.secret_bytes());
        assert_eq!(sc.secret_bytes().len(), params.p.len());
    }

    #[test]
    fn ffdhe2048_agrees_and_checks_peer_values() {
        let params = DhParams::rfc7919(NamedGroup::FFDHE2048).unwrap();
        exchange(&params);
        let kx = interned(&params, NamedGroup::FFDHE2048, true, false).unwrap();
        let p = params.p.clone();
        let mut p_minus_1 = p.clone();
        *p_minus_1.last_mut().unwrap() -= 1;
        for bad in [vec![0u8], vec![1u8], p_minus_1, p, vec![0xff; 300]] {
            let a = kx.start().unwrap();
            assert!(a.complete(&bad).is_err());
        }
        let a = kx.start().unwrap();
        assert!(a.complete(&[2]).is_ok());
    }

    #[test]
    fn custom_small_params_use_full_length_exponent() {
        // p = 2^127 - 1 (prime), g = 3: only to exercise the non-RFC path.
        let mut p = vec![0x7f];
        p.extend([0xff; 15]);
        let params = DhParams::new(&p, &[3], None).unwrap();
        assert_eq!(params.bits, 127);
        assert!(params.named.is_none());
        let g = Group::new(&params).unwrap();
        assert_eq!(g.exp_bits, 126);
        exchange(&params);
    }

    #[test]
    fn server_groups_answer_to_every_ffdhe_name() {
        let params = DhParams::rfc7919(NamedGroup::FFDHE4096).unwrap();
        let groups = server_groups(&params);
        assert_eq!(groups.len(), 5);
        assert_eq!(groups[0].name(), NamedGroup::FFDHE4096);
        for g in &groups {
            assert_eq!(g.ffdhe_group().map(|f| f.p.len()), Some(512));
            assert!(g.usable_for_version(ProtocolVersion::TLSv1_2));
            assert!(!g.usable_for_version(ProtocolVersion::TLSv1_3));
        }
        assert_eq!(client_groups().len(), 5);
    }
}
