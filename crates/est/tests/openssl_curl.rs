//! EST, CRL and OCSP checked with tools nobody on the project wrote: `openssl req` makes the CSRs,
//! `curl` talks RFC 7030 to the server (token enrolment, re-enrolment with the client certificate),
//! `openssl pkcs7`/`x509` read the answers, `openssl verify` checks the chain (and, with the CRL,
//! the revocation), `openssl crl` reads the CRL and `openssl ocsp` asks the responder (good,
//! revoked, unknown, nonce). Bad input: a CSR whose signature is broken, a forbidden subject, an
//! RSA key, a SAN not bound to the device, a reused or forged token, an oversized body; a source
//! that sent too many wrong tokens is answered 429 with Retry-After, while the device enrols from
//! another address (`curl --interface 127.0.0.2`).
//!
//! Needs `openssl` and `curl` (Debian packages openssl, curl): skipped without them, a failure when
//! `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use est::settings::EstSettings;
use store::access::Scope;
use testkit::TempStore;
use tokio_util::sync::CancellationToken;

const IMSI: &str = "001010000000001";
const IMEI: &str = "490154203237518";

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
        || Command::new(name).arg("version").output().map(|o| o.status.success()).unwrap_or(false);
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{name} is not installed but CI is set (Debian package {name})");
        println!("SKIPPED: {name} not found (Debian package {name}); EST interoperability not checked");
    }
    found
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn ok(cmd: &mut Command) -> String {
    let (success, text) = run(cmd);
    assert!(success, "{cmd:?} failed: {text}");
    text
}

fn openssl(dir: &Path) -> Command {
    let mut c = Command::new("openssl");
    c.current_dir(dir);
    c
}

struct Server {
    dir: tempfile::TempDir,
    est: String,
    revocation: String,
    enroller: Arc<est::Enroller>,
    _temp: TempStore,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(max_body: usize) -> Server {
    let temp = TempStore::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
    let tls = est::tls::server_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let est_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rev_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let revocation = format!("http://{}", rev_l.local_addr().unwrap());
    let settings = EstSettings { public_url: Some(revocation.clone()), max_body, ..EstSettings::default() };
    let enroller = Arc::new(est::Enroller::new(temp.store.clone(), settings.policy()));
    let stop = CancellationToken::new();
    let est = format!("https://127.0.0.1:{}", est_l.local_addr().unwrap().port());
    tokio::spawn(est::server::serve(est_l, est::server::est_routes(enroller.clone()), Some(tls), stop.clone()));
    tokio::spawn(est::server::serve(rev_l, est::server::revocation_routes(enroller.clone()), None, stop.clone()));
    Server { dir, est, revocation, enroller, _temp: temp, stop }
}

impl Server {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A P-256 key `<name>.key` and a base64 DER CSR `<name>.b64` with `subj` and SAN URIs.
    fn csr(&self, name: &str, subj: &str, san: &[&str]) -> PathBuf {
        ok(openssl(self.dir.path())
            .args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"])
            .arg(format!("{name}.key")));
        let mut c = openssl(self.dir.path());
        c.args(["req", "-new", "-key", &format!("{name}.key"), "-subj", subj, "-outform", "DER", "-out"])
            .arg(format!("{name}.der"));
        if !san.is_empty() {
            let list: Vec<String> = san.iter().map(|u| format!("URI:{u}")).collect();
            c.args(["-addext", &format!("subjectAltName={}", list.join(","))]);
        }
        ok(&mut c);
        self.encode(name)
    }

    fn encode(&self, name: &str) -> PathBuf {
        let der = std::fs::read(self.path(&format!("{name}.der"))).unwrap();
        let path = self.path(&format!("{name}.b64"));
        std::fs::write(&path, base64::engine::general_purpose::STANDARD.encode(der)).unwrap();
        path
    }

    /// curl with the server's CA; returns (HTTP status, body file).
    fn curl(&self, out: &str, args: &[&str]) -> (u16, String) {
        let mut c = Command::new("curl");
        c.current_dir(self.dir.path())
            .args(["-sS", "--cacert", "server.pem", "-o", out, "-w", "%{http_code}"])
            .args(args);
        let text = ok(&mut c);
        let body = std::fs::read_to_string(self.path(out)).unwrap_or_default();
        (text.trim().parse().expect("status"), body)
    }

