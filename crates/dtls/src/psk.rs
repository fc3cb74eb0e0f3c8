//! Where the server finds pre-shared keys: a [`PskResolver`] answers an identity with its key (or
//! nothing). [`PskTable`] is the in-memory one the server is given: replaced whole when the store's
//! credentials change, its keys wiped when dropped. Lookups happen inside OpenSSL's handshake
//! callback, so they are synchronous and must not wait on I/O.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

/// The longest PSK the server accepts (OpenSSL's `PSK_MAX_PSK_LEN`).
pub const MAX_PSK_LEN: usize = 256;
/// The longest PSK identity (RFC 4279 §5.3: up to 2^16-1 bytes; OpenSSL takes 128).
pub const MAX_IDENTITY_LEN: usize = 128;

/// Answers a PSK identity with its key.
pub trait PskResolver: Send + Sync {
    /// The key of `identity`, or `None` for an unknown identity.
    fn key(&self, identity: &str) -> Option<Zeroizing<Vec<u8>>>;
}

/// Identities and keys held in memory.
#[derive(Default)]
pub struct PskTable {
    keys: RwLock<Arc<HashMap<String, Zeroizing<Vec<u8>>>>>,
}

impl std::fmt::Debug for PskTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PskTable({} identities, keys redacted)", self.len())
    }
}

impl PskTable {
    /// A table with these identities and keys.
    pub fn new(entries: impl IntoIterator<Item = (String, Zeroizing<Vec<u8>>)>) -> Self {
        let t = PskTable::default();
        t.replace(entries);
        t
    }

    /// Replaces every entry at once (sessions already established keep going).
    pub fn replace(&self, entries: impl IntoIterator<Item = (String, Zeroizing<Vec<u8>>)>) {
        let map: HashMap<_, _> = entries.into_iter().collect();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
    }

    /// How many identities it holds.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PskResolver for PskTable {
    fn key(&self, identity: &str) -> Option<Zeroizing<Vec<u8>>> {
        let map = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        map.get(identity).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_and_replaces() {
        let t = PskTable::new([("dev-1".to_string(), Zeroizing::new(vec![1, 2]))]);
        assert_eq!(t.key("dev-1").as_deref().map(|k| k.as_slice()), Some(&[1u8, 2][..]));
        assert!(t.key("dev-2").is_none());
        t.replace([("dev-2".to_string(), Zeroizing::new(vec![3]))]);
        assert!(t.key("dev-1").is_none());
        assert_eq!(t.len(), 1);
        assert!(!format!("{t:?}").contains('3'));
    }
}
