//! The device-management series on `/metrics` (`warden_devices_*`, docs/devices.md) move for real
//! traffic from clients nobody on the project wrote: Debian's `coap-client-gnutls` (libcoap3-bin)
//! over DTLS-PSK with an identity the server does not hold, then with the right one (registering,
//! then trying another endpoint name), and over plain CoAP with `allow_unsecured` off; Debian's
//! `curl` enrolling over EST with a bad token and then a good one, and `openssl ocsp` asking the
//! OCSP responder. `/metrics` is scraped over HTTP with reqwest and parsed with the
//! `prometheus-parse` crate (name, labels, value); the test asserts the deltas. Without the tools
//! it prints `SKIPPED: …`, unless `CI` is set (.ci/run installs them).

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{node, warden};

/// One scrape: the samples as `prometheus-parse` read them.
struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    async fn of(addr: SocketAddr) -> Scrape {
        let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
        Scrape(prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap())
    }

    /// The value of the sample `name` whose labels are exactly `labels` (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == name && s.labels.len() == labels.len())
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: not a single value: {other:?}"),
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?}: one sample, found {found:?}");
        found.first().copied().unwrap_or(0.0)
    }

    /// Every label set of `name`.
    fn label_sets(&self, name: &str) -> Vec<std::collections::BTreeMap<String, String>> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect()
    }
}

