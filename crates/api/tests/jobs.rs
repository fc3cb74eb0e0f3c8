//! Bulk jobs: by list (bad items fail alone), by range and filter, per-item results, progress,
//! cancel, idempotent retries, and the HSS told of each changed SIM.

mod common;

use common::Api;
use serde_json::json;

#[tokio::test]
async fn list_job_with_bad_items_changes_the_good_ones() {
    let api = Api::new().await;
    let (admin, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 5, "standard").await;
    api.sims("acme", 1010000000010, 1, "critical").await;
    // One SIM already active (unchanged), one terminated-bound (refused), one unknown, one malformed.
    assert_eq!(
        api.call("PATCH", "/api/v1/sims/001010000000002", &op, Some(json!({"status": "active"}))).await.status,
        200
    );
    let imsis = json!([
        "001010000000001",
        "001010000000002",
        "001010000000003",
        "001010000000999",
        "garbage",
        "001010000000010"
    ]);
    let r =
        api.call("POST", "/api/v1/jobs", &op, Some(json!({"status": "active", "selection": {"imsis": imsis}}))).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let j = api.wait_job(&id, &op).await;
    assert_eq!(j["state"], "completed_with_errors");
    assert_eq!(
        (j["total"].as_i64(), j["succeeded"].as_i64(), j["unchanged"].as_i64(), j["failed"].as_i64()),
        (Some(6), Some(3), Some(1), Some(2))
    );
    let items = api.call("GET", &format!("/api/v1/jobs/{id}/items?outcome=failed"), &op, None).await.json();
    let failed: Vec<(String, String)> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["imsi"].as_str().unwrap().to_string(), i["detail"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        failed,
        vec![("001010000000999".into(), "SIM not found".into()), ("garbage".into(), "SIM not found".into())]
    );
    for imsi in ["001010000000001", "001010000000003", "001010000000010"] {
        assert_eq!(api.call("GET", &format!("/api/v1/sims/{imsi}"), &op, None).await.json()["status"], "active");
    }
    assert_eq!(api.call("GET", "/api/v1/sims/001010000000004", &op, None).await.json()["status"], "inventory");
    let told: Vec<String> = api.hss.0.lock().unwrap().iter().map(|t| t.0.clone()).collect();
    assert_eq!(told.len(), 4, "one PATCH and three job items: {told:?}");

    // Critical SIMs cannot be suspended by a tenant job; they are reported, the rest proceed.
    let r = api
        .call("POST", "/api/v1/jobs", &op, Some(json!({"status": "suspended", "selection": {"status": "active"}})))
        .await;
    let j = api.wait_job(r.json()["id"].as_str().unwrap(), &op).await;
    assert_eq!((j["succeeded"].as_i64(), j["failed"].as_i64()), (Some(3), Some(1)), "{j}");
    let items = api
        .call("GET", &format!("/api/v1/jobs/{}/items?outcome=failed", j["id"].as_str().unwrap()), &op, None)
        .await
        .json();
    assert!(items["items"][0]["detail"].as_str().unwrap().contains("termination protection"));

    let audit = api.call("GET", "/api/v1/audit", &admin, None).await.json();
    assert_eq!(audit["items"].as_array().unwrap().iter().filter(|a| a["action"] == "job.create").count(), 2);
}

#[tokio::test]
async fn range_job_with_pages_and_profile_change() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000000, 5000, "standard").await;
    let r = api
        .call("POST", "/api/v1/jobs", &op, Some(json!({"status": "active", "selection": {"imsi_from": "001010000001000", "imsi_to": "001010000003999"}})))
        .await;
    let j = api.wait_job(r.json()["id"].as_str().unwrap(), &op).await;
    assert_eq!(
        (j["state"].as_str(), j["total"].as_i64(), j["succeeded"].as_i64()),
        (Some("succeeded"), Some(3000), Some(3000))
    );
    let active = api.call("GET", "/api/v1/sims?status=active&limit=1000", &op, None).await.json();
    assert_eq!(active["items"][0]["imsi"], "001010000001000");
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page =
            api.call("GET", &format!("/api/v1/sims?status=active&limit=700&cursor={cursor}"), &op, None).await.json();
        count += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(count, 3000, "cursor pagination visits every active SIM once");
    let r = api
        .call(
            "POST",
            "/api/v1/jobs",
            &op,
            Some(json!({"profile": "alarm", "selection": {"status": "active", "imsi_to": "001010000001099"}})),
        )
        .await;
    let j = api.wait_job(r.json()["id"].as_str().unwrap(), &op).await;
    assert_eq!(j["succeeded"].as_i64(), Some(100));
    assert_eq!(api.call("GET", "/api/v1/sims/001010000001050", &op, None).await.json()["profile"], "alarm");
    assert_eq!(api.call("GET", "/api/v1/sims/001010000001100", &op, None).await.json()["profile"], "meter");
}

