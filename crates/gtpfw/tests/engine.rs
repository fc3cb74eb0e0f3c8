//! The engine against the FS.20 attacks, each with a message built by the `gtpc` builder (the UDP
//! proxy test uses scapy's): Create Session for an unregistered roamer, spoofed Serving Network,
//! Delete Session for another partner's TEID, a response without a request, a sequence-number flood,
//! a malformed IE length; and the passing exchange they are measured against.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use firewall::{Action, Now};
use gtpc::v2::values::cause;
use gtpc::v2::{Ie, IeType, Message, MessageType};
use gtpc::Plmn;
mod common;
use common::{csr, csresp};
use gtpfw::{Decision, Engine, GtpConfig, RegistrationLookup, Rule, Rules, Verdict};

const CONFIG: &str = r#"
[home]
imsi_prefixes = ["00101"]
plmns = ["00101"]

[[partners]]
name = "visited"
addresses = ["127.0.0.2"]
plmns = ["26201"]
setup_rate_per_sec = 1000
max_tunnels = 10

[[partners]]
name = "other"
addresses = ["127.0.0.3"]
plmns = ["20801"]
"#;

/// Roamers registered in 262-01 and 208-01.
pub struct Registered;
impl RegistrationLookup for Registered {
    fn registration(&self, imsi: &str) -> Option<(Plmn, SystemTime)> {
        match imsi {
            "001010000000001" | "001010000000002" => Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH)),
            "001010000000003" => Some((Plmn::new("208", "01").unwrap(), SystemTime::UNIX_EPOCH)),
            _ => None,
        }
    }
}

fn engine(top: &str, tables: &str) -> (Engine, Instant) {
    let c = GtpConfig::from_toml(&format!("{top}{CONFIG}{tables}")).unwrap();
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&c).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Registered));
    (e, t0)
}

fn at(t0: Instant, ms: u64) -> Now {
    Now { instant: t0 + Duration::from_millis(ms), wall: SystemTime::now() }
}

const VISITED: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 2123);
const OTHER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), 2123);

fn dsr(teid: u32, seq: u32) -> Vec<u8> {
    Message::builder(MessageType::DELETE_SESSION_REQUEST)
        .teid(teid)
        .sequence(seq)
        .ie(Ie::ebi(5))
        .build()
        .unwrap()
        .encode()
}

/// An engine with the partner "oc" (127.0.0.6, overload control; `partner` adds to its table), every
/// roamer registered in 262 01, and a tunnel 0xabcd (S-GW TEID 0x1111) of `imsi` set up.
fn overload_control_partner(tables: &str, partner: &str, imsi: &str) -> (Engine, Instant, SocketAddr) {
    let (e, t0) = engine(
        "",
        &format!(
            "{tables}[[partners]]\nname = \"oc\"\naddresses = [\"127.0.0.6\"]\nplmns = [\"26201\"]\n\
             overload_control = true\n{partner}"
        ),
    );
    struct Anywhere;
    impl RegistrationLookup for Anywhere {
        fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
            Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
        }
    }
    e.set_registration_lookup(Arc::new(Anywhere));
    let oc: SocketAddr = "127.0.0.6:2123".parse().unwrap();
    assert_eq!(e.uplink(oc, &csr(imsi, ("262", "01"), 1, 0x1111), at(t0, 0)).verdict, Verdict::Relay(None));
    e.downlink(oc, &csresp(1, 0x1111, 0xabcd), at(t0, 0));
    (e, t0, oc)
}

/// The answer's type and Cause value.
fn answered(v: &Verdict) -> (u8, u8, Message) {
    let Verdict::Answer(b) = v else { panic!("not answered: {v:?}") };
    let m = Message::decode(b).unwrap();
    (m.header.message_type.0, m.cause().unwrap().unwrap().value, m)
}

