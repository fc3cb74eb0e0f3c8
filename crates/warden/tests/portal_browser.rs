//! The web portal in a real browser (issue #15, SEC-8): Debian's `chromium`, driven by npm
//! `puppeteer-core` (tests/browser/portal.mjs, packages pinned by tests/browser/package-lock.json and
//! installed with `npm ci`), against `warden serve`. An operator admin with a TOTP factor (enrolled here
//! through the API) logs in with password and one-time code, sees the dashboard, axe-core finds no
//! serious or critical accessibility violation on the login page and the dashboard, a POST without
//! `X-CSRF-Token` from the page is refused, and logout ends the session. And the newcomer's path: the
//! admin `warden admin init` made logs in with its printed password and enrols TOTP on the portal's
//! enrolment page (axe-core there too), then keeps the recovery codes. Screenshots are written to
//! `target/portal-screenshots/`. Skipped when chromium or node is missing, except under CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cmp::totp::{self, Params};
use common::http;
use serde_json::json;

const PASSWORD: &str = "plum tractor evening lighthouse";
const USERNAME: &str = "ops.alice";

fn found(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// Installs the pinned npm packages unless they are there.
fn npm_ci(dir: &Path) {
    if dir.join("node_modules/puppeteer-core/package.json").is_file()
        && dir.join("node_modules/axe-core/axe.min.js").is_file()
        && dir.join("node_modules/otpauth/package.json").is_file()
    {
        return;
    }
    let out = Command::new("npm")
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .output()
        .expect("run npm ci");
    assert!(out.status.success(), "npm ci: {}", String::from_utf8_lossy(&out.stderr));
}

/// Chromium and the test's npm packages, or `None` (skipped) when chromium or node is missing
/// outside CI.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let (Some(chromium), Some(_)) = (found("chromium"), found("node")) else {
        assert!(std::env::var_os("CI").is_none(), "chromium and node are required under CI (.ci/run installs them)");
        eprintln!("skipped: chromium or node not installed (apt-get install chromium nodejs npm)");
        return None;
    };
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    npm_ci(&browser_dir);
    Some((chromium, browser_dir))
}

