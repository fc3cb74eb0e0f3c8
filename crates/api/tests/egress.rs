//! Webhook deliveries go only where the deny list allows (issue #12, finding 3): a name is resolved
//! when a delivery is made and every address it resolves to is checked, redirects are not followed,
//! and the tenant sees one uniform failure whatever went wrong on the way. No real DNS is asked: the
//! tests inject a resolver that knows a few names.

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Api;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Knows the names it was given (anything else does not exist) and records what it was asked.
#[derive(Debug, Default)]
struct Fixed {
    names: Vec<(&'static str, IpAddr)>,
    asked: Mutex<Vec<String>>,
}

impl Fixed {
    fn new(names: &[(&'static str, IpAddr)]) -> Arc<Fixed> {
        Arc::new(Fixed { names: names.to_vec(), asked: Mutex::default() })
    }
}

impl api::egress::Resolver for Fixed {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn std::future::Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        self.asked.lock().unwrap().push(host.to_string());
        let found: Vec<IpAddr> = self.names.iter().filter(|(n, _)| *n == host).map(|(_, a)| *a).collect();
        Box::pin(async move {
            if found.is_empty() {
                Err(io::Error::new(io::ErrorKind::NotFound, "no such name"))
            } else {
                Ok(found)
            }
        })
    }
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A loopback listener counting the connections it accepts; it reads each request head, then
/// writes `reply` (nothing: it just closes) — or, with `reply` = `None`, says nothing and holds the
/// connection open.
async fn counting(reply: Option<&'static str>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Some(reply) = reply else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, count)
}

/// Creates a webhook through the API and returns its id.
async fn hook(api: &Api, admin: &str, url: &str) -> String {
    let r = api.call("POST", "/api/v1/webhooks", admin, Some(json!({"url": url}))).await;
    assert_eq!(r.status, 201, "{url}: {}", r.text);
    r.json()["webhook"]["id"].as_str().unwrap().to_string()
}

/// Records an event for the tenant "acme" (its SIM is activated) and starts delivering.
async fn event_and_delivery(api: &Api, op: &str) {
    tokio::spawn(api::routes::events::deliver_forever(api.state.clone()));
    let r = api.call("PATCH", "/api/v1/sims/001010000000001", op, Some(json!({"status": "active"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Waits (bounded) until every webhook in `ids` has failed at least once; returns them as listed.
async fn failed(api: &Api, admin: &str, ids: &[String], within: Duration) -> Vec<Value> {
    let until = tokio::time::Instant::now() + within;
    loop {
        let list = api.call("GET", "/api/v1/webhooks", admin, None).await.json();
        let items = list["items"].as_array().unwrap().clone();
        let hooks: Vec<Value> =
            ids.iter().filter_map(|id| items.iter().find(|h| h["id"] == id.as_str()).cloned()).collect();
        if hooks.len() == ids.len() && hooks.iter().all(|h| h["failures"].as_i64() >= Some(1)) {
            return hooks;
        }
        assert!(tokio::time::Instant::now() < until, "not every delivery failed in time: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn names_resolving_to_denied_addresses_get_no_connection() {
    let (port, connections) = counting(Some("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")).await;
    let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
    let resolver = Fixed::new(&[("hook.example", LOOPBACK), ("mapped.example", mapped), ("both.example", LOOPBACK)]);
    let settings = api::Settings { webhook_resolver: Some(resolver.clone()), ..Default::default() };
    assert!(!settings.webhook_allow_private, "the default");
    let api = Api::with_settings(settings).await;
    let (admin, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;

    // Names pass at creation (127.0.0.1.nip.io would too): they are judged when resolved.
    let mut ids = Vec::new();
    for host in ["hook.example", "mapped.example", "both.example"] {
        ids.push(hook(&api, &admin, &format!("https://{host}:{port}/h")).await);
    }
    // Literal targets made while the operator allowed private targets, which it no longer does.
    for url in [format!("https://127.0.0.1:{port}/h"), format!("https://[::ffff:127.0.0.1]:{port}/h")] {
        let made = cmp::catalogue::create_webhook(&api.store, &cmp::Actor::cli(), Some("acme"), &url, true, &[7; 32])
            .await
            .unwrap();
        ids.push(made.id);
    }

    event_and_delivery(&api, &op).await;
    for h in failed(&api, &admin, &ids, Duration::from_secs(10)).await {
        assert_eq!(h["last_error"], "delivery failed", "{h}");
        assert_eq!(h["cursor"], 0, "nothing was delivered: {h}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "Warden connected to a loopback listener");
    let asked = resolver.asked.lock().unwrap().clone();
    for name in ["hook.example", "mapped.example", "both.example"] {
        assert!(asked.iter().any(|a| a == name), "{name} was resolved through the injected resolver: {asked:?}");
    }
}

#[test]
fn one_denied_address_refuses_the_whole_name() {
    let public = IpAddr::V6("2a00:1450:4001:80e::200e".parse::<Ipv6Addr>().unwrap());
    let fine = api::egress::screen("hook.example", vec![public], false).unwrap();
    assert_eq!(fine, vec![public]);
    assert!(api::egress::screen("hook.example", vec![public, LOOPBACK], false).is_err(), "refused, not filtered");
    assert!(api::egress::screen("hook.example", vec![], false).is_err(), "no address");
    assert_eq!(api::egress::screen("lab.example", vec![LOOPBACK], true).unwrap(), vec![LOOPBACK], "a lab");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (second, reached) = counting(Some("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")).await;
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{second}/x\r\ncontent-length: 0\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (first, asked) = counting(Some(redirect)).await;
    // A lab: loopback targets are allowed, so only the redirect policy stands between the hops.
    let settings =
        api::Settings { webhook_allow_private: true, webhook_resolver: Some(Fixed::new(&[])), ..Default::default() };
    let api = Api::with_settings(settings).await;
    let (admin, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let id = hook(&api, &admin, &format!("http://127.0.0.1:{first}/h")).await;

    event_and_delivery(&api, &op).await;
    let h = &failed(&api, &admin, &[id], Duration::from_secs(10)).await[0];
    assert_eq!(h["last_error"], "delivery failed: HTTP 307", "{h}");
    assert!(asked.load(Ordering::SeqCst) >= 1, "the first hop was asked");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "the redirect was followed");
}

#[tokio::test]
async fn failures_look_the_same_to_the_tenant() {
    // Refused (nothing listens), TLS spoken to plain HTTP, closed without an answer, no answer at all
    // (the 10 s timeout): one text. An HTTP answer from an allowed address: its status.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let (plain, _) = counting(Some("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")).await;
    let (hangs_up, _) = counting(Some("")).await;
    let (silent, _) = counting(None).await;
    let (busy, _) = counting(Some("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")).await;
    let settings =
        api::Settings { webhook_allow_private: true, webhook_resolver: Some(Fixed::new(&[])), ..Default::default() };
    let api = Api::with_settings(settings).await;
    let (admin, op, _) = api.tenant("acme").await;
    api.sims("acme", 1010000000001, 1, "standard").await;
    let mut ids = Vec::new();
    for url in [
        format!("http://127.0.0.1:{closed}/h"),
        format!("https://127.0.0.1:{plain}/h"),
        format!("http://127.0.0.1:{hangs_up}/h"),
        format!("http://127.0.0.1:{silent}/h"),
        "http://unknown.example/h".to_string(),
    ] {
        ids.push(hook(&api, &admin, &url).await);
    }
    let busy_id = hook(&api, &admin, &format!("http://127.0.0.1:{busy}/h")).await;

    event_and_delivery(&api, &op).await;
    for h in failed(&api, &admin, &ids, Duration::from_secs(25)).await {
        assert_eq!(h["last_error"], "delivery failed", "{h}");
    }
    let h = &failed(&api, &admin, &[busy_id], Duration::from_secs(5)).await[0];
    assert_eq!(h["last_error"], "delivery failed: HTTP 503", "{h}");

    // A failure recorded by an older version, in the HTTP client's own words, is shown the same way
    // (a tenant without events, so no delivery overwrites it).
    let (b_admin, _, _) = api.tenant("bravo").await;
    let old = hook(&api, &b_admin, &format!("http://127.0.0.1:{closed}/old")).await;
    api.store.webhook_delivered(&old, Err("error sending request: connection refused".into())).await.unwrap();
    let list = api.call("GET", "/api/v1/webhooks", &b_admin, None).await.json();
    assert_eq!(list["items"][0]["id"], old.as_str());
    assert_eq!(list["items"][0]["last_error"], "delivery failed", "{list}");
}
