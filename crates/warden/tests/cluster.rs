//! Several `warden serve` processes on one PostgreSQL database, with one MME connected to all of
//! them as it would be behind a DRA (issue #14):
//! - thousands of AIRs spread round-robin over three instances: SEQ never goes back per subscriber
//!   and IND; `kill -9` of one instance under load, then its restart: no SEQ is issued twice and
//!   the next is above everything;
//! - a suspension through one instance's API reaches the MME as exactly one CLR, although the MME is
//!   connected to every instance; a SIM created and changed through one instance is served (or
//!   refused) by another at once; `warden cluster status` lists the instances and their peers;
//! - a rolling restart (SIGTERM: drain, DPR) loses no request of a client that, like a DRA, sends a
//!   request again to the other instance when its connection goes away;
//! - two roaming firewalls on the database decide category 3 on each other's registrations.
//!
//! Skipped (with a message) when `WARDEN_TEST_POSTGRES_URL` is not set; `.ci/run` sets it.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http, node, warden, Node as Workspace, Server, REALM};
use diameter::avp;
use diameter::result_code as rc;
use diameter::transport::{PeerHandle, RequestError};
use diameter::Message;
use serde_json::json;
use testkit::s6a::{self, connect_mme, MmeLink, Node, PLMN_00101};
use tokio::time::timeout;

const MME: Node<'static> = Node::new("mme1.home.example", REALM);
const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

/// A fresh database on the test server, dropped with this value.
struct Database {
    url: String,
    name: String,
    base: String,
}

impl Database {
    async fn create() -> Option<Database> {
        let Some(base) = testkit::postgres_url() else {
            eprintln!("WARDEN_TEST_POSTGRES_URL not set: the several-instances test is skipped");
            return None;
        };
        use sqlx::Executor;
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL server");
        let mut b = [0u8; 8];
        auc::fill_random(&mut b).unwrap();
        let name = format!("warden_c_{}_{}", std::process::id(), u64::from_le_bytes(b));
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
        let url = format!("{}/{name}", &base[..base.rfind('/').expect("database path")]);
        Some(Database { url, name, base })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // A runtime of its own: Drop may run outside of (or at the end of) the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Executor;
                if let Ok(admin) = sqlx::AnyPool::connect(&base).await {
                    let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            });
        })
        .join();
    }
}

