//! The OTA engine inside `warden serve` (`[ota]`, docs/ota.md): built over the store and an SMS
//! transport, following the roaming firewall's risky networks for steering when the firewall runs,
//! handed to the platform API (`/ota/jobs`), and run on the edge stage until shutdown.

use std::sync::Arc;

use otajobs::settings::OtaSection;
use otajobs::Engine;
use sms::{BoxFuture, MtMessage, MtOutcome, MtSender};
use store::Store;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ServeError;

/// Refuses every message (retryable): stands in until `[sms]` gives a transport.
struct NoTransport;

impl MtSender for NoTransport {
    fn send<'a>(&'a self, _message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(async {
            MtOutcome::Failed { reason: "no SMS transport is configured ([sms] section)".into(), retry: true }
        })
    }
}

/// The SMS transport OTA commands go out on.
///
/// TODO(lead): once the `[sms]` section lands (SMPP client, SGd), return its `Arc<dyn MtSender>`
/// here, and register the engine as that transport's `sms::MoHandler` for PoRs (MO with TP-PID 0x7F
/// addressed to `[ota] originator`) and as its `sms::ReportSink` (see [`OtaPart::engine`]).
fn sms_transport(_config: &Config) -> Arc<dyn MtSender> {
    Arc::new(NoTransport)
}

/// The engine, built.
pub struct OtaPart {
    engine: Engine,
}

impl OtaPart {
    /// Builds the engine when `[ota]` is present; it follows `firewall`'s risky networks.
    pub fn build(
        config: &Config,
        section: &OtaSection,
        store: &Store,
        firewall: Option<Arc<firewall::Firewall>>,
    ) -> Result<OtaPart, ServeError> {
        let settings = section.check().map_err(crate::config::ConfigError::from)?;
        let engine = Engine::new(store.clone(), sms_transport(config), settings);
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
