//! The firewall on loopback, asked by dnspython (PyPI) over UDP and TCP from chosen source
//! addresses. Skipped with a message when dnspython is missing, unless `CI` is set.

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use dnsfw::{DnsConfig, RefusedAnswer, Verdict};
use serde_json::{json, Value};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/dnspython_client.py");

fn have_dnspython() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import dns.query, dns.message"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("dnspython is missing (python3 -m pip install dnspython) and CI is set");
        }
        eprintln!("SKIPPED: dnspython is missing; install it with `python3 -m pip install dnspython`");
    }
    ok
}

/// Runs the dnspython client on `questions` (server and port filled in) and returns its results.
async fn ask(h: &Harness, questions: Vec<Value>) -> Vec<Value> {
    let questions: Vec<Value> = questions
        .into_iter()
        .map(|mut q| {
            q["server"] = json!(h.addr.ip().to_string());
            q["port"] = json!(h.addr.port());
            q
        })
        .collect();
    let input = serde_json::to_vec(&questions).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "dnspython client failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

fn q(source: &str, name: &str, qtype: &str, mode: &str) -> Value {
    json!({"source": source, "name": name, "type": qtype, "mode": mode, "edns": null})
}

fn addrs(r: &Value) -> Vec<String> {
    r["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

const NOERROR: i64 = 0;
const NXDOMAIN: i64 = 3;
const REFUSED: i64 = 5;
const FORMERR: i64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_names_resolve_over_udp_and_tcp_and_their_addresses_are_reported() {
    if !have_dnspython() {
        return;
    }
    let h = start(DnsConfig::default()).await;
    let r = ask(
        &h,
        vec![
            q(SIM1, "API.Acme.Example.", "A", "udp"),
            q(SIM1, "api.acme.example.", "AAAA", "tcp"),
            q(SIM1, "fw1.ota.acme.example.", "A", "udp"),
            q(SIM1, "cdn-alias.acme.example.", "A", "udp"),
            q(SIM1, "missing.ota.acme.example.", "A", "udp"),
            q(SIM1, "api.acme.example.", "A", "tcp"),
        ],
    )
    .await;
    assert_eq!(r[0]["rcode"], NOERROR, "{r:?}");
    assert_eq!(addrs(&r[0]), ["192.0.2.10"]);
    assert_eq!(r[0]["qname"], "API.Acme.Example.", "the question's case is kept");
    assert_eq!(r[0]["opt"], false, "no OPT in the answer to a query without one");
    assert_eq!(addrs(&r[1]), ["2001:db8::10"]);
    assert_eq!(addrs(&r[2]), ["192.0.2.20"], "wildcard *.ota.acme.example");
    // The CNAME target is outside the allowlist; the name asked is what counts.
    assert_eq!(addrs(&r[3]), ["edge.cdn.acme.example.", "198.51.100.5"]);
    assert_eq!(r[4]["rcode"], NXDOMAIN, "an allowed name that does not exist");
    assert_eq!(r[5]["rcode"], NOERROR);
    let ttl = r[5]["ttls"][0].as_i64().unwrap();
    assert!((298..=300).contains(&ttl), "the cached TTL counts down from 300: {ttl}");

    // Reported to the directory: the addresses, for the name asked, with the record's TTL.
    let api = h.dir.resolved_for("api.acme.example");
    assert_eq!(api.len(), 2, "A and AAAA once each, the cached A not again: {api:?}");
    assert_eq!(api[0].0, IMSI1);
    assert_eq!(api[0].2, vec!["192.0.2.10".parse::<IpAddr>().unwrap()]);
    assert!(api[0].3 >= Duration::from_secs(299) && api[0].3 <= Duration::from_secs(300), "{:?}", api[0].3);
    let alias = h.dir.resolved_for("cdn-alias.acme.example");
    assert_eq!(alias.len(), 1);
    assert_eq!(alias[0].2, vec!["198.51.100.5".parse::<IpAddr>().unwrap()]);
    assert_eq!(alias[0].3, Duration::from_secs(60), "the chain's smallest TTL");
    assert!(h.dir.resolved_for("missing.ota.acme.example").is_empty());

    // The second A for api came from the cache.
    assert_eq!(h.upstream.queries(), 5);
    let c = h.fw.counters();
    assert_eq!((c.queries, c.allowed, c.cache_hits, c.refused), (6, 6, 1, 0));
    let log = h.fw.take_log(100);
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|e| e.imsi == IMSI1 && e.verdict == Verdict::Allowed));
    assert_eq!(log[0].name, "api.acme.example");
    assert_eq!(log[4].rcode, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_names_and_unknown_sources_are_refused_or_nxdomain() {
    if !have_dnspython() {
        return;
    }
    let h = start(DnsConfig::default()).await;
    let r = ask(
        &h,
        vec![
            q(SIM1, "evil.example.", "A", "udp"),
            q(SIM1, "evil.example.", "A", "tcp"),
            q(SIM1, "ota.acme.example.", "A", "udp"),
            q(SIM1, "www.acme.example.", "A", "udp"),
            q(STRANGER, "api.acme.example.", "A", "udp"),
            q(SIM2, "www.acme.example.", "A", "udp"),
        ],
    )
    .await;
    for (i, what) in ["evil udp", "evil tcp", "wildcard parent", "not listed", "unknown source"].iter().enumerate() {
        assert_eq!(r[i]["rcode"], REFUSED, "{what}: {:?}", r[i]);
        assert!(addrs(&r[i]).is_empty());
    }
    assert_eq!(r[5]["rcode"], NXDOMAIN, "SIM 2 is open: the upstream's answer");
    let refused = h.dir.refused.lock().unwrap().clone();
    assert_eq!(
        refused,
        vec![
            (IMSI1.to_string(), "evil.example".to_string()),
            (IMSI1.to_string(), "ota.acme.example".to_string()),
            (IMSI1.to_string(), "www.acme.example".to_string()),
        ],
        "one event per SIM and name"
    );
    assert_eq!(h.upstream.queries(), 1, "refused names are never asked upstream");
    let c = h.fw.counters();
    assert_eq!((c.refused, c.unknown_source), (5, 1));

    let h = start(DnsConfig { answer_refused: RefusedAnswer::Nxdomain, ..DnsConfig::default() }).await;
    let r = ask(&h, vec![q(SIM1, "evil.example.", "A", "udp"), q(STRANGER, "api.acme.example.", "A", "udp")]).await;
    assert_eq!(r[0]["rcode"], NXDOMAIN);
    assert_eq!(r[1]["rcode"], REFUSED, "unknown sources are always REFUSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_sizes_are_honoured_and_big_answers_go_over_tcp() {
    if !have_dnspython() {
        return;
    }
    let h = start(DnsConfig::default()).await;
    let with_edns = |name: &str, payload: u16, mode: &str| {
        let mut v = q(SIM1, name, "A", mode);
        v["edns"] = json!(payload);
        v
    };
    let r = ask(
        &h,
        vec![
            q(SIM1, "mid.ota.acme.example.", "A", "udp"),
            q(SIM1, "mid.ota.acme.example.", "A", "fallback"),
            with_edns("mid.ota.acme.example.", 1232, "udp"),
            with_edns("mid.ota.acme.example.", 4096, "udp"),
            with_edns("big.ota.acme.example.", 4096, "udp"),
            with_edns("big.ota.acme.example.", 4096, "fallback"),
        ],
    )
    .await;
    // ~700 bytes: too big for 512 without EDNS.
    assert_eq!((r[0]["tc"].as_bool(), addrs(&r[0]).len()), (Some(true), 0), "{:?}", r[0]);
    assert_eq!(r[1]["used_tcp"], true);
    assert_eq!(addrs(&r[1]).len(), 40);
    // Fits 1232 with EDNS, and the answer carries an OPT record with our size.
    assert_eq!((r[2]["tc"].as_bool(), addrs(&r[2]).len()), (Some(false), 40));
    assert_eq!((r[2]["opt"].as_bool(), r[2]["payload"].as_i64()), (Some(true), Some(1232)));
    assert_eq!(addrs(&r[3]).len(), 40);
    // ~1700 bytes: the 4096 the client offers is capped at 1232, so TC, then TCP.
    assert_eq!(r[4]["tc"], true);
    assert_eq!(r[4]["opt"], true, "a truncated answer still has OPT");
    assert_eq!((r[5]["used_tcp"].as_bool(), addrs(&r[5]).len()), (Some(true), 100));
    // The upstream's UDP answer for big was truncated too: the firewall asked again over TCP.
    assert!(h.upstream.tcp_queries() >= 1);
    assert_eq!(h.upstream.queries(), 3, "mid once, big once over UDP and once over TCP");
    // mid without EDNS and big twice (plain UDP, then the fallback's UDP try), each a TC answer.
    assert_eq!(h.fw.counters().truncated, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sim_asking_too_fast_is_refused() {
    if !have_dnspython() {
        return;
    }
    let h = start(DnsConfig { queries_per_sec_per_sim: 2, ..DnsConfig::default() }).await;
    let r = ask(&h, (0..10).map(|_| q(SIM1, "api.acme.example.", "A", "udp")).collect()).await;
    let codes: Vec<i64> = r.iter().map(|x| x["rcode"].as_i64().unwrap()).collect();
    assert_eq!(&codes[..4], [NOERROR; 4], "a burst of twice the rate: {codes:?}");
    assert!(codes[4..].iter().filter(|c| **c == REFUSED).count() >= 5, "{codes:?}");
    // Another SIM is not affected.
    let r = ask(&h, vec![q(SIM2, "api.acme.example.", "A", "udp")]).await;
    assert_eq!(r[0]["rcode"], NOERROR);
    let log = h.fw.take_log(100);
    assert!(log.iter().filter(|e| e.verdict == Verdict::RateLimited).count() >= 5);
    assert_eq!(h.fw.counters().rate_limited as usize, log.iter().filter(|e| e.verdict == Verdict::RateLimited).count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_formerr_or_silence_and_the_server_keeps_answering() {
    if !have_dnspython() {
        return;
    }
    let h = start(DnsConfig::default()).await;
    // A real query for api.acme.example A, ID 0xbeef, cut inside the question.
    let good = "beef01000001000000000000036170690461636d65076578616d706c650000010001";
    let cut = &good[..good.len() - 6];
    // Two questions announced, one present.
    let two = "beef01000002000000000000036170690461636d65076578616d706c650000010001";
    // A label running past the end.
    let overrun = "beef0100000100000000000040616263";
    let raw = |hex: &str, mode: &str| json!({"source": SIM1, "mode": mode, "hex": hex, "timeout": 0.5});
    let r = ask(
        &h,
        vec![
            raw(cut, "raw_udp"),
            raw(two, "raw_udp"),
            raw(overrun, "raw_tcp"),
            raw("beef01", "raw_udp"),
            raw(good, "raw_udp"),
            q(SIM1, "api.acme.example.", "A", "udp"),
        ],
    )
    .await;
    for (i, x) in r.iter().take(3).enumerate() {
        assert_eq!(x["rcode"], FORMERR, "{i}: {x:?}");
        assert_eq!(x["id"], 0xbeef);
    }
    assert_eq!(r[3]["error"], "timeout", "no header: no answer");
    assert_eq!(r[4]["rcode"], NOERROR);
    assert_eq!(r[5]["rcode"], NOERROR);
    assert_eq!(h.fw.counters().malformed, 4);
}
