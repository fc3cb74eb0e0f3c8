//! Registrations and updates per second over plain CoAP on loopback: the [`Service`]'s UDP loop
//! against a client that keeps a window of confirmable requests in flight. Ignored by default (a
//! measurement, not a check); run it in release:
//! `cargo test --release -p lwm2m --test udp_throughput -- --ignored --nocapture`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use coap::{Code, Message, MessageType, OptionNumber};
use lwm2m::runtime::Service;
use lwm2m::server::ServerConfig;

const DEVICES: u32 = 100_000;
/// Client sockets, each with its own message-id space (a CoAP client does not reuse an id within
/// EXCHANGE_LIFETIME, and 16 bits last 6.5 s at 10,000/s from one socket).
const CLIENTS: u32 = 4;
const WINDOW: usize = 128;

fn register(mid: u16, i: u32) -> Vec<u8> {
    let mut m = Message::new(MessageType::Con, Code::POST, mid, i.to_be_bytes().to_vec());
    m.set_uri_path("/rd");
    m.push_option(
        OptionNumber::URI_QUERY,
        format!("ep=urn:imei:{:015}", 350_000_000_000_000u64 + u64::from(i)).into_bytes(),
    );
    m.push_option(OptionNumber::URI_QUERY, *b"lt=86400");
    m.push_option(OptionNumber::URI_QUERY, *b"lwm2m=1.1");
    m.push_option(OptionNumber::URI_QUERY, *b"b=U");
    m.payload = b"</1/0>,</3/0>,</4/0>,</5/0>".to_vec();
    m.encode()
}

fn update(mid: u16, i: u32, location: &str) -> Vec<u8> {
    let mut m = Message::new(MessageType::Con, Code::POST, mid, i.to_be_bytes().to_vec());
    m.set_uri_path(&format!("/rd/{location}"));
    m.push_option(OptionNumber::URI_QUERY, *b"lt=86400");
    m.encode()
}

/// Sends requests `base..base + n` made by `make` (message id, device) with at most WINDOW
/// unanswered; message ids are `offset + k`. Returns the answers.
async fn run(
    sock: &tokio::net::UdpSocket,
    base: u32,
    n: u32,
    offset: u16,
    make: impl Fn(u16, u32) -> Vec<u8>,
) -> Vec<Message> {
    let mut answers = Vec::with_capacity(n as usize);
    let mut next = 0u32;
    let mut in_flight: HashMap<u16, u32> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    while answers.len() < n as usize {
        while in_flight.len() < WINDOW && next < n {
            let mid = offset.wrapping_add(next as u16);
            sock.send(&make(mid, base + next)).await.unwrap();
            in_flight.insert(mid, base + next);
            next += 1;
        }
        match tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
            Ok(Ok(len)) => {
                let m = Message::decode(&buf[..len]).unwrap();
                if in_flight.remove(&m.message_id).is_some() {
                    answers.push(m);
                }
            }
            _ => {
                // Lost on loopback (socket buffers): resend what is unanswered.
                for (mid, i) in in_flight.clone() {
                    sock.send(&make(mid, i)).await.unwrap();
                }
            }
        }
    }
    answers
}

/// Runs CLIENTS clients in parallel over all devices; every answer, and the time taken.
async fn all(
    addr: std::net::SocketAddr,
    offset: u16,
    make: impl Fn(u16, u32) -> Vec<u8> + Clone + Send + Sync + 'static,
) -> (Vec<Message>, Duration) {
    let per = DEVICES / CLIENTS;
    let mut socks = Vec::new();
    for _ in 0..CLIENTS {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(addr).await.unwrap();
        socks.push(s);
    }
    let started = Instant::now();
    let tasks: Vec<_> = socks
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            let make = make.clone();
            tokio::spawn(async move { run(&s, k as u32 * per, per, offset, make).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    (answers, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --release"]
async fn registrations_and_updates_per_second_over_udp() {
    let (svc, mut events) = Service::new(ServerConfig {
        allow_unsecured: true,
        unsecured_registrations_per_source_per_sec: 0,
        ..ServerConfig::default()
    });
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(svc.clone().serve_udp(server, std::future::pending()));
    let (answers, took) = all(addr, 0, register).await;
    assert!(answers.iter().all(|a| a.code == Code::CREATED));
    assert_eq!(svc.len(), DEVICES as usize);
    println!("{DEVICES} registrations over UDP in {took:?}: {:.0}/s", f64::from(DEVICES) / took.as_secs_f64());
    let mut locations = vec![String::new(); DEVICES as usize];
    for a in &answers {
        let i = u32::from_be_bytes(a.token[..4].try_into().unwrap());
        locations[i as usize] =
            String::from_utf8(a.options_of(OptionNumber::LOCATION_PATH).nth(1).unwrap().value.clone()).unwrap();
    }
    let locations = std::sync::Arc::new(locations);
    let (answers, took) = all(addr, 32768, move |mid, i| update(mid, i, &locations[i as usize])).await;
    assert!(answers.iter().all(|a| a.code == Code::CHANGED), "{:?}", answers.iter().find(|a| a.code != Code::CHANGED));
    println!("{DEVICES} updates over UDP in {took:?}: {:.0}/s", f64::from(DEVICES) / took.as_secs_f64());
}
