//! The LwM2M server of `warden serve` (`[devices]`) with clients nobody on the project wrote:
//!
//! - Telefonica's `lwm2m-node-lib` (npm, pinned in tests/lwm2m_client/package-lock.json, installed
//!   with `npm ci`) registers as `urn:imei-imsi:…` and is linked to its SIM and tenant; the server
//!   reads its objects 3 and 4; read, write, observe (with a notification after a change) and execute
//!   go through the API; update and de-registration land; the registration and de-registration are in
//!   the event feed with the SIM; an IMEI that differs from the HSS's last Update-Location raises
//!   `device.imei_mismatch`; another tenant sees nothing.
//! - Debian's `coap-client` (libcoap3-bin) registers with and without block-wise transfer and sends
//!   an unknown critical option (4.02); raw datagrams send a token of length 9 (Reset), blocks out of
//!   order (4.08) and an oversized body (4.13). None of the bad input registers anything.
//! - With `allow_unsecured` off (the default), a plain-CoAP registration is refused with 4.03.
//!
//! Skipped with a printed reason when node/npm or coap-client is missing, except under CI.

mod common;

use common::lwm2m_node::{node_client, Client};
use common::{found, http, sims_csv, Node};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use coap::block::Block;
use coap::{Code, Message, MessageType, OptionNumber};
use serde_json::{json, Value};

const IMSI: &str = "001010000000001";
const IMEI: &str = "490154203237518";

fn devices_node(kek: &str, allow_unsecured: bool) -> (Node, SocketAddr) {
    common::devices_node(kek, allow_unsecured, "")
}

