//! OTA over SGd end to end (docs/ota.md, docs/sms.md). `warden serve` with `[ota]` and `[sms] sgd`
//! sends an update-file job's secured packet as MT-Forward-Short-Message to the SIM's serving MME (the
//! one its ULR came from). The MME — a Diameter peer on loopback — hands the SMS-DELIVER to a card
//! simulator (`testkit::uicc::Card`, independent of the sender), which opens the packet, applies the
//! UPDATE BINARY and answers its PoR as an SMS-SUBMIT (SPI: PoR by SMS-SUBMIT) that the MME sends back
//! as MO-Forward-Short-Message to the OTA address. The router hands it to the engine without
//! screening it, the engine verifies it: the job completes, the card's file holds the new content and
//! the SIM's OTA history shows `por_ok`. A second job to a SIM whose card has other keys writes
//! nothing: the card's refusal is an unprotected error PoR without the counter it could not read,
//! which the engine matches to the SIM's only waiting command and records as `por_error` with the
//! card's status (docs/ota.md).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{http, node, sims_csv, warden, REALM};
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{connect_with, ConnectionLimits, Handler, PeerHandle};
use diameter::{avp, Avp, Command, Message};
use ota::{Counter, KeySet};
use sms::sgd::tbcd;
use sms::tpdu::{Field, SmsSubmit, TpAddress, ValidityPeriod};
use testkit::s6a::{self, PLMN_00101};
use testkit::uicc::Card;

const MME: &str = "mme1.home.example";
const GOOD: &str = "001010000000001";
const WRONG_KEYS: &str = "001010000000002";
const OTA_ADDRESS: &str = "+4912345";
const ENC: &str = "000102030405060708090a0b0c0d0e0f";
const MAC: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

const PROFILES: &str = r#"
[[profile]]
name = "ota-meter"
services = ["data", "sms"]
"#;

/// The MME with the cards of the SIMs it serves.
struct MmeSide {
    cards: Mutex<BTreeMap<String, Card>>,
    segments: Mutex<Vec<Vec<u8>>>,
    /// What Warden answered to each PoR's MO-Forward-Short-Message.
    ofas: Arc<Mutex<Vec<Message>>>,
}

impl Handler for MmeSide {
    async fn handle(&self, req: Message, peer: PeerHandle) -> Option<Message> {
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::AUTH_SESSION_STATE, 1u32);
        a.add(avp::ORIGIN_HOST, MME);
        a.add(avp::ORIGIN_REALM, REALM);
        if req.command() != Some(Command::TFR) {
            a.add(avp::RESULT_CODE, 3001u32);
            return Some(a);
        }
        a.add(avp::RESULT_CODE, 2001u32);
        let imsi = req.get_str(avp::USER_NAME).unwrap().to_string();
        let deliver = ota::sms::parse_deliver(req.get(avp::SM_RP_UI).unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!((deliver.pid, deliver.dcs), (0x7F, 0xF6), "SIM data download, class 2 8-bit");
        self.segments.lock().unwrap().push(deliver.user_data);
        if req.get_u32(avp::TFR_FLAGS) == Some(1) {
            return Some(a); // more segments follow
        }
        let segments = std::mem::take(&mut *self.segments.lock().unwrap());
        let por = self.cards.lock().unwrap().get_mut(&imsi).unwrap().receive(&segments);
        let ofas = self.ofas.clone();
        tokio::spawn(async move {
            let answer = peer.request(por_ofr(&imsi, &por)).await.expect("OFA");
            ofas.lock().unwrap().push(answer);
        });
        Some(a)
    }
}

/// The PoR as the card sends it: an SMS-SUBMIT to the OTA address, in an MO-Forward-Short-Message.
fn por_ofr(imsi: &str, por: &[u8]) -> Message {
    let submit = SmsSubmit {
        reject_duplicates: false,
        status_report_request: false,
        reply_path: false,
        udhi: true,
        message_reference: 0,
        destination: TpAddress::parse(OTA_ADDRESS, Field::DestinationAddress).unwrap(),
        pid: 0x7F,
        dcs: 0xF6,
        validity: ValidityPeriod::None,
        udl: por.len() as u8,
        user_data: por.to_vec(),
    };
    let mut m = Message::request(Command::OFR);
    m.add(avp::SESSION_ID, format!("{MME};por;{imsi};{}", por.len()).as_str());
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, MME);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::SC_ADDRESS, tbcd("4910"));
    m.add(avp::USER_IDENTIFIER, vec![Avp::new(avp::USER_NAME, imsi)]);
    m.add(avp::SM_RP_UI, submit.encode());
    m
}

fn card(enc: &str) -> Card {
    Card {
        keys: KeySet::new(0x12, 0x12, &hex::decode(enc).unwrap(), &hex::decode(MAC).unwrap()).unwrap(),
        tars: vec![[0xB0, 0x00, 0x11]],
        counter: Counter::default(),
        files: BTreeMap::from([(0x6F07, vec![0; 9])]),
    }
}

