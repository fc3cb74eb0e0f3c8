//! The OTA engine inside `warden serve` (`[ota]`, docs/ota.md): built over the store and an SMS
//! transport, following the roaming firewall's risky networks for steering when the firewall runs,
//! handed to the platform API (`/ota/jobs`), and run on the edge stage until shutdown.

use std::sync::Arc;

use otajobs::settings::OtaSection;
use otajobs::Engine;
use sms::{BoxFuture, MtMessage, MtOutcome, MtSender};
use store::Store;
use tokio_util::sync::CancellationToken;

use crate::error::ServeError;

/// Refuses every message (retryable): stands in when `[sms]` configures no transport.
struct NoTransport;

impl MtSender for NoTransport {
    fn send<'a>(&'a self, _message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(async {
            MtOutcome::Failed { reason: "no SMS transport is configured ([sms] section)".into(), retry: true }
        })
    }
}

/// The engine, built.
pub struct OtaPart {
    engine: Engine,
}

impl OtaPart {
    /// Builds the engine when `[ota]` is present, sending over `transport` (`[sms]`: SGd, SMPP, or
    /// the refusing stand-in when neither is configured); it follows `firewall`'s risky networks.
    pub fn build(
        section: &OtaSection,
        store: &Store,
        transport: Option<Arc<dyn MtSender>>,
        firewall: Option<Arc<firewall::Firewall>>,
    ) -> Result<OtaPart, ServeError> {
        let settings = section.check().map_err(crate::config::ConfigError::from)?;
        let engine = Engine::new(store.clone(), transport.unwrap_or_else(|| Arc::new(NoTransport)), settings);
        if let Some(fw) = firewall {
            engine.set_risky_source(Arc::new(move || {
                fw.engine().risky_plmns(std::time::Instant::now()).iter().filter_map(|p| p.parse().ok()).collect()
            }));
        }
        Ok(OtaPart { engine })
    }

    /// The engine (for the API, and as the transport's MO handler and report sink).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs the engine's supervisor (resuming unfinished jobs) until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let supervisor = match self.engine.start().await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "the OTA engine did not start");
                return;
            }
        };
        stop.cancelled().await;
        supervisor.abort();
    }
}
