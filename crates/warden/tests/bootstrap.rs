//! The LwM2M bootstrap server of `warden serve` (`[devices] bootstrap_listen`) against a device
//! nobody on the project wrote the CoAP or DTLS of: PyPI aiocoap with its tinydtls transport (PyPI
//! DTLSSocket), driven by tests/lwm2m_bootstrap/device.py. The device bootstraps over DTLS-PSK with
//! the credential stored by `warden devices bootstrap add`, receives the Delete/Write/Finish
//! sequence with a fresh PSK in the Security object, and registers over the CoAPs listener with that
//! PSK; the PSK is the device's stored CoAPs credential afterwards, and `device.bootstrapped` is in
//! the feed with the SIM's tenant. A wrong bootstrap identity or key fails the handshake, another
//! endpoint name gets 4.03, a device refusing the Security write fails the bootstrap: nothing is
//! stored in any of these cases. Without aiocoap/DTLSSocket the test prints `SKIPPED: …`, unless CI
//! is set.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{http, node, sims_csv, warden};
use serde_json::Value;

const IMSI: &str = "001010000000001";
const BS_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn python_device() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiocoap, DTLSSocket"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "PyPI aiocoap and DTLSSocket are required under CI");
        println!("SKIPPED: python3 with aiocoap and DTLSSocket not found (pip install aiocoap DTLSSocket)");
    }
    ok
}

/// Runs the device script; its JSON report.
async fn device(bootstrap: SocketAddr, endpoint: &str, identity: &str, key: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--identity", identity, "--key", key];
    args.extend_from_slice(extra);
    device_with(bootstrap, endpoint, &args).await
}

async fn device_with(bootstrap: SocketAddr, endpoint: &str, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lwm2m_bootstrap/device.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).args(["--bootstrap", &bootstrap.to_string(), "--endpoint", endpoint, "--timeout", "15"]).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run python3")).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let last = text.lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn server_psks(d: &std::path::Path) -> Vec<Value> {
    serde_json::from_str::<Value>(&ok(&warden(d, &["devices", "psk", "list"]))).unwrap().as_array().unwrap().clone()
}

async fn events(api: &str, token: &str, kind: &str) -> Vec<Value> {
    let (_, e) = http("GET", &format!("{api}/events?kind={kind}&limit=100"), token, None).await;
    e["items"].as_array().cloned().unwrap_or_default()
}

