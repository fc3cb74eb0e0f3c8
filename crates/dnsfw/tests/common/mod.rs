//! The harness shared by the integration tests: a fake authoritative upstream for `acme.example.`,
//! a directory with three SIMs that records what it is told, and the firewall between them, all
//! on loopback with port 0.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dnsfw::authority::Authority;
use dnsfw::{Asker, CancellationToken, Directory, DnsConfig, DnsFirewall, DomainPolicy};

/// SIM 1: allowlist api.acme.example, cdn-alias.acme.example, *.ota.acme.example.
pub const SIM1: &str = "127.0.0.2";
/// SIM 2: every name.
pub const SIM2: &str = "127.0.0.3";
/// No SIM.
pub const STRANGER: &str = "127.0.0.9";

pub const IMSI1: &str = "001010000000001";
pub const IMSI2: &str = "001010000000002";

/// One `Directory::resolved` call: IMSI, name, addresses, TTL.
pub type Report = (String, String, Vec<IpAddr>, Duration);

/// What the directory was told.
#[derive(Default)]
pub struct Recorder {
    pub sims: HashMap<IpAddr, Asker>,
    pub resolved: Mutex<Vec<Report>>,
    pub refused: Mutex<Vec<(String, String)>>,
}

impl Directory for Recorder {
    fn lookup(&self, ip: IpAddr) -> Option<Asker> {
        self.sims.get(&ip).cloned()
    }
    fn resolved(&self, imsi: &ids::Imsi, name: &str, addrs: &[IpAddr], ttl: Duration) {
        self.resolved.lock().unwrap().push((imsi.to_string(), name.into(), addrs.to_vec(), ttl));
    }
    fn refused(&self, asker: &Asker, name: &str) {
        self.refused.lock().unwrap().push((asker.imsi.to_string(), name.into()));
    }
}

impl Recorder {
    pub fn resolved_for(&self, name: &str) -> Vec<Report> {
        self.resolved.lock().unwrap().iter().filter(|r| r.1 == name).cloned().collect()
    }
}

pub fn directory() -> Recorder {
    let patterns: Vec<ids::DomainPattern> = ["api.acme.example", "cdn-alias.acme.example", "*.ota.acme.example"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let mut d = Recorder::default();
    d.sims.insert(
        SIM1.parse().unwrap(),
        Asker {
            imsi: IMSI1.parse().unwrap(),
            tenant: Some("acme".into()),
            policy: DomainPolicy::Allow(patterns.into()),
        },
    );
    d.sims.insert(
        SIM2.parse().unwrap(),
        Asker { imsi: IMSI2.parse().unwrap(), tenant: None, policy: DomainPolicy::Open },
    );
    d
}

/// The upstream zone.
pub fn zone() -> Authority {
    let mut z = Authority::new("acme.example.", 30)
        .addr("api.acme.example.", 300, "192.0.2.10".parse().unwrap())
        .addr("api.acme.example.", 300, "2001:db8::10".parse().unwrap())
        .addr("fw1.ota.acme.example.", 120, "192.0.2.20".parse().unwrap())
        .cname("cdn-alias.acme.example.", 600, "edge.cdn.acme.example.")
        .addr("edge.cdn.acme.example.", 60, "198.51.100.5".parse().unwrap());
    // 40 A records (~700 bytes): more than 512, less than 1232.
    for i in 0..40u8 {
        z = z.addr("mid.ota.acme.example.", 300, IpAddr::from([198, 51, 100, i]));
    }
    // 100 A records (~1700 bytes): more than 1232, so UDP always truncates.
    for i in 0..100u8 {
        z = z.addr("big.ota.acme.example.", 300, IpAddr::from([203, 0, 113, i]));
    }
    z
}

pub struct Harness {
    pub fw: Arc<DnsFirewall>,
    pub dir: Arc<Recorder>,
    pub upstream: Arc<Authority>,
    pub addr: SocketAddr,
    pub stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the upstream and the firewall (with `config` apart from listen and upstream).
pub async fn start(config: DnsConfig) -> Harness {
    start_with(config, zone()).await
}

pub async fn start_with(mut config: DnsConfig, zone: Authority) -> Harness {
    let stop = CancellationToken::new();
    let upstream = Arc::new(zone);
    let up = upstream.clone().serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await.unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    if config.upstream.is_empty() {
        config.upstream = vec![up];
    }
    let dir = Arc::new(directory());
    let fw = DnsFirewall::new(config, dir.clone());
    let bound = fw.bind().await.unwrap();
    let addr = bound.local_addr();
    tokio::spawn(bound.serve(stop.clone()));
    Harness { fw, dir, upstream, addr, stop }
}