/// `coap-client` of libcoap3-bin (Debian installs it as `coap-client-notls` and friends).
fn coap_client() -> Option<PathBuf> {
    let p =
        ["coap-client", "coap-client-notls", "coap-client-openssl", "coap-client-gnutls"].iter().find_map(|p| found(p));
    if p.is_none() {
        assert!(std::env::var_os("CI").is_none(), "coap-client is required under CI (apt-get install libcoap3-bin)");
        eprintln!("skipped: coap-client not installed (apt-get install libcoap3-bin)");
    }
    p
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> Option<Value>) -> Value {
    for _ in 0..300 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Records an Update-Location of the SIM with `imei`, as the HSS does on a ULR.
async fn ulr_seen(n: &Node, imei: &str) {
    let url = format!("sqlite://{}/data/warden.db", n.dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO registrations (imsi, origin_host, origin_realm, plmn, imei, at) VALUES ($1, 'mme1', 'home.example', '00101', $2, 1)")
        .bind(IMSI)
        .bind(imei)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lwm2m_node_lib_registers_is_managed_through_the_api_and_deregisters() {
    let Some(dir) = node_client() else { return };
    let (n, coap) = devices_node("71", true);
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&[(IMSI, "meter", "acme")]));
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    // The HSS saw another IMEI for this SIM than the device will report.
    ulr_seen(&n, "35209900176148").await;
    assert_eq!(http("POST", &format!("{api}/tenants"), &token, Some(json!({"name": "other"}))).await.0, 201);
    let other = http(
        "POST",
        &format!("{api}/tokens"),
        &token,
        Some(json!({"name": "o", "role": "tenant_admin", "tenant": "other"})),
    )
    .await
    .1["secret"]
        .as_str()
        .unwrap()
        .to_string();

    let endpoint = format!("urn:imei-imsi:{IMEI}-{IMSI}");
    let mut client = Client::start(&dir, coap, &endpoint, IMEI);
    let reg = client.expect("registered");
    assert!(reg["location"].as_str().unwrap().starts_with("rd/"), "{reg}");
    let dev_url = format!("{api}/devices/{endpoint}");
    let dev = until("the device's objects", async || {
        let (s, d) = http("GET", &dev_url, &token, None).await;
        (s == 200 && d["profile"]["signal"].is_i64()).then_some(d)
    })
    .await;
    assert_eq!(dev["unsecured"], true, "{dev}");
    assert_eq!(dev["profile"]["imsi"], IMSI);
    assert_eq!(dev["profile"]["tenant"], "acme");
    assert_eq!(dev["profile"]["manufacturer"], "Warden Test Devices");
    assert_eq!(dev["profile"]["model"], "node-lwm2m-1");
    assert_eq!(dev["profile"]["firmware"], "1.0.7");
    assert_eq!((dev["profile"]["battery"].as_i64(), dev["profile"]["signal"].as_i64()), (Some(87), Some(-71)));
    assert_eq!(dev["lifetime"], 300);
    let objects: Vec<&str> = dev["objects"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(objects, ["/1/0", "/3/0", "/4/0"]);
    assert_eq!(http("GET", &dev_url, &other, None).await.0, 404, "another tenant's device");
    assert_eq!(http("GET", &format!("{api}/devices"), &other, None).await.1["items"], json!([]));

    // Events: registered with the SIM, and the IMEI the HSS saw is another one.
    let ev = until("device events", async || {
        let (_, e) = http("GET", &format!("{api}/events?imsi={IMSI}"), &token, None).await;
        let kinds: Vec<String> =
            e["items"].as_array()?.iter().filter_map(|x| x["kind"].as_str().map(String::from)).collect();
        (kinds.contains(&"device.registered".to_string()) && kinds.contains(&"device.imei_mismatch".to_string()))
            .then_some(e)
    })
    .await;
    let mismatch = ev["items"].as_array().unwrap().iter().find(|x| x["kind"] == "device.imei_mismatch").unwrap();
    assert_eq!(mismatch["tenant"], "acme", "{mismatch}");
    assert!(mismatch["detail"].as_str().unwrap().contains("35209900176148"), "{mismatch}");

    // The SIM's device from the stored snapshot: what objects 3/4 said, and the mismatch.
    let sim_devices = format!("{api}/sims/{IMSI}/devices");
    let snap = until("the snapshot's IMEI check", async || {
        let (_, d) = http("GET", &sim_devices, &token, None).await;
        let d = d["items"][0].clone();
        d["imei_mismatch"].is_string().then_some(d)
    })
    .await;
    assert_eq!((snap["endpoint"].as_str(), snap["tenant"].as_str()), (Some(endpoint.as_str()), Some("acme")), "{snap}");
    assert_eq!(
        (snap["model"].as_str(), snap["manufacturer"].as_str()),
        (Some("node-lwm2m-1"), Some("Warden Test Devices"))
    );
    assert_eq!((snap["firmware_version"].as_str(), snap["serial"].as_str()), (Some("1.0.7"), Some(IMEI)));
    assert_eq!((snap["battery"].as_i64(), snap["signal_dbm"].as_i64()), (Some(87), Some(-71)), "{snap}");
    assert_eq!((snap["reported_imei"].as_str(), snap["imei_mismatch"].as_str()), (Some(IMEI), Some("35209900176148")));
    assert_eq!((snap["registered"].as_bool(), snap["instance"].as_str()), (Some(true), Some("hss.home.example")));
    assert_eq!(http("GET", &sim_devices, &other, None).await.0, 404, "another tenant's SIM");

    // Read, write, execute through the API.
    let read = |p: &str| json!({"path": p});
    let (s, r) = http("POST", &format!("{dev_url}/read"), &token, Some(read("/3/0/0"))).await;
    assert_eq!((s, r["values"][0]["value"].as_str()), (200, Some("Warden Test Devices")), "{r}");
    let (s, r) = http("POST", &format!("{dev_url}/write"), &token, Some(json!({"path": "/1/0/1", "value": 600}))).await;
    assert_eq!((s, r["code"].as_str()), (200, Some("2.04")), "{r}");
    let w = client.expect("write");
    assert_eq!((w["path"].as_str(), w["value"].as_str()), (Some("/1/0/1"), Some("600")));
    let (s, r) = http("POST", &format!("{dev_url}/execute"), &token, Some(json!({"path": "/3/0/4"}))).await;
    assert_eq!((s, r["code"].as_str()), (200, Some("2.04")), "{r}");
    assert_eq!(client.expect("execute")["path"], "/3/0/4");
    let (s, r) = http("POST", &format!("{dev_url}/read"), &other, Some(read("/3/0/0"))).await;
    assert_eq!(s, 404, "another tenant cannot read it: {r}");

    // Observe the battery, change it on the device, see the notification.
    let (s, r) =
        http("POST", &format!("{dev_url}/read"), &token, Some(json!({"path": "/3/0/9", "mode": "observe"}))).await;
    assert_eq!((s, r["values"][0]["value"].as_i64()), (200, Some(87)), "{r}");
    client.send("set /3/0 9 42");
    client.expect("set");
    let obs = until("the notification", async || {
        let (_, d) = http("GET", &dev_url, &token, None).await;
        let o = d["observations"].as_array()?.first()?.clone();
        (o["values"][0]["value"].as_i64() == Some(42)).then_some(o)
    })
    .await;
    assert_eq!(obs["path"], "/3/0/9", "{obs}");
    // A refresh reads objects 3/4 again into the snapshot (the battery changed on the device).
    assert_eq!(http("POST", &format!("{dev_url}/refresh"), &other, None).await.0, 404, "another tenant's device");
    let (s, r) = http("POST", &format!("{dev_url}/refresh"), &token, None).await;
    assert_eq!((s, r["battery"].as_i64()), (200, Some(42)), "{r}");
    assert!(r["objects_read_at"].as_i64() >= snap["objects_read_at"].as_i64(), "{r}");
    assert_eq!(http("GET", &sim_devices, &token, None).await.1["items"][0]["battery"], 42);
    // The refresh found the same IMEI mismatch again: still one event.
    let (_, e) = http("GET", &format!("{api}/events?imsi={IMSI}&kind=device.imei_mismatch"), &token, None).await;
    assert_eq!(e["items"].as_array().map(Vec::len), Some(1), "one event per mismatch: {e}");

    // Update (lifetime is renewed), then de-register.
    let before = http("GET", &dev_url, &token, None).await.1["updated_at"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.send("update");
    client.expect("updated");
    let after = http("GET", &dev_url, &token, None).await.1["updated_at"].as_i64().unwrap();
    assert!(after > before, "updated_at {before} -> {after}");
    // That update came within a minute of the refresh's write: last_seen is not written again (coalesced).
    let snap = http("GET", &sim_devices, &token, None).await.1["items"][0].clone();
    assert_eq!(snap["last_seen"], snap["objects_read_at"], "{snap}");
    client.send("deregister");
    client.expect("deregistered");
    until("the device gone", async || (http("GET", &dev_url, &token, None).await.0 == 404).then_some(json!(null)))
        .await;
    until("the deregistration event", async || {
        let (_, e) = http("GET", &format!("{api}/events?imsi={IMSI}&kind=device.deregistered"), &token, None).await;
        (e["items"].as_array()?.len() == 1).then_some(e)
    })
    .await;
    let audit = http("GET", &format!("{api}/audit?limit=100"), &token, None).await.1;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"device.write") && actions.contains(&"device.execute"), "{audit}");
    assert!(actions.contains(&"device.refresh"), "{audit}");
    // De-registered: the snapshot stays with what was read, no longer registered; a refresh says so.
    let snap = until("the snapshot not registered", async || {
        let d = http("GET", &sim_devices, &token, None).await.1["items"][0].clone();
        (d["registered"] == false).then_some(d)
    })
    .await;
    assert_eq!((snap["model"].as_str(), snap["battery"].as_i64()), (Some("node-lwm2m-1"), Some(42)), "{snap}");
    let (s, p) = http("POST", &format!("{dev_url}/refresh"), &token, None).await;
    assert_eq!((s, p["type"].as_str()), (409, Some("urn:warden:problem:device-not-registered")), "{p}");
}

/// The snapshot outlives the process: a device registered when `warden serve` stops is shown after
/// the restart with what it reported, as no longer registered (registrations live in memory), and a
/// refresh then is a precise 409, not a timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_snapshot_survives_a_restart() {
    let Some(dir) = node_client() else { return };
    let (n, coap) = devices_node("73", true);
    n.import("[[profile]]\nname = \"meter\"\nservices = [\"data\"]\n", &sims_csv(&[(IMSI, "meter", "acme")]));
    let token = n.admin_token();
    let api = n.api();
    let server = n.start().await;
    let endpoint = format!("urn:imsi:{IMSI}");
    let client = Client::start(&dir, coap, &endpoint, "SN-0001");
    client.expect("registered");
    let sim_devices = format!("{api}/sims/{IMSI}/devices");
    until("the objects in the snapshot", async || {
        let d = http("GET", &sim_devices, &token, None).await.1["items"][0].clone();
        (d["signal_dbm"] == -71 && d["registered"] == true).then_some(d)
    })
    .await;
    drop(server);
    drop(client);
    let _server = n.start().await;
    let (s, d) = http("GET", &sim_devices, &token, None).await;
    let d = &d["items"][0];
    assert_eq!(
        (s, d["endpoint"].as_str(), d["registered"].as_bool()),
        (200, Some(endpoint.as_str()), Some(false)),
        "{d}"
    );
    assert_eq!(
        (d["model"].as_str(), d["battery"].as_i64(), d["signal_dbm"].as_i64()),
        (Some("node-lwm2m-1"), Some(87), Some(-71))
    );
    assert_eq!(d["imei_mismatch"], Value::Null, "a serial that is no IMEI is not compared: {d}");
    let (s, p) = http("POST", &format!("{api}/devices/{endpoint}/refresh"), &token, None).await;
    assert_eq!((s, p["type"].as_str()), (409, Some("urn:warden:problem:device-not-registered")), "{p}");
}

