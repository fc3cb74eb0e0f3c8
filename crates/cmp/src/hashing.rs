//! Where password hashing runs. argon2id is slow and memory-hard on purpose (tens of milliseconds and
//! 19 MiB each); run on the async workers, a flood of logins would hold them and starve everything
//! else the process serves, the HSS's Diameter answers first. So every hash and verification runs on
//! tokio's blocking threads, at most `workers` at once (the rest of the cores stay free for the
//! workers), with at most `queue` more waiting; beyond that a request is refused at once as busy
//! rather than queued without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

/// The bounded pool that runs password hashing.
#[derive(Debug, Clone)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    workers: usize,
}

/// The pool is full: retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password checks are busy; retry shortly")]
pub struct Busy;

impl Default for HashPool {
    /// [`default_workers`] hash; 32 more may wait.
    fn default() -> Self {
        HashPool::new(default_workers(), 32)
    }
}

/// Half the cores, at least one: the other half stays with the async workers.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}

/// Counts a waiter for as long as it waits, also when its request is dropped while waiting.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashPool {
    /// At most `workers` (at least one) hashes at once, at most `queue` waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        HashPool { permits: Arc::new(Semaphore::new(workers)), waiting: Arc::new(AtomicUsize::new(0)), queue, workers }
    }

    /// How many hashes may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `work` on a blocking thread once a worker is free; refused at once when every worker is busy
    /// and `queue` requests are waiting already.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let _waiting = Waiting(&self.waiting);
                self.permits.clone().acquire_owned().await.map_err(|_| Busy)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test]
    async fn refuses_beyond_workers_plus_queue_and_frees_places_when_done() {
        let pool = HashPool::new(1, 2);
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut held = Vec::new();
        for _ in 0..3 {
            let (p, g) = (pool.clone(), gate.clone());
            held.push(tokio::spawn(async move { p.run(move || g.lock().unwrap().recv().is_ok()).await }));
        }
        // Wait (bounded) until the three are inside: one running, two waiting.
        for _ in 0..200 {
            if pool.waiting.load(Ordering::Acquire) == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(pool.run(|| ()).await, Err(Busy), "a fourth is refused at once");
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for h in held {
            assert_eq!(h.await.unwrap(), Ok(true));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7), "places are free again");
        assert_eq!(pool.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_dropped_waiter_gives_its_place_back() {
        let pool = HashPool::new(1, 1);
        let (release, gate) = mpsc::channel::<()>();
        let p = pool.clone();
        let running = tokio::spawn(async move { p.run(move || gate.recv().is_ok()).await });
        let p = pool.clone();
        let waiter = tokio::spawn(async move { p.run(|| ()).await });
        for _ in 0..200 {
            if pool.waiting.load(Ordering::Acquire) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(pool.waiting.load(Ordering::Acquire), 1, "the second waits");
        waiter.abort();
        let _ = waiter.await;
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        assert_eq!(pool.waiting.load(Ordering::Acquire), 0);
    }
}
