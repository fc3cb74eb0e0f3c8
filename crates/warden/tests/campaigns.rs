//! Firmware campaigns delivered over LwM2M object 5 by `warden serve`, to devices nobody on the
//! project wrote: Telefonica's `lwm2m-node-lib` (npm) with a small script for object 5
//! (`tests/lwm2m_client/fw_client.cjs`) that downloads the package with the npm `coap` package's
//! block-wise GET (Block2, 256-byte blocks) — or, for the cut-off device, asks for half of the
//! blocks with requests made by `coap-packet` and then claims Downloaded anyway.
//!
//! - A device updates: it receives every byte (the SHA-256 it computes is the image's), Warden
//!   executes Update, the device comes back with 3/0/3 = the manifest's version → `succeeded`, the
//!   device's profile shows the new version, `device.firmware_updated` is in the feed.
//! - A device that got half the blocks but reports Downloaded → `failed` (cut off), Update is never
//!   executed on it.
//! - A device newer than the image is never offered it (no Package URI written) → `skipped`
//!   (downgrade), under a campaign that does not allow downgrades.
//! - A device reporting Update Result 8 → `failed`; with a failure threshold of 0 the campaign pauses
//!   itself during the canary stage and the other device is never offered the image.
//!
//! Image keys and manifests are made by OpenSSL. Skipped with a printed reason when node/npm or
//! openssl is missing, except under CI.

mod common;

use common::{http, lwm2m_node_client, sims_csv, Node};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const MODEL: &str = "fw-meter";

fn devices_node(kek: &str) -> (Node, u16) {
    let extra = "firmware_download_stall_secs = 4\nfirmware_update_timeout_secs = 60\n";
    let (n, addr) = common::devices_node(kek, true, extra);
    (n, addr.port())
}

