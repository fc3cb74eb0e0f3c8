//! The web portal in a real browser (issue #15, SEC-8): Debian's `chromium`, driven by npm
//! `puppeteer-core` (tests/browser/portal.mjs, packages pinned by tests/browser/package-lock.json and
//! installed with `npm ci`), against `warden serve`. An operator admin with a TOTP factor (enrolled here
//! through the API) logs in with password and one-time code, sees the dashboard, axe-core finds no
//! serious or critical accessibility violation on the login page and the dashboard, a POST without
//! `X-CSRF-Token` from the page is refused, and logout ends the session. And the newcomer's path: the
//! admin `warden admin init` made logs in with its printed password and enrols TOTP on the portal's
//! enrolment page (axe-core there too), then keeps the recovery codes. Screenshots are written to
//! `target/portal-screenshots/`. Also: every page of the portal as an operator admin (axe-core and a
//! screenshot each), a SIM suspended and activated from its page, the generic step-up dialog and
//! approval notice, and tenant isolation through the UI; and a SIM page's Device section with a real
//! LwM2M client (npm `lwm2m-node-lib`) and its Refresh. Skipped when chromium or node is missing,
//! except under CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cmp::totp::{self, Params};
use common::{browser, http};
use serde_json::json;

const PASSWORD: &str = "plum tractor evening lighthouse";
const USERNAME: &str = "ops.alice";

/// Makes an operator admin person `username` and enrols TOTP through the enrolment ticket of their
/// first login; returns the TOTP secret and the recovery codes.
async fn enrol_operator(api: &str, operator: &str, username: &str) -> (String, Vec<String>) {
    common::make_operator_person(api, operator, username).await;
    common::enrol_totp(api, username).await
}

/// The browser script `script` of tests/browser (`dir`) against the node's portal in `chromium`, with
/// `env`; screenshots go to `target/portal-screenshots/`.
fn browser_script(chromium: &Path, dir: &Path, n: &common::Node, script: &str, env: &[(&str, &str)]) -> Command {
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    let mut cmd = Command::new("node");
    cmd.current_dir(dir)
        .arg(script)
        .env("PORTAL_URL", format!("http://{}", n.http))
        .env("CHROMIUM", chromium)
        .env("SCREENSHOTS", &shots)
        .envs(env.iter().copied());
    cmd
}

/// Runs tests/browser/portal.mjs with `env` against the node's portal; returns its findings.
async fn drive(chromium: PathBuf, dir: PathBuf, n: &common::Node, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = browser_script(&chromium, &dir, n, "portal.mjs", env);
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
    let (secret, _) = enrol_operator(&api, &operator, USERNAME).await;

    let env = [
        ("FLOW", "login"),
        ("USERNAME", USERNAME),
        ("PASSWORD", PASSWORD),
        ("TOTP_SECRET", secret.as_str()),
        ("SIM_IMSI", "001010000000001"),
        ("JOB_IMSI", "001010000000003"),
    ];
    let findings = drive(chromium, browser_dir, &n, &env).await;
    assert_eq!(findings["pages"].as_object().map(|p| p.len()), Some(16), "every page visited: {findings}");
    assert_eq!(findings["search"]["critical"], json!(["001010000000002"]), "prefix and priority: {findings}");
    assert_eq!(findings["search"]["none"], 0, "{findings}");
    let pages = json!([["001010000000001", "001010000000002"], ["001010000000003"]]);
    assert_eq!(findings["search"]["pages"], pages, "cursor paging: {findings}");
    assert!(findings["sim_actions"]["after"].as_u64() >= findings["sim_actions"]["before"].as_u64().map(|n| n + 2));
    assert_eq!(findings["step_up"].as_array().map(|s| s.len()), Some(3), "{findings}");
    assert_eq!(findings["approvals"], json!(["/api/v1/approvals/ap1/approve csrf"]), "{findings}");
    let after = &findings["dashboard_after"];
    assert_eq!(after["counts"][2], "suspended1", "the job's suspension is counted: {findings}");
    assert!(after["bars"].as_u64().unwrap() >= 1, "the chart shows this hour's events: {findings}");
    // The SIM's changes were made through the API for real.
    let (s, sim) = http("GET", &format!("{api}/sims/001010000000001"), &operator, None).await;
    assert_eq!((s, sim["status"].as_str()), (200, Some("active")), "{sim}");
    assert_eq!(findings["job"]["state"], "completed_with_errors", "one IMSI of the job is unknown: {findings}");
    let (_, sim) = http("GET", &format!("{api}/sims/001010000000003"), &operator, None).await;
    assert_eq!(sim["status"], "suspended", "the job suspended the SIM: {sim}");
    assert_eq!((findings["me"].as_str(), findings["role"].as_str()), (Some(USERNAME), Some("operator_admin")));
    assert_eq!(findings["csrf_less_post"], 403);
    assert_eq!(findings["me_after_logout"], 401);
}

