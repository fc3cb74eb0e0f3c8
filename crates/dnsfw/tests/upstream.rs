//! The firewall's side towards its upstream resolvers: failover on silence, SERVFAIL when none
//! answers, negative caching, and one upstream question for many identical concurrent ones.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use dnsfw::authority::Authority;
use dnsfw::{CancellationToken, DnsConfig, Verdict};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

fn query(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

fn sim1() -> IpAddr {
    SIM1.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_is_skipped_after_the_timeout() {
    let stop = CancellationToken::new();
    let silent = Arc::new(zone());
    silent.set_silent(true);
    let silent_addr = silent.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();
    let good = Arc::new(zone());
    let good_addr = good.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();
    let config = DnsConfig { upstream: vec![silent_addr, good_addr], upstream_timeout_ms: 300, ..DnsConfig::default() };
    let h = start(config).await;
    let started = Instant::now();
    let a = h.fw.answer(sim1(), &query("api.acme.example.", RecordType::A), false).await.unwrap();
    let m = Message::from_vec(&a).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((silent.queries(), good.queries()), (1, 1));
    assert_eq!(h.fw.counters().upstream_failures, 0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_from_any_upstream_is_servfail_and_not_cached() {
    let stop = CancellationToken::new();
    let silent = Arc::new(zone());
    silent.set_silent(true);
    let silent_addr = silent.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();
    let h = start(DnsConfig { upstream: vec![silent_addr], upstream_timeout_ms: 200, ..DnsConfig::default() }).await;
    for _ in 0..2 {
        let a = h.fw.answer(sim1(), &query("api.acme.example.", RecordType::A), false).await.unwrap();
        assert_eq!(u16::from(Message::from_vec(&a).unwrap().metadata.response_code), 2);
    }
    assert_eq!(silent.queries(), 2, "failures are not cached");
    assert_eq!(h.fw.counters().upstream_failures, 2);
    assert!(h.fw.take_log(10).iter().all(|e| e.verdict == Verdict::UpstreamFailed && e.rcode == 2));
    assert!(h.dir.resolved.lock().unwrap().is_empty());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxdomain_is_cached_for_the_soa_minimum() {
    let h = start(DnsConfig::default()).await;
    for _ in 0..3 {
        let a = h.fw.answer(sim1(), &query("gone.ota.acme.example.", RecordType::A), false).await.unwrap();
        let m = Message::from_vec(&a).unwrap();
        assert_eq!(u16::from(m.metadata.response_code), 3);
        assert_eq!(m.authorities.len(), 1, "the SOA");
        assert!(m.authorities[0].ttl <= 30);
    }
    assert_eq!(h.upstream.queries(), 1);
    assert_eq!(h.fw.counters().cache_hits, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_questions_are_asked_upstream_once() {
    let slow = zone().with_delay(Duration::from_millis(200));
    let h = start_with(DnsConfig::default(), slow).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let fw = h.fw.clone();
        // Different case, same question.
        let name = if i % 2 == 0 { "fw1.ota.acme.example." } else { "FW1.OTA.acme.example." };
        tasks.push(tokio::spawn(async move { fw.answer(sim1(), &query(name, RecordType::A), false).await }));
    }
    for t in tasks {
        let m = Message::from_vec(&t.await.unwrap().unwrap()).unwrap();
        assert_eq!(m.answers.len(), 1);
    }
    assert_eq!(h.upstream.queries(), 1);
    assert_eq!(h.dir.resolved_for("fw1.ota.acme.example").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_ttl_is_the_records_ttl_clamped() {
    let stop = CancellationToken::new();
    let z = Arc::new(Authority::new("acme.example.", 30).addr("api.acme.example.", 2, "192.0.2.1".parse().unwrap()));
    let up = z.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();
    let h = start(DnsConfig { upstream: vec![up], ..DnsConfig::default() }).await;
    let a = h.fw.answer(sim1(), &query("api.acme.example.", RecordType::A), false).await.unwrap();
    assert_eq!(Message::from_vec(&a).unwrap().answers[0].ttl, 5, "TTL 2 raised to min_ttl_secs");
    assert_eq!(h.dir.resolved_for("api.acme.example")[0].3, Duration::from_secs(5));
    // 300 s lowered to max_ttl_secs = 60.
    let h = start(DnsConfig { max_ttl_secs: 60, ..DnsConfig::default() }).await;
    let a = h.fw.answer(sim1(), &query("api.acme.example.", RecordType::A), false).await.unwrap();
    assert_eq!(Message::from_vec(&a).unwrap().answers[0].ttl, 60);
    assert_eq!(h.dir.resolved_for("api.acme.example")[0].3, Duration::from_secs(60));
    stop.cancel();
}
