//! The DNS firewall inside `warden serve`, end to end: the test P-GW (`testkit::gx`) opens a Gx
//! session for a SIM at 127.0.0.2; dnspython (PyPI, a client nobody on the project wrote) asks from
//! that address. An allowed name resolves (through a fake upstream on loopback) and the address it
//! resolved to reaches the P-GW in a RAR within 100 ms of the answer, after which the P-GW lets the
//! SIM reach it; a name outside the allowlist is REFUSED and becomes a `dns.refused` event; an
//! address without a session is refused; every query lands in the tenant's query log.

mod common;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, http, node, sims_csv, REALM};
use serde_json::{json, Value};
use testkit::gx::{Pgw, SessionSpec};

const PGW: &str = "pgw.home.example";
const IMSI: &str = "001010000000001";
const APN: &str = "meters.example";
const UE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dnsfw/tests/support/dnspython_client.py");

const PROFILES: &str = r#"
[[profile]]
name = "dns-meter"
services = ["data"]
allow_prefixes = ["198.51.100.0/24"]
allow_domains = ["api.meters.example", "*.ota.meters.example"]
[[profile.apn]]
name = "meters.example"
"#;

fn have_dnspython() -> bool {
    let ok = Command::new("python3").args(["-c", "import dns.query"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "dnspython is missing (python3 -m pip install dnspython) and CI is set"
        );
        eprintln!("SKIPPED: dnspython is missing; install it with `python3 -m pip install dnspython`");
    }
    ok
}

