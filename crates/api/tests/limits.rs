//! The HTTP server's connection limits (issue #12, finding 11): a client that does not finish its
//! request head within the header-read timeout, or its body within the body timeout, is cut off;
//! connections beyond the per-source cap are closed at once while other sources are still served,
//! and the global cap holds for everyone. Short limits are configured, and every wait is bounded.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::Api;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const SECOND_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The API served on a loopback port with `settings`; stops when the returned token is cancelled.
async fn serve(settings: api::Settings) -> (Api, SocketAddr, CancellationToken) {
    let limits = api::server::Limits::from(&settings);
    let api = Api::with_settings(settings).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(api::serve(listener, api.router.clone(), None, limits, stop.clone().cancelled_owned()));
    (api, addr, stop)
}

/// A connection to `addr` from `source`.
async fn connect_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends a whole GET and reads its answer's head (keep-alive: the connection stays open).
async fn get(s: &mut TcpStream, path: &str, token: &str) -> String {
    let auth = if token.is_empty() { String::new() } else { format!("authorization: Bearer {token}\r\n") };
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n{auth}\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = timeout(Duration::from_secs(5), s.read(&mut chunk)).await.expect("an answer in time").unwrap();
        assert!(n > 0, "closed before the answer: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text[..end].to_string();
            }
        }
    }
}

/// Whether the server closes `s` within `within` (end of stream or reset), with the start of
/// whatever it sent before.
async fn closed_within(s: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    let until = tokio::time::Instant::now() + within;
    let closed = loop {
        match tokio::time::timeout_at(until, s.read(&mut chunk)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => seen.extend_from_slice(&chunk[..n]),
        }
    };
    seen.truncate(300);
    (closed, String::from_utf8_lossy(&seen).to_string())
}

#[tokio::test]
async fn partial_request_heads_are_cut_off_after_the_header_timeout() {
    let settings = api::Settings { header_read_timeout_secs: 1, ..Default::default() };
    let (_api, addr, stop) = serve(settings).await;
    // Slowloris: ten connections that send part of a head and then wait; one that sends nothing.
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\nx-slow: ").await.unwrap();
        slow.push(s);
    }
    slow.push(TcpStream::connect(addr).await.unwrap());
    // A client that sends its head at once is served meanwhile.
    let mut good = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut good, "/api/v1/openapi.json", "").await.starts_with("HTTP/1.1 200"));
    for (i, s) in slow.iter_mut().enumerate() {
        let (closed, said) = closed_within(s, Duration::from_secs(5)).await;
        assert!(closed, "connection {i} still open 5 s after a 1 s header timeout");
        assert!(!said.contains("200 OK"), "connection {i} was answered: {said}");
    }
    stop.cancel();
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let settings = api::Settings { body_read_timeout_secs: 1, ..Default::default() };
    let (api, addr, stop) = serve(settings).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
        api.operator
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(b"{\"name\": \"slo").await.unwrap();
    let (closed, said) = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("application/problem+json"), "{said}");
    assert!(closed, "the connection is closed after the 408");
    stop.cancel();
}

#[tokio::test]
async fn connections_beyond_the_per_source_cap_are_closed_while_other_sources_are_served() {
    let settings = api::Settings { max_connections_per_source: 3, ..Default::default() };
    let (api, addr, stop) = serve(settings).await;
    // A token that may only be used from the second source: the server sees each source address.
    let body = json!({"name": "second", "role": "operator_admin", "allowed_sources": [SECOND_SOURCE.to_string()]});
    let r = api.call("POST", "/api/v1/tokens", &api.operator.clone(), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let second = r.json()["secret"].as_str().unwrap().to_string();

    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut s, "/api/v1/openapi.json", "").await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The fourth from 127.0.0.1 is closed without an answer, even with a whole request.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let (closed, said) = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert!(closed && said.is_empty(), "closed at once, unanswered: {said:?}");

    // 127.0.0.2 is another source: served, and seen as itself.
    let mut other = connect_from(SECOND_SOURCE, addr).await;
    assert!(get(&mut other, "/api/v1/me", &second).await.starts_with("HTTP/1.1 200"));
    // Once one of the three is gone, 127.0.0.1 gets a slot again (as soon as the server has seen the
    // close), and is seen as itself: the token bound to 127.0.0.2 is refused from there.
    drop(held.pop());
    let mut answer = None;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET /api/v1/me HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {second}\r\n\r\n");
        let _ = s.write_all(request.as_bytes()).await;
        let mut chunk = [0u8; 64];
        if let Ok(Ok(n @ 1..)) = timeout(Duration::from_secs(2), s.read(&mut chunk)).await {
            answer = Some(String::from_utf8_lossy(&chunk[..n]).to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("127.0.0.1 is served again after closing a connection");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    stop.cancel();
}

#[tokio::test]
async fn the_global_cap_holds_for_every_source() {
    let settings = api::Settings { max_connections: 2, ..Default::default() };
    let (_api, addr, stop) = serve(settings).await;
    let mut a = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut a, "/api/v1/openapi.json", "").await.starts_with("HTTP/1.1 200"));
    let mut b = connect_from(SECOND_SOURCE, addr).await;
    assert!(get(&mut b, "/api/v1/openapi.json", "").await.starts_with("HTTP/1.1 200"));
    let mut c = connect_from(SECOND_SOURCE, addr).await;
    let _ = c.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let (closed, said) = closed_within(&mut c, Duration::from_secs(2)).await;
    assert!(closed && said.is_empty(), "closed at once, unanswered: {said:?}");
    stop.cancel();
}

#[tokio::test]
async fn over_tls_a_stalled_handshake_or_head_is_cut_off_and_whole_requests_are_served() {
    let ca = testkit::tls::Ca::new();
    let leaf = ca.leaf("localhost");
    let config = api::tls::server_config(leaf.cert.pem().as_bytes(), leaf.key.serialize_pem().as_bytes()).unwrap();
    let settings = api::Settings { header_read_timeout_secs: 1, ..Default::default() };
    let limits = api::server::Limits::from(&settings);
    let api = Api::with_settings(settings).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(api::serve(listener, api.router.clone(), Some(config), limits, stop.clone().cancelled_owned()));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let client =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // No handshake at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A handshake, then part of a head.
    let mut slow = connector.connect(name.clone(), TcpStream::connect(addr).await.unwrap()).await.unwrap();
    slow.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    // A whole request is answered meanwhile.
    let mut good = connector.connect(name, TcpStream::connect(addr).await.unwrap()).await.unwrap();
    good.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    timeout(Duration::from_secs(5), good.read_to_end(&mut answer)).await.expect("answered in time").unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer[..answer.len().min(100)]));

    let (closed, _) = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a connection without a handshake is still open 5 s after a 1 s timeout");
    let mut rest = Vec::new();
    let cut = timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(cut.is_ok(), "a TLS connection with half a head is still open 5 s after a 1 s timeout");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    stop.cancel();
}