/// Runs a client; its stdout and stderr.
fn run(program: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(program).current_dir(dir).args(args).output().expect("client runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_counters_move_for_real_clients() {
    let tools = ["coap-client-gnutls", "curl", "openssl"].map(common::found);
    if tools.iter().any(Option::is_none) {
        assert!(std::env::var_os("CI").is_none(), "coap-client-gnutls, curl and openssl are required under CI");
        println!("SKIPPED: coap-client-gnutls, curl or openssl not found (Debian libcoap3-bin, curl, openssl)");
        return;
    }
    let [Some(coap_client), Some(curl), Some(openssl)] = tools else { unreachable!() };
    let coaps = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let coap = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (est_port, rev_port, metrics_port) = (common::free_port(), common::free_port(), common::free_port());
    let metrics: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
    let extra = format!(
        "[metrics]\nlisten = \"{metrics}\"\n\
         [devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\nest_listen = \"127.0.0.1:{est_port}\"\n\
         revocation_listen = \"127.0.0.1:{rev_port}\"\n\
         [devices.est_tls]\ncert_file = \"tls/cert.pem\"\nkey_file = \"tls/key.pem\"\n"
    );
    let n = node("31", &[], "", &extra);
    let d = n.dir.path().to_path_buf();
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    ok(warden(&d, &["tls", "self-signed", "--name", "localhost", "--ip", "127.0.0.1", "--out", "tls"]));
    // coap-client takes the key as text: an ASCII key, stored as its hex.
    let key = "metrics-psk-0001";
    ok(warden(&d, &["devices", "psk", "add", "ep-m1", "--identity", "id-m1", "--key", &hex::encode(key)]));
    let token = ok(warden(&d, &["est", "token", "meter-m1"])).trim().to_string();
    std::fs::write(d.join("device-ca.pem"), ok(warden(&d, &["est", "ca-certs"]))).unwrap();
    let _server = n.start().await;
    for port in [est_port, rev_port, metrics_port] {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let before = Scrape::of(metrics).await;
    // Every series is there from the start, its labels from the fixed sets only.
    for (name, label) in [
        ("warden_devices_refused_total", "reason"),
        ("warden_devices_dtls_handshake_failures_total", "reason"),
        ("warden_devices_registrations_total", "transport"),
        ("warden_devices_est_refused_total", "reason"),
    ] {
        let sets = before.label_sets(name);
        assert!(!sets.is_empty(), "{name} is described at 0");
        for s in sets {
            assert!(s.contains_key(label), "{name}: {s:?}");
            assert!(s.values().all(|v| v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')), "{name}: {s:?}");
        }
    }

    // DTLS-PSK: an identity the server does not hold, then the right one under its own endpoint
    // name and under another one; plain CoAP while allow_unsecured is off.
    let register = |identity: &'static str, ep: &'static str, secure: bool| {
        let (client, d) = (coap_client.clone(), d.clone());
        let uri = if secure {
            format!("coaps://{coaps}/rd?ep={ep}&lt=60&lwm2m=1.1&b=U")
        } else {
            format!("coap://{coap}/rd?ep={ep}&lt=60&lwm2m=1.1&b=U")
        };
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["-m", "post", "-B", "5", "-e", "</1/0>,</3/0>"];
            if secure {
                args.extend(["-u", identity, "-k", key]);
            }
            let uri: &str = &uri;
            args.push(uri);
            run(&client, &d, &args)
        })
    };
    let wrong = register("id-nobody", "ep-m1", true).await.unwrap();
    assert!(!wrong.contains("2.01"), "an unknown identity does not register: {wrong}");
    let own = register("id-m1", "ep-m1", true).await.unwrap();
    assert!(!own.contains("4.") && !own.contains("5."), "its own endpoint registers: {own}");
    let other = register("id-m1", "ep-other", true).await.unwrap();
    assert!(other.contains("4.03"), "another endpoint name is refused: {other}");
    let plain = register("", "ep-plain", false).await.unwrap();
    assert!(plain.contains("4.03"), "plain CoAP is refused: {plain}");
    // A datagram that is not CoAP (a version-0 header) on the plain listener.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(&[0x00, 0x01, 0x02, 0x03, 0x04], coap).unwrap();

    // EST: a bad token (curl, HTTP Basic), then the endpoint's own token (openssl + curl).
    let bad = run(
        &curl,
        &d,
        &["-sS", "--cacert", "tls/cert.pem", "-o", "/dev/null", "-w", "%{http_code}", "-u", "meter-m1:not-the-token"]
            .into_iter()
            .chain(["-H", "Content-Type: application/pkcs10", "--data-binary", "MIIB"])
            .chain([format!("https://127.0.0.1:{est_port}/.well-known/est/simpleenroll").as_str()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(bad.trim(), "401", "a bad token is refused: {bad}");
    common::est_enrol(&d, est_port, "meter-m1", &token);
    // OCSP: `openssl ocsp` asks about the certificate just issued.
    let ocsp = run(
        &openssl,
        &d,
        &["ocsp", "-issuer", "device-ca.pem", "-cert", "meter-m1.pem", "-CAfile", "device-ca.pem"]
            .into_iter()
            .chain(["-url", &format!("http://127.0.0.1:{rev_port}/ocsp")])
            .collect::<Vec<_>>(),
    );
    assert!(ocsp.contains("meter-m1.pem: good"), "{ocsp}");

    // The deltas, once the malformed datagram was taken.
    let mut after = Scrape::of(metrics).await;
    for _ in 0..50 {
        if after.value("warden_devices_refused_total", &[("reason", "malformed")]) > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = Scrape::of(metrics).await;
    }
    let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    let refused = |reason: &str| delta("warden_devices_refused_total", &[("reason", reason)]);
    let failures = |reason: &str| delta("warden_devices_dtls_handshake_failures_total", &[("reason", reason)]);
    let dump = || {
        let text: Vec<String> = after
            .0
            .samples
            .iter()
            .filter(|s| s.metric.starts_with("warden_devices"))
            .map(|s| format!("{}{{{}}} {:?}", s.metric, s.labels, s.value))
            .collect();
        text.join("\n")
    };
    assert!(failures("unknown_psk_identity") >= 1.0, "the unknown identity's handshake failed:\n{}", dump());
    assert_eq!(refused("unknown_psk_identity"), failures("unknown_psk_identity"), "{}", dump());
    assert_eq!(refused("handshake_failed"), 0.0, "no other handshake failed:\n{}", dump());
    assert_eq!(delta("warden_devices_dtls_handshakes_total", &[]), 2.0, "two handshakes completed:\n{}", dump());
    assert_eq!(delta("warden_devices_registrations_total", &[("transport", "coaps")]), 1.0, "{}", dump());
    assert_eq!(delta("warden_devices_registrations_total", &[("transport", "coap")]), 0.0, "{}", dump());
    assert_eq!(after.value("warden_devices_registered", &[]), 1.0, "one device registered now:\n{}", dump());
    assert_eq!(refused("endpoint_mismatch"), 1.0, "{}", dump());
    assert_eq!(refused("unauthenticated"), 1.0, "{}", dump());
    assert_eq!(refused("malformed"), 1.0, "{}", dump());
    let est = |reason: &str| delta("warden_devices_est_refused_total", &[("kind", "enrol"), ("reason", reason)]);
    assert_eq!(est("bad_token"), 1.0, "{}", dump());
    assert_eq!(est("rate_limited") + est("bad_csr") + est("revoked"), 0.0, "{}", dump());
    assert_eq!(delta("warden_devices_est_enrolments_total", &[("kind", "enrol")]), 1.0, "{}", dump());
    assert_eq!(delta("warden_devices_ocsp_answers_total", &[("status", "good")]), 1.0, "{}", dump());
    // No endpoint name, identity or address became a label.
    let text = reqwest::get(format!("http://{metrics}/metrics")).await.unwrap().text().await.unwrap();
    for secret in ["ep-m1", "id-m1", "id-nobody", "meter-m1", "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} is on /metrics");
    }
}