/// A Create Session of a registered roamer passes byte-identical, its response creates the tunnel,
/// and the Delete Session of the partner that created it passes and removes it.
#[test]
fn a_registered_roamer_sets_up_and_deletes_a_session() {
    let (e, t0) = engine("", "");
    let d = e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 1, 0x1111), at(t0, 0));
    assert_eq!(d.verdict, Verdict::Relay(None));
    assert_eq!(d.rule, Rule::Relay);
    let d = e.downlink(VISITED, &csresp(1, 0x1111, 0xabcd), at(t0, 5));
    assert_eq!(d.verdict, Verdict::Relay(None));
    assert_eq!(e.tunnel(0xabcd).unwrap().partner.as_ref(), "visited");
    assert_eq!(e.uplink(VISITED, &dsr(0xabcd, 2), at(t0, 10)).verdict, Verdict::Relay(None));
    let resp = Message::builder(MessageType::DELETE_SESSION_RESPONSE)
        .teid(0x1111)
        .sequence(2)
        .ie(Ie::cause(&gtpc::v2::values::Cause::new(cause::REQUEST_ACCEPTED)))
        .build()
        .unwrap()
        .encode();
    assert_eq!(e.downlink(VISITED, &resp, at(t0, 15)).verdict, Verdict::Relay(None));
    assert!(e.tunnel(0xabcd).is_none());
    assert_eq!(e.observer.count("visited", Rule::Relay, Action::Passed), 2);
}

/// FS.20: Create Session for a roamer not registered in that network → "User authentication failed".
#[test]
fn create_session_for_an_unregistered_roamer_is_refused() {
    let (e, t0) = engine("", "");
    // Registered, but in the other partner's network.
    let d = e.uplink(VISITED, &csr("001010000000003", ("262", "01"), 7, 0x2222), at(t0, 0));
    let (t, c, m) = answered(&d.verdict);
    assert_eq!((t, c, d.rule), (33, cause::USER_AUTHENTICATION_FAILED, Rule::NotRegistered));
    assert_eq!((m.header.teid, m.header.sequence), (Some(0x2222), 7));
    // Not registered anywhere.
    let d = e.uplink(VISITED, &csr("001010000000099", ("262", "01"), 8, 0x2222), at(t0, 1));
    assert_eq!(d.rule, Rule::NotRegistered);
    assert_eq!(e.pending_count(), 0);
}

/// The grace window: registered elsewhere moments ago passes; detect mode lets it pass and counts it.
#[test]
fn grace_window_and_detect_mode() {
    struct JustMoved;
    impl RegistrationLookup for JustMoved {
        fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
            Some((Plmn::new("208", "01").unwrap(), SystemTime::now()))
        }
    }
    let (e, t0) = engine("", "");
    e.set_registration_lookup(Arc::new(JustMoved));
    assert_eq!(
        e.uplink(VISITED, &csr("001010000000004", ("262", "01"), 1, 1), at(t0, 0)).verdict,
        Verdict::Relay(None)
    );
    let (e, t0) = engine("", "[rules]\nnot-registered = \"detect\"\n");
    assert_eq!(
        e.uplink(VISITED, &csr("001010000000099", ("262", "01"), 1, 1), at(t0, 0)).verdict,
        Verdict::Relay(None)
    );
    assert_eq!(e.observer.count("visited", Rule::NotRegistered, Action::Detected), 1);
}

/// FS.20: a Serving Network that is not the sending partner's PLMN → "Request rejected".
#[test]
fn spoofed_serving_network_is_refused() {
    let (e, t0) = engine("", "");
    let d = e.uplink(VISITED, &csr("001010000000001", ("208", "01"), 3, 9), at(t0, 0));
    assert_eq!((answered(&d.verdict).1, d.rule), (cause::REQUEST_REJECTED, Rule::ServingNetwork));
}

/// An IMSI outside the home ranges → "Request rejected"; a missing mandatory IE → "Mandatory IE
/// missing" naming it.
#[test]
fn foreign_imsi_and_missing_ie_are_refused() {
    let (e, t0) = engine("", "");
    let d = e.uplink(VISITED, &csr("262010000000001", ("262", "01"), 3, 9), at(t0, 0));
    assert_eq!((answered(&d.verdict).1, d.rule), (cause::REQUEST_REJECTED, Rule::ImsiRange));
    let no_apn = Message::builder(MessageType::CREATE_SESSION_REQUEST)
        .sequence(4)
        .ie(Ie::imsi("001010000000001").unwrap())
        .build()
        .unwrap()
        .encode();
    let d = e.uplink(VISITED, &no_apn, at(t0, 1));
    let (_, c, m) = answered(&d.verdict);
    assert_eq!(c, cause::MANDATORY_IE_MISSING);
    assert_eq!(m.cause().unwrap().unwrap().offending, Some((IeType::RAT_TYPE, 0)));
}

