//! Tenant isolation probed with every endpoint and verb: tenant A's tokens can neither read nor change
//! tenant B's SIMs, jobs, events, tokens, users, rules, webhooks or audit records; viewers cannot
//! write; tenant roles cannot do operator administration; keys never appear in any response.

mod common;

use common::{Api, K, OPC};
use serde_json::json;

#[tokio::test]
async fn tenant_a_cannot_touch_tenant_b() {
    let api = Api::with_settings(api::Settings { webhook_allow_private: true, ..Default::default() }).await;
    let (a_admin, a_op, a_view) = api.tenant("alpha").await;
    let (b_admin, b_op, _b_view) = api.tenant("bravo").await;
    api.sims("alpha", 1010000000001, 2, "standard").await;
    api.sims("bravo", 1010000000501, 2, "standard").await;

    // Resources of B.
    let b_sim = "001010000000501";
    assert_eq!(
        api.call("PATCH", &format!("/api/v1/sims/{b_sim}"), &b_op, Some(json!({"status": "active"}))).await.status,
        200
    );
    let job = api
        .call(
            "POST",
            "/api/v1/jobs",
            &b_op,
            Some(json!({"status": "active", "selection": {"imsis": ["001010000000502"]}})),
        )
        .await;
    assert_eq!(job.status, 202, "{}", job.text);
    let b_job = job.json()["id"].as_str().unwrap().to_string();
    api.wait_job(&b_job, &b_op).await;
    let b_rule = api
        .call(
            "POST",
            "/api/v1/rules",
            &b_admin,
            Some(json!({"kind": "signalling", "max_per_hour": 10, "action": "event"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_hook =
        api.call("POST", "/api/v1/webhooks", &b_admin, Some(json!({"url": "http://127.0.0.1:9/hook"}))).await.json()
            ["webhook"]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let b_tokens = api.call("GET", "/api/v1/tokens", &b_admin, None).await.json();
    let b_token = b_tokens["items"][0]["id"].as_str().unwrap().to_string();
    let b_user = api
        .call("POST", "/api/v1/users", &b_admin, Some(json!({"username": "bob.bravo", "password": "correct horse battery staple zulu", "role": "tenant_viewer"})))
        .await;
    assert_eq!(b_user.status, 201, "{}", b_user.text);
    let b_user = b_user.json()["id"].as_str().unwrap().to_string();

    // Direct access to B's resources by every A role: 404 (not even existence is revealed) or 403.
    for tok in [&a_admin, &a_op, &a_view] {
        let probes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
            ("GET", format!("/api/v1/sims/{b_sim}"), None),
            ("PATCH", format!("/api/v1/sims/{b_sim}"), Some(json!({"status": "suspended"}))),
            ("PATCH", format!("/api/v1/sims/{b_sim}"), Some(json!({"profile": "alarm"}))),
            ("PUT", format!("/api/v1/sims/{b_sim}/protection"), Some(json!({"lifted": true}))),
            ("GET", format!("/api/v1/jobs/{b_job}"), None),
            ("GET", format!("/api/v1/jobs/{b_job}/items"), None),
            ("POST", format!("/api/v1/jobs/{b_job}/cancel"), None),
            ("DELETE", format!("/api/v1/rules/{b_rule}"), None),
            ("DELETE", format!("/api/v1/webhooks/{b_hook}"), None),
            ("DELETE", format!("/api/v1/tokens/{b_token}"), None),
            ("DELETE", format!("/api/v1/users/{b_user}"), None),
        ];
        for (m, p, body) in probes {
            let r = api.call(m, &p, tok, body).await;
            assert!(matches!(r.status.as_u16(), 403 | 404), "{m} {p} gave {}: {}", r.status, r.text);
            assert_eq!(r.content_type(), "application/problem+json");
        }
        // Creating things in B's name.
        for (p, body) in [
            ("/api/v1/jobs", json!({"status": "suspended", "tenant": "bravo", "selection": {"imsis": [b_sim]}})),
            ("/api/v1/rules", json!({"kind": "signalling", "max_per_hour": 1, "action": "suspend", "tenant": "bravo"})),
            ("/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/x", "tenant": "bravo"})),
            ("/api/v1/tokens", json!({"name": "x", "role": "tenant_admin", "tenant": "bravo"})),
            (
                "/api/v1/users",
                json!({"username": "mallory", "password": "correct horse battery staple zulu", "role": "tenant_admin", "tenant": "bravo"}),
            ),
            ("/api/v1/sims", json!({"tenant": "bravo", "sims": [{"imsi": "001010000000999", "k": K, "opc": OPC}]})),
            ("/api/v1/tenants", json!({"name": "charlie"})),
            ("/api/v1/ranges", json!({"imsi_from": "001010000000000", "imsi_to": "001010000000999", "segment": "iot"})),
        ] {
            let r = api.call("POST", p, tok, Some(body)).await;
            assert!(matches!(r.status.as_u16(), 403 | 404), "POST {p} gave {}: {}", r.status, r.text);
        }
        // A job by list naming B's SIM changes nothing of B's.
        if tok != &a_view {
            let r = api
                .call(
                    "POST",
                    "/api/v1/jobs",
                    tok,
                    Some(json!({"status": "suspended", "selection": {"imsis": [b_sim]}})),
                )
                .await;
            assert_eq!(r.status, 202);
            let j = api.wait_job(r.json()["id"].as_str().unwrap(), tok).await;
            assert_eq!((j["failed"].as_i64(), j["succeeded"].as_i64()), (Some(1), Some(0)));
            let items =
                api.call("GET", &format!("/api/v1/jobs/{}/items", j["id"].as_str().unwrap()), tok, None).await.json();
            assert_eq!(items["items"][0]["detail"], "SIM not found");
        }
        // Lists show only A's.
        for p in ["/api/v1/sims", "/api/v1/jobs", "/api/v1/events", "/api/v1/rules", "/api/v1/webhooks"] {
            let r = api.call("GET", p, tok, None).await;
            assert_eq!(r.status, 200, "{p}");
            for item in r.json()["items"].as_array().unwrap() {
                let t = item.get("tenant").and_then(|t| t.as_str());
                assert_eq!(t, Some("alpha"), "{p} leaked {item}");
            }
        }
        for p in ["/api/v1/tokens", "/api/v1/users", "/api/v1/audit"] {
            let r = api.call("GET", p, tok, None).await;
            if tok == &a_admin {
                assert_eq!(r.status, 200, "{p}");
                for item in r.json()["items"].as_array().unwrap() {
                    assert_eq!(item["tenant"], "alpha", "{p} leaked {item}");
                }
            } else {
                assert_eq!(r.status, 403, "{p} for a non-admin");
            }
        }
        let r = api.call("GET", "/api/v1/sims?imsi_from=001010000000500", tok, None).await;
        assert!(r.json()["items"].as_array().unwrap().is_empty());
    }
    // B is untouched.
    let b = api.call("GET", &format!("/api/v1/sims/{b_sim}"), &b_op, None).await.json();
    assert_eq!(b["status"], "active");
    assert_eq!(b["profile"], "meter");
    assert_eq!(api.call("GET", "/api/v1/rules", &b_admin, None).await.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.call("GET", "/api/v1/webhooks", &b_admin, None).await.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.call("GET", "/api/v1/me", &b_admin, None).await.status, 200, "B's tokens still live");
}

#[tokio::test]
async fn viewers_cannot_write_anything() {
    let api = Api::new().await;
    let (_, _, view) = api.tenant("alpha").await;
    api.sims("alpha", 1010000000001, 1, "standard").await;
    for (m, p, body) in [
        ("PATCH", "/api/v1/sims/001010000000001", json!({"status": "active"})),
        ("POST", "/api/v1/jobs", json!({"status": "active", "selection": {"imsis": ["001010000000001"]}})),
        ("POST", "/api/v1/rules", json!({"kind": "signalling", "max_per_hour": 5, "action": "event"})),
        ("POST", "/api/v1/webhooks", json!({"url": "https://example.com/h"})),
        ("POST", "/api/v1/tokens", json!({"name": "x", "role": "tenant_viewer"})),
        (
            "POST",
            "/api/v1/users",
            json!({"username": "vvv", "password": "correct horse battery staple v", "role": "tenant_viewer"}),
        ),
    ] {
        let r = api.call(m, p, &view, Some(body)).await;
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text);
    }
    assert_eq!(api.call("GET", "/api/v1/sims/001010000000001", &view, None).await.json()["status"], "inventory");
}

