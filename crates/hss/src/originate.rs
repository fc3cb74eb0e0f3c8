//! Requests the HSS originates over the connection the serving MME opened: CLR when a SIM is
//! suspended, terminated or moves to another MME; IDR when its subscription data changes. SIM changes
//! (made through `cmp`, by any process) queue theirs in the store's outbox in the same transaction;
//! the instance that reaches the serving node claims and sends them ([`crate::member`]), at once
//! when the change was made in its own process or announced by the database.

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

/// Cancellation-Type MME_UPDATE_PROCEDURE: the subscriber moved to another MME.
pub(crate) const MME_UPDATE_PROCEDURE: u32 = 0;
/// Cancellation-Type SUBSCRIPTION_WITHDRAWAL.
pub(crate) const SUBSCRIPTION_WITHDRAWAL: u32 = 2;

impl Hss {
    pub(crate) fn request_to(&self, command: Command, imsi: &Imsi, node: &ServingNode) -> Message {
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

    /// A CLR with `cancellation_type` for `node`.
    pub(crate) fn clr(&self, imsi: &Imsi, node: &ServingNode, cancellation_type: u32) -> Message {
        let mut clr = self.request_to(Command::CLR, imsi, node);
        clr.add(avp::CANCELLATION_TYPE, cancellation_type);
        clr
    }

    /// Sends CLR with `cancellation_type` to `node` in the background.
    pub(crate) fn spawn_clr(&self, imsi: &Imsi, node: &ServingNode, cancellation_type: u32) {
        self.send_to(node, self.clr(imsi, node, cancellation_type));
    }

    /// The subscriber moved from `previous` to another MME: CLR (MME_UPDATE_PROCEDURE) to the
    /// previous one, at once when this instance reaches it, else through the outbox so the instance
    /// that reaches it sends it.
    pub(crate) async fn cancel_moved(&self, imsi: &Imsi, previous: &ServingNode) -> store::Result<()> {
        if !self.connections_to(&previous.origin_host).is_empty() {
            self.spawn_clr(imsi, previous, MME_UPDATE_PROCEDURE);
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        tx.enqueue_notification(imsi, "clr-moved", previous).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// The request a queued notification asks for: `clr` (SUBSCRIPTION_WITHDRAWAL), `clr-moved`
    /// (MME_UPDATE_PROCEDURE) or `idr` (the subscription data as stored now); `None` for `refresh`
    /// and for an IDR of a SIM that no longer exists.
    pub(crate) async fn notification(
        &self,
        imsi: &Imsi,
        kind: &str,
        node: &ServingNode,
    ) -> store::Result<Option<Message>> {
        Ok(match kind {
            "clr" => Some(self.clr(imsi, node, SUBSCRIPTION_WITHDRAWAL)),
            "clr-moved" => Some(self.clr(imsi, node, MME_UPDATE_PROCEDURE)),
            "idr" => {
                let Some(sim) = self.store.sim(imsi).await? else { return Ok(None) };
                let p = match &sim.profile {
                    Some(name) => self.store.profile(name).await?,
                    None => None,
                };
                let mut idr = self.request_to(Command::IDR, imsi, node);
                idr.push(subscription_data(&sim, p.as_ref(), &self.config.subscription));
                Some(idr)
            }
            _ => None,
        })
    }

    /// Sends the CLR (`clr`) or IDR (`idr`) that a change recorded in the store's outbox asks for,
    /// at once over this instance's connection to `node` (without the outbox's claim and retry).
    pub async fn deliver(&self, imsi: &Imsi, kind: &str, node: &ServingNode) -> Result<(), OriginateError> {
        self.forget(imsi);
        match self.notification(imsi, kind, node).await? {
            Some(m) => self.send_to(node, m),
            None if kind == "idr" => return Err(OriginateError::UnknownImsi(imsi.to_string())),
            None => {}
        }
        Ok(())
    }
}

impl cmp::HssNotifier for Hss {
    /// A SIM change committed: drop the cached copy; the CLR it may need is in the outbox.
    fn status_changed(&self, before: &store::model::Sim, to: SimStatus) {
        self.forget(&before.imsi);
        self.outbox_wake.notify_one();
        if let Some(also) = self.also() {
            also.status_changed(before, to);
        }
    }

    /// The subscription data changed: drop the cached copy; the IDR is in the outbox.
    fn profile_changed(&self, before: &store::model::Sim) {
        self.forget(&before.imsi);
        self.outbox_wake.notify_one();
        if let Some(also) = self.also() {
            also.profile_changed(before);
        }
    }
}
