//! Firmware campaigns through the API (DM-2, SEC-8): a campaign can only name a verified image of
//! its own tenant (an unknown id, another tenant's image → 404); starting and resuming need a step-up
//! from a person's session; pause, resume and cancel are conditional and audited; another tenant's
//! campaign answers 404; the progress counts the devices; including critical SIMs' devices asks a
//! second person's approval, which the requester cannot give and which releases them once given.
//! Delivery itself is tested in crates/warden/tests/campaigns.rs.

mod common;

use common::{keypair, signed, totp_code, upload, Api};
use serde_json::{json, Value};

const STEP_UP: &str = "urn:warden:problem:step-up-required";

/// Registers an OpenSSL key for the tenant of `admin` and uploads an image: its id.
async fn image(api: &Api, admin: &str, dir: &std::path::Path, name: &str, version: &str) -> Option<String> {
    let (key, public) = keypair(dir, name)?;
    let r = api.call("POST", "/api/v1/firmware/keys", admin, Some(json!({"public_key": public, "label": "k"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let img = vec![7u8; 300];
    let (m, s) = signed(dir, &key, &img, version);
    let r = api.call("POST", "/api/v1/firmware", admin, Some(upload(&m, &s, &img))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    Some(r.json()["id"].as_str().unwrap().to_string())
}

fn campaign(image: &str, endpoints: &[&str]) -> Value {
    json!({"name": "rollout", "image_id": image, "endpoints": endpoints, "canary_percent": 50,
        "failure_threshold": 0.25, "window": {"days": ["mon", "sat"], "start_hour": 22, "end_hour": 4},
        "max_concurrent": 3})
}

#[tokio::test]
async fn campaigns_stay_in_their_tenant_and_need_verified_images_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::new().await;
    let (admin, op, viewer) = api.tenant("acme").await;
    let (other_admin, _, _) = api.tenant("other").await;
    let Some(mine) = image(&api, &admin, dir.path(), "acme", "1.2.0").await else { return };
    let theirs = image(&api, &other_admin, dir.path(), "other", "9.0").await.unwrap();

    // Unknown image, another tenant's image, bad values: nothing is created.
    for (body, status) in [
        (campaign("fw_0000000000000000", &["a"]), 404),
        (campaign(&theirs, &["a"]), 404),
        (json!({"name": "x", "image_id": mine, "endpoints": []}), 422),
        (json!({"name": "x", "image_id": mine, "endpoints": ["a", "a"]}), 422),
        (json!({"name": "x", "image_id": mine, "endpoints": ["a"], "canary_percent": 101}), 422),
        (json!({"name": "x", "image_id": mine, "endpoints": ["a"], "failure_threshold": -0.1}), 422),
        (
            json!({"name": "x", "image_id": mine, "endpoints": ["a"], "window": {"days": ["someday"], "start_hour": 0, "end_hour": 1}}),
            422,
        ),
        (json!({"name": "x", "image_id": mine, "endpoints": ["a"], "max_concurrent": 0}), 422),
        (json!({"name": "x", "image_id": mine, "model": "no-such-model"}), 422),
    ] {
        let r = api.call("POST", "/api/v1/campaigns", &admin, Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    assert_eq!(api.call("POST", "/api/v1/campaigns", &viewer, Some(campaign(&mine, &["a"]))).await.status, 403);
    assert_eq!(api.call("GET", "/api/v1/campaigns", &admin, None).await.json()["items"], json!([]));

    let r = api.call("POST", "/api/v1/campaigns", &op, Some(campaign(&mine, &["ep-1", "ep-2", "ep-3", "ep-4"]))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.json();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!((c["status"].as_str(), c["tenant"].as_str()), (Some("running"), Some("acme")));
    assert_eq!(c["progress"]["pending"], 4);
    assert_eq!(c["window"], json!({"days": ["mon", "sat"], "start_hour": 22, "end_hour": 4}));
    assert_eq!((c["canary_percent"].as_f64(), c["failure_threshold"].as_f64()), (Some(50.0), Some(0.25)));
    let url = format!("/api/v1/campaigns/{id}");
    let d = api.call("GET", &format!("{url}?limit=3"), &viewer, None).await.json();
    let devices = d["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    assert_eq!(devices.iter().filter(|d| d["canary"] == true).count(), 2, "50 % of four are canaries");
    assert_eq!(d["next"], "ep-3");
    let d = api.call("GET", &format!("{url}?after=ep-3"), &viewer, None).await.json();
    assert_eq!(d["devices"][0]["endpoint"], "ep-4");
    assert_eq!(api.call("GET", &format!("{url}?state=bogus"), &viewer, None).await.status, 422);

    // Another tenant sees and changes nothing.
    assert_eq!(api.call("GET", &url, &other_admin, None).await.status, 404);
    assert_eq!(api.call("POST", &format!("{url}/pause"), &other_admin, None).await.status, 404);
    assert_eq!(api.call("GET", "/api/v1/campaigns", &other_admin, None).await.json()["items"], json!([]));
    assert_eq!(
        api.call("GET", "/api/v1/campaigns", &api.operator.clone(), None).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Pause, resume, cancel: conditional.
    assert_eq!(api.call("POST", &format!("{url}/resume"), &op, None).await.status, 409);
    let r = api.call("POST", &format!("{url}/pause"), &op, None).await;
    assert_eq!((r.status.as_u16(), r.json()["status"].as_str()), (200, Some("paused")), "{}", r.text);
    assert_eq!(api.call("POST", &format!("{url}/pause"), &op, None).await.status, 409);
    assert_eq!(api.call("POST", &format!("{url}/resume"), &op, None).await.json()["status"], "running");
    let r = api.call("POST", &format!("{url}/cancel"), &op, None).await;
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(r.json()["progress"]["skipped"], 4);
    assert_eq!(api.call("POST", &format!("{url}/resume"), &op, None).await.status, 409);

    let log = api.call("GET", "/api/v1/audit", &admin, None).await.json();
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in
        ["firmware.campaign.create", "firmware.campaign.pause", "firmware.campaign.resume", "firmware.campaign.cancel"]
    {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    let events = api.call("GET", "/api/v1/events", &admin, None).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in [
        "firmware.campaign_started",
        "firmware.campaign_paused",
        "firmware.campaign_resumed",
        "firmware.campaign_cancelled",
    ] {
        assert!(kinds.contains(&k), "{k}: {kinds:?}");
    }
}

#[tokio::test]
async fn starting_needs_a_step_up_and_critical_devices_a_second_person() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    let Some(img) = image(&api, &admin, dir.path(), "acme", "2.0").await else { return };
    let (alice_secret, alice) = api.stale_tenant_admin(&admin, "acme", "alice").await;
    let (bob_secret, bob) = api.stale_tenant_admin(&admin, "acme", "bob").await;

    let mut body = campaign(&img, &["ep-1"]);
    body["include_critical"] = json!(true);
    let r = api.call("POST", "/api/v1/campaigns", &alice, Some(body.clone())).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert_eq!(api.call("GET", "/api/v1/campaigns", &admin, None).await.json()["items"], json!([]));
    // A token no person issued cannot ask for the approval.
    assert_eq!(api.call("POST", "/api/v1/campaigns", &admin, Some(body.clone())).await.status, 403);

    let step = |s: &str| json!({"method": "totp", "code": totp_code(s, 30)});
    assert_eq!(api.call("POST", "/api/v1/me/step-up", &alice, Some(step(&alice_secret))).await.status, 200);
    let r = api.call("POST", "/api/v1/campaigns", &alice, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.json();
    let approval = c["approval_id"].as_str().unwrap().to_string();
    assert_eq!(c["critical_approved"], false);
    let a = api.call("GET", &format!("/api/v1/approvals/{approval}"), &admin, None).await.json();
    assert_eq!((a["action"].as_str(), a["status"].as_str()), (Some("firmware.campaign"), Some("pending")), "{a}");
    assert_eq!(a["resource"], format!("campaigns/{}", c["id"].as_str().unwrap()));

    // The requester cannot approve; a second person with a fresh factor can.
    let approve = format!("/api/v1/approvals/{approval}/approve");
    assert_eq!(api.call("POST", &approve, &alice, Some(json!({}))).await.status, 403);
    let r = api.call("POST", &approve, &bob, Some(json!({}))).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert_eq!(api.call("POST", "/api/v1/me/step-up", &bob, Some(step(&bob_secret))).await.status, 200);
    let r = api.call("POST", &approve, &bob, Some(json!({"note": "ok"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.json()["approval"]["status"].as_str(), r.json()["sim"].is_null()), (Some("approved"), true));
    let id = c["id"].as_str().unwrap();
    let after = api.call("GET", &format!("/api/v1/campaigns/{id}"), &admin, None).await.json();
    assert_eq!(after["campaign"]["critical_approved"], true, "{after}");
    // Asking for a campaign approval directly is refused (it comes with the campaign).
    let r = api
        .call(
            "POST",
            "/api/v1/approvals",
            &bob,
            Some(json!({"action": "firmware.campaign", "imsi": "001010000000001"})),
        )
        .await;
    assert_ne!(r.status, 202, "{}", r.text);

    // Resuming needs a step-up too.
    let url = format!("/api/v1/campaigns/{id}");
    assert_eq!(api.call("POST", &format!("{url}/pause"), &admin, None).await.status, 200);
    let (carol_secret, carol) = api.stale_tenant_admin(&admin, "acme", "carol").await;
    let r = api.call("POST", &format!("{url}/resume"), &carol, None).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert_eq!(api.call("POST", "/api/v1/me/step-up", &carol, Some(step(&carol_secret))).await.status, 200);
    assert_eq!(api.call("POST", &format!("{url}/resume"), &carol, None).await.json()["status"], "running");
}

/// A campaign by model targets the tenant's devices of that model registered now with any instance
/// (the stored device snapshots; this API runs no LwM2M server): not another tenant's, not another
/// model's, not one that de-registered.
#[tokio::test]
async fn a_campaign_by_model_takes_the_registered_devices_of_every_instance() {
    use store::device_snapshots::{DeviceObjects, DeviceRegistration};
    let dir = tempfile::tempdir().unwrap();
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let Some(mine) = image(&api, &admin, dir.path(), "acme", "1.2.0").await else { return };
    let device = |endpoint: &'static str, tenant: &'static str, imsi: &'static str, instance: &'static str| {
        DeviceRegistration { endpoint, link: Some((imsi, tenant)), at: 1_000, instance }
    };
    let objects = |model: &str| DeviceObjects { model: Some(model.into()), ..Default::default() };
    for (reg, model) in [
        (device("meter-b", "acme", "001010000000001", "hss-b"), "m1"),
        (device("meter-a", "acme", "001010000000002", "hss-a"), "m1"),
        (device("other-model", "acme", "001010000000003", "hss-b"), "m2"),
        (device("gone", "acme", "001010000000004", "hss-b"), "m1"),
        (device("theirs", "other", "001010000000005", "hss-b"), "m1"),
    ] {
        api.store.device_registered(&reg).await.unwrap();
        assert!(api.store.device_objects_read(reg.endpoint, &objects(model), 1_001).await.unwrap());
    }
    api.store.device_gone("gone", "hss-b", 1_002).await.unwrap();

    let body = json!({"name": "by model", "image_id": mine, "model": "m1", "endpoints": ["named"]});
    let r = api.call("POST", "/api/v1/campaigns", &admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let d = api.call("GET", &format!("/api/v1/campaigns/{id}"), &admin, None).await.json();
    let mut endpoints: Vec<&str> =
        d["devices"].as_array().unwrap().iter().filter_map(|x| x["endpoint"].as_str()).collect();
    endpoints.sort();
    assert_eq!(endpoints, ["meter-a", "meter-b", "named"], "{d}");
}
