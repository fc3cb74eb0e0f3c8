//! Live DPI in `warden serve` (issue 17, CLP.14 SEC-2), fed by packets nobody on the project
//! encoded: PyPI scapy's TZSP layer (`scapy.contrib.tzsp`, tests/data/make_tzsp_datagrams.py) wraps
//! Ethernet/IPv4/TCP packets as a MikroTik probe mirrors them. A SIM whose UE address has a live Gx
//! session (opened by the independent test P-GW, `testkit::gx`) POSTs a Luhn-valid test card number
//! over HTTP; its tenant agreed to payload inspection. A `personal_data` detection with the finding
//! kind `card` is stored for that tenant, announced and alerted on, and counted on `/metrics` — and
//! the card's digits appear nowhere: not in the API's answers, the events, the database files or the
//! server's log. A SIM of a tenant that did not agree is not scanned; packets of no SIM are unmapped;
//! a datagram from a source that is not configured is dropped and counted; garbage is counted as
//! malformed and the server goes on.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, http, metric_value, metrics_text, metrics_until, node, Server, REALM};
use serde_json::json;
use testkit::gx::{Pgw, SessionSpec};
use testkit::s6a::{self, connect_mme, Node as DiameterNode, PLMN_00101};

const PGW: &str = "pgw.home.example";
const MME: DiameterNode<'static> = DiameterNode::new("mme1.home.example", REALM);
const IMSI: &str = "001010000000001";
const OTHER_IMSI: &str = "001010000000002";
const APN: &str = "meters.example";
const UE: Ipv4Addr = Ipv4Addr::new(10, 45, 0, 2);
const OTHER_UE: Ipv4Addr = Ipv4Addr::new(10, 45, 0, 3);

/// The card number of the POST, as sent and without its spaces, and a part of it.
const CARD_FORMS: [&str; 3] = ["4111 1111 1111 1111", "4111111111111111", "1111 1111"];

const PROFILES: &str = r#"
[[profile]]
name = "pay-meter"
services = ["data"]
[[profile.apn]]
name = "meters.example"
pdn_type = "ipv4"
qci = 9
"#;

/// Whether scapy with its TZSP layer is importable; under CI its absence fails the test.
fn scapy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import scapy.all, scapy.contrib.tzsp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "scapy (with scapy.contrib.tzsp) is required under CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED: python3 -m pip install scapy");
    }
    ok
}

/// Sends `datagram` every 100 ms (the first packets of a tenant wait for its policy to be read)
/// until `done` holds on `/metrics` (at most 20 s); the last scrape.
async fn send_until(
    from: &UdpSocket,
    datagram: &[u8],
    to: SocketAddr,
    metrics: SocketAddr,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        from.send_to(datagram, to).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = metrics_text(metrics).await;
        if done(&text) {
            return text;
        }
    }
    panic!(
        "{what} not seen on /metrics:\n{}",
        text.lines().filter(|l| l.contains("analytics")).collect::<Vec<_>>().join("\n")
    );
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

