//! Traffic policy in `warden serve` (SUB-2): the PCRF, which answers Gx on the HSS's Diameter
//! listener, and with a `[dns]` section the DNS firewall beside it. [`Traffic::build`] loads the
//! PCRF's stored sessions and binds the DNS listener; [`Traffic::start`] hands the App
//! - the DNS server (edge: it stops accepting with the API);
//! - the query-log writer, which moves the firewall's bounded log into the store every 200 ms and
//!   writes what is left when it stops (flush);
//! - the retention sweep of the query log (`[dns] log_retention_hours`, shorter per tenant with
//!   `tenant_log_retention_hours`);
//! - the `dns.refused` event writer (at most once per SIM and name a minute, decided by the
//!   firewall; a full queue drops, the counters still count);
//! - on PostgreSQL, the follower of the database's change announcements, so that a SIM or profile
//!   changed by another instance or the command line reaches this PCRF's sessions (RAR/ASR).
//!
//! The DNS firewall learns which SIM asks from the PCRF's sessions (Framed-IP-Address), and hands
//! it the addresses an allowed name resolved to, which the PCRF installs with RAR for their TTL.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use dnsfw::{Asker, DnsFirewall, DomainPolicy};
use pcrf::Pcrf;
use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ServeError;
use crate::platform::Task;

/// A refused name to write as a `dns.refused` event: tenant, IMSI, name.
type Refused = (String, String, String);

/// The DNS firewall's view of the PCRF.
struct PcrfDirectory {
    pcrf: Arc<Pcrf>,
    refused: mpsc::Sender<Refused>,
}

impl dnsfw::Directory for PcrfDirectory {
    fn lookup(&self, ip: IpAddr) -> Option<Asker> {
        let a = self.pcrf.lookup_ip(ip)?;
        let policy = if a.any_domain { DomainPolicy::Open } else { DomainPolicy::Allow(a.domains.clone()) };
        Some(Asker { imsi: a.imsi, tenant: Some(a.tenant), policy })
    }

    fn resolved(&self, imsi: &ids::Imsi, name: &str, addrs: &[IpAddr], ttl: Duration) {
        // Checked again against the policy now: it may have changed while the name was resolved.
        if self.pcrf.may_resolve(imsi, name) {
            self.pcrf.allow_resolved(imsi, addrs, ttl);
        }
    }

    fn refused(&self, asker: &Asker, name: &str) {
        let tenant = asker.tenant.clone().unwrap_or_default();
        let _ = self.refused.try_send((tenant, asker.imsi.to_string(), name.to_string()));
    }
}

/// The PCRF as the HSS tells it of SIM changes — those the HSS makes itself (an IMEI lock barring a
/// SIM) and those the platform makes through it: the PCRF releases or narrows the SIM's sessions.
pub struct PcrfNotifier(pub Arc<Pcrf>);

impl cmp::HssNotifier for PcrfNotifier {
    fn status_changed(&self, before: &store::model::Sim, _to: store::model::SimStatus) {
        self.0.sim_changed(&before.imsi);
    }

    fn profile_changed(&self, before: &store::model::Sim) {
        self.0.sim_changed(&before.imsi);
    }
}

/// The PCRF and, when configured, the DNS firewall.
pub struct Traffic {
    pcrf: Arc<Pcrf>,
    dns: Option<(Arc<DnsFirewall>, dnsfw::Bound)>,
    refused: Option<mpsc::Receiver<Refused>>,
}

impl Traffic {
    /// The PCRF over `store` (its sessions loaded), speaking as `origin_host`/`origin_realm` and
    /// letting a PCEF ask about the IMSIs `hss` lets it ask about; and the DNS firewall of `dns`,
    /// bound.
    pub async fn build(
        config: &crate::config::Config,
        store: &Store,
        hss: &Arc<hss::Hss>,
    ) -> Result<Traffic, ServeError> {
        let d = &config.diameter;
        let peers = hss.clone();
        let may_query: pcrf::MayQuery =
            Arc::new(move |peer: &str, imsi: &ids::Imsi| peers.config().may_query(peer, imsi.as_str()));
        let mut pcrf_config = config.pcrf.clone();
        if let Some(dns) = config.dns.as_ref().filter(|_| pcrf_config.dns_servers.is_empty()) {
            // DNS only to the firewall, unless the operator names the address devices reach it at.
            if dns.listen.ip().is_unspecified() {
                tracing::warn!(
                    "[dns] listens on every address and [pcrf] dns_servers is empty: devices may use any resolver"
                );
            } else {
                pcrf_config.dns_servers = vec![dns.listen.ip()];
            }
        }
        let pcrf = Pcrf::new(pcrf_config, store.clone(), &d.origin_host, &d.origin_realm, may_query)
            .await
            .map_err(ServeError::Pcrf)?;
        let (dns, refused) = match &config.dns {
            Some(c) => {
                c.validate().map_err(|e| ServeError::Dns(e.to_string()))?;
                if !c.listen.ip().is_loopback() && c.upstream.is_empty() {
                    return Err(ServeError::Dns("[dns] listens beyond loopback but names no upstream resolver".into()));
                }
                let (tx, rx) = mpsc::channel(10_000);
                let directory = Arc::new(PcrfDirectory { pcrf: pcrf.clone(), refused: tx });
                let fw = DnsFirewall::new(c.clone(), directory);
                let bound =
                    fw.bind().await.map_err(|source| ServeError::Bind { key: "dns.listen", addr: c.listen, source })?;
                eprintln!("warden: DNS firewall on {} (UDP and TCP)", bound.local_addr());
                (Some((fw, bound)), Some(rx))
            }
            None => (None, None),
        };
        Ok(Traffic { pcrf, dns, refused })
    }

