//! The analytics engine keeps what it learned across a restart of `warden serve`: a device learns
//! (IPFIX flows mapped to its SIM through the test P-GW's Gx session), the server stops gracefully
//! (SIGTERM) and writes its engine snapshot (mode 0600), starts again, loads it, and the device is
//! past its learning period at once — a new destination is detected, which a device still learning
//! never raises.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use analytics::ipfix::encode::{v4_flow_record, MessageBuilder, V4_FLOW_FIELDS};
use analytics::{FiveTuple, Flow};
use common::{free_port, metric_value as value, metrics_until as until, node, sims_csv, Server, REALM};
use testkit::gx::{Pgw, SessionSpec};

const PGW: &str = "pgw.home.example";
const IMSI: &str = "001010000000001";
const APN: &str = "meters.example";
const UE: Ipv4Addr = Ipv4Addr::new(10, 45, 0, 9);

const PROFILES: &str = "[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n[[profile.apn]]\n\
name = \"meters.example\"\npdn_type = \"ipv4\"\nqci = 9\n";

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// One IPFIX datagram (template and one record): the device to `remote`:443, started now.
fn send_flow(collector: SocketAddr, remote: Ipv4Addr, sequence: u32) {
    let start = now_ms();
    let flow = Flow {
        exporter: [127, 0, 0, 1].into(),
        observation_domain: 1,
        tuple: FiveTuple { src: UE.into(), dst: remote.into(), sport: 40_000, dport: 443, proto: 6 },
        octets: 1_500,
        packets: 4,
        start_ms: Some(start),
        end_ms: Some(start + 10),
        tcp_flags: None,
    };
    let mut record = Vec::new();
    v4_flow_record(&flow, &mut record).unwrap();
    let mut m = MessageBuilder::ipfix(1, (start / 1000) as u32, sequence);
    m.template(300, &V4_FLOW_FIELDS).data(300, &record, 1);
    UdpSocket::bind("127.0.0.1:0").unwrap().send_to(&m.finish(), collector).unwrap();
}

/// SIGTERM, then the exit (status 0) within 10 s.
async fn stop(server: &mut Server) {
    let kill = std::process::Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(kill.success());
    for _ in 0..200 {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("warden serve still running 10 s after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_past_learning_stays_past_learning_after_a_restart() {
    let (mport, uport) = (free_port(), free_port());
    let collector = SocketAddr::from(([127, 0, 0, 1], uport));
    let metrics = SocketAddr::from(([127, 0, 0, 1], mport));
    // Learning lasts 3 s of device time; snapshots every 15 minutes (so the one read after the
    // restart is the one written at shutdown).
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{PGW}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"gx\"]\n[pcrf]\n[metrics]\nlisten = \"{metrics}\"\n\
         [analytics]\nipfix_listen = \"{collector}\"\nexporters = [\"127.0.0.1\"]\nsnapshot_minutes = 15\n\
         [analytics.engine]\nlearning_ms = 3000\n"
    );
    let n = node("7e", &[], "", &extra);
    n.import(PROFILES, &sims_csv(&[("001010000000001", "meter", "acme")]));
    let snapshot = n.dir.path().join("data/analytics/engine.snapshot");

    let mut server = n.start().await;
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    let cca = pgw.ccr_initial(&SessionSpec::new(IMSI, APN, UE)).await;
    assert_eq!(cca.result_code(), Some(2001), "CCR-I: {:#?}", cca.message);
    // The device talks to its server: it starts learning.
    send_flow(collector, Ipv4Addr::new(198, 51, 100, 10), 1);
    until(metrics, "the first flow", |t| value(t, "warden_analytics_observations_total", "input=\"flow\"") >= 1.0)
        .await;
    assert!(!snapshot.exists(), "no snapshot before the first period or the shutdown");
    drop(pgw);
    stop(&mut server).await;
    assert!(snapshot.is_file(), "written at shutdown");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the snapshot holds IMSIs: owner only");
    }

    // The learning period is over in device time; the server starts again and loads the snapshot.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mut server = n.start().await;
    let t = until(metrics, "the restored device", |t| value(t, "warden_analytics_devices", "") >= 1.0).await;
    assert_eq!(value(&t, "warden_analytics_devices", ""), 1.0);
    // A destination the device never used: it is past learning, so it is reported at once (the Gx
    // session was stored and loaded again with the PCRF's sessions).
    send_flow(collector, Ipv4Addr::new(203, 0, 113, 66), 2);
    let t = until(metrics, "a new_destination detection", |t| {
        value(t, "warden_analytics_detections_total", "kind=\"new_destination\"") >= 1.0
    })
    .await;
    assert_eq!(value(&t, "warden_analytics_observations_total", "input=\"flow\""), 1.0, "this run's one flow");
    stop(&mut server).await;
    assert!(snapshot.is_file());
    assert!(!n.dir.path().join("data/analytics/engine.snapshot.tmp").exists());
}