/// `n` workspaces on the same database and KEK; the first has the profiles and `sims` imported.
fn workspaces(db: &Database, n: usize, sims: &[String]) -> Vec<Workspace> {
    let nodes: Vec<Workspace> =
        (0..n).map(|_| node("6c", &[MME.host], "", &format!("[storage]\nurl = \"{}\"\n", db.url))).collect();
    nodes[0].import_examples(&["profiles.toml"]);
    if !sims.is_empty() {
        let mut csv = String::from("imsi,iccid,msisdn,k,opc,op,amf,algorithm,profile,priority,tenant\n");
        for imsi in sims {
            csv += &format!("{imsi},,,{K},{OPC},,8000,milenage,meter,standard,acme\n");
        }
        let file = nodes[0].dir.path().join("cluster-sims.csv");
        std::fs::write(&file, csv).unwrap();
        let out = warden(nodes[0].dir.path(), &["sim", "import", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    nodes
}

async fn link(n: &Workspace) -> MmeLink {
    connect_mme(n.diameter, MME, 256).await.expect("the MME connects")
}

fn air(imsi: &str, tag: &str) -> Message {
    s6a::air(MME, REALM, imsi, PLMN_00101, 1, tag)
}

/// (SEQ, IND) of the first E-UTRAN vector of an AIA (the SIMs' K/OPc are the test's).
fn sqn_of(a: &Message) -> (u64, u32) {
    let v = &a.get(avp::AUTHENTICATION_INFO).expect("vectors").as_grouped().unwrap()[0];
    let rand = auc::Rand::from_slice(v.child(avp::RAND).unwrap().as_bytes().unwrap()).unwrap();
    let autn = v.child(avp::AUTN).unwrap().as_bytes().unwrap();
    let k = auc::Key::from_slice(&hex::decode(K).unwrap()).unwrap();
    let opc = auc::Opc::from_slice(&hex::decode(OPC).unwrap()).unwrap();
    let alg: auc::AuthAlgorithm = auc::Milenage::new(&k, &opc).unwrap().into();
    let (_, _, _, _, ak) = alg.vector_outputs(&rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
    let sqn = auc::Sqn::from_bytes(core::array::from_fn(|i| autn[i] ^ ak.0[i]));
    auc::SqnScheme::default().split(sqn)
}

/// Sends `m` to the first live connection from `start` on (round-robin), moving on when a connection
/// is gone — as a DRA does. `None` when no connection took it.
async fn send_spread(peers: &[PeerHandle], start: usize, m: &Message) -> Option<Message> {
    for k in 0..peers.len() {
        let p = &peers[(start + k) % peers.len()];
        if !p.is_open() {
            continue;
        }
        match timeout(Duration::from_secs(5), p.request(m.clone())).await {
            Ok(Ok(a)) if matches!(a.result_code(), Some(rc::UNABLE_TO_DELIVER | rc::TOO_BUSY)) => continue,
            Ok(Ok(a)) => return Some(a),
            Ok(Err(RequestError::Closed | RequestError::Refused(_))) => continue,
            Ok(Err(e)) => panic!("request failed: {e}"),
            Err(_) => continue,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_keep_seq_increasing_and_survive_kill_9() {
    let Some(db) = Database::create().await else { return };
    let imsis: Vec<String> = (1..=8).map(|i| format!("00101000000{:04}", 1000 + i)).collect();
    let nodes = workspaces(&db, 3, &imsis);
    let mut servers: Vec<Option<Server>> = Vec::new();
    for n in &nodes {
        servers.push(Some(n.start().await));
    }
    let links = [link(&nodes[0]).await, link(&nodes[1]).await, link(&nodes[2]).await];
    let peers: Arc<Vec<PeerHandle>> = Arc::new(links.iter().map(|l| l.peer.clone()).collect());

    // Eight subscribers, each with its AIRs one after the other (as one MME asks for one UE),
    // spread round-robin over the three instances; instance 3 is killed (SIGKILL) a third in.
    const PER_IMSI: usize = 400;
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (j, imsi) in imsis.iter().enumerate() {
        let (peers, done, imsi) = (peers.clone(), done.clone(), imsi.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen: Vec<(u64, u32)> = Vec::with_capacity(PER_IMSI);
            for i in 0..PER_IMSI {
                let a = send_spread(&peers, i + j, &air(&imsi, &format!("{imsi};{i}"))).await.expect("an instance");
                assert_eq!(a.result_code(), Some(rc::SUCCESS), "AIR {i} for {imsi}");
                seen.push(sqn_of(&a));
                done.fetch_add(1, Ordering::Relaxed);
            }
            (imsi, seen)
        }));
    }
    let total = PER_IMSI * imsis.len();
    while done.load(Ordering::Relaxed) < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(servers[2].take()); // SIGKILL, no shutdown of any kind
    let mut issued: HashMap<String, Vec<(u64, u32)>> = HashMap::new();
    for t in tasks {
        let (imsi, seen) = t.await.unwrap();
        issued.insert(imsi, seen);
    }
    let mut regressions = 0;
    for (imsi, seen) in &issued {
        let ind = seen[0].1;
        assert!(seen.iter().all(|s| s.1 == ind), "{imsi}: one MME, one IND");
        regressions += seen.windows(2).filter(|w| w[1].0 <= w[0].0).count();
    }
    assert_eq!(regressions, 0, "SEQ went back or repeated within an IND");
    assert_eq!(issued.values().map(Vec::len).sum::<usize>(), total);

    // The killed instance comes back: every SEQ it issues is above all issued before.
    servers[2] = Some(nodes[2].start().await);
    let back = link(&nodes[2]).await;
    for (imsi, seen) in &issued {
        let top = seen.iter().map(|s| s.0).max().unwrap();
        let a = s6a::ask(&back.peer, air(imsi, &format!("{imsi};after"))).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        let (seq, _) = sqn_of(&a);
        assert!(seq > top, "{imsi}: SEQ {seq} after the restart is not above {top}");
    }
    drop(links);
}

/// The tenant admin token of tenant `acme`, made through the API of `n` with the operator token.
async fn tenant_token(api: &str, op: &str) -> String {
    assert_eq!(http("POST", &format!("{api}/tenants"), op, Some(json!({"name": "acme"}))).await.0, 201);
    let body = json!({"name": "ops", "role": "tenant_admin", "tenant": "acme"});
    let (s, t) = http("POST", &format!("{api}/tokens"), op, Some(body)).await;
    assert_eq!(s, 201, "{t}");
    t["secret"].as_str().unwrap().to_string()
}

/// Every CLR/IDR that reached the MME over any of its connections within `wait`.
async fn collect(links: &mut [MmeLink], wait: Duration) -> Vec<Message> {
    let until = Instant::now() + wait;
    let mut got = Vec::new();
    while Instant::now() < until {
        for l in links.iter_mut() {
            while let Ok(m) = l.inbox.try_recv() {
                got.push(m);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_changes_send_one_clr_and_restart_without_loss() {
    let Some(db) = Database::create().await else { return };
    let nodes = workspaces(&db, 2, &[]);
    let op = nodes[0].admin_token();
    let (api_a, api_b) = (nodes[0].api(), nodes[1].api());
    let mut a_server = Some(nodes[0].start().await);
    let _b_server = nodes[1].start().await;
    let mut links = vec![link(&nodes[0]).await, link(&nodes[1]).await];
    let (a, b) = (links[0].peer.clone(), links[1].peer.clone());
    let tenant = tenant_token(&api_a, &op).await;

    // A SIM that does not exist yet is unknown on B; created and activated through A's API, B
    // serves it at once.
    let imsi = "001010000002001";
    let unknown = s6a::ask(&b, air(imsi, "before")).await;
    assert_ne!(unknown.result_code(), Some(rc::SUCCESS));
    let sim = json!({"imsi": imsi, "k": K, "opc": OPC, "profile": "meter"});
    let (s, r) = http("POST", &format!("{api_a}/sims"), &op, Some(json!({"tenant": "acme", "sims": [sim]}))).await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = http("PATCH", &format!("{api_a}/sims/{imsi}"), &tenant, Some(json!({"status": "active"}))).await;
    assert_eq!(s, 200, "{r}");
    let served = s6a::ask(&b, air(imsi, "after")).await;
    assert_eq!(served.result_code(), Some(rc::SUCCESS), "created through A, served by B at once");

    // Registered through A (B has it cached from the AIR above)...
    let ula = s6a::ask(&a, s6a::ulr(MME, REALM, imsi, PLMN_00101, None, "ulr")).await;
    assert_eq!(ula.result_code(), Some(rc::SUCCESS));
    let status = warden(nodes[1].dir.path(), &["cluster", "status", "--json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let live: Vec<&serde_json::Value> =
        status["instances"].as_array().unwrap().iter().filter(|i| i["state"] == "live").collect();
    assert_eq!(live.len(), 2, "{status}");
    for i in &live {
        assert_eq!(i["peers"][0]["host"], MME.host, "{status}");
    }

    // ...suspended through B's API: the MME, connected to both, gets exactly one CLR; and B, which
    // had the SIM cached, refuses it within a second.
    let suspended_at = Instant::now();
    let (s, r) = http("PATCH", &format!("{api_b}/sims/{imsi}"), &tenant, Some(json!({"status": "suspended"}))).await;
    assert_eq!(s, 200, "{r}");
    loop {
        let refused = s6a::ask(&b, air(imsi, "suspended")).await;
        if refused.result_code() != Some(rc::SUCCESS) {
            break;
        }
        assert!(suspended_at.elapsed() < Duration::from_secs(1), "B still serves a SIM suspended through B's API");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = collect(&mut links, Duration::from_secs(3)).await;
    let clrs: Vec<_> = sent.iter().filter(|m| m.abbrev() == Some("CLR")).collect();
    assert_eq!(clrs.len(), 1, "one CLR over two connections: {sent:?}");
    assert_eq!(clrs[0].get_str(avp::USER_NAME), Some(imsi));
    assert_eq!(clrs[0].get_u32(avp::CANCELLATION_TYPE), Some(2));

    // The MME leaves B: a suspension through B's API reaches it through A, the only instance that
    // holds its connection (the case where B used to log "serving MME not connected").
    b.disconnect(0).await;
    timeout(Duration::from_secs(5), links[1].closed.recv()).await.expect("B's connection closes");
    let reactivate = |api: String| {
        let tenant = tenant.clone();
        async move {
            let (s, r) = http("PATCH", &format!("{api}/sims/{imsi}"), &tenant, Some(json!({"status": "active"}))).await;
            assert_eq!(s, 200, "{r}");
        }
    };
    reactivate(api_b.clone()).await;
    let ula = s6a::ask(&a, s6a::ulr(MME, REALM, imsi, PLMN_00101, None, "ulr-2")).await;
    assert_eq!(ula.result_code(), Some(rc::SUCCESS));
    let (s, r) = http("PATCH", &format!("{api_b}/sims/{imsi}"), &tenant, Some(json!({"status": "suspended"}))).await;
    assert_eq!(s, 200, "{r}");
    let clr = timeout(Duration::from_secs(5), links[0].inbox.recv()).await.expect("CLR through A").unwrap();
    assert_eq!((clr.abbrev(), clr.get_str(avp::USER_NAME)), (Some("CLR"), Some(imsi)));
    links[1] = link(&nodes[1]).await;
    let b = links[1].peer.clone();

    // Rolling restart: SIGTERM to A under load; every AIR is answered, by A before its DPR or by B.
    let (sent_total, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    reactivate(api_b.clone()).await;
    let peers = Arc::new(vec![a.clone(), b.clone()]);
    let mut tasks = Vec::new();
    for j in 0..4 {
        let (peers, sent_total, answered) = (peers.clone(), sent_total.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..150 {
                sent_total.fetch_add(1, Ordering::Relaxed);
                let m = air(imsi, &format!("rolling;{j};{i}"));
                let a = send_spread(&peers, i + j, &m).await.expect("an instance answers");
                assert_eq!(a.result_code(), Some(rc::SUCCESS), "{a:?}");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while answered.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = a_server.as_ref().unwrap().0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(answered.load(Ordering::Relaxed), sent_total.load(Ordering::Relaxed));
    let exit = a_server.as_mut().unwrap().0.wait().unwrap();
    assert!(exit.success(), "A stopped cleanly: {exit}");
    let status = warden(nodes[1].dir.path(), &["cluster", "status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("stopped") && text.contains("1 live instance"), "{text}");
}

/// A TCP relay to PostgreSQL that the test can cut (every connection reset, new ones closed at once)
/// and restore: the database "restarting" under a running instance.
struct Relay {
    port: u16,
    down: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().unwrap().push(task);
            }
        });
        Relay { port, down, links }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for t in self.links.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gets_errors_never_a_wrong_vector_and_service_resumes() {
    let Some(db) = Database::create().await else { return };
    // The instance reaches the database only through the relay.
    let url: url_parts::Parts = url_parts::split(&db.url);
    let relay = Relay::start(url.addr).await;
    let through = format!("postgres://{}@127.0.0.1:{}/{}", url.user, relay.port, url.db);
    let imsis: Vec<String> = (1..=4).map(|i| format!("00101000000{:04}", 3000 + i)).collect();
    let nodes = workspaces(&db, 1, &imsis);
    let toml = nodes[0].dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(&db.url, &through);
    std::fs::write(&toml, text).unwrap();
    let _server = nodes[0].start().await;
    let l = link(&nodes[0]).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for imsi in imsis.clone() {
        let peer = l.peer.clone();
        tasks.push(tokio::spawn(async move {
            let mut answers: Vec<(Duration, Option<u32>, Option<u64>)> = Vec::new();
            let mut i = 0;
            while started.elapsed() < Duration::from_secs(9) {
                i += 1;
                let a = s6a::ask(&peer, air(&imsi, &format!("{imsi};outage;{i}"))).await;
                let seq = (a.result_code() == Some(rc::SUCCESS)).then(|| sqn_of(&a).0);
                answers.push((started.elapsed(), a.result_code(), seq));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    relay.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    relay.restore();
    let mut refused = 0;
    for t in tasks {
        let answers = t.await.unwrap();
        let seqs: Vec<u64> = answers.iter().filter_map(|a| a.2).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "SEQ went back or repeated across the outage: {seqs:?}");
        for (at, code, _) in &answers {
            match code {
                Some(rc::SUCCESS) => {}
                Some(rc::UNABLE_TO_COMPLY | rc::UNABLE_TO_DELIVER) => refused += 1,
                other => panic!("answer {other:?} at {at:?}"),
            }
        }
        // Service is back by itself: the last second is all successes.
        let tail: Vec<_> = answers.iter().filter(|a| a.0 > Duration::from_secs(8)).collect();
        assert!(!tail.is_empty() && tail.iter().all(|a| a.1 == Some(rc::SUCCESS)), "not resumed: {tail:?}");
    }
    assert!(refused > 0, "the outage was not noticed: the test relay did not cut anything");
}

/// The parts of a `postgres://user@host:port/db` URL the relay needs.
mod url_parts {
    pub struct Parts {
        pub user: String,
        pub addr: std::net::SocketAddr,
        pub db: String,
    }

    pub fn split(url: &str) -> Parts {
        let rest = url.split_once("://").expect("scheme").1;
        let (auth, rest) = rest.split_once('@').expect("user@host");
        let (hostport, db) = rest.split_once('/').expect("/db");
        let hostport = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:5432") };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&hostport).expect("address").next().expect("address");
        Parts { user: auth.to_string(), addr, db: db.to_string() }
    }
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_file_is_refused_until_the_first_is_gone() {
    let n = node("6d", &[MME.host], "", "");
    let first = n.start().await;
    // The same data directory, other listeners: only the database is shared.
    let (p1, p2) = (common::free_port(), common::free_port());
    let second = std::fs::read_to_string(n.dir.path().join("warden.toml"))
        .unwrap()
        .replace(&n.diameter.port().to_string(), &p1.to_string())
        .replace(&n.http.port().to_string(), &p2.to_string());
    std::fs::write(n.dir.path().join("second.toml"), second).unwrap();
    let run_second = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(n.dir.path())
            .args(["--config", "second.toml", "serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = run_second().wait_with_output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("another warden serve is running"), "{err}");

    drop(first); // SIGKILL: the kernel releases the lock
    let mut again = Server(run_second());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p1));
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        assert!(again.0.try_wait().unwrap().is_none(), "the second serve exited after the first was killed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the second serve did not start after the first was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_suspension_reaches_the_mme_once_per_sim_over_two_instances() {
    let Some(db) = Database::create().await else { return };
    let imsis: Vec<String> = (1..=120).map(|i| format!("00101000000{:04}", 5000 + i)).collect();
    let nodes = workspaces(&db, 2, &imsis);
    let op = nodes[0].admin_token();
    let _a = nodes[0].start().await;
    let _b = nodes[1].start().await;
    let mut links = vec![link(&nodes[0]).await, link(&nodes[1]).await];
    let peers = [links[0].peer.clone(), links[1].peer.clone()];
    // Registered through both instances (alternately), as a DRA spreads them.
    for (i, imsi) in imsis.iter().enumerate() {
        let ula = s6a::ask(&peers[i % 2], s6a::ulr(MME, REALM, imsi, PLMN_00101, None, &format!("ulr;{imsi}"))).await;
        assert_eq!(ula.result_code(), Some(rc::SUCCESS), "{imsi}");
    }
    // The CLI imported the SIMs for tenant acme; the bulk job runs through B's API.
    let tenant = tenant_token(&nodes[1].api(), &op).await;
    let selection = json!({"imsi_from": imsis[0], "imsi_to": imsis[imsis.len() - 1]});
    let (s, job) = http(
        "POST",
        &format!("{}/jobs", nodes[1].api()),
        &tenant,
        Some(json!({"status": "suspended", "selection": selection})),
    )
    .await;
    assert_eq!(s, 202, "{job}");
    let mut clrs: HashMap<String, usize> = HashMap::new();
    let until = Instant::now() + Duration::from_secs(20);
    while clrs.len() < imsis.len() && Instant::now() < until {
        for m in collect(&mut links, Duration::from_millis(200)).await {
            if m.abbrev() == Some("CLR") {
                *clrs.entry(m.get_str(avp::USER_NAME).unwrap().to_string()).or_default() += 1;
            }
        }
    }
    // A little longer, for any duplicate still on its way.
    for m in collect(&mut links, Duration::from_secs(2)).await {
        if m.abbrev() == Some("CLR") {
            *clrs.entry(m.get_str(avp::USER_NAME).unwrap().to_string()).or_default() += 1;
        }
    }
    assert_eq!(clrs.len(), imsis.len(), "every suspended SIM's MME got a CLR");
    let twice: Vec<_> = clrs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "CLRs sent more than once: {twice:?}");
    let status = warden(nodes[0].dir.path(), &["cluster", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["outbox"], json!([]), "nothing left waiting: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_firewall_instances_decide_category_3_on_each_others_registrations() {
    use testkit::roaming::{ALPHA, ALPHA2, BRAVO, FRANCE, GERMANY};
    let Some(db) = Database::create().await else { return };
    let fports = [common::free_port(), common::free_port()];
    let nodes: Vec<Workspace> = fports
        .iter()
        .map(|fport| {
            let firewall = format!(
                "[storage]\nurl = \"{}\"\n[firewall]\nlisten = \"127.0.0.1:{fport}\"\norigin_host = \"fw.home.example\"\n\
                 origin_realm = \"home.example\"\n[firewall.home]\nrealms = [\"home.example\"]\nplmns = [\"00101\"]\n\
                 imsi_prefixes = [\"00101\"]\n[firewall.velocity]\nmin_minutes = 60\n[[firewall.partners]]\n\
                 name = \"alpha\"\norigin_hosts = [\"{}\", \"{}\"]\nrealms = [\"alpha.example\"]\nplmns = [\"26201\"]\n\
                 [[firewall.partners]]\nname = \"bravo\"\norigin_hosts = [\"{}\"]\nrealms = [\"bravo.example\"]\n\
                 plmns = [\"20801\"]\n",
                db.url, ALPHA.0, ALPHA2.0, BRAVO.0
            );
            node("6e", &[], "", &firewall)
        })
        .collect();
    // A SIM whose profile lets it roam anywhere.
    let dir = nodes[0].dir.path();
    std::fs::write(dir.join("roamer.toml"), "[[profile]]\nname = \"roamer\"\nservices = [\"data\"]\n").unwrap();
    std::fs::write(dir.join("roamer.csv"), format!("imsi,k,opc,amf,profile\n001010000009001,{K},{OPC},8000,roamer\n"))
        .unwrap();
    for args in [["profile", "import", "roamer.toml"], ["sim", "import", "roamer.csv"]] {
        let out = warden(dir, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let _servers = [nodes[0].start().await, nodes[1].start().await];
    let fw = |i: usize| std::net::SocketAddr::from(([127, 0, 0, 1], fports[i]));
    let partner = |from: (&'static str, &'static str), i: usize| async move {
        connect_mme(fw(i), Node::new(from.0, from.1), 16).await.expect("the partner connects").peer
    };
    let (alpha_a, bravo_b, alpha2_b) = (partner(ALPHA, 0).await, partner(BRAVO, 1).await, partner(ALPHA2, 1).await);
    let imsi = "001010000009001";
    let ulr = |from: (&str, &str), plmn| s6a::ulr(Node::new(from.0, from.1), REALM, imsi, plmn, None, "ulr");

    // Registered in Germany through firewall A…
    assert_eq!(s6a::ask(&alpha_a, ulr(ALPHA, GERMANY)).await.result_code(), Some(rc::SUCCESS));
    // …so firewall B refuses, within a second, a registration from France (velocity) and a purge from
    // an alpha MME that is not the serving one: decisions only A's registration can explain.
    let started = Instant::now();
    loop {
        let a = s6a::ask(&bravo_b, ulr(BRAVO, FRANCE)).await;
        if a.result_code() == Some(rc::AUTHORIZATION_REJECTED) {
            break; // c3-velocity
        }
        assert!(started.elapsed() < Duration::from_millis(1500), "B did not apply A's registration: {a:?}");
        if a.result_code() == Some(rc::SUCCESS) {
            // B was asked before A's registration arrived and let France through (and learned it):
            // register in Germany again through A, so A's registration is the newest.
            let _ = s6a::ask(&alpha_a, ulr(ALPHA, GERMANY)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pur = s6a::pur(Node::new(ALPHA2.0, ALPHA2.1), REALM, imsi, "pur");
    let a = s6a::ask(&alpha2_b, pur).await;
    assert_ne!(a.result_code(), Some(rc::SUCCESS), "a purge from a node that does not serve the subscriber: {a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_allocation_is_refused_beside_another_live_instance() {
    let Some(db) = Database::create().await else { return };
    let nodes = workspaces(&db, 2, &[]);
    let _a = nodes[0].start().await;
    // Wait until A has registered.
    for _ in 0..100 {
        let out = warden(nodes[1].dir.path(), &["cluster", "status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if status["instances"].as_array().is_some_and(|v| v.iter().any(|i| i["state"] == "live")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let toml = nodes[1].dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&toml).unwrap() + "[sqn]\nallocation = \"block\"\n";
    std::fs::write(&toml, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(nodes[1].dir.path())
        .args(["--config", "warden.toml", "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allocation = \"block\" serves one instance only"), "{err}");
}