/// Asks `server` with dnspython from `source`.
fn dnspython(server: SocketAddr, source: Ipv4Addr, name: &str, mode: &str) -> Value {
    let q = json!([{"server": server.ip().to_string(), "port": server.port(), "source": source.to_string(),
                    "name": name, "type": "A", "mode": mode, "edns": null}]);
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(q.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dnspython client: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap().remove(0)
}

/// A minimal A query (RFC 1035 §4.1) sent from `source`; returns the RCODE when the answer came.
fn raw_query(server: SocketAddr, source: Ipv4Addr, name: &str) -> (u8, Instant) {
    let sock = UdpSocket::bind((source, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, server).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(n >= 12 && buf[..2] == [0x12, 0x34], "answer to our query");
    (buf[3] & 0x0f, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_names_resolve_and_open_the_gx_rules_others_are_refused() {
    if !have_dnspython() {
        return;
    }
    // The upstream resolver: an authority for meters.example on loopback.
    let upstream = dnsfw::authority::Authority::new("meters.example.", 60)
        .addr("api.meters.example.", 30, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 50)))
        .addr("fw.ota.meters.example.", 30, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 51)))
        .addr("evil.meters.example.", 30, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66)));
    let upstream = Arc::new(upstream);
    let stop = tokio_util::sync::CancellationToken::new();
    let up = upstream.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();

    let dns_port = free_port();
    let dns: SocketAddr = ([127, 0, 0, 1], dns_port).into();
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{PGW}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"gx\"]\n[dns]\nlisten = \"{dns}\"\nupstream = [\"{up}\"]\n"
    );
    let n = node("5c", &[], "", &extra);
    n.import(PROFILES, &sims_csv(&[(IMSI, "dns-meter", "acme")]));
    let token = n.admin_token();
    let _server = n.start().await;

    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects");
    let cca = pgw.ccr_initial(&SessionSpec::new(IMSI, APN, UE)).await;
    assert!(cca.is_success(), "{:#?}", cca.message);
    let sid = cca.session_id.clone();
    let target: IpAddr = "203.0.113.50".parse().unwrap();
    assert!(!pgw.session(&sid).unwrap().allows(target, 443, 6), "not reachable before it is resolved");

    // An allowed name, asked by dnspython from the SIM's address, over UDP and TCP.
    for mode in ["udp", "tcp"] {
        let r = tokio::task::spawn_blocking(move || dnspython(dns, UE, "api.meters.example", mode)).await.unwrap();
        assert_eq!(r["rcode"], 0, "{mode}: {r}");
        assert_eq!(r["answers"], json!(["203.0.113.50"]), "{mode}: {r}");
    }
    // The resolved address reached the P-GW with RAR (the first query already sent it).
    let rar = pgw.next_rar(Duration::from_secs(1)).await.expect("RAR with the resolved address");
    assert_eq!(rar.header.app_id, testkit::gx::codes::GX_APPLICATION_ID);
    assert!(pgw.session(&sid).unwrap().allows(target, 443, 6), "reachable once resolved");
    assert!(!pgw.session(&sid).unwrap().allows("203.0.113.66".parse().unwrap(), 443, 6));

    // A name under the wildcard, timed: the RAR arrives within 100 ms of the answer.
    let (rcode, answered) =
        tokio::task::spawn_blocking(move || raw_query(dns, UE, "fw.ota.meters.example")).await.unwrap();
    assert_eq!(rcode, 0);
    let rar = pgw.next_rar(Duration::from_secs(1)).await.expect("RAR for the wildcard name");
    let late = answered.elapsed();
    assert!(late <= Duration::from_millis(100), "RAR {late:?} after the DNS answer");
    drop(rar);
    assert!(pgw.session(&sid).unwrap().allows("203.0.113.51".parse().unwrap(), 8883, 6));

    // A name outside the allowlist: REFUSED, and nothing is installed.
    let r = tokio::task::spawn_blocking(move || dnspython(dns, UE, "evil.meters.example", "udp")).await.unwrap();
    assert_eq!(r["rcode"], 5, "{r}");
    assert!(pgw.next_rar(Duration::from_millis(300)).await.is_none(), "no RAR for a refused name");
    // An address with no session: REFUSED.
    let r =
        tokio::task::spawn_blocking(move || dnspython(dns, Ipv4Addr::new(127, 0, 0, 9), "api.meters.example", "udp"))
            .await
            .unwrap();
    assert_eq!(r["rcode"], 5, "{r}");

    // The refusal is an event of the tenant, and every query of the SIM is in the query log.
    let api = n.api();
    let mut seen = (false, 0);
    for _ in 0..50 {
        let (_, events) = http("GET", &format!("{api}/events?imsi={IMSI}"), &token, None).await;
        let refused = events["items"].as_array().unwrap().iter().any(|e| e["kind"] == "dns.refused");
        let (_, log) = http("GET", &format!("{api}/dns/queries?imsi={IMSI}"), &token, None).await;
        seen = (refused, log["items"].as_array().map_or(0, Vec::len));
        if seen.0 && seen.1 >= 4 {
            let verdicts: Vec<&str> =
                log["items"].as_array().unwrap().iter().filter_map(|q| q["verdict"].as_str()).collect();
            assert!(verdicts.contains(&"refused") && verdicts.contains(&"allowed"), "{log}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.0, "no dns.refused event");
    assert!(seen.1 >= 4, "query log has {} entries", seen.1);
    stop.cancel();
}

/// Two APNs whose pools overlap give 127.0.0.2 to SIMs of two tenants at once: the address names
/// neither, so a query from it is refused (fail closed) and lands in neither SIM's query log. With
/// `[dns] apn` the firewall looks among that APN's sessions only, and finds its SIM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_two_sims_hold_is_refused_unless_the_firewall_serves_one_apn() {
    const CAMERA: &str = "001010000000002";
    let profiles = format!(
        "{PROFILES}\n[[profile]]\nname = \"dns-camera\"\nservices = [\"data\"]\n\
         allow_domains = [\"api.meters.example\"]\n[[profile.apn]]\nname = \"cameras.example\"\n"
    );
    let sims = sims_csv(&[(IMSI, "dns-meter", "acme"), (CAMERA, "dns-camera", "globex")]);
    let dns: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{PGW}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"gx\"]\n[dns]\nlisten = \"{dns}\"\n"
    );
    let n = node("5d", &[], "", &extra);
    n.import(&profiles, &sims);
    let token = n.admin_token();
    let server = n.start().await;
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects");
    for (imsi, apn) in [(IMSI, APN), (CAMERA, "cameras.example")] {
        let cca = pgw.ccr_initial(&SessionSpec::new(imsi, apn, UE)).await;
        assert!(cca.is_success(), "{imsi}: {:#?}", cca.message);
    }
    // Both SIMs may resolve the name (no upstream here: an allowed name gets SERVFAIL, 2); the
    // address names neither: REFUSED (5).
    let ask = move || tokio::task::spawn_blocking(move || raw_query(dns, UE, "api.meters.example"));
    assert_eq!(ask().await.unwrap().0, 5, "an ambiguous source is refused");
    assert_eq!(ask().await.unwrap().0, 5);
    // The PCRF writes its sessions within milliseconds; give it time before the kill.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(pgw);
    drop(server);

    // The same sessions, a firewall for the meters' APN only.
    let config = n.dir.path().join("warden.toml");
    let toml = std::fs::read_to_string(&config).unwrap() + "apn = \"Meters.Example\"\n";
    std::fs::write(&config, toml).unwrap();
    let _server = n.start().await;
    assert_eq!(ask().await.unwrap().0, 2, "the meter is found among its APN's sessions (allowed; no upstream)");

    // Only that query is in a SIM's log: the refused ones are in neither tenant's.
    let api = n.api();
    let mut logs = (0, 0);
    for _ in 0..50 {
        let count = |imsi: &'static str| {
            let (api, token) = (api.clone(), token.clone());
            async move {
                let (_, log) = http("GET", &format!("{api}/dns/queries?imsi={imsi}"), &token, None).await;
                log["items"].as_array().map_or(0, Vec::len)
            }
        };
        logs = (count(IMSI).await, count(CAMERA).await);
        if logs.0 >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(logs, (1, 0), "query log entries of the meter and the camera");
}
