//! A UICC on the far side of SMS, for OTA tests: [`Card`] is a SIM-side simulator built on the card-side
//! API of `ota` only (reassembly, `CommandPacket::open`, the counter check, `parse_script`,
//! `build_response`) with a small transparent-file model: it refuses replays, counter rollback, wrong
//! keys, unknown TARs and a too low security level with the right PoR status and no change to its
//! files. [`SimNetwork`] is an in-process [`sms::MtSender`] that hands each message to the card of its
//! IMSI and brings the PoR back — as an MO message to the registered [`sms::MoHandler`] (SPI: PoR by
//! SMS-SUBMIT) or inside the delivery report — with failure injection per SIM.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use ota::sms::reassemble;
use ota::{
    build_response, parse_script, Apdu, CommandPacket, Counter, CounterPolicy, Integrity, KeySet, RemoteResponse,
    ResponseStatus, Spi,
};
use sms::{BoxFuture, MoHandler, MoMessage, MtMessage, MtOutcome, MtSender, Via};

/// The SPI of a PoR answered without security, for refusals the key set cannot protect.
const CLEAR: Spi = Spi {
    counter: ota::CounterMode::NoCounter,
    ciphered: false,
    integrity: Integrity::None,
    por: ota::PorRequest::Always,
    por_integrity: Integrity::None,
    por_ciphered: false,
    por_via_submit: false,
};

/// The card: one key set, the TARs it knows, its counter and transparent EFs by FID.
#[derive(Clone)]
pub struct Card {
    /// Its key set.
    pub keys: KeySet,
    /// The TARs of its RFM applications.
    pub tars: Vec<[u8; 3]>,
    /// The last counter accepted.
    pub counter: Counter,
    /// Transparent files by FID.
    pub files: BTreeMap<u16, Vec<u8>>,
}

impl Card {
    /// Processes the user data of the SMS of one command and answers the PoR's user data.
    pub fn receive(&mut self, segments: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
        let packet = reassemble(&refs).expect("well-formed SMS");
        let p = CommandPacket::parse(&packet).expect("well-formed packet");
        let clear = |status| build_response(&CLEAR, &self.keys, p.tar, Counter::default(), status, &[]).unwrap();
        if !self.tars.contains(&p.tar) {
            return clear(ResponseStatus::TarUnknown);
        }
        let opened = match p.open(&self.keys) {
            Ok(o) => o,
            Err(e) => return clear(e.por_status()),
        };
        let keys = self.keys.clone();
        let answer =
            |status, data: &[u8]| build_response(&opened.spi, &keys, opened.tar, opened.cntr, status, data).unwrap();
        if !(opened.spi.ciphered && opened.spi.integrity == Integrity::Cc) {
            return answer(ResponseStatus::InsufficientSecurityLevel, &[]);
        }
        if let Err(e) = CounterPolicy::new(opened.spi.counter).accept(self.counter, opened.cntr) {
            return answer(e.por_status(), &[]);
        }
        self.counter = opened.cntr;
        let Ok((_, apdus)) = parse_script(&opened.data) else {
            return answer(ResponseStatus::UnidentifiedSecurityError, &[]);
        };
        let (mut done, mut sw, mut out) = (0u8, [0x90, 0x00], Vec::new());
        let mut current = None;
        for a in &apdus {
            (sw, out) = self.execute(a, &mut current);
            done += 1;
            if sw[0] != 0x90 && sw[0] != 0x61 {
                break;
            }
        }
        answer(ResponseStatus::PorOk, &RemoteResponse::Compact { commands: done, sw, data: out }.to_bytes())
    }

    fn execute(&mut self, a: &Apdu, current: &mut Option<u16>) -> ([u8; 2], Vec<u8>) {
        match a.ins {
            0xA4 => {
                let fid = u16::from_be_bytes([a.data[a.data.len() - 2], a.data[a.data.len() - 1]]);
                if self.files.contains_key(&fid) || fid == 0x3F00 {
                    *current = Some(fid);
                    ([0x90, 0x00], vec![])
                } else {
                    ([0x6A, 0x82], vec![])
                }
            }
            0xD6 => {
                let Some(file) = current.and_then(|f| self.files.get_mut(&f)) else { return ([0x69, 0x86], vec![]) };
                let offset = usize::from(u16::from_be_bytes([a.p1, a.p2]));
                if offset + a.data.len() > file.len() {
                    return ([0x6B, 0x00], vec![]); // nothing written
                }
                file[offset..offset + a.data.len()].copy_from_slice(&a.data);
                ([0x90, 0x00], vec![])
            }
            0xB0 => {
                let Some(file) = current.and_then(|f| self.files.get(&f)) else { return ([0x69, 0x86], vec![]) };
                let offset = usize::from(u16::from_be_bytes([a.p1, a.p2]));
                let len = usize::from(a.le.unwrap_or(0));
                (
                    file.get(offset..offset + len).map_or([0x6B, 0x00], |_| [0x90, 0x00]),
                    file.get(offset..offset + len).unwrap_or_default().to_vec(),
                )
            }
            _ => ([0x6D, 0x00], vec![]),
        }
    }
}

