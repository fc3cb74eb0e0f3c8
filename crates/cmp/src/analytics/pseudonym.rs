//! Keyed pseudonyms of identifiers in dashboards and exports (PR-1): HMAC-SHA-256 under a random key
//! per tenant, kept sealed in the store ([`store::Store::analytics_key`]). The same IMSI always gets
//! the same pseudonym within one tenant, so a device can be followed across exports, but it cannot be
//! reversed or linked across tenants without the key. A tenant that opted out of pseudonyms sees the
//! identifiers themselves.

use hmac::{KeyInit, Mac};
use store::Store;
use zeroize::Zeroizing;

use crate::error::Result;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Hex characters of a pseudonym after its prefix (80 bits: no collision among a tenant's devices).
const PSEUDONYM_HEX: usize = 20;

/// How identifiers of one tenant are shown.
pub struct Pseudonyms {
    key: Zeroizing<Vec<u8>>,
    enabled: bool,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonyms(enabled: {}, key [redacted])", self.enabled)
    }
}

impl Pseudonyms {
    /// With `key`; identifiers are replaced when `enabled`.
    pub fn new(key: Zeroizing<Vec<u8>>, enabled: bool) -> Self {
        Self { key, enabled }
    }

    /// The tenant's pseudonyms, enabled unless its analytics policy opted out (no policy: enabled).
    pub async fn of_tenant(store: &Store, tenant: &str) -> Result<Self> {
        let enabled = store.analytics_policy(tenant).await?.is_none_or(|p| p.pseudonymise);
        Ok(Self::new(store.analytics_key(tenant).await?, enabled))
    }

    /// True when identifiers are replaced.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// HMAC-SHA-256 of `value` under the key, separated by `label` (an IMSI and an address never
    /// share a digest).
    pub fn digest(&self, label: &str, value: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn pseudonym(&self, prefix: &str, label: &str, value: &str) -> String {
        let hex = hex::encode(self.digest(label, value));
        format!("{prefix}{}", &hex[..PSEUDONYM_HEX])
    }

    /// The IMSI as shown: `dev-<20 hex>`, or the IMSI itself when not enabled.
    pub fn imsi(&self, imsi: &str) -> String {
        if self.enabled {
            self.pseudonym("dev-", "imsi", imsi)
        } else {
            imsi.to_string()
        }
    }

    /// A device's IP address as shown: `ip-<20 hex>`, or the address itself when not enabled.
    pub fn ip(&self, ip: &str) -> String {
        if self.enabled {
            self.pseudonym("ip-", "ip", ip)
        } else {
            ip.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_stable_and_never_the_identifier() {
        let a = Pseudonyms::new(Zeroizing::new(vec![1; 32]), true);
        let b = Pseudonyms::new(Zeroizing::new(vec![2; 32]), true);
        let imsi = "001010000000001";
        let p = a.imsi(imsi);
        assert!(p.starts_with("dev-") && p.len() == 4 + PSEUDONYM_HEX, "{p}");
        assert!(!p.contains(imsi));
        assert_eq!(a.imsi(imsi), p, "stable");
        assert_ne!(b.imsi(imsi), p, "another key, another pseudonym");
        assert_ne!(a.imsi("001010000000002"), p);
        assert_ne!(a.ip(imsi)[3..], p[4..], "labels separate the kinds of identifier");
        let off = Pseudonyms::new(Zeroizing::new(vec![1; 32]), false);
        assert_eq!((off.imsi(imsi), off.ip("10.0.0.1")), (imsi.to_string(), "10.0.0.1".to_string()));
        assert!(!format!("{a:?}").contains("1, 1"), "the key is not printed");
    }
}
