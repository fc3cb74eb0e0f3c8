//! SGd (3GPP TS 29.338 §6.3, application 16777313): short messages between the MME and Warden as
//! the SMS centre's interworking function.
//!
//! - **MO**: an MO-Forward-Short-Message request (OFR) carries the SIM's SMS-SUBMIT in SM-RP-UI;
//!   [`mo_request`] reads it into an [`MoMessage`] (or the answer that refuses it) and [`ofa`]
//!   answers with the verdict of the [`crate::MoHandler`] (the router).
//! - **MT**: [`SgdSender`] is an [`MtSender`]: each segment of an [`MtMessage`] becomes an
//!   SMS-DELIVER in one MT-Forward-Short-Message request (TFR) sent to the SIM's serving MME over a
//!   connection the MME opened (the HSS's, found through [`MmeDirectory`]); the answers (TFA) become
//!   an [`MtOutcome`].
//!
//! How outcomes map (decisions where TS 29.338 leaves a choice):
//!
//! | MO verdict / failure | OFA |
//! |---|---|
//! | accepted | Result-Code 2001 |
//! | SM-RP-UI not an SMS-SUBMIT, truncated, bad lengths | Result-Code 5004 DIAMETER_INVALID_AVP_VALUE, Failed-AVP SM-RP-UI, Error-Message naming the field |
//! | TP-DA malformed | Experimental-Result 5555 SM_DELIVERY_FAILURE, cause INVALID_SME_ADDRESS (5) |
//! | User-Name not an IMSI | Result-Code 5004, Failed-AVP User-Identifier |
//! | barred by the fixed dialling list | 5555 SM_DELIVERY_FAILURE, cause USER_NOT_SC_USER (6): the subscriber may not use the service centre for this destination |
//! | sender unknown | Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN |
//! | other failure, may retry (SMSC busy or unreachable) | 5555, cause SC_CONGESTION (4) |
//! | other failure, final (no route to an SMSC, refused) | 5555, cause UNKNOWN_SERVICE_CENTRE (3) |
//!
//! | TFA | MT outcome |
//! |---|---|
//! | 2001 (with SM-RP-UI: the SMS-DELIVER-REPORT's user data) | delivered |
//! | 5550 ABSENT_USER, 5551 USER_BUSY_FOR_MT_SMS, 3002/3004 (unable to deliver, too busy), 5555 with MEMORY_CAPACITY_EXCEEDED, no answer, connection lost | failed, retry |
//! | 5001 USER_UNKNOWN, 5552 FACILITY_NOT_SUPPORTED, 5553/5554 illegal user/equipment, other 5555 causes, anything else | failed, no retry |

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use diameter::dictionary::VENDOR_3GPP;
use diameter::result_code as rc;
use diameter::transport::{PeerHandle, RequestError};
use diameter::{avp, Avp, Command, Message};
use ids::Imsi;

use crate::fdl::normalise;
use crate::route::{BoxFuture, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, Via};
use crate::tpdu::{self, DeliverReport, Field, SmsSubmit, TpAddress};

/// SM-Enumerated-Delivery-Failure-Cause (TS 29.338 §6.3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FailureCause {
    /// MEMORY_CAPACITY_EXCEEDED.
    MemoryCapacityExceeded = 0,
    /// EQUIPMENT_PROTOCOL_ERROR.
    EquipmentProtocolError = 1,
    /// EQUIPMENT_NOT_SM-EQUIPPED.
    EquipmentNotSmEquipped = 2,
    /// UNKNOWN_SERVICE_CENTRE.
    UnknownServiceCentre = 3,
    /// SC-CONGESTION.
    ScCongestion = 4,
    /// INVALID_SME-ADDRESS.
    InvalidSmeAddress = 5,
    /// USER_NOT_SC-USER.
    UserNotScUser = 6,
}

/// Warden's identity on SGd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
}

/// How an OFR ends.
#[derive(Debug, Clone, PartialEq)]
pub enum OfaOutcome {
    /// A base Result-Code, with the AVP at fault and a message for errors.
    Result {
        /// Result-Code.
        code: u32,
        /// The AVP at fault (Failed-AVP).
        failed: Option<Avp>,
        /// Error-Message.
        message: Option<String>,
    },
    /// A 3GPP Experimental-Result-Code, with SM-Delivery-Failure-Cause for 5555.
    Experimental {
        /// Experimental-Result-Code.
        code: u32,
        /// SM-Enumerated-Delivery-Failure-Cause.
        cause: Option<FailureCause>,
        /// Error-Message.
        message: Option<String>,
    },
}

