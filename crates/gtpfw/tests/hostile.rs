//! Hostile input never crashes the engine: random datagrams, and valid messages with bytes
//! overwritten or cut, from a partner (both GTP versions' interfaces) and from the P-GW, are each
//! relayed, answered or dropped; an answer is always a GTP message of the sender's version.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use firewall::Now;
use gtpfw::{Engine, GtpConfig, Rules, Verdict};
use proptest::prelude::*;

fn engine() -> (Engine, Instant) {
    let c = GtpConfig::from_toml(
        r#"
[home]
imsi_prefixes = ["00101"]
[[partners]]
name = "s8"
addresses = ["127.0.0.2"]
plmns = ["26201"]
[[partners]]
name = "gp"
interface = "gp"
addresses = ["127.0.0.3"]
plmns = ["26202"]
"#,
    )
    .unwrap();
    let t0 = Instant::now();
    (Engine::new(Rules::compile(&c).unwrap(), t0), t0)
}

fn check(e: &Engine, t0: Instant, i: u64, bytes: &[u8]) {
    let now = Now { instant: t0 + Duration::from_millis(i), wall: SystemTime::now() };
    for peer in ["127.0.0.2:2123", "127.0.0.3:2123", "127.0.0.9:2123"] {
        let peer: SocketAddr = peer.parse().unwrap();
        if let Verdict::Answer(a) = e.uplink(peer, bytes, now).verdict {
            match gtpc::version(&a) {
                Some(2) => assert!(gtpc::v2::Message::decode(&a).is_ok()),
                Some(1) => assert!(gtpc::v1::Message::decode(&a).is_ok()),
                v => panic!("answer of version {v:?}"),
            }
        }
        let _ = e.downlink(peer, bytes, now);
    }
}

proptest! {
    #[test]
    fn random_datagrams_never_crash(datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let (e, t0) = engine();
        for (i, d) in datagrams.iter().enumerate() {
            check(&e, t0, i as u64, d);
        }
    }

    #[test]
    fn damaged_messages_never_crash(at in 0usize..150, value in any::<u8>(), cut in 0usize..150, first in 0u8..16) {
        let (e, t0) = engine();
        let mut b = common::csr("001010000000001", ("262", "01"), 1, 1);
        b[0] = (b[0] & 0x0f) | (first << 4);
        let i = at % b.len();
        b[i] = value;
        b.truncate(cut.max(1).min(b.len()));
        check(&e, t0, 0, &b);
        let mut r = common::csresp(1, 1, 2);
        let j = at % r.len();
        r[j] = value;
        check(&e, t0, 1, &r);
    }
}
