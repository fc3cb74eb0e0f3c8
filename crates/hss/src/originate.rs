//! Requests the HSS originates over the connection the serving MME opened: CLR when a SIM is
//! suspended, terminated or moves to another MME; IDR when its subscription data changes. SIM changes
//! (made through `cmp`, by any process) queue theirs in the store's outbox in the same transaction;
//! the HSS drains it, at once when the change was made in its own process.

use diameter::transport::RequestError;
use diameter::{avp, Command, Message};
use ids::Imsi;
use store::model::{ServingNode, SimStatus};

use crate::subscription::subscription_data;
use crate::Hss;

/// Why a lifecycle change could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum OriginateError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// The SIM does not exist.
    #[error("IMSI {0} not found")]
    UnknownImsi(String),
}

/// Cancellation-Type SUBSCRIPTION_WITHDRAWAL.
const SUBSCRIPTION_WITHDRAWAL: u32 = 2;

impl Hss {
    fn request_to(&self, command: Command, imsi: &Imsi, node: &ServingNode) -> Message {
        let mut m = Message::request(command);
        // A fresh Session-Id for every request (RFC 6733 §8.8); the answer is matched by its
        // Hop-by-Hop and End-to-End identifiers, never by the Session-Id.
        m.add(avp::SESSION_ID, self.session_ids.next(&command.request_abbrev().to_ascii_lowercase()));
        m.add(avp::AUTH_SESSION_STATE, 1u32);
        m.add(avp::ORIGIN_HOST, self.config.origin_host());
        m.add(avp::ORIGIN_REALM, self.config.origin_realm());
        m.add(avp::DESTINATION_HOST, node.origin_host.as_str());
        m.add(avp::DESTINATION_REALM, node.origin_realm.as_str());
        m.add(avp::USER_NAME, imsi.as_str());
        m
    }

    /// Sends `msg` to `node` in the background over its newest open connection; when that one closed
    /// meanwhile (or refuses to send: it is closing), over the next one of the same node.
    fn send_to(&self, node: &ServingNode, msg: Message) {
        let connections = self.connections_to(&node.origin_host);
        if connections.is_empty() {
            tracing::warn!(mme = %node.origin_host, "serving MME not connected; request not sent");
            return;
        }
        let mme = node.origin_host.clone();
        self.originated.spawn(async move {
            for p in connections {
                match p.request(msg.clone()).await {
                    Ok(a) => return tracing::debug!(result = ?a.result_code(), "answer to HSS-originated request"),
                    Err(e @ (RequestError::Closed | RequestError::Refused(_))) => {
                        tracing::debug!(%mme, error = %e, "connection gone; trying the next one");
                    }
                    Err(e) => return tracing::warn!(%mme, error = %e, "HSS-originated request failed"),
                }
            }
            tracing::warn!(%mme, "every connection of the serving MME closed; request not sent");
        });
    }

    /// Sends CLR with `cancellation_type` to `node` in the background.
    pub(crate) fn spawn_clr(&self, imsi: &Imsi, node: &ServingNode, cancellation_type: u32) {
        let mut clr = self.request_to(Command::CLR, imsi, node);
        clr.add(avp::CANCELLATION_TYPE, cancellation_type);
        self.send_to(node, clr);
    }

    /// Sends the CLR (`clr`) or IDR (`idr`) that a change recorded in the store's outbox asks for.
    pub async fn deliver(&self, imsi: &Imsi, kind: &str, node: &ServingNode) -> Result<(), OriginateError> {
        self.forget(imsi);
        match kind {
            "refresh" => {}
            "clr" => self.spawn_clr(imsi, node, SUBSCRIPTION_WITHDRAWAL),
            _ => {
                let sim = self.store.sim(imsi).await?.ok_or_else(|| OriginateError::UnknownImsi(imsi.to_string()))?;
                let p = match &sim.profile {
                    Some(name) => self.store.profile(name).await?,
                    None => None,
                };
                let mut idr = self.request_to(Command::IDR, imsi, node);
                idr.push(subscription_data(&sim, p.as_ref(), &self.config.subscription));
                self.send_to(node, idr);
            }
        }
        Ok(())
    }

    /// Delivers everything queued in the outbox: the CLR/IDR that SIM changes queued in their own
    /// transaction, whichever process made them. Returns how many were taken.
    pub async fn drain_outbox(&self) -> Result<usize, OriginateError> {
        let mut total = 0;
        loop {
            let items = self.store.take_notifications(OUTBOX_BATCH).await?;
            for (imsi, kind, node) in &items {
                self.deliver(imsi, kind, node).await?;
            }
            total += items.len();
            if (items.len() as i64) < OUTBOX_BATCH {
                return Ok(total);
            }
        }
    }

    /// Waits until a change of this process queued something in the outbox, or `poll` passed (changes
    /// of other processes are found by polling).
    pub async fn outbox_ready(&self, poll: std::time::Duration) {
        let _ = tokio::time::timeout(poll, self.outbox_wake.notified()).await;
    }

    /// Sends what the outbox holds until `stop`: at once after a change of this process, otherwise
    /// every `poll` (changes of other processes). A round in progress is finished.
    pub async fn run_outbox(&self, poll: std::time::Duration, stop: tokio_util::sync::CancellationToken) {
        loop {
            if let Err(e) = self.drain_outbox().await {
                tracing::warn!(error = %e, "outbox delivery failed");
            }
            tokio::select! {
                _ = self.outbox_ready(poll) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

/// Outbox rows taken per query.
const OUTBOX_BATCH: i64 = 500;

impl cmp::HssNotifier for Hss {
    /// A SIM change committed: drop the cached copy; the CLR it may need is in the outbox.
    fn status_changed(&self, before: &store::model::Sim, _to: SimStatus) {
        self.forget(&before.imsi);
        self.outbox_wake.notify_one();
    }

    /// The subscription data changed: drop the cached copy; the IDR is in the outbox.
    fn profile_changed(&self, before: &store::model::Sim) {
        self.forget(&before.imsi);
        self.outbox_wake.notify_one();
    }
}
