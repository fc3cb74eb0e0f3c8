//! `warden serve` with `[ota]`: the engine runs inside the server and the API takes OTA jobs; until an
//! SMS transport is configured every command is refused by the stand-in transport and recorded as
//! failed in the SIM's OTA history (retried, then the SIM reported failed); a bad `[ota]` value is
//! refused at start naming the setting.

mod common;

use common::{http, node, warden};

#[tokio::test]
async fn serve_runs_the_ota_engine_behind_the_api() {
    let ota = "[ota]\noriginator = \"+4912345\"\npor_timeout_secs = 1\nmax_attempts = 2\nretry_backoff_secs = 0\n";
    let n = node("5a", &[], "", ota);
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let keys = n.dir.path().join("keys.csv");
    std::fs::write(
        &keys,
        "imsi,keyset,kic,kid,tar,enc_key,mac_key\n001010000000001,1,12,12,b00011,\
         000102030405060708090a0b0c0d0e0f,f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n",
    )
    .unwrap();
    assert!(warden(n.dir.path(), &["ota", "keys", "import", keys.to_str().unwrap()]).status.success());
    let token = n.admin_token();
    let _server = n.start().await;
    let body = serde_json::json!({"kind": "update_file", "imsis": ["001010000000001"], "path": "3F00/7FFF/6F07", "data": "00"});
    let (status, created) = http("POST", &format!("{}/ota/jobs", n.api()), &token, Some(body)).await;
    assert_eq!(status, 202, "{created}");
    let id = created["job"]["id"].as_str().unwrap().to_string();
    let mut job = serde_json::Value::Null;
    for _ in 0..200 {
        job = http("GET", &format!("{}/ota/jobs/{id}", n.api()), &token, None).await.1;
        if job["state"] == "completed_with_errors" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!((job["state"].as_str(), job["failed"].as_i64()), (Some("completed_with_errors"), Some(1)), "{job}");
    let (_, h) = http("GET", &format!("{}/sims/001010000000001/ota", n.api()), &token, None).await;
    let c = &h["items"][0];
    assert_eq!((c["state"].as_str(), c["attempts"].as_i64()), (Some("failed"), Some(2)), "{h}");
    assert!(c["detail"].as_str().unwrap().contains("no SMS transport"), "{h}");
}

#[test]
fn a_bad_ota_setting_is_refused_naming_it() {
    let n = node("5b", &[], "", "[ota]\noriginator = \"+4912345\"\nrate = 0\n");
    let out = warden(n.dir.path(), &["serve"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ota.rate"), "{}", String::from_utf8_lossy(&out.stderr));
}
