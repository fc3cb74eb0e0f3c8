//! A SIM's traffic policy through the API: overrides extend or replace the profile's allowlists,
//! quarantine narrows them to the management platform, every change is an event, an audit entry and
//! a notification to the PCRF; bad entries are refused naming the entry; another tenant's SIMs are
//! invisible; people need a step-up to widen access or lift a quarantine.

mod common;

use common::Api;
use serde_json::json;

const SIM: &str = "001010000000001";

async fn api_with_allowlist() -> Api {
    let api = Api::new().await;
    let p = json!({"services": ["data"], "allow_prefixes": ["198.51.100.0/24"], "allow_domains": ["api.acme.example"],
                   "quarantine_prefixes": ["10.9.0.0/16:8443/tcp"]});
    let r = api.call("PUT", "/api/v1/profiles/meter", &api.operator.clone(), Some(p)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    api
}

#[tokio::test]
async fn overrides_extend_then_replace_and_every_change_is_told() {
    let api = api_with_allowlist().await;
    let (_admin, op, viewer) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    api.call("PATCH", &format!("/api/v1/sims/{SIM}"), &op, Some(json!({"status": "active"}))).await;

    let r = api.call("GET", &format!("/api/v1/sims/{SIM}/policy"), &viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["effective"]["traffic"], "restricted");
    assert_eq!(v["effective"]["allow_prefixes"], json!(["198.51.100.0/24"]));
    assert_eq!(v["overrides"]["mode"], "extend");
    assert!(v["quarantine"].is_null());

    let body = json!({"allow_prefixes": ["203.0.113.7/32:443/tcp"], "allow_domains": ["*.ota.acme.example"]});
    let r = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &op, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["effective"]["allow_prefixes"], json!(["198.51.100.0/24", "203.0.113.7/32:443/tcp"]));
    assert_eq!(v["effective"]["allow_domains"], json!(["api.acme.example", "*.ota.acme.example"]));
    assert!(api.hss.0.lock().unwrap().contains(&(SIM.to_string(), "policy".to_string())));

    let body = json!({"mode": "replace", "allow_prefixes": ["192.0.2.0/24"]});
    let v = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &op, Some(body)).await.json();
    assert_eq!(v["effective"]["allow_prefixes"], json!(["192.0.2.0/24"]));
    assert_eq!(v["effective"]["allow_domains"], json!([]));

    // A viewer may read but not change.
    let r = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &viewer, Some(json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.text);

    let events = api.call("GET", "/api/v1/events", &op, None).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sim.policy_changed").count(), 2, "{kinds:?}");
    let audit = api.call("GET", "/api/v1/audit", &api.operator.clone(), None).await.json();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "sim.set_policy").count(), 2, "{actions:?}");
}

#[tokio::test]
async fn quarantine_narrows_to_the_management_platform_until_lifted() {
    let api = api_with_allowlist().await;
    let (_admin, op, _viewer) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    api.call("PATCH", &format!("/api/v1/sims/{SIM}"), &op, Some(json!({"status": "active"}))).await;

    let body = json!({"reason": "scanning port 23"});
    let r = api.call("POST", &format!("/api/v1/sims/{SIM}/quarantine"), &op, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["effective"]["traffic"], "quarantined");
    assert_eq!(v["effective"]["allow_prefixes"], json!(["10.9.0.0/16:8443/tcp"]));
    assert_eq!(v["quarantine"]["reason"], "scanning port 23");
    // Again: nothing changes, nothing more is recorded.
    let since = v["quarantine"]["since"].clone();
    let v = api.call("POST", &format!("/api/v1/sims/{SIM}/quarantine"), &op, Some(body)).await.json();
    assert_eq!(v["quarantine"]["since"], since);
    // Overrides do not widen a quarantine.
    let wide = json!({"allow_prefixes": ["0.0.0.0/0"]});
    let v = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &op, Some(wide)).await.json();
    assert_eq!(v["effective"]["allow_prefixes"], json!(["10.9.0.0/16:8443/tcp"]));

    let r = api.call("DELETE", &format!("/api/v1/sims/{SIM}/quarantine"), &op, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["effective"]["traffic"], "restricted");
    assert_eq!(v["effective"]["allow_prefixes"], json!(["198.51.100.0/24", "0.0.0.0/0"]));
    assert!(v["quarantine"].is_null());

    let events = api.call("GET", "/api/v1/events", &op, None).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sim.quarantined").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "sim.quarantine_lifted").count(), 1, "{kinds:?}");
}