impl OfaOutcome {
    /// The answer for a handler's verdict.
    pub fn of(verdict: &MoVerdict) -> OfaOutcome {
        let failure = |cause, reason: &str| OfaOutcome::Experimental {
            code: rc::EXP_SM_DELIVERY_FAILURE,
            cause: Some(cause),
            message: Some(reason.to_string()),
        };
        match verdict {
            MoVerdict::Accepted => OfaOutcome::Result { code: rc::SUCCESS, failed: None, message: None },
            MoVerdict::Barred { reason } => failure(FailureCause::UserNotScUser, reason),
            MoVerdict::Failed { reason, .. } if reason == crate::router::UNKNOWN_SENDER => {
                OfaOutcome::Experimental { code: rc::EXP_USER_UNKNOWN, cause: None, message: Some(reason.clone()) }
            }
            MoVerdict::Failed { reason, retry: true } => failure(FailureCause::ScCongestion, reason),
            MoVerdict::Failed { reason, retry: false } => failure(FailureCause::UnknownServiceCentre, reason),
        }
    }
}

/// An OFR read: the MO message, or the outcome that refuses it (and the IMSI, when it was read, for
/// the SIM's event feed).
pub type MoRequest = Result<MoMessage, (OfaOutcome, Option<Imsi>)>;

/// TBCD digits (TS 29.329 §6.3.2): swapped semi-octets, 0xF filler.
pub fn tbcd(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    d.chunks(2).map(|c| (c.get(1).copied().unwrap_or(0xF) << 4) | c[0]).collect()
}

