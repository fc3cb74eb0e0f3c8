//! In-memory cache of subscribers and profiles for the AIR/ULR hot path: one database read per
//! subscriber instead of three per request, and no AES-GCM opening of K/OPc per request.
//!
//! Entries are dropped when the HSS changes a subscriber, when the database announces a change made
//! by another instance or process (or the outbox reports one, on SQLite), and after a time-to-live as a safety net (5 to 15 minutes for subscribers, spread
//! by IMSI so a full cache never expires at once; 5 s for profiles).
//! The cache holds keyed algorithms, whose key material zeroizes when an entry is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ids::Imsi;
use store::model::{ServiceProfile, Sim};

/// A subscriber ready for authentication.
#[derive(Debug)]
pub struct Subscriber {
    /// The SIM record.
    pub sim: Sim,
    /// Its profile.
    pub profile: Option<Arc<ServiceProfile>>,
    /// Its algorithm, keyed.
    pub alg: auc::AuthAlgorithm,
}

/// A profile lookup result with the time it was made (`None`: the profile does not exist).
type ProfileEntry = (Instant, Option<Arc<ServiceProfile>>);

const SUBSCRIBER_TTL: Duration = Duration::from_secs(300);

/// The TTL of one subscriber: 1 to 3 times the base, by a hash of the IMSI.
fn ttl(imsi: &Imsi) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    imsi.hash(&mut h);
    SUBSCRIBER_TTL + SUBSCRIBER_TTL * ((h.finish() % 200) as u32) / 100
}
const PROFILE_TTL: Duration = Duration::from_secs(5);

/// The caches.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    subscribers: Mutex<HashMap<Imsi, (Instant, Arc<Subscriber>)>>,
    profiles: Mutex<HashMap<String, ProfileEntry>>,
}

impl Cache {
    /// A cache of at most `capacity` subscribers.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            subscribers: Mutex::new(HashMap::new()),
            profiles: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh cached subscriber.
    pub fn subscriber(&self, imsi: &Imsi) -> Option<Arc<Subscriber>> {
        let map = self.subscribers.lock().expect("cache");
        map.get(imsi).filter(|(t, _)| t.elapsed() < ttl(imsi)).map(|(_, s)| s.clone())
    }

    /// Stores a subscriber, evicting an arbitrary entry when full.
    pub fn put_subscriber(&self, imsi: Imsi, s: Arc<Subscriber>) {
        let mut map = self.subscribers.lock().expect("cache");
        if map.len() >= self.capacity && !map.contains_key(&imsi) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(imsi, (Instant::now(), s));
    }

    /// Forgets a subscriber.
    pub fn invalidate(&self, imsi: &Imsi) {
        self.subscribers.lock().expect("cache").remove(imsi);
    }

    /// Forgets a profile and every subscriber cached with it.
    pub fn forget_profile(&self, name: &str) {
        self.profiles.lock().expect("cache").remove(name);
        self.subscribers.lock().expect("cache").retain(|_, (_, s)| {
            s.profile.as_ref().is_none_or(|p| p.name != name) && s.sim.profile.as_deref() != Some(name)
        });
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.profiles.lock().expect("cache").clear();
        self.subscribers.lock().expect("cache").clear();
    }

    /// A fresh cached profile lookup (`Some(None)`: known not to exist).
    pub fn profile(&self, name: &str) -> Option<Option<Arc<ServiceProfile>>> {
        let map = self.profiles.lock().expect("cache");
        map.get(name).filter(|(t, _)| t.elapsed() < PROFILE_TTL).map(|(_, p)| p.clone())
    }

    /// Stores a profile lookup.
    pub fn put_profile(&self, name: &str, p: Option<Arc<ServiceProfile>>) {
        self.profiles.lock().expect("cache").insert(name.to_string(), (Instant::now(), p));
    }
}
