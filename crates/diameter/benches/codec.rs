//! Codec benchmarks on typical S6a traffic: decoding and encoding an Authentication-Information
//! Request and Answer, and the zero-copy path (`MessageView::parse` + `find(User-Name)`).
//!
//! Run: `cargo bench -p diameter --bench codec -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use diameter::dictionary::VENDOR_3GPP;
use diameter::{Avp, Message, MessageView};

const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";

/// An AIR as an MME sends it for one E-UTRAN vector.
fn air() -> Message {
    let mut m = Message::new("AIR").unwrap();
    m.header.hop_by_hop = 0x1234_5678;
    m.header.end_to_end = 0x9abc_def0;
    m.add("Session-Id", "mme01.epc.mnc001.mcc001.3gppnetwork.org;1712345678;42;app_s6a").unwrap();
    m.add("Auth-Session-State", 1u32).unwrap();
    m.add("Origin-Host", "mme01.epc.mnc001.mcc001.3gppnetwork.org").unwrap();
    m.add("Origin-Realm", REALM).unwrap();
    m.add("Destination-Realm", REALM).unwrap();
    m.add("User-Name", "001010123456789").unwrap();
    m.add("Visited-PLMN-Id", &[0x00u8, 0xf1, 0x10]).unwrap();
    m.push(
        Avp::grouped(
            "Requested-EUTRAN-Authentication-Info",
            vec![
                Avp::new("Number-Of-Requested-Vectors", 1u32).unwrap(),
                Avp::new("Immediate-Response-Preferred", 0u32).unwrap(),
            ],
        )
        .unwrap(),
    );
    m.push(
        Avp::grouped(
            "Supported-Features",
            vec![
                Avp::new("Vendor-Id", VENDOR_3GPP).unwrap(),
                Avp::new("Feature-List-ID", 1u32).unwrap(),
                Avp::new("Feature-List", 0x0000_0003u32).unwrap(),
            ],
        )
        .unwrap(),
    );
    m
}

/// The HSS's answer with one E-UTRAN vector.
fn aia(air: &Message) -> Message {
    let mut m = Message::answer_to(&air.header, air.session_id());
    m.add("Auth-Session-State", 1u32).unwrap();
    m.add("Origin-Host", "hss01.epc.mnc001.mcc001.3gppnetwork.org").unwrap();
    m.add("Origin-Realm", REALM).unwrap();
    m.add("Result-Code", 2001u32).unwrap();
    let vector = Avp::grouped(
        "E-UTRAN-Vector",
        vec![
            Avp::new("RAND", &[0x11u8; 16]).unwrap(),
            Avp::new("XRES", &[0x22u8; 8]).unwrap(),
            Avp::new("AUTN", &[0x33u8; 16]).unwrap(),
            Avp::new("KASME", &[0x44u8; 32]).unwrap(),
        ],
    )
    .unwrap();
    m.push(Avp::grouped("Authentication-Info", vec![vector]).unwrap());
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
            v.find(1, 0).unwrap().data.len()
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
