//! The platform stops on its shutdown token: the HTTP server stops accepting and returns, a live
//! event stream ends properly (its last chunk, not a reset), and every background task handed out by
//! `start_background` ends.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// No subscriber is busy.
struct Quiet;
impl api::engine::SignallingSource for Quiet {
    fn at_least(&self, _min: u32) -> Vec<(String, i64, u32)> {
        Vec::new()
    }
}

#[tokio::test]
async fn shutdown_ends_live_streams_the_server_and_the_background_work() {
    let api = Api::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = api.state.shutdown_token().clone();
    let limits = api::server::Limits::from(&api.state.0.settings);
    let server = tokio::spawn(api::serve(listener, api.router.clone(), None, limits, stop.clone().cancelled_owned()));
    let mut background = tokio::task::JoinSet::new();
    let tasks = api::start_background(&api.state, Arc::new(Quiet)).await;
    let names: Vec<_> = tasks.iter().map(|t| t.name).collect();
    assert_eq!(names, ["webhook delivery", "rule engine", "idempotency and session purge", "bulk jobs"]);
    for t in tasks {
        background.spawn(t.future);
    }

    let mut sse = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", api.operator);
    sse.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        timeout(Duration::from_secs(5), sse.read_exact(&mut byte)).await.expect("stream head").unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains("text/event-stream"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!background.is_empty() && !server.is_finished(), "running until the token is cancelled");

    stop.cancel();
    let mut rest = Vec::new();
    timeout(Duration::from_secs(5), sse.read_to_end(&mut rest)).await.expect("the stream ends").unwrap();
    assert!(rest.ends_with(b"0\r\n\r\n"), "a proper end of the chunked body: {:?}", String::from_utf8_lossy(&rest));
    timeout(Duration::from_secs(5), server).await.expect("the server returns").unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    timeout(Duration::from_secs(5), async {
        while let Some(ended) = background.join_next().await {
            ended.unwrap();
        }
    })
    .await
    .expect("every background task ends");
}