/// The node client folder, or `None` (skipped) without node/npm or openssl outside CI.
fn tools() -> Option<PathBuf> {
    lwm2m_node_client(&["openssl"])
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Registers an OpenSSL Ed25519 key for `acme` and uploads `image` at `version`: the image id.
async fn upload(api: &str, token: &str, dir: &Path, image: &[u8], version: &str) -> String {
    if !dir.join("k.key").exists() {
        let (s, b) = http("POST", &format!("{api}/tenants"), token, Some(json!({"name": "acme"}))).await;
        assert!(s == 201 || s == 409, "{b}");
        openssl(dir, &["genpkey", "-algorithm", "ed25519", "-out", "k.key"]);
        let public = String::from_utf8(openssl(dir, &["pkey", "-in", "k.key", "-pubout"])).unwrap();
        let body = json!({"public_key": public, "label": "release", "tenant": "acme"});
        let (s, b) = http("POST", &format!("{api}/firmware/keys"), token, Some(body)).await;
        assert_eq!(s, 201, "{b}");
    }
    let manifest = format!(
        r#"{{"format": 1, "model": "{MODEL}", "version": "{version}", "size": {}, "sha256": "{}"}}"#,
        image.len(),
        hex::encode(Sha256::digest(image))
    );
    std::fs::write(dir.join("m.json"), &manifest).unwrap();
    let sig = openssl(dir, &["pkeyutl", "-sign", "-rawin", "-inkey", "k.key", "-in", "m.json"]);
    let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
    let body = json!({"manifest": b(manifest.as_bytes()), "signature": b(&sig), "image": b(image), "tenant": "acme"});
    let (s, r) = http("POST", &format!("{api}/firmware"), token, Some(body)).await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_str().unwrap().to_string()
}

/// A device: the node process and its JSON lines.
struct Device {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Device {
    fn start(dir: &Path, port: u16, endpoint: &str, version: &str, mode: &str, new_version: &str) -> Device {
        let mut child = Command::new("node")
            .current_dir(dir)
            .args(["fw_client.cjs", "127.0.0.1", &port.to_string(), endpoint, MODEL, version, mode, new_version, "256"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node device");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let mut d = Device { child, lines, seen: Vec::new() };
        d.expect("registered");
        d
    }

    /// Everything said so far.
    fn drain(&mut self) -> &[Value] {
        while let Ok(v) = self.lines.try_recv() {
            assert_ne!(v["event"], "error", "device error: {v}");
            self.seen.push(v);
        }
        &self.seen
    }

    fn expect(&mut self, event: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self.drain().iter().find(|v| v["event"] == event) {
                return v.clone();
            }
            assert!(std::time::Instant::now() < deadline, "device never said {event}: {:?}", self.seen);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn said(&mut self, event: &str, path: &str) -> bool {
        self.drain().iter().any(|v| v["event"] == event && v["path"] == path)
    }
}

async fn until(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn device_state<'a>(detail: &'a Value, endpoint: &str) -> &'a Value {
    detail["devices"].as_array().unwrap().iter().find(|d| d["endpoint"] == endpoint).unwrap()
}

/// Waits until every device of `devices` was profiled (its model read), so it is the tenant's.
async fn profiled(api: &str, token: &str, devices: &[&str]) {
    for ep in devices {
        until("the device's profile", 20, async || {
            let (s, d) = http("GET", &format!("{api}/devices/{ep}"), token, None).await;
            (s == 200 && d["profile"]["model"] == MODEL && d["profile"]["tenant"] == "acme").then_some(d)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lwm2m_node_lib_devices_update_fail_when_cut_off_and_refuse_downgrades() {
    let Some(dir) = tools() else { return };
    let (n, port) = devices_node("81");
    let imsis = ["001010000000811", "001010000000812", "001010000000813"];
    let rows: Vec<(&str, &str, &str)> = imsis.iter().map(|i| (*i, "meter", "acme")).collect();
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&rows));
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    let keys = tempfile::tempdir().unwrap();
    let image: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let image_id = upload(&api, &token, keys.path(), &image, "1.1.0").await;

    let [ok, cut, newer] = imsis.map(|i| format!("urn:imsi:{i}"));
    let mut d_ok = Device::start(&dir, port, &ok, "1.0.7", "full", "1.1.0");
    let mut d_cut = Device::start(&dir, port, &cut, "1.0.7", "half", "1.1.0");
    let mut d_newer = Device::start(&dir, port, &newer, "2.0.0", "full", "2.0.1");
    profiled(&api, &token, &[&ok, &cut, &newer]).await;

    let body = json!({"name": "spring", "image_id": image_id, "endpoints": [ok, cut, newer], "tenant": "acme",
        "canary_percent": 0, "failure_threshold": 1.0});
    let (s, c) = http("POST", &format!("{api}/campaigns"), &token, Some(body)).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!((c["status"].as_str(), c["progress"]["pending"].as_i64()), (Some("running"), Some(3)), "{c}");
    let url = format!("{api}/campaigns/{}", c["id"].as_str().unwrap());
    let done = until("every device finished", 60, async || {
        let (_, d) = http("GET", &url, &token, None).await;
        (d["campaign"]["status"] == "finished").then_some(d)
    })
    .await;
    let p = &done["campaign"]["progress"];
    assert_eq!((p["succeeded"].as_i64(), p["failed"].as_i64(), p["skipped"].as_i64()), (Some(1), Some(1), Some(1)));

    // The updated device got every byte and came back with the manifest's version.
    let got = d_ok.expect("downloaded");
    assert_eq!(
        (got["bytes"].as_u64(), got["sha256"].as_str()),
        (Some(5000), Some(hex::encode(Sha256::digest(&image)).as_str()))
    );
    assert!(d_ok.said("execute", "/5/0/2"));
    let s_ok = device_state(&done, &ok);
    assert_eq!((s_ok["state"].as_str(), s_ok["version_before"].as_str()), (Some("succeeded"), Some("1.0.7")), "{s_ok}");
    let (_, dev) = http("GET", &format!("{api}/devices/{ok}"), &token, None).await;
    assert_eq!(dev["profile"]["firmware"], "1.1.0", "{dev}");

    // The cut-off device never had Update executed.
    let half = d_cut.expect("downloaded");
    assert!(half["bytes"].as_u64().unwrap() < 5000, "{half}");
    let s_cut = device_state(&done, &cut);
    assert_eq!(s_cut["state"], "failed", "{s_cut}");
    assert!(s_cut["reason"].as_str().unwrap().contains("cut off"), "{s_cut}");
    assert!(!d_cut.said("execute", "/5/0/2"), "Update executed on a cut-off device");

    // The newer device was never offered the older image.
    let s_newer = device_state(&done, &newer);
    assert_eq!(s_newer["state"], "skipped", "{s_newer}");
    assert!(s_newer["reason"].as_str().unwrap().contains("downgrade"), "{s_newer}");
    assert!(!d_newer.said("write", "/5/0/1"), "a downgrade was offered");

    // The feed has the outcomes.
    let (_, events) = http("GET", &format!("{api}/events?limit=200"), &token, None).await;
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in
        ["firmware.campaign_started", "device.firmware_updated", "device.firmware_failed", "firmware.campaign_finished"]
    {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_canary_pauses_the_campaign_before_the_others_are_offered() {
    let Some(dir) = tools() else { return };
    let (n, port) = devices_node("82");
    let imsis = ["001010000000821", "001010000000822"];
    let rows: Vec<(&str, &str, &str)> = imsis.iter().map(|i| (*i, "meter", "acme")).collect();
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&rows));
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    let keys = tempfile::tempdir().unwrap();
    let image = vec![0x5a; 700];
    let image_id = upload(&api, &token, keys.path(), &image, "3.0").await;
    let [first, second] = imsis.map(|i| format!("urn:imsi:{i}"));
    let _d1 = Device::start(&dir, port, &first, "2.9", "fail8", "3.0");
    let mut d2 = Device::start(&dir, port, &second, "2.9", "full", "3.0");
    profiled(&api, &token, &[&first, &second]).await;

    let body = json!({"name": "risky", "image_id": image_id, "endpoints": [first, second], "tenant": "acme",
        "canary_percent": 50, "failure_threshold": 0.0});
    let (s, c) = http("POST", &format!("{api}/campaigns"), &token, Some(body)).await;
    assert_eq!(s, 201, "{c}");
    let url = format!("{api}/campaigns/{}", c["id"].as_str().unwrap());
    let paused = until("the campaign to pause", 60, async || {
        let (_, d) = http("GET", &url, &token, None).await;
        (d["campaign"]["status"] == "paused").then_some(d)
    })
    .await;
    assert!(paused["campaign"]["status_reason"].as_str().unwrap().contains("failure ratio 1/1"), "{paused}");
    let s1 = device_state(&paused, &first);
    assert_eq!(s1["state"], "failed");
    assert!(s1["reason"].as_str().unwrap().contains("Update Result 8"), "{s1}");
    assert_eq!(device_state(&paused, &second)["state"], "pending");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!d2.said("write", "/5/0/1"), "offered while paused");
}
