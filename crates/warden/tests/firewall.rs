//! `warden serve` with a `[firewall]` section, as a process: a roaming partner connects to the
//! firewall, its AIR reaches Warden's own HSS and gets real vectors back, a forged one is answered by
//! the firewall, device priorities come from the store, `/metrics` carries the firewall's counters,
//! and SIGHUP reloads the rules from the file without dropping the partner's connection. A roamer
//! registered through the firewall gets its CLR back through it when the SIM is suspended.

mod common;

use common::{free_port, warden, Server};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use diameter::avp;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{connect, ConnectionLimits, PeerHandle};
use diameter::Message;
use testkit::s6a::{self, connect_mme, Node};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(port: u16, mport: u16, fport: u16, alpha_plmn: &str) -> String {
    config_with_http(port, mport, fport, alpha_plmn, None)
}

/// The node's configuration, with the API on `hport` when given.
fn config_with_http(port: u16, mport: u16, fport: u16, alpha_plmn: &str, hport: Option<u16>) -> String {
    let http = match hport {
        Some(h) => format!("listen = \"127.0.0.1:{h}\""),
        None => "enabled = false".to_string(),
    };
    format!(
        r#"data_dir = "data"
[diameter]
listen = "127.0.0.1:{port}"
origin_host = "hss.home.example"
origin_realm = "home.example"
[metrics]
listen = "127.0.0.1:{mport}"
[http]
{http}
[firewall]
listen = "127.0.0.1:{fport}"
origin_host = "fw.home.example"
origin_realm = "home.example"
[firewall.home]
realms = ["home.example"]
plmns = ["00101"]
imsi_prefixes = ["00101"]
[[firewall.partners]]
name = "alpha"
origin_hosts = ["mme1.alpha.example"]
realms = ["alpha.example"]
plmns = ["{alpha_plmn}"]
"#
    )
}

async fn wait_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {addr}");
}

/// The partner's MME, in Alpha's network (262 01).
const ALPHA_MME: Node<'static> = Node::new("mme1.alpha.example", "alpha.example");
const PLMN_26201: [u8; 3] = [0x62, 0xf2, 0x10];

fn air(imsi: &str, n: u32) -> Message {
    s6a::air(ALPHA_MME, "home.example", imsi, PLMN_26201, 1, &format!("air;{n}"))
}

