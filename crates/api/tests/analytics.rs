//! Security analytics through the API: detections are listed, filtered and paged within the tenant;
//! acknowledge, resolve and undo are the tenant's alone (another tenant gets 404); undo needs a
//! step-up for people; the policy is for tenant admins; health, dashboard and the STIX 2.1 export
//! show pseudonyms, not IMSIs, unless the tenant opted out.

mod common;

use cmp::analytics::{self, Finding};
use common::Api;
use serde_json::json;

const A1: &str = "001010000000001";
const A2: &str = "001010000000002";
const B1: &str = "001010000000009";

async fn report(api: &Api, id: &str, imsi: &str, tenant: &str, kind: &str, score: f64) -> analytics::Recorded {
    report_at(api, id, imsi, tenant, kind, score, store::now()).await
}

async fn report_at(
    api: &Api,
    id: &str,
    imsi: &str,
    tenant: &str,
    kind: &str,
    score: f64,
    at: i64,
) -> analytics::Recorded {
    let f = Finding {
        id: id.into(),
        tenant: tenant.into(),
        imsi: imsi.parse().unwrap(),
        kind: kind.into(),
        score,
        evidence: json!({"ports": [23], "destinations": 300, "destination_ip": "198.51.100.66"}),
        at,
    };
    analytics::record_detection(&api.store, api.hss.as_ref(), &f).await.unwrap()
}

