//! The firewall asked by `dig` (ISC BIND's client, Debian bind9-dnsutils). Skipped with a message
//! when dig is not installed.

mod common;

use std::process::Command;

use common::*;
use dnsfw::DnsConfig;

fn have_dig() -> bool {
    let ok = Command::new("dig").arg("-v").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: dig is not installed (Debian: apt-get install bind9-dnsutils)");
    }
    ok
}

async fn dig(h: &Harness, source: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("dig");
    cmd.args(["+tries=1", "+time=2", "-b", source, "-p", &h.addr.port().to_string(), &format!("@{}", h.addr.ip())]);
    cmd.args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("dig")).await.unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_sees_answers_refusals_truncation_and_badvers() {
    if !have_dig() {
        return;
    }
    let h = start(DnsConfig::default()).await;
    let out = dig(&h, SIM1, &["api.acme.example", "A"]).await;
    assert!(out.contains("status: NOERROR") && out.contains("192.0.2.10"), "{out}");
    let out = dig(&h, SIM1, &["+tcp", "fw1.ota.acme.example", "A"]).await;
    assert!(out.contains("status: NOERROR") && out.contains("192.0.2.20"), "{out}");
    let out = dig(&h, SIM1, &["evil.example", "A"]).await;
    assert!(out.contains("status: REFUSED"), "{out}");
    let out = dig(&h, STRANGER, &["api.acme.example", "A"]).await;
    assert!(out.contains("status: REFUSED"), "{out}");
    // 100 records: TC over UDP, dig retries over TCP by itself.
    let out = dig(&h, SIM1, &["+bufsize=1232", "big.ota.acme.example", "A"]).await;
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert!(out.contains("ANSWER: 100"), "{out}");
    let out = dig(&h, SIM1, &["+bufsize=1232", "+ignore", "big.ota.acme.example", "A"]).await;
    assert!(out.contains("flags: qr tc rd ra") && out.contains("ANSWER: 0"), "{out}");
    // EDNS version 1 is not spoken.
    let out = dig(&h, SIM1, &["+edns=1", "+noednsnegotiation", "api.acme.example", "A"]).await;
    assert!(out.contains("status: BADVERS"), "{out}");
}
