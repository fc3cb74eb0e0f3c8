//! Property tests: no input makes the collector, the scanner, the pcap reader, the packet parser or
//! the mirror (TZSP, raw IP) decoder panic, and what they report stays within the input.

use std::net::IpAddr;

use analytics::dpi::{DpiConfig, NationalIdFormat, Scanner};
use analytics::ipfix::encode::{FieldSpecifier, MessageBuilder, V4_FLOW_FIELDS};
use analytics::ipfix::{Collector, CollectorConfig};
use analytics::mirror::{self, tzsp, MirrorFormat};
use analytics::packet;
use analytics::pcap::PcapReader;
use proptest::prelude::*;

fn exporter() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

/// A set with a plausible ID (template, options, data, or reserved) and arbitrary content.
fn set() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        prop_oneof![Just(0u16), Just(1), Just(2), Just(3), 4u16..300, 256u16..260],
        prop::collection::vec(any::<u8>(), 0..200),
    )
}

/// Field specifiers mixing known, unknown, enterprise and variable-length elements.
fn fields() -> impl Strategy<Value = Vec<FieldSpecifier>> {
    prop::collection::vec(
        (
            prop_oneof![1u16..30, 150u16..161, Just(82), any::<u16>()],
            prop_oneof![0u16..20, Just(65535)],
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(id, length, enterprise)| FieldSpecifier { id: id & 0x7fff, length, enterprise }),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_collector_survives_any_datagram(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        let mut c = Collector::new(CollectorConfig::new([exporter()]));
        let mut out = Vec::new();
        c.handle(exporter(), &bytes, &mut out);
        prop_assert_eq!(c.counters().flows as usize, out.len());
    }

    #[test]
    fn the_collector_survives_messages_of_random_sets(
        ipfix in any::<bool>(),
        template in fields(),
        sets in prop::collection::vec(set(), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut c = Collector::new(CollectorConfig::new([exporter()]));
        let mut m = if ipfix { MessageBuilder::ipfix(1, 0, 0) } else { MessageBuilder::netflow_v9(1, 1000, 1_764_000_000, 0) };
        m.template(256, &template).template(257, &V4_FLOW_FIELDS);
        for (id, content) in &sets {
            m.raw_set(*id, content);
        }
        let message = m.finish();
        let mut out = Vec::new();
        c.handle(exporter(), &message, &mut out);
        // The same message cut anywhere.
        let at = cut.index(message.len() + 1);
        c.handle(exporter(), &message[..at], &mut out);
        prop_assert!(c.template_count() <= 512);
        prop_assert_eq!(c.counters().flows as usize, out.len());
    }

    #[test]
    fn the_scanner_survives_any_payload_and_reports_within_it(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let s = Scanner::new(DpiConfig { national_ids: NationalIdFormat::ALL.to_vec(), ..DpiConfig::default() }).unwrap();
        let found = s.scan_to_vec(&bytes);
        for f in &found {
            prop_assert!(f.len > 0 && f.offset + f.len <= bytes.len());
        }
        prop_assert!(found.windows(2).all(|w| w[0].offset <= w[1].offset));
    }

    #[test]
    fn the_scanner_survives_payloads_made_of_the_bytes_its_validators_look_at(
        text in "[0-9 ,.+*$@GPNRMCAL:\"latonDE-]{0,400}"
    ) {
        let s = Scanner::new(DpiConfig { national_ids: NationalIdFormat::ALL.to_vec(), ..DpiConfig::default() }).unwrap();
        for f in s.scan_to_vec(text.as_bytes()) {
            prop_assert!(f.len > 0 && f.offset + f.len <= text.len());
        }
    }

    #[test]
    fn the_pcap_reader_and_packet_parser_survive_any_capture(
        link_type in prop_oneof![Just(0u32), Just(1), Just(101), Just(113), Just(228), Just(229), Just(276), any::<u32>()],
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8),
        tail in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut file = Vec::new();
        file.extend(0xa1b2_c3d4u32.to_le_bytes());
        file.extend([2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
        file.extend(link_type.to_le_bytes());
        for r in &records {
            file.extend([0u8; 8]);
            file.extend((r.len() as u32).to_le_bytes());
            file.extend((r.len() as u32).to_le_bytes());
            file.extend(r);
        }
        file.extend(&tail);
        let mut reader = PcapReader::new(&file[..]).unwrap();
        let lt = reader.link_type();
        while let Ok(Some(record)) = reader.next_record() {
            if let Ok(t) = packet::parse(lt, record.data) {
                prop_assert!(t.payload.len() <= record.data.len());
            }
        }
    }

    #[test]
    fn the_packet_parser_survives_ip_headers_with_random_fields(mut header in prop::collection::vec(any::<u8>(), 20..120), v6 in any::<bool>()) {
        header[0] = if v6 { 0x60 | (header[0] & 0x0f) } else { 0x40 | (header[0] & 0x0f) };
        let _ = packet::parse(101, &header);
    }

    #[test]
    fn the_mirror_decoder_survives_any_datagram(bytes in prop::collection::vec(any::<u8>(), 0..1600), ip in any::<bool>()) {
        let format = if ip { MirrorFormat::Ip } else { MirrorFormat::Tzsp };
        if let Ok(t) = mirror::decode(format, &bytes) {
            prop_assert!(t.payload.len() <= bytes.len());
        }
        if let Ok(f) = tzsp::decode(&bytes) {
            prop_assert!(f.frame.len() + 5 <= bytes.len());
        }
    }

    #[test]
    fn the_tzsp_decoder_survives_random_tag_lists(
        kind in prop_oneof![Just(0u8), Just(1), any::<u8>()],
        tags in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..8)), 0..6),
        claimed in prop::option::of(any::<u8>()),
        end in any::<bool>(),
        frame in prop::collection::vec(any::<u8>(), 0..200),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut d = vec![1, kind, 0, 1];
        for (tag, data) in &tags {
            d.push(*tag);
            if *tag > 1 {
                d.push(claimed.unwrap_or(data.len() as u8));
                d.extend(data);
            }
        }
        if end {
            d.push(1);
        }
        d.extend(&frame);
        let d = &d[..cut.index(d.len() + 1)];
        if let Ok(f) = tzsp::decode(d) {
            prop_assert!(f.frame.len() < d.len());
            prop_assert!(f.kind <= 1);
        }
        let _ = mirror::decode(MirrorFormat::Tzsp, d);
    }
}