    fn enrol(&self, csr: &str, user: &str, token: &str, out: &str) -> (u16, String) {
        self.enrol_with(csr, user, token, out, &[])
    }

    /// `enrol` with more curl arguments (another source address, the response headers to a file).
    fn enrol_with(&self, csr: &str, user: &str, token: &str, out: &str, more: &[&str]) -> (u16, String) {
        let auth = format!("{user}:{token}");
        let url = format!("{}/.well-known/est/simpleenroll", self.est);
        let data = format!("@{csr}");
        let mut args = vec!["-u", &auth, "-H", "Content-Type: application/pkcs10", "--data-binary", &data];
        args.extend_from_slice(more);
        args.push(&url);
        self.curl(out, &args)
    }

    /// A base64 certs-only answer `<name>.b64` to PEM certificates `<name>.pem`.
    fn certs(&self, name: &str) -> String {
        let b64 = std::fs::read_to_string(self.path(&format!("{name}.b64"))).unwrap();
        let der = est::pkcs7::decode_base64(b64.as_bytes()).expect("base64 answer");
        std::fs::write(self.path(&format!("{name}.p7")), der).unwrap();
        ok(openssl(self.dir.path()).args([
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            &format!("{name}.p7"),
            "-print_certs",
            "-out",
            &format!("{name}.pem"),
        ]));
        std::fs::read_to_string(self.path(&format!("{name}.pem"))).unwrap()
    }

    fn x509(&self, pem: &str, what: &[&str]) -> String {
        ok(openssl(self.dir.path()).args(["x509", "-in", pem, "-noout"]).args(what))
    }

