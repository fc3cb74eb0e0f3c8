//! The MO side of the SMS router ([`Router`]): what a SIM sends is either a PoR for the OTA engine
//! or a short message that is screened against the SIM's fixed dialling list (SUB-3, [`crate::fdl`])
//! and then forwarded toward the SMSC ([`MoForwarder`]) or refused with an event.
//!
//! A PoR is an MO message to the configured OTA address with TP-PID 0x7F ((U)SIM data download) or
//! a user-data header carrying IEI 0x71 (response packet, TS 31.115 §4.3). It never meets the fixed
//! dialling list: the OTA address is the operator's own.

use std::sync::Arc;

use ids::Imsi;

use crate::fdl::{normalise_text, Effective};
use crate::route::{BoxFuture, MoHandler, MoMessage, MoVerdict};
use crate::tpdu::user_data_header;

/// The reason of the verdict for a sender that is no known SIM (SGd answers it
/// DIAMETER_ERROR_USER_UNKNOWN).
pub const UNKNOWN_SENDER: &str = "the sender is not a known SIM";

/// TP-PID of (U)SIM data download.
pub const PID_SIM_DATA_DOWNLOAD: u8 = 0x7F;
/// IEI of a response packet (PoR) in a user-data header (TS 31.115 §4.3).
pub const IEI_RESPONSE_PACKET: u8 = 0x71;

/// What the router needs to know of the sending SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    /// The SIM.
    pub imsi: Imsi,
    /// Its tenant (events go to its feed).
    pub tenant: String,
    /// Its effective fixed dialling list.
    pub list: Effective,
}

/// Why an MO message was refused, for the SIM's event feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The destination is not on the fixed dialling list (`sms.mo_barred`).
    Barred,
    /// The message could not be read (`sms.mo_refused`).
    Malformed,
}

/// The subscriber data the router screens with, and where its refusals are recorded (the store, in
/// `warden serve`).
pub trait Subscribers: Send + Sync {
    /// The sending SIM (by IMSI, else by MSISDN) with its effective list; `Ok(None)` when no SIM
    /// matches; `Err` when the data cannot be read now.
    fn screening<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, Result<Option<Screening>, String>>;

    /// Records a refusal in the SIM's tenant's event feed.
    fn refused<'a>(&'a self, imsi: &'a Imsi, kind: RefusalKind, detail: &'a str) -> BoxFuture<'a, ()>;
}

/// Forwards accepted MO messages toward the SMSC (the SMPP client, wired by `warden serve`).
pub trait MoForwarder: Send + Sync {
    /// Forwards one message and says whether the next hop took it.
    fn forward<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict>;
}

/// The MO router: PoRs to the OTA handler, other messages through the fixed dialling list to the
/// forwarder.
pub struct Router {
    ota_address: Option<String>,
    ota: Option<Arc<dyn MoHandler>>,
    forwarder: Option<Arc<dyn MoForwarder>>,
    subscribers: Arc<dyn Subscribers>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("ota_address", &self.ota_address)
            .field("ota", &self.ota.is_some())
            .field("forwarder", &self.forwarder.is_some())
            .finish()
    }
}

impl Router {
    /// A router that screens with `subscribers`; PoRs are recognised when `ota_address` is set.
    pub fn new(subscribers: Arc<dyn Subscribers>, ota_address: Option<&str>) -> Router {
        Router { ota_address: ota_address.map(normalise_text), ota: None, forwarder: None, subscribers }
    }

    /// Hands PoRs to `ota` (the OTA engine).
    pub fn with_ota(mut self, ota: Arc<dyn MoHandler>) -> Router {
        self.ota = Some(ota);
        self
    }

    /// Forwards accepted messages with `forwarder` (toward the SMSC).
    pub fn with_forwarder(mut self, forwarder: Arc<dyn MoForwarder>) -> Router {
        self.forwarder = Some(forwarder);
        self
    }

    /// The subscriber data it screens with.
    pub fn subscribers(&self) -> &Arc<dyn Subscribers> {
        &self.subscribers
    }

    /// True when `m` is a PoR for the OTA engine.
    pub fn is_por(&self, m: &MoMessage) -> bool {
        let Some(ota) = &self.ota_address else { return false };
        if normalise_text(&m.destination) != *ota {
            return false;
        }
        m.pid == PID_SIM_DATA_DOWNLOAD
            || (m.udhi
                && user_data_header(&m.user_data).is_ok_and(|ies| ies.iter().any(|ie| ie.iei == IEI_RESPONSE_PACKET)))
    }

    async fn route(&self, m: &MoMessage) -> MoVerdict {
        if self.is_por(m) {
            return match &self.ota {
                Some(ota) => ota.received(m).await,
                None => MoVerdict::Failed { reason: "no OTA engine takes PoRs here".into(), retry: false },
            };
        }
        let who = match self.subscribers.screening(m).await {
            Ok(Some(who)) => who,
            Ok(None) => return MoVerdict::Failed { reason: UNKNOWN_SENDER.into(), retry: false },
            Err(e) => return MoVerdict::Failed { reason: format!("subscriber data unavailable: {e}"), retry: true },
        };
        let dest = normalise_text(&m.destination);
        if !who.list.allows(&dest) {
            let reason = format!("{dest} is not on the SIM's fixed dialling list ({})", who.list.kind());
            self.subscribers.refused(&who.imsi, RefusalKind::Barred, &reason).await;
            return MoVerdict::Barred { reason };
        }
        match &self.forwarder {
            Some(f) => f.forward(m).await,
            None => MoVerdict::Failed { reason: "no route toward an SMSC is configured".into(), retry: false },
        }
    }
}

