//! `warden serve` as a process: provisioning through the CLI, AIR/ULR from an MME over loopback,
//! CLR when `warden sim set-status` runs in another process, metrics, and kill -9 under load: after a
//! restart no SQN is reused and every acknowledged provisioning is still there. And the platform API
//! as a new user drives it: tenant, token, SIM import, bulk activation, profile change and suspension,
//! each seen on the Diameter side.

mod common;

use common::{free_port, http, node, warden, Server, REALM};

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use diameter::avp;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::result_code as rc;
use diameter::transport::{ConnectionLimits, PeerHandle};
use diameter::Message;
use testkit::s6a::{self, connect_mme, Node, PLMN_00101};
use tokio::sync::mpsc;
use tokio::time::timeout;

fn setup() -> (tempfile::TempDir, SocketAddr, SocketAddr) {
    let mport = free_port();
    let n = node("4a", &[MME.host], "", &format!("[metrics]\nlisten = \"127.0.0.1:{mport}\"\n[sqn]\nblock = 50\n"));
    n.import_examples(&["profiles.toml", "sims.csv", "eir.csv"]);
    (n.dir, n.diameter, format!("127.0.0.1:{mport}").parse().unwrap())
}

async fn start(dir: &Path, addr: SocketAddr) -> Server {
    let server = Server::start(dir);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("warden serve did not listen on {addr}");
}

const MME: Node<'static> = Node::new("mme1.home.example", REALM);

async fn mme(addr: SocketAddr) -> (PeerHandle, mpsc::UnboundedReceiver<Message>) {
    let link = connect_mme(addr, MME, 256).await.expect("MME connects");
    (link.peer, link.inbox)
}

/// AIR (one vector) or ULR of the MME for `imsi`; `n` makes the Session-Id unique.
fn request(cmd: diameter::Command, imsi: &str, n: u64) -> Message {
    let session = format!("{cmd};{imsi};{n}");
    match cmd {
        diameter::Command::AIR => s6a::air(MME, REALM, imsi, PLMN_00101, 1, &session),
        _ => s6a::ulr(MME, REALM, imsi, PLMN_00101, None, &session),
    }
}

/// SEQ of the first E-UTRAN vector of an AIA, with the K/OPc of examples/sims.csv row 1.
fn seq_of(a: &Message) -> u64 {
    let v = &a.get(avp::AUTHENTICATION_INFO).expect("vectors").as_grouped().unwrap()[0];
    let rand = auc::Rand::from_slice(v.child(avp::RAND).unwrap().as_bytes().unwrap()).unwrap();
    let autn = v.child(avp::AUTN).unwrap().as_bytes().unwrap();
    let k = auc::Key::from_slice(&hex::decode("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap()).unwrap();
    let opc = auc::Opc::from_slice(&hex::decode("cd63cb71954a9f4e48a5994e37a02baf").unwrap()).unwrap();
    let alg: auc::AuthAlgorithm = auc::Milenage::new(&k, &opc).unwrap().into();
    let (_, _, _, _, ak) = alg.vector_outputs(&rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
    let sqn = auc::Sqn::from_bytes(core::array::from_fn(|i| autn[i] ^ ak.0[i]));
    auc::SqnScheme::default().split(sqn).0
}

#[tokio::test]
async fn serve_answers_and_survives_kill_9_without_reusing_sqn() {
    let (dir, addr, maddr) = setup();
    let server = start(dir.path(), addr).await;
    let (h, mut inbox) = mme(addr).await;
    assert_eq!(
        h.request(request(diameter::Command::ULR, "001010000000001", 0)).await.unwrap().result_code(),
        Some(rc::SUCCESS)
    );

    // Load: 8 concurrent streams of AIRs; remember the highest SEQ acknowledged.
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut max = 0;
            for i in 0..40 {
                if let Ok(Ok(a)) = timeout(
                    Duration::from_secs(5),
                    h.request(request(diameter::Command::AIR, "001010000000001", t * 1000 + i)),
                )
                .await
                {
                    if a.result_code() == Some(rc::SUCCESS) {
                        max = max.max(seq_of(&a));
                    }
                }
            }
            max
        }));
    }
    // Kill -9 while the load runs.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut server = server;
    server.0.kill().unwrap();
    let _ = server.0.wait();
    let mut max_seen = 0;
    for t in tasks {
        max_seen = max_seen.max(t.await.unwrap());
    }
    assert!(max_seen > 0, "some AIRs were answered before the kill");

    let _server = start(dir.path(), addr).await;
    let (h, _) = mme(addr).await;
    let a = h.request(request(diameter::Command::AIR, "001010000000001", 99_999)).await.unwrap();
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert!(seq_of(&a) > max_seen, "SEQ {} after restart must exceed {max_seen}", seq_of(&a));
    // Every acknowledged provisioning survived.
    for imsi in ["001010000000001", "001010000000002", "001010000000003"] {
        assert!(warden(dir.path(), &["sim", "show", imsi]).status.success(), "{imsi} lost");
    }
    drop(inbox.try_recv());

    // Metrics endpoint counts the AIRs.
    let mut s = tokio::net::TcpStream::connect(maddr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut body = String::new();
    timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await.unwrap().unwrap();
    assert!(body.contains("warden_diameter_answers_total{command=\"AIR\",result_code=\"2001\"} 1"), "{body}");
}