    fn ocsp(&self, cert: &str) -> String {
        let url = format!("{}/ocsp", self.revocation);
        ok(openssl(self.dir.path()).args([
            "ocsp",
            "-issuer",
            "ca.pem",
            "-CAfile",
            "ca.pem",
            "-cert",
            cert,
            "-url",
            &url,
            "-resp_text",
        ]))
    }
}

fn serial_of(s: &Server, pem: &str) -> String {
    s.x509(pem, &["-serial"]).trim().trim_start_matches("serial=").to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_reenrol_revoke_with_curl_and_openssl() {
    if !tool("openssl") || !tool("curl") {
        return;
    }
    let s = start(16 * 1024).await;
    let store = s.enroller.store().clone();
    let token = store.create_est_token("*", "meter-1", Some(IMSI), Some(IMEI), 3600, "test").await.unwrap().to_string();

    // cacerts: the operator's CA, as a certs-only PKCS#7.
    let url = format!("{}/.well-known/est/cacerts", s.est);
    let (status, _) = s.curl("ca.b64", &[&url]);
    assert_eq!(status, 200);
    assert!(s.certs("ca").contains("BEGIN CERTIFICATE"));

    // csrattrs: base64 DER naming P-256.
    let (status, body) = s.curl("attrs.b64", &[&format!("{}/.well-known/est/csrattrs", s.est)]);
    assert_eq!(status, 200);
    std::fs::write(s.path("attrs.der"), est::pkcs7::decode_base64(body.as_bytes()).unwrap()).unwrap();
    let parsed = ok(openssl(s.dir.path()).args(["asn1parse", "-inform", "DER", "-in", "attrs.der"]));
    assert!(parsed.contains("prime256v1") && parsed.contains("ecdsa-with-SHA256"), "{parsed}");

    // Enrolment with the token (HTTP Basic, user = endpoint name).
    s.csr("dev", "/CN=meter-1", &["urn:imsi:001010000000001"]);
    let (status, body) = s.enrol("dev.b64", "meter-1", &token, "cert.b64");
    assert_eq!(status, 200, "{body}");
    s.certs("cert");
    let text = s.x509("cert.pem", &["-subject", "-ext", "subjectAltName,extendedKeyUsage,basicConstraints", "-dates"]);
    assert!(text.contains("CN = meter-1"), "{text}");
    assert!(text.contains("URI:urn:imsi:001010000000001") && text.contains("URI:urn:imei:49015420-323751-8"), "{text}");
    assert!(text.contains("TLS Web Client Authentication") && text.contains("CA:FALSE"), "{text}");
    let verify = ok(openssl(s.dir.path()).args(["verify", "-CAfile", "ca.pem", "cert.pem"]));
    assert!(verify.contains("cert.pem: OK"), "{verify}");
    // 30 days by default.
    let end = s.x509("cert.pem", &["-checkend", &(29 * 86_400).to_string()]);
    assert!(end.contains("will not expire"), "{end}");
    let (expires_soon, _) =
        run(openssl(s.dir.path()).args(["x509", "-in", "cert.pem", "-noout", "-checkend", &(31 * 86_400).to_string()]));
    assert!(!expires_soon, "the certificate is valid for 30 days, not more");
    let serial = serial_of(&s, "cert.pem");
    let row = store.device_cert(&serial).await.unwrap().expect("recorded");
    assert_eq!((row.cert.endpoint.as_str(), row.status.as_str(), row.cert.tenant.as_str()), ("meter-1", "good", "*"));

    // The token is spent.
    s.csr("again", "/CN=meter-1", &[]);
    let (status, body) = s.enrol("again.b64", "meter-1", &token, "again.out");
    assert_eq!((status, body.trim()), (401, "enrolment token already used"));

    // Re-enrolment with the current certificate as TLS client certificate, a new key.
    s.csr("re", "/CN=meter-1", &[]);
    let url = format!("{}/.well-known/est/simplereenroll", s.est);
    let reenrol = |out: &str, cert: &str, key: &str| {
        s.curl(
            out,
            &["--cert", cert, "--key", key, "-H", "Content-Type: application/pkcs10", "--data-binary", "@re.b64", &url],
        )
    };
    let (status, body) = reenrol("cert2.b64", "cert.pem", "dev.key");
    assert_eq!(status, 200, "{body}");
    s.certs("cert2");
    let text = s.x509("cert2.pem", &["-subject", "-ext", "subjectAltName"]);
    assert!(text.contains("CN = meter-1") && text.contains("urn:imei:49015420-323751-8"), "same identity: {text}");
    let serial2 = serial_of(&s, "cert2.pem");
    assert_ne!(serial, serial2);
    assert_eq!(store.device_cert(&serial2).await.unwrap().unwrap().cert.replaces.as_deref(), Some(serial.as_str()));
    // Without a client certificate: refused.
    let (status, body) =
        s.curl("nocert.out", &["-H", "Content-Type: application/pkcs10", "--data-binary", "@re.b64", &url]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("client certificate"), "{body}");

    // OCSP: good, with the nonce echoed (openssl warns when it is not) and the signature verified.
    let out = s.ocsp("cert.pem");
    assert!(out.contains("cert.pem: good"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(!out.contains("WARNING"), "nonce echoed: {out}");

    // Revoke; OCSP says revoked with the reason, the CRL lists it, openssl verify refuses it.
    store.revoke_device_cert(&Scope::Operator, &serial, "keyCompromise").await.unwrap().expect("revoked");
    let out = s.ocsp("cert.pem");
    assert!(out.contains("cert.pem: revoked"), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    let out = s.ocsp("cert2.pem");
    assert!(out.contains("cert2.pem: good"), "{out}");

    let crl_url = s.x509("cert.pem", &["-ext", "crlDistributionPoints"]);
    let crl_url = crl_url.lines().find_map(|l| l.trim().strip_prefix("URI:")).expect("CRL URL").to_string();
    assert_eq!(crl_url, format!("{}/crl/operator.crl", s.revocation));
    let (status, _) = s.curl("crl.der", &[&crl_url]);
    assert_eq!(status, 200);
    let crl =
        ok(openssl(s.dir.path())
            .args(["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile", "ca.pem"]));
    assert!(crl.contains("verify OK"), "the CRL's signature: {crl}");
    assert!(crl.contains(&format!("Serial Number: {}", serial.to_ascii_uppercase())), "{crl}");
    assert!(crl.contains("Key Compromise") && crl.contains("Next Update"), "{crl}");
    assert!(!crl.contains(&serial2.to_ascii_uppercase()), "the good certificate is not listed: {crl}");
    ok(openssl(s.dir.path()).args(["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"]));
    let (good, out) = run(openssl(s.dir.path()).args([
        "verify",
        "-crl_check",
        "-CAfile",
        "ca.pem",
        "-CRLfile",
        "crl.pem",
        "cert.pem",
    ]));
    assert!(!good && out.contains("certificate revoked"), "{out}");
    let out = ok(openssl(s.dir.path()).args([
        "verify",
        "-crl_check",
        "-CAfile",
        "ca.pem",
        "-CRLfile",
        "crl.pem",
        "cert2.pem",
    ]));
    assert!(out.contains("cert2.pem: OK"), "{out}");

    // A revoked certificate cannot re-enrol.
    let before = store.device_certs(&Scope::Operator, None, 100).await.unwrap().len();
    let (status, body) = reenrol("cert3.b64", "cert.pem", "dev.key");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("revoked"), "{body}");
    assert_eq!(store.device_certs(&Scope::Operator, None, 100).await.unwrap().len(), before, "nothing issued");

    // OCSP: a certificate of this CA that was never recorded is unknown.
    let ca = s.enroller.authorities.get("*").await.unwrap().unwrap();
    let id = est::identity::DeviceIdentity { endpoint: "ghost".into(), imsi: None, imei: None };
    ok(openssl(s.dir.path()).args(["ec", "-in", "dev.key", "-pubout", "-outform", "DER", "-out", "pub.der"]));
    let spki = std::fs::read(s.path("pub.der")).unwrap();
    let point = &spki[spki.len() - 65..];
    let ghost = ca.issue(&id, point, 3600, &s.enroller.policy.urls("*"), store::now()).unwrap();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&ghost.der)
    );
    std::fs::write(s.path("ghost.pem"), pem).unwrap();
    let out = s.ocsp("ghost.pem");
    assert!(out.contains("ghost.pem: unknown"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_reasons_and_issue_nothing() {
    if !tool("openssl") || !tool("curl") {
        return;
    }
    let s = start(4096).await;
    let store = s.enroller.store().clone();
    let token = store.create_est_token("*", "meter-2", Some(IMSI), None, 3600, "test").await.unwrap().to_string();
    let count = || async { store.device_certs(&Scope::Operator, None, 100).await.unwrap().len() };

    // A CSR whose signature is broken (last byte of the DER signature changed).
    s.csr("bad", "/CN=meter-2", &[]);
    let mut der = std::fs::read(s.path("bad.der")).unwrap();
    *der.last_mut().unwrap() ^= 0x01;
    std::fs::write(s.path("bad.der"), der).unwrap();
    s.encode("bad");
    let (status, body) = s.enrol("bad.b64", "meter-2", &token, "o1");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("signature does not verify"), "{body}");

    // Forbidden subjects: another endpoint's name, extra attributes.
    s.csr("other", "/CN=meter-3", &[]);
    let (status, body) = s.enrol("other.b64", "meter-2", &token, "o2");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("forbidden subject: CN=meter-3"), "{body}");
    s.csr("org", "/O=Evil/CN=meter-2", &[]);
    let (status, body) = s.enrol("org.b64", "meter-2", &token, "o3");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("forbidden subject") && body.contains("exactly CN="), "{body}");

    // A SAN the token does not bind.
    s.csr("san", "/CN=meter-2", &["urn:imsi:001019999999999"]);
    let (status, body) = s.enrol("san.b64", "meter-2", &token, "o4");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("urn:imsi:001019999999999 is not bound"), "{body}");

    // A wrong key type: RSA.
    ok(openssl(s.dir.path()).args([
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa.key",
        "-subj",
        "/CN=meter-2",
        "-outform",
        "DER",
        "-out",
        "rsa.der",
    ]));
    s.encode("rsa");
    let (status, body) = s.enrol("rsa.b64", "meter-2", &token, "o5");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("key type not allowed"), "{body}");

