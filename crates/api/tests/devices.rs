//! `/devices` over an LwM2M server whose device is simulated in process (it answers each request the
//! server sends): a tenant sees and manages only the devices linked to its SIMs; read decodes the
//! device's TLV answer; writes and executes are audited and need the right role; a reboot (3/0/4)
//! by a person whose second factor is stale needs a step-up first and reaches the device only after
//! it; without an LwM2M server the API answers 503.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use coap::{Code, Message, MessageType, OptionNumber};
use common::{totp_code, Api};
use lwm2m::runtime::{Outbound, Service};
use lwm2m::server::ServerConfig;
use lwm2m::tlv;
use serde_json::json;

const STEP_UP: &str = "urn:warden:problem:step-up-required";
const DEVICE: &str = "urn:imei-imsi:490154203237518-001010000000001";

/// A device behind the server's outbound path: answers GET /3/0/9 with TLV 87, PUT and POST with
/// 2.04, and remembers every request (method and path).
struct Device {
    service: Mutex<Weak<Service>>,
    seen: Mutex<Vec<String>>,
}

impl Outbound for Device {
    fn send(&self, peer: SocketAddr, datagram: &[u8]) {
        let req = Message::decode(datagram).unwrap();
        let path = req.uri_path().unwrap();
        self.seen.lock().unwrap().push(format!("{} {path}", req.code));
        let mut ans = Message::new(MessageType::Ack, Code::CHANGED, req.message_id, req.token.clone());
        if req.code == Code::GET {
            ans.code = Code::CONTENT;
            ans.push_uint(OptionNumber::CONTENT_FORMAT, 11542);
            ans.payload =
                tlv::encode(&[tlv::Tlv { kind: tlv::Kind::Resource, id: 9, value: vec![87], children: vec![] }]);
        }
        let svc = self.service.lock().unwrap().upgrade().unwrap();
        let back = svc.handle_datagram(peer, None, &ans.encode());
        assert!(back.is_empty(), "the server answered an answer: {back:?}");
    }
}

async fn with_device(api: &Api) -> (Arc<Service>, Arc<Device>) {
    let (svc, _events) = Service::new(ServerConfig { allow_unsecured: true, ..ServerConfig::default() });
    let device = Arc::new(Device { service: Mutex::new(Arc::downgrade(&svc)), seen: Mutex::new(vec![]) });
    svc.set_plain_outbound(device.clone());
    let mut reg = Message::new(MessageType::Con, Code::POST, 1, vec![1]);
    reg.set_uri_path("/rd");
    reg.push_option(OptionNumber::URI_QUERY, format!("ep={DEVICE}").into_bytes());
    reg.payload = b"</1/0>,</3/0>".to_vec();
    let peer: SocketAddr = "127.0.0.1:45000".parse().unwrap();
    let ans = Message::decode(&svc.handle_datagram(peer, None, &reg.encode())[0].datagram).unwrap();
    assert_eq!(ans.code, Code::CREATED);
    // What `warden serve` does once it finds the SIM of the endpoint name.
    assert!(svc.set_profile(DEVICE, |p| {
        p.imsi = Some("001010000000001".into());
        p.tenant = Some("acme".into());
    }));
    api.state.set_devices(svc.clone());
    (svc, device)
}

