//! HTTP Strict Transport Security (RFC 6797): when clients reach the API over HTTPS (`[http.tls]`,
//! or `[http] behind_tls_proxy`), every response tells the browser to use HTTPS only for two years,
//! for this host and its subdomains. One layer over the whole router (fallbacks and errors
//! included), not a header each handler must remember.

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// The header's value: two years, subdomains included (no `preload`: that is the operator's choice).
pub const VALUE: &str = "max-age=63072000; includeSubDomains";

/// Adds `Strict-Transport-Security` to `response`; the layer is
/// `axum::middleware::map_response(hsts::add)`.
pub async fn add(mut response: Response) -> Response {
    response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(VALUE));
    response
}
