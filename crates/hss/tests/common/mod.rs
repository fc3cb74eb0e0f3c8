//! What the HSS's integration tests share: an HSS on loopback over a fresh SQLite store with two
//! profiles, three SIMs of tenant `acme` (one critical, one standard, one low-priority meter) and a
//! blacklisted TAC; peers `mme1` and `mme2` of the home network allowed for `00101…` and a partner
//! allowed only for `99999…`. Every test binary uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use diameter::peer::{Application, PeerConfig};
use diameter::transport::{serve, ConnectionLimits, PeerHandle, ServerConfig};
use diameter::{Command, Message};
use hss::{ConfiguredPeers, Hss, HssConfig, PeerRule};
use store::model::{EirEntry, EirKey, EirStatus, NewSim, Priority};
use store::seal::{Kek, Keyring};
use store::Store;
use tokio::sync::mpsc;

use testkit::provision::{self, profile};
use testkit::s6a::{self, connect_mme, Node};

pub const REALM: &str = "home.example";
/// A critical meter.
pub const IMSI: &str = "001010000000001";
/// A standard phone.
pub const STANDARD: &str = "001010000000002";
/// A low-priority meter.
pub const LOW: &str = "001010000000003";
/// A TAC on the black list.
pub const STOLEN_IMEI: &str = "35000000123456";

pub fn new_sim(imsi: &str, profile: &str, priority: Priority) -> NewSim {
    provision::sim(imsi, Some(profile), priority, "acme")
}

pub struct Setup {
    pub addr: SocketAddr,
    pub hss: Arc<Hss>,
    _dir: tempfile::TempDir,
    _stop: tokio_util::sync::CancellationToken,
}

/// A peer of the home realm allowed for `00101…`.
pub fn rule(host: &str) -> PeerRule {
    PeerRule {
        origin_host: host.into(),
        origin_realm: REALM.into(),
        addresses: vec![],
        imsi_prefixes: vec!["00101".into()],
        applications: vec![hss::PeerApplication::S6a, hss::PeerApplication::S13],
    }
}

pub async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// [`setup`] with the configuration changed by `tweak` before the HSS starts.
pub async fn setup_with(tweak: impl FnOnce(&mut HssConfig)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}/w.db", dir.path().display()),
        Keyring::new(Kek::from_bytes(1, &[9; 32]), vec![]),
    )
    .await
    .unwrap();
    let meter = profile(serde_json::json!({
        "name": "meter", "services": ["data"], "allowed_plmns": ["00101", "00102"], "forbidden_rats": ["geran"],
        "imei_lock": "first", "imei_lock_action": "event", "ambr_ul": 64000, "ambr_dl": 128000,
        "apn": [{"name": "meters.example", "pdn_type": "ipv4", "qci": 9}]
    }));
    let phone = profile(serde_json::json!({"name": "phone", "services": ["data", "sms", "voice"]}));
    provision::profiles(&store, &[meter, phone]).await;
    provision::sims(
        &store,
        &[
            new_sim(IMSI, "meter", Priority::Critical),
            new_sim(STANDARD, "phone", Priority::Standard),
            new_sim(LOW, "meter", Priority::Low),
        ],
    )
    .await;
    let stolen = EirEntry {
        key: EirKey::Tac("35000000".into()),
        status: EirStatus::Black,
        reason: "stolen".into(),
        source: "ceir".into(),
    };
    provision::eir(&store, &[stolen]).await;
    let mut cfg = HssConfig::new("hss.home.example", REALM);
    cfg.diameter.peers = vec![
        rule("mme1.home.example"),
        rule("mme2.home.example"),
        PeerRule { imsi_prefixes: vec!["99999".into()], ..rule("partner.example") },
    ];
    tweak(&mut cfg);
    let peers = ConfiguredPeers(cfg.diameter.peers.clone());
    let hss = Hss::new(cfg, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let shutdown = stop.clone();
    let server = ServerConfig {
        peer: PeerConfig::new("hss.home.example", REALM, vec![Application::S6A, Application::S13]),
        authorizer: Arc::new(peers),
        limits: ConnectionLimits::default(),
        tls: None,
    };
    tokio::spawn(serve(listener, server, hss.clone(), shutdown));
    let outbox = hss.clone();
    let outbox_stop = stop.clone();
    tokio::spawn(async move { outbox.run_outbox(Duration::from_millis(500), outbox_stop).await });
    Setup { addr, hss, _dir: dir, _stop: stop }
}

pub async fn mme(
    addr: SocketAddr,
    host: &'static str,
) -> std::io::Result<(PeerHandle, mpsc::UnboundedReceiver<Message>)> {
    let link = connect_mme(addr, Node::new(host, REALM), 256).await?;
    Ok((link.peer, link.inbox))
}

/// A request of `cmd` from `host` (of the home realm) about `imsi`.
pub fn base(cmd: Command, host: &str, imsi: &str) -> Message {
    s6a::request(cmd, Node::new(host, REALM), REALM, imsi, &format!("{cmd};{imsi}"))
}

/// A ULR from `host` over E-UTRAN.
pub fn ulr(host: &str, imsi: &str, plmn: [u8; 3], imei: Option<&str>) -> Message {
    s6a::ulr(Node::new(host, REALM), REALM, imsi, plmn, imei, &format!("ULR;{imsi}"))
}
