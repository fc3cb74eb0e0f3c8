//! SIM lifecycle through the API: allowed and refused transitions, critical-SIM protection that only an
//! operator admin can lift, profile assignment, the HSS told of every change, events and the audit
//! trail with before/after.

mod common;

use common::{Api, K, OPC};
use serde_json::json;

#[tokio::test]
async fn lifecycle_transitions_reach_the_hss_and_are_audited() {
    let api = Api::new().await;
    let (_admin, op, viewer) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let path = "/api/v1/sims/001010000000001";

    let r = api.call("GET", path, &viewer, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "inventory", "API imports start in inventory");

    let r = api.call("PATCH", path, &viewer, Some(json!({"status": "active"}))).await;
    assert_eq!(r.status, 403, "viewers cannot write: {}", r.text);
    assert_eq!(r.content_type(), "application/problem+json");

    let r = api.call("PATCH", path, &op, Some(json!({"status": "terminated"}))).await;
    assert_eq!(r.status, 409, "inventory → terminated is not a lifecycle step");
    assert!(r.json()["detail"].as_str().unwrap().contains("inventory"));

    for (to, expect) in [("active", 200), ("suspended", 200), ("active", 200), ("suspended", 200), ("terminated", 200)]
    {
        let r = api.call("PATCH", path, &op, Some(json!({"status": to}))).await;
        assert_eq!(r.status, expect, "{to}: {}", r.text);
        assert_eq!(r.json()["status"], to);
    }
    let r = api.call("PATCH", path, &op, Some(json!({"status": "active"}))).await;
    assert_eq!(r.status, 409, "terminated is final");

    let told = api.hss.0.lock().unwrap().clone();
    let expected: Vec<(String, String)> =
        ["inventory->active", "active->suspended", "suspended->active", "active->suspended", "suspended->terminated"]
            .iter()
            .map(|s| ("001010000000001".to_string(), format!("status:{s}")))
            .collect();
    assert_eq!(told, expected, "the HSS hears of every committed change and nothing else");

    let events = api.call("GET", "/api/v1/events?kind=sim.status_changed", &viewer, None).await.json();
    assert_eq!(events["items"].as_array().unwrap().len(), 5);
    assert_eq!(events["items"][0]["detail"], "inventory → active");

    let admin = api.call("GET", "/api/v1/audit?limit=1000", &_admin, None).await.json();
    let changes: Vec<_> =
        admin["items"].as_array().unwrap().iter().filter(|r| r["action"] == "sim.set_status").collect();
    assert_eq!(changes.len(), 5);
    assert_eq!(changes[0]["before"], "\"inventory\"");
    assert_eq!(changes[0]["after"], "\"active\"");
    assert_eq!(changes[0]["role"], "tenant_operator");
    assert_eq!(changes[0]["tenant"], "acme");
    assert!(changes[0]["actor"].as_str().unwrap().starts_with("token:tenant_operator("));
    assert_eq!(
        api.store.verify_audit().await.unwrap().unwrap() as usize,
        api.store.audit_tail(100000).await.unwrap().len()
    );
}

#[tokio::test]
async fn critical_sims_need_the_operator_to_lift_protection() {
    let api = Api::new().await;
    let (admin, op, _) = api.tenant("care").await;
    api.sims("care", 1010000000100, 1, "critical").await;
    let path = "/api/v1/sims/001010000000100";
    assert_eq!(api.call("PATCH", path, &op, Some(json!({"status": "active"}))).await.status, 200);
    let r = api.call("PATCH", path, &admin, Some(json!({"status": "suspended"}))).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("termination protection"));

    let r = api.call("PUT", &format!("{path}/protection"), &admin, Some(json!({"lifted": true}))).await;
    assert_eq!(r.status, 403, "tenant admins cannot lift protection");
    let operator = api.operator.clone();
    let r = api.call("PUT", &format!("{path}/protection"), &operator, Some(json!({"lifted": true}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["protection_lifted"], true);
    let r = api.call("PATCH", path, &op, Some(json!({"status": "suspended"}))).await;
    assert_eq!(r.status, 200, "after the lift the tenant may suspend: {}", r.text);

    let r = api.call("PUT", &format!("{path}/protection"), &operator, Some(json!({"lifted": false}))).await;
    assert_eq!(r.status, 200);
    let r = api.call("PATCH", path, &op, Some(json!({"status": "terminated"}))).await;
    assert_eq!(r.status, 409, "protection restored");
}

#[tokio::test]
async fn profiles_are_assignable_and_must_exist() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let path = "/api/v1/sims/001010000000001";
    let r = api.call("PATCH", path, &op, Some(json!({"profile": "alarm"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["profile"], "alarm");
    assert_eq!(api.hss.0.lock().unwrap().last().unwrap().1, "profile");
    let r = api.call("PATCH", path, &op, Some(json!({"profile": "nope"}))).await;
    assert_eq!(r.status, 409);
    assert!(r.text.contains("does not exist"));
    let r = api.call("PUT", "/api/v1/profiles/x", &op, Some(json!({"services": ["data"]}))).await;
    assert_eq!(r.status, 403, "profiles are the operator's");
}

#[tokio::test]
async fn import_is_all_or_nothing_and_keys_are_never_returned() {
    let api = Api::new().await;
    api.tenant("acme").await;
    let operator = api.operator.clone();
    let sims = json!([
        {"imsi": "001010000000001", "k": K, "opc": OPC},
        {"imsi": "00101000000000X", "k": K, "opc": OPC},
        {"imsi": "001010000000003", "k": "zz", "opc": OPC},
    ]);
    let r = api.call("POST", "/api/v1/sims", &operator, Some(json!({"tenant": "acme", "sims": sims}))).await;
    assert_eq!(r.status, 422);
    let d = r.json()["detail"].as_str().unwrap().to_string();
    assert!(d.contains("2 invalid SIM(s)") && d.contains("sims[1]") && d.contains("sims[2]"), "{d}");
    assert!(!d.contains(K) && !d.contains(OPC));
    assert_eq!(api.call("GET", "/api/v1/sims", &operator, None).await.json()["items"].as_array().unwrap().len(), 0);

    // Handset ranges are kept apart.
    let r = api
        .call(
            "POST",
            "/api/v1/ranges",
            &operator,
            Some(json!({"imsi_from": "001010000009000", "imsi_to": "001010000009999", "segment": "handset"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v1/ranges",
            &operator,
            Some(json!({"imsi_from": "001010000000000", "imsi_to": "001010000000999", "segment": "iot"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = api
        .call(
            "POST",
            "/api/v1/sims",
            &operator,
            Some(json!({"tenant": "acme", "sims": [{"imsi": "001010000009001", "k": K, "opc": OPC}]})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("handset range"));

    api.sims("acme", 1010000000001, 3, "standard").await;
    let list = api.call("GET", "/api/v1/sims", &operator, None).await;
    assert_eq!(list.json()["items"][0]["segment"], "iot");
    for text in [list.text, api.call("GET", "/api/v1/sims/001010000000001", &operator, None).await.text] {
        assert!(!text.contains(K) && !text.contains(OPC), "keys leaked: {text}");
    }
}
