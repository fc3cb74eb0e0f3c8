//! Codec benchmarks on typical S6a traffic: decoding and encoding an Authentication-Information
//! Request and Answer, and the zero-copy path (`MessageView::parse` + `find(User-Name)`).
//!
//! Run: `cargo bench -p diameter --bench codec -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use diameter::avp;
use diameter::dictionary::VENDOR_3GPP;
use diameter::Command;
use diameter::{Avp, Message, MessageView};

const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";

/// An AIR as an MME sends it for one E-UTRAN vector.
fn air() -> Message {
    let mut m = Message::request(Command::AIR);
    m.header.hop_by_hop = 0x1234_5678;
    m.header.end_to_end = 0x9abc_def0;
    m.add(avp::SESSION_ID, "mme01.epc.mnc001.mcc001.3gppnetwork.org;1712345678;42;app_s6a");
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "mme01.epc.mnc001.mcc001.3gppnetwork.org");
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::USER_NAME, "001010123456789");
    m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
    m.push(Avp::grouped(
        avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32), Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 0u32)],
    ));
    m.push(Avp::grouped(
        avp::SUPPORTED_FEATURES,
        vec![
            Avp::new(avp::VENDOR_ID, VENDOR_3GPP),
            Avp::new(avp::FEATURE_LIST_ID, 1u32),
            Avp::new(avp::FEATURE_LIST, 0x0000_0003u32),
        ],
    ));
    m
}

/// The HSS's answer with one E-UTRAN vector.
fn aia(air: &Message) -> Message {
    let mut m = Message::answer_to(&air.header, air.session_id());
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "hss01.epc.mnc001.mcc001.3gppnetwork.org");
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::RESULT_CODE, 2001u32);
    let vector = Avp::grouped(
        avp::E_UTRAN_VECTOR,
        vec![
            Avp::new(avp::RAND, &[0x11u8; 16]),
            Avp::new(avp::XRES, &[0x22u8; 8]),
            Avp::new(avp::AUTN, &[0x33u8; 16]),
            Avp::new(avp::KASME, &[0x44u8; 32]),
        ],
    );
    m.push(Avp::grouped(avp::AUTHENTICATION_INFO, vec![vector]));
    m
}

fn codec(c: &mut Criterion) {
    let air = air();
    let aia = aia(&air);
    let air_bytes = air.encode();
    let aia_bytes = aia.encode();
    assert_eq!(Message::decode(&air_bytes).unwrap().encode(), air_bytes);
    assert_eq!(Message::decode(&aia_bytes).unwrap().encode(), aia_bytes);

    let mut g = c.benchmark_group("codec");
    g.bench_function(format!("decode AIR ({} B)", air_bytes.len()), |b| {
        b.iter(|| Message::decode(black_box(&air_bytes)).unwrap())
    });
    g.bench_function(format!("decode AIA ({} B)", aia_bytes.len()), |b| {
        b.iter(|| Message::decode(black_box(&aia_bytes)).unwrap())
    });
    g.bench_function("encode AIR", |b| b.iter(|| black_box(&air).encode()));
    g.bench_function("encode AIA", |b| b.iter(|| black_box(&aia).encode()));
    g.bench_function("encode_into AIA (reused buffer)", |b| {
        let mut out = Vec::with_capacity(aia_bytes.len());
        b.iter(|| {
            out.clear();
            black_box(&aia).encode_into(&mut out);
            out.len()
        })
    });
    g.bench_function("view AIR + find(User-Name)", |b| {
        b.iter(|| {
            let v = MessageView::parse(black_box(&air_bytes)).unwrap();
            v.find(avp::USER_NAME).unwrap().data.len()
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