/// The digits of a TBCD string, or `None` when a semi-octet is not a digit (the filler 0xF ends it).
pub fn tbcd_digits(b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len() * 2);
    for (i, byte) in b.iter().enumerate() {
        for (j, n) in [byte & 0x0F, byte >> 4].into_iter().enumerate() {
            match n {
                0..=9 => out.push((b'0' + n) as char),
                0xF if i + 1 == b.len() && j == 1 => {}
                _ => return None,
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Reads an OFR from `mme` (the connection's identity).
pub fn mo_request(req: &Message, mme: &str) -> MoRequest {
    let invalid = |failed: Option<&Avp>, message: String| OfaOutcome::Result {
        code: rc::INVALID_AVP_VALUE,
        failed: failed.cloned(),
        message: Some(message),
    };
    let ui = req.get(avp::USER_IDENTIFIER);
    let members = ui.and_then(Avp::as_grouped).unwrap_or_default();
    let user_name = avp::find(members, avp::USER_NAME).and_then(Avp::as_str);
    let imsi = match user_name.map(str::parse::<Imsi>) {
        Some(Ok(i)) => i,
        Some(Err(_)) => return Err((invalid(ui, "User-Identifier: User-Name is not an IMSI".into()), None)),
        None => return Err((invalid(ui, "User-Identifier: no User-Name (Warden serves SIMs by IMSI)".into()), None)),
    };
    let msisdn = match avp::find(members, avp::MSISDN).and_then(Avp::as_bytes) {
        Some(b) => match tbcd_digits(b) {
            Some(d) => Some(d),
            None => {
                return Err((invalid(ui, "User-Identifier: MSISDN is not a TBCD number".into()), Some(imsi)));
            }
        },
        None => None,
    };
    let rp_ui = req.get(avp::SM_RP_UI);
    let tpdu = rp_ui.and_then(Avp::as_bytes).unwrap_or_default();
    let submit = match SmsSubmit::parse(tpdu) {
        Ok(s) => s,
        Err(e) if e.field() == Some(Field::DestinationAddress) => {
            let outcome = OfaOutcome::Experimental {
                code: rc::EXP_SM_DELIVERY_FAILURE,
                cause: Some(FailureCause::InvalidSmeAddress),
                message: Some(format!("SM-RP-UI: {e}")),
            };
            return Err((outcome, Some(imsi)));
        }
        Err(e) => return Err((invalid(rp_ui, format!("SM-RP-UI: {e}")), Some(imsi))),
    };
    Ok(MoMessage {
        imsi: Some(imsi),
        msisdn,
        destination: normalise(submit.destination.ton(), &submit.destination.digits),
        pid: submit.pid,
        dcs: submit.dcs,
        udhi: submit.udhi,
        user_data: submit.user_data,
        via: Via::Sgd { mme: mme.to_string() },
    })
}

/// The OFA to `req` with `outcome`.
pub fn ofa(req: &Message, node: &Node, outcome: &OfaOutcome) -> Message {
    let mut a = Message::answer_to(&req.header, req.session_id());
    a.add(avp::AUTH_SESSION_STATE, 1u32);
    a.add(avp::ORIGIN_HOST, node.origin_host.as_str());
    a.add(avp::ORIGIN_REALM, node.origin_realm.as_str());
    match outcome {
        OfaOutcome::Result { code, failed, message } => {
            a.add(avp::RESULT_CODE, *code);
            if let Some(m) = message {
                a.add(avp::ERROR_MESSAGE, m.as_str());
            }
            if let Some(f) = failed {
                a.add(avp::FAILED_AVP, vec![f.clone()]);
            }
        }
        OfaOutcome::Experimental { code, cause, message } => {
            a.add(
                avp::EXPERIMENTAL_RESULT,
                vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, *code)],
            );
            if let Some(m) = message {
                a.add(avp::ERROR_MESSAGE, m.as_str());
            }
            if let Some(c) = cause {
                a.add(
                    avp::SM_DELIVERY_FAILURE_CAUSE,
                    vec![Avp::new(avp::SM_ENUMERATED_DELIVERY_FAILURE_CAUSE, *c as u32)],
                );
            }
        }
    }
    a
}

/// Where a SIM is served, as the HSS knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// No such SIM.
    Unknown,
    /// The SIM exists but no MME serves it now.
    Detached,
    /// Its serving MME.
    At {
        /// The MME's Origin-Host.
        host: String,
        /// The MME's Origin-Realm.
        realm: String,
    },
}

/// What the MT side needs from the HSS.
pub trait MmeDirectory: Send + Sync {
    /// The SIM's serving MME.
    fn serving<'a>(&'a self, imsi: &'a Imsi) -> BoxFuture<'a, Result<Serving, String>>;
    /// The open connections to `host`, newest first.
    fn connections(&self, host: &str) -> Vec<PeerHandle>;
}

/// MT short messages over SGd.
pub struct SgdSender {
    node: Node,
    sc_address: String,
    directory: Arc<dyn MmeDirectory>,
    boot: u32,
    counter: AtomicU32,
}

impl std::fmt::Debug for SgdSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SgdSender").field("node", &self.node).field("sc_address", &self.sc_address).finish()
    }
}

/// The TFR for one SMS-DELIVER.
pub fn tfr(
    node: &Node,
    session_id: &str,
    imsi: &Imsi,
    mme: (&str, &str),
    sc_address: &str,
    tpdu: Vec<u8>,
    more: bool,
) -> Message {
    let mut m = Message::request(Command::TFR);
    m.add(avp::SESSION_ID, session_id);
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, node.origin_host.as_str());
    m.add(avp::ORIGIN_REALM, node.origin_realm.as_str());
    m.add(avp::DESTINATION_HOST, mme.0);
    m.add(avp::DESTINATION_REALM, mme.1);
    m.add(avp::USER_NAME, imsi.as_str());
    m.add(avp::SC_ADDRESS, tbcd(sc_address));
    m.add(avp::SM_RP_UI, tpdu);
    if more {
        // TS 29.338 §6.3.3.2: bit 0, More-Messages-To-Send.
        m.add(avp::TFR_FLAGS, 1u32);
    }
    m
}

fn experimental(a: &Message) -> Option<u32> {
    a.get(avp::EXPERIMENTAL_RESULT)?.child(avp::EXPERIMENTAL_RESULT_CODE)?.as_u32()
}

fn delivery_failure_cause(a: &Message) -> Option<u32> {
    a.get(avp::SM_DELIVERY_FAILURE_CAUSE)?.child(avp::SM_ENUMERATED_DELIVERY_FAILURE_CAUSE)?.as_u32()
}

