//! The issuing CAs this process uses, loaded from the store (keys opened with the KEK) and kept in
//! memory; a CA missing from the store is created on first use (by whichever process is first: the
//! store keeps the first one written, so concurrent creators agree).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use store::Store;

use crate::ca::Authority;
use crate::EstError;

/// The CAs by scope.
#[derive(Debug)]
pub struct Authorities {
    store: Store,
    cache: RwLock<HashMap<String, Arc<Authority>>>,
}

impl Authorities {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        Self { store, cache: RwLock::new(HashMap::new()) }
    }

    fn cached(&self, scope: &str) -> Option<Arc<Authority>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).get(scope).cloned()
    }

    fn keep(&self, a: Authority) -> Arc<Authority> {
        let a = Arc::new(a);
        self.cache.write().unwrap_or_else(|p| p.into_inner()).insert(a.scope.clone(), a.clone());
        a
    }

    /// The CA of `scope`, if one exists.
    pub async fn get(&self, scope: &str) -> Result<Option<Arc<Authority>>, EstError> {
        if let Some(a) = self.cached(scope) {
            return Ok(Some(a));
        }
        let Some(ca) = self.store.device_ca(scope).await? else { return Ok(None) };
        Ok(Some(self.keep(Authority::from_parts(scope, ca.cert_der.clone(), &ca.key_pkcs8)?)))
    }

    /// The CA of `scope`, created (key generated, sealed and stored) when there is none yet.
    pub async fn get_or_create(&self, scope: &str) -> Result<Arc<Authority>, EstError> {
        if let Some(a) = self.get(scope).await? {
            return Ok(a);
        }
        let (fresh, pkcs8) = Authority::generate(scope, store::now())?;
        let stored = self.store.put_device_ca(scope, &fresh.cert_der, &pkcs8).await?;
        if stored.cert_der == fresh.cert_der {
            tracing::info!(scope, "device CA created");
            return Ok(self.keep(fresh));
        }
        Ok(self.keep(Authority::from_parts(scope, stored.cert_der.clone(), &stored.key_pkcs8)?))
    }

    /// Every CA in the store.
    pub async fn all(&self) -> Result<Vec<Arc<Authority>>, EstError> {
        let mut out = Vec::new();
        for (scope, _) in self.store.device_ca_certs().await? {
            if let Some(a) = self.get(&scope).await? {
                out.push(a);
            }
        }
        Ok(out)
    }
}
