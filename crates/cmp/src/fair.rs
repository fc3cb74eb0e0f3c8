//! Fair turns between tenants for bulk jobs. A fixed number of batches run at once; when a place
//! frees, it goes to the next tenant in round-robin order among those waiting, not to whoever asked
//! first. A job takes a turn per batch, so one tenant's four jobs of 250,000 SIMs no longer hold every
//! place until they end: another tenant's one-SIM job waits for at most the batches already running.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Places shared fairly between tenants.
#[derive(Debug, Clone)]
pub struct FairSlots(Arc<Mutex<State>>);

#[derive(Debug)]
struct State {
    free: usize,
    /// Waiters per tenant, oldest first.
    waiting: BTreeMap<String, VecDeque<oneshot::Sender<()>>>,
    /// Tenants with waiters, in the order they get the next places.
    order: VecDeque<String>,
}

/// A place; it goes to the next waiter when dropped.
#[derive(Debug)]
pub struct Turn(FairSlots);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl FairSlots {
    /// `places` (at least one) batches at once.
    pub fn new(places: usize) -> Self {
        FairSlots(Arc::new(Mutex::new(State { free: places.max(1), waiting: BTreeMap::new(), order: VecDeque::new() })))
    }

    /// Waits for a place for `tenant`'s next batch.
    pub async fn turn(&self, tenant: &str) -> Turn {
        loop {
            let rx = {
                let mut s = self.0.lock().expect("fair slots");
                if s.free > 0 && s.order.is_empty() {
                    s.free -= 1;
                    return Turn(self.clone());
                }
                let (tx, rx) = oneshot::channel();
                let queue = s.waiting.entry(tenant.to_string()).or_default();
                queue.push_back(tx);
                if queue.len() == 1 {
                    s.order.push_back(tenant.to_string());
                }
                rx
            };
            let mut pending = Pending { rx: Some(rx), slots: self };
            let given = pending.rx.as_mut().expect("set above").await.is_ok();
            pending.rx = None;
            if given {
                return Turn(self.clone());
            }
        }
    }

    /// Hands a freed place to the next tenant in turn, or keeps it free.
    fn release(&self) {
        let mut s = self.0.lock().expect("fair slots");
        while let Some(tenant) = s.order.pop_front() {
            let Some(queue) = s.waiting.get_mut(&tenant) else { continue };
            let next = queue.pop_front();
            if queue.is_empty() {
                s.waiting.remove(&tenant);
            } else {
                s.order.push_back(tenant);
            }
            // A waiter that gave up meanwhile refuses the place; try the next.
            if next.is_some_and(|tx| tx.send(()).is_ok()) {
                return;
            }
        }
        s.free += 1;
    }
}

/// A wait for a place; if it is dropped after its place was given, the place goes on to the next.
struct Pending<'a> {
    rx: Option<oneshot::Receiver<()>>,
    slots: &'a FairSlots,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Collects the tenants in the order they got places.
    async fn order_of(slots: &FairSlots, asks: &[&'static str]) -> Vec<&'static str> {
        let first = slots.turn("hog").await;
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, t) in asks.iter().enumerate() {
            let (mine, got) = (slots.clone(), got.clone());
            let t = *t;
            tasks.push(tokio::spawn(async move {
                let _turn = mine.turn(t).await;
                got.lock().unwrap().push(t);
            }));
            // Queue them in this order.
            while slots.0.lock().unwrap().waiting.values().map(VecDeque::len).sum::<usize>() < i + 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        let out = got.lock().unwrap().clone();
        out
    }

    #[tokio::test]
    async fn places_alternate_between_tenants_not_arrival_order() {
        let slots = FairSlots::new(1);
        let order = order_of(&slots, &["a", "a", "a", "a", "b", "c"]).await;
        assert_eq!(order, ["a", "b", "c", "a", "a", "a"]);
        assert_eq!(slots.0.lock().unwrap().free, 1, "every place came back");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_its_place_on() {
        let slots = FairSlots::new(1);
        let held = slots.turn("a").await;
        let s = slots.clone();
        let gone = tokio::spawn(async move { s.turn("b").await });
        while slots.0.lock().unwrap().order.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gone.abort();
        let _ = gone.await;
        drop(held);
        let _again = tokio::time::timeout(Duration::from_secs(5), slots.turn("c")).await.expect("the place is free");
    }
}
