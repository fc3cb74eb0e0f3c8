//! Prometheus metrics of the Diameter front end: requests per command, answers per command and
//! result code, and a latency histogram per command, served as text on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Histogram bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Renders more exposition text (another component's metrics, e.g. the roaming firewall's).
pub type Source = Arc<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
struct Inner {
    answers: BTreeMap<(String, u32), u64>,
    latency: BTreeMap<String, Histogram>,
    peers_open: i64,
    sources: Vec<Source>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("answers", &self.answers.len()).field("sources", &self.sources.len()).finish()
    }
}

/// The metrics registry.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    /// Records one answered request.
    pub fn answered(&self, command: &str, result_code: u32, took: Duration) {
        let mut m = self.0.lock().expect("metrics");
        *m.answers.entry((command.to_string(), result_code)).or_default() += 1;
        let h = m.latency.entry(command.to_string()).or_default();
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Adds text rendered by another component after the Diameter metrics.
    pub fn add_source(&self, source: Source) {
        self.0.lock().expect("metrics").sources.push(source);
    }

    /// A peer connection opened (+1) or closed (-1).
    pub fn peers(&self, delta: i64) {
        self.0.lock().expect("metrics").peers_open += delta;
    }

    /// The exposition text (Prometheus text format 0.0.4).
    pub fn render(&self) -> String {
        let m = self.0.lock().expect("metrics");
        let mut out = String::new();
        out.push_str("# HELP warden_diameter_answers_total Diameter answers sent, by command and result code.\n");
        out.push_str("# TYPE warden_diameter_answers_total counter\n");
        for ((cmd, code), n) in &m.answers {
            let _ = writeln!(out, "warden_diameter_answers_total{{command=\"{cmd}\",result_code=\"{code}\"}} {n}");
        }
        out.push_str("# HELP warden_diameter_request_seconds Time to answer a Diameter request.\n");
        out.push_str("# TYPE warden_diameter_request_seconds histogram\n");
        for (cmd, h) in &m.latency {
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "warden_diameter_request_seconds_bucket{{command=\"{cmd}\",le=\"{b}\"}} {c}");
            }
            let _ =
                writeln!(out, "warden_diameter_request_seconds_bucket{{command=\"{cmd}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "warden_diameter_request_seconds_sum{{command=\"{cmd}\"}} {}", h.sum);
            let _ = writeln!(out, "warden_diameter_request_seconds_count{{command=\"{cmd}\"}} {}", h.count);
        }
        out.push_str("# HELP warden_diameter_peers_open Diameter peer connections open.\n# TYPE warden_diameter_peers_open gauge\n");
        let _ = writeln!(out, "warden_diameter_peers_open {}", m.peers_open);
        for source in &m.sources {
            source(&mut out);
        }
        out
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped. Other paths get 404; requests larger
/// than 8 KiB or slower than 5 s are dropped.
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    match s.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let response = if head.starts_with("GET /metrics ") {
                let body = metrics.render();
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = s.write_all(response.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.answered("AIR", 2001, Duration::from_micros(300));
        m.answered("AIR", 5001, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("warden_diameter_answers_total{command=\"AIR\",result_code=\"2001\"} 1"));
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"0.0005\"} 1"));
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"0.005\"} 2"));
        assert!(text.contains("warden_diameter_request_seconds_count{command=\"AIR\"} 2"));
    }
}
