//! Runs the tenant rules inside the server: `cmp::rules::RuleEngine` ticks every second, so rules act
//! within a second of what the HSS saw. The rules themselves, their evaluation and what they change
//! are `cmp`'s; this is only the clock.

use std::sync::Arc;
use std::time::Duration;

use cmp::rules::RuleEngine;
pub use cmp::rules::SignallingSource;

use crate::state::AppState;

/// Runs the engine until the process ends, judging registrations with an id above `after` (the
/// caller reads it before spawning, so "from now on" is exact).
pub async fn run_forever(st: AppState, source: Arc<dyn SignallingSource>, after: i64) {
    let mut engine = RuleEngine::starting_after(after);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match engine.tick(st.store(), st.0.hss.as_ref(), source.as_ref()).await {
            Ok(decisions) if !decisions.is_empty() => st.events_changed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rule engine"),
        }
    }
}
