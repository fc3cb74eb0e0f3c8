//! The listeners: EST over HTTPS (RFC 7030 §3.2.2 paths under `/.well-known/est/`, with or without a
//! label naming the tenant) and the CRL (`/crl/<ca>.crl`) and OCSP (`/ocsp`, POST and GET, RFC 6960
//! appendix A) over plain HTTP and HTTPS. Every refusal is an HTTP status with the precise reason as
//! a text body; bodies over the limit get 413; connections beyond [`MAX_CONNECTIONS`] are closed; a
//! source address or endpoint name with too many failed enrolment tokens gets 429 with Retry-After
//! ([`crate::throttle`]) before its token is looked at.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::{self, Kind, Refused};
use crate::pkcs7;
use crate::{Enroller, EstError};

/// Connections served at once per listener.
pub const MAX_CONNECTIONS: usize = 1024;

/// Time for a TLS handshake and for a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The client certificate of the connection a request came on (DER).
#[derive(Debug, Clone, Default)]
pub struct PeerCert(pub Option<Arc<Vec<u8>>>);

type Shared = Arc<Enroller>;

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body + "\n").into_response()
}

fn failure(e: EstError) -> Response {
    match e {
        EstError::BadRequest(m) => text(StatusCode::BAD_REQUEST, m),
        EstError::Unauthorized(m) => {
            let mut r = text(StatusCode::UNAUTHORIZED, m);
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"warden-est\""));
            r
        }
        EstError::Forbidden(m) => text(StatusCode::FORBIDDEN, m),
        EstError::NotFound(m) => text(StatusCode::NOT_FOUND, m),
        other => {
            tracing::warn!(error = %other, "EST request failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
        }
    }
}

fn base64_answer(content_type: &'static str, der: &[u8]) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::HeaderName::from_static("content-transfer-encoding"), "base64"),
        ],
        pkcs7::base64_lines(der),
    )
        .into_response()
}

/// A refusal before the request reaches the CA: its status and reason.
type Refusal = (StatusCode, String);

fn refused((status, reason): Refusal) -> Response {
    text(status, reason)
}

fn body_or_413(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large".into()),
        s => (s, format!("request body: {r}")),
    })
}

/// The credential of an enrolment: HTTP Basic (user = endpoint name, password = token) or Bearer.
fn token_of(headers: &HeaderMap) -> Result<Option<(Option<String>, String)>, EstError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let v = v.to_str().map_err(|_| EstError::Unauthorized("Authorization header is not text".into()))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some((None, rest.trim().to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = pkcs7::decode_base64(rest.as_bytes())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| EstError::Unauthorized("Basic credentials are not base64 text".into()))?;
        let (user, pass) = raw.split_once(':').unwrap_or(("", raw.as_str()));
        let user = (!user.is_empty()).then(|| user.to_string());
        return Ok(Some((user, pass.to_string())));
    }
    Err(EstError::Unauthorized(format!("authorization scheme {scheme:?} not supported (Basic or Bearer)")))
}

/// The CSR of an enrolment body: `application/pkcs10`, base64 (RFC 7030 §4.2.1).
fn csr_of(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Refusal> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("application/pkcs10") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {ct:?}: the request must be application/pkcs10 (base64 DER)"),
        ));
    }
    pkcs7::decode_base64(body)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "the body is not base64-encoded DER (RFC 7030 §4.2.1)".into()))
}

async fn cacerts(State(e): State<Shared>, label: Option<Path<String>>) -> Response {
    match e.ca_for_label(label.as_ref().map(|l| l.0.as_str())).await {
        Ok(ca) => base64_answer("application/pkcs7-mime", &pkcs7::certs_only(&[&ca.cert_der])),
        Err(err) => failure(err),
    }
}

async fn csrattrs() -> Response {
    base64_answer("application/csrattrs", &pkcs7::csr_attributes())
}