/// FS.20: Delete Session for a tunnel another partner created → "Context not found", not relayed,
/// the tunnel kept; the same for a guessed TEID.
#[test]
fn delete_session_for_another_partners_teid_is_refused() {
    let (e, t0) = engine("", "");
    e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 1, 0x1111), at(t0, 0));
    e.downlink(VISITED, &csresp(1, 0x1111, 0xabcd), at(t0, 5));
    let d = e.uplink(OTHER, &dsr(0xabcd, 9), at(t0, 10));
    let (t, c, m) = answered(&d.verdict);
    assert_eq!((t, c, d.rule), (37, cause::CONTEXT_NOT_FOUND, Rule::ForeignTunnel));
    assert_eq!(m.header.teid, Some(0));
    assert!(e.tunnel(0xabcd).is_some());
    assert_eq!(e.uplink(OTHER, &dsr(0x5555, 10), at(t0, 11)).rule, Rule::ForeignTunnel);
}

/// FS.20: a response to no request is dropped, both ways; so is a response of the wrong type.
#[test]
fn responses_without_requests_are_dropped() {
    let (e, t0) = engine("", "");
    let resp = Message::builder(MessageType::CREATE_BEARER_RESPONSE)
        .teid(1)
        .sequence(77)
        .ie(Ie::cause(&gtpc::v2::values::Cause::new(cause::REQUEST_ACCEPTED)))
        .build()
        .unwrap()
        .encode();
    assert_eq!(e.uplink(VISITED, &resp, at(t0, 0)).verdict, Verdict::Drop);
    assert_eq!(e.downlink(VISITED, &csresp(5, 1, 2), at(t0, 0)).rule, Rule::UnexpectedResponse);
    // A Create Session Response answering a Delete Session Request's sequence number.
    e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 1, 0x1111), at(t0, 0));
    e.downlink(VISITED, &csresp(1, 0x1111, 0xabcd), at(t0, 1));
    e.uplink(VISITED, &dsr(0xabcd, 2), at(t0, 2));
    assert_eq!(e.downlink(VISITED, &csresp(2, 0x1111, 0xbeef), at(t0, 3)).rule, Rule::UnexpectedResponse);
    assert!(e.tunnel(0xbeef).is_none());
    // After the request expired its response is unexpected too.
    e.uplink(VISITED, &csr("001010000000002", ("262", "01"), 3, 0x3333), at(t0, 10));
    assert_eq!(e.downlink(VISITED, &csresp(3, 0x3333, 0xcafe), at(t0, 10 + 6000)).rule, Rule::UnexpectedResponse);
    // One from the partner, three from the P-GW.
    assert_eq!(e.observer.count("visited", Rule::UnexpectedResponse, Action::Dropped), 4);
}

/// FS.20: a sequence-number flood — guessed responses are all dropped, and requests beyond the
/// partner's pending maximum are dropped without reaching the P-GW, while the pending table stays
/// bounded.
#[test]
fn a_sequence_number_flood_is_bounded() {
    let (e, t0) = engine("max_pending_per_partner = 100\n", "[overload]\ncapacity_per_sec = 1000000\n");
    for seq in 0..5000u32 {
        let echo_resp =
            Message::builder(MessageType::ECHO_RESPONSE).sequence(seq).ie(Ie::recovery(1)).build().unwrap().encode();
        assert_eq!(e.uplink(VISITED, &echo_resp, at(t0, 0)).verdict, Verdict::Drop);
    }
    let mut relayed = 0;
    for seq in 0..5000u32 {
        let echo =
            Message::builder(MessageType::ECHO_REQUEST).sequence(seq).ie(Ie::recovery(1)).build().unwrap().encode();
        if e.uplink(VISITED, &echo, at(t0, 1)).verdict == Verdict::Relay(None) {
            relayed += 1;
        }
    }
    assert_eq!(relayed, 100);
    assert_eq!(e.pending_count(), 100);
    assert_eq!(e.observer.count("visited", Rule::PendingFull, Action::Dropped), 4900);
    // Once they expire there is room again.
    let echo = Message::builder(MessageType::ECHO_REQUEST).sequence(9999).ie(Ie::recovery(1)).build().unwrap().encode();
    assert_eq!(e.uplink(VISITED, &echo, at(t0, 7000)).verdict, Verdict::Relay(None));
    assert_eq!(e.pending_count(), 1);
}