#[tokio::test]
async fn tenants_see_and_manage_only_their_devices() {
    let api = Api::new().await;
    let (acme, _acme_op, acme_viewer) = api.tenant("acme").await;
    let (other, _, _) = api.tenant("other").await;
    assert_eq!(api.call("GET", "/api/v1/devices", &acme, None).await.status, 503);
    let (_svc, device) = with_device(&api).await;
    let dev = format!("/api/v1/devices/{DEVICE}");

    let list = api.call("GET", "/api/v1/devices", &acme_viewer, None).await.json();
    assert_eq!(list["items"][0]["endpoint"], DEVICE, "{list}");
    assert_eq!(list["items"][0]["unsecured"], true);
    assert_eq!(list["items"][0]["profile"]["imsi"], "001010000000001");
    let op_list = api.call("GET", "/api/v1/devices", &api.operator.clone(), None).await.json();
    assert_eq!(op_list["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.call("GET", "/api/v1/devices", &other, None).await.json()["items"], json!([]));
    assert_eq!(api.call("GET", &dev, &other, None).await.status, 404);
    let r = api.call("POST", &format!("{dev}/read"), &other, Some(json!({"path": "/3/0/9"}))).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(device.seen.lock().unwrap().is_empty(), "nothing reached the device for another tenant");

    let r =
        api.call("POST", &format!("{dev}/read"), &acme_viewer, Some(json!({"path": "/3/0/9", "format": "tlv"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["code"].as_str(), v["values"][0]["path"].as_str(), v["values"][0]["value"].as_i64()),
        (Some("2.05"), Some("/3/0/9"), Some(87)),
        "{v}"
    );
    let bad = api.call("POST", &format!("{dev}/read"), &acme, Some(json!({"path": "/3/x"}))).await;
    assert_eq!(bad.status, 422);

    let w = json!({"path": "/1/0/1", "value": 300});
    assert_eq!(api.call("POST", &format!("{dev}/write"), &acme_viewer, Some(w.clone())).await.status, 403);
    let r = api.call("POST", &format!("{dev}/write"), &acme, Some(w)).await;
    assert_eq!((r.status.as_u16(), r.json()["code"].as_str()), (200, Some("2.04")), "{}", r.text);
    let r = api.call("POST", &format!("{dev}/execute"), &acme, Some(json!({"path": "/3/0/4"}))).await;
    assert_eq!(r.status, 200, "an API token needs no step-up: {}", r.text);
    assert_eq!(*device.seen.lock().unwrap(), vec!["0.01 /3/0/9", "0.03 /1/0/1", "0.02 /3/0/4"]);
    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"device.write") && actions.contains(&"device.execute"), "{audit}");
}

#[tokio::test]
async fn a_reboot_by_a_person_with_a_stale_second_factor_needs_a_step_up() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    let (_svc, device) = with_device(&api).await;
    let (secret, alice) = api.stale_tenant_admin(&admin, "acme", "alice").await;
    let dev = format!("/api/v1/devices/{DEVICE}");
    // Reading a resource is no sensitive task.
    assert_eq!(api.call("POST", &format!("{dev}/read"), &alice, Some(json!({"path": "/3/0/9"}))).await.status, 200);
    for path in ["/3/0/4", "/3/0/5"] {
        let r = api.call("POST", &format!("{dev}/execute"), &alice, Some(json!({"path": path}))).await;
        assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    }
    assert_eq!(*device.seen.lock().unwrap(), vec!["0.01 /3/0/9"], "no execute reached the device");
    let r = api
        .call("POST", "/api/v1/me/step-up", &alice, Some(json!({"method": "totp", "code": totp_code(&secret, 30)})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("POST", &format!("{dev}/execute"), &alice, Some(json!({"path": "/3/0/4"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(device.seen.lock().unwrap().last().map(String::as_str), Some("0.02 /3/0/4"));
}

/// A refresh as `warden serve` does it, minus the device: writes fixed values to the snapshot and
/// counts its calls.
struct Refresher {
    store: store::Store,
    calls: Mutex<Vec<String>>,
}

impl api::routes::devices::DeviceRefresh for Refresher {
    fn refresh<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), lwm2m::server::OpError>> + Send + 'a>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(endpoint.to_string());
            let objects = store::device_snapshots::DeviceObjects {
                model: Some("refreshed".into()),
                battery: Some(42),
                ..Default::default()
            };
            assert!(self.store.device_objects_read(endpoint, &objects, 2_000).await.unwrap());
            Ok(())
        })
    }
}

/// `GET /sims/{imsi}/devices` answers from the stored snapshots, tenant-isolated (another tenant's
/// SIM and device are 404 like missing ones); `POST /devices/{endpoint}/refresh` reaches the
/// refresher only for a device registered with this instance, needs a role that may act, is audited,
/// and otherwise answers a precise 409: registered with another instance (named), or not registered.
#[tokio::test]
async fn sim_devices_from_snapshots_are_isolated_and_refreshed_only_where_registered() {
    use store::device_snapshots::DeviceRegistration;
    let api = Api::new().await;
    let (acme, _acme_op, acme_viewer) = api.tenant("acme").await;
    let (other, _, _) = api.tenant("other").await;
    api.sims("acme", 1_010_000_000_001, 1, "standard").await;
    api.sims("other", 1_010_000_000_002, 1, "standard").await;
    let link = Some(("001010000000001", "acme"));
    let reg = |endpoint, instance, at| DeviceRegistration { endpoint, link, at, instance };
    // DEVICE is registered here (the in-process server); "moved" with instance hss-b; "old" left.
    api.store.device_registered(&reg(DEVICE, "hss-a", 1_000)).await.unwrap();
    api.store.device_registered(&reg("moved", "hss-b", 900)).await.unwrap();
    api.store.device_registered(&reg("old", "hss-a", 800)).await.unwrap();
    api.store.device_gone("old", "hss-a", 850).await.unwrap();
    let theirs =
        DeviceRegistration { endpoint: "theirs", link: Some(("001010000000002", "other")), at: 1, instance: "x" };
    api.store.device_registered(&theirs).await.unwrap();

    let sim_devices = "/api/v1/sims/001010000000001/devices";
    let r = api.call("GET", sim_devices, &acme_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    let names: Vec<&str> = items.iter().filter_map(|d| d["endpoint"].as_str()).collect();
    assert_eq!(names, [DEVICE, "moved", "old"], "registered first, latest registration first");
    assert_eq!((items[0]["tenant"].as_str(), items[0]["registered"].as_bool()), (Some("acme"), Some(true)));
    assert_eq!((items[2]["registered"].as_bool(), items[2]["last_seen"].as_i64()), (Some(false), Some(850)));
    // Another tenant: the SIM, its devices and a refresh are all 404.
    assert_eq!(api.call("GET", sim_devices, &other, None).await.status, 404);
    let mine = api.call("GET", "/api/v1/sims/001010000000002/devices", &other, None).await.json();
    assert_eq!(mine["items"][0]["endpoint"], "theirs", "{mine}");
    let refresh = |ep: &str| format!("/api/v1/devices/{ep}/refresh");
    assert_eq!(api.call("POST", &refresh(DEVICE), &other, None).await.status, 404);
    assert_eq!(api.call("POST", &refresh("theirs"), &acme, None).await.status, 404);
    assert_eq!(api.call("POST", &refresh("nobody"), &acme, None).await.status, 404);

    // Without an LwM2M server here, a registered device is elsewhere.
    let r = api.call("POST", &refresh(DEVICE), &acme, None).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let (_svc, _device) = with_device(&api).await;
    let refresher = Arc::new(Refresher { store: api.store.clone(), calls: Mutex::new(vec![]) });
    api.state.set_device_refresh(refresher.clone());

    assert_eq!(api.call("POST", &refresh(DEVICE), &acme_viewer, None).await.status, 403, "a viewer may not act");
    let r = api.call("POST", &refresh(DEVICE), &acme, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["model"].as_str(), v["battery"].as_i64(), v["objects_read_at"].as_i64()),
        (Some("refreshed"), Some(42), Some(2_000))
    );
    let r = api.call("POST", &refresh("moved"), &acme, None).await;
    let p = r.json();
    assert_eq!((r.status.as_u16(), p["type"].as_str()), (409, Some("urn:warden:problem:device-elsewhere")), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("hss-b"), "{p}");
    let r = api.call("POST", &refresh("old"), &acme, None).await;
    let p = r.json();
    assert_eq!((r.status.as_u16(), p["type"].as_str()), (409, Some("urn:warden:problem:device-not-registered")), "{p}");
    assert_eq!(*refresher.calls.lock().unwrap(), vec![DEVICE.to_string()], "only the device registered here is read");

    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    let refreshes: Vec<&serde_json::Value> =
        audit["items"].as_array().unwrap().iter().filter(|e| e["action"] == "device.refresh").collect();
    assert_eq!(refreshes.len(), 1, "{audit}");
    assert_eq!(refreshes[0]["tenant"], "acme", "{audit}");
}
