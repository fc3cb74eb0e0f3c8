//! The PCRF on Gx end to end, seen from an independent test P-GW (`testkit::gx`, written from
//! TS 29.212 and RFC 6733/4006 without the PCRF's code or the dictionary's Gx entries): attach,
//! CCR-I whose rules are the profile's allowlist and a deny-all (read back from the Flow-Descriptions
//! and evaluated as a PCEF would), a per-SIM policy change, quarantine and its lifting pushed with
//! RAR within a second, usage on CCR-U, CCR-T, the error answers (unknown session, unknown user,
//! missing AVP), and suspension releasing the session. A second client on python-diameter checks
//! the same CCA through another codec.

mod common;

use common::{http, node, sims_csv, warden, Node, REALM};

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::gx::codes::{base, result, GX_APPLICATION_ID};
use testkit::gx::raw::{find, str_of, u32_of};
use testkit::gx::{
    Dir, Flow, FlowDirection, FlowStatus, Installed, IpFilterRule, PccRule, Pgw, ReleaseBy, Session, SessionSpec, Usage,
};
use testkit::s6a::{self, connect_mme, Node as DiameterNode, PLMN_00101};

const PGW: &str = "pgw.home.example";
const PGW_PY: &str = "pgw-py.home.example";
const MME: DiameterNode<'static> = DiameterNode::new("mme1.home.example", REALM);
const IMSI: &str = "001010000000001";
const APN: &str = "meters.example";

/// The profile under test: restricted traffic, two allowlist entries (a /24 with anything, a host
/// with TCP 443 only), a domain, and the tenant's management platform for quarantine.
const PROFILES: &str = r#"
[[profile]]
name = "gx-meter"
services = ["data"]
ambr_ul = 64000
ambr_dl = 128000
traffic = "restricted"
allow_prefixes = ["198.51.100.0/24", "203.0.113.7/32:443/tcp"]
allow_domains = ["api.meters.example"]
quarantine_prefixes = ["192.0.2.10/32"]
[[profile.apn]]
name = "meters.example"
pdn_type = "ipv4"
qci = 9
"#;

