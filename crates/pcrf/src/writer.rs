//! The background writer: session rows, usage and events go to the store in batches, one
//! transaction each, so that a CCR is answered without waiting for the database. What a crash loses
//! is the batch being written and what queued behind it (normally a few milliseconds of changes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use store::traffic::GxChange;
use store::Store;
use tokio::sync::{mpsc, oneshot};

/// Most changes in one transaction.
const BATCH: usize = 1024;

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
    let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        let mut flushes = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(w) = next.take() {
                match w {
                    Write::Change(c) => batch.push(c),
                    Write::Flush(f) => flushes.push(f),
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                if let Err(e) = store.apply_gx_changes(&batch).await {
                    tracing::error!(error = %e, changes = batch.len(), "Gx session changes could not be stored");
                }
                pending.fetch_sub(batch.len(), Ordering::AcqRel);
                batch.clear();
            }
            flushes.drain(..).for_each(|f| {
                let _ = f.send(());
            });
        }
    });
    tx
}