/// FS.20: an IE whose length runs past the message → "Invalid message format" to the request
/// (its type + 1, same sequence number), nothing relayed; a malformed response is dropped.
#[test]
fn a_malformed_ie_length_is_refused() {
    let (e, t0) = engine("", "");
    let mut b = csr("001010000000001", ("262", "01"), 0x00abcd, 1);
    // The first IE (IMSI) starts at 12: make its length run past the end.
    b[12 + 1] = 0xff;
    b[12 + 2] = 0xff;
    let d = e.uplink(VISITED, &b, at(t0, 0));
    let (t, c, m) = answered(&d.verdict);
    assert_eq!((t, c, m.header.sequence, d.rule), (33, cause::INVALID_MESSAGE_FORMAT, 0x00abcd, Rule::Malformed));
    let mut r = csresp(1, 1, 1);
    r[12 + 1] = 0x40;
    assert_eq!(e.uplink(VISITED, &r, at(t0, 0)).verdict, Verdict::Drop);
}

/// Unknown sources are dropped without an answer; types off the allowlist too.
#[test]
fn unknown_sources_and_types_are_dropped() {
    let (e, t0) = engine("", "");
    let stranger: SocketAddr = "127.0.0.9:2123".parse().unwrap();
    assert_eq!(e.uplink(stranger, &csr("001010000000001", ("262", "01"), 1, 1), at(t0, 0)).verdict, Verdict::Drop);
    assert_eq!(e.observer.count("unknown", Rule::UnknownSource, Action::Dropped), 1);
    // Context Request (130) is not an S8 message.
    let ctx = Message::builder(MessageType(130)).sequence(1).build().unwrap().encode();
    assert_eq!(e.uplink(VISITED, &ctx, at(t0, 0)).rule, Rule::MessageType);
}

/// A partner whose restart counter changes loses its tunnels.
#[test]
fn a_restarted_peer_loses_its_tunnels() {
    let (e, t0) = engine("", "");
    let echo = |seq, r| {
        Message::builder(MessageType::ECHO_REQUEST).sequence(seq).ie(Ie::recovery(r)).build().unwrap().encode()
    };
    e.uplink(VISITED, &echo(1, 4), at(t0, 0));
    e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 2, 0x1111), at(t0, 1));
    e.downlink(VISITED, &csresp(2, 0x1111, 0xabcd), at(t0, 2));
    e.uplink(VISITED, &echo(3, 4), at(t0, 3));
    assert_eq!(e.tunnel_count(), 1);
    e.uplink(VISITED, &echo(4, 5), at(t0, 4));
    assert_eq!(e.tunnel_count(), 0);
}

/// Storm controls: the tunnel cap and the per-IMSI budget answer "No resources available" and "APN
/// congestion" with a PGW Back-Off Time.
#[test]
fn tunnel_cap_and_imsi_budget() {
    let (e, t0) = engine("", "[budgets]\nimsi_setups_per_min = 1\nimsi_burst = 2\n");
    for i in 0..3u32 {
        e.uplink(VISITED, &csr("001010000000001", ("262", "01"), i, 1), at(t0, u64::from(i)));
    }
    let d = e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 9, 1), at(t0, 10));
    let (_, c, m) = answered(&d.verdict);
    assert_eq!((c, d.rule), (cause::APN_CONGESTION, Rule::ImsiRate));
    let timer = m.find(IeType::EPC_TIMER, 0).unwrap().as_epc_timer().unwrap();
    assert_eq!(timer.duration(), Some(Duration::from_secs(60)));
    let (e, t0) = engine("", "");
    for i in 0..10u32 {
        e.uplink(VISITED, &csr("001010000000001", ("262", "01"), i, i), at(t0, u64::from(i) * 20_000));
        e.downlink(VISITED, &csresp(i, i, 100 + i), at(t0, u64::from(i) * 20_000 + 1));
    }
    assert_eq!(e.tunnel_count(), 10);
    let d = e.uplink(VISITED, &csr("001010000000002", ("262", "01"), 50, 1), at(t0, 300_000));
    assert_eq!((answered(&d.verdict).1, d.rule), (cause::NO_RESOURCES_AVAILABLE, Rule::TunnelCap));
}

