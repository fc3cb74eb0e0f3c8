//! Requests the HSS originates over the connection the serving MME opened: CLR when a SIM is
//! suspended, terminated or moves to another MME; IDR when its profile changes.

use diameter::{avp, Command, Message};
use store::ids::Imsi;
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
        let kind = command.request_abbrev().to_ascii_lowercase();
        m.add(avp::SESSION_ID, format!("{};{kind};{imsi}", self.config.origin_host));
        m.add(avp::AUTH_SESSION_STATE, 1u32);
        m.add(avp::ORIGIN_HOST, self.config.origin_host.as_str());
        m.add(avp::ORIGIN_REALM, self.config.origin_realm.as_str());
        m.add(avp::DESTINATION_HOST, node.origin_host.as_str());
        m.add(avp::DESTINATION_REALM, node.origin_realm.as_str());
        m.add(avp::USER_NAME, imsi.as_str());
        m
    }

    fn send_to(&self, node: &ServingNode, msg: Message) {
        let peer = self.connection_to(&node.origin_host);
        match peer {
            Some(p) => {
                tokio::spawn(async move {
                    match p.request(msg).await {
                        Ok(a) => tracing::debug!(result = ?a.result_code(), "answer to HSS-originated request"),
                        Err(e) => tracing::warn!(error = %e, "HSS-originated request failed"),
                    }
                });
            }
            None => tracing::warn!(mme = %node.origin_host, "serving MME not connected; request not sent"),
        }
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
                idr.push(subscription_data(&sim, p.as_ref()));
                self.send_to(node, idr);
            }
        }
        Ok(())
    }

    /// Delivers everything queued in the outbox (changes made by other processes).
    pub async fn drain_outbox(&self) -> Result<usize, OriginateError> {
        let items = self.store.take_notifications(500).await?;
        for (imsi, kind, node) in &items {
            self.deliver(imsi, kind, node).await?;
        }
        Ok(items.len())
    }

    /// Changes a SIM's status; leaving `active` sends CLR (SUBSCRIPTION_WITHDRAWAL) to its serving MME.
    pub async fn set_status(&self, imsi: &Imsi, status: SimStatus) -> Result<(), OriginateError> {
        let before =
            self.store.set_status(imsi, status).await?.ok_or_else(|| OriginateError::UnknownImsi(imsi.to_string()))?;
        self.forget(imsi);
        if status != SimStatus::Active && before.status == SimStatus::Active {
            if let Some(node) = &before.serving {
                self.spawn_clr(imsi, node, SUBSCRIPTION_WITHDRAWAL);
            }
        }
        Ok(())
    }

    /// Changes a SIM's profile; its serving MME gets IDR with the new Subscription-Data.
    pub async fn set_profile(&self, imsi: &Imsi, profile: &str) -> Result<(), OriginateError> {
        let before = self
            .store
            .set_profile(imsi, profile)
            .await?
            .ok_or_else(|| OriginateError::UnknownImsi(imsi.to_string()))?;
        self.forget(imsi);
        if let Some(node) = &before.serving {
            self.deliver(imsi, "idr", node).await?;
        }
        Ok(())
    }
}

impl Hss {
    /// A status change committed by the platform in this process: drop the cached copy and, when an
    /// active SIM leaves service, send CLR to its serving MME.
    pub fn status_changed(&self, before: &store::model::Sim, to: SimStatus) {
        self.forget(&before.imsi);
        if before.status == SimStatus::Active && to != SimStatus::Active {
            if let Some(node) = &before.serving {
                self.spawn_clr(&before.imsi, node, SUBSCRIPTION_WITHDRAWAL);
            }
        }
    }
}

/// Changes a SIM's status from outside the server process (the CLI): the CLR the change needs is
/// queued in the store's outbox and sent by the running server.
pub async fn queue_status_change(store: &store::Store, imsi: &Imsi, status: SimStatus) -> Result<(), OriginateError> {
    let before = store.set_status(imsi, status).await?.ok_or_else(|| OriginateError::UnknownImsi(imsi.to_string()))?;
    match &before.serving {
        Some(node) if status != SimStatus::Active && before.status == SimStatus::Active => {
            store.enqueue_notification(imsi, "clr", node).await?
        }
        _ => store.enqueue_notification(imsi, "refresh", &nowhere()).await?,
    }
    Ok(())
}

/// Changes a SIM's profile from outside the server process; the IDR is queued in the outbox.
pub async fn queue_profile_change(store: &store::Store, imsi: &Imsi, profile: &str) -> Result<(), OriginateError> {
    let before =
        store.set_profile(imsi, profile).await?.ok_or_else(|| OriginateError::UnknownImsi(imsi.to_string()))?;
    match &before.serving {
        Some(node) => store.enqueue_notification(imsi, "idr", node).await?,
        None => store.enqueue_notification(imsi, "refresh", &nowhere()).await?,
    }
    Ok(())
}

/// The serving node of a notification that goes to no MME (cache refresh only).
fn nowhere() -> ServingNode {
    ServingNode { origin_host: String::new(), origin_realm: String::new(), plmn: None, since: 0 }
}
