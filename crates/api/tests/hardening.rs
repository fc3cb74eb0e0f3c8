//! Regression tests for the findings of the adversarial review of the API (issue #12): each failed on
//! the code before the fix. Deleted users' credentials, the lockout on password changes, usernames
//! per tenant, sessions revoked by user and not by name, unknown fields and control characters,
//! the operator's identity in tenants' audit trails, data barring of critical SIMs, and answers kept
//! for `Idempotency-Key` sealed at rest.

mod common;

use common::Api;
use serde_json::json;

const GOOD: &str = "plum tractor evening lighthouse";

async fn create_user(api: &Api, admin: &str, username: &str, role: &str) -> String {
    let body = json!({"username": username, "password": GOOD, "role": role});
    let r = api.call("POST", "/api/v1/users", admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn login(api: &Api, tenant: Option<&str>, username: &str, password: &str) -> common::Answer {
    let mut body = json!({"username": username, "password": password});
    if let Some(t) = tenant {
        body["tenant"] = json!(t);
    }
    api.call("POST", "/api/v1/auth/login", "", Some(body)).await
}

async fn session(api: &Api, tenant: Option<&str>, username: &str) -> String {
    let r = login(api, tenant, username, GOOD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn deleting_a_user_revokes_its_sessions_and_the_tokens_it_issued() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let id = create_user(&api, &admin, "bob", "tenant_admin").await;
    // Bob's session (opened with a second factor just now, so it may issue tokens) issues a token that
    // never expires, with his own role.
    let (_, bob) = api.enrol_totp(Some("acme"), "bob", GOOD).await;
    let r =
        api.call("POST", "/api/v1/tokens", &bob, Some(json!({"name": "bob's script", "role": "tenant_admin"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let issued = r.json()["secret"].as_str().unwrap().to_string();
    // A token the admin's own API token issues does not derive from any person.
    let r = api.call("POST", "/api/v1/tokens", &admin, Some(json!({"name": "ci", "role": "tenant_viewer"}))).await;
    let unrelated = r.json()["secret"].as_str().unwrap().to_string();
    for t in [&bob, &issued, &unrelated] {
        assert_eq!(api.call("GET", "/api/v1/me", t, None).await.status, 200);
    }

    assert_eq!(api.call("DELETE", &format!("/api/v1/users/{id}"), &admin, None).await.status, 204);
    assert_eq!(api.call("GET", "/api/v1/me", &bob, None).await.status, 401, "the session died with the user");
    assert_eq!(api.call("GET", "/api/v1/me", &issued, None).await.status, 401, "so did the token it issued");
    let r = api.call("POST", "/api/v1/tokens", &issued, Some(json!({"name": "x", "role": "tenant_admin"}))).await;
    assert_eq!(r.status, 401, "and it can issue nothing more");
    assert_eq!(api.call("GET", "/api/v1/me", &unrelated, None).await.status, 200, "others' tokens live on");
    let audit = api.call("GET", "/api/v1/audit?limit=1000", &admin, None).await.json();
    let delete = audit["items"].as_array().unwrap().iter().find(|a| a["action"] == "user.delete").unwrap().clone();
    assert_eq!(delete["after"], r#"{"credentials_revoked":2}"#, "{delete}");
}

#[tokio::test]
async fn a_wrong_current_password_counts_toward_the_lockout() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "erin", "tenant_viewer").await;
    for _ in 0..12 {
        let body = json!({"tenant": "acme", "username": "erin", "current_password": "guess guess guess guess",
                          "new_password": "violet anchor meadow compass"});
        assert_eq!(api.call("POST", "/api/v1/auth/password", "", Some(body)).await.status, 401);
    }
    let r = login(&api, Some("acme"), "erin", GOOD).await;
    assert_eq!(r.status, 401, "the account is locked after the failed changes: {}", r.text);
    let audit = api.call("GET", "/api/v1/audit?limit=1000", &admin, None).await.json();
    let failed = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "auth.password_change" && a["after"] == "\"failed\"")
        .count();
    assert!(failed >= 5, "failed changes are audited ({failed})");
}

#[tokio::test]
async fn usernames_belong_to_a_tenant_and_do_not_leak_across_tenants() {
    let api = Api::new().await;
    let (acme, _, _) = api.tenant("acme").await;
    let (bravo, _, _) = api.tenant("bravo").await;
    api.password_only("acme").await;
    api.password_only("bravo").await;
    create_user(&api, &acme, "carol", "tenant_viewer").await;
    // Before, bravo got 409 here and so learnt that "carol" exists somewhere.
    create_user(&api, &bravo, "carol", "tenant_admin").await;
    let r = api
        .call(
            "POST",
            "/api/v1/users",
            &acme,
            Some(json!({"username": "carol", "password": GOOD, "role": "tenant_viewer"})),
        )
        .await;
    assert_eq!(r.status, 409, "within one tenant a name is still unique");

    let a = session(&api, Some("acme"), "carol").await;
    let b = session(&api, Some("bravo"), "carol").await;
    assert_eq!(api.call("GET", "/api/v1/me", &a, None).await.json()["tenant"], "acme");
    assert_eq!(api.call("GET", "/api/v1/me", &b, None).await.json()["tenant"], "bravo");
    let ambiguous = login(&api, None, "carol", GOOD).await;
    let unknown = login(&api, None, "nobody", GOOD).await;
    assert_eq!((ambiguous.status.as_u16(), &ambiguous.text), (401, &unknown.text), "a shared name needs the tenant");
    assert_eq!(login(&api, Some("bravo"), "nobody", GOOD).await.text, unknown.text);

    // Resetting acme's carol revokes her sessions only, not bravo's carol's (before: by name).
    let id = api.call("GET", "/api/v1/users", &acme, None).await.json()["items"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"new_password": "quiet harbour saffron telescope"});
    assert_eq!(api.call("PUT", &format!("/api/v1/users/{id}/password"), &acme, Some(body)).await.status, 204);
    assert_eq!(api.call("GET", "/api/v1/me", &a, None).await.status, 401);
    assert_eq!(api.call("GET", "/api/v1/me", &b, None).await.status, 200, "another tenant's session survives");
}

#[tokio::test]
async fn session_names_are_reserved_for_logins() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let r = api
        .call("POST", "/api/v1/tokens", &admin, Some(json!({"name": "session:dave", "role": "tenant_viewer"})))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}

#[tokio::test]
async fn unknown_fields_and_parameters_are_refused() {
    let api = Api::new().await;
    api.tenant("acme").await;
    let sim = json!({"imsi": "001010000000001", "k": common::K, "opc": common::OPC, "priorty": "critical"});
    let r =
        api.call("POST", "/api/v1/sims", &api.operator.clone(), Some(json!({"tenant": "acme", "sims": [sim]}))).await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert!(r.text.contains("priorty"), "the error names the field: {}", r.text);
    let r = api.call("GET", "/api/v1/sims/001010000000001", &api.operator.clone(), None).await;
    assert_eq!(r.status, 404, "nothing was imported");
    let r = api.call("GET", "/api/v1/sims?limit=5&statuss=active", &api.operator.clone(), None).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn control_and_reordering_characters_are_refused_in_names() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    for name in ["ci\u{0}", "line\nbreak", "\u{1b}[2Jclear", "invoice\u{202E}gpj.exe", "x\u{2067}y"] {
        let r = api.call("POST", "/api/v1/tokens", &admin, Some(json!({"name": name, "role": "tenant_viewer"}))).await;
        assert_eq!(r.status, 422, "{name:?}: {}", r.text);
    }
    let body =
        json!({"imsi_from": "001010000000000", "imsi_to": "001010000000099", "segment": "iot", "note": "a\u{202E}b"});
    let r = api.call("POST", "/api/v1/ranges", &api.operator.clone(), Some(body)).await;
    assert_eq!(r.status, 422, "{}", r.text);
}

#[tokio::test]
async fn tenants_see_the_operator_as_operator_in_their_audit_trail() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let operator_token_id = api.operator.split('_').nth(1).unwrap().to_string();
    let page = api.call("GET", "/api/v1/audit?limit=1000", &admin, None).await;
    let items = page.json()["items"].as_array().unwrap().clone();
    let by_operator: Vec<_> = items.iter().filter(|a| a["role"] == "operator_admin").collect();
    assert!(!by_operator.is_empty(), "the operator created the tenant's tokens");
    assert!(by_operator.iter().all(|a| a["actor"] == "operator" && a["source"] == "operator"), "{by_operator:?}");
    assert!(!page.text.contains(&operator_token_id) && !page.text.contains("token:root"), "{}", page.text);
    // The operator still sees who it was.
    let own = api.call("GET", "/api/v1/audit?limit=1000", &api.operator.clone(), None).await;
    assert!(own.text.contains(&format!("token:root({operator_token_id})")));
}

#[tokio::test]
async fn a_tenant_cannot_bar_a_critical_sims_data_until_the_operator_lifts_protection() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "critical").await;
    let imsi = "001010000000001";
    api.call("PATCH", &format!("/api/v1/sims/{imsi}"), &op, Some(json!({"status": "active"}))).await;
    let r = api.call("PATCH", &format!("/api/v1/sims/{imsi}"), &op, Some(json!({"data_barred": true}))).await;
    assert_eq!(r.status, 409, "protected like a suspension: {}", r.text);
    assert!(r.text.contains("protection"), "{}", r.text);
    let sim = api.call("GET", &format!("/api/v1/sims/{imsi}"), &op, None).await.json();
    assert_eq!(sim["data_barred"], false);
    let (_, first) = api.operator_person("ops.one").await;
    let r = api.call("PUT", &format!("/api/v1/sims/{imsi}/protection"), &first, Some(json!({"lifted": true}))).await;
    assert_eq!(r.status, 202, "lifting waits for a second person: {}", r.text);
    let id = r.json()["approval"]["id"].as_str().unwrap().to_string();
    let (_, second) = api.operator_person("ops.two").await;
    let r = api.call("POST", &format!("/api/v1/approvals/{id}/approve"), &second, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("PATCH", &format!("/api/v1/sims/{imsi}"), &op, Some(json!({"data_barred": true}))).await;
    assert_eq!((r.status.as_u16(), r.json()["data_barred"].as_bool()), (200, Some(true)), "{}", r.text);
    let r = api.call("PATCH", &format!("/api/v1/sims/{imsi}"), &op, Some(json!({"data_barred": false}))).await;
    assert_eq!(r.status, 200, "unbarring is always allowed");
}

#[tokio::test]
async fn answers_kept_for_idempotency_keys_are_sealed_at_rest() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    let body = json!({"name": "deploy", "role": "tenant_viewer"}).to_string();
    let headers = [("idempotency-key", "issue-deploy-1")];
    let first = api.raw("POST", "/api/v1/tokens", &admin, Some(body.clone()), &headers).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = api.raw("POST", "/api/v1/tokens", &admin, Some(body), &headers).await;
    assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again.text, first.text, "the replay still answers the secret to the caller who asked");
    let secret = first.json()["secret"].as_str().unwrap().to_string();
    let hidden = secret.rsplit('_').next().unwrap().to_string();
    // Whatever SQLite has written so far (database and write-ahead log) holds no trace of it.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(api.dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(hidden.len()).any(|w| w == hidden.as_bytes()), "the bearer secret is stored in clear");
}
