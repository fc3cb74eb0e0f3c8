//! Durable SQN allocation without a disk write per vector (ID-1, issue "SQN is never reused"): the
//! store's high-water mark is moved up a block at a time; SEQ values are handed out from memory until
//! the block is used. After a crash (even kill -9) the next process starts above the persisted mark,
//! so a SEQ is never issued twice; at most one block per subscriber is skipped, far below the USIM's
//! freshness limit Δ (2^28).
//!
//! Reservations from concurrent requests are committed together (group commit): after a restart every
//! subscriber needs one reservation, and one flush per batch instead of per subscriber keeps that
//! warm-up short.
//!
//! Two allocations ([`Allocation`]):
//! - **block** (one instance: the SQLite default): a block of SEQ values per database write, handed
//!   out from this process's memory;
//! - **exact** (several instances on one database: the PostgreSQL default): the database row *is*
//!   SEQ_HE. Every vector's SEQ values come from one atomic `sqn_reserved = sqn_reserved + n`,
//!   committed (in a group with the other requests of the moment) before the vector leaves, so
//!   whichever instance answers, SEQ grows strictly per subscriber — and so per IND — in the order
//!   the requests reach the database (docs/hss.md, "SQN across instances", has the Annex C argument).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::db::Store;
use crate::error::{Result, StoreError};
use ids::Imsi;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Last SEQ handed out.
    last: i64,
    /// Highest SEQ covered by the durable reservation.
    limit: i64,
}

/// Most reservations committed in one transaction.
const MAX_BATCH: usize = 512;

type Reservation = (Imsi, i64, oneshot::Sender<Result<i64>>);

/// How SEQ values are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// `n` values per database write, handed out from memory: one process per database only.
    Block(i64),
    /// Every SEQ from the database, in batches of concurrent requests: any number of processes.
    Exact,
}

/// Hands out SEQ values per subscriber from durable reservations.
#[derive(Debug)]
pub struct SqnAllocator {
    allocation: Allocation,
    block: i64,
    shards: Vec<Mutex<HashMap<Imsi, Slot>>>,
    batcher: OnceLock<mpsc::Sender<Reservation>>,
}

/// Collects reservations and commits each batch in one statement. Several of these may share one
/// queue: each takes what waits when it is free, so a batch fills while another commits.
async fn group_commit(store: Store, rx: std::sync::Arc<Mutex<mpsc::Receiver<Reservation>>>) {
    loop {
        let mut batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            batch
        };
        let requests: Vec<(Imsi, i64)> = batch.iter().map(|(i, n, _)| (i.clone(), *n)).collect();
        match store.reserve_sqn_many(&requests).await {
            Ok(results) => {
                for ((_, _, reply), r) in batch.drain(..).zip(results) {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(StoreError::Conflict(format!("SQN reservation failed: {msg}"))));
                }
            }
        }
    }
}

impl SqnAllocator {
    /// Reserves `block` SEQ values per subscriber and database write.
    pub fn new(block: i64) -> Self {
        Self::with_allocation(Allocation::Block(block))
    }

    /// An allocator of the given kind.
    pub fn with_allocation(allocation: Allocation) -> Self {
        let block = match allocation {
            Allocation::Block(n) => n.max(1),
            Allocation::Exact => 0,
        };
        Self {
            allocation,
            block,
            shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
            batcher: OnceLock::new(),
        }
    }