/// GTPv1 on Gp: a Create PDP Context of a home IMSI passes, its accepted response creates the
/// tunnel (the GGSN's TEID Control Plane), another partner's Delete PDP Context gets "Context not
/// found" (210), a foreign IMSI "IMSI/IMEI not known" (194), and a GTPv2 message from a Gp partner is
/// malformed for that interface.
#[test]
fn gtpv1_on_gp() {
    use gtpc::v1::{Ie as Ie1, Message as M1, MessageType as MT1};
    let (e, t0) = engine(
        "",
        "[[partners]]\nname = \"gp\"\ninterface = \"gp\"\naddresses = [\"127.0.0.4\"]\nplmns = [\"23415\"]\n",
    );
    let gp: SocketAddr = "127.0.0.4:2123".parse().unwrap();
    let create = |imsi: &str, seq| {
        M1::new(
            MT1::CREATE_PDP_CONTEXT_REQUEST,
            0,
            seq,
            vec![Ie1::imsi(imsi).unwrap(), Ie1::teid_control_plane(0x77), Ie1::nsapi(5)],
        )
        .encode()
    };
    assert_eq!(e.uplink(gp, &create("001010000000001", 1), at(t0, 0)).verdict, Verdict::Relay(None));
    let resp = M1::new(MT1::CREATE_PDP_CONTEXT_RESPONSE, 0x77, 1, vec![Ie1::cause(128), Ie1::teid_control_plane(0x99)]);
    assert_eq!(e.downlink(gp, &resp.encode(), at(t0, 1)).verdict, Verdict::Relay(None));
    assert_eq!(e.tunnel(0x99).unwrap().partner.as_ref(), "gp");
    let delete = M1::new(MT1::DELETE_PDP_CONTEXT_REQUEST, 0x99, 2, vec![Ie1::nsapi(5)]).encode();
    let v1_cause = |v: &Verdict| {
        let Verdict::Answer(a) = v else { panic!("not answered: {v:?}") };
        let m = M1::decode(a).unwrap();
        (m.header.message_type.0, m.find(gtpc::v1::IeType::CAUSE).unwrap().as_u8().unwrap())
    };
    // From a GTPv2 partner's address the GTPv1 message is malformed for its interface.
    assert_eq!(e.uplink(VISITED, &delete, at(t0, 2)).rule, Rule::Malformed);
    let other_gp =
        "[[partners]]\nname = \"gp2\"\ninterface = \"gp\"\naddresses = [\"127.0.0.5\"]\nplmns = [\"23416\"]\n";
    let c = GtpConfig::from_toml(&format!("{CONFIG}[[partners]]\nname = \"gp\"\ninterface = \"gp\"\naddresses = [\"127.0.0.4\"]\nplmns = [\"23415\"]\n{other_gp}")).unwrap();
    e.set_rules(Rules::compile(&c).unwrap());
    let d = e.uplink("127.0.0.5:2123".parse().unwrap(), &delete, at(t0, 3));
    assert_eq!((v1_cause(&d.verdict), d.rule), ((21, 210), Rule::ForeignTunnel));
    let d = e.uplink(gp, &create("262010000000001", 3), at(t0, 4));
    assert_eq!((v1_cause(&d.verdict), d.rule), ((17, 194), Rule::ImsiRange));
    assert_eq!(e.uplink(gp, &delete, at(t0, 5)).verdict, Verdict::Relay(None));
    let done = M1::new(MT1::DELETE_PDP_CONTEXT_RESPONSE, 0x77, 2, vec![Ie1::cause(128)]);
    assert_eq!(e.downlink(gp, &done.encode(), at(t0, 6)).verdict, Verdict::Relay(None));
    assert!(e.tunnel(0x99).is_none());
}

