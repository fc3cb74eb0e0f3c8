//! OTA over SMPP end to end (docs/ota.md, docs/sms.md). `warden serve` with `[ota]` and `[sms.smpp]`
//! (no SGd) binds to an SMSC — the SMPP client tests' simulator, whose PDU codec is PyPI smpplib's —
//! and sends an update-file job's secured packet as `submit_sm` to the SIM's MSISDN (UDHI, TP-PID
//! 0x7F, DCS 0xF6). The test hands the short message to a card simulator (`testkit::uicc::Card`),
//! which applies the UPDATE BINARY and answers its PoR; the SMSC delivers that PoR to Warden as an MO
//! `deliver_sm` from the SIM's MSISDN to the OTA address, and the engine matches and verifies it: the
//! job succeeds and the SIM's OTA history shows `por_ok`. Skipped when smpplib is missing, unless CI is set.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{http, node, sims_csv, warden};
use ota::{Counter, KeySet};
use serde_json::{json, Value};
use testkit::uicc::Card;

const IMSI: &str = "001010000000001";
const MSISDN: &str = "491700000001";
const OTA_ADDRESS: &str = "4912345";
const ENC: &str = "000102030405060708090a0b0c0d0e0f";
const MAC: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const SIM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../smpp/tests/data/smsc_sim.py");

struct Smsc {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<Value>,
}

impl Smsc {
    fn start() -> Smsc {
        let mut child = Command::new("python3")
            .args([SIM, "--system-id", "warden", "--password", "secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Smsc { child, stdin, events }
    }

    /// The next event of this kind (others are skipped), within 20 s.
    fn next(&self, kind: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let e = self.events.recv_timeout(left).unwrap_or_else(|_| panic!("no {kind} event from the SMSC"));
            if e["event"] == kind {
                return e;
            }
        }
    }

    fn cmd(&mut self, c: Value) {
        writeln!(self.stdin, "{c}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_smpplib() -> bool {
    let ok = Command::new("python3").args(["-c", "import smpplib.smpp"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "smpplib is missing (python3 -m pip install smpplib==2.2.4) and CI is set"
        );
        eprintln!("SKIPPED: smpplib is missing");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_file_job_goes_over_smpp_and_its_por_comes_back_as_deliver_sm() {
    if !have_smpplib() {
        return;
    }
    let mut smsc = Smsc::start();
    let port = smsc.next("listening")["port"].as_u64().unwrap();
    let n = node(
        "5e",
        &[],
        "",
        &format!(
            "[sms.smpp]\nhost = \"127.0.0.1\"\nport = {port}\nsystem_id = \"warden\"\npassword_file = \"smpp.password\"\n\
             [ota]\noriginator = \"+{OTA_ADDRESS}\"\npor_timeout_secs = 10\nmax_attempts = 1\nretry_backoff_secs = 0\n"
        ),
    );
    std::fs::write(n.dir.path().join("smpp.password"), "secret\n").unwrap();
    n.import(
        "[[profile]]\nname = \"ota-meter\"\nservices = [\"data\", \"sms\"]\n",
        &sims_csv(&[(IMSI, "ota-meter", "acme")]),
    );
    let keys = n.dir.path().join("keys.csv");
    std::fs::write(&keys, format!("imsi,keyset,kic,kid,tar,enc_key,mac_key\n{IMSI},1,12,12,b00011,{ENC},{MAC}\n"))
        .unwrap();
    assert!(warden(n.dir.path(), &["ota", "keys", "import", keys.to_str().unwrap()]).status.success());
    let token = n.admin_token();
    let _server = n.start().await;
    let bind = smsc.next("bind");
    assert_eq!(bind["system_id"], "warden", "{bind}");

    let body = json!({"kind": "update_file", "imsis": [IMSI], "path": "3F00/7FFF/6F07", "data": "0809101112131415ff"});
    let (status, created) = http("POST", &format!("{}/ota/jobs", n.api()), &token, Some(body)).await;
    assert_eq!(status, 202, "{created}");
    let id = created["job"]["id"].as_str().unwrap().to_string();

    let submit = tokio::task::block_in_place(|| smsc.next("submit_sm"));
    assert_eq!(submit["destination_addr"], MSISDN, "{submit}");
    assert_eq!((submit["esm_class"].as_u64(), submit["protocol_id"].as_u64()), (Some(0x40), Some(0x7F)), "{submit}");
    assert_eq!(submit["data_coding"].as_u64(), Some(0xF6), "{submit}");
    let mut card = Card {
        keys: KeySet::new(0x12, 0x12, &hex::decode(ENC).unwrap(), &hex::decode(MAC).unwrap()).unwrap(),
        tars: vec![[0xB0, 0x00, 0x11]],
        counter: Counter::default(),
        files: BTreeMap::from([(0x6F07, vec![0; 9])]),
    };
    let segment = hex::decode(submit["short_message"].as_str().unwrap()).unwrap();
    let por = card.receive(&[segment]);
    assert_eq!(card.files[&0x6F07], hex::decode("0809101112131415ff").unwrap(), "the card applied the update");
    smsc.cmd(json!({"cmd": "mo", "source_addr": MSISDN, "destination_addr": OTA_ADDRESS,
        "short_message": hex::encode(&por), "esm_class": 0x40, "protocol_id": 0x7F, "data_coding": 0xF6}));
    let resp = tokio::task::block_in_place(|| smsc.next("deliver_sm_resp"));
    assert_eq!(resp["status"].as_u64(), Some(0), "the PoR is taken: {resp}");

    let mut job = Value::Null;
    for _ in 0..200 {
        job = http("GET", &format!("{}/ota/jobs/{id}", n.api()), &token, None).await.1;
        if matches!(job["state"].as_str(), Some("succeeded" | "completed_with_errors")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job["state"].as_str(), Some("succeeded"), "{job}");
    let (_, h) = http("GET", &format!("{}/sims/{IMSI}/ota", n.api()), &token, None).await;
    assert_eq!(h["items"][0]["state"].as_str(), Some("por_ok"), "{h}");
}
