//! How the platform tells the HSS that a SIM changed: the HSS drops its cached copy and sends CLR or
//! IDR to the serving MME. Implemented by `warden serve` over the running HSS; a trait keeps the
//! domain free of Diameter.

use store::model::{Sim, SimStatus};

/// Receives every committed SIM change.
pub trait HssNotifier: Send + Sync + 'static {
    /// `before` is the SIM as it was; it now has status `to`.
    fn status_changed(&self, before: &Sim, to: SimStatus);
    /// `before` is the SIM as it was; its profile changed.
    fn profile_changed(&self, before: &Sim);
}

/// For tools that run without an HSS in the process (changes then reach a server via the outbox).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHss;

impl HssNotifier for NoHss {
    fn status_changed(&self, _: &Sim, _: SimStatus) {}
    fn profile_changed(&self, _: &Sim) {}
}
