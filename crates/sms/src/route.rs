//! The contract between SMS transports and SMS users.
//!
//! A transport sends [`MtMessage`]s ([`MtSender`]) and hands what arrives from SIMs to a
//! [`MoHandler`]; delivery reports that come later (SMPP receipts) go to a [`ReportSink`]. Users —
//! the OTA engine (PoRs are MO messages with TP-PID 0x7F and a UDH with IEI 0x71, TS 31.115 §4.3), the
//! fixed-dialling screening (SUB-3) — only see these types, so either transport can carry either
//! user's traffic.

use std::future::Future;
use std::pin::Pin;

use ids::Imsi;

/// A boxed future, so that the traits stay object-safe (`Arc<dyn MtSender>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An MT short message for one SIM, as 3GPP TS 23.040 parameters (each transport codes them its
/// own way: an SMS-DELIVER TPDU in SGd's SM-RP-UI, `submit_sm` fields over SMPP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtMessage {
    /// Whom it is for.
    pub imsi: Imsi,
    /// The SIM's MSISDN (digits) when known; SMPP addresses the SIM by it.
    pub msisdn: Option<String>,
    /// TP-OA: the sender the SIM sees (the OTA server's address), digits with an optional `+`.
    pub originator: String,
    /// TP-PID (0x7F: (U)SIM data download).
    pub pid: u8,
    /// TP-DCS (0xF6: class 2, 8-bit data).
    pub dcs: u8,
    /// The user data of each segment, UDH included (TP-UDHI is set), in order; more than one segment
    /// is a concatenated message (`ota::sms::user_data_segments`).
    pub segments: Vec<Vec<u8>>,
    /// The sender's own reference, echoed in [`DeliveryReport`]s.
    pub reference: String,
}

/// What became of an [`MtMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MtOutcome {
    /// Delivered to the SIM (SGd: MT-Forward-Short-Message answered with success). When the SIM
    /// answered with an SMS-DELIVER-REPORT carrying user data (a PoR sent "in the SMS-DELIVER-REPORT",
    /// TS 102 225 §5.1.1), that user data (UDH included).
    Delivered {
        /// The SMS-DELIVER-REPORT's user data, when it had some.
        report_user_data: Option<Vec<u8>>,
    },
    /// Accepted by the next hop (the SMSC); a [`DeliveryReport`] may follow with the same `message_id`.
    Accepted {
        /// The next hop's message id.
        message_id: String,
    },
    /// Not delivered. `retry` says whether trying again later may help (absent subscriber, throttling,
    /// a lost connection) or not (unknown subscriber, refused credentials, a malformed message).
    Failed {
        /// Why.
        reason: String,
        /// Whether trying again later may help.
        retry: bool,
    },
}

/// Sends MT short messages.
pub trait MtSender: Send + Sync {
    /// Sends every segment of `message` and says what became of it.
    fn send<'a>(&'a self, message: &'a MtMessage) -> BoxFuture<'a, MtOutcome>;
}

/// How an MO message reached Warden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// SGd MO-Forward-Short-Message from this MME (its Origin-Host).
    Sgd {
        /// The MME's Origin-Host.
        mme: String,
    },
    /// SMPP `deliver_sm` from the SMSC.
    Smpp,
}

/// An MO short message from a SIM: the 3GPP TS 23.040 SMS-SUBMIT fields that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// The sending SIM, when the transport names it (SGd does; SMPP gives an MSISDN).
    pub imsi: Option<Imsi>,
    /// The sender's MSISDN (digits), when known.
    pub msisdn: Option<String>,
    /// TP-DA: the destination address, digits with an optional `+`.
    pub destination: String,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: u8,
    /// Whether `user_data` starts with a user-data header (TP-UDHI).
    pub udhi: bool,
    /// TP-UD (UDH included when `udhi`).
    pub user_data: Vec<u8>,
    /// The transport it came by.
    pub via: Via,
}

/// What the receiver made of an [`MoMessage`]; SGd answers a refusal with the TS 29.338 error
/// named in `reason`'s variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoVerdict {
    /// Taken (forwarded, or consumed as a PoR).
    Accepted,
    /// The destination is not on the SIM's fixed dialling list (SUB-3).
    Barred {
        /// Why.
        reason: String,
    },
    /// Not taken for another reason (no route, the SMSC refused, malformed).
    Failed {
        /// Why.
        reason: String,
        /// Whether trying again later may help.
        retry: bool,
    },
}

/// Receives MO short messages.
pub trait MoHandler: Send + Sync {
    /// Takes one MO message and says what became of it.
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict>;
}

/// A delivery report for an earlier MT message that was [`MtOutcome::Accepted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The next hop's message id (SMPP `receipted_message_id` or the `id:` of the receipt text).
    pub message_id: String,
    /// Whether the message reached the SIM (SMPP `DELIVRD`).
    pub delivered: bool,
    /// The final state as the SMSC named it (`DELIVRD`, `UNDELIV`, `EXPIRED`, …).
    pub state: String,
}

/// Receives delivery reports.
pub trait ReportSink: Send + Sync {
    /// Takes one delivery report.
    fn report<'a>(&'a self, report: &'a DeliveryReport) -> BoxFuture<'a, ()>;
}