/// At the P-GW's door: a Create Session is refused with "APN congestion", a PGW Back-Off Time and,
/// toward a partner configured for overload control, Overload Control Information; a Modify Bearer
/// Request with "No resources available".
#[test]
fn overload_refusals_carry_back_off_and_overload_control() {
    let (e, t0, oc) = overload_control_partner("[overload]\ncapacity_per_sec = 1\n", "", "001010000000001");
    // The door holds a few requests' burst; the next Create Session is refused.
    let d = (2..10u32)
        .map(|i| e.uplink(oc, &csr(&format!("00101000000001{i}"), ("262", "01"), i, 0x2222), at(t0, 0)))
        .find(|d| d.verdict != Verdict::Relay(None))
        .expect("refused at the door");
    let (t, c, m) = answered(&d.verdict);
    assert_eq!((t, c, d.rule), (33, cause::APN_CONGESTION, Rule::Overload));
    assert_eq!(m.header.teid, Some(0x2222));
    assert!(m.find(IeType::EPC_TIMER, 0).is_some());
    let oci = m.find(IeType::OVERLOAD_CONTROL_INFORMATION, 0).expect("OCI").as_overload_control().unwrap();
    assert!(oci.reduction_metric > 0);
    let mbr = Message::builder(MessageType::MODIFY_BEARER_REQUEST).teid(0xabcd).sequence(30).build().unwrap().encode();
    let d = e.uplink(oc, &mbr, at(t0, 1));
    let (t, c, m) = answered(&d.verdict);
    assert_eq!((t, c), (35, cause::NO_RESOURCES_AVAILABLE));
    assert!(m.find(IeType::EPC_TIMER, 0).is_none());
}

fn accepted(t: MessageType, teid: u32, seq: u32, extra: Vec<Ie>) -> Vec<u8> {
    let mut b = Message::builder(t)
        .teid(teid)
        .sequence(seq)
        .ie(Ie::cause(&gtpc::v2::values::Cause::new(cause::REQUEST_ACCEPTED)));
    for ie in extra {
        b = b.ie(ie);
    }
    b.build().unwrap().encode()
}

/// The P-GW's Delete Bearer Request (TS 29.274 §7.2.9.2) for dedicated bearers leaves the tunnel; for
/// the default bearer (Linked EPS Bearer ID, EBI instance 0) the partner's accepted response removes
/// it, after which the partner's requests on that TEID get "Context not found".
#[test]
fn delete_bearer_for_the_default_bearer_removes_the_tunnel() {
    let (e, t0) = engine("", "");
    // Create Session (default bearer EBI 5, S-GW TEID 0x1111), P-GW TEID 0xabcd.
    assert_eq!(
        e.uplink(VISITED, &csr("001010000000001", ("262", "01"), 1, 0x1111), at(t0, 0)).verdict,
        Verdict::Relay(None)
    );
    e.downlink(VISITED, &csresp(1, 0x1111, 0xabcd), at(t0, 1));
    assert_eq!(e.tunnel(0xabcd).map(|t| (t.sgw_teid, t.default_ebi)), Some((0x1111, 5)));
    let dbr = |seq: u32, ebi: Ie| {
        Message::builder(MessageType::DELETE_BEARER_REQUEST)
            .teid(0x1111)
            .sequence(seq)
            .ie(ebi)
            .build()
            .unwrap()
            .encode()
    };
    // A dedicated bearer (EPS Bearer IDs, instance 1): the tunnel stays.
    let mut dedicated = Ie::ebi(6);
    dedicated.instance = 1;
    assert_eq!(e.downlink(VISITED, &dbr(0x500, dedicated), at(t0, 2)).verdict, Verdict::Relay(None));
    let resp = accepted(MessageType::DELETE_BEARER_RESPONSE, 0xabcd, 0x500, vec![]);
    assert_eq!(e.uplink(VISITED, &resp, at(t0, 3)).verdict, Verdict::Relay(None));
    assert!(e.tunnel(0xabcd).is_some(), "a dedicated bearer's deletion keeps the PDN connection");
    // The default bearer (LBI 5): a refused response keeps it, an accepted one removes it.
    assert_eq!(e.downlink(VISITED, &dbr(0x501, Ie::ebi(5)), at(t0, 4)).verdict, Verdict::Relay(None));
    let refused = Message::builder(MessageType::DELETE_BEARER_RESPONSE)
        .teid(0xabcd)
        .sequence(0x501)
        .ie(Ie::cause(&gtpc::v2::values::Cause::new(cause::NO_RESOURCES_AVAILABLE)))
        .build()
        .unwrap()
        .encode();
    assert_eq!(e.uplink(VISITED, &refused, at(t0, 5)).verdict, Verdict::Relay(None));
    assert!(e.tunnel(0xabcd).is_some());
    assert_eq!(e.downlink(VISITED, &dbr(0x502, Ie::ebi(5)), at(t0, 6)).verdict, Verdict::Relay(None));
    // Another node answering the P-GW's request does not count.
    assert_eq!(
        e.uplink(OTHER, &accepted(MessageType::DELETE_BEARER_RESPONSE, 0xabcd, 0x502, vec![]), at(t0, 7)).rule,
        Rule::UnexpectedResponse
    );
    assert!(e.tunnel(0xabcd).is_some());
    assert_eq!(
        e.uplink(VISITED, &accepted(MessageType::DELETE_BEARER_RESPONSE, 0xabcd, 0x502, vec![]), at(t0, 8)).verdict,
        Verdict::Relay(None)
    );
    assert!(e.tunnel(0xabcd).is_none(), "the default bearer's deletion removes the tunnel");
    assert_eq!(e.tunnel_count(), 0);
    let mbr = Message::builder(MessageType::MODIFY_BEARER_REQUEST).teid(0xabcd).sequence(9).build().unwrap().encode();
    let (t, c, _) = answered(&e.uplink(VISITED, &mbr, at(t0, 9)).verdict);
    assert_eq!((t, c), (35, cause::CONTEXT_NOT_FOUND));
}

