//! TLS by default on the platform API's listener (issue #15), probed from outside with tools nobody
//! here wrote: a certificate from `warden tls self-signed`, then OpenSSL's `s_client` sees TLS 1.3 and
//! TLS 1.2 with ECDHE-AEAD suites accepted and CBC suites, TLS 1.1 and TLS 1.0 refused by the server
//! (an alert from it, not a client that gave up), and `curl` sees `Strict-Transport-Security`. Plain
//! HTTP on a non-loopback address stops `warden serve` at start, unless a TLS proxy is declared.
//!
//! Without `openssl` or `curl` the tests print `SKIPPED: …`, unless `CI` is set (`.ci/run` installs
//! both), in which case they fail.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{node, warden, Node};

const HSTS: &str = "strict-transport-security: max-age=63072000; includeSubDomains";

/// Whether `tool` runs; when it does not, a `SKIPPED` line, or a failure when `CI` is set.
fn have(tool: &str) -> bool {
    let runs = Command::new(tool).arg("version").output().is_ok();
    if !runs {
        assert!(std::env::var_os("CI").is_none(), "{tool} is not installed but CI is set: .ci/run installs it");
        println!("SKIPPED: {tool} not found (Debian package {tool}); the TLS listener was not probed");
    }
    runs
}

/// A node whose API serves HTTPS with a certificate from `warden tls self-signed` for localhost and
/// 127.0.0.1; returns it and the certificate.
fn https_node() -> (Node, PathBuf) {
    let n = node("5c", &[], "", "");
    let out = warden(n.dir.path(), &["tls", "self-signed", "--name", "localhost", "--ip", "127.0.0.1", "--out", "tls"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // What it prints is pasted as is: `[http.tls]` with absolute paths, after `[http]`.
    let lines = String::from_utf8(out.stdout).unwrap();
    assert!(lines.contains("[http.tls]\ncert_file = ") && lines.contains("\nkey_file = "), "{lines}");
    let config = n.dir.path().join("warden.toml");
    let toml = std::fs::read_to_string(&config).unwrap() + &lines;
    std::fs::write(&config, toml).unwrap();
    let cert = n.dir.path().join("tls/cert.pem");
    (n, cert)
}

/// `openssl s_client` against `addr` with `args`, sending nothing.
fn s_client(addr: SocketAddr, ca: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-brief", "-verify_return_error", "-connect", &addr.to_string()])
        .arg("-CAfile")
        .arg(ca)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Asserts the handshake with `args` succeeds with `version` and `suite`.
fn accepted(addr: SocketAddr, ca: &Path, args: &[&str], version: &str, suite: &str) {
    let (ok, text) = s_client(addr, ca, args);
    assert!(ok, "{args:?} refused:\n{text}");
    assert!(text.contains(&format!("Protocol version: {version}")), "{args:?}:\n{text}");
    assert!(text.contains(&format!("Ciphersuite: {suite}")), "{args:?}:\n{text}");
    assert!(text.contains("Verification: OK"), "{args:?}: the self-signed certificate verifies:\n{text}");
}

/// Asserts the server refuses the handshake with `args`: the client was willing (`@SECLEVEL=0` lets
/// OpenSSL offer what the server must turn down) and the server answered with an alert.
fn refused(addr: SocketAddr, ca: &Path, args: &[&str]) {
    let (ok, text) = s_client(addr, ca, args);
    assert!(!ok, "{args:?} accepted:\n{text}");
    assert!(text.contains("SSL alert number"), "{args:?}: expected an alert from the server:\n{text}");
}

#[tokio::test]
async fn https_offers_only_tls13_and_tls12_ecdhe_aead_and_sends_hsts() {
    if !have("openssl") || !have("curl") {
        return;
    }
    let (n, ca) = https_node();
    let _server = n.start().await;
    let addr = n.http;

    for suite in ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] {
        accepted(addr, &ca, &["-tls1_3", "-ciphersuites", suite], "TLSv1.3", suite);
    }
    for suite in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"] {
        accepted(addr, &ca, &["-tls1_2", "-cipher", suite], "TLSv1.2", suite);
    }
    // CBC suites with SHA-1 and SHA-2 MACs, for the certificate's key type (ECDSA: an RSA suite
    // would fail for the key alone and prove nothing).
    for suite in
        ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"]
    {
        let cipher = format!("{suite}:@SECLEVEL=0");
        refused(addr, &ca, &["-tls1_2", "-cipher", &cipher]);
    }
    for old in ["-tls1_1", "-tls1"] {
        refused(addr, &ca, &[old, "-cipher", "DEFAULT:@SECLEVEL=0"]);
    }

    // HSTS on a public document, fetched over HTTPS by curl trusting only the generated certificate.
    let url = format!("https://{addr}/api/v1/openapi.json");
    let out =
        run(Command::new("curl").args(["-sS", "--fail", "-o", "/dev/null", "-D", "-", "--cacert"]).arg(&ca).arg(&url));
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(headers.contains(&HSTS.to_lowercase()), "no HSTS header:\n{headers}");
    // Plain HTTP on the TLS port gets no answer.
    let plain = run(Command::new("curl").args(["-sS", "-m", "5", &format!("http://{addr}/api/v1/openapi.json")]));
    assert!(!plain.status.success(), "plain HTTP answered on the HTTPS listener");
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run")
}

/// The config of `n` with the API's listener moved to all addresses (0.0.0.0, same port) and `more`
/// added to `[http]`.
fn listen_on_all_addresses(n: &Node, more: &str) {
    let config = n.dir.path().join("warden.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    let loopback = format!("listen = \"{}\"", n.http);
    let all = format!("listen = \"0.0.0.0:{}\"\n{more}", n.http.port());
    assert!(toml.contains(&loopback));
    std::fs::write(&config, toml.replace(&loopback, &all)).unwrap();
}

/// Runs `warden serve` in `dir` and waits (at most 30 s) for it to end.
fn serve_until_exit(dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir)
        .args(["--config", "warden.toml", "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start warden serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("warden serve kept running with plain HTTP on 0.0.0.0");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[tokio::test]
async fn plain_http_on_a_non_loopback_address_is_refused_at_start() {
    let n = node("5d", &[], "", "");
    listen_on_all_addresses(&n, "");
    let out = serve_until_exit(n.dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!("http.listen 0.0.0.0:{} is not a loopback address but [http.tls]", n.http.port());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("behind_tls_proxy = true"), "the way out is named: {stderr}");
    assert!(!n.dir.path().join("data").exists(), "refused before the store was created");
}

#[tokio::test]
async fn behind_a_declared_tls_proxy_plain_http_on_any_address_serves_with_hsts() {
    let n = node("5e", &[], "", "");
    listen_on_all_addresses(&n, "behind_tls_proxy = true");
    // `Node::start` waits for 127.0.0.1 at the port, which the 0.0.0.0 listener also serves.
    let _server = n.start().await;
    let r = reqwest::get(format!("{}/openapi.json", n.api())).await.unwrap();
    assert_eq!(r.status(), 200);
    let hsts = r.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(hsts.as_deref(), Some("max-age=63072000; includeSubDomains"), "the proxy's clients use HTTPS");
}
