//! Gp (GTPv1-C, TS 29.060) with messages built by PyPI scapy (`scapy.contrib.gtp`): the vectors
//! `crates/gtpc/scripts/scapy_vectors.py` wrote into `crates/gtpc/tests/data` (checked against scapy
//! by `gtpc/tests/scapy.rs::the_vectors_are_what_scapy_writes`). A partner SGSN's Create PDP Context
//! passes byte-identical, the GGSN's response creates the tunnel, the partner's Update PDP Context on
//! it passes; the same Update from another partner and a Delete naming a TEID that is no tunnel of
//! the partner (scapy's Delete carries the SGSN's own TEID) get "Context not found" (210); Echo
//! passes. Needs no Python: the vectors are in the repository.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use firewall::Now;
use gtpfw::{Engine, GtpConfig, Rule, Rules, Verdict};

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/../gtpc/tests/data/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(&path).unwrap().trim()).unwrap()
}

/// The response's GTPv1 type and Cause value (TS 29.060 §7.7.1).
fn answer(v: &Verdict) -> (u8, u8) {
    let Verdict::Answer(b) = v else { panic!("not answered: {v:?}") };
    let m = gtpc::v1::Message::decode(b).unwrap();
    (m.header.message_type.0, m.find(gtpc::v1::IeType::CAUSE).unwrap().as_u8().unwrap())
}

#[test]
fn scapy_gtpv1_messages_on_gp() {
    let c = GtpConfig::from_toml(
        "[home]\nimsi_prefixes = [\"00101\"]\n\
         [[partners]]\nname = \"sgsn\"\naddresses = [\"127.0.0.8\"]\nplmns = [\"26201\"]\ninterface = \"gp\"\n\
         [[partners]]\nname = \"other\"\naddresses = [\"127.0.0.9\"]\nplmns = [\"20801\"]\ninterface = \"gp\"\n",
    )
    .unwrap();
    let e = Engine::new(Rules::compile(&c).unwrap(), Instant::now());
    let now = || Now { instant: Instant::now(), wall: SystemTime::now() };
    let sgsn: SocketAddr = "127.0.0.8:2123".parse().unwrap();
    let other: SocketAddr = "127.0.0.9:2123".parse().unwrap();

    let d = e.uplink(sgsn, &vector("v1_create_pdp_context_request"), now());
    assert_eq!((d.verdict, d.rule), (Verdict::Relay(None), Rule::Relay), "relayed byte-identical");
    let d = e.downlink(sgsn, &vector("v1_create_pdp_context_response"), now());
    assert_eq!(d.verdict, Verdict::Relay(None));
    // The GGSN's TEID Control Plane of the accepted response names the partner's tunnel.
    let t = e.tunnel(0x0e0f1011).expect("tunnel");
    assert_eq!(&*t.partner, "sgsn");

    let update = vector("v1_update_pdp_context_request");
    assert_eq!(e.uplink(sgsn, &update, now()).verdict, Verdict::Relay(None));
    let d = e.uplink(other, &update, now());
    assert_eq!((answer(&d.verdict), d.rule), ((19, 210), Rule::ForeignTunnel));
    let d = e.uplink(sgsn, &vector("v1_delete_pdp_context_request"), now());
    assert_eq!((answer(&d.verdict), d.rule), ((21, 210), Rule::ForeignTunnel));
    assert!(e.tunnel(0x0e0f1011).is_some(), "the tunnel stays");
    assert_eq!(e.uplink(sgsn, &vector("v1_echo_request"), now()).verdict, Verdict::Relay(None));
    // GTPv1 from a partner on S8 is not its interface: not relayed.
    let s8 = GtpConfig::from_toml(
        "[home]\nimsi_prefixes = [\"00101\"]\n\
         [[partners]]\nname = \"sgw\"\naddresses = [\"127.0.0.8\"]\nplmns = [\"26201\"]\n",
    )
    .unwrap();
    let e = Engine::new(Rules::compile(&s8).unwrap(), Instant::now());
    let d = e.uplink(sgsn, &vector("v1_create_pdp_context_request"), now());
    assert_eq!(d.rule, Rule::Malformed);
    assert!(!matches!(d.verdict, Verdict::Relay(_)));
}
