//! The issuing path with P-256 (the ≥ 500 enrolments/s target of issue #19): checking a CSR
//! (parse, key type, proof of possession, subject) and signing its certificate; and a whole
//! token enrolment through the store (SQLite: token lookup, issuing, recording in one transaction).
//! Run: `cargo bench -p est --bench issue`.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use est::ca::Authority;
use est::identity::DeviceIdentity;
use est::settings::EstSettings;

fn csr(endpoint: &str, san: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, endpoint);
    params.subject_alt_names = san.iter().map(|u| rcgen::SanType::URI((*u).try_into().expect("uri"))).collect();
    params.serialize_request(&key).expect("csr").der().to_vec()
}

fn issuing(c: &mut Criterion) {
    let policy = EstSettings::default().policy();
    let (ca, _) = Authority::generate("*", store::now()).expect("CA");
    let id = DeviceIdentity { endpoint: "meter-1".into(), imsi: Some("001010000000001".into()), imei: None };
    let csrs: Vec<Vec<u8>> = (0..64).map(|_| csr("meter-1", &["urn:imsi:001010000000001"])).collect();
    let mut g = c.benchmark_group("est");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("check_csr_and_issue_p256", |b| {
        b.iter(|| {
            i = (i + 1) % csrs.len();
            est::enrol::issue_for(&ca, &id, &csrs[i], &policy, store::now()).expect("issued")
        })
    });
    g.bench_function("check_csr_only", |b| b.iter(|| est::csr::check(&csrs[0]).expect("checked")));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let temp = rt.block_on(testkit::TempStore::sqlite());
    let sqlite = Arc::new(est::Enroller::new(temp.store.clone(), policy.clone()));
    g.bench_function("enrol_with_token_sqlite_32_concurrent", |b| {
        b.iter_custom(|n| rt.block_on(enrol_concurrently(&sqlite, &csrs, n)))
    });
    // PostgreSQL (a fresh database) when WARDEN_TEST_POSTGRES_URL names a server.
    if testkit::postgres_url().is_some() {
        rt.block_on(testkit::on_fresh_postgres(|url| async move {
            let store = store::Store::open(&url, testkit::keyring()).await.expect("PostgreSQL");
            let pg = Arc::new(est::Enroller::new(store, EstSettings::default().policy()));
            let csrs: Vec<Vec<u8>> = (0..64).map(|_| csr("meter-1", &["urn:imsi:001010000000001"])).collect();
            let mut total = std::time::Duration::ZERO;
            let n = 2000;
            total += enrol_concurrently(&pg, &csrs, n).await;
            println!(
                "est/enrol_with_token_postgres_32_concurrent: {n} enrolments in {total:?} = {:.0}/s",
                n as f64 / total.as_secs_f64()
            );
        }));
    }
    g.finish();
}

/// `n` token enrolments, 32 at a time; the time they took (token creation not counted).
async fn enrol_concurrently(e: &Arc<est::Enroller>, csrs: &[Vec<u8>], n: u64) -> std::time::Duration {
    let mut tokens = Vec::new();
    for _ in 0..n {
        let t = e
            .store()
            .create_est_token("*", "meter-1", Some("001010000000001"), None, 3600, "bench")
            .await
            .expect("token");
        tokens.push(t.to_string());
    }
    let start = std::time::Instant::now();
    for chunk in tokens.chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for (k, t) in chunk.iter().enumerate() {
            let (e, t, csr) = (e.clone(), t.clone(), csrs[k % csrs.len()].clone());
            set.spawn(async move { e.enrol(&t, None, &csr).await.expect("enrolled") });
        }
        while set.join_next().await.is_some() {}
    }
    start.elapsed()
}

criterion_group!(benches, issuing);
criterion_main!(benches);
