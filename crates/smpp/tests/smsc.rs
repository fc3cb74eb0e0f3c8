//! The client against an SMSC simulator whose codec is PyPI smpplib's (tests/data/smsc_sim.py):
//! binds, bad credentials, a binary UDH payload byte-exact, throttling, a dropped connection, an
//! unbind from the SMSC, delivery receipts, MO messages, enquire_link both ways, TLS, and the
//! traffic decoded by tshark. Skipped with a message when smpplib is missing, unless `CI` is set.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use smpp::{mapping, SmppClient, SmppConfig};
use sms::{
    BoxFuture, DeliveryReport, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink, Via,
};
use tokio::sync::mpsc;

const SIM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smsc_sim.py");
const SYSTEM_ID: &str = "warden";
const PASSWORD: &str = "s3cret";

fn have_smpplib() -> bool {
    let ok = Command::new("python3").args(["-c", "import smpplib.smpp"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("smpplib is missing (python3 -m pip install smpplib==2.2.4) and CI is set");
        }
        eprintln!("SKIPPED: smpplib is missing; install it with `python3 -m pip install smpplib==2.2.4`");
    }
    ok
}

/// The simulator process, its events and a way to command it.
struct Sim {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    /// Every event so far.
    seen: Vec<Value>,
    /// Events not yet taken by [`Sim::wait`].
    backlog: std::collections::VecDeque<Value>,
    port: u16,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    async fn start() -> Sim {
        let mut child = Command::new("python3")
            .args([SIM, "--system-id", SYSTEM_ID, "--password", PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("simulator said {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let mut sim = Sim { child, stdin, events, seen: Vec::new(), backlog: Default::default(), port: 0 };
        let listening = sim.wait("listening", |_| true).await;
        sim.port = listening["port"].as_u64().unwrap() as u16;
        sim
    }

    /// Sends a command and waits until the simulator has carried it out.
    async fn cmd(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
        let name = v["cmd"].clone();
        self.wait("done", |e| e["cmd"] == name).await;
    }

    /// Waits (10 s at most) for the oldest event not yet taken that is named `name` and accepted
    /// by `pred`, and takes it.
    async fn wait(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let matches = |e: &Value| e["event"] == name && pred(e);
        if let Some(i) = self.backlog.iter().position(matches) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within 10 s; seen {:?}", self.seen))
                .expect("the simulator stopped");
            assert_ne!(event["event"], "error", "simulator error: {event}");
            self.seen.push(event.clone());
            if matches(&event) {
                return event;
            }
            self.backlog.push_back(event);
        }
    }

    /// Takes in the events that arrived so far without waiting.
    fn drain(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e.clone());
            self.backlog.push_back(e);
        }
    }

    fn count(&self, name: &str) -> usize {
        self.seen.iter().filter(|e| e["event"] == name).count()
    }
}

#[derive(Default)]
struct Mo {
    verdict: Mutex<Option<MoVerdict>>,
    got: Mutex<Vec<MoMessage>>,
}

impl MoHandler for Mo {
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        Box::pin(async move {
            self.got.lock().unwrap().push(message.clone());
            self.verdict.lock().unwrap().clone().unwrap_or(MoVerdict::Accepted)
        })
    }
}

#[derive(Default)]
struct Reports(Mutex<Vec<DeliveryReport>>);

impl ReportSink for Reports {
    fn report<'a>(&'a self, report: &'a DeliveryReport) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.0.lock().unwrap().push(report.clone()) })
    }
}

struct Harness {
    client: SmppClient,
    mo: Arc<Mo>,
    reports: Arc<Reports>,
    _dir: tempfile::TempDir,
}

fn config(port: u16, password: &str) -> (SmppConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smpp.pass");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let mut c = SmppConfig::new("127.0.0.1", port, SYSTEM_ID, file);
    c.system_type = "OTA".into();
    c.response_timeout_ms = 3_000;
    c.reconnect_min_ms = 100;
    c.reconnect_max_ms = 400;
    c.throttle_delay_ms = 200;
    (c, dir)
}

