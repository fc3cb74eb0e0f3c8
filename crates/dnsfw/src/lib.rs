//! # dnsfw — Warden's DNS firewall (issue #16)
//!
//! The resolver an APN's DNS points at. It knows which SIM asks (the source address, looked up in
//! the Gx sessions through [`Directory`]), answers only names in the SIM's allowlist
//! ([`DomainPolicy`]) and reports the addresses they resolve to ([`Directory::resolved`]) so the
//! PCRF can open exactly those for the records' TTL. Other names get REFUSED or NXDOMAIN
//! ([`RefusedAnswer`]) and a throttled event ([`Directory::refused`]).
//!
//! - [`DnsFirewall::answer`]: the whole decision for one query, sans socket.
//! - [`DnsFirewall::serve`] / [`DnsFirewall::bind`]: UDP (several `SO_REUSEPORT` sockets) and TCP on
//!   one address, stopped by a [`CancellationToken`].
//! - [`DnsFirewall::take_log`]: one [`QueryLogEntry`] per query, from a bounded queue.
//! - [`load`]: a bounded UDP load generator; [`authority`]: a tiny authoritative server for tests
//!   and benchmarks.
//!
//! It never panics on input: unreadable queries get FORMERR when a header can be read and nothing
//! otherwise. See docs/dns-firewall.md.

pub mod authority;
mod cache;
pub mod config;
pub mod directory;
mod limits;
pub mod load;
mod log;
mod server;
mod shards;
mod upstream;
mod wire;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::rr::RecordType;
use tokio::sync::OnceCell;
pub use tokio_util::sync::CancellationToken;

use cache::{Answer, Cache, Key};
pub use config::{ConfigError, DnsConfig, RefusedAnswer};
pub use directory::{Asker, Directory, DomainPolicy, Source};
use limits::{RateLimiter, RefusalThrottle, ReportThrottle, WarnOnce};
use log::QueryLog;
pub use log::{QueryLogEntry, Verdict};
pub use server::Bound;
use wire::{Question, Rejected};

/// How many SIMs the per-SIM maps (rate limits, report and refusal throttles) are sized for.
const SIM_STATE_ENTRIES: usize = 200_000;

/// The firewall's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Queries decided on (readable, one question; not the malformed ones).
    pub queries: u64,
    /// Answered for an allowed name (from the cache or upstream).
    pub allowed: u64,
    /// Refused: the name is outside the SIM's allowlist, or the source has no SIM.
    pub refused: u64,
    /// Refused because the SIM asked too fast.
    pub rate_limited: u64,
    /// Of `refused`: from an address with no SIM.
    pub unknown_source: u64,
    /// Of `refused`: from an address several SIMs hold (overlapping address pools).
    pub ambiguous_source: u64,
    /// Allowed names no upstream could answer (SERVFAIL sent).
    pub upstream_failures: u64,
    /// Allowed names answered from the cache.
    pub cache_hits: u64,
    /// Log entries dropped because the log was full.
    pub log_dropped: u64,
    /// Datagrams that were not a readable query (answered FORMERR/NOTIMP/BADVERS or dropped).
    pub malformed: u64,
    /// Answers sent with TC because they did not fit the client's UDP payload size.
    pub truncated: u64,
}

#[derive(Debug, Default)]
struct AtomicCounters {
    queries: AtomicU64,
    allowed: AtomicU64,
    refused: AtomicU64,
    rate_limited: AtomicU64,
    unknown_source: AtomicU64,
    ambiguous_source: AtomicU64,
    upstream_failures: AtomicU64,
    cache_hits: AtomicU64,
    malformed: AtomicU64,
    truncated: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

type Flight = Arc<OnceCell<Result<Arc<Answer>, String>>>;

/// The DNS firewall: policy, cache, limits, log and counters. Create with [`DnsFirewall::new`].
pub struct DnsFirewall {
    config: DnsConfig,
    directory: Arc<dyn Directory>,
    cache: Cache,
    inflight: Mutex<std::collections::HashMap<Key, Flight>>,
    limiter: RateLimiter,
    reports: ReportThrottle,
    refusals: RefusalThrottle,
    ambiguous: WarnOnce,
    log: QueryLog,
    counters: AtomicCounters,
}

impl std::fmt::Debug for DnsFirewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFirewall").field("config", &self.config).field("counters", &self.counters()).finish()
    }
}