/// A node whose Diameter peers are an MME (S6a), and two PCEFs on Gx: the Rust P-GW and the
/// python-diameter one. The profile and SIM are written to the node's directory and imported.
fn setup() -> Node {
    let pcef = |host: &str| {
        format!(
            "[[diameter.peers]]\norigin_host = \"{host}\"\norigin_realm = \"{REALM}\"\n\
             imsi_prefixes = [\"00101\"]\napplications = [\"gx\"]\n"
        )
    };
    let n = node("5b", &[MME.host], "", &format!("{}{}[pcrf]\n", pcef(PGW), pcef(PGW_PY)));
    n.import(PROFILES, &sims_csv(&[("001010000000001", "gx-meter", "acme")]));
    n
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const TCP: u8 = 6;
const UDP: u8 = 17;

/// The remote side of a Gx filter as `proto address [ports]`: the source of an `out` rule, the
/// destination of an `in` one (TS 29.212 §5.4.2).
fn remote(f: &IpFilterRule) -> String {
    let side = if f.dir == Dir::Out { &f.src } else { &f.dst };
    let proto = f.proto.map_or("ip".to_string(), |p| p.to_string());
    format!("{proto} {side}")
}

/// True for a filter that only lets DNS through (port 53), which a restricted SIM needs to use its
/// allowed domains.
fn is_dns(f: &IpFilterRule) -> bool {
    let side = if f.dir == Dir::Out { &f.src } else { &f.dst };
    !side.ports.is_empty() && side.ports.iter().all(|r| r.lo == 53 && r.hi == 53)
}

/// The remote sides the enabled rules let through, DNS aside, as [`remote`] writes them.
fn allowed_remotes(i: &Installed) -> BTreeSet<String> {
    i.permitted_filters().into_iter().filter(|f| !is_dns(f)).map(remote).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What every installed policy must look like: TS 29.212 conformant Flow-Descriptions, dynamic
/// rules only (predefined ones are opaque to an outside check), and a deny-all as the last rule by
/// precedence.
fn check_shape(s: &Session, when: &str) {
    let i = &s.installed;
    assert!(i.failures.is_empty(), "{when}: rules the P-GW could not install: {:?}", i.failures);
    assert!(i.gx_issues().is_empty(), "{when}: not TS 29.212 Flow-Descriptions: {:#?}", i.gx_issues());
    assert!(i.predefined.is_empty() && i.base_names.is_empty(), "{when}: predefined rules {:?}", i.predefined);
    let ordered = i.ordered();
    let last = ordered.last().unwrap_or_else(|| panic!("{when}: no rules installed"));
    assert!(s.is_deny_all(last), "{when}: the lowest-precedence rule is not a deny-all: {last:#?}");
    for r in &ordered[..ordered.len() - 1] {
        // Allow rules, or rules gated off (DISABLED) while the SIM is quarantined.
        let status = r.flow_status();
        assert!(matches!(status, FlowStatus::Enabled | FlowStatus::Disabled), "{when}: {} is {status:?}", r.name);
        assert!(r.precedence < last.precedence, "{when}: {} is not before the deny-all", r.name);
    }
}

/// Checks a RAR's Gx header and base AVPs (TS 29.212 §5.6.4), and then lets the P-GW take every
/// further RAR of the same change (a PCRF may remove and install in separate requests).
async fn push(pgw: &Pgw, sid: &str, what: &str, started: Instant) {
    let rar = pgw.next_rar(Duration::from_secs(1)).await.unwrap_or_else(|| panic!("{what}: no RAR within 1 s"));
    let elapsed = started.elapsed();
    assert!(elapsed <= Duration::from_secs(1), "{what}: RAR after {elapsed:?}");
    assert_eq!(rar.header.app_id, GX_APPLICATION_ID, "{what}: RAR on Gx");
    let avps = &rar.avps;
    assert_eq!(find(avps, base::SESSION_ID, 0).and_then(str_of), Some(sid), "{what}: RAR for our session");
    assert_eq!(find(avps, base::AUTH_APPLICATION_ID, 0).and_then(u32_of), Some(GX_APPLICATION_ID));
    // Re-Auth-Request-Type (285) AUTHORIZE_ONLY (0), Destination-Host (293) the P-GW.
    assert_eq!(find(avps, 285, 0).and_then(u32_of), Some(0), "{what}: Re-Auth-Request-Type");
    assert_eq!(find(avps, 293, 0).and_then(str_of), Some(PGW), "{what}: Destination-Host");
    while pgw.next_rar(Duration::from_millis(300)).await.is_some() {}
}

fn check_cca(pgw: &Pgw, sid: &str, kind: u32, answer: &testkit::gx::Answer, what: &str) {
    assert_eq!(answer.result_code(), Some(result::SUCCESS), "{what}: {:#?}", answer.message);
    let avps = &answer.message.avps;
    assert_eq!(answer.message.header.app_id, GX_APPLICATION_ID);
    assert_eq!(find(avps, base::SESSION_ID, 0).and_then(str_of), Some(sid));
    assert_eq!(find(avps, base::AUTH_APPLICATION_ID, 0).and_then(u32_of), Some(GX_APPLICATION_ID));
    assert_eq!(find(avps, base::CC_REQUEST_TYPE, 0).and_then(u32_of), Some(kind), "{what}: CC-Request-Type echoed");
    assert!(find(avps, base::CC_REQUEST_NUMBER, 0).is_some(), "{what}: CC-Request-Number echoed");
    assert!(pgw.received().iter().all(|m| m.header.app_id == GX_APPLICATION_ID));
}

#[tokio::test]
async fn pcrf_policy_life_of_a_session_seen_from_an_independent_pgw() {
    let n = setup();
    let token = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    let sim = format!("{api}/sims/{IMSI}");

    // Attach over S6a, as the MME would before the P-GW opens the session.
    let mme = connect_mme(n.diameter, MME, 16).await.expect("MME connects");
    let ula = s6a::ask(&mme.peer, s6a::ulr(MME, REALM, IMSI, PLMN_00101, None, "gx-attach")).await;
    assert_eq!(ula.result_code(), Some(result::SUCCESS), "ULR");

    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    let mut spec = SessionSpec::new(IMSI, APN, Ipv4Addr::new(10, 45, 0, 2));
    spec.msisdn = Some("491700000001".into());

    // CCR-I: the profile's allowlist and a deny-all.
    let cca = pgw.ccr_initial(&spec).await;
    let sid = cca.session_id.clone();
    check_cca(&pgw, &sid, 1, &cca, "CCR-I");
    let s = pgw.session(&sid).expect("session open");
    check_shape(&s, "CCR-I");
    assert_eq!(allowed_remotes(&s.installed), set(&["ip 198.51.100.0/24", "6 203.0.113.7 443"]));
    for (dst, port, proto, ok) in [
        ("198.51.100.77", 80, TCP, true),
        ("198.51.100.1", 5683, UDP, true),
        ("203.0.113.7", 443, TCP, true),
        ("203.0.113.7", 80, TCP, false),
        ("203.0.113.7", 443, UDP, false),
        ("203.0.113.8", 443, TCP, false),
        ("192.0.2.10", 443, TCP, false),
        ("8.8.8.8", 443, TCP, false),
    ] {
        assert_eq!(s.allows(ip(dst), port, proto), ok, "after CCR-I: {dst}:{port}/{proto}");
    }
    // QoS, when the PCRF sends it, is the profile's.
    if let Some(q) = s.installed.default_bearer_qos {
        assert_eq!(q.qci, Some(9), "Default-EPS-Bearer-QoS QCI of the APN");
    }
    if let Some(q) = s.installed.qos.filter(|q| q.apn_ambr_ul.is_some()) {
        assert_eq!((q.apn_ambr_ul, q.apn_ambr_dl), (Some(64000), Some(128000)), "APN-AMBR of the profile");
    }

    // A per-SIM override adds a prefix: pushed with RAR within 1 s.
    let started = Instant::now();
    let body = json!({"allow_prefixes": ["203.0.113.64/26"], "allow_domains": [], "mode": "extend"});
    let (st, r) = http("PUT", &format!("{sim}/policy"), &token, Some(body)).await;
    assert_eq!(st, 200, "{r}");
    push(&pgw, &sid, "policy extended", started).await;
    let s = pgw.session(&sid).unwrap();
    check_shape(&s, "policy extended");
    assert_eq!(allowed_remotes(&s.installed), set(&["ip 198.51.100.0/24", "6 203.0.113.7 443", "ip 203.0.113.64/26"]));
    assert!(s.allows(ip("203.0.113.70"), 8080, TCP) && s.allows(ip("198.51.100.77"), 80, TCP));
    let (st, p) = http("GET", &format!("{sim}/policy"), &token, None).await;
    assert_eq!(st, 200, "{p}");
    let effective: BTreeSet<&str> =
        p["effective"]["allow_prefixes"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(effective, BTreeSet::from(["198.51.100.0/24", "203.0.113.7/32:443/tcp", "203.0.113.64/26"]), "{p}");
    assert_eq!(p["effective"]["traffic"], "restricted", "{p}");
    assert!(p["effective"]["allow_domains"].as_array().unwrap().iter().any(|d| d == "api.meters.example"), "{p}");
    assert!(!p["overrides"].is_null(), "{p}");

    // Replace: only the override is left.
    let started = Instant::now();
    let body = json!({"allow_prefixes": ["203.0.113.64/26"], "allow_domains": [], "mode": "replace"});
    let (st, r) = http("PUT", &format!("{sim}/policy"), &token, Some(body)).await;
    assert_eq!(st, 200, "{r}");
    push(&pgw, &sid, "policy replaced", started).await;
    let s = pgw.session(&sid).unwrap();
    check_shape(&s, "policy replaced");
    assert_eq!(allowed_remotes(&s.installed), set(&["ip 203.0.113.64/26"]));
    assert!(s.allows(ip("203.0.113.70"), 8080, TCP) && !s.allows(ip("198.51.100.77"), 80, TCP));
    let before_quarantine = allowed_remotes(&s.installed);

    // Quarantine: only the management platform (and DNS) is reachable.
    let started = Instant::now();
    let (st, r) = http("POST", &format!("{sim}/quarantine"), &token, Some(json!({"reason": "gx test"}))).await;
    assert!((200..300).contains(&st), "quarantine: {st} {r}");
    push(&pgw, &sid, "quarantine", started).await;
    let s = pgw.session(&sid).unwrap();
    check_shape(&s, "quarantine");
    assert_eq!(allowed_remotes(&s.installed), set(&["ip 192.0.2.10"]), "only the quarantine prefixes");
    assert!(s.allows(ip("192.0.2.10"), 443, TCP));
    assert!(!s.allows(ip("203.0.113.70"), 8080, TCP) && !s.allows(ip("198.51.100.77"), 80, TCP));
    assert!(!s.allows(ip("192.0.2.11"), 443, TCP));

    // Lifted: back to the policy before.
    let started = Instant::now();
    let (st, r) = http("DELETE", &format!("{sim}/quarantine"), &token, None).await;
    assert!((200..300).contains(&st), "lift: {st} {r}");
    push(&pgw, &sid, "quarantine lifted", started).await;
    let s = pgw.session(&sid).unwrap();
    check_shape(&s, "quarantine lifted");
    assert_eq!(allowed_remotes(&s.installed), before_quarantine);
    assert!(s.allows(ip("203.0.113.70"), 8080, TCP) && !s.allows(ip("192.0.2.10"), 443, TCP));

    // Usage on CCR-U (for the key the PCRF monitors, if any).
    let key = s.installed.monitoring.keys().next().cloned().unwrap_or_else(|| b"gx-test".to_vec());
    let usage = Usage { monitoring_key: key, input_octets: 1_200, output_octets: 34_000, level: Some(0) };
    let cca = pgw.ccr_update(&sid, &[usage]).await;
    check_cca(&pgw, &sid, 2, &cca, "CCR-U");

    // CCR-T, then the session is unknown.
    let cca = pgw.ccr_terminate(&sid).await;
    check_cca(&pgw, &sid, 3, &cca, "CCR-T");
    let late = pgw.ccr_update(&sid, &[]).await;
    assert_eq!(late.code(), Some(result::UNKNOWN_SESSION_ID), "CCR-U after CCR-T: {:#?}", late.message);

    // An IMSI the HSS does not know: DIAMETER_USER_UNKNOWN (RFC 4006 §9.1 makes it a Result-Code;
    // an Experimental-Result is taken too).
    let unknown = pgw.ccr_initial(&SessionSpec::new("001019999999999", APN, Ipv4Addr::new(10, 45, 0, 3))).await;
    assert_eq!(unknown.code(), Some(result::USER_UNKNOWN), "{:#?}", unknown.message);
    assert!(pgw.session(&unknown.session_id).is_none());

    // A CCR without CC-Request-Type: DIAMETER_MISSING_AVP naming it in Failed-AVP.
    let mut bad = pgw.build_ccr_initial(&pgw.new_session_id(), &spec);
    bad.avps.retain(|a| !(a.code == base::CC_REQUEST_TYPE && a.vendor() == 0));
    let answer = testkit::gx::Answer { session_id: String::new(), message: pgw.send(bad).await };
    assert_eq!(answer.result_code(), Some(result::MISSING_AVP), "{:#?}", answer.message);
    let failed = answer.failed_avps();
    assert!(failed.iter().any(|a| a.code == base::CC_REQUEST_TYPE && a.vendor() == 0), "Failed-AVP: {failed:?}");

    // Suspension releases an active session (RAR with Session-Release-Cause, or ASR); the P-GW
    // answers and ends it with CCR-T.
    let cca = pgw.ccr_initial(&spec).await;
    check_cca(&pgw, &cca.session_id, 1, &cca, "second CCR-I");
    let (st, r) = http("PATCH", &sim, &token, Some(json!({"status": "suspended"}))).await;
    assert_eq!(st, 200, "{r}");
    let release = pgw.next_release(Duration::from_secs(5)).await.expect("session released within 5 s");
    assert_eq!(release.session_id, cca.session_id);
    assert!(release.known);
    match release.by {
        ReleaseBy::Rar { cause } => assert!(cause <= 2, "Session-Release-Cause {cause}"),
        ReleaseBy::Asr => assert!(pgw.next_asr(Duration::from_secs(1)).await.is_some()),
    }
    let mut state = None;
    for _ in 0..100 {
        state = pgw.session(&cca.session_id).map(|s| s.state);
        if state == Some(testkit::gx::SessionState::Terminated) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, Some(testkit::gx::SessionState::Terminated), "CCR-T after the release");
    // And a suspended SIM gets no new data session.
    let refused = pgw.ccr_initial(&spec).await;
    assert!(!refused.is_success(), "CCR-I of a suspended SIM: {:#?}", refused.message);
}

/// A P-GW restart (a new connection with a higher Origin-State-Id, RFC 6733 §8.16): the PCRF takes
/// the new session of the same SIM, and a policy change reaches that session within a second.
#[tokio::test]
async fn policy_reaches_the_session_opened_after_a_pgw_restart() {
    let n = setup();
    let token = n.admin_token();
    let _server = n.start().await;
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    let spec = SessionSpec::new(IMSI, APN, Ipv4Addr::new(10, 45, 0, 2));
    let old = pgw.ccr_initial(&spec).await;
    assert!(old.is_success(), "{:#?}", old.message);
    let state = pgw.origin_state_id();
    assert!(pgw.reconnect_with_new_state().await.expect("reconnects") > state);
    let new = pgw.ccr_initial(&spec).await;
    check_cca(&pgw, &new.session_id, 1, &new, "CCR-I after the restart");
    check_shape(&pgw.session(&new.session_id).unwrap(), "CCR-I after the restart");

    let started = Instant::now();
    let body = json!({"allow_prefixes": ["203.0.113.64/26"], "allow_domains": [], "mode": "extend"});
    let (st, r) = http("PUT", &format!("{}/sims/{IMSI}/policy", n.api()), &token, Some(body)).await;
    assert_eq!(st, 200, "{r}");
    // RARs for the session of the old state, if the PCRF still has it, are answered 5002 by the P-GW.
    let mut reached = false;
    while let Some(rar) = pgw.next_rar(Duration::from_secs(1).saturating_sub(started.elapsed())).await {
        if find(&rar.avps, base::SESSION_ID, 0).and_then(str_of) == Some(new.session_id.as_str()) {
            reached = true;
            break;
        }
    }
    assert!(reached, "no RAR for the new session within 1 s");
    while pgw.next_rar(Duration::from_millis(300)).await.is_some() {}
    let s = pgw.session(&new.session_id).unwrap();
    assert!(s.allows(ip("203.0.113.70"), 8080, TCP) && s.allows(ip("198.51.100.77"), 80, TCP));
}

/// The CCA of a CCR-I sent by python-diameter (another codec, another CER) carries the same rules
/// as the one the Rust P-GW gets. Skipped when python-diameter is missing, except under CI.
#[tokio::test]
async fn python_diameter_pgw_gets_the_same_rules() {
    let have =
        Command::new("python3").args(["-c", "import diameter.message"]).output().is_ok_and(|o| o.status.success());
    if !have {
        assert!(std::env::var_os("CI").is_none(), "python-diameter is required under CI (pip install python-diameter)");
        eprintln!("skipped: python-diameter not installed (python3 -m pip install python-diameter)");
        return;
    }
    let n = setup();
    let _server = n.start().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gx_python/pgw.py");
    let addr = n.diameter.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args(["--addr", &addr, "--host", PGW_PY, "--realm", REALM, "--imsi", IMSI, "--ip", "10.45.0.9"])
            .args(["--apn", APN])
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "pgw.py: {}", String::from_utf8_lossy(&out.stderr));
    let cca: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from pgw.py");
    assert_eq!(cca["result_code"], result::SUCCESS, "{cca}");

    // The python P-GW's rules, parsed and evaluated here.
    let mut py = Installed::default();
    for r in cca["rules"].as_array().unwrap() {
        let flows = r["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let text = f["description"].as_str().unwrap().to_string();
                let filter = IpFilterRule::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                let direction = f["direction"].as_u64().map(|d| FlowDirection::from_u32(d as u32));
                Flow { text, filter, direction }
            })
            .collect();
        let name = r["name"].as_str().unwrap().to_string();
        let rule = PccRule {
            name: name.clone(),
            precedence: r["precedence"].as_u64().map(|p| p as u32),
            flow_status_avp: r["flow_status"].as_u64().map(|s| FlowStatus::from_u32(s as u32)),
            flows,
            ..PccRule::default()
        };
        py.rules.insert(name, rule);
    }
    let ue = ip("10.45.0.9");
    let is_ue = |a: IpAddr| a == ue;
    let uplink = |dst: &str, port: u16, proto: u8| testkit::gx::Packet {
        direction: testkit::gx::Direction::Uplink,
        ue,
        ue_port: None,
        remote: ip(dst),
        remote_port: Some(port),
        proto,
    };
    assert!(matches!(py.decide(&uplink("198.51.100.77", 80, TCP), &is_ue), testkit::gx::Verdict::Pass(_)));
    assert!(matches!(py.decide(&uplink("203.0.113.7", 443, TCP), &is_ue), testkit::gx::Verdict::Pass(_)));
    assert!(!matches!(py.decide(&uplink("8.8.8.8", 443, TCP), &is_ue), testkit::gx::Verdict::Pass(_)));
    assert!(py.gx_issues().is_empty(), "{:#?}", py.gx_issues());

    // The Rust P-GW, for the same SIM, gets the same rules.
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects");
    let cca = pgw.ccr_initial(&SessionSpec::new(IMSI, APN, Ipv4Addr::new(10, 45, 0, 2))).await;
    assert!(cca.is_success(), "{:#?}", cca.message);
    let rust = pgw.session(&cca.session_id).unwrap().installed;
    let view = |i: &Installed| -> BTreeSet<String> {
        i.ordered()
            .iter()
            .map(|r| {
                let flows: Vec<String> =
                    r.flows.iter().map(|f| format!("{} ({:?})", remote(&f.filter), f.direction)).collect();
                format!("{:?} {:?} {}", r.precedence, r.flow_status(), flows.join("; "))
            })
            .collect()
    };
    assert_eq!(view(&py), view(&rust));
}

/// On SQLite, changes made by another process while `warden serve` runs — the command line editing
/// the profile's allowlist, then suspending the SIM — reach the live session (RAR, then its release)
/// within about a second, without anything told through the API.
#[tokio::test]
async fn command_line_changes_reach_live_sessions_on_sqlite() {
    let n = setup();
    let _server = n.start().await;
    let pgw = Pgw::connect(n.diameter, PGW, REALM).await.expect("P-GW connects with Gx");
    let spec = SessionSpec::new(IMSI, APN, Ipv4Addr::new(10, 45, 0, 2));
    let cca = pgw.ccr_initial(&spec).await;
    let sid = cca.session_id.clone();
    check_cca(&pgw, &sid, 1, &cca, "CCR-I");
    assert_eq!(
        allowed_remotes(&pgw.session(&sid).unwrap().installed),
        set(&["ip 198.51.100.0/24", "6 203.0.113.7 443"])
    );

    let cli = |args: &'static [&'static str]| {
        let dir = n.dir.path().to_path_buf();
        async move {
            let out = tokio::task::spawn_blocking(move || warden(&dir, args)).await.unwrap();
            assert!(out.status.success(), "warden {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    // The profile's allowlist loses its /24, edited by `warden profile import` (another process).
    let edited = PROFILES.replace(r#"allow_prefixes = ["198.51.100.0/24", "#, "allow_prefixes = [");
    assert_ne!(edited, PROFILES);
    std::fs::write(n.dir.path().join("gx-profiles-edited.toml"), edited).unwrap();
    cli(&["profile", "import", "gx-profiles-edited.toml"]).await;
    let started = Instant::now();
    let rar = pgw.next_rar(Duration::from_secs(3)).await.expect("RAR after the command line edited the profile");
    assert!(started.elapsed() <= Duration::from_secs(2), "RAR after {:?}", started.elapsed());
    assert_eq!(find(&rar.avps, base::SESSION_ID, 0).and_then(str_of), Some(sid.as_str()));
    while pgw.next_rar(Duration::from_millis(300)).await.is_some() {}
    let s = pgw.session(&sid).unwrap();
    check_shape(&s, "profile edited by the command line");
    assert_eq!(allowed_remotes(&s.installed), set(&["6 203.0.113.7 443"]));
    assert!(!s.allows(ip("198.51.100.77"), 80, TCP) && s.allows(ip("203.0.113.7"), 443, TCP));

    // The SIM suspended by `warden sim set-status`: its session is released.
    cli(&["sim", "set-status", IMSI, "suspended"]).await;
    let started = Instant::now();
    let release = pgw.next_release(Duration::from_secs(3)).await.expect("session released after the command line");
    assert!(started.elapsed() <= Duration::from_secs(2), "release after {:?}", started.elapsed());
    assert_eq!(release.session_id, sid);
}
