//! Metrics through one facade, the [`metrics`] crate. With `[metrics] listen` set, `warden serve`
//! installs the Prometheus exporter's recorder ([`install`]) for the whole process; every component
//! records through the facade — the Diameter front end here ([`answered`], [`peer_opened`],
//! [`peer_closed`]), the roaming firewall in its own crate — and `GET /metrics`, served by axum
//! through the API's server ([`serve`]), answers the exporter's text (format 0.0.4). Without the endpoint no recorder is
//! installed and recording costs nothing.
//!
//! The Diameter front end's series: `warden_diameter_answers_total{command, result_code}`,
//! `warden_diameter_request_seconds{command}` (a histogram with the buckets in [`BUCKETS`]) and
//! `warden_diameter_peers_open`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio_util::sync::CancellationToken;

/// Diameter answers sent, by command and result code.
pub const ANSWERS: &str = "warden_diameter_answers_total";
/// Time to answer a Diameter request, by command.
pub const LATENCY: &str = "warden_diameter_request_seconds";
/// Diameter peer connections open.
pub const PEERS: &str = "warden_diameter_peers_open";

/// Histogram bucket upper bounds in seconds.
pub const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// Why the exporter could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The exporter refused its settings.
    #[error("metrics exporter: {0}")]
    Build(#[from] metrics_exporter_prometheus::BuildError),
    /// Another recorder is installed in this process already.
    #[error("metrics exporter: a metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

/// Sets a gauge to its current value just before a scrape (for values a component computes rather
/// than records, like the firewall's smoothed latency).
pub type Collector = Arc<dyn Fn() + Send + Sync>;

/// The installed exporter: renders what was recorded.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    collectors: Vec<Collector>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").field("collectors", &self.collectors.len()).finish()
    }
}

/// The Prometheus recorder with Warden's histogram buckets (a test can use it as a local recorder).
pub fn recorder() -> Result<PrometheusRecorder, MetricsError> {
    Ok(PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(LATENCY.into()), &BUCKETS)?.build_recorder())
}

/// Describes the Diameter front end's series and shows the peer gauge at 0.
pub fn describe() {
    metrics::describe_counter!(ANSWERS, "Diameter answers sent, by command and result code.");
    metrics::describe_histogram!(LATENCY, "Time to answer a Diameter request.");
    metrics::describe_gauge!(PEERS, "Diameter peer connections open.");
    metrics::gauge!(PEERS).set(0.0);
}

/// Installs the exporter as the process's recorder (once per process).
pub fn install() -> Result<Exporter, MetricsError> {
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::AlreadyInstalled)?;
    describe();
    Ok(Exporter { handle, collectors: Vec::new() })
}

impl Exporter {
    /// Runs `collector` before every scrape.
    pub fn add_collector(&mut self, collector: Collector) {
        self.collectors.push(collector);
    }

    /// The exposition text, after the collectors ran.
    pub fn render(&self) -> String {
        for c in &self.collectors {
            c();
        }
        self.handle.render()
    }

    /// Moves recorded histogram samples into their buckets (so memory stays bounded between scrapes).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Records one answered request.
pub fn answered(command: &'static str, result_code: u32, took: Duration) {
    metrics::counter!(ANSWERS, "command" => command, "result_code" => result_code.to_string()).increment(1);
    metrics::histogram!(LATENCY, "command" => command).record(took.as_secs_f64());
}

/// A peer connection opened (capabilities exchanged).
pub fn peer_opened() {
    metrics::gauge!(PEERS).increment(1.0);
}

/// An open peer connection closed.
pub fn peer_closed() {
    metrics::gauge!(PEERS).decrement(1.0);
}

/// `GET /metrics`: the exposition text. The connection is closed after each answer, as scrapers and
/// simple clients (reading to the end) expect of this endpoint. Other paths: 404.
pub fn router(exporter: Exporter) -> axum::Router {
    let exporter = Arc::new(exporter);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let exporter = exporter.clone();
            async move {
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4")),
                        (header::CONNECTION, HeaderValue::from_static("close")),
                    ],
                    exporter.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// Serves [`router`] on `listener` until `shutdown` is cancelled (then stops accepting and finishes
/// the scrapes in progress), with the API server's default limits (`api::server`: a 10 s header
/// timeout, 512 connections, 64 per source), so a stalled scraper cannot hold file descriptors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    exporter: Exporter,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    api::serve(listener, router(exporter), None, api::server::Limits::default(), shutdown.cancelled_owned()).await
}

/// Runs the exporter's upkeep every few seconds until `shutdown` is cancelled.
pub async fn upkeep(exporter: Exporter, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => exporter.upkeep(),
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_keeps_the_names_labels_and_buckets() {
        let recorder = recorder().unwrap();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            answered("AIR", 2001, Duration::from_micros(300));
            answered("AIR", 5001, Duration::from_millis(3));
            peer_opened();
            peer_opened();
            peer_closed();
        });
        let text = handle.render();
        assert!(text.contains("warden_diameter_answers_total{command=\"AIR\",result_code=\"2001\"} 1"), "{text}");
        assert!(text.contains("warden_diameter_answers_total{command=\"AIR\",result_code=\"5001\"} 1"), "{text}");
        assert!(text.contains("# TYPE warden_diameter_request_seconds histogram"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"0.0001\"} 0"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"0.005\"} 2"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"1\"} 2"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_bucket{command=\"AIR\",le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("warden_diameter_request_seconds_count{command=\"AIR\"} 2"), "{text}");
        assert!(text.contains("# HELP warden_diameter_peers_open Diameter peer connections open."), "{text}");
        assert!(text.contains("warden_diameter_peers_open 1\n"), "{text}");
    }

    #[tokio::test]
    async fn the_endpoint_answers_get_metrics_and_closes_the_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let recorder = recorder().unwrap();
        let exporter = Exporter { handle: recorder.handle(), collectors: vec![Arc::new(|| {})] };
        metrics::with_local_recorder(&recorder, || answered("ULR", 2001, Duration::from_millis(1)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, exporter, stop.clone()));
        let fetch = |request: &'static [u8]| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(request).await.unwrap();
            let mut text = String::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text)).await.unwrap().unwrap();
            text
        };
        let ok = fetch(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
        assert!(ok.contains("content-type: text/plain; version=0.0.4"), "{ok}");
        assert!(ok.contains("warden_diameter_answers_total{command=\"ULR\",result_code=\"2001\"} 1"), "{ok}");
        let missing = fetch(b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed after shutdown");
    }
}
