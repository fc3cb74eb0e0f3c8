//! Portal cookie sessions end to end (issue #15, SEC-8): a login with `"cookie": true` (password-only
//! tenant and TOTP tenant) sets the `__Host-` cookie with exact attributes and answers a CSRF token
//! instead of the secret; cookie requests may read, but a change without or with a wrong
//! `X-CSRF-Token` is refused 403 and changes nothing; forged cookies get 401; cookies are ignored
//! beside an Authorization header; logout and "sign out everywhere" clear the cookie and revoke;
//! a password change and MFA removal revoke cookie sessions; an idle session expires, a used one slides.

mod common;

use std::time::Duration;

use cmp::totp::{self, Params};
use common::{Answer, Api};
use serde_json::{json, Value};

const GOOD: &str = "plum tractor evening lighthouse";
const ATTRS: &str = "; Path=/; Secure; HttpOnly; SameSite=Strict";

async fn api_with(idle_secs: i64) -> Api {
    let settings = api::Settings { login_per_minute: 1000.0, session_idle_secs: idle_secs, ..Default::default() };
    Api::with_settings(settings).await
}

async fn user(api: &Api, tenant: &str, name: &str) -> String {
    let (admin, _, _) = api.tenant(tenant).await;
    let body = json!({"username": name, "password": GOOD, "role": "tenant_admin"});
    let r = api.call("POST", "/api/v1/users", &admin, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    admin
}

/// A portal session: the cookie header to send and the CSRF token.
struct Portal {
    cookie: String,
    csrf: String,
}

impl Portal {
    async fn call(&self, api: &Api, method: &str, path: &str, csrf: Option<&str>, body: Option<Value>) -> Answer {
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if let Some(c) = csrf {
            headers.push(("x-csrf-token", c));
        }
        api.raw(method, path, "", body.map(|b| b.to_string()), &headers).await
    }
}

/// Checks a cookie login's answer and returns the portal session.
fn portal(r: &Answer) -> Portal {
    assert_eq!(r.status, 200, "{}", r.text);
    let set = r.headers.get("set-cookie").expect("Set-Cookie").to_str().unwrap();
    let value = set.strip_prefix("__Host-warden_session=").unwrap().strip_suffix(ATTRS).unwrap_or_else(|| {
        panic!("cookie attributes: {set}");
    });
    assert!(value.starts_with("wdn_") && value.len() > 80, "{value}");
    let j = r.json();
    let csrf = j["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 32, "128 bits in hex");
    assert!(csrf.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(j.get("token").is_none() && !r.text.contains(value), "the secret is only in the cookie: {}", r.text);
    Portal { cookie: format!("__Host-warden_session={value}"), csrf }
}

async fn cookie_login(api: &Api, tenant: &str, name: &str) -> Answer {
    let body = json!({"tenant": tenant, "username": name, "password": GOOD, "cookie": true});
    api.call("POST", "/api/v1/auth/login", "", Some(body)).await
}

async fn usernames(api: &Api, admin: &str) -> Vec<String> {
    let r = api.call("GET", "/api/v1/users", admin, None).await;
    r.json()["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn cookie_session_reads_freely_and_changes_only_with_the_csrf_token() {
    let api = api_with(900).await;
    let admin = user(&api, "acme", "alice").await;
    api.password_only("acme").await;
    let p = portal(&cookie_login(&api, "acme", "alice").await);
    let me = p.call(&api, "GET", "/api/v1/me", None, None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!((me.json()["name"].as_str(), me.json()["csrf_token"].as_str()), (Some("session:alice"), Some(&*p.csrf)));

    // An everyday change (no step-up needed): activating a SIM.
    api.sims("acme", 1010000000001, 1, "standard").await;
    let sim = "/api/v1/sims/001010000000001";
    let activate = || Some(json!({"status": "active"}));
    for csrf in [None, Some("0123456789abcdef0123456789abcdef"), Some("")] {
        let r = p.call(&api, "PATCH", sim, csrf, activate()).await;
        assert_eq!(r.status, 403, "{csrf:?}: {}", r.text);
        assert_eq!(r.content_type(), "application/problem+json");
    }
    let r = api.call("GET", sim, &admin, None).await;
    assert_eq!(r.json()["status"], "inventory", "a refused request changes nothing");
    let r = p.call(&api, "PATCH", sim, Some(&p.csrf), activate()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.call("GET", sim, &admin, None).await.json()["status"], "active");
    assert_eq!(usernames(&api, &admin).await, vec!["alice"]);

    // Beside an Authorization header the cookie is ignored: the bearer decides.
    let both = [("cookie", p.cookie.as_str())];
    let r = api.raw("GET", "/api/v1/me", "wdn_not_a_token", None, &both).await;
    assert_eq!(r.status, 401);
    let r = api.raw("GET", "/api/v1/me", &admin, None, &both).await;
    assert_eq!((r.status.as_u16(), r.json().get("csrf_token")), (200, None));

    // Forged cookies, and a bearer session's token put in the cookie, are no session.
    let bearer = api
        .call("POST", "/api/v1/auth/login", "", Some(json!({"tenant": "acme", "username": "alice", "password": GOOD})))
        .await;
    assert!(bearer.headers.get("set-cookie").is_none(), "no cookie without asking");
    let bearer = bearer.json()["token"].as_str().unwrap().to_string();
    let forged = format!("wdn_{}_{}", &p.cookie[26..42], "0".repeat(64));
    for value in [forged.as_str(), "garbage", bearer.as_str()] {
        let c = format!("__Host-warden_session={value}");
        let r = api.raw("GET", "/api/v1/me", "", None, &[("cookie", &c)]).await;
        assert_eq!(r.status, 401, "{value}: {}", r.text);
    }

    // One's sessions: both listed, no secret; signing out everywhere revokes both and clears the cookie.
    let r = p.call(&api, "GET", "/api/v1/me/sessions", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    let mut kinds: Vec<(&str, bool)> =
        items.iter().map(|s| (s["kind"].as_str().unwrap(), s["current"] == true)).collect();
    kinds.sort();
    assert_eq!(kinds, vec![("bearer", false), ("cookie", true)], "both, the cookie one current");
    assert!(!r.text.contains(&bearer[22..]) && !r.text.contains(&p.cookie[43..]), "{}", r.text);
    assert_eq!(p.call(&api, "DELETE", "/api/v1/me/sessions", None, None).await.status, 403);
    let r = p.call(&api, "DELETE", "/api/v1/me/sessions", Some(&p.csrf), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 401);
    assert_eq!(api.call("GET", "/api/v1/me", &bearer, None).await.status, 401);
}

#[tokio::test]
async fn logout_and_password_change_end_cookie_sessions() {
    let api = api_with(900).await;
    user(&api, "acme", "alice").await;
    api.password_only("acme").await;
    let p = portal(&cookie_login(&api, "acme", "alice").await);
    assert_eq!(p.call(&api, "POST", "/api/v1/auth/logout", None, None).await.status, 403, "logout needs the token too");
    let r = p.call(&api, "POST", "/api/v1/auth/logout", Some(&p.csrf), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.headers["set-cookie"], format!("__Host-warden_session={ATTRS}; Max-Age=0"));
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 401);

    let p = portal(&cookie_login(&api, "acme", "alice").await);
    let change = json!({"tenant": "acme", "username": "alice", "current_password": GOOD,
        "new_password": "quiet harbour marmalade sunrise"});
    assert_eq!(api.call("POST", "/api/v1/auth/password", "", Some(change)).await.status, 204);
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 401, "revoked by the password change");
}

fn code_at(secret: &str, offset: i64) -> String {
    totp::totp(Params::DEFAULT, &totp::base32_decode(secret).unwrap(), store::now() + offset)
}

#[tokio::test]
async fn cookie_login_with_totp_and_revocation_by_mfa_removal() {
    let api = api_with(900).await;
    user(&api, "beta", "carol").await;
    // Enrolment through the ticket of the first login (the tenant requires MFA by default).
    let t = cookie_login(&api, "beta", "carol").await;
    assert_eq!((t.status.as_u16(), t.json()["enrolment_required"].as_bool()), (202, Some(true)), "{}", t.text);
    let ticket = t.json()["ticket"].as_str().unwrap().to_string();
    let secret =
        api.call("POST", "/api/v1/me/mfa/totp", &ticket, None).await.json()["secret"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &ticket, Some(json!({"code": code_at(&secret, 0)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let recovery = r.json()["recovery_codes"][0].as_str().unwrap().to_string();
    let bearer = r.json()["session"]["token"].as_str().unwrap().to_string();

    let t = cookie_login(&api, "beta", "carol").await;
    assert_eq!(t.status, 202, "{}", t.text);
    assert!(t.headers.get("set-cookie").is_none(), "no cookie before the second factor");
    let body = json!({"ticket": t.json()["ticket"], "code": code_at(&secret, totp::PERIOD), "cookie": true});
    let r = api.call("POST", "/api/v1/auth/login/mfa", "", Some(body)).await;
    let p = portal(&r);
    assert_eq!(r.json()["factor"], "totp");
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 200);

    let r = api.call("DELETE", "/api/v1/me/mfa/totp", &bearer, Some(json!({"code": recovery}))).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 401, "revoked by the MFA removal");
}

#[tokio::test]
async fn idle_cookie_sessions_expire_and_used_ones_slide() {
    let api = api_with(3).await;
    user(&api, "acme", "alice").await;
    api.password_only("acme").await;
    let p = portal(&cookie_login(&api, "acme", "alice").await);
    let bearer = api
        .call("POST", "/api/v1/auth/login", "", Some(json!({"tenant": "acme", "username": "alice", "password": GOOD})))
        .await;
    let bearer = bearer.json()["token"].as_str().unwrap().to_string();
    // Used every second for five seconds: longer than the idle timeout, still alive.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let r = p.call(&api, "GET", "/api/v1/me", None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(p.call(&api, "GET", "/api/v1/me", None, None).await.status, 401, "idle longer than the timeout");
    assert_eq!(api.call("GET", "/api/v1/me", &bearer, None).await.status, 200, "bearer sessions have no idle timeout");
}

#[tokio::test]
async fn enrolment_in_the_portal_opens_a_cookie_session() {
    let api = api_with(900).await;
    let admin = user(&api, "gamma", "dave").await;
    let t = cookie_login(&api, "gamma", "dave").await;
    assert_eq!((t.status.as_u16(), t.json()["enrolment_required"].as_bool()), (202, Some(true)), "{}", t.text);
    let ticket = t.json()["ticket"].as_str().unwrap().to_string();
    let e = api.call("POST", "/api/v1/me/mfa/totp", &ticket, None).await;
    assert_eq!(e.status, 201, "{}", e.text);
    assert!(e.json()["qr_svg"].as_str().unwrap().contains("<svg"), "a QR code");
    let secret = e.json()["secret"].as_str().unwrap().to_string();
    let body = json!({"code": code_at(&secret, 0), "cookie": true});
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &ticket, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(j["session"]["factor"], "totp");
    assert!(j["session"].get("token").is_none(), "the secret is only in the cookie: {}", r.text);
    let set = r.headers.get("set-cookie").expect("Set-Cookie").to_str().unwrap();
    let value = set.strip_prefix("__Host-warden_session=").unwrap().strip_suffix(ATTRS).unwrap();
    let p = Portal {
        cookie: format!("__Host-warden_session={value}"),
        csrf: j["session"]["csrf_token"].as_str().unwrap().to_string(),
    };
    let me = p.call(&api, "GET", "/api/v1/me", None, None).await;
    assert_eq!((me.status.as_u16(), me.json()["csrf_token"].as_str()), (200, Some(p.csrf.as_str())), "{}", me.text);
    assert_eq!(p.call(&api, "POST", "/api/v1/auth/logout", None, None).await.status, 403, "CSRF applies");
    assert_eq!(p.call(&api, "POST", "/api/v1/auth/logout", Some(&p.csrf), None).await.status, 204);

    // A bearer enrolment still answers a bearer session.
    let body = json!({"username": "erin", "password": GOOD, "role": "tenant_viewer"});
    assert_eq!(api.call("POST", "/api/v1/users", &admin, Some(body)).await.status, 201);
    let t = cookie_login(&api, "gamma", "erin").await;
    let ticket = t.json()["ticket"].as_str().unwrap().to_string();
    let secret =
        api.call("POST", "/api/v1/me/mfa/totp", &ticket, None).await.json()["secret"].as_str().unwrap().to_string();
    let r = api.call("POST", "/api/v1/me/mfa/totp/confirm", &ticket, Some(json!({"code": code_at(&secret, 0)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers.get("set-cookie").is_none() && r.json()["session"]["token"].is_string(), "{}", r.text);
}
