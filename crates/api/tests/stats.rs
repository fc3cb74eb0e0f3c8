//! The dashboard's counts (`/stats/sims`, `/stats/events`) and the SIM list's new filters (priority,
//! tenant, ICCID prefix): each scoped to the caller's tenant in the data layer, so tenant A never
//! sees tenant B's numbers or SIMs, whatever it asks for.

mod common;

use common::{Api, K, OPC};
use serde_json::{json, Value};

fn count(stats: &Value, status: &str, priority: &str) -> i64 {
    stats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == status && c["priority"] == priority)
        .map(|c| c["count"].as_i64().unwrap())
        .unwrap_or(0)
}

/// An ICCID of 19 digits: `body` (18 digits) and its Luhn check digit.
fn iccid(body: &str) -> String {
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[tokio::test]
async fn sim_counts_are_grouped_and_scoped_to_the_tenant() {
    let api = Api::new().await;
    let (_a_admin, a_op, a_view) = api.tenant("alpha").await;
    let (_b_admin, b_op, _) = api.tenant("bravo").await;
    api.sims("alpha", 1010000000001, 3, "standard").await;
    api.sims("alpha", 1010000000101, 2, "critical").await;
    api.sims("bravo", 1010000000501, 4, "low").await;
    let r = api.call("PATCH", "/api/v1/sims/001010000000001", &a_op, Some(json!({"status": "active"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("PATCH", "/api/v1/sims/001010000000501", &b_op, Some(json!({"status": "active"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let a = api.call("GET", "/api/v1/stats/sims", &a_view, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = a.json();
    assert_eq!(a["total"], 5, "{a}");
    assert_eq!(count(&a, "active", "standard"), 1);
    assert_eq!(count(&a, "inventory", "standard"), 2);
    assert_eq!(count(&a, "inventory", "critical"), 2);
    assert_eq!(count(&a, "inventory", "low") + count(&a, "active", "low"), 0, "none of bravo's: {a}");

    let all = api.call("GET", "/api/v1/stats/sims", &api.operator.clone(), None).await.json();
    assert_eq!(all["total"], 9, "the operator counts every tenant: {all}");
    assert_eq!(count(&all, "active", "low"), 1);

    // Events: alpha's status change is counted for alpha, bravo's is not.
    let e = api.call("GET", "/api/v1/stats/events?minutes=60", &a_view, None).await;
    assert_eq!(e.status, 200, "{}", e.text);
    let e = e.json();
    let total: i64 = e["items"].as_array().unwrap().iter().map(|c| c["count"].as_i64().unwrap()).sum();
    assert!(total >= 1, "{e}");
    for ev in e["recent"].as_array().unwrap() {
        assert_eq!(ev["tenant"], "alpha", "only alpha's events: {e}");
    }
    assert!(e["recent"].as_array().unwrap().iter().any(|ev| ev["imsi"] == "001010000000001"), "{e}");
    let all = api.call("GET", "/api/v1/stats/events", &api.operator.clone(), None).await.json();
    assert!(all["recent"].as_array().unwrap().iter().any(|ev| ev["tenant"] == "bravo"), "{all}");
    assert_eq!(api.call("GET", "/api/v1/stats/events?minutes=0", &a_view, None).await.status, 400);
    assert_eq!(api.call("GET", "/api/v1/stats/sims", "", None).await.status, 401);
}

#[tokio::test]
async fn sim_list_filters_by_priority_tenant_and_iccid_prefix_within_the_scope() {
    let api = Api::new().await;
    let (_, _, a_view) = api.tenant("alpha").await;
    let (_, _, b_view) = api.tenant("bravo").await;
    api.sims("alpha", 1010000000001, 3, "standard").await;
    api.sims("alpha", 1010000000101, 2, "critical").await;
    let sims: Vec<Value> = [("001010000000901", "894400000000000901"), ("001010000000902", "894400000000000902")]
        .iter()
        .map(|(imsi, body)| json!({"imsi": imsi, "iccid": iccid(body), "k": K, "opc": OPC, "priority": "critical"}))
        .collect();
    let r =
        api.call("POST", "/api/v1/sims", &api.operator.clone(), Some(json!({"tenant": "bravo", "sims": sims}))).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let imsis = |v: Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|s| s["imsi"].as_str().unwrap().to_string()).collect()
    };
    let r = api.call("GET", "/api/v1/sims?priority=critical", &a_view, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(imsis(r.json()), ["001010000000101", "001010000000102"], "alpha's critical SIMs only");
    let op = api.operator.clone();
    let r = api.call("GET", "/api/v1/sims?priority=critical&tenant=bravo", &op, None).await.json();
    assert_eq!(imsis(r), ["001010000000901", "001010000000902"]);
    let r = api.call("GET", "/api/v1/sims?tenant=bravo", &a_view, None).await.json();
    assert!(imsis(r).is_empty(), "a tenant naming another tenant sees nothing");
    let r = api.call("GET", "/api/v1/sims?iccid_prefix=89440000000000090", &b_view, None).await.json();
    assert_eq!(imsis(r), ["001010000000901", "001010000000902"]);
    let r = api.call("GET", &format!("/api/v1/sims?iccid_prefix={}", iccid("894400000000000902")), &b_view, None).await;
    assert_eq!(imsis(r.json()), ["001010000000902"]);
    let r = api.call("GET", "/api/v1/sims?iccid_prefix=8944", &a_view, None).await.json();
    assert!(imsis(r).is_empty(), "bravo's ICCIDs are not alpha's");
    assert_eq!(api.call("GET", "/api/v1/sims?iccid_prefix=89x", &a_view, None).await.status, 400);
    assert_eq!(api.call("GET", "/api/v1/sims?priority=urgent", &a_view, None).await.status, 400);
}

#[tokio::test]
async fn the_operator_verifies_the_audit_chain_and_tenants_may_not() {
    let api = Api::new().await;
    let (a_admin, _, _) = api.tenant("alpha").await;
    let r = api.call("GET", "/api/v1/audit/verify", &api.operator.clone(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["records"].as_u64().unwrap() >= 4, "the tenant and its tokens were audited: {v}");
    assert_eq!(api.call("GET", "/api/v1/audit/verify", &a_admin, None).await.status, 403);
}

/// A firewall as `warden serve` would hand it over (warden/tests/firewall.rs checks the real one).
struct OnePartner;

impl api::routes::firewall::FirewallView for OnePartner {
    fn overview(&self) -> api::routes::firewall::FirewallOverview {
        api::routes::firewall::FirewallOverview {
            origin_host: "fw.home.example".into(),
            partners: vec![api::routes::firewall::PartnerView { name: "alpha".into(), ..Default::default() }],
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn the_firewall_page_is_the_operators_and_needs_a_firewall() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let r = api.call("GET", "/api/v1/firewall", &api.operator.clone(), None).await;
    assert_eq!(r.status, 404, "no firewall in this process: {}", r.text);
    api.state.set_firewall(std::sync::Arc::new(OnePartner));
    let r = api.call("GET", "/api/v1/firewall", &api.operator.clone(), None).await;
    assert_eq!((r.status.as_u16(), r.json()["partners"][0]["name"].as_str()), (200, Some("alpha")), "{}", r.text);
    let r = api.call("GET", "/api/v1/firewall", &admin, None).await;
    assert_eq!(r.status, 403, "roaming partners are the operator's: {}", r.text);
}
