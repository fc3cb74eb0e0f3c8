//! Bad input never panics: arbitrary bytes as pcaps, IP packets, DNS messages, CSV and STIX; and
//! arbitrary observation sequences through the engine.

use std::net::{IpAddr, Ipv4Addr};

use analytics::eval::{parse_dns, parse_ip, read_pcap};
use analytics::observe::{DnsObservation, ImeiObservation, SignallingKind, SignallingObservation};
use analytics::{DeviceKey, Engine, EngineConfig, FlowObservation, IntelSet};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_are_refused_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_ip(&bytes);
        let _ = parse_dns(&bytes);
        let _ = IntelSet::from_csv(&String::from_utf8_lossy(&bytes));
        let _ = IntelSet::from_stix(&String::from_utf8_lossy(&bytes));
        // A valid global header followed by garbage records.
        let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        pcap.extend_from_slice(&bytes);
        if let Ok(capture) = read_pcap(&pcap) {
            for p in &capture.packets {
                let _ = parse_ip(p.ip);
            }
        }
    }

    #[test]
    fn arbitrary_observations_never_panic(
        steps in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<u32>(), any::<u16>(), any::<u64>(), ".{0,80}"), 1..80)
    ) {
        let mut engine = Engine::new(EngineConfig { learning_ms: 1_000, ..EngineConfig::default() });
        engine.set_intel(std::sync::Arc::new(IntelSet::from_csv("cidr,0.0.0.0/1\ndomain,x\n").unwrap()));
        let mut out = Vec::new();
        for (kind, at, ip, port, bytes, text) in steps {
            let device = DeviceKey::new(&format!("{}", kind % 3), "t", "p");
            match kind % 4 {
                0 => engine.observe_flow(&FlowObservation {
                    at, device, remote: IpAddr::V4(Ipv4Addr::from(ip)), remote_port: port, proto: kind,
                    octets_up: bytes, octets_down: bytes, packets: bytes,
                }, &mut out),
                1 => engine.observe_dns(&DnsObservation { at, device, name: text, qtype: port, nxdomain: kind % 2 == 0, allowed: true }, &mut out),
                2 => engine.observe_signalling(&SignallingObservation { at, device, kind: SignallingKind::Air, rejected: true }, &mut out),
                _ => engine.observe_imei(&ImeiObservation { at, device, imei: text }, &mut out),
            }
        }
        for d in &out {
            prop_assert!((0.0..=1.0).contains(&d.score));
        }
    }
}
