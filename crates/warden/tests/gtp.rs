//! `warden serve` with a `[gtp]` section, as a process: the GTP-C firewall relays a Create Session
//! of a roamer the HSS registered (S6a ULR from an MME in 262 01) to the P-GW byte-identical, and
//! refuses one for a SIM not registered there ("User authentication failed") and one for an APN the
//! SIM's profile lacks ("APN access denied"); SIGHUP reloads `[gtp]` from the file; its counters are
//! on `/metrics`.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{free_port, metrics_text, node};
use gtpc::v2::values::{cause, interface, Fteid};
use gtpc::v2::{Ie, Message, MessageType};
use gtpc::Plmn;
use testkit::s6a::{self, connect_mme, Node};
use tokio::net::UdpSocket;

const MME: Node<'static> = Node::new("mme1.home.example", "home.example");

fn csr(imsi: &str, apn: &str, seq: u32) -> Vec<u8> {
    let f = Fteid {
        interface_type: interface::S5S8_SGW_GTPC,
        teid: 0x10 + seq,
        ipv4: Some(Ipv4Addr::LOCALHOST),
        ipv6: None,
    };
    Message::builder(MessageType::CREATE_SESSION_REQUEST)
        .sequence(seq)
        .ie(Ie::imsi(imsi).unwrap())
        .ie(Ie::serving_network(Plmn::new("262", "01").unwrap()))
        .ie(Ie::rat_type(6))
        .ie(Ie::fteid(0, &f))
        .ie(Ie::apn(apn).unwrap())
        .ie(Ie::bearer_context(0, vec![Ie::ebi(5)]))
        .build()
        .unwrap()
        .encode()
}

