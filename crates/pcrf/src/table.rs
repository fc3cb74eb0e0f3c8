//! The hash map behind the session indexes: split into [`SHARDS`] tables, each entry stored with its
//! key's hash.
//!
//! Why (issue #16): a `std` map of 115,000 sessions by Session-Id grew in one CCR-Initial, under the
//! sessions lock, by rehashing every key: SipHash of each Session-Id, read through its `Arc` (a cache
//! miss per key). At 20,000 CCR-I/s that pause was the late burst of ~1,300–1,500 answers over 5 ms
//! in the benchmark (the second in which the map passed 229,376 sessions). Here growing a table moves
//! entries by the hash they carry (no key is read or hashed again), and a table holds a sixteenth of
//! the keys: each growth is a sixteenth of the work, and the sixteen happen in different requests.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::hash_table::{Entry, HashTable};

/// Tables per map.
pub(crate) const SHARDS: usize = 16;
/// The hash bits that pick the table: neither the low bits (the bucket within a table) nor the top
/// seven (the table's control byte).
const SHARD_SHIFT: u32 = 40;

/// A hash map of `K` to `V` (keys hashed with a random SipHash key, as `std`'s).
pub(crate) struct ShardedMap<K, V> {
    state: RandomState,
    shards: Box<[HashTable<(u64, K, V)>]>,
    len: usize,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self { state: RandomState::new(), shards: (0..SHARDS).map(|_| HashTable::new()).collect(), len: 0 }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for ShardedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> SHARD_SHIFT) as usize % SHARDS
}

impl<K, V> ShardedMap<K, V> {
    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|t| t.iter().map(|(_, k, v)| (k, v)))
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.state.hash_one(key)
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.shards[shard_of(hash)].find(hash, |(h, k, _)| *h == hash && k.borrow() == key).map(|(_, _, v)| v)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.shards[shard_of(hash)].find_mut(hash, |(h, k, _)| *h == hash && k.borrow() == key).map(|(_, _, v)| v)
    }

    /// True when `key` has a value.
    #[cfg(test)]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Sets the value of `key`; the one it replaces, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        match self.shards[shard_of(hash)].entry(hash, |(h, k, _)| *h == hash && *k == key, |e| e.0) {
            Entry::Occupied(mut o) => Some(std::mem::replace(&mut o.get_mut().2, value)),
            Entry::Vacant(v) => {
                v.insert((hash, key, value));
                self.len += 1;
                None
            }
        }
    }

    /// The value of `key`, made by `make` when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let hash = self.hash(&key);
        match self.shards[shard_of(hash)].entry(hash, |(h, k, _)| *h == hash && *k == key, |e| e.0) {
            Entry::Occupied(o) => &mut o.into_mut().2,
            Entry::Vacant(v) => {
                self.len += 1;
                &mut v.insert((hash, key, make())).into_mut().2
            }
        }
    }

    /// Removes `key`; its value, if it had one.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let found = self.shards[shard_of(hash)].find_entry(hash, |(h, k, _)| *h == hash && k.borrow() == key).ok()?;
        self.len -= 1;
        Some(found.remove().0 .2)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;

    /// The map against `std`'s on a mixed sequence of inserts, replacements and removals, past
    /// several growths of every table.
    #[test]
    fn behaves_as_a_std_map() {
        let mut ours: ShardedMap<Arc<str>, u64> = ShardedMap::default();
        let mut std: HashMap<Arc<str>, u64> = HashMap::new();
        // A small linear congruential sequence: deterministic, spread over the key space.
        let mut x: u64 = 12345;
        for step in 0..200_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key: Arc<str> = Arc::from(format!("pgw.example;1;{}", (x >> 33) % 50_000));
            match x % 5 {
                0 => assert_eq!(ours.remove(key.as_ref()), std.remove(key.as_ref())),
                1 => *ours.get_or_insert_with(key.clone(), || 0) += 1,
                _ => assert_eq!(ours.insert(key.clone(), step), std.insert(key.clone(), step)),
            }
            if x % 5 == 1 {
                *std.entry(key.clone()).or_insert(0) += 1;
            }
            assert_eq!(ours.get(key.as_ref()), std.get(key.as_ref()));
            assert_eq!(ours.len(), std.len());
        }
        let mut a: Vec<(String, u64)> = ours.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let mut b: Vec<(String, u64)> = std.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(ours.shards.iter().all(|t| !t.is_empty()), "keys spread over every table");
        for k in std.keys() {
            *ours.get_mut(k.as_ref()).unwrap() += 1;
            assert!(ours.contains_key(k.as_ref()));
        }
        assert!(std.iter().all(|(k, v)| ours.get(k.as_ref()) == Some(&(v + 1))));
    }

    /// The longest single insert while 300,000 Session-Ids go in, here and in a `std` map (the
    /// pause a CCR-Initial can meet under the sessions lock). A measurement, not a check: run with
    /// `cargo test --release -p pcrf --lib -- --ignored --nocapture longest_insert`.
    #[test]
    #[ignore]
    fn longest_insert() {
        fn id(k: u64) -> Arc<str> {
            Arc::from(format!("c{}.bench.home.example;1733360000;{k}", k % 4))
        }
        let mut std: HashMap<Arc<str>, Box<u64>> = HashMap::new();
        let mut ours: ShardedMap<Arc<str>, Box<u64>> = ShardedMap::default();
        let (mut worst_std, mut worst_ours) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        for k in 0..300_000u64 {
            let (a, b) = (id(k), id(k));
            let t = std::time::Instant::now();
            std.insert(a, Box::new(k));
            worst_std = worst_std.max(t.elapsed());
            let t = std::time::Instant::now();
            ours.insert(b, Box::new(k));
            worst_ours = worst_ours.max(t.elapsed());
        }
        println!("longest insert of 300,000: std {worst_std:?}, sharded {worst_ours:?}");
    }
}
