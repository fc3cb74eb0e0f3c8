//! The TLS probe against local rustls servers on 127.0.0.1, and its refusal of other targets.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use audit::tls_probe;
use audit::Report;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Starts a TLS server on 127.0.0.1 with the given versions; it serves until the test ends.
fn server(versions: &[&'static rustls::SupportedProtocolVersion]) -> String {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut conn = rustls::ServerConnection::new(config).unwrap();
                while conn.is_handshaking() {
                    if conn.complete_io(&mut stream).is_err() {
                        return;
                    }
                }
                let _ = conn.complete_io(&mut stream);
            });
        }
    });
    addr
}

#[test]
fn probe_reports_versions_and_suites() {
    let addr = server(&[&rustls::version::TLS13, &rustls::version::TLS12]);
    let result = tls_probe::probe(&addr, Duration::from_secs(5)).unwrap();
    assert!(result.accepts("TLSv1.3") && result.accepts("TLSv1.2"));
    let accepted = result.accepted();
    // An ECDSA certificate: the three TLS 1.3 suites and the three ECDHE-ECDSA TLS 1.2 suites.
    assert_eq!(accepted.iter().filter(|(v, _)| *v == "TLSv1.3").count(), 3, "{accepted:?}");
    assert!(accepted.contains(&("TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")), "{accepted:?}");
    assert!(!accepted.iter().any(|(_, s)| s.contains("ECDHE_RSA")), "{accepted:?}");
    let mut r = Report::new();
    result.raise(&mut r);
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-TLS-003"]);
    assert!(r.findings[0].detail.contains("TLS_AES_256_GCM_SHA384") && r.findings[0].detail.contains("TLS 1.0/1.1"));
}

#[test]
fn tls12_only_server_is_flagged() {
    let addr = server(&[&rustls::version::TLS12]);
    let result = tls_probe::probe(&addr, Duration::from_secs(5)).unwrap();
    assert!(!result.accepts("TLSv1.3") && result.accepts("TLSv1.2"));
    let mut r = Report::new();
    result.raise(&mut r);
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-TLS-002", "WA-TLS-003"]);
}

#[test]
fn plain_tcp_server_gets_no_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            use std::io::Write;
            let mut s = s;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let result = tls_probe::probe(&addr, Duration::from_secs(5)).unwrap();
    assert!(result.accepted().is_empty());
    let mut r = Report::new();
    result.raise(&mut r);
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-TLS-001"]);
}

#[test]
fn non_loopback_targets_are_refused_before_connecting() {
    for target in ["192.0.2.1:443", "[2001:db8::1]:443", "10.0.0.1:8443"] {
        let e = tls_probe::probe(target, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("refusing to probe") && e.contains("only loopback"), "{e}");
    }
    let e = tls_probe::probe("portal.example.com:443", Duration::from_secs(1)).unwrap_err().to_string();
    assert!(e.contains("not an address"), "{e}");
    assert_eq!(tls_probe::loopback_target("localhost:8443").unwrap().to_string(), "127.0.0.1:8443");
    assert_eq!(tls_probe::loopback_target("[::1]:8443").unwrap().to_string(), "[::1]:8443");
}
