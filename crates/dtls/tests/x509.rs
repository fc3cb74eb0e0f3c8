//! DTLS with X.509 client certificates end to end, with `openssl s_client -dtls1_2 -cert -key` and
//! libcoap's GnuTLS `coap-client -c -j` as the device: the handler gets the certificate's subject CN
//! (or, without one, its SAN URI) as the identity, over both ECDHE-ECDSA suites. No client certificate, or one from another CA, is
//! refused, and so is a revoked one, whose open session is closed once the revocation is known.
//! Without the tools the tests print `SKIPPED: …`, unless `CI` is set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{have, start, start_with};
use dtls::{Limits, RevokedSerials, Stats, X509Credentials};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType};
use zeroize::Zeroizing;

struct Ca {
    cert: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, issuer: Issuer::new(p, key) }
}

/// A P-256 certificate signed by `ca`, with subject CN `cn` (if any) and SANs; writes PEM files.
fn leaf(ca: &Ca, cn: Option<&str>, sans: Vec<SanType>, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        p.distinguished_name.push(DnType::CommonName, cn);
    }
    p.subject_alt_names = sans;
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    let (c, k) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

struct Pki {
    dir: tempfile::TempDir,
    devices: Ca,
    server: X509Credentials,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let devices = ca("Warden test device CA");
    let server_ca = ca("Warden test server CA");
    let (c, k) = leaf(
        &server_ca,
        Some("warden-coaps"),
        vec![SanType::DnsName("localhost".try_into().unwrap())],
        dir.path(),
        "server",
    );
    std::fs::write(dir.path().join("server-ca.pem"), server_ca.cert.pem()).unwrap();
    let server = X509Credentials {
        cert_chain_pem: std::fs::read(c).unwrap(),
        key_pem: Zeroizing::new(std::fs::read(k).unwrap()),
        client_ca_pem: devices.cert.pem().into_bytes(),
    };
    Pki { dir, devices, server }
}

/// Runs s_client with a client certificate (or none), sends a line, returns its stdout.
fn s_client(addr: std::net::SocketAddr, cert: Option<(&Path, &Path)>, cipher: &str, ca: &Path, expect: &str) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-dtls1_2", "-connect", &addr.to_string(), "-cipher", cipher, "-ign_eof"]);
    cmd.arg("-CAfile").arg(ca);
    if let Some((c, k)) = cert {
        cmd.arg("-cert").arg(c).arg("-key").arg(k);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("openssl");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from a device\n").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && !out.contains(expect) {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => {
                out.push_str(&l);
                out.push('\n');
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_name_the_device() {
    if !have("openssl", "openssl") {
        return;
    }
    let pki = pki();
    let d = pki.dir.path().to_path_buf();
    let (c1, k1) = leaf(&pki.devices, Some("urn:imei:490154203237518"), vec![], &d, "dev1");
    let uri = SanType::URI("urn:dev:ep:sensor-7".try_into().unwrap());
    let (c2, k2) = leaf(&pki.devices, None, vec![uri], &d, "dev2");
    let server = start(&[], Some(pki.server), Limits::default()).await;
    let addr = server.addr;
    let ca = d.join("server-ca.pem");
    let runs = [
        (c1.clone(), k1.clone(), "ECDHE-ECDSA-AES128-CCM8", "urn:imei:490154203237518"),
        (c1, k1, "ECDHE-ECDSA-AES128-GCM-SHA256", "urn:imei:490154203237518"),
        (c2, k2, "ECDHE-ECDSA-AES128-GCM-SHA256", "urn:dev:ep:sensor-7"),
    ];
    for (c, k, cipher, identity) in runs {
        let (ca, expect) = (ca.clone(), format!("{identity}:hello from a device"));
        let e = expect.clone();
        let out = tokio::task::spawn_blocking(move || s_client(addr, Some((&c, &k)), cipher, &ca, &e)).await.unwrap();
        assert!(out.contains(&expect), "{cipher}: {out}");
        assert!(out.contains(&format!("Cipher is {cipher}")), "{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "the client verified the server: {out}");
    }
    let got = server.handler.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].identity.as_deref(), Some("urn:dev:ep:sensor-7"));
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certificate_or_a_foreign_one_is_refused() {
    if !have("openssl", "openssl") {
        return;
    }
    let pki = pki();
    let d = pki.dir.path().to_path_buf();
    let stranger = ca("Someone else's CA");
    let (c, k) = leaf(&stranger, Some("urn:imei:490154203237518"), vec![], &d, "foreign");
    let server = start(&[], Some(pki.server), Limits::default()).await;
    let addr = server.addr;
    let ca = d.join("server-ca.pem");
    let ca2 = ca.clone();
    let out = tokio::task::spawn_blocking(move || s_client(addr, None, "ECDHE-ECDSA-AES128-CCM8", &ca2, ":hello"))
        .await
        .unwrap();
    assert!(!out.contains(":hello"), "no certificate: {out}");
    let out =
        tokio::task::spawn_blocking(move || s_client(addr, Some((&c, &k)), "ECDHE-ECDSA-AES128-CCM8", &ca, ":hello"))
            .await
            .unwrap();
    assert!(!out.contains(":hello"), "foreign CA: {out}");
    assert!(server.handler.got.lock().unwrap().is_empty());
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 0);
    assert_eq!(Stats::get(&server.stats.handshakes_failed), 2, "{:?}", server.stats);
    assert!(common::eventually(|| Stats::get(&server.stats.sessions) == 0).await);
}