async fn recv(s: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    tokio::time::timeout(wait, s.recv(&mut buf)).await.ok().and_then(Result::ok).map(|n| buf[..n].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_screens_create_session_against_the_s6a_registration() {
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (gport, mport) = (free_port(), free_port());
    let n = node(
        "33",
        &["mme1.home.example"],
        "",
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{mport}\"\n[gtp]\nlisten = \"127.0.0.1:{gport}\"\nupstream = \"{}\"\n\
             [gtp.home]\nimsi_prefixes = [\"00101\"]\nplmns = [\"00101\"]\n\
             [[gtp.partners]]\nname = \"alpha\"\naddresses = [\"127.0.0.1\"]\nplmns = [\"26201\"]\n\
             setup_rate_per_sec = 50\nmax_tunnels = 100\n",
            pgw.local_addr().unwrap()
        ),
    );
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let server = n.start().await;
    // The critical "alarm" SIM registers in 262 01.
    let link = connect_mme(n.diameter, MME, 16).await.unwrap();
    let ulr = s6a::ulr(MME, "home.example", "001010000000002", [0x62, 0xf2, 0x10], None, "ulr;gtp");
    assert_eq!(link.peer.request(ulr).await.unwrap().result_code(), Some(2001));

    let sgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sgw.connect(("127.0.0.1", gport)).await.unwrap();
    let request = csr("001010000000002", "alarms.example", 1);
    sgw.send(&request).await.unwrap();
    let relayed =
        recv(&pgw, Duration::from_secs(5)).await.expect("the registered roamer's Create Session reaches the P-GW");
    assert_eq!(relayed, request);

    for (imsi, apn, expected) in [
        ("001010000000001", "meters.example", cause::USER_AUTHENTICATION_FAILED),
        ("001010000000002", "internet", cause::APN_ACCESS_DENIED),
    ] {
        sgw.send(&csr(imsi, apn, 2)).await.unwrap();
        let answer = recv(&sgw, Duration::from_secs(5)).await.expect("refused");
        let m = Message::decode(&answer).unwrap();
        assert_eq!(m.header.message_type, MessageType::CREATE_SESSION_RESPONSE);
        assert_eq!(m.cause().unwrap().unwrap().value, expected, "{imsi} {apn}");
    }
    assert!(recv(&pgw, Duration::from_millis(300)).await.is_none());
    // SIGHUP: the S6a cross-check put in detect mode in the file lets the unregistered SIM pass.
    let path = n.dir.path().join("warden.toml");
    let toml = std::fs::read_to_string(&path).unwrap() + "[gtp.rules]\nnot-registered = \"detect\"\n";
    std::fs::write(&path, toml).unwrap();
    let ok = std::process::Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let unregistered = csr("001010000000001", "meters.example", 3);
    let mut passed = None;
    for seq in 0..50u32 {
        let mut m = unregistered.clone();
        m[10] = seq as u8; // the sequence number's last octet: each try is a new request
        sgw.send(&m).await.unwrap();
        if let Some(got) = recv(&pgw, Duration::from_millis(200)).await {
            passed = Some((got, m));
            break;
        }
        let _ = recv(&sgw, Duration::from_millis(10)).await;
    }
    let (got, sent) = passed.expect("after the reload the unregistered SIM's Create Session reaches the P-GW");
    assert_eq!(got, sent);
    let text = metrics_text(SocketAddr::from(([127, 0, 0, 1], mport))).await;
    assert!(
        text.lines().any(|l| l.starts_with("warden_gtp_decisions_total")
            && l.contains("rule=\"not-registered\"")
            && l.contains("partner=\"alpha\"")),
        "{text}"
    );
}

/// The firewall's decisions reach the store's event feed (`gtp.<rule>`, once per subscriber and rule
/// a minute), and a device that keeps exceeding its set-up budget gets `[gtp.offenders] action`
/// (here: packet data barred) through the operator's use case, as an automated actor — visible in
/// `sim show` as `sim.data_barred` with the reason; a critical device is exempt from the budget and
/// so never acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_decisions_and_bars_a_device_over_its_budget() {
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gport = free_port();
    let n = node(
        "34",
        &["mme1.home.example"],
        "",
        &format!(
            "[gtp]\nlisten = \"127.0.0.1:{gport}\"\nupstream = \"{}\"\n\
             [gtp.home]\nimsi_prefixes = [\"00101\"]\nplmns = [\"00101\"]\n\
             [[gtp.partners]]\nname = \"alpha\"\naddresses = [\"127.0.0.1\"]\nplmns = [\"26201\"]\n\
             [gtp.budgets]\nimsi_setups_per_min = 1\nimsi_burst = 1\n\
             [gtp.offenders]\naction = \"bar-data\"\nrefusals = 3\nwindow_secs = 600\n",
            pgw.local_addr().unwrap()
        ),
    );
    // A roaming meter (standard) and a critical alarm SIM, both allowed to roam.
    let profiles = "[[profile]]\nname = \"roamer\"\nservices = [\"data\"]\n\
                    [[profile.apn]]\nname = \"meters.example\"\npdn_type = \"ipv4\"\nqci = 9\n";
    let csv = common::sims_csv(&[("001010000000001", "roamer", "acme"), ("001010000000002", "roamer", "acme")]);
    let (head, alarm) = csv.trim_end().rsplit_once('\n').unwrap();
    n.import(profiles, &format!("{head}\n{}\n", alarm.replace(",standard,", ",critical,")));
    let _server = n.start().await;
    let link = connect_mme(n.diameter, MME, 16).await.unwrap();
    for imsi in ["001010000000001", "001010000000002"] {
        let ulr = s6a::ulr(MME, "home.example", imsi, [0x62, 0xf2, 0x10], None, &format!("ulr;{imsi}"));
        assert_eq!(link.peer.request(ulr).await.unwrap().result_code(), Some(2001));
    }
    let sgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sgw.connect(("127.0.0.1", gport)).await.unwrap();
    // The meter: its budget (one set-up) spent, then three refusals with "APN congestion".
    sgw.send(&csr("001010000000001", "meters.example", 1)).await.unwrap();
    assert!(recv(&pgw, Duration::from_secs(5)).await.is_some(), "the first set-up passes");
    for seq in 2..5 {
        sgw.send(&csr("001010000000001", "meters.example", seq)).await.unwrap();
        let m = Message::decode(&recv(&sgw, Duration::from_secs(5)).await.expect("refused")).unwrap();
        assert_eq!(m.cause().unwrap().unwrap().value, cause::APN_CONGESTION);
    }
    // The critical alarm SIM: exempt from the budget, every set-up passes.
    for seq in 10..15 {
        sgw.send(&csr("001010000000002", "meters.example", seq)).await.unwrap();
        assert!(recv(&pgw, Duration::from_secs(5)).await.is_some(), "critical set-up {seq} passes");
    }
    let show =
        |imsi: &str| String::from_utf8_lossy(&common::warden(n.dir.path(), &["sim", "show", imsi]).stdout).into_owned();
    let mut meter = String::new();
    for _ in 0..100 {
        meter = show("001010000000001");
        if meter.contains("sim.data_barred") && meter.contains("gtp.imsi-rate") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(meter.contains("gtp.imsi-rate"), "the refusal is in the feed: {meter}");
    assert!(meter.contains("sim.data_barred") && meter.contains("gtp firewall"), "barred, with the reason: {meter}");
    assert_eq!(meter.matches("gtp.imsi-rate").count(), 1, "once per subscriber and rule a minute: {meter}");
    let alarm = show("001010000000002");
    assert!(!alarm.contains("sim.data_barred") && !alarm.contains("gtp."), "{alarm}");
}

/// The GTPv2-C messages of `crates/gtpfw/scripts/proxy_messages.py`, built by PyPI scapy
/// (`scapy.contrib.gtp_v2`); `None` (test skipped) without python3 and scapy unless `CI` is set.
fn scapy_messages() -> Option<std::collections::HashMap<String, Vec<u8>>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../gtpfw/scripts/proxy_messages.py");
    let out = std::process::Command::new("python3").arg(script).output();
    if !out.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "python3 with scapy is needed (CI is set): .ci/run installs it");
        println!("SKIPPED: python3 with scapy is not installed");
        return None;
    }
    let map: std::collections::HashMap<String, String> = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    Some(map.into_iter().map(|(k, v)| (k, hex::decode(v).unwrap())).collect())
}