/// Makes tenant `acme`, whose people log in with a password alone, and its tenant operator `ann`.
async fn acme_with_ann(api: &str, operator: &str) {
    let (s, r) =
        http("POST", &format!("{api}/tenants"), operator, Some(json!({"name": "acme", "mfa_required": false}))).await;
    assert_eq!(s, 201, "{r}");
    let user = json!({"username": "ann", "password": PASSWORD, "role": "tenant_operator", "tenant": "acme"});
    let (s, r) = http("POST", &format!("{api}/users"), operator, Some(user)).await;
    assert_eq!(s, 201, "{r}");
}

/// Tenant isolation through the portal: a person of tenant `acme` sees only acme's SIMs in the list
/// and on the dashboard; globex's SIM is "not found" on its page, and a change to it from the page's
/// session is refused (404, as if it did not exist); operator pages are not theirs.
#[tokio::test]
async fn a_tenant_sees_only_its_sims_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("7e", &[], "login_per_minute = 1000.0", "");
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    // The CLI's import does not make tenants; acme's people log in with a password alone.
    acme_with_ann(&api, &operator).await;

    let env = [
        ("FLOW", "tenant"),
        ("TENANT", "acme"),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
        ("OTHER_IMSI", "001010000000003"),
    ];
    let findings = drive(chromium, browser_dir, &n, &env).await;
    assert_eq!(findings["tenant"], "acme", "{findings}");
    assert_eq!(findings["sims"], json!(["001010000000001", "001010000000002"]), "only acme's SIMs: {findings}");
    assert_eq!(findings["counts"][1], "active2", "acme's numbers only: {findings}");
    assert_eq!(findings["other_sim"], "SIM not found");
    assert_eq!(findings["other_sim_actions"], 0, "no action offered on it");
    assert_eq!(findings["other_patch"], 404, "changing globex's SIM is refused");
    assert_eq!(findings["operator_page"], "Not found", "the operator's pages are not a tenant's");
    assert!(!findings["nav"].as_array().unwrap().iter().any(|h| h == "#/tenants"), "{findings}");
    let (_, sim) = http("GET", &format!("{api}/sims/001010000000003"), &operator, None).await;
    assert_eq!(sim["status"], "active", "globex's SIM is unchanged: {sim}");
}

/// Runs the browser script `cmd` (with `$SYNC_DIR` set here) until it writes `$SYNC_DIR/ready`, makes
/// every second factor proved so far six minutes older (no longer fresh for a step-up), writes
/// `$SYNC_DIR/go` and returns the script's findings; `stuck` is the message when `ready` never comes.
async fn run_with_aged_factor(cmd: Command, n: &common::Node, stuck: &str) -> serde_json::Value {
    let db = format!("sqlite://{}/data/warden.db", n.dir.path().display());
    run_synced(cmd, stuck, async || {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        let aged = sqlx::query("UPDATE api_tokens SET factor_at = factor_at - 360 WHERE factor_at IS NOT NULL")
            .execute(&pool)
            .await
            .unwrap();
        assert!(aged.rows_affected() >= 1);
        pool.close().await;
    })
    .await
}