    // Not base64; wrong content type; oversized.
    std::fs::write(s.path("junk.b64"), "!!!! not base64 !!!!").unwrap();
    let (status, body) = s.enrol("junk.b64", "meter-2", &token, "o6");
    assert_eq!(status, 400, "{body}");
    s.csr("good", "/CN=meter-2", &[]);
    let url = format!("{}/.well-known/est/simpleenroll", s.est);
    let auth = format!("meter-2:{token}");
    let (status, _) =
        s.curl("o7", &["-u", &auth, "-H", "Content-Type: text/plain", "--data-binary", "@good.b64", &url]);
    assert_eq!(status, 415);
    std::fs::write(s.path("big.b64"), "A".repeat(5000)).unwrap();
    let (status, body) = s.enrol("big.b64", "meter-2", &token, "o8");
    assert_eq!(status, 413, "{body}");

    // Forged token, wrong user, no credentials.
    let (status, body) = s.enrol("good.b64", "meter-2", "00112233445566778899aabbccddeeff0011223344556677", "o9");
    assert_eq!((status, body.trim()), (401, "unknown enrolment token"));
    let (status, body) = s.enrol("good.b64", "meter-9", &token, "o10");
    assert_eq!(status, 401, "{body}");
    let (status, _) = s.curl("o11", &["-H", "Content-Type: application/pkcs10", "--data-binary", "@good.b64", &url]);
    assert_eq!(status, 401);

