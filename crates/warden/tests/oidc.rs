//! The portal's OpenID Connect login (issue #15, SEC-8) in a real browser against a real provider:
//! npm `oidc-provider` (tests/browser/idp.mjs) on a loopback port, Debian's `chromium` driven by
//! `puppeteer-core` (tests/browser/oidc.mjs), `warden serve` with `[http.oidc]` pointing at it. A
//! provider login with a second factor lands on the dashboard with a cookie session; one without asks
//! for Warden's own TOTP code first; a provider user unknown to Warden is refused; a used callback
//! (replayed state) and a forged state are refused; the audit trail has the `oidc` factor, the amr and
//! each refusal. Skipped when chromium or node is missing, except under CI.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{browser, http};
use serde_json::json;

#[tokio::test]
async fn oidc_login_with_a_real_provider_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("client_secret");
    let client_secret = "idp-client-secret-0123456789abcdef";
    std::fs::write(&secret_file, format!("{client_secret}\n")).unwrap();
    let idp_port = common::free_port();
    let oidc = format!(
        "[http.oidc]\nissuer = \"http://127.0.0.1:{idp_port}\"\nname = \"Test IdP\"\nclient_id = \"warden\"\n\
         client_secret_file = \"{}\"\n",
        secret_file.display()
    );
    let n = common::node("5d", &[], "login_per_minute = 1000.0", &oidc);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();

    // Operator staff always need a second factor: carol gets in on the provider's; dave's provider
    // login has none, so Warden asks for his TOTP code.
    common::make_operator_person(&api, &operator, "ops.carol").await;
    common::make_operator_person(&api, &operator, "ops.dave").await;
    let (dave_secret, _) = common::enrol_totp(&api, "ops.dave").await;

    let (s, info) = http("GET", &format!("{api}/auth/oidc"), "", None).await;
    assert_eq!((s, info), (200, json!({"enabled": true, "name": "Test IdP"})));

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    let mut cmd = Command::new("node");
    cmd.current_dir(&browser_dir)
        .arg("oidc.mjs")
        .env("PORTAL_URL", format!("http://{}", n.http))
        .env("CHROMIUM", chromium)
        .env("SCREENSHOTS", &shots)
        .env("IDP_PORT", idp_port.to_string())
        .env("IDP_SECRET", client_secret)
        .env("MFA_USER", "ops.carol")
        .env("TOTP_USER", "ops.dave")
        .env("TOTP_SECRET", &dave_secret)
        .env("TOTP_USED_AT", store::now().to_string());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run node")).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    let f: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();

    assert_eq!(f["button"], "Log in with Test IdP", "{f}");
    assert_eq!(f["mfa"], json!({"hash": "#/dashboard", "status": 200, "name": "session:ops.carol", "cookie": true}));
    assert_eq!(f["totp"]["status"], 200, "{f}");
    assert_eq!(f["totp"]["name"], "session:ops.dave", "{f}");
    assert_eq!(f["totp"]["hash_cleaned"], "#/login", "the ticket is taken out of the address bar: {f}");
    assert_eq!(f["replay"]["me"], 401, "a used callback opens no session: {f}");
    assert_eq!(f["replay"]["hash"], "#/login", "{f}");
    assert!(f["replay"]["error"].as_str().unwrap().contains("expired or was already used"), "{f}");
    assert_eq!(f["forged"]["me"], 401, "{f}");
    assert!(f["forged"]["error"].as_str().unwrap().contains("expired or was already used"), "{f}");
    assert_eq!(f["unknown"]["me"], 401, "{f}");
    assert!(f["unknown"]["error"].as_str().unwrap().contains("No Warden account matches"), "{f}");

    // The audit trail: carol's login with the oidc factor and the provider's amr, dave's with his
    // TOTP code after the provider, and the refusals.
    let (s, audit) = http("GET", &format!("{api}/audit?limit=200"), &operator, None).await;
    assert_eq!(s, 200, "{audit}");
    // `after` is the JSON text the entry was hashed over.
    let entries: Vec<serde_json::Value> = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["after"] = serde_json::from_str(e["after"].as_str().unwrap_or("null")).unwrap_or_default();
            e
        })
        .collect();
    let login = |user: &str, factor: &str| {
        entries.iter().any(|e| {
            e["action"] == "auth.login"
                && e["actor"].as_str().is_some_and(|a| a.contains(user))
                && e["after"]["factor"] == factor
        })
    };
    assert!(login("ops.carol", "oidc"), "{audit}");
    let carol = entries.iter().find(|e| e["after"]["factor"] == "oidc").unwrap();
    assert_eq!(carol["after"]["amr"], json!(["pwd", "otp"]), "{carol}");
    assert_eq!(carol["after"]["via"], "oidc", "{carol}");
    assert!(login("ops.dave", "totp"), "{audit}");
    let provider_part =
        entries.iter().find(|e| e["after"]["result"] == "provider_accepted").expect("dave's provider login");
    assert_eq!(provider_part["after"]["amr"], json!(["pwd"]), "{provider_part}");
    let reasons: Vec<&str> = entries.iter().filter_map(|e| e["after"]["reason"].as_str()).collect();
    assert!(reasons.contains(&"unknown_user"), "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| **r == "state").count(), 2, "replayed and forged: {reasons:?}");
}