    fn shard(&self, imsi: &Imsi) -> &Mutex<HashMap<Imsi, Slot>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        imsi.hash(&mut h);
        &self.shards[(h.finish() % self.shards.len() as u64) as usize]
    }

    async fn reserve(&self, store: &Store, imsi: &Imsi, n: i64) -> Result<i64> {
        let tx = self.batcher.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            let rx = std::sync::Arc::new(Mutex::new(rx));
            // Exact allocation commits on every AIR: two statements in flight keep the database busy
            // while a batch fills (rows are locked in IMSI order, so they never deadlock).
            let workers = if self.allocation == Allocation::Exact { 2 } else { 1 };
            for _ in 0..workers {
                tokio::spawn(group_commit(store.clone(), rx.clone()));
            }
            tx
        });
        let (reply, answer) = oneshot::channel();
        tx.send((imsi.clone(), n, reply))
            .await
            .map_err(|_| StoreError::Conflict("SQN reservation task ended".into()))?;
        answer.await.map_err(|_| StoreError::Conflict("SQN reservation task ended".into()))?
    }

    /// `n` consecutive fresh SEQ values for `imsi` (the first is returned), reserving durably first when
    /// the block in memory does not cover them.
    pub async fn next(&self, store: &Store, imsi: &Imsi, n: i64) -> Result<i64> {
        if self.allocation == Allocation::Exact {
            // The database's counter after the increment is the last of our `n` values.
            return Ok(self.reserve(store, imsi, n).await? - n + 1);
        }
        let mut map = self.shard(imsi).lock().await;
        let slot = match map.get(imsi).copied() {
            Some(s) if s.last + n <= s.limit => s,
            _ => {
                let want = n.max(self.block);
                let limit = self.reserve(store, imsi, want).await?;
                // Everything below the old mark may have been issued by an earlier process.
                Slot { last: limit - want, limit }
            }
        };
        let first = slot.last + 1;
        match map.get_mut(imsi) {
            Some(s) => *s = Slot { last: slot.last + n, limit: slot.limit },
            None => {
                map.insert(imsi.clone(), Slot { last: slot.last + n, limit: slot.limit });
            }
        }
        Ok(first)
    }

    /// Which allocation this is.
    pub fn allocation(&self) -> Allocation {
        self.allocation
    }

    /// SEQ_HE, the last SEQ handed out for `imsi` as far as this allocator can tell: with exact
    /// allocation the database's counter, with blocks this process's last value (or the durable
    /// mark when it issued none).
    pub async fn seq_he(&self, store: &Store, imsi: &Imsi) -> Result<i64> {
        if matches!(self.allocation, Allocation::Block(_)) {
            if let Some(last) = self.last(imsi).await {
                return Ok(last);
            }
        }
        Ok(store.sqn_reserved(imsi).await?.unwrap_or(0))
    }

    /// After a resynchronisation decided on SEQ_HE = `seen` reset it to `seq_ms`: the next SEQ is
    /// `seq_ms + 1`. With exact allocation the counter moves only if no instance moved it since
    /// `seen` (false: decide again on the new value); with blocks the durable mark becomes
    /// `seq_ms + block`.
    pub async fn reset_from(&self, store: &Store, imsi: &Imsi, seen: i64, seq_ms: i64) -> Result<bool> {
        if self.allocation == Allocation::Exact {
            return store.swap_sqn_reserved(imsi, seen, seq_ms).await;
        }
        self.reset(store, imsi, seq_ms).await?;
        Ok(true)
    }

    /// After a resynchronisation that reset SEQ_HE to `seq_ms`: the next SEQ is `seq_ms + 1`, and the
    /// durable mark becomes `seq_ms + block` (exact allocation: `seq_ms`).
    pub async fn reset(&self, store: &Store, imsi: &Imsi, seq_ms: i64) -> Result<()> {
        if self.allocation == Allocation::Exact {
            return store.set_sqn_reserved(imsi, seq_ms).await;
        }
        let mut map = self.shard(imsi).lock().await;
        let limit = seq_ms + self.block;
        store.set_sqn_reserved(imsi, limit).await?;
        map.insert(imsi.clone(), Slot { last: seq_ms, limit });
        Ok(())
    }

    /// The last SEQ handed out in this process, if any.
    pub async fn last(&self, imsi: &Imsi) -> Option<i64> {
        self.shard(imsi).lock().await.get(imsi).map(|s| s.last)
    }
}
