//! A hash map split into mutex-guarded shards, so concurrent queries rarely wait on each other.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;

/// `SHARDS` maps, each holding at most `per_shard` entries.
#[derive(Debug)]
pub(crate) struct Sharded<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    hasher: RandomState,
    pub(crate) per_shard: usize,
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    /// Room for about `capacity` entries in all.
    pub(crate) fn new(capacity: usize) -> Self {
        Sharded {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The shard that holds `key`, locked (a poisoned lock is taken over: the maps hold plain data).
    pub(crate) fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, V>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries in all shards.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }

    /// Inserts into a locked shard, first making room: `stale` entries go, and if that is not
    /// enough one arbitrary entry is evicted.
    pub(crate) fn insert_bounded(
        map: &mut HashMap<K, V>,
        per_shard: usize,
        key: K,
        value: V,
        stale: impl Fn(&V) -> bool,
    ) {
        if map.len() >= per_shard && !map.contains_key(&key) {
            map.retain(|_, v| !stale(v));
            if map.len() >= per_shard {
                // HashMap iteration order is randomised per map, so this evicts an arbitrary entry.
                let mut evict = true;
                map.retain(|_, _| !std::mem::replace(&mut evict, false));
            }
        }
        map.insert(key, value);
    }
}