#[tokio::test]
async fn tenant_admins_cannot_escalate() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("alpha").await;
    let r = api.call("POST", "/api/v1/tokens", &admin, Some(json!({"name": "x", "role": "operator_admin"}))).await;
    assert_eq!(r.status, 403);
    let r = api
        .call(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"username": "root2", "password": "correct horse battery staple z", "role": "operator_admin"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = api.call("POST", "/api/v1/tokens", &admin, Some(json!({"name": "ops", "role": "tenant_operator"}))).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["token"]["tenant"], "alpha", "a tenant admin's tokens belong to its tenant");
    for p in ["/api/v1/tenants"] {
        assert_eq!(api.call("GET", p, &admin, None).await.status, 403);
    }
}

#[tokio::test]
async fn bad_credentials_are_refused_uniformly() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("alpha").await;
    let forged = format!("{}{}", &admin[..admin.len() - 1], if admin.ends_with('0') { '1' } else { '0' });
    for tok in ["", "nonsense", "wdn_0000000000000000_00", forged.as_str()] {
        let r = api.call("GET", "/api/v1/sims", tok, None).await;
        assert_eq!(r.status, 401, "{tok}");
        assert_eq!(r.content_type(), "application/problem+json");
        assert!(r.headers.get("www-authenticate").is_some());
    }
    let id = api.call("GET", "/api/v1/me", &admin, None).await.json()["token_id"].as_str().unwrap().to_string();
    let operator = api.operator.clone();
    assert_eq!(api.call("DELETE", &format!("/api/v1/tokens/{id}"), &operator, None).await.status, 204);
    assert_eq!(api.call("GET", "/api/v1/sims", &admin, None).await.status, 401, "revoked");
}
