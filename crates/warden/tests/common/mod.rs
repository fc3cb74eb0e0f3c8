//! Helpers shared by the process-level tests: run the `warden` binary in a working directory, prepare
//! one with a known key-encryption key, or a whole node (HSS, API) on free loopback ports.

#![allow(dead_code)]

pub mod lwm2m_node;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Runs `warden --config warden.toml ARGS` in `dir`.
pub fn warden(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir)
        .args(["--config", "warden.toml"])
        .args(args)
        .output()
        .expect("run warden")
}

/// A temporary directory with `kek.hex` (the byte `kek_byte` repeated) and a `warden.toml` that stores
/// data under `data/` and reads that KEK.
pub fn workspace(kek_byte: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("kek.hex"), kek_byte.repeat(32)).unwrap();
    std::fs::write(d.path().join("warden.toml"), "data_dir = \"data\"\n[keys]\nkek_file = \"kek.hex\"\n").unwrap();
    d
}

/// A `warden serve` process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Starts `warden --config warden.toml serve` in `dir`, output discarded.
    pub fn start(dir: &Path) -> Server {
        Server(
            Command::new(env!("CARGO_BIN_EXE_warden"))
                .current_dir(dir)
                .args(["--config", "warden.toml", "serve"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start warden serve"),
        )
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The realm of the test HSS (`hss.home.example`) and its MMEs.
pub const REALM: &str = "home.example";

/// A workspace for one `warden serve`: the HSS on a free loopback port with MMEs of [`REALM`] as its
/// peers (IMSIs 00101…), and the platform API on another.
pub struct Node {
    /// The working directory (`warden.toml`, `kek.hex`, `data/`).
    pub dir: tempfile::TempDir,
    /// The HSS's Diameter listener.
    pub diameter: SocketAddr,
    /// The API's listener.
    pub http: SocketAddr,
}

/// A node with `mmes` as Diameter peers, `http` added to `[http]` and `extra` (other sections) at
/// the end of its `warden.toml`.
pub fn node(kek_byte: &str, mmes: &[&str], http: &str, extra: &str) -> Node {
    let dir = workspace(kek_byte);
    let (port, hport) = (free_port(), free_port());
    let mut toml = format!(
        "data_dir = \"data\"\n[keys]\nkek_file = \"kek.hex\"\n[diameter]\nlisten = \"127.0.0.1:{port}\"\n\
         origin_host = \"hss.{REALM}\"\norigin_realm = \"{REALM}\"\n"
    );
    for mme in mmes {
        toml += &format!(
            "[[diameter.peers]]\norigin_host = \"{mme}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n"
        );
    }
    toml += &format!("[http]\nlisten = \"127.0.0.1:{hport}\"\n{http}\n{extra}");
    std::fs::write(dir.path().join("warden.toml"), toml).unwrap();
    let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    Node { dir, diameter: at(port), http: at(hport) }
}

impl Node {
    /// Imports files of `examples/` (`profiles.toml`, `sims.csv`, `eir.csv`) with the CLI.
    pub fn import_examples(&self, files: &[&str]) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        for file in files {
            let kind = match file.rsplit_once('.').map(|(name, _)| name) {
                Some("profiles") => "profile",
                Some("sims") => "sim",
                _ => "eir",
            };
            let out = warden(self.dir.path(), &[kind, "import", root.join(file).to_str().unwrap()]);
            assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// Writes `profiles` (TOML) and `sims` (CSV) into the node's directory and imports them with the
    /// CLI, profiles first.
    pub fn import(&self, profiles: &str, sims: &str) {
        for (file, contents, kind) in [("profiles.toml", profiles, "profile"), ("sims.csv", sims, "sim")] {
            std::fs::write(self.dir.path().join(file), contents).unwrap();
            let out = warden(self.dir.path(), &[kind, "import", file]);
            assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// The first operator admin token (`warden admin init`).
    pub fn admin_token(&self) -> String {
        let out = warden(self.dir.path(), &["admin", "init"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string()
    }

    /// The API's base URL.
    pub fn api(&self) -> String {
        format!("http://{}/api/v1", self.http)
    }

    /// Starts `warden serve` and waits until the Diameter and HTTP listeners accept.
    pub async fn start(&self) -> Server {
        let server = Server::start(self.dir.path());
        for _ in 0..200 {
            let up = |a| async move { tokio::net::TcpStream::connect(a).await.is_ok() };
            if up(self.diameter).await && up(self.http).await {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("warden serve did not listen on {} and {}", self.diameter, self.http);
    }
}

/// A SIM import CSV, one standard-priority SIM per `(imsi, profile, tenant)`, each with the K/OPc of
/// TS 35.208 test set 1 (as in examples/sims.csv) and MSISDN 4917 followed by the IMSI's last 8 digits.
pub fn sims_csv(rows: &[(&str, &str, &str)]) -> String {
    let mut csv = String::from("imsi,iccid,msisdn,k,opc,op,amf,algorithm,profile,priority,tenant\n");
    for (imsi, profile, tenant) in rows {
        let msisdn = format!("4917{}", &imsi[imsi.len().saturating_sub(8)..]);
        csv += &format!(
            "{imsi},,{msisdn},465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,,8000,milenage,\
             {profile},standard,{tenant}\n"
        );
    }
    csv
}

/// One JSON call to the API.
pub async fn http(method: &str, url: &str, token: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let c = reqwest::Client::new();
    let mut r = c.request(method.parse().unwrap(), url).header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b.to_string());
    }
    let resp = r.send().await.expect("API reachable");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// The program `program` on the `PATH`, if any.
pub fn found(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// Installs the pinned npm packages of `dir` (its package-lock.json) unless the files `have` (under
/// `node_modules`) are there. One at a time in a process: the tests of one binary run in parallel,
/// and two `npm ci` in one folder would delete each other's `node_modules`.
pub fn npm_ci(dir: &Path, have: &[&str]) {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if have.iter().all(|p| dir.join("node_modules").join(p).is_file()) {
        return;
    }
    let out = Command::new("npm")
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .output()
        .expect("run npm ci");
    assert!(out.status.success(), "npm ci: {}", String::from_utf8_lossy(&out.stderr));
}

/// Debian's chromium and the browser tests' npm packages (chromium's path, tests/browser), or `None`
/// (skipped) when chromium or node is missing outside CI.
pub fn browser() -> Option<(PathBuf, PathBuf)> {
    let (Some(chromium), Some(_)) = (found("chromium"), found("node")) else {
        assert!(std::env::var_os("CI").is_none(), "chromium and node are required under CI (.ci/run installs them)");
        eprintln!("skipped: chromium or node not installed (apt-get install chromium nodejs npm)");
        return None;
    };
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let have =
        ["puppeteer-core/package.json", "axe-core/axe.min.js", "otpauth/package.json", "oidc-provider/package.json"];
    npm_ci(&browser_dir, &have);
    Some((chromium, browser_dir))
}

/// The password of the people the process-level tests create.
pub const PERSON_PASSWORD: &str = "plum tractor evening lighthouse";

/// Creates the operator admin person `username` (password [`PERSON_PASSWORD`]) through the API at
/// `api` with the operator token.
pub async fn make_operator_person(api: &str, operator: &str, username: &str) {
    let user = serde_json::json!({"username": username, "password": PERSON_PASSWORD, "role": "operator_admin"});
    let (s, r) = http("POST", &format!("{api}/users"), operator, Some(user)).await;
    assert_eq!(s, 201, "{r}");
}

/// Enrols TOTP for the person `username` (no factor yet, MFA required) through the enrolment ticket
/// of a password login; returns the secret and the recovery codes.
pub async fn enrol_totp(api: &str, username: &str) -> (String, Vec<String>) {
    enrol_totp_in(api, None, username).await
}

/// [`enrol_totp`] for a person of `tenant` (`None`: the operator's staff).
pub async fn enrol_totp_in(api: &str, tenant: Option<&str>, username: &str) -> (String, Vec<String>) {
    use cmp::totp::{self, Params};
    let mut login = serde_json::json!({"username": username, "password": PERSON_PASSWORD});
    if let Some(t) = tenant {
        login["tenant"] = t.into();
    }
    let (s, t) = http("POST", &format!("{api}/auth/login"), "", Some(login)).await;
    assert_eq!((s, t["enrolment_required"].as_bool()), (202, Some(true)), "{t}");
    let ticket = t["ticket"].as_str().unwrap();
    let (s, e) = http("POST", &format!("{api}/me/mfa/totp"), ticket, None).await;
    assert_eq!(s, 201, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    let code = totp::totp(Params::DEFAULT, &totp::base32_decode(&secret).unwrap(), store::now());
    let body = serde_json::json!({"code": code});
    let (s, c) = http("POST", &format!("{api}/me/mfa/totp/confirm"), ticket, Some(body)).await;
    assert_eq!(s, 200, "{c}");
    let codes = c["recovery_codes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    (secret, codes)
}

/// `/metrics` of the endpoint at `addr` as text (empty while it does not answer).
pub async fn metrics_text(addr: SocketAddr) -> String {
    match reqwest::get(format!("http://{addr}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The sum of the samples of `name` whose labels contain `label` (empty: any).
pub fn metric_value(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Scrapes `/metrics` until `done` holds (at most 20 s); the last scrape. Panics with the analytics
/// series seen when it never does.
pub async fn metrics_until(addr: SocketAddr, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = metrics_text(addr).await;
        if done(&text) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "{what} not seen on /metrics:\n{}",
        text.lines().filter(|l| l.contains("analytics")).collect::<Vec<_>>().join("\n")
    );
}

/// Runs `program ARGS` in `dir` and returns its stdout and stderr; panics when it fails.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).current_dir(dir).args(args).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?}: {text}");
    text
}

/// Enrols `endpoint` over EST as RFC 7030 clients do, with Debian's OpenSSL and curl: a P-256 key
/// (`<endpoint>.key`) and CSR from `openssl`, `curl -u endpoint:token` posting it to the HTTPS
/// listener on `est_port` (trusting `tls/cert.pem`), the PKCS#7 answer unpacked to `<endpoint>.pem`.
/// Returns the certificate's serial, in lower case as the store keeps it, and `openssl x509`'s text.
pub fn est_enrol(dir: &Path, est_port: u16, endpoint: &str, token: &str) -> (String, String) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (key, csr, p10, p7) =
        (format!("{endpoint}.key"), format!("{endpoint}.der"), format!("{endpoint}.b64"), format!("{endpoint}.p7"));
    run_in(dir, "openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
    let subj = format!("/CN={endpoint}");
    run_in(dir, "openssl", &["req", "-new", "-key", &key, "-subj", &subj, "-outform", "DER", "-out", &csr]);
    std::fs::write(dir.join(&p10), b64.encode(std::fs::read(dir.join(&csr)).unwrap())).unwrap();
    let url = format!("https://127.0.0.1:{est_port}/.well-known/est/simpleenroll");
    let (auth, answer) = (format!("{endpoint}:{token}"), format!("{endpoint}.p7b64"));
    let status = run_in(
        dir,
        "curl",
        &["-sS", "--cacert", "tls/cert.pem", "-o", &answer, "-w", "%{http_code}", "-u", &auth]
            .into_iter()
            .chain(["-H", "Content-Type: application/pkcs10", "--data-binary", &format!("@{p10}"), &url])
            .collect::<Vec<_>>(),
    );
    let body = std::fs::read_to_string(dir.join(&answer)).unwrap_or_default();
    assert_eq!(status.trim(), "200", "{body}");
    std::fs::write(dir.join(&p7), b64.decode(body.split_whitespace().collect::<String>()).unwrap()).unwrap();
    let pem = format!("{endpoint}.pem");
    run_in(dir, "openssl", &["pkcs7", "-inform", "DER", "-in", &p7, "-print_certs", "-out", &pem]);
    let text = run_in(dir, "openssl", &["x509", "-in", &pem, "-noout", "-issuer", "-ext", "subjectAltName", "-serial"]);
    let serial = text.lines().find_map(|l| l.strip_prefix("serial=")).expect("a serial").to_ascii_lowercase();
    (serial, text)
}

/// A loopback UDP port that was free a moment ago.
pub fn udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A node with `[devices]` on free loopback ports (plain CoAP, CoAPs), `allow_unsecured` as given
/// and `extra` lines added to that section: the node and the plain-CoAP address.
pub fn devices_node(kek_byte: &str, allow_unsecured: bool, extra: &str) -> (Node, SocketAddr) {
    let (port, coaps) = (udp_port(), udp_port());
    let devices = format!(
        "[devices]\ncoap_listen = \"127.0.0.1:{port}\"\ncoaps_listen = \"127.0.0.1:{coaps}\"\n\
         allow_unsecured = {allow_unsecured}\n{extra}"
    );
    (node(kek_byte, &[], "", &devices), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The folder of the npm LwM2M client scripts (tests/lwm2m_client, `lwm2m-node-lib` installed there
/// with `npm ci` when missing), or `None` (skipped, with the reason printed) when node, npm or one of
/// `also` is not installed — under CI a missing program fails instead.
pub fn lwm2m_node_client(also: &[&str]) -> Option<PathBuf> {
    for p in ["node", "npm"].iter().chain(also) {
        if found(p).is_none() {
            assert!(std::env::var_os("CI").is_none(), "{p} is required under CI (.ci/run installs it)");
            eprintln!("skipped: {p} not installed");
            return None;
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lwm2m_client");
    npm_ci(&dir, &["lwm2m-node-lib/package.json"]);
    Some(dir)
}
