#![allow(missing_docs)] // criterion_group! generates an undocumented function.
//! Criterion benchmarks of the AuC hot paths: one E-UTRAN vector (MILENAGE and TUAK), its parts,
//! and a batch with RANDs from the OS CSPRNG. Numbers are recorded in docs/performance.md.

use std::hint::black_box;

use auc::{
    eutran_batch, kasme, Amf, AuthAlgorithm, Key, Milenage, Opc, Rand, ServingNetwork, Sqn, SqnCounter, SqnScheme,
    Topc, Tuak, TuakParams,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn milenage() -> AuthAlgorithm {
    Milenage::new(&Key::from_slice(&[0x46; 16]).unwrap(), &Opc::from_slice(&[0xcd; 16]).unwrap()).unwrap().into()
}

fn tuak() -> AuthAlgorithm {
    Tuak::new(&Key::from_slice(&[0xab; 16]).unwrap(), &Topc::from_slice(&[0x55; 32]).unwrap(), TuakParams::default())
        .unwrap()
        .into()
}

fn single_vector(c: &mut Criterion) {
    let sn = ServingNetwork::from_mcc_mnc("001", "01").unwrap();
    let (rand, sqn, amf) = (Rand([0x23; 16]), Sqn::new(0x1234).unwrap(), Amf([0x80, 0]));
    let mut g = c.benchmark_group("one_vector");
    g.throughput(Throughput::Elements(1));
    for (name, alg) in [("milenage", milenage()), ("tuak", tuak())] {
        g.bench_function(format!("{name}/eutran"), |b| {
            b.iter(|| black_box(alg.eutran_vector(black_box(rand), black_box(sqn), amf, &sn)))
        });
        g.bench_function(format!("{name}/umts_quintet"), |b| {
            b.iter(|| black_box(alg.umts_vector(black_box(rand), black_box(sqn), amf)))
        });
    }
    // What an HSS pays per request: key expansion from the stored K and OPc, then the vector.
    let (k, opc) = (Key::from_slice(&[0x46; 16]).unwrap(), Opc::from_slice(&[0xcd; 16]).unwrap());
    g.bench_function("milenage/eutran_with_key_setup", |b| {
        b.iter(|| {
            let alg: AuthAlgorithm = Milenage::new(black_box(&k), black_box(&opc)).unwrap().into();
            black_box(alg.eutran_vector(black_box(rand), sqn, amf, &sn))
        })
    });
    if let AuthAlgorithm::Milenage(m) = milenage() {
        g.bench_function("milenage/f1_to_f5_only", |b| {
            b.iter(|| black_box(m.vector_outputs(black_box(&rand), sqn, amf)))
        });
    }
    let v = milenage().umts_vector(rand, sqn, amf);
    g.bench_function("kasme_only", |b| b.iter(|| black_box(kasme(black_box(&v.ck), &v.ik, &sn, &[1, 2, 3, 4, 5, 6]))));
    g.finish();
}

fn batch(c: &mut Criterion) {
    const N: usize = 32;
    let sn = ServingNetwork::from_mcc_mnc("001", "01").unwrap();
    let scheme = SqnScheme::default();
    let mut g = c.benchmark_group("batch_of_32_eutran_vectors");
    g.throughput(Throughput::Elements(N as u64));
    for (name, alg) in [("milenage", milenage()), ("tuak", tuak())] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || SqnCounter::new(1000),
                |mut counter| black_box(eutran_batch(&alg, &mut counter, &scheme, 3, Amf([0, 0]), &sn, N).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = single_vector, batch
}
criterion_main!(benches);
