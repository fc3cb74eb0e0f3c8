//! `/certificates`: a tenant lists only its own device certificates, revoking needs a role that may
//! change SIMs, another tenant's certificate is answered as not found, a person whose second factor
//! is stale must step up first (SEC-8), a revocation is audited and keeps its first reason, and bad
//! serials and reasons are refused.

mod common;

use common::{totp_code, Api};
use serde_json::json;
use store::devcerts::NewDeviceCert;

const STEP_UP: &str = "urn:warden:problem:step-up-required";

async fn cert(api: &Api, serial: &str, tenant: &str, endpoint: &str) {
    let row = NewDeviceCert {
        serial: serial.into(),
        ca_scope: tenant.into(),
        tenant: tenant.into(),
        endpoint: endpoint.into(),
        subject: format!("CN={endpoint}"),
        san: vec!["urn:imsi:001010000000001".into()],
        imsi: Some("001010000000001".into()),
        imei: None,
        not_before: store::now() - 60,
        not_after: store::now() + 86_400,
        replaces: None,
        cert_der: vec![0x30, 0x00],
    };
    api.store.record_device_cert(&row, None).await.unwrap();
}

#[tokio::test]
async fn tenants_list_and_revoke_only_their_certificates() {
    let api = Api::new().await;
    let (_, acme, acme_viewer) = api.tenant("acme").await;
    let (_, other, _) = api.tenant("other").await;
    cert(&api, "4a01", "acme", "meter-1").await;
    cert(&api, "4a02", "other", "meter-2").await;

    let list = api.call("GET", "/api/v1/certificates", &acme_viewer, None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!((items[0]["serial"].as_str(), items[0]["status"].as_str()), (Some("4a01"), Some("good")));
    let all = api.call("GET", "/api/v1/certificates?limit=10", &api.operator.clone(), None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let one = api.call("GET", "/api/v1/certificates?endpoint=meter-2", &api.operator.clone(), None).await.json();
    assert_eq!(one["items"][0]["serial"], "4a02", "{one}");
    assert_eq!(api.call("GET", "/api/v1/certificates?limit=0", &acme, None).await.status, 400);

    let body = json!({"reason": "keyCompromise"});
    let r = api.call("POST", "/api/v1/certificates/4a01/revoke", &acme_viewer, Some(body.clone())).await;
    assert_eq!(r.status, 403, "a viewer may not revoke: {}", r.text);
    let r = api.call("POST", "/api/v1/certificates/4a02/revoke", &acme, Some(body.clone())).await;
    assert_eq!(r.status, 404, "another tenant's: {}", r.text);
    assert_eq!(api.store.device_cert("4a02").await.unwrap().unwrap().status, "good");
    let r = api.call("POST", "/api/v1/certificates/zz/revoke", &acme, Some(body.clone())).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = api.call("POST", "/api/v1/certificates/4a01/revoke", &acme, Some(json!({"reason": "bored"}))).await;
    assert_eq!(r.status, 422, "{}", r.text);

    let r = api.call("POST", "/api/v1/certificates/4A:01/revoke", &acme, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["status"].as_str(), v["revocation_reason"].as_str()),
        (Some("revoked"), Some("keyCompromise")),
        "{v}"
    );
    let first_at = v["revoked_at"].as_i64().unwrap();
    // Again, with another reason: the first revocation stands.
    let r = api.call("POST", "/api/v1/certificates/4a01/revoke", &acme, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json()["revocation_reason"].as_str(), r.json()["revoked_at"].as_i64()),
        (Some("keyCompromise"), Some(first_at))
    );
    let row = api.store.device_cert("4a01").await.unwrap().unwrap();
    assert_eq!(row.status, "revoked");
    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    assert!(
        audit["items"].as_array().unwrap().iter().any(|e| e["action"] == "certificate.revoke" && e["tenant"] == "acme"),
        "{audit}"
    );
    assert_eq!(api.call("GET", "/api/v1/certificates", &other, None).await.json()["items"][0]["status"], "good");
}

#[tokio::test]
async fn revoking_needs_a_fresh_second_factor_from_a_person() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    cert(&api, "4b01", "acme", "meter-1").await;
    let good = "plum tractor evening lighthouse";
    let user = json!({"username": "alice", "password": good, "role": "tenant_admin"});
    let r = api.call("POST", "/api/v1/users", &admin, Some(user)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (secret, alice) = api.enrol_totp(Some("acme"), "alice", good).await;
    api.age_second_factors().await;
    let r = api.call("POST", "/api/v1/certificates/4b01/revoke", &alice, Some(json!({}))).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert_eq!(api.store.device_cert("4b01").await.unwrap().unwrap().status, "good", "nothing revoked");
    let r = api
        .call("POST", "/api/v1/me/step-up", &alice, Some(json!({"method": "totp", "code": totp_code(&secret, 30)})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("POST", "/api/v1/certificates/4b01/revoke", &alice, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["revocation_reason"], "unspecified");
    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    let entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "certificate.revoke").cloned();
    assert!(entry.unwrap()["actor"].as_str().unwrap().contains("step-up:totp"), "{audit}");
}
