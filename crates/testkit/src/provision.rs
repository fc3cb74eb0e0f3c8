//! Provisioning for tests through `cmp`, as the command line does it (an operator admin, audited):
//! tests set up what they need through the same path as production.

use cmp::Actor;
use store::model::{AlgorithmSpec, EirEntry, NewSim, Priority, ServiceProfile, SimStatus};
use store::Store;

use crate::keys;

/// A profile from JSON (panics on a bad one: test data).
pub fn profile(json: serde_json::Value) -> ServiceProfile {
    serde_json::from_value(json).expect("profile JSON")
}

/// An active MILENAGE SIM with the TS 35.208 keys, MSISDN 491701234567 and AMF 0000.
pub fn sim(imsi: &str, profile: Option<&str>, priority: Priority, tenant: &str) -> NewSim {
    NewSim {
        imsi: imsi.parse().expect("IMSI"),
        iccid: None,
        msisdn: Some("491701234567".parse().expect("MSISDN")),
        eid: None,
        k: keys::k(),
        opc: keys::opc(),
        amf: [0x00, 0x00],
        algorithm: AlgorithmSpec::Milenage,
        profile: profile.map(Into::into),
        priority,
        tenant: tenant.into(),
        status: SimStatus::Active,
    }
}

/// Stores profiles.
pub async fn profiles(store: &Store, profiles: &[ServiceProfile]) {
    cmp::catalogue::put_profiles(store, &Actor::cli(), profiles, "test").await.expect("profiles");
}

/// Imports SIMs.
pub async fn sims(store: &Store, sims: &[NewSim]) {
    cmp::sims::import(store, &Actor::cli(), sims, "test", &|_| {}).await.expect("SIMs");
}

/// Stores EIR entries.
pub async fn eir(store: &Store, entries: &[EirEntry]) {
    cmp::catalogue::import_eir(store, &Actor::cli(), entries, "test").await.expect("EIR entries");
}
