//! Set-ups waiting for their subscriber's view: a datagram the engine [`Verdict::Park`]s is kept
//! here (bounded by `max_parked`), one load per subscriber is started on its own task, and when it
//! returns every datagram waiting for that subscriber is screened again
//! ([`crate::Engine::uplink_resumed`]) and relayed or answered; when the load takes longer than
//! `lookup_timeout_ms`, or no room is left to wait, they are refused ([`crate::Engine::lookup_failed`]:
//! "No resources available", rule `lookup-timeout`). The receiving tasks never wait for a store.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Relay;
use crate::clock;

/// Datagrams waiting, by subscriber.
pub(crate) struct Parked {
    waiting: Mutex<Waiting>,
    max: usize,
    timeout: Duration,
}

#[derive(Default)]
struct Waiting {
    by_imsi: HashMap<String, Vec<(SocketAddr, Vec<u8>)>>,
    count: usize,
}

impl Parked {
    pub(crate) fn new(max: usize, timeout: Duration) -> Parked {
        Parked { waiting: Mutex::new(Waiting::default()), max: max.max(1), timeout }
    }

    /// Keeps the datagram for `imsi`; `Some(true)` when the caller must start the load (the first
    /// for that subscriber), `None` when there is no room.
    fn add(&self, imsi: &str, src: SocketAddr, bytes: &[u8]) -> Option<bool> {
        let mut w = self.waiting.lock().expect("parked");
        if w.count >= self.max {
            return None;
        }
        w.count += 1;
        match w.by_imsi.entry(imsi.to_owned()) {
            Entry::Occupied(mut e) => {
                e.get_mut().push((src, bytes.to_vec()));
                Some(false)
            }
            Entry::Vacant(e) => {
                e.insert(vec![(src, bytes.to_vec())]);
                Some(true)
            }
        }
    }

    fn take(&self, imsi: &str) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut w = self.waiting.lock().expect("parked");
        let list = w.by_imsi.remove(imsi).unwrap_or_default();
        w.count -= list.len();
        list
    }
}

impl Relay {
    /// Parks a set-up until its subscriber's view is loaded (or refuses it at once when no room is
    /// left).
    pub(super) async fn park(self: &Arc<Self>, src: SocketAddr, bytes: &[u8], imsi: String) {
        match self.parked.add(&imsi, src, bytes) {
            None => {
                tracing::debug!(%src, "gtp: too many set-ups wait for the store, refused");
                let verdict = self.gtp.engine().lookup_failed(src, bytes, clock()).verdict;
                self.deliver(src, bytes, verdict).await;
            }
            Some(false) => {}
            Some(true) => {
                let me = self.clone();
                tokio::spawn(async move { me.load_and_resume(imsi).await });
            }
        }
    }

    async fn load_and_resume(self: Arc<Self>, imsi: String) {
        let engine = self.gtp.engine();
        let loaded = match engine.subscriber_cache() {
            Some(cache) => tokio::time::timeout(self.parked.timeout, cache.load(&imsi)).await.is_ok(),
            None => true,
        };
        if !loaded {
            tracing::warn!(
                timeout_ms = self.parked.timeout.as_millis() as u64,
                "gtp: subscriber view not read in time"
            );
        }
        for (src, bytes) in self.parked.take(&imsi) {
            let now = clock();
            let verdict = if loaded {
                engine.uplink_resumed(src, &bytes, now).verdict
            } else {
                engine.lookup_failed(src, &bytes, now).verdict
            };
            self.deliver(src, &bytes, verdict).await;
        }
    }
}
