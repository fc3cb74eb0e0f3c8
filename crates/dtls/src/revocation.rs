//! Revoked client certificates. The server is given a [`RevokedSerials`] set (replaced whole when
//! the store's revocations change, like the PSK table) and refuses a client certificate whose serial
//! is in it twice over: during the handshake (OpenSSL's verify callback fails the leaf, so the
//! handshake ends with an alert and the peer never reaches the handler) and afterwards (every
//! [`crate::server::TICK`] the server looks at established certificate sessions again when the set
//! changed, and closes those whose certificate was revoked or has expired since, with close_notify).
//!
//! Serials are compared as hex without leading zeros, in lower case, so the store's `hex::encode`
//! form and OpenSSL's `BN_bn2hex` form of the same serial agree. The lookup is synchronous (it runs
//! inside OpenSSL's callback) and never waits on I/O.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::X509Ref;

/// The serial numbers of revoked client certificates.
#[derive(Debug, Default)]
pub struct RevokedSerials {
    serials: RwLock<Arc<HashSet<String>>>,
    generation: AtomicU64,
}

/// A serial in the form the set compares: lower-case hex without leading zeros (`"0"` for zero).
pub fn normalise(serial_hex: &str) -> String {
    let t = serial_hex.trim().to_ascii_lowercase().replace(':', "");
    let t = t.trim_start_matches('0');
    if t.is_empty() {
        "0".to_string()
    } else {
        t.to_string()
    }
}

/// The serial of `cert` in [`normalise`]d form.
pub fn serial_of(cert: &X509Ref) -> Option<String> {
    let bn = cert.serial_number().to_bn().ok()?;
    let hex = bn.to_hex_str().ok()?;
    Some(normalise(&hex))
}

/// When `cert` stops being valid, in Unix seconds.
pub fn not_after_unix(cert: &X509Ref) -> Option<i64> {
    unix_of(cert.not_after())
}

fn unix_of(t: &Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

impl RevokedSerials {
    /// A set holding these serials.
    pub fn new(serials: impl IntoIterator<Item = String>) -> Self {
        let s = RevokedSerials::default();
        s.replace(serials);
        s
    }

    /// Replaces the set; when it changed, established sessions are looked at again.
    pub fn replace(&self, serials: impl IntoIterator<Item = String>) {
        let set: HashSet<String> = serials.into_iter().map(|s| normalise(&s)).collect();
        let mut cur = self.serials.write().unwrap_or_else(|p| p.into_inner());
        if **cur != set {
            *cur = Arc::new(set);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Whether `serial` (any hex form) is revoked.
    pub fn contains(&self, serial: &str) -> bool {
        let set = self.serials.read().unwrap_or_else(|p| p.into_inner()).clone();
        set.contains(&normalise(serial))
    }

    /// Changes with every [`RevokedSerials::replace`] that changed the set.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many serials it holds.
    pub fn len(&self) -> usize {
        self.serials.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_forms_agree_and_changes_bump_the_generation() {
        assert_eq!(normalise("00A1:b2"), "a1b2");
        assert_eq!(normalise("0000"), "0");
        let r = RevokedSerials::new(["0a1b".to_string()]);
        assert!(r.contains("A1B") && r.contains("00:0a:1b") && !r.contains("a1c"));
        let g = r.generation();
        r.replace(["a1b".to_string()]);
        assert_eq!(r.generation(), g, "same set, same generation");
        r.replace(["a1c".to_string()]);
        assert!(r.generation() > g && !r.contains("a1b") && r.contains("a1c"));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn reads_a_certificates_serial_and_expiry() {
        let key = openssl::pkey::PKey::from_ec_key(
            openssl::ec::EcKey::generate(
                &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut b = openssl::x509::X509::builder().unwrap();
        let serial = openssl::bn::BigNum::from_hex_str("0102ff").unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_000).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_700_000_000).unwrap()).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        let cert = b.build();
        assert_eq!(serial_of(&cert).as_deref(), Some("102ff"));
        assert_eq!(not_after_unix(&cert), Some(1_700_000_000));
    }
}
