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

use common::lwm2m_node::spawn_json_lines;
use common::{found, http, lwm2m_node_client, sims_csv, Node, Server};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const MODEL: &str = "fw-meter";

/// A running `warden serve` with `[devices]` whose tenant `acme` has the SIMs `imsis`.
struct Lab {
    // Dropped first: the server stops before its folder goes.
    _server: Server,
    _node: Node,
    /// The LwM2M server's plain-CoAP port.
    port: u16,
    /// The API's base URL and an operator token.
    api: String,
    token: String,
}

async fn lab(kek: &str, imsis: &[&str]) -> Lab {
    let extra = "firmware_download_stall_secs = 4\nfirmware_update_timeout_secs = 60\n";
    let (n, addr) = common::devices_node(kek, true, extra);
    let rows: Vec<(&str, &str, &str)> = imsis.iter().map(|i| (*i, "meter", "acme")).collect();
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&rows));
    let (token, api) = (n.admin_token(), n.api());
    Lab { _server: n.start().await, _node: n, port: addr.port(), api, token }
}

/// The node client folder, or `None` (skipped) without node/npm or openssl outside CI.
fn tools() -> Option<PathBuf> {
    lwm2m_node_client(&["openssl"])
}

/// Whether python3 with PyPI aiocoap and openssl are here (`false`: skipped; under CI, a failure).
fn python_tools() -> bool {
    let aiocoap = Command::new("python3").args(["-c", "import aiocoap"]).output().is_ok_and(|o| o.status.success());
    let openssl = found("openssl").is_some();
    if !aiocoap || !openssl {
        assert!(std::env::var_os("CI").is_none(), "python3 with aiocoap and openssl are required under CI (.ci/run)");
        eprintln!("skipped: python3 with aiocoap (pip install aiocoap) or openssl not installed");
    }
    aiocoap && openssl
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
        let mut node = Command::new("node");
        node.current_dir(dir).args([
            "fw_client.cjs",
            "127.0.0.1",
            &port.to_string(),
            endpoint,
            MODEL,
            version,
            mode,
            new_version,
            "256",
        ]);
        Device::spawn(node)
    }

    /// The aiocoap device (tests/lwm2m_push/device.py) with `args` after the common ones.
    fn python(port: u16, endpoint: &str, save: &Path, args: &[&str]) -> Device {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lwm2m_push/device.py");
        let mut py = Command::new("python3");
        py.arg(script)
            .args(["--server", &format!("127.0.0.1:{port}"), "--endpoint", endpoint, "--model", MODEL])
            .args(["--version", "1.0.7", "--new-version", "1.1.0", "--save"])
            .arg(save)
            .args(args);
        Device::spawn(py)
    }

    fn spawn(mut command: Command) -> Device {
        let (child, lines) = spawn_json_lines(&mut command, Stdio::null());
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
    let imsis = ["001010000000811", "001010000000812", "001010000000813"];
    let lab = lab("81", &imsis).await;
    let (api, token, port) = (lab.api.clone(), lab.token.clone(), lab.port);
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
    let imsis = ["001010000000821", "001010000000822"];
    let lab = lab("82", &imsis).await;
    let (api, token, port) = (lab.api.clone(), lab.token.clone(), lab.port);
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

/// Push delivery (Block1 writes of Package 5/0/0) to devices made with PyPI aiocoap, whose own
/// Block1 reassembly takes the image:
///
/// - a push campaign: a device supporting both deliveries (5/0/9 = 2) receives the image pushed, in
///   blocks of 1024 bytes, byte-identical (the file it saved is the image), then updates →
///   `succeeded`; a pull-only device (5/0/9 = 0) in the same campaign is served by pull instead
///   (Package URI written, the image fetched with Block2, nothing written to 5/0/0) → `succeeded`;
/// - a pull campaign (the default): a push-only device (5/0/9 = 1) gets the image pushed;
/// - a push campaign whose canary stops answering after 3 blocks: the transfer is cut off
///   (`failed`, "cut off"), Update is never executed, and with a failure threshold of 0 the campaign
///   pauses before the other device is offered anything;
/// - `delivery` other than pull or push is refused with 422.
#[tokio::test(flavor = "multi_thread")]
async fn aiocoap_devices_get_pushed_images_and_a_cut_off_push_fails_the_device() {
    if !python_tools() {
        return;
    }
    let imsis = ["001010000000831", "001010000000832", "001010000000833", "001010000000834", "001010000000835"];
    let lab = lab("83", &imsis).await;
    let (api, token, port) = (lab.api.clone(), lab.token.clone(), lab.port);
    let keys = tempfile::tempdir().unwrap();
    let image: Vec<u8> = (0..9000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let image_id = upload(&api, &token, keys.path(), &image, "1.1.0").await;

    let [both, pull_only, push_only, cut, spare] = imsis.map(|i| format!("urn:imsi:{i}"));
    let files = tempfile::tempdir().unwrap();
    let file = |ep: &str| files.path().join(ep.replace(':', "_"));
    let mut d_both = Device::python(port, &both, &file(&both), &["--delivery", "2"]);
    let mut d_pull = Device::python(port, &pull_only, &file(&pull_only), &["--delivery", "0"]);
    let mut d_push = Device::python(port, &push_only, &file(&push_only), &["--delivery", "1"]);
    let mut d_cut = Device::python(port, &cut, &file(&cut), &["--delivery", "2", "--cut-after", "3"]);
    let mut d_spare = Device::python(port, &spare, &file(&spare), &["--delivery", "2"]);
    for d in [&mut d_both, &mut d_pull, &mut d_push, &mut d_cut, &mut d_spare] {
        d.expect("registered");
    }
    profiled(&api, &token, &[&both, &pull_only, &push_only, &cut, &spare]).await;

    let create = async |name: &str, endpoints: &[&str], extra: Value| {
        let mut body = json!({"name": name, "image_id": image_id, "endpoints": endpoints, "tenant": "acme"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        http("POST", &format!("{api}/campaigns"), &token, Some(body)).await
    };
    let (s, bad) = create("pigeon", &[&both], json!({"delivery": "carrier-pigeon"})).await;
    assert_eq!(s, 422, "{bad}");
    let (s, a) = create(
        "push",
        &[&both, &pull_only],
        json!({"delivery": "push", "canary_percent": 0, "failure_threshold": 1.0}),
    )
    .await;
    assert_eq!((s, a["delivery"].as_str()), (201, Some("push")), "{a}");
    let (s, b) = create("pull", &[&push_only], json!({"canary_percent": 0})).await;
    assert_eq!((s, b["delivery"].as_str()), (201, Some("pull")), "{b}");
    let (s, c) =
        create("cut", &[&cut, &spare], json!({"delivery": "push", "canary_percent": 50, "failure_threshold": 0.0}))
            .await;
    assert_eq!(s, 201, "{c}");
    let url = |v: &Value| format!("{api}/campaigns/{}", v["id"].as_str().unwrap());
    let ended = async |v: &Value, status: &str| {
        let url = url(v);
        until(status, 90, async || {
            let (_, d) = http("GET", &url, &token, None).await;
            (d["campaign"]["status"] == status).then_some(d)
        })
        .await
    };
    let done_a = ended(&a, "finished").await;
    let done_b = ended(&b, "finished").await;
    let paused = ended(&c, "paused").await;

    // Pushed: every block was a Block1 write of 1024 bytes, the saved package is the image.
    let pkg = d_both.expect("package");
    assert_eq!(pkg["bytes"].as_u64(), Some(9000), "{pkg}");
    assert!(std::fs::read(file(&both)).unwrap() == image, "the pushed package differs from the image");
    let blocks: Vec<Value> = d_both.drain().iter().filter(|v| v["event"] == "block").cloned().collect();
    assert_eq!(blocks.len(), 9, "{blocks:?}");
    assert!(blocks.iter().all(|b| b["size"] == 1024), "{blocks:?}");
    assert!(!d_both.drain().iter().any(|v| v["event"] == "uri"), "a push device was also given a Package URI");
    assert!(d_both.drain().iter().any(|v| v["event"] == "execute"));
    assert_eq!(device_state(&done_a, &both)["state"], "succeeded", "{done_a}");
    // The pull-only device in the push campaign pulled.
    let pulled = d_pull.expect("pulled");
    assert_eq!(pulled["bytes"].as_u64(), Some(9000), "{pulled}");
    assert!(std::fs::read(file(&pull_only)).unwrap() == image, "the pulled package differs from the image");
    assert!(!d_pull.drain().iter().any(|v| v["event"] == "refused"), "{:?}", d_pull.seen);
    assert_eq!(device_state(&done_a, &pull_only)["state"], "succeeded", "{done_a}");
    // The push-only device in the pull campaign was pushed to.
    d_push.expect("package");
    assert!(std::fs::read(file(&push_only)).unwrap() == image, "the package pushed to the push-only device differs");
    assert!(!d_push.drain().iter().any(|v| v["event"] == "refused"), "{:?}", d_push.seen);
    assert_eq!(device_state(&done_b, &push_only)["state"], "succeeded", "{done_b}");
    let (_, dev) = http("GET", &format!("{api}/devices/{both}"), &token, None).await;
    assert_eq!(dev["profile"]["firmware"], "1.1.0", "{dev}");

    // Cut off after 3 blocks: failed, never updated, the campaign paused before the spare device.
    let said = d_cut.expect("cut");
    assert_eq!(said["blocks"].as_u64(), Some(3), "{said}");
    let s_cut = device_state(&paused, &cut);
    assert_eq!(s_cut["state"], "failed", "{s_cut}");
    assert!(s_cut["reason"].as_str().unwrap().contains("cut off"), "{s_cut}");
    assert!(!d_cut.drain().iter().any(|v| v["event"] == "execute" || v["event"] == "package"), "{:?}", d_cut.seen);
    assert!(paused["campaign"]["status_reason"].as_str().unwrap().contains("failure ratio 1/1"), "{paused}");
    assert_eq!(device_state(&paused, &spare)["state"], "pending", "{paused}");
    assert!(!d_spare.drain().iter().any(|v| v["event"] == "block"), "offered while paused");

    // The offers name their delivery.
    let (_, events) = http("GET", &format!("{api}/events?limit=300"), &token, None).await;
    let offered: Vec<(String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "device.firmware_offered")
        .filter_map(|e| {
            let d: Value = match &e["detail"] {
                Value::String(s) => serde_json::from_str(s).ok()?,
                v => v.clone(),
            };
            Some((d["endpoint"].as_str()?.to_string(), d["delivery"].as_str()?.to_string()))
        })
        .collect();
    for (ep, how) in [(&both, "push"), (&pull_only, "pull"), (&push_only, "push"), (&cut, "push")] {
        assert!(offered.contains(&(ep.clone(), how.to_string())), "{ep} {how} not in {offered:?}");
    }
}
