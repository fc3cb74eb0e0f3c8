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