/// What a TFA says of one segment.
pub fn tfa_outcome(a: &Message) -> MtOutcome {
    let failed = |reason: String, retry: bool| MtOutcome::Failed { reason, retry };
    match (a.result_code(), experimental(a)) {
        (Some(rc::SUCCESS), _) => {
            let report = a.get(avp::SM_RP_UI).and_then(Avp::as_bytes).map(|b| DeliverReport::parse(b, false));
            match report {
                Some(Ok(r)) => MtOutcome::Delivered { report_user_data: r.user_data },
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "TFA: SM-RP-UI is not an SMS-DELIVER-REPORT; delivered without it");
                    MtOutcome::Delivered { report_user_data: None }
                }
                None => MtOutcome::Delivered { report_user_data: None },
            }
        }
        (_, Some(rc::EXP_ABSENT_USER)) => failed("absent subscriber (DIAMETER_ERROR_ABSENT_USER)".into(), true),
        (_, Some(rc::EXP_USER_BUSY_FOR_MT_SMS)) => failed("subscriber busy for MT SMS".into(), true),
        (_, Some(rc::EXP_USER_UNKNOWN)) => failed("unknown subscriber (DIAMETER_ERROR_USER_UNKNOWN)".into(), false),
        (_, Some(rc::EXP_SM_DELIVERY_FAILURE)) => {
            let cause = delivery_failure_cause(a);
            let retry = cause == Some(FailureCause::MemoryCapacityExceeded as u32);
            failed(format!("SM delivery failure, cause {}", cause.map_or("none".into(), |c| c.to_string())), retry)
        }
        (_, Some(code)) => failed(format!("Experimental-Result-Code {code}"), false),
        (Some(code @ (rc::UNABLE_TO_DELIVER | rc::TOO_BUSY)), None) => failed(format!("Result-Code {code}"), true),
        (Some(code), None) => failed(format!("Result-Code {code}"), false),
        (None, None) => failed("answer without a result".into(), false),
    }
}

impl SgdSender {
    /// A sender that originates as `node`, with Warden's own service-centre address (`+4910…` or
    /// digits) in SC-Address.
    pub fn new(node: Node, sc_address: &str, directory: Arc<dyn MmeDirectory>) -> SgdSender {
        let boot = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
        SgdSender {
            node,
            sc_address: sc_address.trim_start_matches('+').to_string(),
            directory,
            boot,
            counter: AtomicU32::new(0),
        }
    }

    fn session_id(&self) -> String {
        // RFC 6733 §8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>.
        format!("{};{};{};sgd", self.node.origin_host, self.boot, self.counter.fetch_add(1, Ordering::Relaxed))
    }

    async fn send_one(&self, connections: &[PeerHandle], tfr: Message) -> MtOutcome {
        for p in connections {
            match p.request(tfr.clone()).await {
                Ok(a) => return tfa_outcome(&a),
                Err(RequestError::Closed | RequestError::Refused(_)) => continue,
                Err(e @ RequestError::Timeout) => return MtOutcome::Failed { reason: e.to_string(), retry: true },
            }
        }
        MtOutcome::Failed { reason: "every connection of the serving MME closed".into(), retry: true }
    }

    async fn deliver(&self, m: &MtMessage) -> MtOutcome {
        let failed = |reason: String, retry: bool| MtOutcome::Failed { reason, retry };
        let (host, realm) = match self.directory.serving(&m.imsi).await {
            Ok(Serving::At { host, realm }) => (host, realm),
            Ok(Serving::Detached) => return failed("no MME serves the SIM now".into(), true),
            Ok(Serving::Unknown) => return failed("unknown SIM".into(), false),
            Err(e) => return failed(format!("subscriber data unavailable: {e}"), true),
        };
        let connections = self.directory.connections(&host);
        if connections.is_empty() {
            return failed(format!("the serving MME {host} is not connected"), true);
        }
        let originator = match TpAddress::parse(&m.originator, tpdu::Field::OriginatingAddress) {
            Ok(a) => a,
            Err(e) => return failed(e.to_string(), false),
        };
        if m.segments.is_empty() {
            return failed("no segments".into(), false);
        }
        let stamp = tpdu::scts(time::OffsetDateTime::now_utc());
        let n = m.segments.len();
        let mut outcome = failed("no segments".into(), false);
        for (i, ud) in m.segments.iter().enumerate() {
            let last = i + 1 == n;
            let deliver = match tpdu::sms_deliver(&originator, m.pid, m.dcs, stamp, true, ud, last) {
                Ok(t) => t,
                Err(e) => return failed(format!("segment {}: {e}", i + 1), false),
            };
            let request =
                tfr(&self.node, &self.session_id(), &m.imsi, (&host, &realm), &self.sc_address, deliver, !last);
            outcome = self.send_one(&connections, request).await;
            if !matches!(outcome, MtOutcome::Delivered { .. }) {
                return match outcome {
                    MtOutcome::Failed { reason, retry } if n > 1 => {
                        failed(format!("segment {} of {n}: {reason}", i + 1), retry)
                    }
                    other => other,
                };
            }
        }
        outcome
    }
}