/// `m` with sequence number `seq` (a GTPv2-C header with a TEID: octets 8-10).
fn with_seq(m: &[u8], seq: u32) -> Vec<u8> {
    let mut m = m.to_vec();
    m[8..11].copy_from_slice(&seq.to_be_bytes()[1..]);
    m
}

/// Hot reload of `[gtp]` on SIGHUP in `warden serve`, with scapy-built messages: a partner's set-up
/// rate and a rule's mode changed in the file take effect without dropping the tunnel set up before
/// or the socket; a changed `listen` is refused with its reason in the log and the old socket keeps
/// serving; a file that does not parse, and one whose `[gtp]` does not compile, leave the
/// configuration in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_gtp_on_sighup_keeping_tunnels_and_socket() {
    let Some(msg) = scapy_messages() else { return };
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gport = free_port();
    let section = |rate: u32, listen: u16, rules: &str| {
        format!(
            "[gtp]\nlisten = \"127.0.0.1:{listen}\"\nupstream = \"{}\"\n\
             [gtp.home]\nimsi_prefixes = [\"00101\"]\nplmns = [\"00101\"]\n\
             [[gtp.partners]]\nname = \"alpha\"\naddresses = [\"127.0.0.1\"]\nplmns = [\"26201\"]\n\
             setup_rate_per_sec = {rate}\nmax_tunnels = 100\n\
             [gtp.budgets]\nimsi_setups_per_min = 1000\nimsi_burst = 100\n\
             [gtp.rules]\nnot-registered = \"off\"\napn = \"off\"\n{rules}",
            pgw.local_addr().unwrap()
        )
    };
    let n = node("35", &["mme1.home.example"], "", &section(1, gport, ""));
    let path = n.dir.path().join("warden.toml");
    let base = std::fs::read_to_string(&path).unwrap();
    let base = &base[..base.find("[gtp]").unwrap()];
    let log_path = n.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = common::Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(n.dir.path())
            .args(["--config", "warden.toml", "serve"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(n.diameter).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hup = |content: String| {
        std::fs::write(&path, content).unwrap();
        let pid = server.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    };
    let sgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sgw.connect(("127.0.0.1", gport)).await.unwrap();

    // A tunnel: scapy's Create Session reaches the P-GW byte-identical, its response creates it.
    let csr = &msg["create_session_request"];
    let mut buf = vec![0u8; 4096];
    let mut got = None;
    for _ in 0..20 {
        // Sent again (a retransmission, same sequence number) until the firewall is up (until then
        // the kernel answers "port unreachable", which a connected socket reports).
        let _ = sgw.send(csr).await;
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(500), pgw.recv_from(&mut buf)).await {
            got = Some(r.unwrap());
            break;
        }
    }
    let (len, upstream) = got.expect("the Create Session reaches the P-GW");
    assert_eq!(&buf[..len], &csr[..]);
    pgw.send_to(&msg["create_session_response"], upstream).await.unwrap();
    assert_eq!(recv(&sgw, Duration::from_secs(5)).await.as_deref(), Some(&msg["create_session_response"][..]));
    // One set-up a second: the next one at once is refused with "No resources available".
    sgw.send(&with_seq(csr, 0x400)).await.unwrap();
    let refusal = Message::decode(&recv(&sgw, Duration::from_secs(5)).await.expect("refused")).unwrap();
    assert_eq!(refusal.cause().unwrap().unwrap().value, cause::NO_RESOURCES_AVAILABLE);
    // A spoofed Serving Network: refused ("Request rejected").
    let spoofed = &msg["spoofed_serving_network"];
    sgw.send(spoofed).await.unwrap();
    let refusal = Message::decode(&recv(&sgw, Duration::from_secs(5)).await.expect("refused")).unwrap();
    assert_eq!(refusal.cause().unwrap().unwrap().value, cause::REQUEST_REJECTED);
    assert!(recv(&pgw, Duration::from_millis(200)).await.is_none());

    // The file: 1000 set-ups a second, serving-network in detect mode, and another listen port.
    hup(format!("{base}{}", section(1000, free_port(), "serving-network = \"detect\"\n")));
    let mut passed = false;
    for k in 0..100u32 {
        let m = with_seq(spoofed, 0x500 + k);
        sgw.send(&m).await.unwrap();
        if let Some(got) = recv(&pgw, Duration::from_millis(100)).await {
            assert_eq!(got, m, "relayed byte-identical");
            passed = true;
            break;
        }
        let _ = recv(&sgw, Duration::from_millis(10)).await;
    }
    assert!(passed, "after the reload the spoofed Serving Network is only detected");
    // The new set-up rate: ten set-ups at once all reach the P-GW (on the old socket).
    for k in 0..10u32 {
        let m = with_seq(csr, 0x600 + k);
        sgw.send(&m).await.unwrap();
        assert_eq!(recv(&pgw, Duration::from_secs(5)).await.as_deref(), Some(&m[..]), "set-up {k}");
    }
    // The tunnel survived the reload: its Delete Session passes (another one would get 64).
    sgw.send(&msg["delete_session_request"]).await.unwrap();
    assert_eq!(
        recv(&pgw, Duration::from_secs(5)).await.as_deref(),
        Some(&msg["delete_session_request"][..]),
        "the tunnel is still the partner's"
    );
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("gtp.listen = ")
            && text.contains("refused: it cannot change while running")
            && text.contains(&format!("127.0.0.1:{gport} kept until the next restart")),
        "{text}"
    );

    // A file that does not parse, then a [gtp] that does not compile: both refused, the
    // configuration in force (detect, 1000/s) stays.
    for broken in [format!("{base}[gtp\n"), format!("{base}{}", section(0, gport, ""))] {
        hup(broken);
        tokio::time::sleep(Duration::from_millis(500)).await;
        for k in 0..5u32 {
            let m = with_seq(spoofed, 0x700 + k);
            sgw.send(&m).await.unwrap();
            assert_eq!(recv(&pgw, Duration::from_secs(5)).await.as_deref(), Some(&m[..]), "kept: {k}");
        }
    }
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(text.matches("[gtp] reload refused, rules unchanged").count(), 2, "{text}");
    assert!(text.contains("setup_rate_per_sec: must be positive"), "{text}");
}
