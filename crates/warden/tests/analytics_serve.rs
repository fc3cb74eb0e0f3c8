//! The security analytics in `warden serve`, fed by a real exporter nobody on the project wrote:
//! Debian's softflowd replays a scapy capture (tests/data/make_scan_pcap.py) as IPFIX and as
//! NetFlow v9 into the collector. A device whose UE address has a live Gx session (opened by the
//! independent test P-GW, `testkit::gx`) scans telnet Mirai-style: its flows arrive, are mapped to
//! its SIM, and a `scanning` detection is raised; a flow of an address no session holds is counted
//! as unmapped; the attach's ULR and a query to the DNS firewall reach the engine too. A datagram
//! from an exporter that is not configured is dropped and counted, and garbage datagrams do not stop
//! the server. Everything is read from `/metrics`.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{free_port, metric_value as value, metrics_text as scrape, metrics_until as until, node, sims_csv, REALM};
use testkit::gx::{Pgw, SessionSpec};
use testkit::s6a::{self, connect_mme, Node as DiameterNode, PLMN_00101};

const PGW: &str = "pgw.home.example";
const MME: DiameterNode<'static> = DiameterNode::new("mme1.home.example", REALM);
const IMSI: &str = "001010000000001";
const APN: &str = "meters.example";
const UE: Ipv4Addr = Ipv4Addr::new(10, 45, 0, 2);

const PROFILES: &str = r#"
[[profile]]
name = "scan-meter"
services = ["data"]
[[profile.apn]]
name = "meters.example"
pdn_type = "ipv4"
qci = 9
"#;

/// softflowd's path, or `None` (skipped) outside CI when it or scapy is missing.
fn tools() -> Option<PathBuf> {
    let softflowd = common::found("softflowd").or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/softflowd");
        sbin.is_file().then_some(sbin)
    });
    let scapy = Command::new("python3").args(["-c", "import scapy.all"]).output().is_ok_and(|o| o.status.success());
    if softflowd.is_none() || !scapy {
        assert!(std::env::var_os("CI").is_none(), "softflowd and scapy are required under CI (.ci/run installs them)");
        eprintln!("SKIPPED: apt-get install softflowd; python3 -m pip install scapy");
        return None;
    }
    softflowd
}

