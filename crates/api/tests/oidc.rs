//! The OpenID Connect endpoints without a provider (the whole flow against a real one is
//! `warden/tests/oidc.rs`): absent `[http.oidc]` they answer 404 and `/auth/oidc` says disabled;
//! with it, every failure is a redirect to the portal's login page carrying only a short code, the
//! state is used up by the first callback whatever it says, and each failure is audited.

mod common;

use api::Settings;
use common::Api;
use serde_json::{json, Value};

fn with_oidc() -> Settings {
    // Nothing listens on port 1: the provider is unreachable.
    let oidc = json!({"issuer": "http://127.0.0.1:1", "name": "Corp SSO", "client_id": "warden",
        "client_secret_file": "/nonexistent/secret"});
    Settings { oidc: Some(serde_json::from_value(oidc).unwrap()), ..Settings::default() }
}

fn location(r: &common::Answer) -> String {
    r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn reasons(api: &Api) -> Vec<String> {
    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login")
        .filter_map(|e| serde_json::from_str::<Value>(e["after"].as_str()?).ok())
        .filter_map(|a| a["reason"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn without_a_provider_nothing_is_offered() {
    let api = Api::new().await;
    let r = api.call("GET", "/api/v1/auth/oidc", "", None).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"enabled": false, "name": ""})));
    assert_eq!(api.call("GET", "/api/v1/auth/oidc/start", "", None).await.status, 404);
    assert_eq!(api.call("GET", "/api/v1/auth/oidc/callback?code=c&state=s", "", None).await.status, 404);
}

#[tokio::test]
async fn failures_redirect_with_a_short_code_use_up_the_state_and_are_audited() {
    let api = Api::with_settings(with_oidc()).await;
    let r = api.call("GET", "/api/v1/auth/oidc", "", None).await;
    assert_eq!(r.json(), json!({"enabled": true, "name": "Corp SSO"}));

    let r = api.call("GET", "/api/v1/auth/oidc/start", "", None).await;
    assert_eq!((r.status.as_u16(), location(&r).as_str()), (302, "/#/login?error=unavailable"));

    let forged =
        api.call("GET", &format!("/api/v1/auth/oidc/callback?code=c&state={}", "f".repeat(64)), "", None).await;
    assert_eq!((forged.status.as_u16(), location(&forged).as_str()), (302, "/#/login?error=state"));
    assert_eq!(forged.headers["cache-control"], "no-store");
    let cookies: Vec<&str> = forged.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(cookies.iter().all(|c| !c.contains("warden_session")), "no session: {cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("__Host-warden_oidc=;") && c.contains("Max-Age=0")), "{cookies:?}");

    // A flow started (as `start` would), answered with the provider's error: refused, and its state
    // is gone, so the real code cannot follow.
    let started = cmp::oidc::start(&api.store, None).await.unwrap();
    let path = format!(
        "/api/v1/auth/oidc/callback?error=access_denied&error_description=secret+detail&state={}",
        started.state
    );
    let cookie = format!("__Host-warden_oidc={}", started.state);
    let r = api.raw("GET", &path, "", None, &[("cookie", &cookie)]).await;
    assert_eq!(location(&r), "/#/login?error=idp", "no detail of the provider's is passed on");
    let path = format!("/api/v1/auth/oidc/callback?code=c&state={}", started.state);
    let r = api.raw("GET", &path, "", None, &[("cookie", &cookie)]).await;
    assert_eq!(location(&r), "/#/login?error=state", "used up");

    // A valid state from another browser (no flow cookie, or another flow's): refused (login CSRF).
    let started = cmp::oidc::start(&api.store, None).await.unwrap();
    let path = format!("/api/v1/auth/oidc/callback?code=c&state={}", started.state);
    let r = api.raw("GET", &path, "", None, &[("cookie", "__Host-warden_oidc=another")]).await;
    assert_eq!(location(&r), "/#/login?error=state", "not the browser that started it");

    // A valid state, but the token request cannot be made: refused, and used up as well.
    let started = cmp::oidc::start(&api.store, None).await.unwrap();
    let path = format!("/api/v1/auth/oidc/callback?code=c&state={}", started.state);
    let cookie = format!("__Host-warden_oidc={}", started.state);
    assert_eq!(location(&api.raw("GET", &path, "", None, &[("cookie", &cookie)]).await), "/#/login?error=unavailable");
    assert_eq!(location(&api.raw("GET", &path, "", None, &[("cookie", &cookie)]).await), "/#/login?error=state");

    let mut got = reasons(&api).await;
    got.sort();
    assert_eq!(got, ["idp", "state", "state", "state", "state", "unavailable"], "each failure is audited");
}
