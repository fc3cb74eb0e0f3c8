//! Shared set-up for the API tests: a fresh SQLite store, the router, an HSS stand-in that records
//! what it was told, tenants with tokens of every role, and SIMs imported through the API.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use api::{AppState, Settings};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use store::model::{Sim, SimStatus};
use store::seal::{Kek, Keyring};
use store::Store;
use tower::ServiceExt;

/// K used for every test SIM; must never appear in a response.
pub const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
/// OPc used for every test SIM.
pub const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

/// What the HSS was told.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(String, String)>>);

impl cmp::HssNotifier for Recorder {
    fn status_changed(&self, before: &Sim, to: SimStatus) {
        self.0.lock().unwrap().push((before.imsi.to_string(), format!("status:{}->{to}", before.status)));
    }
    fn profile_changed(&self, before: &Sim) {
        self.0.lock().unwrap().push((before.imsi.to_string(), "profile".into()));
    }
    fn policy_changed(&self, imsi: &ids::Imsi) {
        self.0.lock().unwrap().push((imsi.to_string(), "policy".into()));
    }
}

/// A running API over a temporary store.
pub struct Api {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub state: AppState,
    pub hss: Arc<Recorder>,
    pub router: axum::Router,
    pub operator: String,
}

/// An answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Api {
    pub async fn new() -> Api {
        Self::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::open(&url, Keyring::new(Kek::from_bytes(1, &[9; 32]), vec![])).await.unwrap();
        let hss = Arc::new(Recorder::default());
        let state = AppState::new(store.clone(), hss.clone(), settings);
        let router = api::router(state.clone());
        let rules = cmp::access::PasswordRules::default();
        let operator =
            cmp::access::init_operator_admin(&store, &rules, &cmp::Actor::cli(), "root", "admin").await.unwrap().token;
        let api = Api { dir, store, state, hss, router, operator };
        let p = json!({"services": ["data"], "apn": [{"name": "iot.example", "pdn_type": "ipv4", "qci": 9}]});
        assert_eq!(api.call("PUT", "/api/v1/profiles/meter", &api.operator.clone(), Some(p)).await.status, 200);
        let p = json!({"services": ["data", "sms"]});
        assert_eq!(api.call("PUT", "/api/v1/profiles/alarm", &api.operator.clone(), Some(p)).await.status, 200);
        api
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.raw(method, path, token, body.map(|b| b.to_string()), &[]).await
    }

    /// Sends a request with raw body text and extra headers.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(path);
        if !token.is_empty() {
            b = b.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            b = b.header("content-type", "application/json");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// Creates a tenant and returns tokens for (admin, operator, viewer).
    pub async fn tenant(&self, name: &str) -> (String, String, String) {
        let op = self.operator.clone();
        assert_eq!(self.call("POST", "/api/v1/tenants", &op, Some(json!({"name": name}))).await.status, 201);
        let mut out = vec![];
        for role in ["tenant_admin", "tenant_operator", "tenant_viewer"] {
            let r = self
                .call("POST", "/api/v1/tokens", &op, Some(json!({"name": role, "role": role, "tenant": name})))
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            out.push(r.json()["secret"].as_str().unwrap().to_string());
        }
        (out[0].clone(), out[1].clone(), out[2].clone())
    }

    /// Lets the people of `tenant` log in with a password alone (`mfa_required = false`).
    pub async fn password_only(&self, tenant: &str) {
        let body = json!({"mfa_required": false});
        let r = self.call("PATCH", &format!("/api/v1/tenants/{tenant}"), &self.operator.clone(), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Imports `n` SIMs from `first` (consecutive IMSIs) into `tenant` with `priority`.
    pub async fn sims(&self, tenant: &str, first: u64, n: u64, priority: &str) {
        let sims: Vec<Value> = (first..first + n)
            .map(|i| json!({"imsi": format!("{i:015}"), "k": K, "opc": OPC, "amf": "8000", "profile": "meter", "priority": priority}))
            .collect();
        let r = self
            .call("POST", "/api/v1/sims", &self.operator.clone(), Some(json!({"tenant": tenant, "sims": sims})))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// Waits until a job is finished and returns it.
    pub async fn wait_job(&self, id: &str, token: &str) -> Value {
        for _ in 0..600 {
            let j = self.call("GET", &format!("/api/v1/jobs/{id}"), token, None).await.json();
            if !matches!(j["state"].as_str(), Some("queued" | "running")) {
                return j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("job {id} did not finish");
    }
}

/// The TOTP code of the base32 `secret` at now + `offset` seconds.
pub fn totp_code(secret: &str, offset: i64) -> String {
    use cmp::totp::{self, Params};
    totp::totp(Params::DEFAULT, &totp::base32_decode(secret).unwrap(), store::now() + offset)
}

impl Api {
    /// Enrols the person `username` of `tenant` (MFA required) with TOTP through the enrolment ticket
    /// of a first login with `password`; returns (secret, session token). The session proved TOTP
    /// just now, so it may do sensitive tasks for five minutes.
    pub async fn enrol_totp(&self, tenant: Option<&str>, username: &str, password: &str) -> (String, String) {
        let mut body = json!({"username": username, "password": password});
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        let r = self.call("POST", "/api/v1/auth/login", "", Some(body)).await;
        assert_eq!(r.status, 202, "{}", r.text);
        let ticket = r.json()["ticket"].as_str().unwrap().to_string();
        let r = self.call("POST", "/api/v1/me/mfa/totp", &ticket, None).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let secret = r.json()["secret"].as_str().unwrap().to_string();
        let r = self
            .call("POST", "/api/v1/me/mfa/totp/confirm", &ticket, Some(json!({"code": totp_code(&secret, 0)})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        (secret, r.json()["session"]["token"].as_str().unwrap().to_string())
    }

    /// Makes every second factor proved so far 301 seconds older: past the five minutes of a step-up.
    pub async fn age_second_factors(&self) {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/t.db", self.dir.path().display())).await.unwrap();
        sqlx::query("UPDATE api_tokens SET factor_at = factor_at - 301 WHERE factor_at IS NOT NULL")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    /// A tenant-admin person `username` of `tenant` (created with `admin`) with TOTP enrolled, whose
    /// second factor was proved more than five minutes ago; returns (secret, session).
    pub async fn stale_tenant_admin(&self, admin: &str, tenant: &str, username: &str) -> (String, String) {
        let password = "plum tractor evening lighthouse";
        let body = json!({"username": username, "password": password, "role": "tenant_admin"});
        let r = self.call("POST", "/api/v1/users", admin, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let (secret, session) = self.enrol_totp(Some(tenant), username, password).await;
        self.age_second_factors().await;
        (secret, session)
    }

    /// An operator admin person `username` with TOTP enrolled; returns (secret, fresh session).
    pub async fn operator_person(&self, username: &str) -> (String, String) {
        let body =
            json!({"username": username, "password": "plum tractor evening lighthouse", "role": "operator_admin"});
        let r = self.call("POST", "/api/v1/users", &self.operator.clone(), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        self.enrol_totp(None, username, "plum tractor evening lighthouse").await
    }
}

// Firmware images signed by OpenSSL (firmware and campaign tests).

pub fn openssl(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = match Command::new("openssl").current_dir(dir).args(args).output() {
        Ok(o) => o,
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "openssl is not installed but CI is set");
            println!("SKIPPED: openssl not found; firmware uploads not checked");
            return None;
        }
    };
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(out.stdout)
}

/// An Ed25519 key made by OpenSSL: (private key file name, public PEM).
pub fn keypair(dir: &Path, name: &str) -> Option<(String, String)> {
    let private = format!("{name}.key");
    openssl(dir, &["genpkey", "-algorithm", "ed25519", "-out", &private])?;
    let public = openssl(dir, &["pkey", "-in", &private, "-pubout"])?;
    Some((private, String::from_utf8(public).unwrap()))
}

/// `(manifest, signature)` for `image` at `version`, signed by `key` with `openssl pkeyutl`.
pub fn signed(dir: &Path, key: &str, image: &[u8], version: &str) -> (Vec<u8>, Vec<u8>) {
    let manifest = format!(
        r#"{{"format": 1, "model": "acme-meter-3", "version": "{version}", "size": {}, "sha256": "{}"}}"#,
        image.len(),
        hex::encode(Sha256::digest(image))
    );
    std::fs::write(dir.join("m.json"), &manifest).unwrap();
    let sig = openssl(dir, &["pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", "m.json"]).unwrap();
    (manifest.into_bytes(), sig)
}

pub fn upload(manifest: &[u8], sig: &[u8], image: &[u8]) -> Value {
    let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
    json!({"manifest": b(manifest), "signature": b(sig), "image": b(image)})
}
