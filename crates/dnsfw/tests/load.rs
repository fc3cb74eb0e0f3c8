//! The load generator against the firewall on loopback: every question answered and counted, and
//! no traffic off loopback.

mod common;

use std::net::IpAddr;

use common::*;
use dnsfw::load::{self, LoadSpec};
use dnsfw::DnsConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_counts_answers_and_latencies() {
    let h = start(DnsConfig { queries_per_sec_per_sim: 0, ..DnsConfig::default() }).await;
    let sources: Vec<IpAddr> = vec![SIM1.parse().unwrap(), SIM2.parse().unwrap()];
    let names = vec!["api.acme.example.".to_string(), "fw1.ota.acme.example.".to_string()];
    let report = load::run(&LoadSpec::new(h.addr, sources, 2001, names)).await.unwrap();
    assert_eq!((report.sent, report.answered, report.noerror, report.lost), (2001, 2001, 2001, 0));
    assert!(report.qps > 0.0 && report.p50 <= report.p99 && report.p99 <= report.max);
    let c = h.fw.counters();
    assert_eq!(c.queries, 2001);
    // The first window misses the cache while the upstream is asked; those misses share one
    // upstream question per name.
    assert_eq!(h.upstream.queries(), 2);
    assert!(c.cache_hits >= 2001 - 64, "{c:?}");
    // A source with no SIM is answered REFUSED: answered, not NOERROR.
    let r = load::run(&LoadSpec::new(h.addr, vec![STRANGER.parse().unwrap()], 10, vec!["api.acme.example.".into()]))
        .await
        .unwrap();
    assert_eq!((r.answered, r.noerror), (10, 0));
}

#[tokio::test]
async fn the_load_generator_refuses_anything_off_loopback() {
    let spec = LoadSpec::new("192.0.2.1:53".parse().unwrap(), vec!["127.0.0.2".parse().unwrap()], 1, vec!["a.".into()]);
    assert_eq!(load::run(&spec).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    let spec = LoadSpec::new("127.0.0.1:53".parse().unwrap(), vec!["192.0.2.2".parse().unwrap()], 1, vec!["a.".into()]);
    assert_eq!(load::run(&spec).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}