#[tokio::test]
async fn bad_entries_are_refused_by_position_and_nothing_is_written() {
    let api = api_with_allowlist().await;
    let (_admin, op, _viewer) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    for (body, needle) in [
        (json!({"allow_prefixes": ["192.0.2.0/24", "198.51.100.1/24"]}), "allow_prefixes[1]"),
        (json!({"allow_prefixes": ["192.0.2.0/24:0"]}), "allow_prefixes[0]"),
        (json!({"allow_domains": ["*.com"]}), "allow_domains[0]"),
        (json!({"allow_domains": ["a b.example"]}), "allow_domains[0]"),
        (json!({"mode": "widen"}), "mode"),
    ] {
        let r = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &op, Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains(needle), "{needle} not in {}", r.text);
    }
    let many: Vec<String> = (0..300).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect();
    let r = api.call("PUT", &format!("/api/v1/sims/{SIM}/policy"), &op, Some(json!({"allow_prefixes": many}))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let v = api.call("GET", &format!("/api/v1/sims/{SIM}/policy"), &op, None).await.json();
    assert_eq!(v["overrides"]["allow_prefixes"], json!([]));
    let r = api.call("PUT", "/api/v1/sims/12ab/policy", &op, Some(json!({}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn another_tenants_sims_policy_is_invisible() {
    let api = api_with_allowlist().await;
    let (_a_admin, a_op, _) = api.tenant("alpha").await;
    let (_b_admin, b_op, _) = api.tenant("bravo").await;
    api.sims("alpha", 1010000000001, 1, "standard").await;
    let path = format!("/api/v1/sims/{SIM}");
    for (m, p, body) in [
        ("GET", format!("{path}/policy"), None),
        ("PUT", format!("{path}/policy"), Some(json!({"allow_prefixes": ["0.0.0.0/0"]}))),
        ("POST", format!("{path}/quarantine"), Some(json!({"reason": "x"}))),
        ("DELETE", format!("{path}/quarantine"), None),
        ("GET", format!("{path}/usage"), None),
    ] {
        let r = api.call(m, &p, &b_op, body).await;
        assert_eq!(r.status, 404, "{m} {p}: {}", r.text);
    }
    let r = api.call("GET", &format!("/api/v1/dns/queries?imsi={SIM}"), &b_op, None).await;
    assert_eq!((r.status.as_u16(), r.json()["items"].as_array().unwrap().len()), (200, 0));
    let v = api.call("GET", &format!("{path}/policy"), &a_op, None).await.json();
    assert_eq!(v["overrides"]["allow_prefixes"], json!([]), "bravo's PUT must not have landed");
    assert!(v["quarantine"].is_null());
}

#[tokio::test]
async fn people_need_a_step_up_to_widen_access_or_lift_a_quarantine_but_not_to_quarantine() {
    let api = api_with_allowlist().await;
    api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let body = json!({"username": "olga", "password": "correct horse battery staple zulu", "role": "tenant_operator", "tenant": "acme"});
    assert_eq!(api.call("POST", "/api/v1/users", &api.operator.clone(), Some(body)).await.status, 201);
    api.password_only("acme").await;
    let login = json!({"username": "olga", "password": "correct horse battery staple zulu"});
    let r = api.call("POST", "/api/v1/auth/login", "", Some(login)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let olga = r.json()["token"].as_str().unwrap().to_string();

    let r = api.call("POST", &format!("/api/v1/sims/{SIM}/quarantine"), &olga, Some(json!({"reason": "odd"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (m, p, body) in [
        ("DELETE", format!("/api/v1/sims/{SIM}/quarantine"), None),
        ("PUT", format!("/api/v1/sims/{SIM}/policy"), Some(json!({"allow_prefixes": ["0.0.0.0/0"]}))),
    ] {
        let r = api.call(m, &p, &olga, body).await;
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text);
        assert!(r.text.contains("step-up-required"), "{}", r.text);
    }
}
