//! A second, independent Gx client: PyPI `python-diameter` (its own codec, peer state machine and
//! Credit-Control messages) acts as the P-GW against the PCRF on loopback: CER/CEA, CCR-I whose CCA
//! installs exactly the allowlist, a quarantine pushed as a RAR it decodes, and CCR-T.
//!
//! Skipped (with a `SKIPPED` line) when `python3` or the `diameter` module (`pip install
//! python-diameter`) is missing, unless `CI` is set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use cmp::Actor;
use common::*;

fn python_diameter() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import diameter.node"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "python-diameter is not installed but CI is set");
        println!("SKIPPED: python3 with python-diameter (pip install python-diameter) not found");
    }
    ok
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the client answers within 20 s")
        .expect("a line")
}

fn line(out: &mut impl BufRead) -> serde_json::Value {
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_diameter_pgw_lives_a_gx_session() {
    if !python_diameter() {
        return;
    }
    let s = setup().await;
    let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/gx_client.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(addr.port().to_string())
        .arg(LOW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(out);
        for _ in 0..3 {
            let _ = tx.send(line(&mut out));
        }
    });
    let cca = next(&mut rx).await;
    assert_eq!(cca["step"], "cca-i");
    assert_eq!(cca["result"], 2001);
    let flows: Vec<String> = serde_json::from_value(cca["flows"].clone()).unwrap();
    assert_eq!(
        flows,
        [
            "permit out 17 from 192.0.2.53/32 53 to assigned",
            "permit out 6 from 192.0.2.53/32 53 to assigned",
            "permit out ip from 198.51.100.0/24 to assigned",
            "permit out 6 from 203.0.113.7/32 443 to assigned",
            "permit out ip from any to assigned",
        ]
    );
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "scan").await.unwrap();
    stdin.write_all(b"go\n").unwrap();
    let rar = next(&mut rx).await;
    assert_eq!(
        (rar["step"].as_str(), rar["code"].as_u64(), rar["app"].as_u64()),
        (Some("rar"), Some(258), Some(16_777_238))
    );
    assert_eq!(rar["flows"], serde_json::json!(["permit out 6 from 10.9.0.0/16 8443 to assigned"]));
    assert_eq!(rar["removed"].as_array().unwrap().len(), 2);
    let cca = next(&mut rx).await;
    assert_eq!((cca["step"].as_str(), cca["result"].as_u64()), (Some("cca-t"), Some(2001)));
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    assert_eq!(s.pcrf.counters().sessions, 0);
}