fn oci_of(b: &[u8]) -> gtpc::v2::values::OverloadControl {
    let m = Message::decode(b).unwrap();
    m.find(IeType::OVERLOAD_CONTROL_INFORMATION, 0).expect("OCI").as_overload_control().unwrap()
}

/// TS 29.274 §12.3.5: partners keep an OCI only if its sequence number is higher than the one they
/// hold. The firewall's refusals carry the P-GW's OCI (instance 0) with AOPI set (rejection cause,
/// §8.12 octet 9 bit 1), numbered no lower than the wall clock; a P-GW's own OCI that is older than
/// what was sent but says something new is renumbered above it, one that says the same is left, a
/// newer one passes as it is; each change of content gets a higher number, and shedding's end is told
/// with a reduction of 0 for one period of validity.
#[test]
fn an_older_overload_control_never_replaces_a_newer_one() {
    // A critical device's tunnel, for requests that pass the door during the storm.
    let (e, t0, oc) = overload_control_partner(
        "[overload]\ncapacity_per_sec = 100\nvalidity_secs = 10\n[priority]\ncritical = [\"001019\"]\n",
        "setup_rate_per_sec = 100000\nmax_tunnels = 100000\n",
        "001019000000001",
    );
    // A storm of three times the capacity in an instant: refusals at the door.
    let refusals: Vec<Decision> = (2..300u32)
        .map(|i| e.uplink(oc, &csr(&format!("00101{i:010}"), ("262", "01"), i, 0x2222), at(t0, 0)))
        .filter(|d| d.rule == Rule::Overload)
        .collect();
    let Some(Decision { verdict: Verdict::Answer(refusal), .. }) = refusals.last() else { panic!("no refusal") };
    let first = oci_of(refusal);
    let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as u32;
    assert!(first.reduction_metric > 0 && first.sequence + 5 >= unix, "{first:?}");
    let m = Message::decode(refusal).unwrap();
    assert!(m.find(IeType::INDICATION, 0).expect("Indication").indication_flag(9, 1).unwrap(), "AOPI set");
    // tshark (an independent dissector) reads the refusal cleanly, with AOPI and the OCI's metric.
    common::tshark_reads_without_expert_errors(
        std::slice::from_ref(refusal),
        &[("gtpv2.aopi", "1"), ("gtpv2.metric", &first.reduction_metric.to_string())],
    );
    // The same content again: the same number.
    let d = e.uplink(oc, &csr("001010000000300", ("262", "01"), 300, 0x2222), at(t0, 0));
    let Verdict::Answer(again) = &d.verdict else { panic!("{d:?}") };
    assert_eq!(oci_of(again), first);

    let pgw_oci = |seq: u32, metric: u8| {
        Ie::overload_control(
            0,
            &gtpc::v2::values::OverloadControl {
                sequence: seq,
                reduction_metric: metric,
                validity: gtpc::v2::values::EpcTimer { unit: 0, value: 5 },
                apns: vec![],
            },
        )
        .unwrap()
    };
    // Modify Bearer on the critical device's tunnel, the P-GW answering with its own OCI.
    let mut seq = 1000;
    let mut relay = |oci: Ie, ms: u64| {
        seq += 1;
        let mbr =
            Message::builder(MessageType::MODIFY_BEARER_REQUEST).teid(0xabcd).sequence(seq).build().unwrap().encode();
        assert_eq!(e.uplink(oc, &mbr, at(t0, ms)).verdict, Verdict::Relay(None), "at {ms} ms");
        let resp = accepted(MessageType::MODIFY_BEARER_RESPONSE, 0x1111, seq, vec![oci]);
        match e.downlink(oc, &resp, at(t0, ms)).verdict {
            Verdict::Relay(None) => resp,
            Verdict::Relay(Some(changed)) => changed,
            other => panic!("{other:?}"),
        }
    };
    // Numbered 7, older than what partners hold, with other content: renumbered above it.
    let renumbered = oci_of(&relay(pgw_oci(7, 30), 100));
    assert_eq!((renumbered.sequence, renumbered.reduction_metric), (first.sequence + 1, 30));
    // The same again from the P-GW: left as it is (partners hold that content already).
    assert_eq!(oci_of(&relay(pgw_oci(7, 30), 200)).sequence, 7);
    // A newer one from the P-GW: as it is.
    let newer = first.sequence + 1000;
    assert_eq!(oci_of(&relay(pgw_oci(newer, 40), 300)).sequence, newer);
    // The firewall's own content changes at most once a second per partner: a second later, a new
    // storm, and the firewall's own (other content) is numbered above the P-GW's.
    for i in 400..700u32 {
        e.uplink(oc, &csr(&format!("00101{i:010}"), ("262", "01"), i, 0x2222), at(t0, 1300));
    }
    let d = e.uplink(oc, &csr("001010000000301", ("262", "01"), 301, 0x2222), at(t0, 1300));
    let mine = match &d.verdict {
        Verdict::Answer(b) => oci_of(b),
        Verdict::Relay(None) => {
            let r = e.downlink(oc, &csresp(301, 0x2222, 0xbbbb), at(t0, 1300));
            let Verdict::Relay(Some(b)) = r.verdict else { panic!("{r:?}") };
            oci_of(&b)
        }
        other => panic!("{other:?}"),
    };
    assert!(mine.reduction_metric > 0 && mine.reduction_metric != 40 && mine.sequence > newer, "{mine:?}");
    // Shedding has ended (no offers for seconds): a response within the period of validity says 0.
    let quiet = e.uplink(oc, &csr("001010000000001", ("262", "01"), 70, 0x3333), at(t0, 5_000));
    assert_eq!(quiet.verdict, Verdict::Relay(None));
    let resp = e.downlink(oc, &csresp(70, 0x3333, 0xcccc), at(t0, 5_001));
    let Verdict::Relay(Some(told)) = resp.verdict else { panic!("{resp:?}") };
    let end = oci_of(&told);
    assert_eq!(end.reduction_metric, 0);
    assert!(end.sequence > mine.sequence);
    // After the period of validity, nothing more is added.
    let later = e.uplink(oc, &csr("001010000000002", ("262", "01"), 80, 0x4444), at(t0, 30_000));
    assert_eq!(later.verdict, Verdict::Relay(None));
    assert_eq!(e.downlink(oc, &csresp(80, 0x4444, 0xdddd), at(t0, 30_001)).verdict, Verdict::Relay(None));
}