async fn two_tenants() -> (Api, (String, String, String), (String, String, String)) {
    let api = Api::new().await;
    let a = api.tenant("alpha").await;
    let b = api.tenant("bravo").await;
    api.sims("alpha", 1010000000001, 2, "standard").await;
    api.sims("bravo", 1010000000009, 1, "standard").await;
    for (imsi, tok) in [(A1, &a.1), (A2, &a.1), (B1, &b.1)] {
        let r = api.call("PATCH", &format!("/api/v1/sims/{imsi}"), tok, Some(json!({"status": "active"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    (api, a, b)
}

#[tokio::test]
async fn detections_are_listed_within_the_tenant_and_handled_there() {
    let (api, (a_admin, a_op, a_viewer), (_b_admin, b_op, _)) = two_tenants().await;
    report(&api, "a-scan", A1, "alpha", "scanning", 0.8).await;
    report(&api, "a-dns", A2, "alpha", "dns_tunnelling", 0.6).await;
    report(&api, "b-scan", B1, "bravo", "scanning", 0.9).await;

    let r = api.call("GET", "/api/v1/analytics/detections", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&"b-scan"));
    let scan = items.iter().find(|d| d["id"] == "a-scan").unwrap();
    assert_eq!(
        (scan["band"].as_str(), scan["status"].as_str(), scan["action"].as_str()),
        (Some("high"), Some("open"), Some("none"))
    );
    assert_eq!(scan["evidence"]["ports"], json!([23]));
    // Filters and paging.
    let v = api.call("GET", "/api/v1/analytics/detections?kind=scanning", &a_viewer, None).await.json();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let v = api.call("GET", &format!("/api/v1/analytics/detections?imsi={A2}"), &a_viewer, None).await.json();
    assert_eq!(v["items"][0]["id"], "a-dns");
    let first = api.call("GET", "/api/v1/analytics/detections?limit=1", &a_viewer, None).await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second =
        api.call("GET", &format!("/api/v1/analytics/detections?limit=1&cursor={cursor}"), &a_viewer, None).await.json();
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    for bad in
        ["?status=closed", "?imsi=12ab", "?cursor=zz", "?limit=0", "?limit=x", "?limit=4294967296", "?colour=red"]
    {
        let r = api.call("GET", &format!("/api/v1/analytics/detections{bad}"), &a_viewer, None).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }

    // Another tenant's detection does not exist for bravo, whatever it asks.
    for (m, p) in [
        ("GET", "/api/v1/analytics/detections/a-scan"),
        ("POST", "/api/v1/analytics/detections/a-scan/acknowledge"),
        ("POST", "/api/v1/analytics/detections/a-scan/resolve"),
        ("POST", "/api/v1/analytics/detections/a-scan/undo"),
    ] {
        let r = api.call(m, p, &b_op, None).await;
        assert_eq!(r.status, 404, "{m} {p}: {}", r.text);
    }
    let v = api.call("GET", "/api/v1/analytics/detections/a-scan", &a_viewer, None).await.json();
    assert_eq!(v["status"], "open", "bravo changed nothing");

    // Viewers read; operators acknowledge and resolve.
    let r = api.call("POST", "/api/v1/analytics/detections/a-scan/acknowledge", &a_viewer, None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = api.call("POST", "/api/v1/analytics/detections/a-scan/acknowledge", &a_op, None).await;
    assert_eq!((r.status.as_u16(), r.json()["status"].as_str()), (200, Some("acknowledged")));
    let r = api.call("POST", "/api/v1/analytics/detections/a-scan/resolve", &a_op, None).await;
    assert_eq!(r.json()["status"], "resolved");
    let v = api.call("GET", "/api/v1/analytics/detections?status=resolved", &a_viewer, None).await.json();
    assert_eq!(v["items"][0]["id"], "a-scan");
    // Nothing was done about it: nothing to undo.
    let r = api.call("POST", "/api/v1/analytics/detections/a-scan/undo", &a_op, None).await;
    assert_eq!(r.status, 409, "{}", r.text);

    let events = api.call("GET", "/api/v1/events?kind=analytics.status_changed", &a_admin, None).await.json();
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
    let events = api.call("GET", "/api/v1/events?kind=analytics.detection", &b_op, None).await.json();
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "bravo sees only its own");
}

#[tokio::test]
async fn the_policy_is_for_tenant_admins_and_its_actions_are_undone_with_a_step_up() {
    let (api, (a_admin, a_op, _), (b_admin, _, _)) = two_tenants().await;
    // Without a policy: nothing agreed, no action, pseudonyms.
    let r = api.call("GET", "/api/v1/analytics/policy", &a_admin, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["agreed"].as_bool(), v["default_action"].as_str(), v["pseudonymise"].as_bool()),
        (Some(false), Some("none"), Some(true))
    );
    assert_eq!(api.call("GET", "/api/v1/analytics/policy", &a_op, None).await.status, 403);
    let body = json!({"actions": {"scanning": "quarantine"}, "min_score": 0.7});
    assert_eq!(api.call("PUT", "/api/v1/analytics/policy", &a_op, Some(body.clone())).await.status, 403);
    for bad in [
        json!({"actions": {"scanning": "nuke"}}),
        json!({"actions": {"Bad Kind": "alert"}}),
        json!({"min_score": 2.0}),
        json!({"dns_days": 0}),
        json!({"default_action": null}),
    ] {
        let r = api.call("PUT", "/api/v1/analytics/policy", &a_admin, Some(bad.clone())).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let r = api.call("PUT", "/api/v1/analytics/policy", &a_admin, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["agreed"].as_bool(), v["actions"]["scanning"].as_str(), v["default_action"].as_str()),
        (Some(true), Some("quarantine"), Some("alert"))
    );
    // bravo's admin neither reads nor writes alpha's policy.
    assert_eq!(api.call("GET", "/api/v1/analytics/policy?tenant=alpha", &b_admin, None).await.status, 404);
    assert!(!api.call("GET", "/api/v1/analytics/policy", &b_admin, None).await.json()["agreed"].as_bool().unwrap());
    // The operator names the tenant.
    let op = api.operator.clone();
    assert_eq!(api.call("GET", "/api/v1/analytics/policy", &op, None).await.status, 422);
    assert_eq!(api.call("GET", "/api/v1/analytics/policy?tenant=alpha", &op, None).await.json()["agreed"], true);

    // The policy acts: the SIM is quarantined and the PCRF told.
    let r = report(&api, "q-1", A1, "alpha", "scanning", 0.9).await;
    assert_eq!(r.action, Some(store::analytics::DetectionAction::Quarantine));
    let p = api.call("GET", &format!("/api/v1/sims/{A1}/policy"), &a_op, None).await.json();
    assert_eq!(p["effective"]["traffic"], "quarantined");
    assert!(api.hss.0.lock().unwrap().contains(&(A1.to_string(), "policy".to_string())));

    // A person needs a step-up to undo; a token does not.
    let body = json!({"username": "olga", "password": "correct horse battery staple zulu", "role": "tenant_operator", "tenant": "alpha"});
    assert_eq!(api.call("POST", "/api/v1/users", &op, Some(body)).await.status, 201);
    api.password_only("alpha").await;
    let login = json!({"username": "olga", "password": "correct horse battery staple zulu"});
    let olga =
        api.call("POST", "/api/v1/auth/login", "", Some(login)).await.json()["token"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/analytics/detections/q-1/undo", &olga, None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("step-up-required"), "{}", r.text);
    let r = api.call("POST", "/api/v1/analytics/detections/q-1/undo", &a_op, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["action_undone_at"].is_i64());
    let p = api.call("GET", &format!("/api/v1/sims/{A1}/policy"), &a_op, None).await.json();
    assert_ne!(p["effective"]["traffic"], "quarantined");
    assert_eq!(api.call("POST", "/api/v1/analytics/detections/q-1/undo", &a_op, None).await.status, 409);

    let audit = api.call("GET", "/api/v1/audit", &op, None).await.json();
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("sim.quarantine", "automated:analytics")), "{actions:?}");
    assert!(actions.contains(&("analytics.act", "automated:analytics")), "{actions:?}");
    assert!(actions.iter().any(|(a, _)| *a == "analytics.undo"), "{actions:?}");
    assert!(actions.iter().any(|(a, _)| *a == "analytics.set_policy"), "{actions:?}");
}

#[tokio::test]
async fn health_dashboard_and_stix_export_hide_imsis_unless_opted_out() {
    let (api, (a_admin, _a_op, a_viewer), (_b_admin, b_op, _)) = two_tenants().await;
    report(&api, "h-1", A1, "alpha", "scanning", 0.8).await;
    report(&api, "h-2", A2, "alpha", "excessive_signalling", 0.5).await;
    report(&api, "h-3", B1, "bravo", "scanning", 0.9).await;

    let r = api.call("GET", "/api/v1/analytics/health", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = r.json();
    assert_eq!(h["score"], 100 - 8 - 5, "{h}");
    assert_eq!(h["reasons"][0]["code"], "detections:scanning");
    assert_eq!(h["top_devices"].as_array().unwrap().len(), 2);
    assert!(!r.text.contains(A1) && !r.text.contains(A2));

    let r = api.call("GET", "/api/v1/analytics/dashboard?days=7", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.json();
    assert_eq!(d["by_kind_day"].as_array().unwrap().len(), 2);
    assert_eq!(d["pseudonymised"], true);
    assert!(!r.text.contains(A1) && !r.text.contains(A2) && !r.text.contains(B1), "{}", r.text);
    assert_eq!(api.call("GET", "/api/v1/analytics/dashboard?days=0", &a_viewer, None).await.status, 422);

    let r = api.call("GET", "/api/v1/analytics/export.stix", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type(), "application/stix+json;version=2.1");
    assert!(!r.text.contains(A1) && !r.text.contains(A2) && !r.text.contains(B1), "{}", r.text);
    let bundle = r.json();
    assert_eq!(bundle["type"], "bundle");
    let sightings: Vec<_> = bundle["objects"].as_array().unwrap().iter().filter(|o| o["type"] == "sighting").collect();
    assert_eq!(sightings.len(), 2, "alpha's only");
    let device = d["top_devices"][0]["device"].as_str().unwrap();
    assert!(r.text.contains(device), "the same pseudonym in the dashboard and the export");

    // bravo's views hold nothing of alpha's.
    let r = api.call("GET", "/api/v1/analytics/export.stix", &b_op, None).await;
    assert_eq!(r.json()["objects"].as_array().unwrap().iter().filter(|o| o["type"] == "sighting").count(), 1);
    assert_eq!(api.call("GET", "/api/v1/analytics/health?tenant=alpha", &b_op, None).await.status, 404);

    // Opted out: IMSIs.
    let r = api.call("PUT", "/api/v1/analytics/policy", &a_admin, Some(json!({"pseudonymise": false}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("GET", "/api/v1/analytics/dashboard", &a_viewer, None).await;
    assert!(r.text.contains(A1), "{}", r.text);
}

fn ids_of(r: &common::Answer) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_issue_paths_serve_detections_health_and_indicators_within_the_tenant() {
    let (api, (_a_admin, _a_op, a_viewer), (_b_admin, b_op, b_viewer)) = two_tenants().await;
    // Midnight (UTC) three days ago: recent enough for any retention.
    let day1 = (store::now() / 86_400 - 3) * 86_400;
    let t = |secs: i64| utc::rfc3339(day1 + secs).unwrap();
    // alpha: a scan on day 1 (seen again on day 3), DNS tunnelling on day 2; bravo: a scan on day 2.
    report_at(&api, "a-scan", A1, "alpha", "scanning", 0.8, day1 + 3600).await;
    report_at(&api, "a-scan", A1, "alpha", "scanning", 0.8, day1 + 2 * 86_400 + 3600).await;
    report_at(&api, "a-dns", A2, "alpha", "dns_tunnelling", 0.6, day1 + 86_400 + 3600).await;
    report_at(&api, "b-scan", B1, "bravo", "scanning", 0.9, day1 + 86_400 + 7200).await;

    let get = |q: &str, tok: &str| {
        let path = format!("/api/v1/detections{q}");
        let tok = tok.to_string();
        let api = &api;
        async move { api.call("GET", &path, &tok, None).await }
    };
    // Tenant isolation: bravo's detection never appears for alpha, whatever the filter.
    assert_eq!(ids_of(&get("", &a_viewer).await), ["a-scan", "a-dns"]);
    for q in
        ["?kind=scanning".to_string(), format!("?sim={B1}"), format!("?imsi={B1}"), format!("?since={}", t(86_400))]
    {
        let ids = ids_of(&get(&q, &a_viewer).await);
        assert!(!ids.contains(&"b-scan".to_string()), "{q}: {ids:?}");
    }
    assert!(ids_of(&get(&format!("?sim={B1}"), &a_viewer).await).is_empty());
    assert_eq!(ids_of(&get("", &b_viewer).await), ["b-scan"]);

    // Each filter.
    assert_eq!(ids_of(&get("?kind=scanning", &a_viewer).await), ["a-scan"]);
    assert_eq!(ids_of(&get("?kind=dns_tunnelling", &a_viewer).await), ["a-dns"]);
    assert_eq!(ids_of(&get(&format!("?sim={A2}"), &a_viewer).await), ["a-dns"]);
    assert_eq!(ids_of(&get(&format!("?imsi={A1}"), &a_viewer).await), ["a-scan"]);
    assert_eq!(ids_of(&get(&format!("?sim={A1}&imsi={A1}"), &a_viewer).await), ["a-scan"]);
    assert_eq!(ids_of(&get("?status=open", &a_viewer).await), ["a-scan", "a-dns"]);
    // since: last seen at or after; until: first seen at or before (the window they were seen in).
    assert_eq!(ids_of(&get(&format!("?since={}", t(86_400 + 43_200)), &a_viewer).await), ["a-scan"]);
    assert_eq!(ids_of(&get(&format!("?since={}", t(3 * 86_400)), &a_viewer).await), Vec::<String>::new());
    assert_eq!(ids_of(&get(&format!("?until={}", t(43_200)), &a_viewer).await), ["a-scan"]);
    assert_eq!(ids_of(&get(&format!("?until={}", t(-1)), &a_viewer).await), Vec::<String>::new());
    assert_eq!(
        ids_of(
            &get(&format!("?since={}&until={}", t(86_400), t(86_400 + 7200).replace('Z', "%2B01:00")), &a_viewer).await
        ),
        ["a-scan", "a-dns"],
        "an offset: 02:00+01:00 is 01:00Z, the DNS detection's time"
    );
    assert_eq!(ids_of(&get(&format!("?since={}&until={}", t(86_400), t(86_400 + 3599)), &a_viewer).await), ["a-scan"]);
    // Paging like the other lists.
    let first = get("?limit=1", &a_viewer).await.json();
    assert_eq!(first["items"][0]["id"], "a-scan");
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(ids_of(&get(&format!("?limit=1&cursor={cursor}"), &a_viewer).await), ["a-dns"]);

    // Bad values: a 400 problem that names the parameter.
    for (q, name) in [
        ("?since=yesterday", "since"),
        ("?since=1796083200", "since"),
        ("?until=2026-13-01T00:00:00Z", "until"),
        ("?until=2026-12-01T00:00:00", "until"),
        (format!("?since={}&until={}", t(2 * 86_400), t(0)).as_str(), "since"),
        ("?sim=12ab", "sim"),
        ("?imsi=12ab", "imsi"),
        (format!("?sim={A1}&imsi={A2}").as_str(), "sim"),
        ("?kind=Bad-Kind", "kind"),
        ("?status=closed", "status"),
        ("?cursor=zz", "cursor"),
        ("?limit=0", "limit"),
        ("?limit=x", "limit"),
        ("?colour=red", "colour"),
    ] {
        let r = get(q, &a_viewer).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert!(r.content_type().starts_with("application/problem+json"), "{q}: {}", r.content_type());
        assert!(r.json()["detail"].as_str().unwrap_or("").contains(name), "{q}: {}", r.text);
    }

    // /health-check: alpha's score and reasons, the same as /analytics/health; bravo cannot ask for alpha's.
    let r = api.call("GET", "/api/v1/health-check", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = r.json();
    assert_eq!(h, api.call("GET", "/api/v1/analytics/health", &a_viewer, None).await.json());
    assert_eq!(h["tenant"], "alpha");
    assert!(h["score"].as_u64().unwrap() < 100, "{h}");
    let kinds: Vec<&str> = h["top_risks"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{h}");
    assert!(kinds.contains(&"scanning") && kinds.contains(&"dns_tunnelling"), "{h}");
    assert!(h["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "detections:scanning"), "{h}");
    assert_eq!(api.call("GET", "/api/v1/health-check?tenant=alpha", &b_op, None).await.status, 404);
    assert_eq!(api.call("GET", "/api/v1/health-check", "not-a-token", None).await.status, 401);

    // /indicators: the STIX 2.1 bundle of the caller's tenant only.
    let r = api.call("GET", "/api/v1/indicators", &a_viewer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type(), "application/stix+json;version=2.1");
    let bundle = r.json();
    assert_eq!(bundle["type"], "bundle");
    let sightings =
        |b: &serde_json::Value| b["objects"].as_array().unwrap().iter().filter(|o| o["type"] == "sighting").count();
    assert_eq!(sightings(&bundle), 2, "alpha's two");
    assert!(!r.text.contains(B1) && !r.text.contains(A1), "pseudonyms, nothing of bravo's");
    let b = api.call("GET", "/api/v1/indicators", &b_viewer, None).await.json();
    assert_eq!(sightings(&b), 1);
}