/// libcoap's GnuTLS client with a device certificate: a CoAP GET over DTLS with a client certificate
/// (server certificate checks off with `-n`: this test is about the server checking the client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coap_client_gnutls_with_a_device_certificate() {
    if !have("coap-client-gnutls", "libcoap3-bin") {
        return;
    }
    let pki = pki();
    let d = pki.dir.path().to_path_buf();
    let (c, k) = leaf(&pki.devices, Some("urn:imei:490154203237518"), vec![], &d, "dev");
    let stranger = ca("Someone else's CA");
    let (fc, fk) = leaf(&stranger, Some("urn:imei:490154203237518"), vec![], &d, "foreign");
    let server = start(&[], Some(pki.server), Limits::default()).await;
    let addr = server.addr;
    let get = move |cert: PathBuf, key: PathBuf| {
        let out = Command::new("coap-client-gnutls")
            .args(["-m", "get", "-B", "3", "-n", "-c"])
            .arg(cert)
            .arg("-j")
            .arg(key)
            .arg(format!("coaps://{addr}/hello"))
            .output()
            .expect("run coap-client-gnutls");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = tokio::task::spawn_blocking(move || get(c, k)).await.unwrap();
    assert!(out.contains("identity=urn:imei:490154203237518"), "{out}");
    let out = tokio::task::spawn_blocking(move || get(fc, fk)).await.unwrap();
    assert!(!out.contains("identity="), "a foreign CA is refused: {out}");
    let got = server.handler.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "only the device with a good certificate reached the handler");
    assert_eq!(got[0].datagram[1], 0x01, "a CoAP GET");
}

/// A revoked client certificate: the open session with it is closed (close_notify, `openssl
/// s_client` exits) at the next tick after the set changes, the handler is told, a new handshake
/// with it fails in OpenSSL's verification, and another device's session is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_cut_off_and_refused() {
    if !have("openssl", "openssl") {
        return;
    }
    let pki = pki();
    let d = pki.dir.path().to_path_buf();
    let (c1, k1) = leaf(&pki.devices, Some("dev-revoked"), vec![], &d, "dev1");
    let (c2, k2) = leaf(&pki.devices, Some("dev-good"), vec![], &d, "dev2");
    let cert = openssl::x509::X509::from_pem(&std::fs::read(&c1).unwrap()).unwrap();
    let serial = dtls::revocation::serial_of(&cert).unwrap();
    let revoked = Arc::new(RevokedSerials::new(["00ff".to_string()]));
    let server = start_with(&[], Some(pki.server), Limits::default(), Some(revoked.clone())).await;
    let (addr, ca) = (server.addr, d.join("server-ca.pem"));

    let open = move |c: PathBuf, k: PathBuf, ca: PathBuf| {
        let mut child = Command::new("openssl")
            .args(["s_client", "-dtls1_2", "-connect", &addr.to_string(), "-cipher", "ECDHE-ECDSA-AES128-CCM8"])
            .arg("-CAfile")
            .arg(ca)
            .arg("-cert")
            .arg(c)
            .arg("-key")
            .arg(k)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello from a device\n").unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let echoed = lines.any(|l| l.is_ok_and(|l| l.contains(":hello from a device")));
        // The output stays open (a closed pipe would end s_client on its next write).
        (child, (stdin, lines), echoed)
    };
    let (c, k, a) = (c1.clone(), k1.clone(), ca.clone());
    let (mut bad, _bad_in, echoed) = tokio::task::spawn_blocking(move || open(c, k, a)).await.unwrap();
    assert!(echoed, "not yet revoked: served");
    let (c, k, a) = (c2.clone(), k2.clone(), ca.clone());
    let (mut good, _good_in, echoed) = tokio::task::spawn_blocking(move || open(c, k, a)).await.unwrap();
    assert!(echoed);
    assert_eq!(Stats::get(&server.stats.certificate_cutoffs), 0);

    revoked.replace(["00ff".to_string(), serial.to_ascii_uppercase()]);
    let t = Instant::now();
    while bad.try_wait().unwrap().is_none() && t.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(bad.try_wait().unwrap().is_some(), "the revoked session is closed");
    assert!(t.elapsed() < Duration::from_secs(1), "within a tick or so: {:?}", t.elapsed());
    assert_eq!(Stats::get(&server.stats.certificate_cutoffs), 1);
    assert_eq!(server.handler.closed.lock().unwrap().len(), 1, "the handler is told");
    assert!(good.try_wait().unwrap().is_none(), "the other device goes on");
    let _ = good.kill();
    let _ = good.wait();

    let failed = Stats::get(&server.stats.handshakes_failed);
    let out =
        tokio::task::spawn_blocking(move || s_client(addr, Some((&c1, &k1)), "ECDHE-ECDSA-AES128-CCM8", &ca, ":hello"))
            .await
            .unwrap();
    assert!(!out.contains(":hello"), "revoked: refused: {out}");
    assert!(common::eventually(|| Stats::get(&server.stats.handshakes_failed) == failed + 1).await);
    assert_eq!(server.handler.got.lock().unwrap().len(), 2, "only the two echoes before");
}
