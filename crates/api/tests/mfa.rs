//! The second login factor end to end (issue #15, SEC-8): a tenant requiring MFA (the default) gives
//! a new person an enrolment ticket after the password; enrolment with a code computed here from the
//! returned secret at the current time; the two-step login with a TOTP code or a recovery code;
//! wrong, replayed and foreign-ticket codes refused with the answer of a wrong password; a tenant
//! without MFA logging in on its password; removal of the factor; and the secret absent from every
//! later answer and from the database in clear.

mod common;

use cmp::totp::{self, Params};
use common::{Answer, Api};
use serde_json::{json, Value};

const GOOD: &str = "plum tractor evening lighthouse";

async fn create_user(api: &Api, admin: &str, username: &str) {
    let body = json!({"username": username, "password": GOOD, "role": "tenant_admin"});
    let r = api.call("POST", "/api/v1/users", admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn login(api: &Api, tenant: &str, username: &str, password: &str) -> Answer {
    let body = json!({"tenant": tenant, "username": username, "password": password});
    api.call("POST", "/api/v1/auth/login", "", Some(body)).await
}

async fn ticket(api: &Api, tenant: &str, username: &str) -> Value {
    let r = login(api, tenant, username, GOOD).await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()
}

async fn second_step(api: &Api, ticket: &Value, code: &str) -> Answer {
    let body = json!({"ticket": ticket["ticket"], "code": code});
    api.call("POST", "/api/v1/auth/login/mfa", "", Some(body)).await
}

fn code_at(secret: &str, offset: i64) -> String {
    totp::totp(Params::DEFAULT, &totp::base32_decode(secret).unwrap(), store::now() + offset)
}

/// Enrols `username` through the enrolment ticket a first login gives; returns (secret, recovery
/// codes, session).
async fn enrol(api: &Api, tenant: &str, username: &str) -> (String, Vec<String>, String) {
    let t = ticket(api, tenant, username).await;
    assert_eq!((t["enrolment_required"].as_bool(), t["methods"].as_array().unwrap().len()), (Some(true), 0), "{t}");
    let ticket = t["ticket"].as_str().unwrap();
    let r = api.call("POST", "/api/v1/me/mfa/totp", ticket, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", ticket, Some(json!({"code": code_at(&secret, 0)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    let codes: Vec<String> =
        j["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(j["session"]["factor"], "totp");
    (secret, codes, j["session"]["token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn two_step_login_with_totp_and_recovery_codes() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "alice").await;
    let wrong_password = login(&api, "acme", "alice", "wrong wrong wrong wrong").await;
    assert_eq!(wrong_password.status, 401);

    // The first login: password right, no factor yet, the tenant requires one → enrolment ticket only.
    let t = ticket(&api, "acme", "alice").await;
    let enrol_ticket = t["ticket"].as_str().unwrap().to_string();
    assert_eq!(api.call("GET", "/api/v1/me", &enrol_ticket, None).await.status, 401, "a ticket is no session");
    assert_eq!(second_step(&api, &t, "123456").await.status, 401, "an enrolment ticket does not log in");
    let r = api.call("POST", "/api/v1/me/mfa/totp", &enrol_ticket, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let e = r.json();
    let secret = e["secret"].as_str().unwrap().to_string();
    assert_eq!(totp::base32_decode(&secret).unwrap().len(), 20);
    assert_eq!(
        e["otpauth_uri"].as_str().unwrap(),
        format!("otpauth://totp/Warden:alice%40acme?secret={secret}&issuer=Warden&algorithm=SHA1&digits=6&period=30")
    );
    assert!(e["qr_svg"].as_str().unwrap().starts_with("<?xml") && e["qr_svg"].as_str().unwrap().contains("<svg"));
    let mut later: Vec<String> = vec![];

    let wrong = format!("{:06}", (code_at(&secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &enrol_ticket, Some(json!({"code": wrong}))).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a wrong code looks like a wrong password");
    let first = code_at(&secret, 0);
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &enrol_ticket, Some(json!({"code": first}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    later.push(r.text.clone());
    let confirmed = r.json();
    let recovery: Vec<String> =
        confirmed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);
    let first_session = confirmed["session"]["token"].as_str().unwrap().to_string();
    assert_eq!(api.call("GET", "/api/v1/me", &first_session, None).await.status, 200);
    let r = api.call("POST", "/api/v1/me/mfa/totp", &enrol_ticket, None).await;
    assert_eq!(r.status, 401, "the enrolment ticket is used up: {}", r.text);

    // The two-step login: wrong code, replayed code, right code.
    let t = ticket(&api, "acme", "alice").await;
    assert_eq!(t["methods"], json!(["totp", "recovery"]));
    assert_eq!(t["enrolment_required"], false);
    let r = second_step(&api, &t, &wrong).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text));
    let r = second_step(&api, &t, &first).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "the confirming code is not reusable");
    let next = code_at(&secret, totp::PERIOD);
    let r = second_step(&api, &t, &next).await;
    assert_eq!(r.status, 200, "{}", r.text);
    later.push(r.text.clone());
    assert_eq!(r.json()["factor"], "totp");
    let session = r.json()["token"].as_str().unwrap().to_string();
    let me = api.call("GET", "/api/v1/me", &session, None).await;
    assert_eq!(me.json()["tenant"], "acme");
    later.push(me.text);
    let r = second_step(&api, &t, &next).await;
    assert_eq!(r.status, 401, "a ticket is single-use");
    let t2 = ticket(&api, "acme", "alice").await;
    let r = second_step(&api, &t2, &next).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a replayed code is refused");

    // A recovery code works once, in any case and with or without dashes.
    let r = second_step(&api, &t2, &recovery[0].to_lowercase()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["factor"], "recovery");
    let t3 = ticket(&api, "acme", "alice").await;
    let r = second_step(&api, &t3, &recovery[0]).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "a recovery code is single-use");

    // Another tenant's person: bravo's bob cannot complete alice's login, nor alice bob's.
    let (bravo, _, _) = api.tenant("bravo").await;
    create_user(&api, &bravo, "bob").await;
    let (_, _, bob_session) = enrol(&api, "bravo", "bob").await;
    assert_eq!(api.call("GET", "/api/v1/me", &bob_session, None).await.json()["tenant"], "bravo");
    let bob_ticket = ticket(&api, "bravo", "bob").await;
    let r = second_step(&api, &bob_ticket, &recovery[1]).await;
    assert_eq!((r.status.as_u16(), &r.text), (401, &wrong_password.text), "alice's code does not open bob's ticket");
    let r = second_step(&api, &t3, &recovery[1]).await;
    assert_eq!(r.status, 200, "the refused attempt did not use alice's recovery code: {}", r.text);
    let alice = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(api.call("GET", "/api/v1/me", &alice, None).await.json()["tenant"], "acme");

    // The audit trail names the factor.
    let audit = api.call("GET", "/api/v1/audit?limit=1000", &admin, None).await.json();
    let factors: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "auth.login")
        .filter_map(|a| serde_json::from_str::<Value>(a["after"].as_str().unwrap()).ok())
        .filter_map(|a| a["factor"].as_str().map(str::to_string))
        .collect();
    assert_eq!(factors, ["totp", "totp", "recovery", "recovery"], "{audit}");
    later.push(audit.to_string());

    // Removing the factor needs a code, and revokes the other sessions.
    let r = api.call("DELETE", "/api/v1/me/mfa/totp", &session, Some(json!({"code": wrong}))).await;
    assert_eq!(r.status, 401);
    let r = api.call("DELETE", "/api/v1/me/mfa/totp", &session, Some(json!({"code": recovery[2]}))).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(api.call("GET", "/api/v1/me", &first_session, None).await.status, 401, "other sessions revoked");
    assert_eq!(api.call("GET", "/api/v1/me", &session, None).await.status, 200, "the caller's own survives");
    let t = ticket(&api, "acme", "alice").await;
    assert_eq!(t["enrolment_required"], true, "without a factor, the tenant's rule asks for enrolment again");

    for text in &later {
        assert!(!text.contains(&secret), "the secret appears in a later answer: {text}");
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/t.db", api.dir.path().display())).await.unwrap();
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT secret_sealed FROM mfa_totp").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 1, "bob's credential remains; alice's was removed");
    let bob_secret_len = rows[0].0.len();
    assert_eq!(bob_secret_len, 1 + 4 + 12 + 20 + 16, "sealed: version, KEK id, nonce, ciphertext, tag");
    let hashes: Vec<(String,)> =
        sqlx::query_as("SELECT code_hash FROM mfa_recovery_codes").fetch_all(&pool).await.unwrap();
    assert_eq!(hashes.len(), 10, "bob's ten");
    assert!(hashes.iter().all(|(h,)| h.len() == 64 && !recovery.iter().any(|r| h.contains(&r.replace('-', "")))));
}

#[tokio::test]
async fn the_secret_is_sealed_in_the_database() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "alice").await;
    let (secret, _, _) = enrol(&api, "acme", "alice").await;
    let raw = totp::base32_decode(&secret).unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/t.db", api.dir.path().display())).await.unwrap();
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT secret_sealed FROM mfa_totp").fetch_one(&pool).await.unwrap();
    assert!(!sealed.windows(raw.len()).any(|w| w == raw.as_slice()), "the raw secret is not stored");
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret), "nor its base32 text");
    let keys = store::seal::Keyring::new(store::seal::Kek::from_bytes(1, &[9; 32]), vec![]);
    let user: (String,) = sqlx::query_as("SELECT user_id FROM mfa_totp").fetch_one(&pool).await.unwrap();
    assert_eq!(&**keys.open(&user.0, "mfa_totp.secret_sealed", &sealed).unwrap(), raw.as_slice(), "bound to the user");
    assert!(
        keys.open("usr_other", "mfa_totp.secret_sealed", &sealed).is_err(),
        "moved to another user it does not open"
    );
    let factors: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT factor FROM api_tokens WHERE name LIKE 'session:%'").fetch_all(&pool).await.unwrap();
    assert_eq!(factors, [(Some("totp".to_string()),)], "the session row records its factor");
}

#[tokio::test]
async fn tenants_without_mfa_log_in_on_the_password_and_only_operators_change_it() {
    let api = Api::new().await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "alice").await;
    let r = api.call("PATCH", "/api/v1/tenants/acme", &admin, Some(json!({"mfa_required": false}))).await;
    assert_eq!(r.status, 403, "a tenant cannot lift its own MFA requirement: {}", r.text);
    assert_eq!(login(&api, "acme", "alice", GOOD).await.status, 202);
    api.password_only("acme").await;
    let r = login(&api, "acme", "alice", GOOD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["factor"], "password");
    let tenants = api.call("GET", "/api/v1/tenants", &api.operator.clone(), None).await.json();
    assert_eq!(tenants["items"][0]["mfa_required"], false);
    let r = api.call("PATCH", "/api/v1/tenants/nope", &api.operator.clone(), Some(json!({"mfa_required": true}))).await;
    assert_eq!(r.status, 404);

    // A person who enrolled anyway is asked for the factor even where the tenant does not require it.
    let session = r_token(&login(&api, "acme", "alice", GOOD).await);
    let r = api.call("POST", "/api/v1/me/mfa/totp", &session, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &session, Some(json!({"code": code_at(&secret, 0)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["session"].is_null(), "a session holder gets no new session");
    assert_eq!(login(&api, "acme", "alice", GOOD).await.status, 202);
    let r = api.call("POST", "/api/v1/me/mfa/totp", &session, None).await;
    assert_eq!(r.status, 409, "an active factor is removed before a new one: {}", r.text);
    let r = api.call("POST", "/api/v1/me/mfa/totp", &admin, None).await;
    assert_eq!(r.status, 403, "API tokens have no second factor");
}

fn r_token(r: &Answer) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn failed_codes_count_toward_the_lockout() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    create_user(&api, &admin, "alice").await;
    let (secret, _, _) = enrol(&api, "acme", "alice").await;
    let t = ticket(&api, "acme", "alice").await;
    for _ in 0..5 {
        assert_eq!(second_step(&api, &t, "000000").await.status, 401);
    }
    let r = second_step(&api, &t, &code_at(&secret, totp::PERIOD)).await;
    assert_eq!(r.status, 401, "locked after five wrong codes, even with the right one: {}", r.text);
    assert_eq!(login(&api, "acme", "alice", GOOD).await.status, 401, "and the password step is locked too");
    let audit = api.call("GET", "/api/v1/audit?limit=1000", &admin, None).await.json();
    let fails = audit["items"].as_array().unwrap().iter().filter(|a| a["action"] == "auth.login_mfa").count();
    assert_eq!(fails, 5, "every wrong code is audited");
}