#[tokio::test]
async fn cancel_and_idempotent_retry() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000000, 50, "standard").await;
    // Hold both places for batches so the job stays queued until it is cancelled.
    let slots = (api.state.0.job_slots.turn("x").await, api.state.0.job_slots.turn("y").await);
    let body = json!({"status": "active", "selection": {"status": "inventory"}});
    let r = api.raw("POST", "/api/v1/jobs", &op, Some(body.to_string()), &[("idempotency-key", "k-1")]).await;
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let again = api.raw("POST", "/api/v1/jobs", &op, Some(body.to_string()), &[("idempotency-key", "k-1")]).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["id"], id.as_str(), "a retried POST returns the first job");
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    let other = json!({"status": "suspended", "selection": {"status": "inventory"}});
    let clash = api.raw("POST", "/api/v1/jobs", &op, Some(other.to_string()), &[("idempotency-key", "k-1")]).await;
    assert_eq!(clash.status, 422, "same key, different request");
    assert_eq!(api.call("GET", "/api/v1/jobs", &op, None).await.json()["items"].as_array().unwrap().len(), 1);

    let r = api.call("POST", &format!("/api/v1/jobs/{id}/cancel"), &op, None).await;
    assert_eq!(r.status, 202);
    drop(slots);
    let j = api.wait_job(&id, &op).await;
    assert_eq!((j["state"].as_str(), j["succeeded"].as_i64()), (Some("cancelled"), Some(0)));
    assert_eq!(api.call("POST", &format!("/api/v1/jobs/{id}/cancel"), &op, None).await.status, 409);

    // Running the same change twice: the second run reports everything unchanged.
    for expect in [(50, 0), (0, 50)] {
        let r = api
            .call(
                "POST",
                "/api/v1/jobs",
                &op,
                Some(json!({"status": "active", "selection": {"imsi_from": "001010000000000"}})),
            )
            .await;
        let j = api.wait_job(r.json()["id"].as_str().unwrap(), &op).await;
        assert_eq!((j["succeeded"].as_i64(), j["unchanged"].as_i64()), (Some(expect.0), Some(expect.1)));
    }
}

#[tokio::test]
async fn job_requests_are_checked() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    for body in [
        json!({"selection": {"imsis": ["001010000000001"]}}),
        json!({"status": "active", "profile": "meter", "selection": {"imsis": ["001010000000001"]}}),
        json!({"status": "active", "selection": {}}),
        json!({"status": "active", "selection": {"imsis": []}}),
        json!({"status": "active", "selection": {"imsis": ["001010000000001"], "status": "active"}}),
        json!({"status": "active", "selection": {"imsi_from": "12"}}),
        json!({"profile": "nope", "selection": {"status": "active"}}),
    ] {
        let r = api.call("POST", "/api/v1/jobs", &op, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
    }
    let r = api.call("POST", "/api/v1/jobs", &op, Some(json!({"status": "dormant", "selection": {}}))).await;
    assert_eq!(r.status, 422, "unknown status");
}

#[tokio::test]
async fn one_tenants_big_jobs_do_not_hold_up_anothers_small_one() {
    let api = Api::new().await;
    let (_, hog, _) = api.tenant("hog").await;
    let (_, small, _) = api.tenant("small").await;
    api.sims("small", 2020000000001, 1, "standard").await;
    // Four jobs of 40,000 IMSIs each (20 batches each), queued before the small tenant's job.
    let list: Vec<String> = (0..40_000u64).map(|i| format!("00101{i:010}")).collect();
    let mut hogs = Vec::new();
    for _ in 0..4 {
        let r = api
            .call("POST", "/api/v1/jobs", &hog, Some(json!({"status": "active", "selection": {"imsis": list}})))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        hogs.push(r.json()["id"].as_str().unwrap().to_string());
    }
    // The quota: a fifth unfinished job is refused.
    let r = api
        .call(
            "POST",
            "/api/v1/jobs",
            &hog,
            Some(json!({"status": "active", "selection": {"imsis": ["001010000000001"]}})),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());

    let r = api
        .call(
            "POST",
            "/api/v1/jobs",
            &small,
            Some(json!({"status": "active", "selection": {"imsis": ["002020000000001"]}})),
        )
        .await;
    assert_eq!(r.status, 202, "another tenant's quota is its own: {}", r.text);
    let j = api.wait_job(r.json()["id"].as_str().unwrap(), &small).await;
    assert_eq!(j["succeeded"].as_i64(), Some(1), "{j}");
    // Before, the small job waited until two of the big ones had ended.
    for id in &hogs {
        let h = api.call("GET", &format!("/api/v1/jobs/{id}"), &hog, None).await.json();
        assert!(matches!(h["state"].as_str(), Some("queued" | "running")), "a big job ended first: {h}");
    }
    for id in &hogs {
        assert_eq!(api.call("POST", &format!("/api/v1/jobs/{id}/cancel"), &hog, None).await.status, 202);
    }
    for id in &hogs {
        assert_eq!(api.wait_job(id, &hog).await["state"], "cancelled");
    }
}
