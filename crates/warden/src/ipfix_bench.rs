//! `warden bench ipfix`: an IPFIX load generator for the analytics collector of `warden serve`.
//!
//! It sends one template (the `V4_FLOW_FIELDS` of [`analytics::ipfix::encode`], again every 4096
//! datagrams) and then `--records` flow records, 24 to a datagram (about 1.4 KB, as exporters send
//! them), at `--rate` records per second (0: as fast as the socket takes them), from a UDP socket on
//! loopback — so the server must list `127.0.0.1` in `[analytics] exporters`. Flows go from
//! 10.0.0.0/16 to 198.51.100.0/24 on a few IoT ports.
//!
//! With `--metrics HOST:PORT` (the server's `[metrics] listen`) it also measures **end to end**: it
//! reads `warden_analytics_flows_total` before sending and polls it until every record arrived or it
//! stopped growing for a second, and reports the records the server decoded, those lost (the
//! kernel's receive buffer overflowed), and decoded records per second from the first send to the
//! last growth seen (the 50 ms polling blurs the end by that much).
//!
//! Point it only at your own test server.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use analytics::ipfix::encode::{v4_flow_record, MessageBuilder, V4_FLOW_FIELDS};
use analytics::{FiveTuple, Flow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Records per datagram.
const RECORDS_PER_DATAGRAM: u64 = 24;
/// The template ID used.
const TEMPLATE: u16 = 300;

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Records sent.
    pub sent: u64,
    /// Datagrams sent.
    pub datagrams: u64,
    /// Time spent sending.
    pub send_elapsed: Duration,
    /// Records the server decoded, with `--metrics`.
    pub decoded: Option<u64>,
    /// From the first send to the last growth of the server's counter, with `--metrics`.
    pub end_to_end: Option<Duration>,
}

impl Report {
    fn rate(n: u64, d: Duration) -> f64 {
        n as f64 / d.as_secs_f64().max(1e-9)
    }

    /// One line per figure.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "sent {} records in {} datagrams in {:.3} s: {:.0} records/s\n",
            self.sent,
            self.datagrams,
            self.send_elapsed.as_secs_f64(),
            Self::rate(self.sent, self.send_elapsed)
        );
        if let (Some(decoded), Some(e2e)) = (self.decoded, self.end_to_end) {
            s += &format!(
                "server decoded {decoded} records ({} lost) in {:.3} s end to end: {:.0} records/s\n",
                self.sent.saturating_sub(decoded),
                e2e.as_secs_f64(),
                Self::rate(decoded, e2e)
            );
        }
        s
    }

    /// The same as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sent": self.sent,
            "datagrams": self.datagrams,
            "send_ms": self.send_elapsed.as_millis() as u64,
            "send_records_per_sec": Self::rate(self.sent, self.send_elapsed).round(),
            "decoded": self.decoded,
            "end_to_end_ms": self.end_to_end.map(|d| d.as_millis() as u64),
            "end_to_end_records_per_sec": self.decoded.zip(self.end_to_end).map(|(n, d)| Self::rate(n, d).round()),
        })
    }
}

/// Datagram `d` of the run (records `d*24 ..`), at most `left` records.
fn datagram(d: u64, left: u64, exporter: IpAddr) -> Vec<u8> {
    let count = left.min(RECORDS_PER_DATAGRAM);
    let mut records = Vec::with_capacity(count as usize * 57);
    for r in 0..count {
        let n = d * RECORDS_PER_DATAGRAM + r;
        let flow = Flow {
            exporter,
            observation_domain: 1,
            tuple: FiveTuple {
                src: IpAddr::V4((0x0a00_0000 | (n & 0xffff) as u32).into()),
                dst: IpAddr::V4((0xc633_6400 | (n % 200) as u32).into()),
                sport: (n % 60000) as u16 + 1024,
                dport: [443, 53, 1883, 5683][(n % 4) as usize],
                proto: if n % 4 == 1 { 17 } else { 6 },
            },
            octets: n % 9000 + 60,
            packets: n % 30 + 1,
            start_ms: None,
            end_ms: None,
            tcp_flags: Some(0x1b),
        };
        // IPv4 by construction.
        let _ = v4_flow_record(&flow, &mut records);
    }
    let mut m = MessageBuilder::ipfix(1, unix_secs(), d as u32);
    if d.is_multiple_of(4096) {
        m.template(TEMPLATE, &V4_FLOW_FIELDS);
    }
    m.data(TEMPLATE, &records, count as u16);
    m.finish()
}

fn unix_secs() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

/// `warden_analytics_flows_total` from the metrics endpoint at `addr`.
async fn decoded(addr: SocketAddr) -> Result<u64, String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("metrics {addr}: {e}"))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: warden\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    let mut body = String::new();
    s.read_to_string(&mut body).await.map_err(|e| format!("metrics {addr}: {e}"))?;
    body.lines()
        .find_map(|l| l.strip_prefix(crate::analytics_run::FLOWS)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .ok_or_else(|| format!("metrics {addr}: no {} (is [analytics] configured?)", crate::analytics_run::FLOWS))
}

/// Runs the load.
pub async fn run(target: SocketAddr, records: u64, rate: u64, metrics: Option<SocketAddr>) -> Result<Report, String> {
    let before = match metrics {
        Some(m) => Some(decoded(m).await?),
        None => None,
    };
    let bind: SocketAddr = if target.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }.parse().map_err(|_| "bind")?;
    let socket = std::net::UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    socket.connect(target).map_err(|e| format!("{target}: {e}"))?;
    let exporter = bind.ip();
    let started = Instant::now();
    let send = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let mut sent = 0u64;
        let mut d = 0u64;
        while sent < records {
            if rate > 0 {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            let bytes = datagram(d, records - sent, exporter);
            match socket.send(&bytes) {
                Ok(_) => {}
                // The local buffer is full: try again.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("send to {target}: {e}")),
            }
            sent += (records - sent).min(RECORDS_PER_DATAGRAM);
            d += 1;
        }
        Ok(d)
    });
    let datagrams = send.await.map_err(|e| e.to_string())??;
    let send_elapsed = started.elapsed();
    let (mut decoded_n, mut end_to_end) = (None, None);
    if let (Some(m), Some(before)) = (metrics, before) {
        let (mut last, mut last_growth) = (before, started);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = decoded(m).await?;
            if now > last {
                (last, last_growth) = (now, Instant::now());
            }
            if now - before >= records || last_growth.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        decoded_n = Some(last - before);
        end_to_end = Some(last_growth - started);
    }
    Ok(Report { sent: records, datagrams, send_elapsed, decoded: decoded_n, end_to_end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics::ipfix::{Collector, CollectorConfig};

    #[test]
    fn the_generated_datagrams_decode_to_every_record() {
        let exporter: IpAddr = "127.0.0.1".parse().unwrap();
        let mut c = Collector::new(CollectorConfig::new([exporter]));
        let mut out = Vec::new();
        let total = 24 * 3 + 5;
        let mut left = total;
        for d in 0..4 {
            c.handle(exporter, &datagram(d, left, exporter), &mut out);
            left -= left.min(RECORDS_PER_DATAGRAM);
        }
        assert_eq!(out.len() as u64, total);
        assert_eq!(c.counters().dropped_total(), 0);
    }
}