fn assert_no_card(what: &str, bytes: &[u8]) {
    for form in CARD_FORMS {
        assert!(!bytes.windows(form.len()).any(|w| w == form.as_bytes()), "{what} holds the card ({form:?})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_mirrored_over_tzsp_becomes_a_personal_data_alert_without_its_digits() {
    if !scapy() {
        return;
    }
    let (mport, uport, dpi_port) = (free_port(), free_port(), free_port());
    let metrics = SocketAddr::from(([127, 0, 0, 1], mport));
    let dpi = SocketAddr::from(([127, 0, 0, 1], dpi_port));
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{PGW}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"gx\"]\n[pcrf]\n[metrics]\nlisten = \"{metrics}\"\n\
         [analytics]\nipfix_listen = \"127.0.0.1:{uport}\"\ndpi_listen = \"{dpi}\"\ndpi_format = \"tzsp\"\n\
         dpi_sources = [\"127.0.0.1\"]\n[analytics.dpi]\nnational_ids = [\"us_ssn\"]\n"
    );
    let n = node("7e", &[MME.host], "", &extra);
    for tenant in ["acme", "globex"] {
        assert!(common::warden(n.dir.path(), &["tenant", "create", tenant]).status.success(), "tenant {tenant}");
    }
    n.import(
        PROFILES,
        &common::sims_csv(&[("001010000000001", "pay-meter", "acme"), ("001010000000002", "pay-meter", "globex")]),
    );
    let token = n.admin_token();
    let api = n.api();

    // The server's log, at debug for Warden's own crates, kept to be searched.
    let log_path = n.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(n.dir.path())
            .args(["--config", "warden.toml", "serve"])
            .env("RUST_LOG", "info,warden=debug,cmp=debug,analytics=debug,api=debug,store=debug")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start warden serve"),
    );
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(n.http).await.is_ok()
            && tokio::net::TcpStream::connect(n.diameter).await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // acme agrees to payload inspection (alerts by default); globex agrees to nothing.
    let (s, p) =
        http("PUT", &format!("{api}/analytics/policy?tenant=acme"), &token, Some(json!({"use_payload": true}))).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["use_payload"].as_bool(), p["default_action"].as_str()), (Some(true), Some("alert")), "{p}");

    // Attach both SIMs; the P-GW opens the sessions that give them their UE addresses.
    let mme = connect_mme(n.diameter, MME, 16).await.expect("MME connects");
    for imsi in [IMSI, OTHER_IMSI] {
        let ula = s6a::ask(&mme.peer, s6a::ulr(MME, REALM, imsi, PLMN_00101, None, &format!("attach-{imsi}"))).await;
        assert_eq!(ula.result_code(), Some(2001), "ULR {imsi}");
    }
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    for (imsi, ue) in [(IMSI, UE), (OTHER_IMSI, OTHER_UE)] {
        let cca = pgw.ccr_initial(&SessionSpec::new(imsi, APN, ue)).await;
        assert_eq!(cca.result_code(), Some(2001), "CCR-I {imsi}: {:#?}", cca.message);
    }

    let out_dir = n.dir.path().join("mirrored");
    std::fs::create_dir(&out_dir).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_tzsp_datagrams.py");
    let out = Command::new("python3")
        .args([script.to_str().unwrap(), out_dir.to_str().unwrap(), &UE.to_string(), &OTHER_UE.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(out.status.success(), "make_tzsp_datagrams.py: {}", String::from_utf8_lossy(&out.stderr));
    let datagram = |name: &str| std::fs::read(out_dir.join(name)).unwrap();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();

    // The card POST of acme's SIM: found, one detection, stored and alerted.
    let card = datagram("card.tzsp");
    assert!(card.windows(19).any(|w| w == CARD_FORMS[0].as_bytes()), "the mirrored packet carries the card");
    let t = send_until(&probe, &card, dpi, metrics, "the card's detection", |t| {
        metric_value(t, "warden_analytics_detections_total", "kind=\"personal_data\"") >= 1.0
    })
    .await;
    assert!(metric_value(&t, "warden_analytics_dpi_findings_total", "kind=\"card\"") >= 1.0);
    assert!(metric_value(&t, "warden_analytics_dpi_packets_total", "") >= 1.0);
    // More of the same in the hour: found again, no second detection.
    let before = metric_value(&t, "warden_analytics_dpi_findings_total", "kind=\"card\"");
    let t = send_until(&probe, &card, dpi, metrics, "the card found again", |t| {
        metric_value(t, "warden_analytics_dpi_findings_total", "kind=\"card\"") >= before + 2.0
    })
    .await;
    assert_eq!(metric_value(&t, "warden_analytics_detections_total", "kind=\"personal_data\""), 1.0, "one an hour");

    let mut detections = json!(null);
    for _ in 0..100 {
        let (s, page) = http("GET", &format!("{api}/analytics/detections?kind=personal_data"), &token, None).await;
        assert_eq!(s, 200, "{page}");
        if page["items"].as_array().is_some_and(|i| !i.is_empty()) {
            detections = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items = detections["items"].as_array().expect("a stored personal_data detection");
    assert_eq!(items.len(), 1, "{detections}");
    let d = &items[0];
    assert_eq!((d["imsi"].as_str(), d["kind"].as_str()), (Some(IMSI), Some("personal_data")), "{d}");
    let e = &d["evidence"];
    assert_eq!(
        (e["finding"].as_str(), e["direction"].as_str(), e["remote"].as_str(), e["port"].as_u64(), e["proto"].as_u64()),
        (Some("card"), Some("uplink"), Some("198.51.100.20"), Some(80), Some(6)),
        "{e}"
    );
    let body_at = card.windows(5).position(|w| w == b"card=").unwrap();
    let payload_at = card.windows(4).position(|w| w == b"POST").unwrap();
    assert_eq!(e["offset"].as_u64(), Some((body_at + 5 - payload_at) as u64), "the card's offset in the TCP payload");
    assert_eq!(d["action"].as_str(), Some("alert"), "acme's policy alerts: {d}");
    // acme's detections are acme's: globex (whose SIM sent the same card) has none.
    let (_, globex) =
        http("GET", &format!("{api}/analytics/detections?kind=personal_data&imsi={OTHER_IMSI}"), &token, None).await;
    assert_eq!(globex["items"].as_array().map(Vec::len), Some(0), "{globex}");

    // The events: the detection announced and the alert.
    let (s, events) = http("GET", &format!("{api}/events?imsi={IMSI}&limit=500"), &token, None).await;
    assert_eq!(s, 200);
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"analytics.detection") && kinds.contains(&"analytics.alert"), "{kinds:?}");

    // The SIM of globex, which agreed to nothing: its packet is not scanned.
    let other = datagram("other_card.tzsp");
    send_until(&probe, &other, dpi, metrics, "globex's packet refused", |t| {
        metric_value(t, "warden_analytics_dpi_dropped_total", "reason=\"not_agreed\"") >= 1.0
    })
    .await;
    // Downlink to acme's SIM: an e-mail address.
    let t = send_until(&probe, &datagram("email.tzsp"), dpi, metrics, "the e-mail address", |t| {
        metric_value(t, "warden_analytics_detections_total", "kind=\"personal_data\"") >= 2.0
    })
    .await;
    assert!(metric_value(&t, "warden_analytics_dpi_findings_total", "kind=\"email\"") >= 1.0);
    // No SIM's addresses; a keepalive; a stranger; garbage.
    send_until(&probe, &datagram("stranger.tzsp"), dpi, metrics, "the unmapped packet", |t| {
        metric_value(t, "warden_analytics_dpi_dropped_total", "reason=\"unmapped\"") >= 1.0
    })
    .await;
    send_until(&probe, &datagram("keepalive.tzsp"), dpi, metrics, "the keepalive", |t| {
        metric_value(t, "warden_analytics_dpi_dropped_total", "reason=\"unsupported\"") >= 1.0
    })
    .await;
    let stranger = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    send_until(&stranger, &card, dpi, metrics, "the unknown source's drop", |t| {
        metric_value(t, "warden_analytics_dpi_dropped_total", "reason=\"unknown_source\"") >= 1.0
    })
    .await;
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        vec![2, 0, 0, 1, 1],
        vec![1, 0, 0, 1, 0x0a, 200, 1],
        // An Ethernet frame cut inside its IPv4 header.
        [&[1u8, 0, 0, 1, 1][..], &card[11..30]].concat(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    let before =
        metric_value(&metrics_text(metrics).await, "warden_analytics_dpi_dropped_total", "reason=\"malformed\"");
    for g in &garbage {
        probe.send_to(g, dpi).unwrap();
    }
    let t = metrics_until(metrics, "the garbage counted", |t| {
        metric_value(t, "warden_analytics_dpi_dropped_total", "reason=\"malformed\"") >= before + garbage.len() as f64
    })
    .await;
    assert!(metric_value(&t, "warden_analytics_dpi_packets_total", "") >= 10.0);
    // And the DPI goes on: acme's card is found again.
    let before = metric_value(&t, "warden_analytics_dpi_findings_total", "kind=\"card\"");
    send_until(&probe, &card, dpi, metrics, "a card after the garbage", |t| {
        metric_value(t, "warden_analytics_dpi_findings_total", "kind=\"card\"") > before
    })
    .await;

    // The digits nowhere: the API's answers, the events, the database files, the log.
    let mut answers = Vec::new();
    for path in [
        "/analytics/detections".to_string(),
        format!("/analytics/detections/{}", d["id"].as_str().unwrap()),
        "/events?limit=1000".to_string(),
        "/analytics/export.stix?tenant=acme".to_string(),
        "/analytics/dashboard?tenant=acme".to_string(),
        "/analytics/health?tenant=acme".to_string(),
    ] {
        let (s, body) = http("GET", &format!("{api}{path}"), &token, None).await;
        assert_eq!(s, 200, "{path}: {body}");
        answers.push((path, body.to_string()));
    }
    for (path, body) in &answers {
        assert_no_card(path, body.as_bytes());
    }
    let data = files_under(&n.dir.path().join("data"));
    assert!(data.iter().any(|(p, _)| p.to_string_lossy().contains("warden.db")), "the database is under data/");
    for (p, bytes) in &data {
        assert_no_card(&p.display().to_string(), bytes);
    }
    let log = std::fs::read(&log_path).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("live DPI on"), "the log is the server's");
    assert_no_card("the server's log", &log);
}