/// A query allowed by policy but not in the cache: it needs an upstream answer.
#[derive(Debug)]
pub(crate) struct Pending {
    q: Question,
    asker: Asker,
    source: IpAddr,
}

/// The outcome of the synchronous part of answering.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send this (or nothing).
    Reply(Option<Vec<u8>>),
    /// Resolve upstream first ([`DnsFirewall::resolve`]).
    Resolve(Box<Pending>),
}

impl DnsFirewall {
    /// A firewall with `config` (call [`DnsConfig::validate`] first; an inverted TTL clamp is
    /// treated as `max = min`) that asks `directory` about sources and reports to it.
    pub fn new(config: DnsConfig, directory: Arc<dyn Directory>) -> Arc<Self> {
        Arc::new(DnsFirewall {
            cache: Cache::new(config.cache_entries),
            inflight: Mutex::new(Default::default()),
            limiter: RateLimiter::new(config.queries_per_sec_per_sim, SIM_STATE_ENTRIES),
            reports: ReportThrottle::new(SIM_STATE_ENTRIES),
            refusals: RefusalThrottle::new(SIM_STATE_ENTRIES),
            ambiguous: WarnOnce::new(SIM_STATE_ENTRIES),
            log: QueryLog::new(config.log_capacity),
            counters: AtomicCounters::default(),
            directory,
            config,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// The answer to one query `query` from `source` (over TCP when `tcp`, which lifts the UDP
    /// size limit), or None when nothing must be sent (unreadable header, a response).
    pub async fn answer(&self, source: IpAddr, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        match self.decide(source, query, tcp) {
            Decision::Reply(r) => r,
            Decision::Resolve(p) => Some(self.resolve(*p).await),
        }
    }

    /// Removes and returns up to `max` query-log entries, oldest first.
    pub fn take_log(&self, max: usize) -> Vec<QueryLogEntry> {
        self.log.take(max)
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            queries: r(&c.queries),
            allowed: r(&c.allowed),
            refused: r(&c.refused),
            rate_limited: r(&c.rate_limited),
            unknown_source: r(&c.unknown_source),
            ambiguous_source: r(&c.ambiguous_source),
            upstream_failures: r(&c.upstream_failures),
            cache_hits: r(&c.cache_hits),
            log_dropped: self.log.dropped.load(Ordering::Relaxed),
            malformed: r(&c.malformed),
            truncated: r(&c.truncated),
        }
    }

    /// Everything that needs no upstream: parsing, source, rate, policy and the cache.
    pub(crate) fn decide(&self, source: IpAddr, query: &[u8], tcp: bool) -> Decision {
        // On a dual-stack socket IPv4 clients arrive as ::ffff:a.b.c.d; the directory knows a.b.c.d.
        let source = source.to_canonical();
        let now = Instant::now();
        let q = match wire::parse_query(query, tcp) {
            Ok(q) => q,
            Err(Rejected::Drop) => {
                bump(&self.counters.malformed);
                return Decision::Reply(None);
            }
            Err(Rejected::Reply(bytes, _)) => {
                bump(&self.counters.malformed);
                return Decision::Reply(Some(bytes));
            }
        };
        bump(&self.counters.queries);
        let refused_rcode = match self.config.answer_refused {
            RefusedAnswer::Refused => wire::REFUSED,
            RefusedAnswer::Nxdomain => wire::NXDOMAIN,
        };
        let asker = match self.directory.source(source) {
            Source::Sim(asker) => asker,
            Source::Unknown => {
                bump(&self.counters.unknown_source);
                bump(&self.counters.refused);
                self.record(source, None, &q, Verdict::Refused, wire::REFUSED, Vec::new());
                return Decision::Reply(Some(wire::error_answer(&q, wire::REFUSED)));
            }
            // Several SIMs hold the address: fail closed, and into no tenant's log.
            Source::Ambiguous => {
                bump(&self.counters.ambiguous_source);
                bump(&self.counters.refused);
                if self.ambiguous.first_time(source) {
                    tracing::warn!(%source, "DNS query from an address several SIMs hold (overlapping address pools): \
                        refused; serve such APNs from a DNS firewall each ([dns] apn)");
                }
                self.record(source, None, &q, Verdict::Refused, refused_rcode, Vec::new());
                return Decision::Reply(Some(wire::error_answer(&q, refused_rcode)));
            }
        };
        if !self.limiter.allow(&asker.imsi, now) {
            bump(&self.counters.rate_limited);
            self.record(source, Some(&asker), &q, Verdict::RateLimited, wire::REFUSED, Vec::new());
            return Decision::Reply(Some(wire::error_answer(&q, wire::REFUSED)));
        }
        let allowed = match &asker.policy {
            DomainPolicy::Open => true,
            // `evil\.acme.example` (one label `evil.acme`) must not pass for `*.acme.example`.
            policy => !q.dotted_label && policy.allows(&q.lower),
        };
        if !cache::answerable_class(q.qclass) || !allowed {
            bump(&self.counters.refused);
            if self.refusals.should_tell(&asker.imsi, &q.lower, now) {
                self.directory.refused(&asker, &q.lower);
            }
            self.record(source, Some(&asker), &q, Verdict::Refused, refused_rcode, Vec::new());
            return Decision::Reply(Some(wire::error_answer(&q, refused_rcode)));
        }
        match self.cache.get(&Key::of(&q), now) {
            Some(answer) => {
                bump(&self.counters.cache_hits);
                Decision::Reply(Some(self.allowed(source, &asker, &q, &answer, now)))
            }
            None => Decision::Resolve(Box::new(Pending { q, asker, source })),
        }
    }

    /// Resolves a pending query upstream (one upstream exchange for concurrent identical
    /// questions), caches the answer and returns the response.
    pub(crate) async fn resolve(&self, p: Pending) -> Vec<u8> {
        let key = Key::of(&p.q);
        let flight = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match inflight.get(&key) {
                Some(f) => f.clone(),
                None => {
                    // A flight that ended since `decide` has cached its answer before leaving.
                    let now = Instant::now();
                    if let Some(answer) = self.cache.get(&key, now) {
                        drop(inflight);
                        bump(&self.counters.cache_hits);
                        return self.allowed(p.source, &p.asker, &p.q, &answer, now);
                    }
                    inflight.entry(key.clone()).or_default().clone()
                }
            }
        };
        let result = flight.get_or_init(|| self.fetch(&p.q, key.clone())).await.clone();
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            if inflight.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                inflight.remove(&key);
            }
        }
        match result {
            Ok(answer) => self.allowed(p.source, &p.asker, &p.q, &answer, Instant::now()),
            Err(why) => {
                tracing::debug!(name = %p.q.lower, "dns upstream failed: {why}");
                bump(&self.counters.upstream_failures);
                self.record(p.source, Some(&p.asker), &p.q, Verdict::UpstreamFailed, wire::SERVFAIL, Vec::new());
                wire::error_answer(&p.q, wire::SERVFAIL)
            }
        }
    }

    /// The answer to a pending query when too many are waiting for upstream already: SERVFAIL,
    /// counted and logged as an upstream failure.
    pub(crate) fn overloaded(&self, p: &Pending) -> Vec<u8> {
        bump(&self.counters.upstream_failures);
        self.record(p.source, Some(&p.asker), &p.q, Verdict::UpstreamFailed, wire::SERVFAIL, Vec::new());
        wire::error_answer(&p.q, wire::SERVFAIL)
    }

    async fn fetch(&self, q: &Question, key: Key) -> Result<Arc<Answer>, String> {
        let m = upstream::resolve(&self.config.upstream, self.config.upstream_timeout(), q)
            .await
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let answer = Answer::from_upstream(q, &m, |t| self.config.clamp_ttl(t), now).map_err(|e| e.to_string())?;
        let answer = Arc::new(answer);
        self.cache.put(key, answer.clone(), now);
        Ok(answer)
    }

    /// Sends `answer` to an allowed query: reports its addresses (throttled) and logs it.
    fn allowed(&self, source: IpAddr, asker: &Asker, q: &Question, answer: &Answer, now: Instant) -> Vec<u8> {
        bump(&self.counters.allowed);
        let bytes = answer.render(q, now);
        if bytes.len() > 2 && bytes[2] & 0x02 != 0 {
            bump(&self.counters.truncated);
        }
        let is_address = matches!(q.qtype, RecordType::A | RecordType::AAAA | RecordType::ANY);
        if is_address && !answer.addrs.is_empty() {
            let ttl = Duration::from_secs(self.config.clamp_ttl(answer.addrs_ttl_left(now)).into());
            if self.reports.should_report(&asker.imsi, &q.lower, q.qtype.into(), &answer.addrs, ttl, now) {
                self.directory.resolved(&asker.imsi, &q.lower, &answer.addrs, ttl);
            }
        }
        self.record(source, Some(asker), q, Verdict::Allowed, answer.rcode, answer.addrs.clone());
        bytes
    }

    fn record(
        &self,
        source: IpAddr,
        asker: Option<&Asker>,
        q: &Question,
        verdict: Verdict,
        rcode: u16,
        answers: Vec<IpAddr>,
    ) {
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        self.log.push(QueryLogEntry {
            at_ms,
            imsi: asker.map(|a| a.imsi.to_string()).unwrap_or_default(),
            tenant: asker.and_then(|a| a.tenant.clone()),
            name: q.lower.clone(),
            qtype: q.qtype.into(),
            verdict,
            rcode,
            answers,
            source,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::query;
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record};
    use std::collections::HashMap;

    /// One `Directory::resolved` call: IMSI, name, addresses, TTL.
    type Report = (String, String, Vec<IpAddr>, Duration);

    /// A directory with fixed SIMs that records what it is told.
    #[derive(Default)]
    struct Recorder {
        sims: HashMap<IpAddr, Asker>,
        /// Addresses several SIMs hold.
        shared: Vec<IpAddr>,
        resolved: Mutex<Vec<Report>>,
        refused: Mutex<Vec<(String, String)>>,
    }

    impl Directory for Recorder {
        fn lookup(&self, ip: IpAddr) -> Option<Asker> {
            self.sims.get(&ip).cloned()
        }
        fn source(&self, ip: IpAddr) -> Source {
            if self.shared.contains(&ip) {
                return Source::Ambiguous;
            }
            self.lookup(ip).map_or(Source::Unknown, Source::Sim)
        }
        fn resolved(&self, imsi: &ids::Imsi, name: &str, addrs: &[IpAddr], ttl: Duration) {
            self.resolved.lock().unwrap().push((imsi.to_string(), name.into(), addrs.to_vec(), ttl));
        }
        fn refused(&self, asker: &Asker, name: &str) {
            self.refused.lock().unwrap().push((asker.imsi.to_string(), name.into()));
        }
    }

    const SIM: [u8; 4] = [127, 0, 0, 2];

    fn setup(config: DnsConfig) -> (Arc<DnsFirewall>, Arc<Recorder>) {
        let patterns: Vec<ids::DomainPattern> =
            ["api.acme.example", "*.ota.acme.example"].iter().map(|p| p.parse().unwrap()).collect();
        let mut dir = Recorder::default();
        dir.sims.insert(
            IpAddr::from(SIM),
            Asker {
                imsi: "001010000000001".parse().unwrap(),
                tenant: Some("acme".into()),
                policy: DomainPolicy::Allow(patterns.into()),
            },
        );
        let dir = Arc::new(dir);
        (DnsFirewall::new(config, dir.clone()), dir)
    }

    /// Puts an upstream answer for `name` A with `ttl` into the firewall's cache.
    fn seed(fw: &DnsFirewall, name: &str, ttl: u32, ip: [u8; 4]) {
        let q = wire::parse_query(&query(name, RecordType::A, None), false).unwrap();
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.name.clone(), RecordType::A));
        m.add_answer(Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            ttl,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        ));
        let now = Instant::now();
        let ans = Answer::from_upstream(&q, &m, |t| fw.config.clamp_ttl(t), now).unwrap();
        fw.cache.put(Key::of(&q), Arc::new(ans), now);
    }

    fn rcode(answer: &[u8]) -> u16 {
        u16::from(Message::from_vec(answer).unwrap().metadata.response_code)
    }

    #[tokio::test]
    async fn an_allowed_cached_name_is_answered_reported_once_and_logged() {
        let (fw, dir) = setup(DnsConfig::default());
        seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
        for _ in 0..3 {
            let a = fw.answer(SIM.into(), &query("Api.Acme.Example.", RecordType::A, None), false).await.unwrap();
            let m = Message::from_vec(&a).unwrap();
            assert_eq!(m.answers.len(), 1);
        }
        let reports = dir.resolved.lock().unwrap().clone();
        assert_eq!(reports.len(), 1, "cached hits within half the TTL are not reported again");
        assert_eq!(reports[0].0, "001010000000001");
        assert_eq!(reports[0].1, "api.acme.example");
        assert_eq!(reports[0].2, vec![IpAddr::from([192, 0, 2, 7])]);
        assert!(reports[0].3 <= Duration::from_secs(300) && reports[0].3 >= Duration::from_secs(299));
        let c = fw.counters();
        assert_eq!((c.queries, c.allowed, c.cache_hits, c.refused), (3, 3, 3, 0));
        let log = fw.take_log(10);
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].verdict, Verdict::Allowed);
        assert_eq!(log[0].tenant.as_deref(), Some("acme"));
        assert_eq!(log[0].answers, vec![IpAddr::from([192, 0, 2, 7])]);
        assert_eq!(log[0].qtype, 1);
    }

    #[tokio::test]
    async fn names_outside_the_allowlist_are_refused_and_reported_once_a_minute() {
        let (fw, dir) = setup(DnsConfig::default());
        for _ in 0..3 {
            let a = fw.answer(SIM.into(), &query("evil.example.", RecordType::A, None), false).await.unwrap();
            assert_eq!(rcode(&a), wire::REFUSED);
        }
        // A label with a dot in it is not a name below the suffix.
        let tricky = Name::from_labels(vec![&b"evil.ota"[..], b"acme", b"example"]).unwrap();
        let mut m = Message::new(9, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(tricky, RecordType::A));
        let a = fw.answer(SIM.into(), &m.to_vec().unwrap(), false).await.unwrap();
        assert_eq!(rcode(&a), wire::REFUSED);
        // Wildcards need a label below the suffix.
        let a = fw.answer(SIM.into(), &query("ota.acme.example.", RecordType::A, None), false).await.unwrap();
        assert_eq!(rcode(&a), wire::REFUSED);
        assert_eq!(dir.refused.lock().unwrap().len(), 3);
        assert_eq!(dir.refused.lock().unwrap()[0], ("001010000000001".into(), "evil.example".into()));
        assert_eq!(fw.counters().refused, 5);
        assert!(fw.take_log(10).iter().all(|e| e.verdict == Verdict::Refused && e.rcode == 5));
        let (fw, _) = setup(DnsConfig { answer_refused: RefusedAnswer::Nxdomain, ..DnsConfig::default() });
        let a = fw.answer(SIM.into(), &query("evil.example.", RecordType::A, None), false).await.unwrap();
        assert_eq!(rcode(&a), wire::NXDOMAIN);
    }

    #[tokio::test]
    async fn unknown_sources_are_refused_even_for_open_names() {
        let (fw, dir) = setup(DnsConfig::default());
        seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
        let a =
            fw.answer([127, 0, 0, 9].into(), &query("api.acme.example.", RecordType::A, None), false).await.unwrap();
        assert_eq!(rcode(&a), wire::REFUSED);
        let c = fw.counters();
        assert_eq!((c.unknown_source, c.refused, c.allowed), (1, 1, 0));
        assert!(dir.resolved.lock().unwrap().is_empty());
        let log = fw.take_log(1);
        assert_eq!((log[0].imsi.as_str(), log[0].verdict), ("", Verdict::Refused));
    }

    #[tokio::test]
    async fn an_address_several_sims_hold_is_refused_counted_and_logged_for_no_tenant() {
        for (answer, rcode_sent) in [(RefusedAnswer::Refused, wire::REFUSED), (RefusedAnswer::Nxdomain, wire::NXDOMAIN)]
        {
            let patterns: Vec<ids::DomainPattern> = vec!["api.acme.example".parse().unwrap()];
            let mut dir = Recorder::default();
            dir.sims.insert(
                IpAddr::from(SIM),
                Asker {
                    imsi: "001010000000001".parse().unwrap(),
                    tenant: Some("acme".into()),
                    policy: DomainPolicy::Allow(patterns.into()),
                },
            );
            dir.shared.push(IpAddr::from(SIM));
            let dir = Arc::new(dir);
            let fw = DnsFirewall::new(DnsConfig { answer_refused: answer, ..DnsConfig::default() }, dir.clone());
            seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
            for name in ["api.acme.example.", "evil.example."] {
                let a = fw.answer(SIM.into(), &query(name, RecordType::A, None), false).await.unwrap();
                assert_eq!(rcode(&a), rcode_sent, "{name}: fail closed with the configured answer");
            }
            let c = fw.counters();
            assert_eq!((c.ambiguous_source, c.refused, c.allowed, c.unknown_source), (2, 2, 0, 0));
            assert!(dir.resolved.lock().unwrap().is_empty(), "nothing opened for either SIM");
            assert!(dir.refused.lock().unwrap().is_empty(), "no refusal event in either tenant");
            let log = fw.take_log(10);
            assert_eq!(log.len(), 2);
            assert!(log.iter().all(|e| e.imsi.is_empty() && e.tenant.is_none() && e.verdict == Verdict::Refused));
            // Warned about once, not per query.
            assert!(!fw.ambiguous.first_time(IpAddr::from(SIM)));
        }
    }

    #[tokio::test]
    async fn a_sim_over_its_rate_is_refused_and_logged_as_rate_limited() {
        let (fw, _) = setup(DnsConfig { queries_per_sec_per_sim: 5, ..DnsConfig::default() });
        seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
        let mut codes = Vec::new();
        for _ in 0..15 {
            let a = fw.answer(SIM.into(), &query("api.acme.example.", RecordType::A, None), false).await.unwrap();
            codes.push(rcode(&a));
        }
        assert_eq!(codes.iter().filter(|c| **c == wire::NOERROR).count(), 10, "burst is twice the rate");
        assert_eq!(fw.counters().rate_limited, 5);
        assert_eq!(fw.take_log(100).iter().filter(|e| e.verdict == Verdict::RateLimited).count(), 5);
    }

    #[tokio::test]
    async fn ipv4_mapped_sources_are_looked_up_as_ipv4() {
        let (fw, _) = setup(DnsConfig::default());
        seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let a = fw.answer(mapped, &query("api.acme.example.", RecordType::A, None), false).await.unwrap();
        assert_eq!(rcode(&a), wire::NOERROR);
        assert_eq!(fw.take_log(1)[0].source, IpAddr::from(SIM));
    }

    #[tokio::test]
    async fn without_upstream_an_allowed_miss_is_servfail() {
        let (fw, _) = setup(DnsConfig::default());
        let a = fw.answer(SIM.into(), &query("fw.ota.acme.example.", RecordType::A, None), false).await.unwrap();
        assert_eq!(rcode(&a), wire::SERVFAIL);
        assert_eq!(fw.counters().upstream_failures, 1);
        assert_eq!(fw.take_log(1)[0].verdict, Verdict::UpstreamFailed);
    }

    #[tokio::test]
    async fn malformed_input_is_counted_not_logged() {
        let (fw, _) = setup(DnsConfig::default());
        assert_eq!(fw.answer(SIM.into(), b"\x00\x01", false).await, None);
        let a = fw.answer(SIM.into(), b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ab", false).await.unwrap();
        assert_eq!(a[3] & 0x0f, wire::FORMERR as u8);
        assert_eq!(fw.counters().malformed, 2);
        assert_eq!(fw.counters().queries, 0);
        assert!(fw.take_log(10).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_get_an_answer_or_nothing_never_a_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (fw, _) = setup(DnsConfig { queries_per_sec_per_sim: 0, ..DnsConfig::default() });
            seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
            if let Some(a) = rt.block_on(fw.answer(SIM.into(), &bytes, false)) {
                proptest::prop_assert!(a.len() >= 12);
                proptest::prop_assert_eq!(&a[..2], &bytes[..2]);
            }
        }

        #[test]
        fn mutated_queries_never_panic(pos in 0usize..40, byte in proptest::num::u8::ANY) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (fw, _) = setup(DnsConfig { queries_per_sec_per_sim: 0, ..DnsConfig::default() });
            seed(&fw, "api.acme.example.", 300, [192, 0, 2, 7]);
            let mut q = query("api.acme.example.", RecordType::A, Some(1232));
            let at = pos % q.len();
            q[at] = byte;
            let _ = rt.block_on(fw.answer(SIM.into(), &q, false));
        }
    }
}
