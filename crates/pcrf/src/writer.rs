//! The background writer: session rows, usage and events go to the store in batches, one
//! transaction each, so that a CCR is answered without waiting for the database. What a crash loses
//! is the batch being written and what queued behind it (normally a few milliseconds of changes).
//!
//! It runs on a thread of its own, with a runtime and store connections of its own: building and
//! binding a batch of a thousand rows takes milliseconds of CPU, which on the server's runtime would
//! hold up the CCRs (and S6a requests) queued behind it on that worker. (On SQLite the statements run
//! on that runtime's blocking threads, named `gx-writer-db`; never on the server's workers.)
//!
//! A batch that is not full waits up to [`LINGER`] after its first change for more, so that at
//! moderate rates one transaction (one fsync) takes several rows instead of one or two; a flush
//! (shutdown, tests) does not wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use store::traffic::GxChange;
use store::Store;
use tokio::sync::{mpsc, oneshot};

/// Most changes in one transaction.
const BATCH: usize = 1024;
/// How long a batch that is not full waits for more changes after its first one: what a crash can
/// lose grows by at most this much.
pub(crate) const LINGER: Duration = Duration::from_millis(4);

/// A message to the writer.
// Nearly every message is a change; boxing them would add an allocation per CCR for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Write {
    /// A change to store.
    Change(GxChange),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// Starts the writer on the current runtime; it ends when every sender is dropped. `pending` counts
/// the changes queued and not yet written (the sender adds, the writer subtracts).
pub(crate) fn spawn(store: Store, pending: Arc<AtomicUsize>) -> mpsc::UnboundedSender<Write> {
    let (tx, rx) = mpsc::unbounded_channel::<Write>();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().thread_name("gx-writer-db").build();
    let spawned = runtime.and_then(|rt| {
        let (store, pending) = (store.clone(), pending.clone());
        std::thread::Builder::new().name("gx-writer".into()).spawn(move || {
            rt.block_on(async move {
                // Connections of its own (their I/O belongs to this runtime); the shared ones if not.
                let own = store.with_own_pool(2).await.unwrap_or(store);
                run(own, rx, pending).await;
            })
        })
    });
    if let Err(e) = spawned {
        // Cannot happen short of resource exhaustion; the channel's receiver is gone, so every
        // write reports that the writer stopped.
        tracing::error!(error = %e, "the Gx session writer thread could not start");
    }
    tx
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Write>, pending: Arc<AtomicUsize>) {
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::with_capacity(BATCH);
        let linger = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        loop {
            while let Some(w) = next.take() {
                match w {
                    Write::Change(c) => batch.push(c),
                    Write::Flush(f) => flushes.push(f),
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            // Full, or someone waits for it: write now. Otherwise wait a little for more.
            if batch.len() >= BATCH || !flushes.is_empty() {
                break;
            }
            match tokio::time::timeout_at(linger, rx.recv()).await {
                Ok(Some(w)) => next = Some(w),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            if let Err(e) = store.apply_gx_batch(batch).await {
                tracing::error!(error = %e, changes = n, "Gx session changes could not be stored");
            }
            pending.fetch_sub(n, Ordering::AcqRel);
        }
        flushes.drain(..).for_each(|f| {
            let _ = f.send(());
        });
    }
}
