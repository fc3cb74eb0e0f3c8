#![allow(missing_docs)] // criterion_group! generates an undocumented function.

//! Throughput of the OTA core: building a typical secured packet (AES-128, SPI 1619: counter must be
//! higher, ciphered, CC; two APDUs: SELECT EF_OPLMNwAcT by path and a 40-byte UPDATE BINARY) with its
//! SMS-DELIVER TPDU, and verifying a ciphered, CC'd PoR.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ota::rfm::{select_path, update_binary, CardClass};
use ota::sms::{deliver_tpdus, Address, Scts};
use ota::{
    build_command, build_response, build_script, parse_response, CommandHeader, Counter, KeySet, ResponseStatus,
    ScriptFormat, Spi,
};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let keys = KeySet::new(0x22, 0x22, &[0x20; 16], &[0x21; 16]).unwrap();
    let spi = Spi::from_bytes([0x16, 0x19]).unwrap();
    let mut apdus = select_path(CardClass::Uicc, &[0x3F00, 0x7FFF, 0x6F61]).unwrap();
    apdus.extend(update_binary(CardClass::Uicc, 0, &[0x62; 40], 120).unwrap());
    let data = build_script(ScriptFormat::Compact, &apdus);
    let oa = Address::parse("+491710000000").unwrap();
    let scts = Scts::from_utc(2023, 11, 14, 22, 13, 20).unwrap();
    let mut g = c.benchmark_group("ota");
    g.throughput(Throughput::Elements(1));
    let mut cntr = 0u64;
    g.bench_function("encode_aes_2_apdus_with_tpdu", |b| {
        b.iter(|| {
            cntr = (cntr + 1) & Counter::MAX;
            let h = CommandHeader { spi, tar: [0xB0, 0x00, 0x11], cntr: Counter::new(cntr).unwrap() };
            let packet = build_command(&h, &keys, black_box(&data)).unwrap();
            black_box(deliver_tpdus(&oa, &scts, &packet, cntr as u8).unwrap())
        })
    });
    let por = build_response(
        &spi,
        &keys,
        [0xB0, 0x00, 0x11],
        Counter::new(7).unwrap(),
        ResponseStatus::PorOk,
        &[2, 0x90, 0x00],
    )
    .unwrap();
    g.bench_function("verify_por_aes_ciphered_cc", |b| {
        b.iter_batched(|| por.clone(), |p| black_box(parse_response(&p, &spi, &keys).unwrap()), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(ota_benches, benches);
criterion_main!(ota_benches);
