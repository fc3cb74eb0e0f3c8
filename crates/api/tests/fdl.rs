//! A SIM's fixed dialling list through the API (SUB-3): its own entries extend or replace its
//! profile's, the answer shows what the SMS router enforces, every change is an event and an audit
//! entry, bad entries are refused naming the entry, profiles with bad entries are refused, and
//! another tenant's SIMs are invisible.

mod common;

use common::Api;
use serde_json::json;

const SIM: &str = "001010000000001";

#[tokio::test]
async fn own_lists_extend_or_replace_the_profiles_and_are_recorded() {
    let api = Api::new().await;
    let p = json!({"services": ["data", "sms"], "fixed_dialling": ["+4917*", "1234"]});
    let r = api.call("PUT", "/api/v1/profiles/meter", &api.operator.clone(), Some(p)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_admin, op, viewer) = api.tenant("acme").await;
    let (_other_admin, other_op, _) = api.tenant("other").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let path = format!("/api/v1/sims/{SIM}/fdl");

    let r = api.call("GET", &path, &viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["profile"], json!(["+4917*", "1234"]));
    assert_eq!(v["overrides"], json!({"mode": "extend", "entries": []}));
    assert_eq!(v["effective"], json!({"kind": "list", "entries": ["+4917*", "1234"]}));

    let r = api.call("PUT", &path, &op, Some(json!({"entries": ["+33612345678", "+4917*"]}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["effective"]["entries"], json!(["+4917*", "1234", "+33612345678"]));

    let r = api.call("PUT", &path, &op, Some(json!({"mode": "replace", "entries": []}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["effective"], json!({"kind": "closed", "entries": []}), "restricted profile: empty bars");

    // Bad entries are named; nothing changes.
    let r = api.call("PUT", &path, &op, Some(json!({"entries": ["+49*", "+49 171"]}))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("[1]") && r.text.contains("+49 171"), "{}", r.text);
    assert_eq!(api.call("GET", &path, &viewer, None).await.json()["overrides"]["mode"], "replace");
    // A viewer may read, not change; another tenant sees nothing.
    assert_eq!(api.call("PUT", &path, &viewer, Some(json!({}))).await.status, 403);
    assert_eq!(api.call("GET", &path, &other_op, None).await.status, 404);
    assert_eq!(api.call("PUT", &path, &other_op, Some(json!({"entries": ["+1*"]}))).await.status, 404);

    let events = api.call("GET", "/api/v1/events", &op, None).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sim.fixed_dialling_changed").count(), 2, "{kinds:?}");
    let audit = api.call("GET", "/api/v1/audit", &api.operator.clone(), None).await.json();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "sim.set_fixed_dialling").count(), 2, "{actions:?}");

    // Profiles with a bad entry are refused.
    let p = json!({"services": ["sms"], "fixed_dialling": ["+49-171"]});
    let r = api.call("PUT", "/api/v1/profiles/bad", &api.operator.clone(), Some(p)).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("fixed_dialling[0]"), "{}", r.text);
}