fn replay(softflowd: &Path, pcap: &Path, collector: SocketAddr, version: &str) {
    let out = Command::new(softflowd)
        .args(["-r", pcap.to_str().unwrap(), "-n", &collector.to_string(), "-v", version, "-d"])
        .output()
        .expect("run softflowd");
    assert!(out.status.success(), "softflowd -v {version}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softflowd_flows_of_a_telnet_scanner_become_a_scanning_detection() {
    let Some(softflowd) = tools() else { return };
    let (mport, uport, dport) = (free_port(), free_port(), free_port());
    let collector = SocketAddr::from(([127, 0, 0, 1], uport));
    let metrics = SocketAddr::from(([127, 0, 0, 1], mport));
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{PGW}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"gx\"]\n[pcrf]\n[dns]\nlisten = \"127.0.0.1:{dport}\"\n[metrics]\nlisten = \"{metrics}\"\n\
         [analytics]\nipfix_listen = \"{collector}\"\nexporters = [\"127.0.0.1\"]\n\
         [analytics.engine]\nscan_telnet_hosts = 16\n"
    );
    let n = node("7c", &[MME.host], "", &extra);
    n.import(PROFILES, &sims_csv(&[("001010000000001", "scan-meter", "acme")]));
    let _server = n.start().await;

    // Attach, and the P-GW opens the session that gives the SIM its UE address.
    let mme = connect_mme(n.diameter, MME, 16).await.expect("MME connects");
    let ula = s6a::ask(&mme.peer, s6a::ulr(MME, REALM, IMSI, PLMN_00101, None, "scan-attach")).await;
    assert_eq!(ula.result_code(), Some(2001), "ULR");
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    let cca = pgw.ccr_initial(&SessionSpec::new(IMSI, APN, UE)).await;
    assert_eq!(cca.result_code(), Some(2001), "CCR-I: {:#?}", cca.message);

    // A second session on a loopback address, from which the device asks the DNS firewall: the
    // query log reaches the engine.
    let dns_ue = Ipv4Addr::new(127, 0, 0, 5);
    let cca = pgw.ccr_initial(&SessionSpec::new(IMSI, APN, dns_ue)).await;
    assert_eq!(cca.result_code(), Some(2001), "second CCR-I: {:#?}", cca.message);
    let asker = UdpSocket::bind(SocketAddr::from((dns_ue, 0))).expect("bind 127.0.0.5");
    // RFC 1035 §4.1: id 0x1234, RD, one question `x.example` A IN.
    let query = [
        &[0x12u8, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0][..],
        &[1, b'x', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0, 0, 1, 0, 1],
    ]
    .concat();
    asker.send_to(&query, SocketAddr::from(([127, 0, 0, 1], dport))).unwrap();
    until(metrics, "the DNS query as an observation", |t| {
        value(t, "warden_analytics_observations_total", "input=\"dns\"") >= 1.0
    })
    .await;

    // The ULR reached the engine as the SIM's signalling.
    until(metrics, "the ULR as signalling", |t| {
        value(t, "warden_analytics_observations_total", "input=\"signalling\"") >= 1.0
    })
    .await;

    let pcap = n.dir.path().join("scan.pcap");
    let start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_scan_pcap.py");
    let out = Command::new("python3")
        .args([script.to_str().unwrap(), pcap.to_str().unwrap(), &UE.to_string(), &start])
        .output()
        .expect("python3");
    assert!(out.status.success(), "make_scan_pcap.py: {}", String::from_utf8_lossy(&out.stderr));
    // The capture spans 3 s from `start`: replayed once it is in the past, as an exporter would.
    let past: u64 = start.parse::<u64>().unwrap() + 4;
    while std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() < past {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // IPFIX: 200 SYNs and the device's TLS flow are its flows; the CoAP flow is nobody's.
    replay(&softflowd, &pcap, collector, "10");
    until(metrics, "a scanning detection", |t| {
        value(t, "warden_analytics_detections_total", "kind=\"scanning\"") >= 1.0
    })
    .await;
    // The detection reaches the platform: stored for the SIM's tenant (and only there), without
    // payload in its evidence.
    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(1, &"7c".repeat(32)).unwrap(), vec![]);
    let db = store::Store::open(&format!("sqlite://{}/data/warden.db", n.dir.path().display()), keys).await.unwrap();
    let scanning = store::analytics::DetectionFilter { kind: Some("scanning".into()), ..Default::default() };
    let acme = store::access::Scope::Tenant("acme".into());
    let started = std::time::Instant::now();
    let stored = loop {
        let found = db.list_detections(&acme, &scanning, None, 10).await.unwrap();
        if !found.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stored.len(), 1, "one scanning detection stored for acme");
    assert_eq!(stored[0].imsi, IMSI);
    assert!(!stored[0].evidence.contains("10.45."), "no device address in the evidence: {}", stored[0].evidence);
    let other = store::access::Scope::Tenant("globex".into());
    assert!(db.list_detections(&other, &scanning, None, 10).await.unwrap().is_empty());
    // The detection can fire before the collector has handed every flow to the engine: wait for the
    // counts rather than reading them from the scrape that saw the detection.
    let t = until(metrics, "every flow decoded, mapped or not", |t| {
        value(t, "warden_analytics_flows_total", "") >= 200.0
            && value(t, "warden_analytics_observations_total", "input=\"flow\"") >= 200.0
            && value(t, "warden_analytics_unmapped_flows_total", "") >= 1.0
    })
    .await;
    let flows = value(&t, "warden_analytics_flows_total", "");
    let mapped = value(&t, "warden_analytics_observations_total", "input=\"flow\"");
    assert_eq!(value(&t, "warden_analytics_dropped_total", ""), 0.0, "softflowd's IPFIX is read whole");

    // NetFlow v9: the same capture again.
    replay(&softflowd, &pcap, collector, "9");
    until(metrics, "the NetFlow v9 flows", |t| {
        value(t, "warden_analytics_flows_total", "") >= flows * 2.0
            && value(t, "warden_analytics_observations_total", "input=\"flow\"") >= mapped * 2.0
    })
    .await;

    // A source that is not a configured exporter: dropped and counted.
    let stranger = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    stranger.send_to(&std::fs::read(&pcap).unwrap()[..200], collector).unwrap();
    until(metrics, "the unknown exporter's drop", |t| {
        value(t, "warden_analytics_dropped_total", "reason=\"unknown_exporter\"") >= 1.0
    })
    .await;

    // Garbage from the exporter: counted, and the collector goes on.
    let exporter = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = value(&scrape(metrics).await, "warden_analytics_datagrams_total", "");
    let mut garbage: Vec<Vec<u8>> =
        vec![vec![], vec![0], vec![0, 10, 0, 4], [0u8, 5].into_iter().chain([0u8; 22]).collect()];
    garbage.push([0u8, 10, 0xff, 0xff].iter().copied().chain(std::iter::repeat_n(0x41, 60)).collect());
    garbage.push(
        [0u8, 10, 0, 40].iter().copied().chain([0u8; 12]).chain([0, 2, 0, 24, 1, 0, 0, 200]).chain([0u8; 16]).collect(),
    );
    for g in &garbage {
        exporter.send_to(g, collector).unwrap();
    }
    let t = until(metrics, "the garbage datagrams", |t| {
        value(t, "warden_analytics_datagrams_total", "") >= before + garbage.len() as f64
    })
    .await;
    assert!(value(&t, "warden_analytics_dropped_total", "reason=\"short_header\"") >= 1.0);
    assert!(value(&t, "warden_analytics_dropped_total", "reason=\"unsupported_version\"") >= 1.0);
    replay(&softflowd, &pcap, collector, "10");
    until(metrics, "flows after the garbage", |t| value(t, "warden_analytics_flows_total", "") >= flows * 3.0).await;
}

#[test]
fn a_broken_intelligence_file_stops_the_start_with_its_name_and_line() {
    let uport = free_port();
    let extra =
        format!("[analytics]\nipfix_listen = \"127.0.0.1:{uport}\"\nintel_files = [\"intel.csv\", \"broken.csv\"]\n");
    let n = node("7d", &[], "", &extra);
    std::fs::write(n.dir.path().join("intel.csv"), "type,value\nipv4,203.0.113.66\n").unwrap();
    std::fs::write(n.dir.path().join("broken.csv"), "type,value\nipv4,203.0.113.66\nipv4,not-an-address\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(n.dir.path())
        .args(["--config", "warden.toml", "serve"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start warden serve");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with a broken intelligence file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started with a broken intelligence file: {stderr}");
    assert!(stderr.contains("analytics.intel_files: broken.csv: "), "{stderr}");
    assert!(stderr.contains("line 3"), "the line at fault: {stderr}");
}
