//! `Server-Timing: app;dur=<ms>` on every API answer (W3C Server Timing): how long the server took
//! from the request's arrival at the API to its answer's head, rate limiting, authentication and
//! the store included. Browsers show it in their developer tools; `scripts/bench-portal.sh` reads
//! it to measure the portal's pages as the server sees them. It reveals no more than a client's own
//! clock would.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Adds the header.
pub async fn layer(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}