fn issued(cert: &[u8]) -> Response {
    base64_answer("application/pkcs7-mime; smime-type=certs-only", &pkcs7::certs_only(&[cert]))
}

/// 429 with Retry-After, whole seconds rounded up (RFC 6585 §4, RFC 9110 §10.2.3).
fn too_many(wait: Duration, reason: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = text(StatusCode::TOO_MANY_REQUESTS, format!("{reason}: retry in {} s", secs.max(1)));
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// The refusal reason an [`EstError`] of an enrolment stands for.
fn refusal_of(e: &EstError) -> Refused {
    match e {
        EstError::BadRequest(_) => Refused::BadCsr,
        EstError::Unauthorized(_) => Refused::BadToken,
        EstError::Forbidden(m) if m.contains("revoked") => Refused::Revoked,
        EstError::Forbidden(_) => Refused::Forbidden,
        EstError::NotFound(_) | EstError::Store(_) | EstError::Ca(_) => Refused::Internal,
    }
}

/// The refusal reason of a request refused before the CA: over the size limit, or a bad CSR body.
fn body_refusal((status, _): &Refusal) -> Refused {
    if *status == StatusCode::PAYLOAD_TOO_LARGE {
        Refused::Oversized
    } else {
        Refused::BadCsr
    }
}

/// An enrolment's answer, counted ([`crate::metrics`]).
fn counted(kind: Kind, outcome: Result<Response, (Refused, Response)>) -> Response {
    match outcome {
        Ok(r) => {
            metrics::enrolled(kind);
            r
        }
        Err((why, r)) => {
            metrics::refused(kind, why);
            r
        }
    }
}

async fn simpleenroll(
    State(e): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    counted(Kind::Enrol, enrol(&e, peer, &headers, body).await)
}

async fn enrol(
    e: &Enroller,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, (Refused, Response)> {
    let body = body_or_413(body).map_err(|r| (body_refusal(&r), refused(r)))?;
    let (user, token) = match token_of(headers) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let err = EstError::Unauthorized("an enrolment token is required (HTTP Basic or Bearer)".into());
            return Err((Refused::BadToken, failure(err)));
        }
        Err(err) => return Err((refusal_of(&err), failure(err))),
    };
    // A locked-out source (or endpoint) learns nothing of the token it sent.
    let source = peer.ip().to_canonical();
    if let Some((wait, reason)) = e.failed_tokens.locked(source, user.as_deref(), Instant::now()) {
        tracing::debug!(peer = %peer, endpoint = ?user, "EST enrolment refused: {reason}");
        return Err((Refused::RateLimited, too_many(wait, reason)));
    }
    let csr = csr_of(headers, &body).map_err(|r| (body_refusal(&r), refused(r)))?;
    match e.enrol(&token, user.as_deref(), &csr).await {
        Ok(i) => Ok(issued(&i.der)),
        Err(err) => {
            if matches!(err, EstError::Unauthorized(_)) {
                e.failed_tokens.failed(source, user.as_deref(), Instant::now());
            }
            Err((refusal_of(&err), failure(err)))
        }
    }
}

async fn simplereenroll(
    State(e): State<Shared>,
    Extension(peer): Extension<PeerCert>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    counted(Kind::Reenrol, reenrol(&e, peer, &headers, body).await)
}