    /// The PCRF.
    pub fn pcrf(&self) -> &Arc<Pcrf> {
        &self.pcrf
    }

    /// The long-running work: `(edge tasks, flush tasks)`.
    pub fn start(
        self,
        store: Store,
        edge: CancellationToken,
        flush: CancellationToken,
        changes: Option<tokio::sync::broadcast::Receiver<store::changes::Change>>,
    ) -> (Vec<Task>, Vec<Task>) {
        let (mut edge_tasks, mut flush_tasks): (Vec<Task>, Vec<Task>) = (Vec::new(), Vec::new());
        if let Some(rx) = changes {
            edge_tasks.push(("PCRF change follower", Box::pin(follow_changes(self.pcrf.clone(), rx, edge.clone()))));
        }
        if let Some((fw, bound)) = self.dns {
            let stop = edge.clone();
            edge_tasks.push((
                "DNS firewall",
                Box::pin(async move {
                    if let Err(e) = bound.serve(stop).await {
                        tracing::error!(error = %e, "DNS firewall stopped");
                    }
                }),
            ));
            let retention = fw.config().clone();
            edge_tasks.push(("DNS log retention", Box::pin(prune_log(store.clone(), retention, edge.clone()))));
            flush_tasks.push(("DNS log writer", Box::pin(write_log(store.clone(), fw, flush.clone()))));
        }
        if let Some(rx) = self.refused {
            flush_tasks.push(("DNS event writer", Box::pin(write_refusals(store, rx, flush))));
        }
        (edge_tasks, flush_tasks)
    }
}

/// Applies the database's change announcements (another instance, the command line) to the PCRF's
/// sessions until `stop`.
async fn follow_changes(
    pcrf: Arc<Pcrf>,
    mut rx: tokio::sync::broadcast::Receiver<store::changes::Change>,
    stop: CancellationToken,
) {
    use store::changes::Change;
    loop {
        let change = tokio::select! {
            c = rx.recv() => c,
            _ = stop.cancelled() => return,
        };
        match change {
            Ok(Change::Sim(imsi)) => pcrf.sim_changed(&imsi),
            Ok(Change::Profile(name)) => pcrf.profile_changed(&name),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "PCRF missed change announcements; sessions keep their rules until the next change"
                );
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The query log as stored.
fn stored(e: dnsfw::QueryLogEntry) -> store::traffic::DnsQuery {
    store::traffic::DnsQuery {
        at_ms: e.at_ms,
        tenant: e.tenant.unwrap_or_default(),
        imsi: e.imsi,
        name: e.name,
        qtype: e.qtype,
        verdict: e.verdict.as_str().to_string(),
        rcode: e.rcode,
        answers: e.answers.iter().map(ToString::to_string).collect(),
    }
}

/// Most queries written in one transaction.
const LOG_BATCH: usize = 5_000;

/// Moves the firewall's query log into the store every 200 ms until `stop`, then once more.
async fn write_log(store: Store, fw: Arc<DnsFirewall>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        loop {
            let batch: Vec<_> = fw.take_log(LOG_BATCH).into_iter().map(stored).collect();
            if batch.is_empty() {
                break;
            }
            let full = batch.len() == LOG_BATCH;
            if let Err(e) = store.insert_dns_queries(&batch).await {
                tracing::warn!(error = %e, dropped = batch.len(), "DNS query log not written");
            }
            if !full {
                break;
            }
        }
        if stopping {
            return;
        }
    }
}

/// Deletes logged queries older than their tenant's retention, every ten minutes until `stop`.
async fn prune_log(store: Store, c: dnsfw::DnsConfig, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now_ms = store::cluster::now_ms();
        let hours_ms = |h: u64| (h.min(1 << 30) as i64) * 3_600_000;
        for (tenant, hours) in &c.tenant_log_retention_hours {
            if let Err(e) = store.prune_dns_queries(Some(tenant), now_ms - hours_ms(*hours)).await {
                tracing::warn!(error = %e, tenant, "DNS query log not pruned");
            }
        }
        // The default is the operator's ceiling: a tenant's own retention can only be shorter.
        if let Err(e) = store.prune_dns_queries(None, now_ms - hours_ms(c.log_retention_hours)).await {
            tracing::warn!(error = %e, "DNS query log not pruned");
        }
    }
}

/// Writes `dns.refused` events until `stop`, then what is still queued.
async fn write_refusals(store: Store, mut rx: mpsc::Receiver<Refused>, stop: CancellationToken) {
    let kind = cmp::EventKind::DnsRefused.name();
    loop {
        let next = tokio::select! {
            r = rx.recv() => r,
            _ = stop.cancelled() => None,
        };
        let Some((tenant, imsi, name)) = next else { break };
        if let Err(e) = store.record_tenant_event(&tenant, Some(&imsi), &kind, &format!("refused {name}")).await {
            tracing::warn!(error = %e, "dns.refused event not written");
        }
    }
    while let Ok((tenant, imsi, name)) = rx.try_recv() {
        let _ = store.record_tenant_event(&tenant, Some(&imsi), &kind, &format!("refused {name}")).await;
    }
}
