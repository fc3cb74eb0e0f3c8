//! Measures the firewall on loopback: starts the fake upstream and the firewall (UDP on
//! `SO_REUSEPORT` sockets), warms the cache, then runs the load generator from K source addresses.
//!
//! `cargo run --release -p dnsfw --example loadtest -- [QUERIES] [SOURCES] [WINDOW]`
//! (defaults 500000, 8, 64).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use dnsfw::authority::Authority;
use dnsfw::load::{self, LoadSpec};
use dnsfw::{Asker, CancellationToken, Directory, DnsConfig, DnsFirewall, DomainPolicy};

/// Every 127.0.0.x source is a SIM with the same allowlist.
struct Sims(DomainPolicy);

impl Directory for Sims {
    fn lookup(&self, ip: IpAddr) -> Option<Asker> {
        let IpAddr::V4(v4) = ip else { return None };
        let imsi = format!("0010100000{:05}", v4.octets()[3]).parse().ok()?;
        Some(Asker { imsi, tenant: None, policy: self.0.clone() })
    }
    fn resolved(&self, _imsi: &ids::Imsi, _name: &str, _addrs: &[IpAddr], _ttl: Duration) {}
    fn refused(&self, _asker: &Asker, _name: &str) {}
}

fn main() -> std::io::Result<()> {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let queries = args.first().copied().unwrap_or(500_000);
    let sources = args.get(1).copied().unwrap_or(8).clamp(1, 250);
    let window = args.get(2).copied().unwrap_or(64).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let stop = CancellationToken::new();
        let mut zone = Authority::new("acme.example.", 30);
        let names: Vec<String> = (0..16).map(|i| format!("d{i}.ota.acme.example.")).collect();
        for (i, n) in names.iter().enumerate() {
            zone = zone.addr(n, 3600, IpAddr::from([192, 0, 2, i as u8]));
        }
        let up = Arc::new(zone).serve("127.0.0.1:0".parse().unwrap(), stop.clone()).await?;
        let policy = DomainPolicy::Allow(vec!["*.ota.acme.example".parse().unwrap()].into());
        let config = DnsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream: vec![up],
            queries_per_sec_per_sim: 0,
            log_capacity: 10_000_000,
            ..DnsConfig::default()
        };
        let fw = DnsFirewall::new(config, Arc::new(Sims(policy)));
        let bound = fw.bind().await?;
        let addr = bound.local_addr();
        tokio::spawn(bound.serve(stop.clone()));
        let srcs: Vec<IpAddr> = (0..sources).map(|i| IpAddr::from([127, 0, 0, 2 + i as u8])).collect();
        // Warm the cache.
        let warm = load::run(&LoadSpec::new(addr, srcs[..1].to_vec(), names.len() as u64, names.clone())).await?;
        assert_eq!(warm.noerror, names.len() as u64, "warm-up failed: {warm}");
        let mut spec = LoadSpec::new(addr, srcs, queries, names);
        spec.window = window;
        let report = load::run(&spec).await?;
        let c = fw.counters();
        println!("{report}");
        println!(
            "firewall: {} queries, {} cache hits, {} upstream failures, {} log entries waiting",
            c.queries,
            c.cache_hits,
            c.upstream_failures,
            fw.take_log(usize::MAX).len()
        );
        stop.cancel();
        Ok(())
    })
}
