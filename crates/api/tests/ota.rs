//! `/ota/jobs` and `/sims/{imsi}/ota` over an OTA engine sending to simulated cards: a tenant's job
//! writes its SIMs and its progress and the SIMs' PoR results are readable; another tenant sees and
//! targets none of it; steering is the operator's; a person whose second factor is stale must step up
//! first; creating a job is audited; without an engine the API answers 503.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{totp_code, Api};
use serde_json::json;
use store::ota::{NewOtaKeyset, OtaKeys};
use testkit::uicc::{Card, SimNetwork};

const STEP_UP: &str = "urn:warden:problem:step-up-required";

async fn with_engine(api: &Api, imsis: &[&str]) -> Arc<SimNetwork> {
    let network = SimNetwork::new();
    let mut sets = Vec::new();
    for imsi in imsis {
        let card = Card {
            keys: ota::KeySet::new(0x12, 0x12, &[0x20; 16], &[0x21; 16]).unwrap(),
            tars: vec![ota::rfm::tar::USIM_RFM],
            counter: ota::Counter::default(),
            files: BTreeMap::from([(0x6F07, vec![0; 9])]),
        };
        network.insert(imsi, card);
        let keys = OtaKeys {
            keyset: 1,
            kic: 0x12,
            kid: 0x12,
            tars: vec![ota::rfm::tar::USIM_RFM],
            enc: zeroize::Zeroizing::new(vec![0x20; 16]),
            mac: zeroize::Zeroizing::new(vec![0x21; 16]),
        };
        sets.push(NewOtaKeyset { imsi: imsi.parse().unwrap(), keys });
    }
    let mut tx = api.store.begin().await.unwrap();
    tx.put_ota_keysets(&sets).await.unwrap();
    tx.commit().await.unwrap();
    let mut settings = otajobs::OtaSettings::with_originator("+4912345").unwrap();
    settings.por_timeout = Duration::from_secs(5);
    settings.rate = 1000.0;
    let engine = otajobs::Engine::new(api.store.clone(), network.clone(), settings);
    network.set_handler(Arc::new(engine.clone()));
    let _supervisor = engine.start().await.unwrap();
    api.state.set_ota(engine);
    network
}

#[tokio::test]
async fn tenants_run_ota_jobs_on_their_sims_and_read_the_results() {
    let api = Api::new().await;
    let (_, acme, acme_viewer) = api.tenant("acme").await;
    let (_, other, _) = api.tenant("other").await;
    api.sims("acme", 1010000000001, 2, "standard").await;
    let (a, b) = ("001010000000001", "001010000000002");
    let body = json!({"kind": "update_file", "imsis": [a, b], "path": "3F00/7FFF/6F07", "data": "0a0b0c"});
    let r = api.call("POST", "/api/v1/ota/jobs", &acme, Some(body.clone())).await;
    assert_eq!(r.status, 503, "no engine yet: {}", r.text);

    let network = with_engine(&api, &[a]).await;
    // b has no OTA keys: refused whole, like a SIM of another tenant.
    let r = api.call("POST", "/api/v1/ota/jobs", &acme, Some(body)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let body = json!({"kind": "update_file", "imsis": [a], "path": "3F00/7FFF/6F07", "data": "0a0b0c"});
    let r = api.call("POST", "/api/v1/ota/jobs", &other, Some(body.clone())).await;
    assert_eq!(r.status, 404, "another tenant's SIM: {}", r.text);
    let r = api.call("POST", "/api/v1/ota/jobs", &acme_viewer, Some(body.clone())).await;
    assert_eq!(r.status, 403, "a viewer may not: {}", r.text);
    let bad = json!({"kind": "update_file", "imsis": [a], "path": "6F07", "data": "0a"});
    assert_eq!(api.call("POST", "/api/v1/ota/jobs", &acme, Some(bad)).await.status, 422);
    let steer = json!({"kind": "steering", "mark": ["26201"]});
    assert_eq!(api.call("POST", "/api/v1/ota/jobs", &acme, Some(steer)).await.status, 403);

    let r = api.call("POST", "/api/v1/ota/jobs", &acme, Some(body)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["job"]["id"].as_str().unwrap().to_string();
    let mut job = json!(null);
    for _ in 0..300 {
        job = api.call("GET", &format!("/api/v1/ota/jobs/{id}"), &acme_viewer, None).await.json();
        if job["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (job["state"].as_str(), job["done"].as_i64(), job["pending"].as_i64()),
        (Some("succeeded"), Some(1), Some(0)),
        "{job}"
    );
    assert_eq!(network.card(a).unwrap().files[&0x6F07][..3], [0x0a, 0x0b, 0x0c]);
    let h = api.call("GET", &format!("/api/v1/sims/{a}/ota"), &acme_viewer, None).await.json();
    let c = &h["items"][0];
    assert_eq!(
        (c["state"].as_str(), c["sw"].as_str(), c["por_status"].as_str()),
        (Some("por_ok"), Some("9000"), Some("por_ok")),
        "{h}"
    );
    assert!(!h.to_string().contains("2020202020"), "no keys in the history");
    assert_eq!(api.call("GET", &format!("/api/v1/sims/{a}/ota"), &other, None).await.status, 404);
    assert_eq!(api.call("GET", &format!("/api/v1/ota/jobs/{id}"), &other, None).await.status, 404);
    let audit = api.call("GET", "/api/v1/audit?limit=100", &api.operator.clone(), None).await.json();
    assert!(audit["items"].as_array().unwrap().iter().any(|e| e["action"] == "ota.job.create"), "{audit}");

    // The operator's steering request: no SIM has a profile list, so no job (200).
    let steer = json!({"kind": "steering", "mark": ["26201"], "for_secs": 60});
    let r = api.call("POST", "/api/v1/ota/jobs", &api.operator.clone(), Some(steer)).await;
    assert_eq!((r.status.as_u16(), r.json()["job"].is_null()), (200, true), "{}", r.text);
}

#[tokio::test]
async fn a_person_with_a_stale_second_factor_must_step_up() {
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let a = "001010000000001";
    let _network = with_engine(&api, &[a]).await;
    let good = "plum tractor evening lighthouse";
    let r = api
        .call(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"username": "alice", "password": good, "role": "tenant_admin"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (secret, alice) = api.enrol_totp(Some("acme"), "alice", good).await;
    api.age_second_factors().await;
    let body = json!({"kind": "update_file", "imsis": [a], "path": "3F00/7FFF/6F07", "data": "01"});
    let r = api.call("POST", "/api/v1/ota/jobs", &alice, Some(body.clone())).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert!(api.store.unfinished_ota_jobs().await.unwrap().is_empty(), "nothing created");
    let r = api
        .call("POST", "/api/v1/me/step-up", &alice, Some(json!({"method": "totp", "code": totp_code(&secret, 30)})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.call("POST", "/api/v1/ota/jobs", &alice, Some(body)).await;
    assert_eq!(r.status, 202, "{}", r.text);
}
