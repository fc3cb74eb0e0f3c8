//! `warden devices psk add|list|remove` as scripts drive it (precise errors with exit 2, keys never
//! printed nor stored in clear, tenant from the SIM, audit entries), and the `[devices]` CoAPs
//! listener of `warden serve` taking those PSKs: `openssl s_client -dtls1_2 -psk` completes a
//! handshake with a stored key, is refused with a wrong one, and keys added or removed while the
//! server runs apply after the reload. Without `openssl` the serve test prints `SKIPPED: …`,
//! unless `CI` is set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{node, warden};

const KEY: &str = "00112233445566778899aabbccddeeff";

fn fails(out: &std::process::Output) -> (i32, String) {
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    (out.status.code().unwrap(), err)
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn psk_cli_checks_seals_scopes_and_never_prints_keys() {
    let n = node("11", &[], "", "");
    n.import(
        "[[profile]]\nname = \"iot\"\nservices = [\"data\"]\n",
        &common::sims_csv(&[("001010000000001", "iot", "acme")]),
    );
    let d = n.dir.path();
    let add = |args: &[&str]| {
        let mut a = vec!["devices", "psk", "add"];
        a.extend_from_slice(args);
        warden(d, &a)
    };
    // Bad input: exit 2 with a precise one-line error; nothing stored.
    let cases: [(&[&str], &str); 6] = [
        (
            &["ep-1", "--identity", "id-1", "--key", "00112233445566zz"],
            "error: --key: 'z' at position 15 is not a hex digit",
        ),
        (&["ep-1", "--identity", "id-1", "--key", "0011223"], "error: --key: odd number of hex digits (7)"),
        (&["ep-1", "--identity", "id-1", "--key", "0011"], "error: --key: 2 bytes, must be 8 to 64 bytes"),
        (&["ep-1", "--identity", "", "--key", KEY], "error: --identity: must not be empty"),
        (
            &["ep-1", "--identity", "id-1", "--key", KEY, "--imsi", "001019999999999"],
            "error: IMSI 001019999999999 not found",
        ),
        (&["ep-1", "--identity", "id-1", "--key", KEY, "--imsi", "12"], "error: --imsi: "),
    ];
    for (args, expect) in cases {
        let (code, err) = fails(&add(args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with(expect), "{args:?}: {err}");
    }
    assert_eq!(ok(&warden(d, &["devices", "psk", "list"])).trim(), "[]");

    let out = ok(&add(&["ep-1", "--identity", "id-1", "--key", KEY, "--imsi", "001010000000001"]));
    assert!(out.contains("tenant acme") && !out.to_lowercase().contains(KEY), "{out}");
    ok(&add(&["lab-1", "--identity", "id-lab", "--key", "0X0102030405060708"]));
    let (code, err) = fails(&add(&["ep-2", "--identity", "id-1", "--key", KEY]));
    assert_eq!((code, err.contains("already used by endpoint ep-1")), (2, true), "{err}");

    let list: serde_json::Value = serde_json::from_str(&ok(&warden(d, &["devices", "psk", "list"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["endpoint"], "ep-1");
    assert_eq!(list[0]["tenant"], "acme");
    assert_eq!(list[1]["tenant"], "*");
    assert!(!list.to_string().to_lowercase().contains(KEY), "no key in the list");
    let acme: serde_json::Value =
        serde_json::from_str(&ok(&warden(d, &["devices", "psk", "list", "--tenant", "acme"]))).unwrap();
    assert_eq!(acme.as_array().unwrap().len(), 1);

    // Not in clear in the database file.
    let db = std::fs::read(d.join("data/warden.db")).unwrap();
    let key = hex::decode(KEY).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_slice()), "the key is sealed");

    // The audit trail has the changes, without the key.
    ok(&warden(d, &["devices", "psk", "remove", "lab-1"]));
    let (code, err) = fails(&warden(d, &["devices", "psk", "remove", "lab-1"]));
    assert_eq!((code, err.as_str()), (1, "error: no PSK for endpoint lab-1"));
    let log = ok(&warden(d, &["audit-log", "show", "--limit", "10"]));
    assert!(log.contains("devices.psk.add") && log.contains("devices.psk.remove"), "{log}");
    assert!(!log.to_lowercase().contains(KEY));
    // Re-sealing with the same KEK finds nothing to do, and the PSKs still open for the server.
    ok(&warden(d, &["keys", "reseal"]));
}

/// Runs `openssl s_client` with a PSK against `addr`: whether it exited 0 with the PSK suite
/// negotiated (it prints the suite even when the server then refuses the handshake), and its output.
fn s_client_psk(addr: std::net::SocketAddr, identity: &str, key: &str) -> (bool, String) {
    let mut child = Command::new("openssl")
        .args(["s_client", "-dtls1_2", "-connect", &addr.to_string(), "-psk", key, "-psk_identity", identity])
        .args(["-cipher", "PSK-AES128-CCM8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    // Closing stdin ends the session once the handshake is over (or failed).
    let _ = child.stdin.take().unwrap().write_all(b"");
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains(OK), text)
}

const OK: &str = "Cipher is PSK-AES128-CCM8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_the_stored_psks_over_dtls() {
    if common::found("openssl").is_none() {
        assert!(std::env::var_os("CI").is_none(), "openssl is not installed but CI is set (Debian package openssl)");
        println!("SKIPPED: openssl not found on PATH (Debian package openssl)");
        return;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let coaps = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let coap = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let extra =
        format!("[devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\ncoaps_psk_refresh_secs = 1\n");
    let n = node("22", &[], "", &extra);
    let d = n.dir.path().to_path_buf();
    ok(&warden(&d, &["devices", "psk", "add", "ep-1", "--identity", "id-1", "--key", KEY]));
    let _server = n.start().await;

    let (done, out) = tokio::task::spawn_blocking(move || s_client_psk(coaps, "id-1", KEY)).await.unwrap();
    assert!(done, "stored key: {out}");
    let (done, out) =
        tokio::task::spawn_blocking(move || s_client_psk(coaps, "id-1", "ffeeddccbbaa99887766554433221100"))
            .await
            .unwrap();
    assert!(!done, "wrong key: {out}");

    // Added while running: usable after the reload; removed: refused after the reload.
    ok(&warden(&d, &["devices", "psk", "add", "ep-2", "--identity", "id-2", "--key", KEY]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (done, out) = tokio::task::spawn_blocking(move || s_client_psk(coaps, "id-2", KEY)).await.unwrap();
    assert!(done, "added while running: {out}");
    ok(&warden(&d, &["devices", "psk", "remove", "ep-1"]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (done, out) = tokio::task::spawn_blocking(move || s_client_psk(coaps, "id-1", KEY)).await.unwrap();
    assert!(!done, "removed: {out}");
    assert!(out.contains("unknown psk identity"), "the server says why: {out}");
}

/// A device over DTLS-PSK reaches the LwM2M core under the endpoint its PSK was stored for: libcoap's
/// `coap-client-gnutls` (a CoAPs client nobody on the project wrote) registers as `ep-3` with the
/// identity `id-3`, and a registration under another endpoint name with the same key is refused
/// with 4.03.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_registers_over_dtls_only_under_its_own_endpoint() {
    let Some(client) = common::found("coap-client-gnutls") else {
        assert!(std::env::var_os("CI").is_none(), "coap-client-gnutls is required under CI (libcoap3-bin)");
        println!("SKIPPED: coap-client-gnutls not found on PATH (Debian package libcoap3-bin)");
        return;
    };
    let coaps = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let coap = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let extra = format!("[devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\n");
    let n = node("23", &[], "", &extra);
    let d = n.dir.path().to_path_buf();
    // coap-client takes the key as text: an ASCII key, stored as its hex.
    let key = "ep3-secret-psk-1";
    ok(&warden(&d, &["devices", "psk", "add", "ep-3", "--identity", "id-3", "--key", &hex::encode(key)]));
    let _server = n.start().await;
    let register = move |ep: &str| {
        let out = Command::new(client.clone())
            .args(["-m", "post", "-B", "5", "-u", "id-3", "-k", key, "-e", "</1/0>,</3/0>"])
            .arg(format!("coaps://{coaps}/rd?ep={ep}&lt=60&lwm2m=1.1&b=U"))
            .output()
            .expect("run coap-client-gnutls");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let again = register.clone();
    let other = tokio::task::spawn_blocking(move || again("ep-other")).await.unwrap();
    assert!(other.contains("4.03"), "another endpoint name is refused: {other}");
    let own = tokio::task::spawn_blocking(move || register("ep-3")).await.unwrap();
    assert!(!own.contains("4.") && !own.contains("5."), "its own endpoint registers: {own}");
}

/// `openssl s_client -dtls1_2` with a client certificate, stdin kept open so the session lasts:
/// the child and a channel of its output lines.
fn s_client_cert(addr: std::net::SocketAddr, dir: &std::path::Path, endpoint: &str) -> (Child, Receiver<String>) {
    let mut child = Command::new("openssl")
        .current_dir(dir)
        .args(["s_client", "-dtls1_2", "-connect", &addr.to_string(), "-cipher", "ECDHE-ECDSA-AES128-CCM8"])
        .args(["-cert", &format!("{endpoint}.pem"), "-key", &format!("{endpoint}.key")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    let (tx, rx) = std::sync::mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
    }
    (child, rx)
}

/// Reads `rx` until a line contains `what` or `secs` pass: whether it came, and what was read.
fn wait_line(rx: &Receiver<String>, what: &str, secs: u64) -> (bool, String) {
    let until = Instant::now() + Duration::from_secs(secs);
    let mut seen = String::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                seen += &l;
                seen.push('\n');
                if l.contains(what) {
                    return (true, seen);
                }
            }
            Err(_) => break,
        }
    }
    (false, seen)
}

/// Revocation at the CoAPs listener (SEC-7): a device enrolled over EST (Debian's `openssl` and
/// `curl`) completes a DTLS handshake with its certificate (`openssl s_client -dtls1_2`, the CA
/// from `warden est ca-certs` as `coaps_client_ca`); revoked with `warden est revoke` while that
/// session is open, the session is closed by the server within the reload interval (1 s here) and a
/// tick, and a new handshake with the same certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_est_certificate_is_refused_and_its_session_closed() {
    if common::found("openssl").is_none() || common::found("curl").is_none() {
        assert!(std::env::var_os("CI").is_none(), "openssl and curl are required under CI (Debian packages)");
        println!("SKIPPED: openssl or curl not found on PATH (Debian packages openssl, curl)");
        return;
    }
    let coaps = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let coap = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (est_port, rev_port) = (common::free_port(), common::free_port());
    let extra = format!(
        "[devices]\ncoap_listen = \"{coap}\"\ncoaps_listen = \"{coaps}\"\nest_listen = \"127.0.0.1:{est_port}\"\n\
         revocation_listen = \"127.0.0.1:{rev_port}\"\ncoaps_cert = \"coaps.pem\"\ncoaps_key = \"coaps.key\"\n\
         coaps_client_ca = \"device-ca.pem\"\ncoaps_revocation_refresh_secs = 1\n\
         [devices.est_tls]\ncert_file = \"tls/cert.pem\"\nkey_file = \"tls/key.pem\"\n"
    );
    let n = node("24", &[], "", &extra);
    let d = n.dir.path().to_path_buf();
    ok(&warden(&d, &["tls", "self-signed", "--name", "localhost", "--ip", "127.0.0.1", "--out", "tls"]));
    common::run_in(
        &d,
        "openssl",
        &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
            .into_iter()
            .chain(["-subj", "/CN=localhost", "-keyout", "coaps.key", "-out", "coaps.pem"])
            .collect::<Vec<_>>(),
    );
    let token = ok(&warden(&d, &["est", "token", "meter-9"])).trim().to_string();
    let token2 = ok(&warden(&d, &["est", "token", "meter-10"])).trim().to_string();
    let ca = ok(&warden(&d, &["est", "ca-certs"]));
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    std::fs::write(d.join("device-ca.pem"), ca).unwrap();
    let _server = n.start().await;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", est_port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (serial, _) = common::est_enrol(&d, est_port, "meter-9", &token);
    let (_, _) = common::est_enrol(&d, est_port, "meter-10", &token2);

    // A session with meter-9's certificate, and one with meter-10's, both open.
    let (mut open, rx) = s_client_cert(coaps, &d, "meter-9");
    let (mut other, rx_other) = s_client_cert(coaps, &d, "meter-10");
    let (rx, rx_other) = tokio::task::spawn_blocking(move || {
        for rx in [&rx, &rx_other] {
            let (up, out) = wait_line(rx, "Cipher is ECDHE-ECDSA-AES128-CCM8", 10);
            assert!(up, "an EST certificate completes the handshake: {out}");
        }
        (rx, rx_other)
    })
    .await
    .unwrap();

    // Revoked while the session is open: the server closes it within the reload interval and a tick.
    ok(&warden(&d, &["est", "revoke", &serial, "--reason", "keyCompromise"]));
    let revoked_at = Instant::now();
    let closed = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if open.try_wait().unwrap().is_some() {
                return Some(revoked_at.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = open.kill();
        None
    })
    .await
    .unwrap();
    let rest: String = rx.try_iter().collect::<Vec<_>>().join("\n");
    let took = closed.unwrap_or_else(|| panic!("the revoked certificate's session is still open: {rest}"));
    assert!(took < Duration::from_millis(2500), "closed after {took:?}, bound 1 s + tick");
    // The other device's session is untouched.
    assert!(other.try_wait().unwrap().is_none(), "a good certificate's session stays open");
    let other_out: Vec<String> = rx_other.try_iter().collect();
    assert!(!other_out.iter().any(|l| l.contains("closed")), "nothing happened to it: {other_out:?}");
    let _ = other.kill();
    let _ = other.wait();

    // A new handshake with the revoked certificate is refused (OpenSSL's alert); the good one still
    // gets through and its session stays up.
    let handshake = move |d: std::path::PathBuf, endpoint: &'static str| {
        let (mut c, rx) = s_client_cert(coaps, &d, endpoint);
        let (_, mut text) = wait_line(&rx, "SSL alert number", 3);
        let alive = c.try_wait().unwrap().is_none();
        let _ = c.kill();
        let _ = c.wait();
        text.extend(rx.try_iter().map(|l| l + "\n"));
        let up = alive && !text.contains("SSL alert number") && text.contains("Cipher is ECDHE-ECDSA-AES128-CCM8");
        (up, text)
    };
    let d2 = d.clone();
    let (up, out) = tokio::task::spawn_blocking(move || handshake(d2, "meter-9")).await.unwrap();
    assert!(!up && out.contains("alert handshake failure"), "a revoked certificate is refused: {out}");
    let d2 = d.clone();
    let (up, out) = tokio::task::spawn_blocking(move || handshake(d2, "meter-10")).await.unwrap();
    assert!(up, "a good certificate still completes the handshake: {out}");
}