async fn connect(addr: SocketAddr, side: Arc<MmeSide>) -> PeerHandle {
    let cfg = PeerConfig::new(MME, REALM, vec![Application::S6A, Application::SGD]);
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let (peer, _) = tokio::time::timeout(
        Duration::from_secs(5),
        connect_with(addr, cfg, allow, ConnectionLimits::default(), None, side),
    )
    .await
    .expect("CEA in time")
    .expect("the MME is admitted");
    peer
}

async fn job_until_done(api: &str, token: &str, imsi: &str) -> serde_json::Value {
    let body = serde_json::json!({"kind": "update_file", "imsis": [imsi], "path": "3F00/7FFF/6F07", "data": "0809101112131415ff"});
    let (status, created) = http("POST", &format!("{api}/ota/jobs"), token, Some(body)).await;
    assert_eq!(status, 202, "{created}");
    let id = created["job"]["id"].as_str().unwrap().to_string();
    let mut job = serde_json::Value::Null;
    for _ in 0..300 {
        job = http("GET", &format!("{api}/ota/jobs/{id}"), token, None).await.1;
        if matches!(job["state"].as_str(), Some("succeeded" | "completed_with_errors")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_file_job_goes_over_sgd_and_its_por_comes_back_as_mo() {
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{MME}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"s6a\", \"sgd\"]\n[sms]\nsgd = true\nsc_address = \"+4910\"\n\
         [ota]\noriginator = \"{OTA_ADDRESS}\"\npor_timeout_secs = 3\nmax_attempts = 1\nretry_backoff_secs = 0\n"
    );
    let n = node("5d", &[], "", &extra);
    n.import(PROFILES, &sims_csv(&[(GOOD, "ota-meter", "acme"), (WRONG_KEYS, "ota-meter", "acme")]));
    let keys = n.dir.path().join("keys.csv");
    std::fs::write(
        &keys,
        format!("imsi,keyset,kic,kid,tar,enc_key,mac_key\n{GOOD},1,12,12,b00011,{ENC},{MAC}\n{WRONG_KEYS},1,12,12,b00011,{ENC},{MAC}\n"),
    )
    .unwrap();
    assert!(warden(n.dir.path(), &["ota", "keys", "import", keys.to_str().unwrap()]).status.success());
    let token = n.admin_token();
    let _server = n.start().await;

    let ofas = Arc::new(Mutex::new(Vec::new()));
    let cards = BTreeMap::from([(GOOD.to_string(), card(ENC)), (WRONG_KEYS.to_string(), card(MAC))]);
    let side = Arc::new(MmeSide { cards: Mutex::new(cards), segments: Mutex::default(), ofas: ofas.clone() });
    let mme = connect(n.diameter, side.clone()).await;
    for (i, imsi) in [GOOD, WRONG_KEYS].into_iter().enumerate() {
        let from = s6a::Node { host: MME, realm: REALM };
        let ula = mme.request(s6a::ulr(from, REALM, imsi, PLMN_00101, None, &format!("attach-{i}"))).await.unwrap();
        assert_eq!(ula.result_code(), Some(2001), "ULR {imsi}");
    }

    let job = job_until_done(&n.api(), &token, GOOD).await;
    assert_eq!((job["state"].as_str(), job["failed"].as_i64()), (Some("succeeded"), Some(0)), "{job}");
    assert_eq!(
        side.cards.lock().unwrap()[GOOD].files[&0x6F07],
        hex::decode("0809101112131415ff").unwrap(),
        "the card applied the UPDATE BINARY"
    );
    let (_, h) = http("GET", &format!("{}/sims/{GOOD}/ota", n.api()), &token, None).await;
    assert_eq!(h["items"][0]["state"].as_str(), Some("por_ok"), "{h}");
    {
        let ofas = ofas.lock().unwrap();
        assert_eq!(ofas.len(), 1);
        assert_eq!(ofas[0].result_code(), Some(2001), "the PoR is taken, not screened: {:?}", ofas[0]);
    }

    // A card with other keys answers an unprotected security error without the command's counter;
    // nothing is written and the card's status is what the history shows.
    let job = job_until_done(&n.api(), &token, WRONG_KEYS).await;
    assert_eq!((job["state"].as_str(), job["failed"].as_i64()), (Some("completed_with_errors"), Some(1)), "{job}");
    assert_eq!(side.cards.lock().unwrap()[WRONG_KEYS].files[&0x6F07], vec![0; 9]);
    let (_, h) = http("GET", &format!("{}/sims/{WRONG_KEYS}/ota", n.api()), &token, None).await;
    let item = &h["items"][0];
    assert_eq!(item["state"].as_str(), Some("por_error"), "{h}");
    assert!(item["por_status"].is_string(), "the card's status is reported: {h}");
}
