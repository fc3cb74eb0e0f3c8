//! Step-up and second-person approval (issue #15, SEC-8, SUB-4) through the API: a person's session
//! whose second factor is older than five minutes is refused sensitive tasks with
//! `step-up-required` until `POST /me/step-up` proves a fresh code (wrong and replayed codes refused);
//! the audit trail names the factor; terminating or unprotecting a critical SIM waits for a second
//! person, who is never the requester (not even through a token the requester issued); two approvers
//! racing decide once; another tenant sees nothing of the request; bulk jobs leave critical SIMs to
//! the approval path.

mod common;

use common::{totp_code, Api};
use serde_json::{json, Value};

const GOOD: &str = "plum tractor evening lighthouse";
const STEP_UP: &str = "urn:warden:problem:step-up-required";

async fn create_user(api: &Api, admin: &str, username: &str, role: &str) {
    let body = json!({"username": username, "password": GOOD, "role": role});
    let r = api.call("POST", "/api/v1/users", admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Makes every second factor proved so far `secs` older (as if the person had stepped away).
async fn age_factors(api: &Api, secs: i64) {
    let url = format!("sqlite://{}/t.db", api.dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE api_tokens SET factor_at = factor_at - ? WHERE factor_at IS NOT NULL")
        .bind(secs)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn password_login(api: &Api, username: &str) -> String {
    let body = json!({"tenant": "acme", "username": username, "password": GOOD});
    let r = api.call("POST", "/api/v1/auth/login", "", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

async fn set_status(api: &Api, token: &str, imsi: &str, status: &str) -> common::Answer {
    api.call("PATCH", &format!("/api/v1/sims/{imsi}"), token, Some(json!({"status": status}))).await
}

async fn audit(api: &Api) -> Vec<Value> {
    let r = api.call("GET", "/api/v1/audit?limit=1000", &api.operator.clone(), None).await;
    r.json()["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn sensitive_tasks_need_a_second_factor_from_the_last_five_minutes() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, op_token, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 2, "standard").await;
    let imsi = "001010000000001";
    for s in ["active", "suspended"] {
        assert_eq!(set_status(&api, &op_token, imsi, s).await.status, 200);
    }
    create_user(&api, &admin, "alice", "tenant_admin").await;
    let (secret, alice) = api.enrol_totp(Some("acme"), "alice", GOOD).await;
    age_factors(&api, 301).await;

    // Everything sensitive is refused, with the problem type the portal reacts to; nothing changes.
    let r = set_status(&api, &alice, imsi, "terminated").await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("/me/step-up"), "{}", r.text);
    let r = api.call("POST", "/api/v1/tokens", &alice, Some(json!({"name": "ci", "role": "tenant_viewer"}))).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "{}", r.text);
    let hook = json!({"url": "https://hooks.example.com/warden"});
    let r = api.call("POST", "/api/v1/webhooks", &alice, Some(hook)).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "{}", r.text);
    let job = json!({"status": "terminated", "selection": {"imsis": [imsi]}});
    let r = api.call("POST", "/api/v1/jobs", &alice, Some(job)).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "{}", r.text);
    let user = json!({"username": "mallory", "password": GOOD, "role": "tenant_admin"});
    let r = api.call("POST", "/api/v1/users", &alice, Some(user)).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "a new account is a second key: {}", r.text);
    let rule = json!({"kind": "imei_lock", "mode": "first_seen", "action": "suspend", "imsis": [imsi]});
    let r = api.call("POST", "/api/v1/rules", &alice, Some(rule)).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "a rule acts like a bulk job: {}", r.text);
    let sim = api.call("GET", &format!("/api/v1/sims/{imsi}"), &alice, None).await.json();
    assert_eq!(sim["status"], "suspended");
    // Reading and everyday changes need no step-up.
    assert_eq!(set_status(&api, &alice, "001010000000002", "active").await.status, 200);

    // A wrong code counts as a failure; the right one steps up; the same code cannot be replayed.
    let code = totp_code(&secret, 30);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = api.call("POST", "/api/v1/me/step-up", &alice, Some(json!({"method": "totp", "code": wrong}))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = api.call("POST", "/api/v1/me/step-up", &alice, Some(json!({"method": "totp", "code": code}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["factor"], "totp");
    assert!(r.json()["fresh_until"].as_i64().unwrap() > store::now() + 290);
    let r = api.call("POST", "/api/v1/me/step-up", &alice, Some(json!({"code": code}))).await;
    assert_eq!(r.status, 401, "a code is good once: {}", r.text);

    let r = set_status(&api, &alice, imsi, "terminated").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entry = audit(&api)
        .await
        .into_iter()
        .find(|e| e["action"] == "sim.set_status" && e["after"] == "\"terminated\"")
        .expect("termination audited");
    assert!(entry["actor"].as_str().unwrap().ends_with("step-up:totp"), "{entry}");
    assert!(audit(&api).await.iter().any(|e| e["action"] == "auth.step_up"), "the step-up itself is audited");

    // API tokens do not step up: they carry the role they were issued with.
    let r = api.call("POST", "/api/v1/me/step-up", &admin, Some(json!({"code": totp_code(&secret, 60)}))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    for s in ["suspended", "terminated"] {
        assert_eq!(set_status(&api, &admin, "001010000000002", s).await.status, 200, "{s}");
    }
}

#[tokio::test]
async fn terminating_a_critical_sim_takes_a_second_person() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, op_token, viewer) = api.tenant("acme").await;
    let (other, _, _) = api.tenant("globex").await;
    api.sims("acme", 1010000000001, 1, "critical").await;
    let imsi = "001010000000001";
    for s in ["active", "suspended"] {
        // Suspending a critical SIM needs its protection lifted; the operator may.
        let r = set_status(&api, &api.operator.clone(), imsi, s).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    create_user(&api, &admin, "alice", "tenant_admin").await;
    create_user(&api, &admin, "bob", "tenant_admin").await;
    let (_, alice) = api.enrol_totp(Some("acme"), "alice", GOOD).await;
    let (bob_secret, bob) = api.enrol_totp(Some("acme"), "bob", GOOD).await;

    // The tenant cannot even ask before the operator lifts the protection — and that takes two people.
    let r = set_status(&api, &alice, imsi, "terminated").await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("protection"), "{}", r.text);
    let protection = format!("/api/v1/sims/{imsi}/protection");
    let r = api.call("PUT", &protection, &api.operator.clone(), Some(json!({"lifted": true}))).await;
    assert_eq!(r.status, 403, "a token no person issued takes no part in approvals: {}", r.text);
    let (_, ops1) = api.operator_person("ops.one").await;
    let (_, ops2) = api.operator_person("ops.two").await;
    let r = api.call("PUT", &protection, &ops1, Some(json!({"lifted": true}))).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let lift = r.json()["approval"].clone();
    assert_eq!((lift["action"].as_str(), lift["status"].as_str()), (Some("sim.lift_protection"), Some("pending")));
    let lift_approve = format!("/api/v1/approvals/{}/approve", lift["id"].as_str().unwrap());
    let r = api.call("POST", &lift_approve, &alice, None).await;
    assert_eq!(r.status, 403, "a tenant admin cannot approve lifting protection: {}", r.text);
    let r = api.call("POST", &lift_approve, &api.operator.clone(), None).await;
    assert_eq!(r.status, 403, "nor a token no person issued: {}", r.text);
    let r = api.call("POST", &lift_approve, &ops1, Some(json!({}))).await;
    assert_eq!(r.status, 403, "the requester cannot approve: {}", r.text);
    let r = api.call("POST", &lift_approve, &ops2, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["sim"]["protection_lifted"], true, "{}", r.text);

    // Alice asks; the SIM stays as it is.
    let r = set_status(&api, &alice, imsi, "terminated").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let req = r.json()["approval"].clone();
    let id = req["id"].as_str().unwrap().to_string();
    assert_eq!(
        (req["action"].as_str(), req["resource"].as_str()),
        (Some("sim.terminate"), Some(&*format!("sim/{imsi}")))
    );
    assert_eq!(req["requested_factor"], "totp");
    let sim = api.call("GET", &format!("/api/v1/sims/{imsi}"), &alice, None).await.json();
    assert_eq!(sim["status"], "suspended");
    let r = set_status(&api, &bob, imsi, "terminated").await;
    assert_eq!(r.status, 409, "one open request per SIM and action: {}", r.text);

    // Alice cannot approve her own request, nor through a token she issued.
    let approve = format!("/api/v1/approvals/{id}/approve");
    let r = api.call("POST", &approve, &alice, Some(json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r =
        api.call("POST", "/api/v1/tokens", &alice, Some(json!({"name": "alice-bot", "role": "tenant_admin"}))).await;
    let alice_bot = r.json()["secret"].as_str().unwrap().to_string();
    assert_eq!(api.call("POST", &approve, &alice_bot, Some(json!({}))).await.status, 403);
    // A viewer may not; another tenant does not even see it.
    assert_eq!(api.call("POST", &approve, &viewer, Some(json!({}))).await.status, 403);
    assert_eq!(api.call("POST", &approve, &other, Some(json!({}))).await.status, 404);
    assert_eq!(api.call("GET", &format!("/api/v1/approvals/{id}"), &other, None).await.status, 404);
    let listed = api.call("GET", "/api/v1/approvals?status=pending", &other, None).await.json();
    assert_eq!(listed["items"], json!([]));
    let listed = api.call("GET", "/api/v1/approvals?status=pending", &op_token, None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // A stale second factor must step up before approving.
    age_factors(&api, 301).await;
    let r = api.call("POST", &approve, &bob, Some(json!({"note": "checked with the customer"}))).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "{}", r.text);
    let r = api.call("POST", "/api/v1/me/step-up", &bob, Some(json!({"code": totp_code(&bob_secret, 30)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("POST", &approve, &bob, Some(json!({"note": "checked with the customer"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let done = r.json();
    assert_eq!(
        (done["approval"]["status"].as_str(), done["sim"]["status"].as_str()),
        (Some("approved"), Some("terminated"))
    );
    assert_eq!(done["approval"]["decided_factor"], "totp");
    assert!(done["approval"]["decided_by"].as_str().unwrap().contains("session:bob"), "{done}");
    let r = api.call("POST", &approve, &bob, None).await;
    assert_eq!(r.status, 409, "decided once (the body may be left out): {}", r.text);
    let r = api.call("POST", "/api/v1/approvals", &admin, Some(json!({"action": "sim.terminate", "imsi": imsi}))).await;
    assert_eq!(r.status, 403, "a token no person issued cannot ask either: {}", r.text);

    // The record: who asked, who approved, with which factor, and the events the tenant sees.
    let trail = audit(&api).await;
    let asked = trail.iter().find(|e| e["action"] == "approval.request" && e["resource"] == format!("approval/{id}"));
    assert!(asked.unwrap()["actor"].as_str().unwrap().contains("session:alice"), "{asked:?}");
    let approved =
        trail.iter().find(|e| e["action"] == "approval.approve" && e["resource"] == format!("approval/{id}"));
    assert!(approved.unwrap()["actor"].as_str().unwrap().ends_with("step-up:totp"), "{approved:?}");
    let events = api.call("GET", "/api/v1/events?limit=1000", &admin, None).await.json();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["approval.requested", "approval.approved", "sim.status_changed"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn two_approvers_at_once_decide_once_and_rejection_changes_nothing() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 2, "critical").await;
    let (_, ops1) = api.operator_person("ops.one").await;
    let (_, ops2) = api.operator_person("ops.two").await;
    let (_, ops3) = api.operator_person("ops.three").await;
    let mut ids = vec![];
    for imsi in ["001010000000001", "001010000000002"] {
        for s in ["active", "suspended"] {
            assert_eq!(set_status(&api, &api.operator.clone(), imsi, s).await.status, 200);
        }
        let r = set_status(&api, &ops1, imsi, "terminated").await;
        assert_eq!(r.status, 202, "even the operator needs a second person: {}", r.text);
        ids.push(r.json()["approval"]["id"].as_str().unwrap().to_string());
    }
    let approve = format!("/api/v1/approvals/{}/approve", ids[0]);
    let reject = format!("/api/v1/approvals/{}/reject", ids[0]);
    let (a, b) = tokio::join!(
        api.call("POST", &approve, &ops2, Some(json!({}))),
        api.call("POST", &reject, &ops3, Some(json!({"note": "wrong SIM"})))
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
    let decided = api.call("GET", &format!("/api/v1/approvals/{}", ids[0]), &admin, None).await.json();
    let sim = api.call("GET", "/api/v1/sims/001010000000001", &admin, None).await.json();
    match decided["status"].as_str().unwrap() {
        "approved" => assert_eq!(sim["status"], "terminated"),
        "rejected" => assert_eq!(sim["status"], "suspended"),
        other => panic!("{other}"),
    }

    let r = api.call("POST", &format!("/api/v1/approvals/{}/reject", ids[1]), &ops3, Some(json!({"note": "no"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.json()["status"].as_str(), r.json()["note"].as_str()), (Some("rejected"), Some("no")));
    let sim = api.call("GET", "/api/v1/sims/001010000000002", &admin, None).await.json();
    assert_eq!(sim["status"], "suspended", "a rejection changes nothing");
    let listed = api.call("GET", "/api/v1/approvals?status=rejected", &admin, None).await.json();
    assert!(listed["items"].as_array().unwrap().iter().any(|a| a["id"] == ids[1].as_str()), "{listed}");

    // A bulk job never terminates a critical SIM: the item fails and points to the approval path.
    api.sims("acme", 1010000000003, 1, "critical").await;
    let imsi = "001010000000003";
    for s in ["active", "suspended"] {
        assert_eq!(set_status(&api, &api.operator.clone(), imsi, s).await.status, 200);
    }
    let job = json!({"status": "terminated", "selection": {"imsis": [imsi]}});
    let r = api.call("POST", "/api/v1/jobs", &api.operator.clone(), Some(job)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let j = api.wait_job(r.json()["id"].as_str().unwrap(), &api.operator.clone()).await;
    assert_eq!(j["failed"], 1, "{j}");
    let items = api
        .call("GET", &format!("/api/v1/jobs/{}/items", j["id"].as_str().unwrap()), &api.operator.clone(), None)
        .await;
    assert!(items.text.contains("second person"), "{}", items.text);
}

#[tokio::test]
async fn the_decision_body_is_optional_in_the_openapi_document() {
    let api = Api::new().await;
    let doc = api.call("GET", "/api/v1/openapi.json", "", None).await.json();
    for verdict in ["approve", "reject"] {
        let body = &doc["paths"][format!("/approvals/{{id}}/{verdict}")]["post"]["requestBody"];
        assert!(body.is_object(), "{verdict}: {body}");
        assert_ne!(body["required"], true, "{verdict}: {body}");
    }
}

#[tokio::test]
async fn a_stale_session_cannot_add_a_second_factor() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    api.password_only("acme").await;
    create_user(&api, &admin, "carol", "tenant_admin").await;
    let stale = password_login(&api, "carol").await;
    // A password session stolen long after its login: it may not plant the thief's factor.
    let url = format!("sqlite://{}/t.db", api.dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE api_tokens SET created_at = created_at - 400").execute(&pool).await.unwrap();
    pool.close().await;
    let r = api.call("POST", "/api/v1/me/mfa/totp", &stale, None).await;
    assert_eq!(r.json()["type"].as_str(), Some(STEP_UP), "{}", r.text);
    let fresh = password_login(&api, "carol").await;
    let r = api.call("POST", "/api/v1/me/mfa/totp", &fresh, None).await;
    assert_eq!(r.status, 201, "a login of the last five minutes may: {}", r.text);
}