/// Runs tests/browser/portal.mjs with `env` against the node's portal; returns its findings.
async fn drive(chromium: PathBuf, dir: PathBuf, n: &common::Node, env: &[(&str, &str)]) -> serde_json::Value {
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("portal.mjs")
        .env("PORTAL_URL", format!("http://{}", n.http))
        .env("CHROMIUM", chromium)
        .env("SCREENSHOTS", &shots)
        .envs(env.iter().copied());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run node")).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

#[tokio::test]
async fn login_with_totp_dashboard_csrf_and_logout_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("7c", &[], "login_per_minute = 1000.0", "");
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();

    // An operator admin person; the operator's staff always need a second factor: enrol TOTP through
    // the enrolment ticket of the first login.
    let user = json!({"username": USERNAME, "password": PASSWORD, "role": "operator_admin"});
    let (s, r) = http("POST", &format!("{api}/users"), &operator, Some(user)).await;
    assert_eq!(s, 201, "{r}");
    let (s, t) =
        http("POST", &format!("{api}/auth/login"), "", Some(json!({"username": USERNAME, "password": PASSWORD}))).await;
    assert_eq!((s, t["enrolment_required"].as_bool()), (202, Some(true)), "{t}");
    let ticket = t["ticket"].as_str().unwrap();
    let (s, e) = http("POST", &format!("{api}/me/mfa/totp"), ticket, None).await;
    assert_eq!(s, 201, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    let code = totp::totp(Params::DEFAULT, &totp::base32_decode(&secret).unwrap(), store::now());
    let (s, c) = http("POST", &format!("{api}/me/mfa/totp/confirm"), ticket, Some(json!({"code": code}))).await;
    assert_eq!(s, 200, "{c}");

    let env = [("FLOW", "login"), ("USERNAME", USERNAME), ("PASSWORD", PASSWORD), ("TOTP_SECRET", secret.as_str())];
    let findings = drive(chromium, browser_dir, &n, &env).await;
    assert_eq!((findings["me"].as_str(), findings["role"].as_str()), (Some(USERNAME), Some("operator_admin")));
    assert_eq!(findings["csrf_less_post"], 403);
    assert_eq!(findings["me_after_logout"], 401);
}

/// The newcomer's path of the README: `warden admin init` in a fresh workspace, then the portal: log
/// in as `admin` with the printed initial password, enrol TOTP from the key the page shows, keep the
/// recovery codes, reach the dashboard; the next login asks for a code.
#[tokio::test]
async fn admin_init_then_first_login_enrols_totp_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("7d", &[], "login_per_minute = 1000.0", "");
    let out = common::warden(n.dir.path(), &["admin", "init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().next().unwrap().starts_with("wdn_"), "the token first: {stdout}");
    let password = stdout.lines().find_map(|l| l.strip_prefix("initial password: ")).expect("the password line");
    let _server = n.start().await;

    let env = [("FLOW", "enrol"), ("USERNAME", "admin"), ("PASSWORD", password)];
    let findings = drive(chromium, browser_dir, &n, &env).await;
    assert_eq!((findings["me"].as_str(), findings["role"].as_str()), (Some("admin"), Some("operator_admin")));
    assert_eq!(findings["recovery_codes"], 10);
    assert_eq!(findings["focus"], "enrolment-title", "focus moves to the enrolment page's heading");
    assert_eq!(findings["second_login"], "admin", "a recovery code shown once opens the next login");
    assert!(findings["wrong_code"].as_str().unwrap().contains("not accepted"), "{findings}");
}

/// Passkeys in Chromium: an operator admin with TOTP adds a passkey with Chrome's virtual
/// authenticator on the Passkeys page (axe-core there), logs out, and logs in with password and the
/// passkey; then a newcomer without a factor enrols a passkey instead of TOTP on the enrolment
/// page. The portal is reached as `localhost` (WebAuthn wants a domain name; `localhost` is a
/// secure context over http, and the default `public_origin` of a loopback listener names it).
#[tokio::test]
async fn passkey_enrolment_and_login_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("7e", &[], "login_per_minute = 1000.0", "");
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    let user = json!({"username": USERNAME, "password": PASSWORD, "role": "operator_admin"});
    let (s, r) = http("POST", &format!("{api}/users"), &operator, Some(user)).await;
    assert_eq!(s, 201, "{r}");
    let (s, t) =
        http("POST", &format!("{api}/auth/login"), "", Some(json!({"username": USERNAME, "password": PASSWORD}))).await;
    assert_eq!(s, 202, "{t}");
    let ticket = t["ticket"].as_str().unwrap();
    let (s, e) = http("POST", &format!("{api}/me/mfa/totp"), ticket, None).await;
    assert_eq!(s, 201, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    let code = totp::totp(Params::DEFAULT, &totp::base32_decode(&secret).unwrap(), store::now());
    let (s, c) = http("POST", &format!("{api}/me/mfa/totp/confirm"), ticket, Some(json!({"code": code}))).await;
    assert_eq!(s, 200, "{c}");

    let newcomer = json!({"username": "ops.bob", "password": PASSWORD, "role": "operator_admin"});
    let (s, r) = http("POST", &format!("{api}/users"), &operator, Some(newcomer)).await;
    assert_eq!(s, 201, "{r}");

    let url = format!("http://localhost:{}", n.http.port());
    let env = [
        ("FLOW", "passkey"),
        ("PORTAL_URL", url.as_str()),
        ("USERNAME", USERNAME),
        ("PASSWORD", PASSWORD),
        ("TOTP_SECRET", secret.as_str()),
        ("NEWCOMER", "ops.bob"),
    ];
    let findings = drive(chromium, browser_dir, &n, &env).await;
    assert_eq!(
        (findings["newcomer"].as_str(), findings["newcomer_factor"].as_str()),
        (Some("ops.bob"), Some("webauthn"))
    );
    assert_eq!(findings["newcomer_credentials"], 2, "the newcomer's passkey beside alice's");
    assert_eq!(findings["passkeys"], json!(["Virtual authenticator"]));
    assert_eq!(findings["authenticator_credentials"], 1);
    assert_eq!((findings["me"].as_str(), findings["factor"].as_str()), (Some(USERNAME), Some("webauthn")));

    // The audit trail has the enrolment and the login with the passkey.
    let (s, a) = http("GET", &format!("{api}/audit?limit=1000"), &operator, None).await;
    assert_eq!(s, 200, "{a}");
    let actions: Vec<(String, String)> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["after"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert!(actions.iter().any(|(a, _)| a == "mfa.webauthn.enrol"), "{actions:?}");
    assert!(actions.iter().any(|(a, after)| a == "auth.login" && after.contains("\"webauthn\"")), "{actions:?}");
}