fn start(c: SmppConfig, dir: tempfile::TempDir) -> Harness {
    let mo = Arc::new(Mo::default());
    let reports = Arc::new(Reports::default());
    let client = SmppClient::start(c, mo.clone(), reports.clone()).expect("start");
    Harness { client, mo, reports, _dir: dir }
}

/// A simulator and a client bound to it with the default test settings; `None` (the test is
/// skipped) without smpplib.
async fn bound() -> Option<(Sim, Harness)> {
    bound_with(|_| {}).await
}

/// [`bound`] with settings changed by `tweak`.
async fn bound_with(tweak: impl FnOnce(&mut SmppConfig)) -> Option<(Sim, Harness)> {
    if !have_smpplib() {
        return None;
    }
    let mut sim = Sim::start().await;
    let (mut c, dir) = config(sim.port, PASSWORD);
    tweak(&mut c);
    let h = start(c, dir);
    assert!(h.client.wait_bound(Duration::from_secs(10)).await, "not bound: {:?}", h.client.status());
    sim.wait("bind", |e| e["ok"] == true).await;
    Some((sim, h))
}

fn mt(segments: Vec<Vec<u8>>) -> MtMessage {
    MtMessage {
        imsi: "001010000000001".parse().unwrap(),
        msisdn: Some("+491701234567".into()),
        originator: "+4915550".into(),
        pid: 0x7F,
        dcs: 0xF6,
        segments,
        reference: "job-1".into(),
    }
}

/// The mapping alone (no simulator needed).
#[test]
fn an_mt_segment_maps_onto_submit_sm() {
    let sm = mapping::submit_sm(&mt(vec![]), &[0x02, 0x70, 0x00, 0xAA]).unwrap();
    assert_eq!((sm.dest_addr_ton, sm.dest_addr_npi, sm.destination_addr.as_str()), (1, 1, "491701234567"));
    assert_eq!((sm.source_addr_ton, sm.source_addr_npi, sm.source_addr.as_str()), (1, 1, "4915550"));
    assert_eq!((sm.esm_class, sm.protocol_id, sm.data_coding, sm.registered_delivery), (0x40, 0x7F, 0xF6, 1));
    assert_eq!(sm.short_message, [0x02, 0x70, 0x00, 0xAA]);
    let long = mapping::submit_sm(&mt(vec![]), &[0u8; 300]).unwrap();
    assert!(long.short_message.is_empty());
    assert_eq!(long.tlvs.message_payload().map(<[u8]>::len), Some(300));
    let mut no_msisdn = mt(vec![]);
    no_msisdn.msisdn = None;
    assert!(mapping::submit_sm(&no_msisdn, &[1]).unwrap_err().contains("no MSISDN"));
    assert_eq!(mapping::source_address("12345"), (0, 1, "12345".into()));
    assert_eq!(mapping::source_address("Warden"), (5, 0, "Warden".into()));
}