async fn reenrol(
    e: &Enroller,
    peer: PeerCert,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, (Refused, Response)> {
    let body = body_or_413(body).map_err(|r| (body_refusal(&r), refused(r)))?;
    let Some(cert) = peer.0 else {
        let err =
            EstError::Unauthorized("simplereenroll needs the current certificate as TLS client certificate".into());
        return Err((Refused::BadToken, failure(err)));
    };
    let csr = csr_of(headers, &body).map_err(|r| (body_refusal(&r), refused(r)))?;
    match e.reenrol(&cert, &csr).await {
        Ok(i) => Ok(issued(&i.der)),
        Err(err) => Err((refusal_of(&err), failure(err))),
    }
}

async fn crl(State(e): State<Shared>, Path(file): Path<String>) -> Response {
    let Some(label) = file.strip_suffix(".crl") else {
        return text(StatusCode::NOT_FOUND, format!("{file:?}: CRLs are named <ca>.crl"));
    };
    match e.crl(label).await {
        Ok(der) => ([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        Err(err) => failure(err),
    }
}

fn ocsp_answer(der: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

async fn ocsp_post(State(e): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    match body_or_413(body) {
        Ok(b) => ocsp_answer(e.ocsp(&b).await),
        Err(r) => refused(r),
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

async fn ocsp_get(State(e): State<Shared>, Path(encoded): Path<String>) -> Response {
    let Some(der) = percent_decode(&encoded).and_then(|b| pkcs7::decode_base64(&b)) else {
        metrics::ocsp("malformed");
        return ocsp_answer(crate::ocsp::error_response(crate::ocsp::response_status::MALFORMED_REQUEST));
    };
    ocsp_answer(e.ocsp(&der).await)
}

/// The CRL and OCSP routes.
pub fn revocation_routes(enroller: Shared) -> Router {
    Router::new()
        .route("/crl/{file}", get(crl))
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/{*request}", get(ocsp_get))
        .layer(DefaultBodyLimit::max(enroller.policy_max_body()))
        .with_state(enroller)
}

/// The EST routes (and the revocation routes).
pub fn est_routes(enroller: Shared) -> Router {
    let with_label = |base: &str| [format!("/.well-known/est/{base}"), format!("/.well-known/est/{{label}}/{base}")];
    let mut r = Router::new();
    for p in with_label("cacerts") {
        r = r.route(&p, get(cacerts));
    }
    for p in with_label("csrattrs") {
        r = r.route(&p, get(csrattrs));
    }
    for p in with_label("simpleenroll") {
        r = r.route(&p, post(simpleenroll));
    }
    for p in with_label("simplereenroll") {
        r = r.route(&p, post(simplereenroll));
    }
    r.layer(DefaultBodyLimit::max(enroller.policy_max_body()))
        .with_state(enroller.clone())
        .merge(revocation_routes(enroller))
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => match a {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "EST accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(peer = %peer, "EST connection refused: too many open");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (app, acceptor, closing) = (app.clone(), acceptor.clone(), shutdown.clone());
        tracker.spawn(async move {
            let _slot = slot;
            match acceptor {
                None => http1(tcp, peer, PeerCert::default(), app, closing).await,
                Some(acc) => match tokio::time::timeout(HEADER_TIMEOUT, acc.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let cert = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
                        let peer_cert = PeerCert(cert.map(|c| Arc::new(c.to_vec())));
                        http1(stream, peer, peer_cert, app, closing).await
                    }
                    Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "EST TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %peer, "EST TLS handshake timed out"),
                },
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// HTTP/1.1 on a connection (the API's), each request carrying the connection's client certificate.
async fn http1<I>(io: I, peer: SocketAddr, cert: PeerCert, app: Router, closing: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    api::server::http1(io, peer, app.layer(Extension(cert)), HEADER_TIMEOUT, closing).await
}

/// Binds and runs the EST (HTTPS) and revocation (HTTP) listeners; returns their addresses and a
/// future that ends when both have stopped after `shutdown`.
pub async fn start(
    enroller: Shared,
    est_listen: SocketAddr,
    revocation_listen: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, SocketAddr, impl Future<Output = ()>)> {
    let est = TcpListener::bind(est_listen).await?;
    let rev = TcpListener::bind(revocation_listen).await?;
    let (est_addr, rev_addr) = (est.local_addr()?, rev.local_addr()?);
    let a = serve(est, est_routes(enroller.clone()), Some(tls), shutdown.clone());
    let b = serve(rev, revocation_routes(enroller), None, shutdown);
    Ok((est_addr, rev_addr, async move {
        tokio::join!(a, b);
    }))
}