/// Runs the browser script `cmd` (with `$SYNC_DIR` set here) until it writes `$SYNC_DIR/ready`, runs
/// `between`, writes `$SYNC_DIR/go` and returns the script's findings; `stuck` is the message when
/// `ready` never comes.
async fn run_synced(mut cmd: Command, stuck: &str, between: impl AsyncFnOnce()) -> serde_json::Value {
    let sync = tempfile::tempdir().unwrap();
    cmd.env("SYNC_DIR", sync.path()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("run node");
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().expect("node ends"));
    let ready = sync.path().join("ready");
    for i in 0.. {
        if ready.exists() {
            break;
        }
        assert!(i < 1200 && !waiter.is_finished(), "{stuck}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    between().await;
    std::fs::write(sync.path().join("go"), "").unwrap();
    let out = waiter.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let findings: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    eprintln!("{findings}");
    findings
}

/// The strings of a JSON array, sorted.
fn sorted(v: &serde_json::Value) -> Vec<String> {
    let mut items: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    items.sort();
    items
}

/// Plants a detection of `tenant`'s SIM `imsi` in the node's store, as the engine would report it.
async fn plant_detection(n: &common::Node, kek_byte: &str, id: &str, tenant: &str, imsi: &str, kind: &str, score: f64) {
    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(1, &kek_byte.repeat(32)).unwrap(), vec![]);
    let db = store::Store::open(&format!("sqlite://{}/data/warden.db", n.dir.path().display()), keys).await.unwrap();
    let finding = cmp::analytics::Finding {
        id: id.into(),
        tenant: tenant.into(),
        imsi: imsi.parse().unwrap(),
        kind: kind.into(),
        score,
        evidence: json!({"ports": [23, 2323], "destinations": 312, "window": {"seconds": 60, "syn_only": true}}),
        at: store::now(),
    };
    let recorded = cmp::analytics::record_detection(&db, &cmp::NoHss, &finding).await.unwrap();
    assert!(recorded.new, "{recorded:?}");
}

/// Security analytics and a SIM's traffic policy in the portal (issues #17, #16), as acme's tenant
/// admin (TOTP): the quarantine acme's policy made for a planted DNS-tunnelling detection is undone from
/// that detection's page; the Security page shows acme's health score, figures and the detections
/// planted here (not globex's, which answers 404 from the page's session too); a detection's page shows its
/// evidence as a definition list and acknowledges it; the analytics policy is saved from the page
/// (pseudonyms off: the top devices show IMSIs); on the SIM's page an invalid prefix shows the API's
/// error under the field and changes nothing, a valid allowlist is saved, the SIM is quarantined and,
/// after the session's second factor aged, the quarantine is lifted through the step-up dialog with a
/// recovery code. axe-core on both new views; the API confirms each change.
#[tokio::test]
async fn security_page_and_traffic_policy_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("8b", &[], "login_per_minute = 1000.0", "");
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    for tenant in ["acme", "globex"] {
        let (s, r) = http("POST", &format!("{api}/tenants"), &operator, Some(json!({"name": tenant}))).await;
        assert_eq!(s, 201, "{r}");
    }
    let user = json!({"username": "ann", "password": PASSWORD, "role": "tenant_admin", "tenant": "acme"});
    let (s, r) = http("POST", &format!("{api}/users"), &operator, Some(user)).await;
    assert_eq!(s, 201, "{r}");
    let (secret, codes) = common::enrol_totp_in(&api, Some("acme"), "ann").await;
    let imsi = "001010000000001"; // acme's meter
    plant_detection(&n, "8b", "acme-scan-1", "acme", imsi, "scanning", 0.8).await;
    plant_detection(&n, "8b", "globex-scan-1", "globex", "001010000000003", "scanning", 0.8).await;
    // acme's policy quarantines DNS tunnelling and nothing else: the next detection quarantines the SIM.
    let policy = json!({"actions": {"dns_tunnelling": "quarantine"}, "default_action": "none"});
    let (s, r) = http("PUT", &format!("{api}/analytics/policy?tenant=acme"), &operator, Some(policy)).await;
    assert_eq!(s, 200, "{r}");
    plant_detection(&n, "8b", "acme-dns-1", "acme", imsi, "dns_tunnelling", 0.9).await;

    let env = [
        ("FLOW", "security"),
        ("TENANT", "acme"),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
        ("TOTP_SECRET", secret.as_str()),
        ("RECOVERY", codes[0].as_str()),
        ("SIM_IMSI", imsi),
        ("DETECTION", "acme-scan-1"),
        ("UNDO_DETECTION", "acme-dns-1"),
        ("OTHER_DETECTION", "globex-scan-1"),
    ];
    let cmd = browser_script(&chromium, &browser_dir, &n, "portal.mjs", &env);
    // Ann quarantined the SIM with a fresh factor: it is aged, so that lifting asks for a step-up.
    let f = run_with_aged_factor(cmd, &n, "the browser did not reach the quarantine").await;

    // The health check the page showed is the API's.
    let (s, health) = http("GET", &format!("{api}/analytics/health?tenant=acme"), &operator, None).await;
    assert_eq!(s, 200, "{health}");
    assert_eq!(f["health"]["score"], health["score"].to_string(), "{f}");
    assert_eq!(health["score"], 83, "detections of 0.90 and 0.80 cost 9 and 8 points: {health}");
    let reasons = json!([
        "−9: 1 dns_tunnelling detection(s) not resolved, highest score 0.90",
        "−8: 1 scanning detection(s) not resolved, highest score 0.80"
    ]);
    assert_eq!(f["health"]["reasons"], reasons, "{f}");
    assert_eq!(f["health"]["risks"], json!(["dns_tunnelling 1 0.90", "scanning 1 0.80"]), "{f}");
    assert_eq!(sorted(&f["by_kind"]), ["dns_tunnelling 1", "scanning 1"], "{f}");
    assert_eq!(f["actions_taken"], json!(["quarantine 1 1"]), "taken and undone: {f}");
    let device = f["devices_before"][0].as_str().unwrap();
    assert!(device.starts_with("dev-") && device.ends_with(" 2 0.90") && !device.contains(imsi), "pseudonymised: {f}");
    assert_eq!(f["devices_after"], json!([format!("{imsi} 2 0.90")]), "the tenant opted out: {f}");
    assert_eq!(sorted(&f["listed"]), ["acme-dns-1", "acme-scan-1"], "acme's detections only: {f}");
    assert_eq!(f["undo"], json!(["quarantine", "quarantined", "restricted"]), "undone from the page: {f}");
    assert!(f["undone_action"].as_str().unwrap().contains("undone at"), "{f}");
    assert_eq!(f["filtered_resolved"], json!([]), "{f}");
    assert_eq!(f["evidence"], json!(["ports", "23, 2323", "destinations", "312", "window", "seconds60syn onlyyes"]));
    assert_eq!(f["acknowledged"], "acknowledged", "{f}");
    assert_eq!((f["other_page"].as_str(), f["other_api"].as_u64()), (Some("Detection not found"), Some(404)), "{f}");
    assert_eq!(sorted(&f["sim_detections"]), ["acme-dns-1", "acme-scan-1"], "{f}");
    assert!(f["bad_prefix"].as_str().unwrap().contains("did you mean 198.51.100.0/24"), "{f}");
    assert_eq!(f["prefixes_after_bad"], json!([]), "a refused entry changes nothing: {f}");
    assert_eq!(f["saved_prefixes"], json!(["203.0.113.7/32:443/tcp"]), "{f}");
    assert_eq!(f["traffic"], json!(["restricted", "quarantined", "restricted"]), "{f}");
    assert_eq!(f["step_up_dialog"], "Confirm it is you", "lifting asked for a step-up: {f}");

    // Each change happened for real.
    let (_, d) = http("GET", &format!("{api}/analytics/detections/acme-scan-1"), &operator, None).await;
    assert_eq!(d["status"], "acknowledged", "{d}");
    assert!(d["status_by"].as_str().unwrap().contains("ann"), "{d}");
    let (_, d) = http("GET", &format!("{api}/analytics/detections/globex-scan-1"), &operator, None).await;
    assert_eq!(d["status"], "open", "{d}");
    let (_, p) = http("GET", &format!("{api}/analytics/policy?tenant=acme"), &operator, None).await;
    assert_eq!((p["agreed"].as_bool(), p["pseudonymise"].as_bool()), (Some(true), Some(false)), "{p}");
    assert_eq!(p["actions"], json!({"dns_tunnelling": "quarantine", "scanning": "quarantine"}), "{p}");
    let (_, d) = http("GET", &format!("{api}/analytics/detections/acme-dns-1"), &operator, None).await;
    assert!(d["action_undone_by"].as_str().unwrap().contains("ann"), "{d}");
    let (s, p) = http("GET", &format!("{api}/sims/{imsi}/policy"), &operator, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["overrides"]["allow_prefixes"], json!(["203.0.113.7/32:443/tcp"]), "{p}");
    assert_eq!(p["overrides"]["allow_domains"], json!(["*.ota.acme.example"]), "{p}");
    assert!(p["quarantine"].is_null() && p["effective"]["traffic"] == "restricted", "{p}");
    let (_, audit) = http("GET", &format!("{api}/audit?limit=1000"), &operator, None).await;
    // The last lift is the person's (the first is the undo of the analytics quarantine).
    let lift = audit["items"].as_array().unwrap().iter().rev().find(|e| e["action"] == "sim.lift_quarantine").unwrap();
    assert!(lift["actor"].as_str().unwrap().ends_with("step-up:recovery"), "{lift}");
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

/// Step-up and the two-person rule in the browser, against the real server (tests/browser/approval.mjs):
/// Alice's second factor is made older than five minutes while she is logged in; terminating the
/// critical SIM then opens the step-up dialog (a wrong code refused there, a recovery code accepted),
/// the retried request is sent for approval and the SIM stays suspended; Alice cannot approve her own
/// request; Bob, a second operator admin, approves it and the SIM is terminated. The audit trail
/// names both and the factors they used. Then Bob changes his password on "My password": his session
/// ends and the new password logs him in.
#[tokio::test]
async fn step_up_then_a_second_person_approves_a_critical_termination_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };

    let n = common::node("7f", &[], "login_per_minute = 1000.0", "");
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    let imsi = "001010000000002"; // acme's critical alarm SIM (examples/sims.csv)
    let (s, r) = http("PATCH", &format!("{api}/sims/{imsi}"), &operator, Some(json!({"status": "suspended"}))).await;
    assert_eq!(s, 200, "{r}");
    let (alice_secret, alice_codes) = enrol_operator(&api, &operator, "ops.alice").await;
    let (bob_secret, bob_codes) = enrol_operator(&api, &operator, "ops.bob").await;

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    let mut cmd = Command::new("node");
    cmd.current_dir(&browser_dir)
        .arg("approval.mjs")
        .env("PORTAL_URL", format!("http://{}", n.http))
        .env("CHROMIUM", chromium)
        .env("SCREENSHOTS", &shots)
        .env("PASSWORD", PASSWORD)
        .env("ALICE", "ops.alice")
        .env("ALICE_SECRET", &alice_secret)
        .env("ALICE_RECOVERY", &alice_codes[0])
        .env("BOB", "ops.bob")
        .env("BOB_SECRET", &bob_secret)
        .env("BOB_RECOVERY", &bob_codes[0])
        .env("NEW_PASSWORD", "quince harbour telescope morning")
        .env("CRITICAL_IMSI", imsi);
    // Alice is logged in: every second factor proved so far is made six minutes older, then she goes on.
    let findings = run_with_aged_factor(cmd, &n, "the browser did not log Alice in").await;

    assert_eq!(findings["before"], "suspended");
    assert_eq!(findings["step_up_dialog"], "Confirm it is you", "the server asked for a step-up: {findings}");
    assert!(findings["wrong_code"].as_str().unwrap().contains("wrong"), "{findings}");
    assert!(findings["requested"].as_str().unwrap().starts_with("Sent for approval"), "{findings}");
    assert_eq!(findings["after_request"], "suspended", "nothing changes before the approval: {findings}");
    assert!(findings["own_approval"].as_str().unwrap().contains("requester"), "{findings}");
    let pending = findings["pending_seen_by_bob"].as_array().unwrap();
    assert!(pending.len() == 1 && pending[0].as_str().unwrap().contains("sim.terminate"), "{findings}");
    assert_eq!(findings["final"], "terminated", "{findings}");
    assert_eq!(findings["after_password_change"], 401, "a password change ends the session: {findings}");
    assert_eq!(findings["relogin"], "ops.bob", "the new password logs in: {findings}");

    let (s, sim) = http("GET", &format!("{api}/sims/{imsi}"), &operator, None).await;
    assert_eq!((s, sim["status"].as_str()), (200, Some("terminated")), "{sim}");
    let (_, audit) = http("GET", &format!("{api}/audit?limit=1000"), &operator, None).await;
    let entries = audit["items"].as_array().unwrap();
    let actor_of = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .map(|e| e["actor"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let asked = actor_of("approval.request");
    assert!(asked.contains("session:ops.alice") && asked.ends_with("step-up:recovery"), "{asked}");
    let approved = actor_of("approval.approve");
    assert!(approved.contains("session:ops.bob") && approved.ends_with("step-up:totp"), "{approved}");
}

/// The SIM page's Device section (issue #19, DM-1) with a real LwM2M client nobody on the project
/// wrote (npm `lwm2m-node-lib`, tests/lwm2m_client/client.cjs): it registers as `urn:imei-imsi:…` of
/// acme's SIM with objects 3/4, and acme's tenant operator sees in chromium the endpoint, model,
/// manufacturer, firmware version, battery, signal in dBm, registration and the IMEI mismatch with the
/// HSS's last Update-Location; axe-core finds nothing serious there. The battery is then changed on
/// the device, and the page's Refresh button shows the new value, read from the device through the
/// API (and audited).
#[tokio::test]
async fn the_sim_page_shows_its_lwm2m_device_in_chromium() {
    let Some((chromium, browser_dir)) = browser() else { return };
    let Some(client_dir) = common::lwm2m_node::node_client() else { return };
    let udp = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (coap, coaps) = (udp(), udp());
    let devices = format!(
        "[devices]\ncoap_listen = \"127.0.0.1:{coap}\"\ncoaps_listen = \"127.0.0.1:{coaps}\"\nallow_unsecured = true\n"
    );
    let n = common::node("8d", &[], "login_per_minute = 1000.0", &devices);
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let operator = n.admin_token();
    let _server = n.start().await;
    let api = n.api();
    acme_with_ann(&api, &operator).await;
    // The HSS saw another IMEI for the SIM than the device reports.
    let imsi = "001010000000001";
    let db = format!("sqlite://{}/data/warden.db", n.dir.path().display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("INSERT INTO registrations (imsi, origin_host, origin_realm, plmn, imei, at) VALUES ($1, 'mme1', 'home.example', '00101', '35209900176148', 1)")
        .bind(imsi)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let imei = "490154203237518";
    let endpoint = format!("urn:imei-imsi:{imei}-{imsi}");
    let server = std::net::SocketAddr::from(([127, 0, 0, 1], coap));
    let mut client = common::lwm2m_node::Client::start(&client_dir, server, &endpoint, imei);
    client.expect("registered");
    // The page is opened once the server has read the device and compared its IMEI.
    for i in 0.. {
        let (_, d) = http("GET", &format!("{api}/sims/{imsi}/devices"), &operator, None).await;
        if d["items"][0]["imei_mismatch"].is_string() {
            break;
        }
        assert!(i < 300, "the device was never read: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let env = [("FLOW", "device"), ("TENANT", "acme"), ("USERNAME", "ann"), ("PASSWORD", PASSWORD), ("SIM_IMSI", imsi)];
    let cmd = browser_script(&chromium, &browser_dir, &n, "portal.mjs", &env);
    let f = run_synced(cmd, "the browser did not show the device", async || {
        client.send("set /3/0 9 42");
        client.expect("set");
    })
    .await;
    assert_eq!(f["device_heading"], "Device", "{f}");
    let d = &f["device"];
    assert_eq!(
        (d["Endpoint"].as_str(), d["State"].as_str()),
        (Some(endpoint.as_str()), Some("Registered (instance hss.home.example)")),
        "{f}"
    );
    assert_eq!(
        (d["Model"].as_str(), d["Manufacturer"].as_str()),
        (Some("node-lwm2m-1"), Some("Warden Test Devices")),
        "{f}"
    );
    assert_eq!((d["Firmware version"].as_str(), d["Serial number"].as_str()), (Some("1.0.7"), Some(imei)), "{f}");
    assert_eq!((d["Battery"].as_str(), d["Signal"].as_str()), (Some("87 %"), Some("-71 dBm")), "{f}");
    let mismatch = format!("Mismatch: the device reports {imei}, the network last saw 35209900176148");
    assert_eq!(d["IMEI check"].as_str(), Some(mismatch.as_str()), "{f}");
    assert!(d["Registered"].as_str().unwrap().ends_with(" UTC"), "{f}");
    assert_eq!(f["device_after"]["Battery"], "42 %", "Refresh read the device again: {f}");
    let audit = http("GET", &format!("{api}/audit?limit=100"), &operator, None).await.1;
    let refreshes = audit["items"].as_array().unwrap().iter().filter(|e| e["action"] == "device.refresh").count();
    assert_eq!(refreshes, 1, "{audit}");
}