impl MtSender for SgdSender {
    fn send<'a>(&'a self, message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node { origin_host: "warden.home.example".into(), origin_realm: "home.example".into() }
    }

    fn ofr(user: Vec<Avp>, tpdu: &[u8]) -> Message {
        let mut m = Message::request(Command::OFR);
        m.add(avp::SESSION_ID, "mme;1;2");
        m.add(avp::AUTH_SESSION_STATE, 1u32);
        m.add(avp::ORIGIN_HOST, "mme.visited.example");
        m.add(avp::ORIGIN_REALM, "visited.example");
        m.add(avp::DESTINATION_REALM, "home.example");
        m.add(avp::SC_ADDRESS, tbcd("4910"));
        m.add(avp::USER_IDENTIFIER, user);
        m.add(avp::SM_RP_UI, tpdu);
        m
    }

    fn user() -> Vec<Avp> {
        vec![Avp::new(avp::USER_NAME, "001010000000001"), Avp::new(avp::MSISDN, tbcd("4915550001"))]
    }

    #[test]
    fn tbcd_round_trips() {
        assert_eq!(tbcd("4915"), vec![0x94, 0x51]);
        assert_eq!(tbcd("491"), vec![0x94, 0xF1]);
        assert_eq!(tbcd_digits(&[0x94, 0xF1]).as_deref(), Some("491"));
        assert_eq!(tbcd_digits(&[0xF4, 0x11]), None, "filler inside");
        assert_eq!(tbcd_digits(&[]), None);
    }

    #[test]
    fn ofr_round_trips_through_the_wire_and_reads_the_submit() {
        let submit = hex::decode("112a0c919471113254760000a702e834").unwrap();
        let wire = ofr(user(), &submit).encode();
        let back = Message::decode(&wire).unwrap();
        assert_eq!(back.command(), Some(Command::OFR));
        let m = mo_request(&back, "mme.visited.example").unwrap();
        assert_eq!(m.imsi.unwrap().as_str(), "001010000000001");
        assert_eq!(m.msisdn.as_deref(), Some("4915550001"));
        assert_eq!((m.destination.as_str(), m.pid, m.dcs, m.udhi), ("+491711234567", 0, 0, false));
        assert_eq!(m.user_data, vec![0xE8, 0x34]);
    }

    #[test]
    fn malformed_ofrs_get_precise_answers() {
        let (o, imsi) = mo_request(&ofr(user(), &[0x00]), "m").unwrap_err();
        assert!(imsi.is_some());
        let a = ofa(&ofr(user(), &[0x00]), &node(), &o);
        assert_eq!(a.result_code(), Some(rc::INVALID_AVP_VALUE));
        assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("TP-MTI 0 is not SMS-SUBMIT"));
        let failed = a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap();
        assert!(failed[0].is(avp::SM_RP_UI));
        // A TP-DA that is not an address: SM_DELIVERY_FAILURE, INVALID_SME_ADDRESS.
        let (o, _) = mo_request(&ofr(user(), &hex::decode("012a159194").unwrap()), "m").unwrap_err();
        let a = Message::decode(&ofa(&ofr(user(), &[]), &node(), &o).encode()).unwrap();
        assert_eq!(experimental(&a), Some(rc::EXP_SM_DELIVERY_FAILURE));
        assert_eq!(delivery_failure_cause(&a), Some(FailureCause::InvalidSmeAddress as u32));
        // No IMSI.
        let (o, imsi) = mo_request(&ofr(vec![Avp::new(avp::USER_NAME, "x")], &[]), "m").unwrap_err();
        assert!(imsi.is_none());
        assert!(matches!(o, OfaOutcome::Result { code: rc::INVALID_AVP_VALUE, failed: Some(_), .. }));
        let (o, _) = mo_request(&ofr(vec![Avp::new(avp::MSISDN, tbcd("49"))], &[]), "m").unwrap_err();
        assert!(matches!(o, OfaOutcome::Result { code: rc::INVALID_AVP_VALUE, .. }));
    }

    #[test]
    fn verdicts_map_to_answers() {
        let barred = OfaOutcome::of(&MoVerdict::Barred { reason: "x".into() });
        assert_eq!(
            barred,
            OfaOutcome::Experimental {
                code: rc::EXP_SM_DELIVERY_FAILURE,
                cause: Some(FailureCause::UserNotScUser),
                message: Some("x".into())
            }
        );
        let a = ofa(&ofr(user(), &[]), &node(), &OfaOutcome::of(&MoVerdict::Accepted));
        assert_eq!((a.result_code(), a.is_request()), (Some(rc::SUCCESS), false));
        assert_eq!(a.header.code, Command::OFR.code());
        let busy = OfaOutcome::of(&MoVerdict::Failed { reason: "smsc down".into(), retry: true });
        assert!(matches!(busy, OfaOutcome::Experimental { cause: Some(FailureCause::ScCongestion), .. }));
    }

    #[test]
    fn tfr_carries_the_deliver_and_tfa_results_map_to_outcomes() {
        let imsi: Imsi = "001010000000001".parse().unwrap();
        let t = tfr(&node(), "s;1;2", &imsi, ("mme", "visited"), "4910", vec![0x44, 1, 2], true);
        let back = Message::decode(&t.encode()).unwrap();
        assert_eq!(back.command(), Some(Command::TFR));
        assert!(back.is_request() && back.header.flags & diameter::header::flags::P != 0);
        assert_eq!(back.get_u32(avp::TFR_FLAGS), Some(1));
        assert_eq!(back.get(avp::SC_ADDRESS).unwrap().as_bytes(), Some(&[0x94, 0x01][..]));
        let answer = |f: &dyn Fn(&mut Message)| {
            let mut a = Message::answer_to(&back.header, back.session_id());
            f(&mut a);
            tfa_outcome(&Message::decode(&a.encode()).unwrap())
        };
        let exp = |code: u32| {
            move |a: &mut Message| {
                a.add(
                    avp::EXPERIMENTAL_RESULT,
                    vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, code)],
                );
            }
        };
        assert_eq!(
            answer(&|a| {
                a.add(avp::RESULT_CODE, rc::SUCCESS);
                a.add(avp::SM_RP_UI, hex::decode("40077ff60502710000aa").unwrap());
            }),
            MtOutcome::Delivered { report_user_data: Some(hex::decode("02710000aa").unwrap()) }
        );
        assert_eq!(
            answer(&|a| {
                a.add(avp::RESULT_CODE, rc::SUCCESS);
            }),
            MtOutcome::Delivered { report_user_data: None }
        );
        assert!(matches!(answer(&exp(rc::EXP_ABSENT_USER)), MtOutcome::Failed { retry: true, .. }));
        assert!(matches!(answer(&exp(rc::EXP_USER_UNKNOWN)), MtOutcome::Failed { retry: false, .. }));
        assert!(matches!(answer(&exp(rc::EXP_FACILITY_NOT_SUPPORTED)), MtOutcome::Failed { retry: false, .. }));
        let full = answer(&|a| {
            exp(rc::EXP_SM_DELIVERY_FAILURE)(a);
            a.add(avp::SM_DELIVERY_FAILURE_CAUSE, vec![Avp::new(avp::SM_ENUMERATED_DELIVERY_FAILURE_CAUSE, 0u32)]);
        });
        assert!(matches!(full, MtOutcome::Failed { retry: true, .. }), "memory capacity exceeded: retry");
        assert!(matches!(
            answer(&|a| {
                a.add(avp::RESULT_CODE, rc::TOO_BUSY);
            }),
            MtOutcome::Failed { retry: true, .. }
        ));
    }
}