async fn wait_events(api: &str, token: &str, kind: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let e = events(api, token, kind).await;
        if e.len() >= n {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} {kind} events: {:?}", events(api, token, kind).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_bootstraps_over_dtls_psk_and_registers_with_the_provisioned_psk() {
    if !python_device() {
        return;
    }
    let (coap, coaps, bs) = (free_udp(), free_udp(), free_udp());
    let extra = format!(
        "[devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\nbootstrap_listen = \"{bs}\"\n\
         bootstrap_lifetime = 120\nread_device_objects = false\n"
    );
    let n = node("31", &[], "", &extra);
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&[(IMSI, "meter", "acme")]));
    let d = n.dir.path().to_path_buf();
    let endpoint = format!("urn:imsi:{IMSI}");
    // The CLI: precise errors, exit 2, then the credential stored (never printed).
    let bad = warden(&d, &["devices", "bootstrap", "add", &endpoint, "--identity", "bs-1", "--key", "00zz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--key"), "{:?}", bad);
    let added = ok(&warden(
        &d,
        &["devices", "bootstrap", "add", &endpoint, "--identity", "bs-1", "--key", BS_KEY, "--imsi", IMSI],
    ));
    assert!(added.contains("bootstrap PSK") && added.contains("tenant acme") && !added.contains(BS_KEY), "{added}");
    ok(&warden(&d, &["devices", "bootstrap", "add", "other-ep", "--identity", "bs-2", "--key", BS_KEY]));
    let list: Value = serde_json::from_str(&ok(&warden(&d, &["devices", "bootstrap", "list"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(BS_KEY));
    assert!(server_psks(&d).is_empty());
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;

    // A wrong key and an unknown identity: the handshake fails, nothing is stored.
    let r = device(bs, &endpoint, "bs-1", "00112233445566778899aabbccddeeff", &["--no-register"]).await;
    assert!(r["bootstrap_request"].as_str().unwrap().starts_with("error"), "wrong key: {r}");
    let r = device(bs, &endpoint, "bs-unknown", BS_KEY, &["--no-register"]).await;
    assert!(r["bootstrap_request"].as_str().unwrap().starts_with("error"), "unknown identity: {r}");
    // The other endpoint's credential asking for this endpoint: 4.03.
    let r = device(bs, &endpoint, "bs-2", BS_KEY, &["--no-register"]).await;
    assert_eq!(r["bootstrap_request"], "4.03 Forbidden", "{r}");
    // The device refuses the Security write: the bootstrap fails.
    let r = device(bs, &endpoint, "bs-1", BS_KEY, &["--refuse-write"]).await;
    assert_eq!(r["bootstrap_request"], "2.04 Changed", "{r}");
    assert_eq!(r["finished"], false, "{r}");
    let failed = wait_events(&api, &token, "device.bootstrap_failed", 2).await;
    let detail = |e: &Value| serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap();
    let steps: Vec<String> = failed.iter().map(|e| detail(e)["step"].as_str().unwrap().to_string()).collect();
    assert!(steps.contains(&"request".to_string()) && steps.contains(&"write /0/1".to_string()), "{failed:?}");
    assert!(server_psks(&d).is_empty(), "nothing stored after refusals and a failed bootstrap");

    // The whole bootstrap, then a registration over CoAPs with what it provisioned.
    let r = device(bs, &endpoint, "bs-1", BS_KEY, &[]).await;
    assert_eq!(r["bootstrap_request"], "2.04 Changed", "{r}");
    assert_eq!(r["finished"], true, "{r}");
    assert_eq!(r["ops"], serde_json::json!(["DELETE /0", "DELETE /1", "PUT /0/1", "PUT /1/0", "POST /bs"]), "{r}");
    let sec = &r["security"];
    assert_eq!(sec["uri"], format!("coaps://{coaps}"), "{r}");
    assert_eq!((sec["mode"].as_i64(), sec["bootstrap_server"].as_bool()), (Some(0), Some(false)), "{r}");
    assert_eq!(sec["short_server_id"], r["server"]["short_server_id"]);
    let key = sec["key_hex"].as_str().unwrap();
    assert_eq!(key.len(), 32, "a 16-byte key: {r}");
    assert_ne!(key, BS_KEY);
    let identity = String::from_utf8(hex::decode(sec["identity_hex"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!((r["server"]["lifetime"].as_i64(), r["server"]["binding"].as_str()), (Some(120), Some("U")));
    assert_eq!(r["register"], "2.01 Created", "the provisioned PSK registers over CoAPs: {r}");
    let stored = server_psks(&d);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!((stored[0]["endpoint"].as_str(), stored[0]["identity"].as_str()), (Some(&*endpoint), Some(&*identity)));
    assert_eq!(stored[0]["tenant"], "acme");
    let (s, dev) = http("GET", &format!("{api}/devices/{endpoint}"), &token, None).await;
    assert_eq!((s, dev["unsecured"].as_bool()), (200, Some(false)), "{dev}");
    let done = wait_events(&api, &token, "device.bootstrapped", 1).await;
    assert_eq!(done[0]["imsi"], IMSI, "{done:?}");
    assert_eq!(done[0]["tenant"], "acme", "{done:?}");
    let text = serde_json::to_string(&done).unwrap();
    assert!(!text.contains(key) && !text.contains(BS_KEY), "no key in events");
    let audit = http("GET", &format!("{api}/audit?limit=100"), &token, None).await.1.to_string();
    assert!(audit.contains("devices.bootstrap.provision") && !audit.contains(key), "audited without the key");

    // Bootstrapping again replaces the credential with another fresh one.
    let again = device(bs, &endpoint, "bs-1", BS_KEY, &[]).await;
    assert_eq!(again["register"], "2.01 Created", "{again}");
    assert_ne!(again["security"]["key_hex"], sec["key_hex"]);
    let stored = server_psks(&d);
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0]["identity"].as_str(), Some(&*identity), "replaced");

    // Removing a bootstrap credential: audited; a second removal says there is none.
    ok(&warden(&d, &["devices", "bootstrap", "remove", "other-ep"]));
    let again = warden(&d, &["devices", "bootstrap", "remove", "other-ep"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no bootstrap PSK for endpoint other-ep"), "{again:?}");
    let log = ok(&warden(&d, &["audit-log", "show", "--limit", "50"]));
    assert!(log.contains("devices.bootstrap.add") && log.contains("devices.bootstrap.remove"), "{log}");
    assert!(!log.contains(BS_KEY));
}

/// A lab's plain-CoAP bootstrap (`allow_unsecured` and `bootstrap_coap_listen`): the device gets a
/// NoSec account (mode 3, `coap://` and the plain listener, no identity, no key), registers over plain
/// CoAP with it, and nothing is stored; a plain-CoAP registration of the same name elsewhere is
/// unaffected by the DTLS bootstrap listener next to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_bootstrap_over_plain_coap_provisions_nosec_only() {
    if !python_device() {
        return;
    }
    let (coap, coaps, bs, bs_plain) = (free_udp(), free_udp(), free_udp(), free_udp());
    let extra = format!(
        "[devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\nbootstrap_listen = \"{bs}\"\n\
         bootstrap_coap_listen = \"{bs_plain}\"\nallow_unsecured = true\nread_device_objects = false\n"
    );
    let n = node("32", &[], "", &extra);
    let d = n.dir.path().to_path_buf();
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    let r = device_with(bs_plain, "lab-7", &["--plain"]).await;
    assert_eq!(r["bootstrap_request"], "2.04 Changed", "{r}");
    assert_eq!(r["finished"], true, "{r}");
    let sec = &r["security"];
    assert_eq!(sec["uri"], format!("coap://{coap}"), "{r}");
    assert_eq!(
        (sec["mode"].as_i64(), sec["key_hex"].as_str(), sec["identity_hex"].as_str()),
        (Some(3), Some(""), Some(""))
    );
    assert_eq!(r["register"], "2.01 Created", "{r}");
    assert!(server_psks(&d).is_empty(), "a NoSec account stores nothing");
    let done = wait_events(&api, &token, "device.bootstrapped", 1).await;
    assert!(done[0]["detail"].as_str().unwrap().contains("nosec"), "{done:?}");
    let (s, dev) = http("GET", &format!("{api}/devices/lab-7"), &token, None).await;
    assert_eq!((s, dev["unsecured"].as_bool()), (200, Some(true)), "{dev}");
}