#[tokio::test]
async fn cli_status_change_reaches_the_serving_mme_as_clr() {
    let (dir, addr, _) = setup();
    let _server = start(dir.path(), addr).await;
    let (h, mut inbox) = mme(addr).await;
    assert_eq!(
        h.request(request(diameter::Command::ULR, "001010000000002", 1)).await.unwrap().result_code(),
        Some(rc::SUCCESS)
    );
    let out = warden(dir.path(), &["sim", "set-status", "001010000000002", "suspended"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR within 5 s").unwrap();
    assert_eq!(
        (clr.abbrev(), clr.get_str(avp::USER_NAME), clr.get_u32(avp::CANCELLATION_TYPE)),
        (Some("CLR"), Some("001010000000002"), Some(2))
    );
    let a = h.request(request(diameter::Command::AIR, "001010000000002", 2)).await.unwrap();
    assert_eq!(a.result_code(), Some(rc::AUTHORIZATION_REJECTED));
    // Bad input on the CLI: exit 2 with the reason.
    let out = warden(dir.path(), &["sim", "set-status", "001010000000002", "paused"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inventory"));
}

#[tokio::test]
async fn unconfigured_peer_is_refused_by_the_server() {
    let (dir, addr, _) = setup();
    let _server = start(dir.path(), addr).await;
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let cfg = PeerConfig::new("rogue.example", REALM, vec![Application::S6A]);
    let r = timeout(
        Duration::from_secs(5),
        diameter::transport::connect(addr, cfg, allow, ConnectionLimits::default(), None),
    )
    .await
    .unwrap();
    assert!(r.is_err());
}

/// The README's first command: `warden serve` with no configuration runs on loopback with SQLite and a
/// generated KEK under ./warden-data, and accepts a loopback peer.
#[tokio::test]
async fn serve_without_configuration_uses_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(dir.path())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start warden serve"),
    );
    let addr: SocketAddr = "127.0.0.1:3868".parse().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "listening on 127.0.0.1:3868");
    assert!(dir.path().join("warden-data/warden.db").exists());
    let kek = std::fs::metadata(dir.path().join("warden-data/kek.hex")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(kek.permissions().mode() & 0o077, 0, "KEK readable by its owner only");
    }
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let cfg = PeerConfig::new("any.loopback.example", REALM, vec![Application::S6A]);
    let r = timeout(
        Duration::from_secs(5),
        diameter::transport::connect(addr, cfg, allow, ConnectionLimits::default(), None),
    )
    .await
    .unwrap();
    assert!(r.is_ok(), "loopback peers are accepted without configuration");
    // The platform API on its default loopback address: the description is public, the rest needs a token.
    let (status, doc) = http("GET", "http://127.0.0.1:8080/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let (status, problem) = http("GET", "http://127.0.0.1:8080/api/v1/sims", "", None).await;
    assert_eq!((status, problem["status"].as_u64()), (401, Some(401)), "no default credentials");
}

#[tokio::test]
async fn platform_api_changes_reach_the_mme() {
    use serde_json::json;
    let n = node("5a", &[MME.host], "", "");
    n.import_examples(&["profiles.toml"]);
    let (op, addr, api) = (n.admin_token(), n.diameter, n.api());
    let _server = n.start().await;
    let dir = &n.dir;

    assert_eq!(http("POST", &format!("{api}/tenants"), &op, Some(json!({"name": "acme"}))).await.0, 201);
    let (s, t) = http(
        "POST",
        &format!("{api}/tokens"),
        &op,
        Some(json!({"name": "ops", "role": "tenant_admin", "tenant": "acme"})),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let tenant = t["secret"].as_str().unwrap().to_string();
    let sims: Vec<_> = (1..=3)
        .map(|i| {
            json!({"imsi": format!("00101000000010{i}"), "k": "465b5ce8b199b49faa5f0a2ee238a6bc",
                        "opc": "cd63cb71954a9f4e48a5994e37a02baf", "profile": "meter"})
        })
        .collect();
    let (s, r) = http("POST", &format!("{api}/sims"), &op, Some(json!({"tenant": "acme", "sims": sims}))).await;
    assert_eq!(s, 201, "{r}");

    let (mme, mut inbox) = mme(addr).await;
    let a = mme.request(request(diameter::Command::AIR, "001010000000101", 1)).await.unwrap();
    assert_ne!(a.result_code(), Some(rc::SUCCESS), "inventory SIMs get no vectors");

    let (s, job) = http(
        "POST",
        &format!("{api}/jobs"),
        &tenant,
        Some(json!({"status": "active", "selection": {"imsi_from": "001010000000101", "imsi_to": "001010000000103"}})),
    )
    .await;
    assert_eq!(s, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let mut done = serde_json::Value::Null;
    for _ in 0..200 {
        done = http("GET", &format!("{api}/jobs/{id}"), &tenant, None).await.1;
        if done["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!((done["state"].as_str(), done["succeeded"].as_i64()), (Some("succeeded"), Some(3)), "{done}");
    let a = mme.request(request(diameter::Command::AIR, "001010000000101", 2)).await.unwrap();
    assert_eq!(a.result_code(), Some(rc::SUCCESS), "activated through the API, vectors at once");
    let u = mme.request(request(diameter::Command::ULR, "001010000000101", 3)).await.unwrap();
    assert_eq!(u.result_code(), Some(rc::SUCCESS));

    let (s, r) =
        http("PATCH", &format!("{api}/sims/001010000000101"), &tenant, Some(json!({"profile": "alarm"}))).await;
    assert_eq!(s, 200, "{r}");
    let idr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("IDR").unwrap();
    assert_eq!(idr.abbrev(), Some("IDR"));
    assert!(idr.get(avp::SUBSCRIPTION_DATA).is_some());

    let (s, r) =
        http("PATCH", &format!("{api}/sims/001010000000101"), &tenant, Some(json!({"status": "suspended"}))).await;
    assert_eq!(s, 200, "{r}");
    let clr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR").unwrap();
    assert_eq!(clr.abbrev(), Some("CLR"));
    assert_eq!(clr.get_str(avp::USER_NAME), Some("001010000000101"));
    let a = mme.request(request(diameter::Command::AIR, "001010000000101", 4)).await.unwrap();
    assert_ne!(a.result_code(), Some(rc::SUCCESS), "suspended: no more vectors");

    let (_, events) = http("GET", &format!("{api}/events?kind=sim.status_changed"), &tenant, None).await;
    assert_eq!(events["items"].as_array().unwrap().len(), 4, "{events}");
    let verify = warden(dir.path(), &["audit-log", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// Reads from a raw HTTP connection until `needle` appears (or fails after `secs`).
async fn read_until(conn: &mut tokio::net::TcpStream, seen: &mut String, needle: &str, secs: u64) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        let n = timeout(Duration::from_secs(secs), conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{needle:?} not seen in time; got: {seen}"))
            .unwrap();
        assert!(n > 0, "connection closed before {needle:?}; got: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// A webhook receiver on loopback: every POST is answered 200 and handed over as (headers, body).
async fn webhook_receiver() -> (u16, mpsc::UnboundedReceiver<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let Ok(n) = conn.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let head = text[..end].to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if data.len() < end + 4 + len {
                        continue;
                    }
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + len]).to_string();
                    let _ = tx.send((head, body));
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                    data.drain(..end + 4 + len);
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn cli_changes_reach_sse_webhooks_and_the_mme() {
    use serde_json::json;
    use tokio::io::AsyncWriteExt;
    let n = node("6b", &[MME.host], "webhook_allow_private = true", "");
    let (op, addr, api, hport) = (n.admin_token(), n.diameter, n.api(), n.http.port());
    let _server = n.start().await;
    let dir = &n.dir;
    assert_eq!(http("POST", &format!("{api}/tenants"), &op, Some(json!({"name": "acme"}))).await.0, 201);
    let body = json!({"name": "ops", "role": "tenant_admin", "tenant": "acme"});
    let tenant =
        http("POST", &format!("{api}/tokens"), &op, Some(body)).await.1["secret"].as_str().unwrap().to_string();
    let sim = json!({"imsi": "001010000000201", "k": "465b5ce8b199b49faa5f0a2ee238a6bc",
                     "opc": "cd63cb71954a9f4e48a5994e37a02baf", "status": "active"});
    let (s, r) = http("POST", &format!("{api}/sims"), &op, Some(json!({"tenant": "acme", "sims": [sim]}))).await;
    assert_eq!(s, 201, "{r}");
    let (rport, mut hooks) = webhook_receiver().await;
    let (s, hook) = http(
        "POST",
        &format!("{api}/webhooks"),
        &tenant,
        Some(json!({"url": format!("http://127.0.0.1:{rport}/hook")})),
    )
    .await;
    assert_eq!(s, 201, "{hook}");
    let secret = hex::decode(hook["secret"].as_str().unwrap()).unwrap();

    // The tenant watches its live stream; the SIM is registered with an MME.
    let mut sse = tokio::net::TcpStream::connect(format!("127.0.0.1:{hport}")).await.unwrap();
    let get = format!(
        "GET /api/v1/events/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {tenant}\r\naccept: text/event-stream\r\n\r\n"
    );
    sse.write_all(get.as_bytes()).await.unwrap();
    let mut seen = String::new();
    read_until(&mut sse, &mut seen, "text/event-stream", 5).await;
    let (mme, mut inbox) = mme(addr).await;
    assert_eq!(
        mme.request(request(diameter::Command::ULR, "001010000000201", 1)).await.unwrap().result_code(),
        Some(rc::SUCCESS)
    );

    // An operator suspends it from the command line, in another process.
    let out = warden(dir.path(), &["sim", "set-status", "001010000000201", "suspended"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    read_until(&mut sse, &mut seen, "active → suspended", 10).await;
    assert!(seen.contains("event: sim.status_changed"), "{seen}");
    let (head, body) = timeout(Duration::from_secs(10), hooks.recv()).await.expect("webhook in time").unwrap();
    assert!(body.contains("sim.status_changed") && body.contains("active → suspended"), "{body}");
    let signature = head.lines().find_map(|l| l.strip_prefix("warden-signature:")).expect("signed").trim().to_string();
    assert!(cmp::webhook::verify(&secret, &signature, body.as_bytes(), store::now(), 300), "signature verifies");
    let clr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR from the running server").unwrap();
    assert_eq!((clr.abbrev(), clr.get_str(avp::USER_NAME)), (Some("CLR"), Some("001010000000201")));
    let audit = warden(dir.path(), &["audit-log", "show"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.lines().any(|l| l.contains("sim.set_status") && l.contains("\"actor\":\"cli:")),
        "the CLI change is audited as the CLI's: {audit}"
    );
}
