//! `warden serve` stops cleanly on SIGTERM: with AIRs from two MMEs and HTTP requests in flight, every
//! request sent before the signal gets its real answer (AIAs with vectors; the API's responses, a
//! live event stream ended properly), each MME gets DPR before its connection closes, the process
//! exits with status 0 within 2 s, and its listeners are closed afterwards.

mod common;

use common::{free_port, warden, Server, REALM};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::peer::CloseReason;
use diameter::result_code as rc;
use diameter::transport::PeerHandle;
use diameter::Message;
use testkit::s6a::{self, connect_mme, Node, PLMN_00101};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// An MME that reports how its connection ended.
async fn mme(addr: SocketAddr, host: &'static str) -> (PeerHandle, mpsc::UnboundedReceiver<CloseReason>) {
    let link = connect_mme(addr, Node::new(host, REALM), 1024).await.expect("MME connects");
    (link.peer, link.closed)
}

fn air(host: &str, imsi: &str, n: u64) -> Message {
    s6a::air(Node::new(host, REALM), REALM, imsi, PLMN_00101, 1, &format!("air;{imsi};{n}"))
}

/// Reads one HTTP/1.1 response (head and a Content-Length body) from a keep-alive connection.
async fn response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = timeout(Duration::from_secs(5), s.read(&mut chunk)).await.expect("response in time").unwrap();
        assert!(n > 0, "connection closed before a whole response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

fn post(path: &str, token: &str, body: &str) -> (String, String) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body.to_string())
}

#[tokio::test]
async fn sigterm_answers_what_is_in_flight_sends_dpr_and_exits_0_within_2_s() {
    let mport = free_port();
    let extra = format!("[metrics]\nlisten = \"127.0.0.1:{mport}\"\n[sqn]\nblock = 50\n");
    let n = common::node("6b", &["mme1.home.example", "mme2.home.example"], "", &extra);
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let (dir, token, addr, haddr) = (&n.dir, n.admin_token(), n.diameter, n.http);
    let maddr: SocketAddr = format!("127.0.0.1:{mport}").parse().unwrap();
    let mut server = Server::start(dir.path());
    let mut up = false;
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() && TcpStream::connect(haddr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "warden serve listening");

    // Two MMEs, each warmed up with one AIR.
    let mut mmes = Vec::new();
    for host in ["mme1.home.example", "mme2.home.example"] {
        let (h, closed) = mme(addr, host).await;
        let a = h.request(air(host, "001010000000001", 0)).await.unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        mmes.push((host, h, closed));
    }
    // HTTP: keep-alive connections, each warmed up (so the server has accepted it), then a request
    // whose head and most of its body are sent before the signal and its last byte after it.
    let mut https = Vec::new();
    for i in 0..4 {
        let mut s = TcpStream::connect(haddr).await.unwrap();
        s.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(response(&mut s).await.starts_with("HTTP/1.1 200"));
        let (head, body) = post("/api/v1/tenants", &token, &format!("{{\"name\": \"tenant{i}\"}}"));
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body.as_bytes()[..body.len() - 1]).await.unwrap();
        https.push((s, body));
    }
    // A live event stream, open (headers received) before the signal.
    let mut sse = TcpStream::connect(haddr).await.unwrap();
    sse.write_all(
        format!("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        timeout(Duration::from_secs(5), sse.read_exact(&mut byte)).await.expect("stream head in time").unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/event-stream"), "{head}");

    // A burst of AIRs on both connections; SIGTERM as soon as the first is answered, while the rest
    // are being handled.
    let (first_tx, mut first) = mpsc::unbounded_channel::<()>();
    let mut airs = Vec::new();
    for (host, h, _) in &mmes {
        for n in 1..=150u64 {
            let (h, host, first_tx) = (h.clone(), host.to_string(), first_tx.clone());
            let imsi = if n % 2 == 0 { "001010000000001" } else { "001010000000003" };
            airs.push(tokio::spawn(async move {
                let answer = h.request(air(&host, imsi, n)).await;
                let _ = first_tx.send(());
                (answer, Instant::now())
            }));
        }
    }
    timeout(Duration::from_secs(5), first.recv()).await.expect("a first AIA").unwrap();
    let kill = std::process::Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(kill.success());
    // The signal is delivered when kill(1) returns: what is answered after this was in flight.
    let signalled = Instant::now();
    for (s, body) in &mut https {
        let _ = s.write_all(&body.as_bytes()[body.len() - 1..]).await;
    }

    // The process exits with status 0 within 2 s.
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(2), "still running 2 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let took = signalled.elapsed();
    eprintln!("warden serve exited {status} {} ms after SIGTERM", took.as_millis());
    assert!(status.success(), "exit status {status}");

    // Every AIR sent before the signal got its AIA with a vector; some were still in flight at the signal.
    let mut after_signal = 0;
    for t in airs {
        let (answer, at) = t.await.unwrap();
        let a = answer.expect("an answer, not a closed connection");
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        assert!(a.get(avp::AUTHENTICATION_INFO).is_some(), "a real AIA with vectors");
        after_signal += usize::from(at > signalled);
    }
    assert!(after_signal > 0, "no AIR was in flight at the signal: the test proved nothing");
    eprintln!("{after_signal} of 300 AIRs were answered after the signal");
    // Each MME got DPR (Disconnect-Cause REBOOTING) before its connection closed.
    for (host, _, closed) in &mut mmes {
        let reason = timeout(Duration::from_secs(2), closed.recv()).await.expect("closed").unwrap();
        assert_eq!(reason, CloseReason::RemoteDisconnect(0), "{host}");
    }
    // Every HTTP request in flight got its response: the tenant was created.
    for (s, _) in &mut https {
        let r = response(s).await;
        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
    }
    // The event stream ended cleanly: the chunked body's last chunk, then the connection closed.
    let mut rest = Vec::new();
    timeout(Duration::from_secs(2), sse.read_to_end(&mut rest)).await.expect("stream ended").unwrap();
    assert!(rest.ends_with(b"0\r\n\r\n"), "{:?}", String::from_utf8_lossy(&rest));
    // The listeners are closed.
    for a in [addr, haddr, maddr] {
        assert!(TcpStream::connect(a).await.is_err(), "{a} still accepts connections");
    }
    drop(server);
    let out = warden(dir.path(), &["sim", "show", "001010000000001"]);
    assert!(out.status.success(), "the store opens again after the shutdown");
}