/// Two concatenated segments of a TS 31.115 command packet: UDH with IEI 0x00 (concatenation,
/// reference 0x2A, 2 parts) and IEI 0x70 (command packet), then binary data with NUL and 0xFF
/// octets in it.
fn udh_segments() -> Vec<Vec<u8>> {
    let mut first = vec![0x07, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x70, 0x00];
    first.extend((0u8..=127).map(|i| i.wrapping_mul(37)));
    let mut second = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x02];
    second.extend([0x00, 0xFF, 0x00, 0x7F, 0x80, 0x1B]);
    vec![first, second]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_and_submits_a_binary_udh_payload_byte_exact() {
    let Some((mut sim, h)) = bound().await else { return };
    let bind = sim.seen.iter().find(|e| e["event"] == "bind").unwrap().clone();
    assert_eq!(bind["command"], "bind_transceiver");
    assert_eq!(bind["system_type"], "OTA");
    assert_eq!(bind["interface_version"], 0x34);

    let segments = udh_segments();
    let outcome = h.client.send(&mt(segments.clone())).await;
    let first = sim.wait("submit_sm", |_| true).await;
    let second = sim.wait("submit_sm", |_| true).await;
    // The last segment's message id (decision: docs/sms.md).
    assert_eq!(outcome, MtOutcome::Accepted { message_id: second["message_id"].as_str().unwrap().to_string() });
    for (event, segment) in [(&first, &segments[0]), (&second, &segments[1])] {
        assert_eq!(event["short_message"], hex::encode(segment), "user data must arrive byte-exact");
        assert_eq!(event["esm_class"], 0x40);
        assert_eq!(event["protocol_id"], 0x7F);
        assert_eq!(event["data_coding"], 0xF6);
        assert_eq!((event["dest_addr_ton"].clone(), event["dest_addr_npi"].clone()), (json!(1), json!(1)));
        assert_eq!(event["destination_addr"], "491701234567");
        assert_eq!(event["source_addr"], "4915550");
        assert_eq!(event["source_addr_ton"], 1);
        assert_eq!(event["registered_delivery"], 1);
    }

    // Without an MSISDN there is nothing to address: a permanent failure, nothing sent.
    let mut no_msisdn = mt(vec![vec![1, 2, 3]]);
    no_msisdn.msisdn = None;
    assert!(matches!(h.client.send(&no_msisdn).await, MtOutcome::Failed { retry: false, .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enquire_link_is_sent_as_keep_alive_and_answered() {
    let Some((mut sim, h)) = bound_with(|c| c.enquire_link_secs = 1).await else { return };
    // The client's keep-alive reaches the SMSC (smpplib parses it and the simulator answers).
    sim.wait("enquire_link", |_| true).await;
    // The SMSC's enquire_link is answered with enquire_link_resp, status 0.
    sim.cmd(json!({"cmd": "enquire_link"})).await;
    let resp = sim.wait("enquire_link_resp", |_| true).await;
    assert_eq!(resp["status"], 0);
    assert!(h.client.status().bound);
    assert_eq!(h.client.status().binds, 1, "answered keep-alives keep the same bind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_is_refused_surfaced_and_retried_with_backoff() {
    if !have_smpplib() {
        return;
    }
    let mut sim = Sim::start().await;
    let (c, dir) = config(sim.port, "wrong");
    let h = start(c, dir);
    let started = Instant::now();
    sim.wait("bind", |e| e["ok"] == false).await;
    // The first send waits for a bind (response_timeout_ms) and fails saying why.
    let outcome = h.client.send(&mt(vec![vec![1]])).await;
    let MtOutcome::Failed { reason, retry: true } = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("ESME_RINVPASWD"), "{reason}");
    assert!(!reason.contains("wrong"), "the password must not appear: {reason}");
    tokio::time::sleep(Duration::from_millis(2_500).saturating_sub(started.elapsed())).await;
    let status = h.client.status();
    sim.drain();
    assert!(!status.bound);
    let error = status.last_error.clone().unwrap();
    assert!(error.contains("refused bind_transceiver") && error.contains("ESME_RINVPASWD (0x0000000E)"), "{error}");
    // Backoff 100, 200, 400, 400, … ms: about 2.5 s / 0.4 s attempts, not a hot loop.
    let elapsed = started.elapsed().as_secs_f64();
    assert!(status.bind_refusals >= 3, "{status:?}");
    assert!((status.bind_refusals as f64) <= 2.0 + elapsed / 0.4 + 1.0, "{status:?} in {elapsed} s");
    assert_eq!(sim.count("bind") as u64, status.bind_refusals, "every refusal came from the SMSC");
    assert_eq!(sim.count("submit_sm"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_after_a_delay_and_then_reported_retryable() {
    let Some((mut sim, h)) = bound().await else { return };
    // Two ESME_RTHROTTLED answers, then accepted: the client sends the same submit_sm again.
    sim.cmd(json!({"cmd": "throttle", "count": 2, "status": 0x58})).await;
    let started = Instant::now();
    let outcome = h.client.send(&mt(vec![vec![0x02, 0x70, 0x00, 0xAB]])).await;
    let elapsed = started.elapsed();
    assert!(matches!(&outcome, MtOutcome::Accepted { .. }), "{outcome:?}");
    let a = sim.wait("submit_sm", |_| true).await;
    let b = sim.wait("submit_sm", |_| true).await;
    let c = sim.wait("submit_sm", |_| true).await;
    assert_eq!((a["status"].clone(), b["status"].clone(), c["status"].clone()), (json!(0x58), json!(0x58), json!(0)));
    assert_eq!(a["short_message"], c["short_message"]);
    assert!(elapsed >= Duration::from_millis(400), "two throttle delays of 200 ms: {elapsed:?}");

    // Still throttled after throttle_retries (3) more attempts: a retryable failure naming the status.
    sim.cmd(json!({"cmd": "throttle", "count": 10, "status": 0x14})).await;
    let outcome = h.client.send(&mt(vec![vec![0x02, 0x70, 0x00, 0xAC]])).await;
    let MtOutcome::Failed { reason, retry: true } = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("ESME_RMSGQFUL"), "{reason}");
    for _ in 0..4 {
        sim.wait("submit_sm", |e| e["status"] == 0x14).await;
    }
    sim.drain();
    assert_eq!(sim.count("submit_sm"), 7, "1 + 3 retries for the second message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_or_an_unbind_is_followed_by_a_new_bind() {
    let Some((mut sim, h)) = bound().await else { return };
    assert!(matches!(h.client.send(&mt(vec![vec![1]])).await, MtOutcome::Accepted { .. }));

    sim.cmd(json!({"cmd": "drop"})).await;
    sim.wait("closed", |_| true).await;
    sim.wait("bind", |e| e["ok"] == true).await;
    let outcome = h.client.send(&mt(vec![vec![2]])).await;
    let MtOutcome::Accepted { message_id } = outcome else { panic!("{outcome:?}") };
    let submit = sim.wait("submit_sm", |e| e["short_message"] == "02").await;
    assert_eq!(submit["message_id"], message_id.as_str());
    assert!(h.client.status().binds >= 2);

    // An unbind from the SMSC is answered, and the client binds again.
    sim.cmd(json!({"cmd": "unbind"})).await;
    sim.wait("unbind_resp", |_| true).await;
    sim.wait("bind", |e| e["ok"] == true).await;
    assert!(matches!(h.client.send(&mt(vec![vec![3]])).await, MtOutcome::Accepted { .. }));
    assert!(h.client.status().binds >= 3, "{:?}", h.client.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_receipts_reach_the_report_sink() {
    let Some((mut sim, h)) = bound().await else { return };
    // The Appendix B text alone.
    sim.cmd(json!({"cmd": "receipt", "message_id": "sim-7", "stat": "DELIVRD"})).await;
    let resp = sim.wait("deliver_sm_resp", |_| true).await;
    assert_eq!(resp["status"], 0);
    // With receipted_message_id and message_state TLVs (they win over the text).
    sim.cmd(json!({"cmd": "receipt", "message_id": "sim-8", "stat": "UNDELIV", "tlvs": true})).await;
    let resp = sim.wait("deliver_sm_resp", |_| true).await;
    assert_eq!(resp["status"], 0);
    assert_eq!(
        *h.reports.0.lock().unwrap(),
        vec![
            DeliveryReport { message_id: "sim-7".into(), delivered: true, state: "DELIVRD".into() },
            DeliveryReport { message_id: "sim-8".into(), delivered: false, state: "UNDELIV".into() },
        ]
    );
    assert!(h.mo.got.lock().unwrap().is_empty(), "receipts are not MO messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_deliver_sm_reaches_the_handler_and_its_verdict_is_answered() {
    let Some((mut sim, h)) = bound().await else { return };
    // A PoR-like MO: UDH IEI 0x71 and binary data.
    let user_data = "027100000b0a0000000000000000ff00";
    sim.cmd(json!({"cmd": "mo", "source_addr": "491701234567", "destination_addr": "4915550",
        "esm_class": 0x40, "protocol_id": 0x7F, "data_coding": 0xF6, "short_message": user_data}))
        .await;
    assert_eq!(sim.wait("deliver_sm_resp", |_| true).await["status"], 0);
    let got = h.mo.got.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![MoMessage {
            imsi: None,
            msisdn: Some("491701234567".into()),
            destination: "+4915550".into(),
            pid: 0x7F,
            dcs: 0xF6,
            udhi: true,
            user_data: hex::decode(user_data).unwrap(),
            via: Via::Smpp,
        }]
    );
    // A destination off the fixed dialling list: ESME_RX_R_APPN; a temporary failure: ESME_RX_T_APPN.
    *h.mo.verdict.lock().unwrap() = Some(MoVerdict::Barred { reason: "not on the FDL".into() });
    sim.cmd(json!({"cmd": "mo", "source_addr": "491701234567", "destination_addr": "4930123", "short_message": "48"}))
        .await;
    assert_eq!(sim.wait("deliver_sm_resp", |_| true).await["status"], 0x66);
    *h.mo.verdict.lock().unwrap() = Some(MoVerdict::Failed { reason: "busy".into(), retry: true });
    sim.cmd(json!({"cmd": "mo", "source_addr": "491701234567", "destination_addr": "4930123", "short_message": "48"}))
        .await;
    assert_eq!(sim.wait("deliver_sm_resp", |_| true).await["status"], 0x64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_decodes_in_tshark_without_expert_errors() {
    if !have_smpplib() {
        return;
    }
    let have = Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success())
        && Command::new("python3").args(["-c", "import scapy.all"]).output().is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var_os("CI").is_some() {
            panic!("tshark or scapy is missing and CI is set");
        }
        eprintln!("SKIPPED: tshark or scapy is missing");
        return;
    }
    let Some((mut sim, h)) = bound_with(|c| c.enquire_link_secs = 1).await else { return };
    assert!(matches!(h.client.send(&mt(udh_segments())).await, MtOutcome::Accepted { .. }));
    sim.cmd(json!({"cmd": "throttle", "count": 1})).await;
    assert!(matches!(h.client.send(&mt(vec![vec![0x02, 0x70, 0x00]])).await, MtOutcome::Accepted { .. }));
    sim.cmd(json!({"cmd": "receipt", "message_id": "sim-1", "stat": "DELIVRD", "tlvs": true})).await;
    sim.wait("deliver_sm_resp", |_| true).await;
    sim.cmd(
        json!({"cmd": "mo", "source_addr": "491701234567", "destination_addr": "4915550", "short_message": "0102"}),
    )
    .await;
    sim.wait("deliver_sm_resp", |_| true).await;
    sim.wait("enquire_link", |_| true).await;
    drop(h); // the link task is aborted; the traffic so far is what tshark reads

    let out_dir = tempfile::tempdir().unwrap();
    let pcap: PathBuf = out_dir.path().join("smpp.pcap");
    sim.cmd(json!({"cmd": "pcap", "path": pcap.to_str().unwrap()})).await;
    sim.wait("pcap", |_| true).await;
    let decode = format!("tcp.port=={},smpp", sim.port);
    let tshark = |filter: &str, fields: &[&str]| -> String {
        let mut args = vec!["-r", pcap.to_str().unwrap(), "-d", &decode, "-Y", filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        let out = Command::new("tshark").args(&args).output().expect("tshark");
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let commands = tshark("smpp", &["smpp.command_id"]);
    let names: Vec<&str> = commands.lines().flat_map(|l| l.split(',')).collect();
    for expected in ["0x00000009", "0x80000009", "0x00000004", "0x80000004", "0x00000005", "0x80000005", "0x00000015"] {
        assert!(names.contains(&expected), "tshark saw no {expected} in {names:?}");
    }
    let problems =
        tshark("_ws.malformed || _ws.expert.severity >= 0x00600000", &["frame.number", "_ws.expert.message"]);
    assert!(problems.trim().is_empty(), "tshark reports: {problems}");
    // tshark reads the UDH out of the submit_sm's short message (esm_class UDHI).
    let udh =
        tshark("smpp.command_id == 0x00000004", &["smpp.esm.submit.features", "smpp.protocol_id", "smpp.data_coding"]);
    // tshark reads the submit_sm fields as sent: UDHI set (0x01 in its esm_class features), TP-PID
    // 0x7F, TP-DCS 0xF6, for the two segments and the throttled message sent twice.
    assert_eq!(udh.lines().collect::<Vec<_>>(), vec!["0x01\t0x7f\t0xf6"; 4], "{udh}");
    // ... and reassembles the two segments by their concatenation UDH.
    // (128 + 6 octets after the two UDHs).
    let reassembled = tshark("gsm_sms_ud.reassembled.length", &["gsm_sms_ud.reassembled.length"]);
    assert_eq!(reassembled.trim(), "134", "tshark did not reassemble the concatenated message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_window_submits_are_outstanding() {
    let Some((mut sim, h)) = bound_with(|c| c.window = 2).await else { return };
    sim.cmd(json!({"cmd": "hold"})).await;
    let messages: Vec<MtMessage> = (0..5u8).map(|i| mt(vec![vec![0x02, 0x70, 0x00, i]])).collect();
    let control = async {
        sim.wait("submit_sm", |_| true).await;
        sim.wait("submit_sm", |_| true).await;
        // Nothing more goes out while two responses are held back.
        tokio::time::sleep(Duration::from_millis(500)).await;
        sim.drain();
        let outstanding = sim.count("submit_sm");
        sim.cmd(json!({"cmd": "release"})).await;
        outstanding
    };
    let (outstanding, a, b, c, d, e) = tokio::join!(
        control,
        h.client.send(&messages[0]),
        h.client.send(&messages[1]),
        h.client.send(&messages[2]),
        h.client.send(&messages[3]),
        h.client.send(&messages[4]),
    );
    assert_eq!(outstanding, 2, "window = 2");
    for outcome in [a, b, c, d, e] {
        assert!(matches!(outcome, MtOutcome::Accepted { .. }), "{outcome:?}");
    }
    sim.drain();
    assert_eq!(sim.count("submit_sm"), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_unbinds() {
    let Some((mut sim, h)) = bound().await else { return };
    let Harness { client, .. } = h;
    client.shutdown().await;
    sim.wait("unbind", |_| true).await;
    sim.wait("closed", |_| true).await;
    sim.drain();
    assert_eq!(sim.count("bind"), 1, "no reconnect after shutdown");
}

/// A TLS terminator on loopback in front of the simulator, with a certificate for `localhost`
/// signed by a test CA; returns its port and the CA's PEM.
async fn tls_front(sim_port: u16) -> (u16, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", sim_port)).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, ca.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_used_when_configured_and_an_unknown_ca_is_refused() {
    if !have_smpplib() {
        return;
    }
    let mut sim = Sim::start().await;
    let (port, ca) = tls_front(sim.port).await;
    let (mut c, dir) = config(port, PASSWORD);
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    c.tls = Some(smpp::SmppTlsConfig { ca_file: ca_file.clone(), server_name: Some("localhost".into()) });
    let h = start(c.clone(), dir);
    assert!(h.client.wait_bound(Duration::from_secs(10)).await, "{:?}", h.client.status());
    assert!(matches!(h.client.send(&mt(vec![vec![0x02, 0x70, 0x00, 0x01]])).await, MtOutcome::Accepted { .. }));
    sim.wait("submit_sm", |e| e["short_message"] == "02700001").await;

    // A CA the SMSC's certificate does not chain to: no bind, the handshake error is surfaced.
    let (_, other_ca) = tls_front(sim.port).await;
    let dir = tempfile::tempdir().unwrap();
    let other_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_file, other_ca).unwrap();
    c.tls = Some(smpp::SmppTlsConfig { ca_file: other_file, server_name: Some("localhost".into()) });
    let h = start(c, dir);
    assert!(!h.client.wait_bound(Duration::from_millis(1_500)).await);
    let error = h.client.status().last_error.unwrap_or_default();
    assert!(error.contains("TLS handshake"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pdus_from_the_smsc_are_answered_with_an_error_and_the_bind_stays() {
    let Some((mut sim, h)) = bound().await else { return };
    // A deliver_sm whose sm_length (255) is above SMPP's 254: deliver_sm_resp ESME_RINVMSGLEN.
    let mut deliver =
        hex::decode("0000000000000005000000000000abcd000101343931370001013439313500000000000000000000ff").unwrap();
    let len = (deliver.len() as u32).to_be_bytes();
    deliver[..4].copy_from_slice(&len);
    sim.cmd(json!({"cmd": "raw", "hex": hex::encode(&deliver)})).await;
    let resp = sim.wait("deliver_sm_resp", |_| true).await;
    assert_eq!((resp["sequence"].clone(), resp["status"].clone()), (json!(0xabcd), json!(0x01)));
    // A command this client does not handle (data_sm, 0x00000103): generic_nack ESME_RINVCMDID.
    sim.cmd(json!({"cmd": "raw", "hex": "00000010000001030000000000000077"})).await;
    let nack = sim.wait("other", |e| e["command"] == "generic_nack").await;
    assert_eq!((nack["sequence"].clone(), nack["status"].clone()), (json!(0x77), json!(0x03)));
    // The bind is still up and works.
    assert!(matches!(h.client.send(&mt(vec![vec![9]])).await, MtOutcome::Accepted { .. }));
    assert_eq!(h.client.status().binds, 1);
    assert!(h.mo.got.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_that_stops_answering_is_dropped_and_bound_again() {
    let Some((mut sim, h)) = bound_with(|c| {
        c.enquire_link_secs = 1;
        c.response_timeout_ms = 800;
    })
    .await
    else {
        return;
    };
    sim.cmd(json!({"cmd": "mute"})).await;
    // No submit_sm_resp: a retryable failure after response_timeout_ms.
    let outcome = h.client.send(&mt(vec![vec![0x01]])).await;
    let MtOutcome::Failed { reason, retry: true } = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("no submit_sm_resp within 800 ms") || reason.contains("enquire_link_resp"), "{reason}");
    // The unanswered keep-alive drops the link.
    sim.wait("enquire_link", |_| true).await;
    sim.wait("closed", |_| true).await;
    sim.cmd(json!({"cmd": "unmute"})).await;
    sim.wait("bind", |e| e["ok"] == true).await;
    assert!(h.client.wait_bound(Duration::from_secs(5)).await);
    assert!(matches!(h.client.send(&mt(vec![vec![0x02]])).await, MtOutcome::Accepted { .. }));
    assert!(h.client.status().binds >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_messages_from_sgd_are_forwarded_to_the_smsc() {
    let Some((mut sim, h)) = bound().await else { return };
    let mo = MoMessage {
        imsi: Some("001010000000001".parse().unwrap()),
        msisdn: Some("491701234567".into()),
        destination: "+4930123456".into(),
        pid: 0x00,
        dcs: 0x04,
        udhi: true,
        user_data: vec![0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0xDE, 0xAD, 0x00],
        via: Via::Sgd { mme: "mme1.example".into() },
    };
    assert_eq!(MoHandler::received(&h.client, &mo).await, MoVerdict::Accepted);
    let submit = sim.wait("submit_sm", |_| true).await;
    assert_eq!(submit["short_message"], "0500030102 01dead00".replace(' ', ""));
    assert_eq!((submit["source_addr"].clone(), submit["source_addr_ton"].clone()), (json!("491701234567"), json!(1)));
    assert_eq!((submit["destination_addr"].clone(), submit["dest_addr_ton"].clone()), (json!("4930123456"), json!(1)));
    assert_eq!((submit["esm_class"].clone(), submit["data_coding"].clone()), (json!(0x40), json!(0x04)));
    assert_eq!(submit["registered_delivery"], 0);
    // Refused by the SMSC for good: a permanent failure for the screening to report.
    sim.cmd(json!({"cmd": "throttle", "count": 1, "status": 0x0B})).await;
    let verdict = MoHandler::received(&h.client, &mo).await;
    let MoVerdict::Failed { reason, retry: false } = verdict else { panic!("{verdict:?}") };
    assert!(reason.contains("ESME_RINVDSTADR"), "{reason}");
}