async fn metrics(addr: SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

async fn partner(addr: SocketAddr) -> PeerHandle {
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let cfg = PeerConfig::new("mme1.alpha.example", "alpha.example", vec![Application::S6A]);
    connect(addr, cfg, allow, ConnectionLimits::default(), None).await.unwrap().0
}

#[tokio::test]
async fn serve_runs_the_firewall_in_front_of_the_hss_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mport, fport, hport) = (free_port(), free_port(), free_port(), free_port());
    let write = |plmn: &str| {
        std::fs::write(dir.path().join("warden.toml"), config_with_http(port, mport, fport, plmn, Some(hport))).unwrap()
    };
    write("26201");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (cmd, file) in [("profile", "profiles.toml"), ("sim", "sims.csv")] {
        let out = warden(dir.path(), &[cmd, "import", root.join(file).to_str().unwrap()]);
        assert!(out.status.success(), "{cmd} import: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = warden(dir.path(), &["admin", "init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let operator = String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string();
    let server = Server::start(dir.path());
    let faddr: SocketAddr = format!("127.0.0.1:{fport}").parse().unwrap();
    wait_listening(faddr).await;
    let p = partner(faddr).await;
    // The critical "alarm" SIM of examples/sims.csv may roam anywhere: real vectors from the HSS.
    // The firewall listens before its own connection to the HSS is up; until then it answers
    // DIAMETER_UNABLE_TO_DELIVER (3002), so the first request waits for that connection (bounded).
    let started = std::time::Instant::now();
    let mut attempt = 100;
    let a = loop {
        attempt += 1;
        let a = p.request(air("001010000000002", attempt)).await.unwrap();
        if a.result_code() != Some(3002) || started.elapsed() > std::time::Duration::from_secs(15) {
            break a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(a.result_code(), Some(2001));
    assert_eq!(a.get_str(avp::ORIGIN_HOST), Some("hss.home.example"));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_some());
    // A foreign IMSI never reaches the HSS.
    let a = p.request(air("999990000000001", 2)).await.unwrap();
    assert_eq!(a.result_code(), Some(5001));
    assert_eq!(a.get_str(avp::ORIGIN_HOST), Some("fw.home.example"));
    let text = metrics(format!("127.0.0.1:{mport}").parse().unwrap()).await;
    assert!(
        text.contains("warden_firewall_decisions_total{partner=\"alpha\",rule=\"pass\",action=\"passed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("warden_firewall_decisions_total{partner=\"alpha\",rule=\"c2-home-imsi\",action=\"blocked\"} 1")
    );
    // Its priority class comes from the store: the alarm SIM is critical.
    assert!(text.contains("warden_firewall_admission_total{priority=\"critical\",outcome=\"admitted\"} 1"), "{text}");
    // The operator's API (the portal's firewall page) shows the same partner and counters.
    let api = format!("http://127.0.0.1:{hport}/api/v1/firewall");
    wait_listening(format!("127.0.0.1:{hport}").parse().unwrap()).await;
    let (s, fw) = common::http("GET", &api, &operator, None).await;
    assert_eq!(s, 200, "{fw}");
    assert_eq!(fw["origin_host"], "fw.home.example");
    let alpha = &fw["partners"][0];
    assert_eq!((alpha["name"].as_str(), &alpha["plmns"]), (Some("alpha"), &serde_json::json!(["26201"])), "{fw}");
    let counters = alpha["counters"].as_array().unwrap();
    let count = |rule: &str, action: &str| {
        counters.iter().find(|c| c["rule"] == rule && c["action"] == action).and_then(|c| c["count"].as_u64())
    };
    assert_eq!((count("pass", "passed"), count("c2-home-imsi", "blocked")), (Some(1), Some(1)), "{fw}");
    let critical = fw["admissions"].as_array().unwrap().iter().find(|a| a["priority"] == "critical").unwrap();
    assert_eq!(critical["admitted"], 1, "{fw}");
    // Alpha's PLMN changes in the file; SIGHUP; the open connection is screened by the new rules.
    write("26202");
    reload(dir.path(), &server);
    let mut code = None;
    for n in 0..50 {
        code = p.request(air("001010000000002", 10 + n)).await.unwrap().result_code();
        if code == Some(5003) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, Some(5003), "Visited-PLMN-Id 26201 no longer Alpha's after the reload");
    let (_, fw) = common::http("GET", &api, &operator, None).await;
    assert_eq!(fw["partners"][0]["plmns"], serde_json::json!(["26202"]), "the page shows the rules in force: {fw}");
}

fn reload(_dir: &Path, server: &Server) {
    let ok = Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

#[tokio::test]
async fn clr_reaches_a_roamer_registered_through_the_firewall() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mport, fport) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("warden.toml"), config(port, mport, fport, "26201")).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (cmd, file) in [("profile", "profiles.toml"), ("sim", "sims.csv")] {
        assert!(warden(dir.path(), &[cmd, "import", root.join(file).to_str().unwrap()]).status.success());
    }
    let _server = Server::start(dir.path());
    let faddr: SocketAddr = format!("127.0.0.1:{fport}").parse().unwrap();
    wait_listening(faddr).await;
    let link = connect_mme(faddr, ALPHA_MME, 256).await.unwrap();
    let (p, mut inbox) = (link.peer, link.inbox);
    let ulr = s6a::ulr(ALPHA_MME, "home.example", "001010000000002", PLMN_26201, None, "ulr;1");
    let a = p.request(ulr).await.unwrap();
    assert_eq!(a.result_code(), Some(2001), "the roamer registers through the firewall");
    let shown = warden(dir.path(), &["sim", "show", "001010000000002"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("mme1.alpha.example"),
        "the serving node is the partner's MME"
    );
    let out = warden(dir.path(), &["sim", "set-status", "001010000000002", "suspended"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clr =
        tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR through the firewall").unwrap();
    assert_eq!(clr.abbrev(), Some("CLR"));
    assert_eq!(clr.get_str(avp::USER_NAME), Some("001010000000002"));
    assert_eq!(clr.get_str(avp::DESTINATION_HOST), Some("mme1.alpha.example"));
    // A request from a network that is not the partner's lands in the subscriber's event feed.
    let mut forged = air("001010000000001", 7);
    forged.avps.retain(|a| a.code != 1407);
    forged.add(avp::VISITED_PLMN_ID, &[0x62u8, 0xf2, 0x20]); // 262 02: not Alpha's
    assert_eq!(p.request(forged).await.unwrap().result_code(), Some(5003));
    let mut events = String::new();
    for _ in 0..50 {
        events = String::from_utf8_lossy(&warden(dir.path(), &["sim", "show", "001010000000001"]).stdout).into_owned();
        if events.contains("firewall.") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(events.contains("firewall.c2-") && events.contains("262"), "{events}");
}