/// Runs coap-client; its stdout and stderr together.
fn coap(client: &PathBuf, args: &[&str]) -> String {
    let out = Command::new(client).args(args).output().expect("run coap-client");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Sends one datagram and returns the answer.
fn exchange(server: SocketAddr, datagram: &[u8]) -> Option<Message> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(datagram, server).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Message::decode(&buf[..n]).ok()
}

async fn device_count(api: &str, token: &str) -> usize {
    http("GET", &format!("{api}/devices"), token, None).await.1["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn coap_client_registers_and_bad_input_changes_nothing() {
    let Some(cc) = coap_client() else { return };
    let (n, server) = devices_node("72", true);
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    let uri = |q: &str| format!("coap://127.0.0.1:{}/rd?{q}", server.port());

    // An unknown critical option (2049): 4.02, nothing registered.
    let out = coap(&cc, &["-m", "post", "-O", "2049,x", "-e", "</3/0>", &uri("ep=raw-0&lt=60")]);
    assert!(out.contains("4.02"), "{out}");
    assert_eq!(device_count(&api, &token).await, 0);

    // A plain registration, and one whose link list goes in 16-byte blocks (Block1).
    let out = coap(&cc, &["-m", "post", "-e", "</1/0>,</3/0>", &uri("ep=raw-1&lt=60&lwm2m=1.1&b=U")]);
    assert!(!out.contains("4.") && !out.contains("5."), "{out}");
    let links = "</1/0>,</3/0>,</4/0>,</5/0>,</3303/0>,</3303/1>";
    let out = coap(&cc, &["-m", "post", "-b", "16", "-e", links, &uri("ep=raw-2&lt=60")]);
    assert!(!out.contains("4.") && !out.contains("5."), "{out}");
    let (s, d) = http("GET", &format!("{api}/devices/raw-2"), &token, None).await;
    assert_eq!((s, d["objects"].as_array().map(Vec::len)), (200, Some(6)), "{d}");
    assert_eq!(device_count(&api, &token).await, 2);

    // Token length 9 on a CON: a Reset with its message id.
    let mut m = Message::new(MessageType::Con, Code::POST, 0x4242, vec![0; 8]);
    m.set_uri_path("/rd");
    m.push_option(OptionNumber::URI_QUERY, *b"ep=raw-9");
    let mut bad = m.encode();
    bad[0] = (bad[0] & 0xf0) | 9;
    bad.insert(12, 0);
    let ans = exchange(server, &bad).expect("an answer");
    assert_eq!((ans.mtype, ans.message_id), (MessageType::Rst, 0x4242));
    // Blocks out of order: block 1 first.
    let mut b = m.clone();
    b.message_id = 1;
    b.push_option(OptionNumber::BLOCK1, Block { num: 1, more: true, szx: 0 }.encode());
    b.payload = vec![b','; 16];
    assert_eq!(exchange(server, &b.encode()).unwrap().code, Code::REQUEST_ENTITY_INCOMPLETE);
    // A body over the bound (16 KiB) in one datagram.
    let mut big = m.clone();
    big.message_id = 2;
    big.payload = vec![b','; 20_000];
    let ans = exchange(server, &big.encode()).unwrap();
    assert_eq!((ans.code, ans.uint(OptionNumber::SIZE1)), (Code::REQUEST_ENTITY_TOO_LARGE, Some(16 * 1024)));
    // A reserved option nibble.
    let ans = exchange(server, &[0x40, 0x02, 0x00, 0x03, 0xf1, 0x00]).unwrap();
    assert_eq!(ans.mtype, MessageType::Rst);
    assert_eq!(device_count(&api, &token).await, 2, "no bad input registered anything");

    // De-register raw-1 with coap-client's DELETE on its location.
    let (_, d) = http("GET", &format!("{api}/devices/raw-1"), &token, None).await;
    let loc = d["location"].as_str().unwrap().to_string();
    let out = coap(&cc, &["-m", "delete", &format!("coap://127.0.0.1:{}/rd/{loc}", server.port())]);
    assert!(!out.contains("4."), "{out}");
    assert_eq!(http("GET", &format!("{api}/devices/raw-1"), &token, None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_coap_registration_is_refused_without_the_lab_flag() {
    let Some(cc) = coap_client() else { return };
    let (n, server) = devices_node("73", false);
    let token = n.admin_token();
    let api = n.api();
    let _server = n.start().await;
    let out =
        coap(&cc, &["-m", "post", "-e", "</3/0>", &format!("coap://127.0.0.1:{}/rd?ep=lab-1&lt=60", server.port())]);
    assert!(out.contains("4.03"), "{out}");
    assert_eq!(device_count(&api, &token).await, 0);
}
