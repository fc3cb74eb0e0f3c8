//! How the platform tells the HSS of its process that a SIM changed. What must reach the network
//! (CLR, IDR) is already queued in the store's outbox by the same transaction as the change, so it is
//! never lost; this call, made after the commit, lets the HSS drop its cached copy and send the
//! queued message at once instead of at its next outbox poll. A trait keeps the domain free of
//! Diameter.

use store::model::{Sim, SimStatus};

/// Hears of every committed SIM change.
pub trait HssNotifier: Send + Sync + 'static {
    /// `before` is the SIM as it was; it now has status `to` (or its bound IMEIs changed, with `to`
    /// its unchanged status).
    fn status_changed(&self, before: &Sim, to: SimStatus);
    /// `before` is the SIM as it was; its subscription data changed (profile, data barring).
    fn profile_changed(&self, before: &Sim);
    /// The traffic policy of `imsi` changed (its own allowlists or quarantine); the PCRF pushes the
    /// new rules. The HSS itself has nothing to do.
    fn policy_changed(&self, _imsi: &ids::Imsi) {}
    /// A service profile was created or replaced; the PCRF re-evaluates the sessions of its SIMs.
    fn profile_edited(&self, _name: &str) {}
}

/// For tools that run without an HSS in their process (the command line): the running server sends
/// what the outbox holds within its poll interval.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHss;

impl HssNotifier for NoHss {
    fn status_changed(&self, _: &Sim, _: SimStatus) {}
    fn profile_changed(&self, _: &Sim) {}
}
