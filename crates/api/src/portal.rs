//! The web portal's shell (issue #15): the page at `/` and its script and style sheet under
//! `/portal/`, built into the binary (no external asset, no CDN: the machine may be offline). Every
//! answer carries a strict Content-Security-Policy (no inline script or style, nothing from elsewhere),
//! `nosniff`, no referrer and a same-origin opener policy. The page talks to `/api/v1` with the
//! portal's cookie session and its CSRF token ([`crate::session_cookie`]).

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The policy of every portal answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("../portal/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file under `/portal/`: name, content type, content. Adding a file to the portal is one line.
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../portal/app.js")),
    ("app.css", CSS, include_str!("../portal/app.css")),
    ("api.js", JS, include_str!("../portal/api.js")),
    ("dom.js", JS, include_str!("../portal/dom.js")),
    ("router.js", JS, include_str!("../portal/router.js")),
    ("auth.js", JS, include_str!("../portal/auth.js")),
    ("dashboard.js", JS, include_str!("../portal/dashboard.js")),
    ("sims.js", JS, include_str!("../portal/sims.js")),
    ("traffic.js", JS, include_str!("../portal/traffic.js")),
    ("security.js", JS, include_str!("../portal/security.js")),
    ("detection.js", JS, include_str!("../portal/detection.js")),
    ("analytics-policy.js", JS, include_str!("../portal/analytics-policy.js")),
    ("jobs.js", JS, include_str!("../portal/jobs.js")),
    ("approvals.js", JS, include_str!("../portal/approvals.js")),
    ("rules.js", JS, include_str!("../portal/rules.js")),
    ("access.js", JS, include_str!("../portal/access.js")),
    ("audit.js", JS, include_str!("../portal/audit.js")),
    ("operator.js", JS, include_str!("../portal/operator.js")),
    ("sessions.js", JS, include_str!("../portal/sessions.js")),
    ("oidc.js", JS, include_str!("../portal/oidc.js")),
    ("passkey.js", JS, include_str!("../portal/passkey.js")),
    ("account.js", JS, include_str!("../portal/account.js")),
];

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// One file of the table, or 404 (nothing outside the table is ever served).
async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => asset(content_type, body),
        None => {
            (StatusCode::NOT_FOUND, [(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP))], "not found")
                .into_response()
        }
    }
}

/// The portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/portal/{file}", get(file))
}

#[cfg(test)]
mod tests {
    use super::FILES;

    /// Every module an ES `import` names is in the table (a missing one would break the page silently).
    #[test]
    fn every_imported_module_is_served() {
        for (name, _, body) in FILES {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let Some(target) = line.split(['\'', '"']).nth(1) else { continue };
                let target = target.trim_start_matches("./");
                assert!(FILES.iter().any(|(n, _, _)| *n == target), "{name} imports {target}, which is not served");
            }
        }
    }

    /// Every file of the portal's directory is in the table.
    #[test]
    fn every_file_of_the_directory_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("portal");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name != "index.html" {
                assert!(FILES.iter().any(|(n, _, _)| *n == name), "portal/{name} is not in FILES");
            }
        }
    }
}