impl MoHandler for Router {
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        Box::pin(self.route(message))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::fdl::Entry;
    use crate::route::Via;

    #[derive(Default)]
    struct Fake {
        refused: Mutex<Vec<(String, RefusalKind, String)>>,
    }

    impl Subscribers for Fake {
        fn screening<'a>(&'a self, m: &'a MoMessage) -> BoxFuture<'a, Result<Option<Screening>, String>> {
            let found = m.imsi.clone().filter(|i| i.as_str() != "001010000000009").map(|imsi| Screening {
                imsi,
                tenant: "acme".into(),
                list: Effective { entries: vec!["+4917*".parse::<Entry>().unwrap()], open_when_empty: false },
            });
            Box::pin(async move {
                if m.imsi.is_none() {
                    Err("down".into())
                } else {
                    Ok(found)
                }
            })
        }
        fn refused<'a>(&'a self, imsi: &'a Imsi, kind: RefusalKind, detail: &'a str) -> BoxFuture<'a, ()> {
            self.refused.lock().unwrap().push((imsi.to_string(), kind, detail.to_string()));
            Box::pin(async {})
        }
    }

    struct Count(Mutex<usize>, MoVerdict);
    impl MoForwarder for Count {
        fn forward<'a>(&'a self, _: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
            *self.0.lock().unwrap() += 1;
            Box::pin(async { self.1.clone() })
        }
    }
    impl MoHandler for Count {
        fn received<'a>(&'a self, _: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
            *self.0.lock().unwrap() += 1;
            Box::pin(async { self.1.clone() })
        }
    }

    fn mo(imsi: Option<&str>, dest: &str, pid: u8, ud: &[u8], udhi: bool) -> MoMessage {
        MoMessage {
            imsi: imsi.map(|i| i.parse().unwrap()),
            msisdn: None,
            destination: dest.into(),
            pid,
            dcs: 0xF6,
            udhi,
            user_data: ud.to_vec(),
            via: Via::Sgd { mme: "mme".into() },
        }
    }

    #[tokio::test]
    async fn screens_forwards_bars_and_hands_pors_over() {
        let subs = Arc::new(Fake::default());
        let fwd = Arc::new(Count(Mutex::new(0), MoVerdict::Accepted));
        let ota = Arc::new(Count(Mutex::new(0), MoVerdict::Accepted));
        let r = Router::new(subs.clone(), Some("+4910")).with_forwarder(fwd.clone()).with_ota(ota.clone());
        let imsi = Some("001010000000001");
        assert_eq!(r.received(&mo(imsi, "+491711", 0, b"hi", false)).await, MoVerdict::Accepted);
        assert_eq!(r.received(&mo(imsi, "00491711", 0, b"hi", false)).await, MoVerdict::Accepted, "00 prefix");
        let barred = r.received(&mo(imsi, "+33612", 0, b"hi", false)).await;
        assert!(matches!(&barred, MoVerdict::Barred { reason } if reason.contains("+33612")), "{barred:?}");
        assert_eq!(*fwd.0.lock().unwrap(), 2);
        let events = subs.refused.lock().unwrap().clone();
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].0.as_str(), events[0].1), ("001010000000001", RefusalKind::Barred));
        // PoRs: by TP-PID, or by IEI 0x71 in the UDH; to the OTA address only.
        assert_eq!(r.received(&mo(imsi, "+4910", 0x7F, b"por", false)).await, MoVerdict::Accepted);
        assert_eq!(r.received(&mo(imsi, "+4910", 0, &[2, 0x71, 0, 1], true)).await, MoVerdict::Accepted);
        assert_eq!(*ota.0.lock().unwrap(), 2);
        assert!(matches!(r.received(&mo(imsi, "+4911", 0x7F, b"x", false)).await, MoVerdict::Barred { .. }));
        // Unknown senders and unavailable data.
        let unknown = r.received(&mo(Some("001010000000009"), "+491711", 0, b"hi", false)).await;
        assert!(matches!(unknown, MoVerdict::Failed { retry: false, .. }));
        assert!(matches!(
            r.received(&mo(None, "+491711", 0, b"hi", false)).await,
            MoVerdict::Failed { retry: true, .. }
        ));
        // Without a forwarder nothing is accepted; without an OTA engine PoRs fail.
        let bare = Router::new(subs.clone(), Some("+4910"));
        assert!(matches!(bare.received(&mo(imsi, "+491711", 0, b"hi", false)).await, MoVerdict::Failed { .. }));
        assert!(matches!(bare.received(&mo(imsi, "+4910", 0x7F, b"x", false)).await, MoVerdict::Failed { .. }));
    }
}
