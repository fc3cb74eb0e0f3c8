//! The analytics engine's detections, taken to the platform (issue 17): each one is stored,
//! announced and acted on by its tenant's policy through `cmp::analytics::record_detection`
//! (quarantine through the PCRF, suspension through the HSS; critical SIMs alert only). The engine's
//! thread hands detections to a bounded queue — full: dropped and counted, the engine never waits —
//! and a task records them in order. The default sink's log line and in-memory list are kept.

use std::sync::Arc;

use analytics::Detection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analytics_run::{DetectionSink, RecentDetections};

/// Detections waiting to be recorded, at most.
const QUEUE: usize = 4_096;
/// Detections the queue had no room for.
const DROPPED: &str = "warden_analytics_records_dropped_total";
/// Detections the platform could not record (an IMSI no longer provisioned, a store error).
const FAILED: &str = "warden_analytics_records_failed_total";

/// The sink of `warden serve`: the default one, then the queue to the recorder.
pub struct Recording {
    recent: Arc<RecentDetections>,
    queue: mpsc::Sender<Detection>,
}

impl DetectionSink for Recording {
    fn detected(&self, d: &Detection) {
        self.recent.detected(d);
        if self.queue.try_send(d.clone()).is_err() {
            metrics::counter!(DROPPED).increment(1);
        }
    }
}

/// What the platform records of a detection (`None` for an IMSI that does not parse).
pub fn finding(d: &Detection) -> Option<cmp::analytics::Finding> {
    Some(cmp::analytics::Finding {
        id: d.id.clone(),
        tenant: d.device.tenant.to_string(),
        imsi: d.device.imsi.parse().ok()?,
        kind: d.kind.as_str().to_string(),
        score: d.score.clamp(0.0, 1.0),
        evidence: serde_json::to_value(&d.evidence).unwrap_or_else(|_| serde_json::json!({})),
        at: i64::try_from(d.at / 1000).unwrap_or(i64::MAX),
    })
}

/// The sink to give the engine, and the recorder task: it records every detection queued until
/// the sink is dropped (the engine ended) or `stop` fires (then what is queued already is recorded).
pub fn connect(
    recent: Arc<RecentDetections>,
    store: store::Store,
    notifier: Arc<dyn cmp::HssNotifier>,
    stop: CancellationToken,
) -> (Arc<Recording>, impl std::future::Future<Output = ()> + Send + 'static) {
    metrics::describe_counter!(DROPPED, "Detections not recorded because the recording queue was full.");
    metrics::describe_counter!(FAILED, "Detections the platform could not record.");
    let (queue, mut rx) = mpsc::channel::<Detection>(QUEUE);
    let task = async move {
        loop {
            let d = tokio::select! {
                d = rx.recv() => d,
                () = stop.cancelled() => rx.try_recv().ok(),
            };
            let Some(d) = d else { return };
            record(&store, notifier.as_ref(), &d).await;
        }
    };
    (Arc::new(Recording { recent, queue }), task)
}

async fn record(store: &store::Store, notifier: &dyn cmp::HssNotifier, d: &Detection) {
    let Some(f) = finding(d) else {
        metrics::counter!(FAILED).increment(1);
        return;
    };
    match cmp::analytics::record_detection(store, notifier, &f).await {
        Ok(r) => tracing::debug!(id = %f.id, kind = %f.kind, action = ?r.action, "detection recorded"),
        Err(e) => {
            metrics::counter!(FAILED).increment(1);
            tracing::warn!(id = %f.id, kind = %f.kind, error = %e, "detection not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics::detect::detection_id;
    use analytics::{DetectionKind, DeviceKey, Evidence};

    /// A detection becomes the platform's finding: same id, kind name, tenant and IMSI; seconds; the
    /// evidence as a JSON object (what `record_detection` requires); a score kept within 0–1.
    #[test]
    fn a_detection_becomes_a_finding() {
        let device = DeviceKey::new("001010000000001", "acme", "meter");
        let d = Detection {
            id: detection_id(DetectionKind::ImeiChange, &device, 3_600_000),
            kind: DetectionKind::ImeiChange,
            device,
            window_start: 3_600_000,
            at: 3_601_999,
            score: 1.5,
            evidence: Evidence::ImeiChange { previous_tac: 35_000_000, tac: 86_000_000, changes: 1 },
        };
        let f = finding(&d).unwrap();
        assert_eq!((f.id.as_str(), f.kind.as_str(), f.tenant.as_str()), (d.id.as_str(), "imei_change", "acme"));
        assert_eq!(f.imsi.as_str(), "001010000000001");
        assert_eq!((f.at, f.score), (3_601, 1.0));
        assert!(f.evidence.is_object(), "{}", f.evidence);
        let mut bad = d.clone();
        bad.device = DeviceKey::new("not-an-imsi", "acme", "meter");
        assert!(finding(&bad).is_none());
    }
}
