//! Passkeys end to end (issue #15, SEC-8) with webauthn-authenticator-rs's software authenticator
//! (`SoftPasskey`) at the default origin `http://localhost:8080`: registration from a session, the
//! login ticket's `methods` naming `webauthn`, the second login step with a passkey (factor
//! `webauthn`, audited), and what must be refused with the answer of a wrong password: a ceremony id
//! used twice, another person's ceremony, a ceremony finished with another ticket, an assertion whose
//! signature counter does not go up (a cloned authenticator). Also listing, renaming and deleting, the
//! refusal to delete the last factor of a person who must use one, and a first factor enrolled as a
//! passkey through the enrolment ticket, and the step-up with a passkey (needed, once the session's
//! factor is stale, to add or delete a passkey).

mod common;

use cmp::totp::{self, Params};
use common::{Answer, Api};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

const GOOD: &str = "plum tractor evening lighthouse";
const ORIGIN: &str = "http://localhost:8080";

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

async fn create_user(api: &Api, admin: &str, username: &str) {
    let body = json!({"username": username, "password": GOOD, "role": "tenant_admin"});
    let r = api.call("POST", "/api/v1/users", admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn login(api: &Api, username: &str, password: &str) -> Answer {
    let body = json!({"tenant": "acme", "username": username, "password": password});
    api.call("POST", "/api/v1/auth/login", "", Some(body)).await
}

async fn ticket(api: &Api, username: &str) -> Value {
    let r = login(api, username, GOOD).await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()
}

/// Enrols TOTP through the enrolment ticket; returns the session token.
async fn enrol_totp(api: &Api, username: &str) -> String {
    let t = ticket(api, username).await;
    let ticket = t["ticket"].as_str().unwrap();
    let r = api.call("POST", "/api/v1/me/mfa/totp", ticket, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let code = totp::totp(Params::DEFAULT, &totp::base32_decode(&secret).unwrap(), store::now());
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", ticket, Some(json!({"code": code}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["session"]["token"].as_str().unwrap().to_string()
}

/// The authenticator's answer to a registration ceremony.
fn create(auth: &mut SoftPasskey, ceremony: &Value) -> Value {
    let options: CreationChallengeResponse = serde_json::from_value(ceremony["options"].clone()).unwrap();
    serde_json::to_value(auth.do_registration(origin(), options).expect("the authenticator registers")).unwrap()
}

/// The authenticator's answer to an authentication ceremony.
fn get(auth: &mut SoftPasskey, ceremony: &Value) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(ceremony["options"].clone()).unwrap();
    serde_json::to_value(auth.do_authentication(origin(), options).expect("the authenticator signs")).unwrap()
}

/// Makes every session's proved factor `secs` older (a stale session must step up).
async fn age_sessions(api: &Api, secs: i64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/t.db", api.dir.path().display())).await.unwrap();
    sqlx::query("UPDATE api_tokens SET factor_at = factor_at - ? WHERE factor_at IS NOT NULL")
        .bind(secs)
        .execute(&pool)
        .await
        .unwrap();
}

async fn start_registration(api: &Api, bearer: &str) -> Value {
    let r = api.call("POST", "/api/v1/me/mfa/webauthn/start", bearer, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn finish_registration(api: &Api, bearer: &str, ceremony: &Value, credential: &Value, name: &str) -> Answer {
    let body = json!({"ceremony": ceremony["ceremony"], "credential": credential, "name": name});
    api.call("POST", "/api/v1/me/mfa/webauthn/finish", bearer, Some(body)).await
}

async fn start_login(api: &Api, ticket: &Value) -> Answer {
    api.call("POST", "/api/v1/auth/login/webauthn/start", "", Some(json!({"ticket": ticket["ticket"]}))).await
}

async fn finish_login(api: &Api, ticket: &Value, ceremony: &Value, credential: &Value) -> Answer {
    let body = json!({"ticket": ticket["ticket"], "ceremony": ceremony["ceremony"], "credential": credential});
    api.call("POST", "/api/v1/auth/login/webauthn/finish", "", Some(body)).await
}

/// The audit trail, each record's `after` parsed (it is JSON text, or plain text).
async fn audit_actions(api: &Api) -> Vec<Value> {
    let r = api.call("GET", "/api/v1/audit?limit=1000", &api.operator.clone(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut items = r.json()["items"].as_array().unwrap().clone();
    for e in &mut items {
        let text = e["after"].as_str().unwrap_or_default().to_string();
        e["after"] = serde_json::from_str(&text).unwrap_or(Value::String(text));
    }
    items
}

#[tokio::test]
async fn passkey_registration_login_and_refusals() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "alice").await;
    create_user(&api, &admin, "bob").await;
    let alice = enrol_totp(&api, "alice").await;
    let bob = enrol_totp(&api, "bob").await;
    let wrong_password = login(&api, "alice", "wrong wrong wrong wrong").await;
    assert_eq!(wrong_password.status, 401);

    // Without a passkey the ticket offers codes only, and a passkey login cannot start.
    let t = ticket(&api, "alice").await;
    assert_eq!(t["methods"], json!(["totp", "recovery"]));
    let r = start_login(&api, &t).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "no passkey: the answer of a wrong code");

    // Registration from alice's session.
    let mut key = SoftPasskey::new(true);
    let c = start_registration(&api, &alice).await;
    let pk = &c["options"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost", "{c}");
    assert_eq!(pk["user"]["name"], "alice@acme");
    assert!(pk["challenge"].as_str().unwrap().len() >= 43, "a 32-byte challenge, base64url: {c}");
    let credential = create(&mut key, &c);

    // Bob cannot finish alice's ceremony (and trying does not use it up).
    let r = finish_registration(&api, &bob, &c, &credential, "stolen").await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "another person's ceremony");
    let r = finish_registration(&api, &alice, &c, &credential, "laptop").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["passkey"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["passkey"]["name"], "laptop");
    assert!(r.json()["session"].is_null(), "a session's registration opens no new session");
    let r = finish_registration(&api, &alice, &c, &credential, "again").await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a ceremony is used once");
    // The same authenticator cannot be registered twice: it is excluded from the next ceremony.
    let again = start_registration(&api, &alice).await;
    let excluded = again["options"]["publicKey"]["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{again}");
    assert_eq!(excluded[0]["id"], credential["rawId"]);

    let r = api.call("GET", "/api/v1/me/mfa/webauthn", &alice, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["items"][0]["name"], "laptop");
    assert!(!r.text.contains("cred") && !r.text.contains("key"), "no key material listed: {}", r.text);
    let r = api.call("GET", "/api/v1/me/mfa/webauthn", &bob, None).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 0, "bob sees none of alice's passkeys");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/t.db", api.dir.path().display())).await.unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT credential_id FROM webauthn_credentials").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, credential["rawId"].as_str().unwrap(), "the credential id is stored as the browser shows it");
    // Bob registers a passkey of his own (another authenticator): both are kept apart.
    let mut bobs_key = SoftPasskey::new(true);
    let c = start_registration(&api, &bob).await;
    let r = finish_registration(&api, &bob, &c, &create(&mut bobs_key, &c), "bob's key").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = api.call("GET", "/api/v1/me/mfa/webauthn", &bob, None).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = api.call("GET", "/api/v1/me/mfa/webauthn", &alice, None).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1, "{}", r.text);
    let path = format!("/api/v1/me/mfa/webauthn/{id}");
    let r = api.call("PATCH", &path, &bob, Some(json!({"name": "mine"}))).await;
    assert_eq!(r.status, 404, "bob cannot rename alice's passkey: {}", r.text);
    let r = api.call("DELETE", &path, &bob, None).await;
    assert_eq!(r.status, 404, "bob cannot delete alice's passkey: {}", r.text);
    let r = api.call("PATCH", &path, &alice, Some(json!({"name": "work laptop"}))).await;
    assert_eq!((r.status.as_u16(), r.json()["name"].as_str()), (200, Some("work laptop")), "{}", r.text);

    // The login: the ticket now offers the passkey.
    let t = ticket(&api, "alice").await;
    assert_eq!(t["methods"], json!(["totp", "recovery", "webauthn"]));
    let r = start_login(&api, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = r.json();
    assert_eq!(c["options"]["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1);
    assert_eq!(c["options"]["publicKey"]["userVerification"], "required");
    let assertion = get(&mut key, &c);
    // Bob's ticket with alice's ceremony and assertion: refused, and alice's ceremony is not used up.
    let bob_ticket = ticket(&api, "bob").await;
    let r = finish_login(&api, &bob_ticket, &c, &assertion).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a ceremony of another ticket");
    let r = finish_login(&api, &t, &c, &assertion).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let session = r.json();
    assert_eq!(session["factor"], "webauthn");
    let token = session["token"].as_str().unwrap().to_string();
    let r = api.call("GET", "/api/v1/me", &token, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = finish_login(&api, &t, &c, &assertion).await;
    assert_eq!(r.status, 401, "the ticket and the ceremony are used up: {}", r.text);
    // A used ceremony with a fresh ticket is refused too.
    let t2 = ticket(&api, "alice").await;
    let r = finish_login(&api, &t2, &c, &assertion).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a ceremony of another ticket");

    // A cloned authenticator: its counter does not go past the one stored.
    let r = start_login(&api, &t2).await;
    let c2 = r.json();
    let cloned = get(&mut key, &c2);
    let stored: i64 = sqlx::query_scalar("SELECT sign_count FROM webauthn_credentials WHERE name = 'work laptop'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored > 0, "the login recorded the authenticator's counter");
    sqlx::query("UPDATE webauthn_credentials SET sign_count = 1000000 WHERE name = 'work laptop'")
        .execute(&pool)
        .await
        .unwrap();
    let r = finish_login(&api, &t2, &c2, &cloned).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a counter that went backwards");
    sqlx::query("UPDATE webauthn_credentials SET sign_count = $1 WHERE name = 'work laptop'")
        .bind(stored)
        .execute(&pool)
        .await
        .unwrap();

    let entries = audit_actions(&api).await;
    let logins: Vec<&Value> =
        entries.iter().filter(|e| e["action"] == "auth.login" && e["after"]["factor"] == "webauthn").collect();
    assert_eq!(logins.len(), 1, "one login with a passkey is audited");
    assert!(entries.iter().any(|e| e["action"] == "mfa.webauthn.enrol" && e["after"]["name"] == "laptop"));
    assert!(entries.iter().any(|e| e["action"] == "auth.login_mfa" && e["after"] == "failed"));

    // Step-up with a passkey: a stale session may not delete a passkey until it proves one again.
    age_sessions(&api, 600).await;
    let r = api.call("DELETE", &path, &token, None).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some("urn:warden:problem:step-up-required")));
    let r = api.call("POST", "/api/v1/me/mfa/webauthn/start", &token, None).await;
    assert_eq!(r.status, 403, "adding a passkey needs a step-up too: {}", r.text);
    let r = api.call("POST", "/api/v1/me/step-up/webauthn/start", &token, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = r.json();
    let assertion = get(&mut key, &c);
    let body = json!({"ceremony": c["ceremony"], "credential": assertion});
    let r = api.call("POST", "/api/v1/me/step-up/webauthn/finish", &bob, Some(body.clone())).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "another session's ceremony");
    let r = api.call("POST", "/api/v1/me/step-up/webauthn/finish", &token, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["factor"], "webauthn");
    assert!(r.json()["fresh_until"].as_i64().unwrap() > store::now());
    let r = api.call("POST", "/api/v1/me/step-up/webauthn/finish", &token, Some(body)).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a step-up ceremony is used once");
    assert!(audit_actions(&api)
        .await
        .iter()
        .any(|e| e["action"] == "auth.step_up" && e["after"]["factor"] == "webauthn"));

    // Alice still has TOTP: her passkey may go.
    let r = api.call("DELETE", &path, &token, None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = api.call("GET", "/api/v1/me/mfa/webauthn", &token, None).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 0);
    assert!(audit_actions(&api).await.iter().any(|e| e["action"] == "mfa.webauthn.remove"));
    let t = ticket(&api, "alice").await;
    assert_eq!(t["methods"], json!(["totp", "recovery"]));
}

#[tokio::test]
async fn a_first_factor_enrolled_as_a_passkey_cannot_be_deleted_while_required() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "carol").await;
    let t = ticket(&api, "carol").await;
    assert_eq!(t["enrolment_required"], true);
    let enrol = t["ticket"].as_str().unwrap();
    let mut key = SoftPasskey::new(true);
    let c = start_registration(&api, enrol).await;
    let credential = create(&mut key, &c);
    let r = finish_registration(&api, enrol, &c, &credential, "phone").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let j = r.json();
    assert_eq!(j["session"]["factor"], "webauthn", "the enrolment ticket's registration opens the session: {j}");
    let token = j["session"]["token"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/me/mfa/webauthn/start", enrol, None).await;
    assert_eq!(r.status, 401, "the enrolment ticket is used up: {}", r.text);
    create_user(&api, &admin, "dave").await;
    let dave = enrol_totp(&api, "dave").await;
    let r = api.call("POST", "/api/v1/me/step-up/webauthn/start", &dave, None).await;
    assert_eq!(r.status, 401, "no passkey to step up with: {}", r.text);

    // The passkey is now her second factor at login.
    let t = ticket(&api, "carol").await;
    assert_eq!((t["enrolment_required"].as_bool(), &t["methods"]), (Some(false), &json!(["webauthn"])));
    let c = start_login(&api, &t).await.json();
    let r = finish_login(&api, &t, &c, &get(&mut key, &c)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let id = api.call("GET", "/api/v1/me/mfa/webauthn", &token, None).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api.call("DELETE", &format!("/api/v1/me/mfa/webauthn/{id}"), &token, None).await;
    assert_eq!(r.status, 409, "the last factor of a person who must use one stays: {}", r.text);
    // Without the requirement it may go.
    api.password_only("acme").await;
    let r = api.call("DELETE", &format!("/api/v1/me/mfa/webauthn/{id}"), &token, None).await;
    assert_eq!(r.status, 204, "{}", r.text);
}
