//! `Strict-Transport-Security` on every response when the API is reached over HTTPS (`[http.tls]` or
//! `[http] behind_tls_proxy`), errors and unknown paths included; never over plain HTTP.

mod common;

use common::Api;

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The HSTS header of a public document, an unknown path and an unauthenticated call.
async fn hsts_of(api: &Api) -> Vec<Option<String>> {
    let mut seen = Vec::new();
    for (path, status) in [("/api/v1/openapi.json", 200), ("/nowhere", 404), ("/api/v1/me", 401)] {
        let r = api.call("GET", path, "", None).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        seen.push(r.headers.get("strict-transport-security").map(|v| v.to_str().unwrap().to_string()));
    }
    seen
}

#[tokio::test]
async fn every_response_over_https_carries_hsts() {
    let tls = api::tls::TlsFiles { cert_file: "cert.pem".into(), key_file: "key.pem".into() };
    let with_tls = api::Settings { tls: Some(tls), ..Default::default() };
    let behind_proxy = api::Settings { behind_tls_proxy: true, ..Default::default() };
    for settings in [with_tls, behind_proxy] {
        let api = Api::with_settings(settings).await;
        assert_eq!(hsts_of(&api).await, vec![Some(HSTS.to_string()); 3]);
    }
}

#[tokio::test]
async fn plain_http_responses_carry_no_hsts() {
    let api = Api::new().await;
    assert_eq!(hsts_of(&api).await, vec![None; 3], "RFC 6797 §7.2: not over insecure transport");
}