/// What the network does to the next messages of a SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The message reaches the card, the PoR is lost.
    LosePor,
    /// The message is refused by the transport (`retry` as given).
    Refuse {
        /// Whether trying again may help.
        retry: bool,
    },
    /// The card's answer is replaced by this PoR user data.
    AnswerWith(Vec<u8>),
    /// The PoR is held back ([`SimNetwork::take_held`]) instead of answered.
    HoldPor,
}

/// An in-process SMS network of cards: an [`MtSender`] that delivers to [`Card`]s.
#[derive(Default)]
pub struct SimNetwork {
    cards: Mutex<HashMap<String, Card>>,
    faults: Mutex<HashMap<String, Vec<Fault>>>,
    handler: OnceLock<Arc<dyn MoHandler>>,
    sent: Mutex<Vec<String>>,
    held: Mutex<HashMap<String, Vec<Vec<u8>>>>,
    /// PoRs in the delivery report (SMS-DELIVER-REPORT) instead of an MO message.
    pub in_report: bool,
}

impl SimNetwork {
    /// A network whose cards answer by MO message.
    pub fn new() -> Arc<SimNetwork> {
        Arc::new(SimNetwork::default())
    }

    /// A network whose cards answer in the delivery report.
    pub fn answering_in_report() -> Arc<SimNetwork> {
        Arc::new(SimNetwork { in_report: true, ..SimNetwork::default() })
    }

    /// Where MO PoRs go.
    pub fn set_handler(&self, h: Arc<dyn MoHandler>) {
        let _ = self.handler.set(h);
    }

    /// Inserts the card of `imsi`.
    pub fn insert(&self, imsi: &str, card: Card) {
        self.cards.lock().expect("cards").insert(imsi.into(), card);
    }

    /// A copy of the card of `imsi`.
    pub fn card(&self, imsi: &str) -> Option<Card> {
        self.cards.lock().expect("cards").get(imsi).cloned()
    }

    /// Queues faults for the next messages to `imsi`, in order.
    pub fn fault(&self, imsi: &str, faults: Vec<Fault>) {
        self.faults.lock().expect("faults").entry(imsi.into()).or_default().extend(faults);
    }

    /// The IMSIs of every message sent, in order.
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("sent").clone()
    }

    /// The PoRs held back for `imsi` (taken).
    pub fn take_held(&self, imsi: &str) -> Vec<Vec<u8>> {
        self.held.lock().expect("held").remove(imsi).unwrap_or_default()
    }

    fn deliver(&self, m: &MtMessage) -> MtOutcome {
        let imsi = m.imsi.as_str().to_string();
        self.sent.lock().expect("sent").push(imsi.clone());
        let fault = {
            let mut f = self.faults.lock().expect("faults");
            f.get_mut(&imsi).and_then(|q| (!q.is_empty()).then(|| q.remove(0)))
        };
        if let Some(Fault::Refuse { retry }) = fault {
            return MtOutcome::Failed { reason: "injected refusal".into(), retry };
        }
        let por = {
            let mut cards = self.cards.lock().expect("cards");
            let Some(card) = cards.get_mut(&imsi) else {
                return MtOutcome::Failed { reason: "unknown subscriber".into(), retry: false };
            };
            card.receive(&m.segments)
        };
        let por = match fault {
            Some(Fault::LosePor) => return MtOutcome::Delivered { report_user_data: None },
            Some(Fault::HoldPor) => {
                self.held.lock().expect("held").entry(imsi).or_default().push(por);
                return MtOutcome::Delivered { report_user_data: None };
            }
            Some(Fault::AnswerWith(ud)) => ud,
            _ => por,
        };
        if self.in_report {
            return MtOutcome::Delivered { report_user_data: Some(por) };
        }
        if let Some(h) = self.handler.get().cloned() {
            let mo = MoMessage {
                imsi: Some(m.imsi.clone()),
                msisdn: None,
                destination: m.originator.clone(),
                pid: ota::sms::PID_SIM_DATA_DOWNLOAD,
                dcs: ota::sms::DCS_CLASS2_8BIT,
                udhi: true,
                user_data: por,
                via: Via::Smpp,
            };
            tokio::spawn(async move {
                h.received(&mo).await;
            });
        }
        MtOutcome::Accepted { message_id: format!("m{}", self.sent.lock().expect("sent").len()) }
    }
}

impl MtSender for SimNetwork {
    fn send<'a>(&'a self, message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(async move { self.deliver(message) })
    }
}
