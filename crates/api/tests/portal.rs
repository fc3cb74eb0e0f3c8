//! The portal shell (issue #15): `/` and its assets are served with the strict Content-Security-Policy
//! and the other security headers, with the right content types; the page has no inline script or
//! style and loads nothing from elsewhere; the API beside it is unchanged.

mod common;

use common::Api;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[tokio::test]
async fn shell_and_assets_carry_the_policy_and_content_types() {
    let api = Api::new().await;
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/portal/app.js", "text/javascript; charset=utf-8"),
        ("/portal/passkey.js", "text/javascript; charset=utf-8"),
        ("/portal/app.css", "text/css; charset=utf-8"),
        ("/portal/api.js", "text/javascript; charset=utf-8"),
        ("/portal/router.js", "text/javascript; charset=utf-8"),
    ] {
        let r = api.call("GET", path, "", None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.content_type(), content_type, "{path}");
        let h = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(h("content-security-policy"), CSP, "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(h("cross-origin-opener-policy"), "same-origin", "{path}");
    }
    assert_eq!(api.call("GET", "/portal/missing.js", "", None).await.status, 404);
    assert_eq!(api.call("GET", "/portal/..%2Fsrc%2Flib.rs", "", None).await.status, 404, "only the table's files");
    assert_eq!(api.call("GET", "/api/v1/me", "", None).await.status, 401, "the API is unchanged");
}

#[tokio::test]
async fn the_page_has_no_inline_script_or_style_and_no_external_asset() {
    let api = Api::new().await;
    let page = api.call("GET", "/", "", None).await.text;
    assert!(page.contains("<html lang=\"en\">"));
    let lower = page.to_lowercase();
    let scripts: Vec<&str> = lower.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for s in scripts {
        let (open, rest) = s.split_once('>').unwrap();
        assert!(open.contains("src=\"/portal/"), "a script from this server only: <script{open}>");
        assert!(rest.trim_start().starts_with("</script>"), "no inline script");
    }
    assert!(!lower.contains("<style") && !lower.contains(" style="), "no inline style");
    assert!(!regex_like_handler(&lower), "no inline event handler");
    assert!(!lower.contains("http://") && !lower.contains("https://") && !lower.contains("//cdn"), "no external asset");
    for name in ["<main", "<header", "<label for=\"username\"", "<label for=\"password\"", "<label for=\"code\""] {
        assert!(lower.contains(name), "accessible markup: {name}");
    }
}

/// An attribute like ` onclick=` (inline handlers run only with 'unsafe-inline').
fn regex_like_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    })
}

#[tokio::test]
async fn api_answers_say_how_long_the_server_took() {
    let api = Api::new().await;
    for (path, token) in [("/api/v1/sims", api.operator.clone()), ("/api/v1/me", String::new())] {
        let r = api.call("GET", path, &token, None).await;
        let timing = r.headers.get("server-timing").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let ms: f64 = timing.strip_prefix("app;dur=").and_then(|d| d.parse().ok()).unwrap_or(-1.0);
        assert!(ms >= 0.0, "{path}: {timing:?}");
    }
}