    // Nothing was issued, and the token still works once.
    assert_eq!(count().await, 0);
    let (status, body) = s.enrol("good.b64", "meter-2", &token, "o12");
    assert_eq!(status, 200, "{body}");
    assert_eq!(count().await, 1);

    // Garbage OCSP: a malformedRequest answer, not a crash.
    std::fs::write(s.path("junk.ocsp"), b"\x30\x03\x02\x01").unwrap();
    let url = format!("{}/ocsp", s.revocation);
    let (status, body) =
        s.curl("ocsp.out", &["-H", "Content-Type: application/ocsp-request", "--data-binary", "@junk.ocsp", &url]);
    assert_eq!(status, 200);
    assert_eq!(body.as_bytes(), [0x30, 0x03, 0x0a, 0x01, 0x01]);
    let (status, _) = s.curl("crl.out", &[&format!("{}/crl/t-nobody.crl", s.revocation)]);
    assert_eq!(status, 404);
    // A label names an existing tenant CA; it never creates one.
    let (status, body) = s.curl("ca.out", &[&format!("{}/.well-known/est/nobody/cacerts", s.est)]);
    assert_eq!(status, 404, "{body}");
    assert!(s.enroller.authorities.get("nobody").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_tokens_lock_out_the_source_while_the_device_enrols_from_elsewhere() {
    if !tool("openssl") || !tool("curl") {
        return;
    }
    let s = start(16 * 1024).await;
    let store = s.enroller.store().clone();
    let token = store.create_est_token("*", "meter-7", Some(IMSI), None, 3600, "test").await.unwrap().to_string();
    let count = || async { store.device_certs(&Scope::Operator, None, 100).await.unwrap().len() };
    s.csr("dev", "/CN=meter-7", &[]);
    let burst = EstSettings::default().est_failed_tokens_per_source_burst;
    assert!(burst < EstSettings::default().est_failed_tokens_per_endpoint_burst, "per source is the tighter limit");

    // Wrong tokens from 127.0.0.1: refused one by one (401) up to the burst, then 429.
    let wrong = |i: u32| format!("{i:048x}");
    for i in 0..burst {
        let (status, body) = s.enrol_with("dev.b64", "meter-7", &wrong(i), "w.out", &["--interface", "127.0.0.1"]);
        assert_eq!((status, body.trim()), (401, "unknown enrolment token"), "attempt {i}");
    }
    let (status, body) =
        s.enrol_with("dev.b64", "meter-7", &wrong(burst), "w.out", &["--interface", "127.0.0.1", "-D", "h1.txt"]);
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too many failed enrolment tokens from this address"), "{body}");
    let retry_after = |file: &str| -> u64 {
        let head = std::fs::read_to_string(s.path(file)).unwrap();
        let line = head.lines().find(|l| l.to_ascii_lowercase().starts_with("retry-after:")).expect(&head);
        line.split_once(':').unwrap().1.trim().parse().expect("Retry-After is delta-seconds")
    };
    // The default rate is 2 a minute: the next token is back within 30 s.
    let secs = retry_after("h1.txt");
    assert!((1..=30).contains(&secs), "Retry-After: {secs}");

    // While locked, even the right token from 127.0.0.1 is refused before it is looked at.
    let (status, body) =
        s.enrol_with("dev.b64", "meter-7", &token, "r.out", &["--interface", "127.0.0.1", "-D", "h2.txt"]);
    assert_eq!(status, 429, "{body}");
    assert!((1..=30).contains(&retry_after("h2.txt")));
    assert_eq!(count().await, 0, "nothing issued");

    // The device, from 127.0.0.2, enrols with the right token: a certificate openssl reads.
    let (status, body) = s.enrol_with("dev.b64", "meter-7", &token, "cert.b64", &["--interface", "127.0.0.2"]);
    assert_eq!(status, 200, "{body}");
    let pem = s.certs("cert");
    assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
    let subject = s.x509("cert.pem", &["-subject"]);
    assert!(subject.contains("CN=meter-7") || subject.contains("CN = meter-7"), "{subject}");
    assert_eq!(count().await, 1);
}
