//! A tiny authoritative server for one zone, over UDP and TCP on loopback: the upstream in the
//! firewall's tests, its benchmark and `warden bench`. It answers from a fixed record set (CNAMEs
//! followed inside the zone, NXDOMAIN/NODATA with the zone's SOA), sets TC when an answer exceeds
//! the asker's UDP size, counts the questions it gets, and can be told to wait or to stay silent.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// A zone with fixed records and its server switches.
#[derive(Debug)]
pub struct Authority {
    zone: Name,
    soa: Record,
    records: HashMap<String, Vec<Record>>,
    delay: Duration,
    silent: AtomicBool,
    queries: AtomicU64,
    tcp_queries: AtomicU64,
}

fn key(name: &Name) -> String {
    name.to_lowercase().to_ascii()
}

impl Authority {
    /// An empty zone `zone` (e.g. `acme.example.`) whose SOA has TTL and MINIMUM `negative_ttl`.
    pub fn new(zone: &str, negative_ttl: u32) -> Self {
        let zone = Name::from_ascii(zone).unwrap_or_else(|_| Name::root());
        let soa = SOA::new(
            Name::from_ascii("ns").and_then(|n| n.append_domain(&zone)).unwrap_or_else(|_| zone.clone()),
            Name::from_ascii("hostmaster").and_then(|n| n.append_domain(&zone)).unwrap_or_else(|_| zone.clone()),
            1,
            3600,
            600,
            86400,
            negative_ttl,
        );
        let soa = Record::from_rdata(zone.clone(), negative_ttl, RData::SOA(soa));
        Authority {
            zone,
            soa,
            records: HashMap::new(),
            delay: Duration::ZERO,
            silent: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
        }
    }

    /// Adds a record (`name` absolute, e.g. `api.acme.example.`). Unparsable names are ignored.
    pub fn record(mut self, name: &str, ttl: u32, data: RData) -> Self {
        if let Ok(n) = Name::from_ascii(name) {
            self.records.entry(key(&n)).or_default().push(Record::from_rdata(n, ttl, data));
        }
        self
    }

    /// Adds an A or AAAA record.
    pub fn addr(self, name: &str, ttl: u32, ip: std::net::IpAddr) -> Self {
        let data = match ip {
            std::net::IpAddr::V4(v4) => RData::A(v4.into()),
            std::net::IpAddr::V6(v6) => RData::AAAA(v6.into()),
        };
        self.record(name, ttl, data)
    }

    /// Adds a CNAME from `name` to `target`.
    pub fn cname(self, name: &str, ttl: u32, target: &str) -> Self {
        match Name::from_ascii(target) {
            Ok(t) => self.record(name, ttl, RData::CNAME(CNAME(t))),
            Err(_) => self,
        }
    }

    /// Waits `delay` before every answer.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// While `silent`, questions are counted but not answered.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }

    /// Questions received (UDP and TCP).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Questions received over TCP.
    pub fn tcp_queries(&self) -> u64 {
        self.tcp_queries.load(Ordering::Relaxed)
    }

    /// The response to `query` (None for unreadable input or when silent).
    pub fn answer(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let req = Message::from_vec(query).ok()?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        if tcp {
            self.tcp_queries.fetch_add(1, Ordering::Relaxed);
        }
        if self.silent.load(Ordering::Relaxed) {
            return None;
        }
        let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        let Some(q) = req.queries.first().cloned() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp.to_vec().ok();
        };
        resp.add_query(q.clone());
        if !self.zone.zone_of(&q.name) {
            resp.metadata.response_code = ResponseCode::Refused;
            return resp.to_vec().ok();
        }
        let mut name = q.name.clone();
        for _ in 0..8 {
            let Some(rrs) = self.records.get(&key(&name)) else { break };
            let cname = rrs.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if q.query_type != RecordType::CNAME => Some((r.clone(), c.0.clone())),
                _ => None,
            });
            if let Some((r, target)) = cname {
                resp.add_answer(r);
                if !self.zone.zone_of(&target) {
                    break;
                }
                name = target;
                continue;
            }
            resp.add_answers(rrs.iter().filter(|r| r.record_type() == q.query_type).cloned());
            break;
        }
        let has_final = resp.answers.iter().any(|r| r.record_type() == q.query_type);
        if !has_final && !self.records.contains_key(&key(&name)) {
            resp.metadata.response_code = ResponseCode::NXDomain;
        }
        if !has_final {
            resp.add_authority(self.soa.clone());
        }
        let limit =
            if tcp { u16::MAX as usize } else { req.edns.as_ref().map_or(512, |e| e.max_payload().max(512) as usize) };
        if let Some(e) = &req.edns {
            let mut edns = hickory_proto::op::Edns::new();
            edns.set_max_payload(e.max_payload().max(512));
            resp.set_edns(edns);
        }
        let bytes = resp.to_vec().ok()?;
        if bytes.len() <= limit {
            return Some(bytes);
        }
        resp.answers.clear();
        resp.authorities.clear();
        resp.metadata.truncation = true;
        resp.to_vec().ok()
    }

    /// Serves the zone on `addr` (UDP and TCP, port 0: a free port) until `shutdown`; returns the
    /// address bound.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr, shutdown: CancellationToken) -> io::Result<SocketAddr> {
        let (udp, tcp) = bind_pair(addr).await?;
        let addr = udp.local_addr()?;
        let (me, stop) = (self.clone(), shutdown.clone());
        tokio::spawn(async move {
            let udp = Arc::new(udp);
            let mut buf = vec![0u8; 65535];
            loop {
                let (n, peer) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = udp.recv_from(&mut buf) => match r { Ok(x) => x, Err(_) => continue },
                };
                let (me, udp, query) = (me.clone(), udp.clone(), buf[..n].to_vec());
                tokio::spawn(async move {
                    if !me.delay.is_zero() {
                        tokio::time::sleep(me.delay).await;
                    }
                    if let Some(a) = me.answer(&query, false) {
                        let _ = udp.send_to(&a, peer).await;
                    }
                });
            }
        });
        tokio::spawn(async move {
            loop {
                let (mut s, _) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = tcp.accept() => match r { Ok(x) => x, Err(_) => continue },
                };
                let me = self.clone();
                tokio::spawn(async move {
                    while let Ok(len) = s.read_u16().await {
                        let mut q = vec![0u8; len as usize];
                        if s.read_exact(&mut q).await.is_err() {
                            return;
                        }
                        if !me.delay.is_zero() {
                            tokio::time::sleep(me.delay).await;
                        }
                        let Some(a) = me.answer(&q, true) else { continue };
                        let mut framed = (a.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&a);
                        if s.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(addr)
    }
}

/// A UDP socket and a TCP listener on the same address; with port 0 the free UDP port the kernel
/// picks may be taken for TCP, so a few ports are tried.
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..8 {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}
