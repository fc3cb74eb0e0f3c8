//! The IPFIX / NetFlow v9 collector against hand-built messages: the RFC 7011 example, every kind of
//! set, and every drop reason.

use std::net::IpAddr;

use analytics::ipfix::encode::{v4_flow_record, FieldSpecifier, MessageBuilder, V4_FLOW_FIELDS};
use analytics::ipfix::{Collector, CollectorConfig, DropReason};
use analytics::{FiveTuple, Flow};

fn exporter() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

fn collector() -> Collector {
    Collector::new(CollectorConfig::new([exporter()]))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sample_flow(n: u32) -> Flow {
    Flow {
        exporter: exporter(),
        observation_domain: 1,
        tuple: FiveTuple {
            src: IpAddr::V4((0x0a00_0000 + n).into()),
            dst: ip("198.51.100.7"),
            sport: 40000 + (n % 1000) as u16,
            dport: 443,
            proto: 6,
        },
        octets: 1500 * u64::from(n + 1),
        packets: u64::from(n + 1),
        start_ms: Some(1_764_000_000_000),
        end_ms: Some(1_764_000_001_000),
        tcp_flags: Some(0x1b),
    }
}

fn run(c: &mut Collector, datagram: &[u8]) -> Vec<Flow> {
    let mut out = Vec::new();
    c.handle(exporter(), datagram, &mut out);
    out
}

/// RFC 7011 Appendix A, octet by octet as its figures lay them: the message of A.1 (version 10,
/// Length = 152) holding the template set of A.2.1 (template 256: sourceIPv4Address,
/// destinationIPv4Address, ipNextHopIPv4Address, packetDeltaCount, octetDeltaCount, 4 octets each),
/// the data set of A.3 (three records), the options template set of A.4.1 (template 258, scope
/// lineCardId, with two octets of padding) and a data set of two options records. Values checked
/// against the RFC text (RFC 7011, September 2013, pages 62–68; read from the copy of rfc7011.txt
/// vendored at github.com/adrianuswarmenhoven/ipfix, doc/rfc7011.txt). The RFC leaves the export
/// time, sequence number and observation domain of A.1 open, and gives no values for template
/// 258's records: those of A.4.4 (1, 345, 10201 and 2, 690, 20402; same 4 + 2 + 2 octet layout) are
/// used.
#[test]
fn decodes_the_rfc_7011_appendix_a_message() {
    #[rustfmt::skip]
    let message: Vec<u8> = vec![
        // A.1 Message Header: version 10, Length = 152, export time, sequence, observation domain.
        0x00, 0x0a, 0x00, 0x98, 0x5f, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04,
        // A.2.1 Template Set: Set ID = 2, Length = 28; Template ID 256, Field Count = 5.
        0x00, 0x02, 0x00, 0x1c, 0x01, 0x00, 0x00, 0x05,
        0x00, 0x08, 0x00, 0x04, // sourceIPv4Address = 8
        0x00, 0x0c, 0x00, 0x04, // destinationIPv4Address = 12
        0x00, 0x0f, 0x00, 0x04, // ipNextHopIPv4Address = 15 (not kept)
        0x00, 0x02, 0x00, 0x04, // packetDeltaCount = 2
        0x00, 0x01, 0x00, 0x04, // octetDeltaCount = 1
        // A.3 Data Set: Set ID = 256, Length = 64, three records of 20 octets.
        0x01, 0x00, 0x00, 0x40,
        192, 0, 2, 12,  192, 0, 2, 254, 192, 0, 2, 1, 0x00, 0x00, 0x13, 0x91, 0x00, 0x51, 0x8c, 0x81, // 5009, 5344385
        192, 0, 2, 27,  192, 0, 2, 23,  192, 0, 2, 2, 0x00, 0x00, 0x02, 0xec, 0x00, 0x05, 0xef, 0x46, // 748, 388934
        192, 0, 2, 56,  192, 0, 2, 65,  192, 0, 2, 3, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x19, 0x86, // 5, 6534
        // A.4.1 Options Template Set: Set ID = 3, Length = 24; Template ID 258, Field Count = 3,
        // Scope Field Count = 1.
        0x00, 0x03, 0x00, 0x18, 0x01, 0x02, 0x00, 0x03, 0x00, 0x01,
        0x00, 0x8d, 0x00, 0x04, // lineCardId = 141, 4 octets (the scope)
        0x00, 0x29, 0x00, 0x02, // exportedMessageTotalCount = 41, 2 octets
        0x00, 0x2a, 0x00, 0x02, // exportedFlowRecordTotalCount = 42, 2 octets
        0x00, 0x00,             // padding
        // Data Set of template 258: Length = 20, two records of 8 octets.
        0x01, 0x02, 0x00, 0x14,
        0x00, 0x00, 0x00, 0x01, 0x01, 0x59, 0x27, 0xd9, // 1, 345, 10201
        0x00, 0x00, 0x00, 0x02, 0x02, 0xb2, 0x4f, 0xb2, // 2, 690, 20402
    ];
    assert_eq!(message.len(), 152, "A.1: Length = 152");
    let mut c = collector();
    let flows = run(&mut c, &message);
    let got: Vec<(IpAddr, IpAddr, u64, u64)> =
        flows.iter().map(|f| (f.tuple.src, f.tuple.dst, f.packets, f.octets)).collect();
    assert_eq!(
        got,
        vec![
            (ip("192.0.2.12"), ip("192.0.2.254"), 5009, 5_344_385),
            (ip("192.0.2.27"), ip("192.0.2.23"), 748, 388_934),
            (ip("192.0.2.56"), ip("192.0.2.65"), 5, 6534),
        ]
    );
    assert!(flows.iter().all(|f| f.observation_domain == 0x0102_0304 && f.exporter == exporter()));
    assert_eq!(c.counters().flows, 3);
    assert_eq!(c.counters().templates_learned, 2, "the template and the options template");
    assert_eq!(c.counters().options_records_skipped, 2);
    assert_eq!(c.counters().dropped_total(), 0);
}

#[test]
fn a_full_flow_record_round_trips_through_the_encoder() {
    let mut m = MessageBuilder::ipfix(1, 1_764_000_000, 1);
    m.template(300, &V4_FLOW_FIELDS);
    let mut records = Vec::new();
    for n in 0..10 {
        v4_flow_record(&sample_flow(n), &mut records).unwrap();
    }
    m.data(300, &records, 10);
    let mut c = collector();
    let flows = run(&mut c, &m.finish());
    assert_eq!(flows, (0..10).map(sample_flow).collect::<Vec<_>>());
}

#[test]
fn datagrams_from_an_unconfigured_exporter_are_dropped_before_reading() {
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.template(300, &V4_FLOW_FIELDS);
    let mut c = collector();
    let mut out = Vec::new();
    assert_eq!(c.handle(ip("203.0.113.9"), &m.finish(), &mut out), 0);
    assert_eq!(c.counters().dropped(DropReason::UnknownExporter), 1);
    assert_eq!(c.template_count(), 0, "nothing learned from a stranger");
    // The IPv4-mapped IPv6 form of a configured exporter is the same exporter.
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.template(300, &V4_FLOW_FIELDS);
    c.handle(ip("::ffff:192.0.2.100"), &m.finish(), &mut out);
    assert_eq!(c.template_count(), 1);
}

#[test]
fn data_before_its_template_is_dropped_and_counted_then_decoded_once_the_template_is_known() {
    let mut records = Vec::new();
    v4_flow_record(&sample_flow(1), &mut records).unwrap();
    let mut data = MessageBuilder::ipfix(1, 0, 1);
    data.data(300, &records, 1);
    let data = data.finish();
    let mut c = collector();
    assert!(run(&mut c, &data).is_empty());
    assert_eq!(c.counters().dropped(DropReason::UnknownTemplate), 1);
    let mut t = MessageBuilder::ipfix(1, 0, 2);
    t.template(300, &V4_FLOW_FIELDS);
    run(&mut c, &t.finish());
    assert_eq!(run(&mut c, &data).len(), 1);
}

#[test]
fn templates_are_kept_per_observation_domain_and_per_protocol() {
    let mut t = MessageBuilder::ipfix(1, 0, 1);
    t.template(300, &V4_FLOW_FIELDS);
    let mut c = collector();
    run(&mut c, &t.finish());
    let mut records = Vec::new();
    v4_flow_record(&sample_flow(1), &mut records).unwrap();
    let mut other_domain = MessageBuilder::ipfix(2, 0, 1);
    other_domain.data(300, &records, 1);
    assert!(run(&mut c, &other_domain.finish()).is_empty());
    let mut v9 = MessageBuilder::netflow_v9(1, 0, 0, 1);
    v9.data(300, &records, 1);
    assert!(run(&mut c, &v9.finish()).is_empty());
    assert_eq!(c.counters().dropped(DropReason::UnknownTemplate), 2);
}

#[test]
fn a_withdrawn_template_no_longer_decodes_and_id_2_withdraws_them_all() {
    let mut c = collector();
    let mut t = MessageBuilder::ipfix(1, 0, 1);
    t.template(300, &V4_FLOW_FIELDS).template(301, &V4_FLOW_FIELDS).template(302, &V4_FLOW_FIELDS);
    run(&mut c, &t.finish());
    assert_eq!(c.template_count(), 3);
    let mut w = MessageBuilder::ipfix(1, 0, 2);
    w.withdraw(300);
    run(&mut c, &w.finish());
    assert_eq!(c.template_count(), 2);
    let mut records = Vec::new();
    v4_flow_record(&sample_flow(1), &mut records).unwrap();
    let mut d = MessageBuilder::ipfix(1, 0, 3);
    d.data(300, &records, 1).data(301, &records, 1);
    assert_eq!(run(&mut c, &d.finish()).len(), 1, "301 still decodes");
    let mut all = MessageBuilder::ipfix(1, 0, 4);
    all.withdraw(2);
    run(&mut c, &all.finish());
    assert_eq!(c.template_count(), 0);
    assert_eq!(c.counters().templates_withdrawn, 3);
}

#[test]
fn variable_length_and_enterprise_fields_are_skipped_by_their_length() {
    let fields = [
        FieldSpecifier::iana(8, 4),
        FieldSpecifier { id: 42, length: 65535, enterprise: Some(29305) },
        FieldSpecifier::iana(82, 65535), // interfaceName, variable length
        FieldSpecifier { id: 7, length: 6, enterprise: Some(9) }, // an enterprise "7" is not a port
        FieldSpecifier::iana(12, 4),
        FieldSpecifier::iana(11, 2),
    ];
    let mut record = vec![10, 1, 2, 3];
    record.extend([5, b'h', b'e', b'l', b'l', b'o']);
    record.extend([255, 0x01, 0x00]);
    record.extend([b'i'; 256]);
    record.extend([9; 6]);
    record.extend([10, 9, 8, 7, 0x00, 0x35]);
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.template(400, &fields).data(400, &record, 1);
    let mut c = collector();
    let flows = run(&mut c, &m.finish());
    assert_eq!(flows.len(), 1);
    assert_eq!((flows[0].tuple.src, flows[0].tuple.dst), (ip("10.1.2.3"), ip("10.9.8.7")));
    assert_eq!((flows[0].tuple.sport, flows[0].tuple.dport), (0, 53));
}

#[test]
fn options_templates_are_learned_and_their_records_skipped() {
    let scope = [FieldSpecifier::iana(149, 4)]; // observationDomainId
    let options = [FieldSpecifier::iana(41, 8), FieldSpecifier::iana(42, 8)]; // exported counts
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.options_template(500, &scope, &options).data(500, &[0u8; 40], 2);
    let mut c = collector();
    assert!(run(&mut c, &m.finish()).is_empty());
    assert_eq!(c.counters().options_records_skipped, 2);
    assert_eq!(c.counters().dropped_total(), 0);
    // NetFlow v9 options templates too.
    let mut v9 = MessageBuilder::netflow_v9(1, 0, 0, 1);
    v9.options_template(260, &[FieldSpecifier::iana(1, 4)], &[FieldSpecifier::iana(34, 4)]).data(260, &[1u8; 8], 1);
    run(&mut c, &v9.finish());
    assert_eq!(c.counters().options_records_skipped, 3);
    assert_eq!(c.counters().dropped_total(), 0);
}

#[test]
fn netflow_v9_uptimes_are_placed_in_unix_time_from_the_header() {
    let fields = [
        FieldSpecifier::iana(27, 16),
        FieldSpecifier::iana(28, 16),
        FieldSpecifier::iana(4, 1),
        FieldSpecifier::iana(1, 4),
        FieldSpecifier::iana(2, 4),
        FieldSpecifier::iana(22, 4),
        FieldSpecifier::iana(21, 4),
        FieldSpecifier::iana(6, 1),
    ];
    let mut record = Vec::new();
    record.extend("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    record.extend("2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    record.push(17);
    record.extend(1234u32.to_be_bytes());
    record.extend(3u32.to_be_bytes());
    record.extend(10_000u32.to_be_bytes()); // first packet at uptime 10 s
    record.extend(55_000u32.to_be_bytes()); // last at 55 s
    record.push(0x12);
    record.extend([0, 0, 0]); // flowset padding
    let mut m = MessageBuilder::netflow_v9(7, 60_000, 1_764_000_000, 1);
    m.template(256, &fields).data(256, &record, 1);
    let mut c = collector();
    let flows = run(&mut c, &m.finish());
    assert_eq!(flows.len(), 1, "{:?}", c.counters());
    let f = flows[0];
    assert_eq!((f.tuple.src, f.tuple.dst, f.tuple.proto), (ip("2001:db8::1"), ip("2001:db8::2"), 17));
    assert_eq!((f.octets, f.packets, f.tcp_flags, f.observation_domain), (1234, 3, Some(0x12), 7));
    assert_eq!(f.start_ms, Some(1_764_000_000_000 - 50_000));
    assert_eq!(f.end_ms, Some(1_764_000_000_000 - 5_000));
}

#[test]
fn the_template_bounds_hold() {
    let mut config = CollectorConfig::new([exporter()]);
    config.max_templates_per_exporter = 2;
    config.max_fields_per_template = 12;
    let mut c = Collector::new(config);
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.template(300, &V4_FLOW_FIELDS).template(301, &V4_FLOW_FIELDS).template(302, &V4_FLOW_FIELDS);
    m.template(300, &V4_FLOW_FIELDS); // a redefinition is not a new template
    m.template(303, &[FieldSpecifier::iana(8, 4); 13]);
    run(&mut c, &m.finish());
    assert_eq!(c.template_count(), 2);
    assert_eq!(c.counters().dropped(DropReason::TemplateLimit), 2);
    assert_eq!(c.counters().templates_learned, 3);
}

#[test]
fn malformed_templates_are_dropped_and_counted() {
    let mut c = collector();
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.template(255, &V4_FLOW_FIELDS); // IDs under 256 are reserved
    m.template(300, &[FieldSpecifier::iana(8, 16)]); // an IPv4 address of 16 octets
    m.template(301, &[FieldSpecifier::iana(1, 65535)]); // a counter of variable length
    m.raw_set(2, &[0x01, 0x30, 0x00, 0x03, 0x00, 0x08, 0x00, 0x04]); // 3 fields announced, 1 there
    run(&mut c, &m.finish());
    assert_eq!(c.template_count(), 0);
    assert_eq!(c.counters().dropped(DropReason::BadTemplate), 4);
}

#[test]
fn malformed_messages_sets_and_records_are_dropped_and_counted() {
    let mut c = collector();
    run(&mut c, &[0x00]);
    run(&mut c, &[0x00, 0x05, 0, 0]);
    let mut long = MessageBuilder::ipfix(1, 0, 1).finish();
    long[2..4].copy_from_slice(&100u16.to_be_bytes());
    run(&mut c, &long);
    let mut m = MessageBuilder::ipfix(1, 0, 1);
    m.raw_set(7, &[0; 4]);
    run(&mut c, &m.finish());
    let mut bad_set = MessageBuilder::ipfix(1, 0, 1).finish();
    bad_set.extend([0x01, 0x00, 0x00, 0x02]);
    let n = bad_set.len() as u16;
    bad_set[2..4].copy_from_slice(&n.to_be_bytes());
    run(&mut c, &bad_set);
    // A variable-length field announcing more than the set holds.
    let mut t = MessageBuilder::ipfix(1, 0, 1);
    t.template(300, &[FieldSpecifier::iana(8, 4), FieldSpecifier::iana(12, 4), FieldSpecifier::iana(82, 65535)]);
    t.data(300, &[10, 0, 0, 1, 10, 0, 0, 2, 200, b'x'], 1);
    run(&mut c, &t.finish());
    // A record without addresses.
    let mut t = MessageBuilder::ipfix(1, 0, 1);
    t.template(301, &[FieldSpecifier::iana(1, 8)]).data(301, &7u64.to_be_bytes(), 1);
    run(&mut c, &t.finish());
    let counters = c.counters();
    assert_eq!(counters.dropped(DropReason::ShortHeader), 1);
    assert_eq!(counters.dropped(DropReason::UnsupportedVersion), 1);
    assert_eq!(counters.dropped(DropReason::BadMessageLength), 1);
    assert_eq!(counters.dropped(DropReason::ReservedSetId), 1);
    assert_eq!(counters.dropped(DropReason::BadSetLength), 1);
    assert_eq!(counters.dropped(DropReason::BadRecord), 1);
    assert_eq!(counters.dropped(DropReason::MissingAddresses), 1);
    assert_eq!(counters.flows, 0);
    assert_eq!(counters.datagrams, 7);
    for reason in DropReason::ALL {
        assert!(!reason.as_str().is_empty());
    }
}
