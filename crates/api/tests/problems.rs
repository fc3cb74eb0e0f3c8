//! Bad requests get precise RFC 9457 problem details: malformed JSON, wrong types, unknown fields,
//! oversized bodies, bad pagination, unknown paths and methods, and the per-token rate limit.

mod common;

use common::Api;

#[tokio::test]
async fn malformed_requests_get_problem_details() {
    let api = Api::new().await;
    let (_, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let sim = "/api/v1/sims/001010000000001";
    let cases: Vec<(&str, &str, Option<String>, u16)> = vec![
        ("PATCH", sim, Some("{not json".into()), 400),
        ("PATCH", sim, Some(r#"{"status": 5}"#.into()), 400),
        ("PATCH", sim, Some(r#"{"status": "dormant"}"#.into()), 422),
        ("PATCH", sim, Some(r#"{"status": "active", "k": "00"}"#.into()), 422),
        ("GET", "/api/v1/sims?imsi_to=", None, 400),
        ("GET", "/api/v1/sims/12345", None, 400),
        ("GET", "/api/v1/sims?limit=0", None, 400),
        ("GET", "/api/v1/sims?limit=5000", None, 400),
        ("GET", "/api/v1/sims?limit=abc", None, 400),
        ("GET", "/api/v1/sims?status=dormant", None, 400),
        ("GET", "/api/v1/events?cursor=-4", None, 400),
        ("GET", "/api/v1/nothing", None, 404),
        ("DELETE", "/api/v1/sims", None, 405),
    ];
    for (m, p, body, status) in cases {
        let r = api.raw(m, p, &op, body.clone(), &[]).await;
        assert_eq!(r.status.as_u16(), status, "{m} {p} {body:?}: {}", r.text);
        assert_eq!(r.content_type(), "application/problem+json", "{m} {p}");
        let j = r.json();
        assert_eq!(j["status"].as_u64(), Some(u64::from(status)));
        assert!(j["type"].as_str().unwrap().starts_with("urn:warden:problem:"));
        assert!(!j["detail"].as_str().unwrap().is_empty());
    }
    let r = api.raw("PATCH", sim, &op, Some(r#"{"status":"active"}"#.into()), &[("content-type", "text/plain")]).await;
    assert!(matches!(r.status.as_u16(), 400 | 415), "{}", r.status);
}

#[tokio::test]
async fn body_size_is_limited() {
    let api = Api::with_settings(api::Settings { max_body: 1024, max_job_body: 4096, ..Default::default() }).await;
    let (_, op, _) = api.tenant("acme").await;
    let big = format!(r#"{{"profile": "{}"}}"#, "x".repeat(2000));
    let r = api.raw("PATCH", "/api/v1/sims/001010000000001", &op, Some(big), &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.content_type(), "application/problem+json");
    let imsis: Vec<String> = (0..300).map(|i| format!("{:015}", 1010000000000u64 + i)).collect();
    let body = serde_json::json!({"status": "active", "selection": {"imsis": imsis}}).to_string();
    assert!(body.len() > 1024 && body.len() < 4096 * 2);
    let r = api.raw("POST", "/api/v1/jobs", &op, Some(body), &[]).await;
    assert!(r.status.as_u16() == 202 || r.status.as_u16() == 413, "jobs have their own, larger limit: {}", r.status);
    assert_ne!(r.status.as_u16(), 500);
}

#[tokio::test]
async fn each_token_is_rate_limited() {
    let api = Api::with_settings(api::Settings { rate_per_sec: 0.5, rate_burst: 12.0, ..Default::default() }).await;
    let (admin, op, _) = api.tenant("acme").await;
    let mut codes = vec![];
    for _ in 0..15 {
        codes.push(api.call("GET", "/api/v1/me", &op, None).await);
    }
    assert!(codes[..12].iter().all(|r| r.status == 200));
    let limited = &codes[14];
    assert_eq!(limited.status, 429);
    assert_eq!(limited.content_type(), "application/problem+json");
    assert!(limited.headers.get("retry-after").unwrap().to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(api.call("GET", "/api/v1/me", &admin, None).await.status, 200, "another token has its own budget");
}
