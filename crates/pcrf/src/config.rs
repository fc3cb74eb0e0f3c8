//! The `[pcrf]` configuration section; every field has a default, written here once.

use std::net::IpAddr;

use serde::Deserialize;

/// How the PCRF releases a session (a SIM that is no longer active, or a PCEF that did not take a
/// rule change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// RAR with Session-Release-Cause UE_SUBSCRIPTION_REASON (TS 29.212 §4.5.? "PCRF-initiated
    /// IP-CAN session termination": the PCEF then ends the session with CCR-T). The default.
    #[default]
    Rar,
    /// ASR (RFC 6733 §8.5), for PCEFs that expect the base protocol's Abort-Session.
    Asr,
}

/// The `[pcrf]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PcrfConfig {
    /// The DNS resolvers (the DNS firewall) devices may reach; empty: DNS to any address.
    pub dns_servers: Vec<IpAddr>,
    /// CCR-Initial per second accepted from one PCEF host (burst: twice as many); more get
    /// DIAMETER_TOO_BUSY. CCR-Update/Termination are never limited.
    pub ccr_initial_per_sec: u32,
    /// Octets granted per usage-monitoring report (Granted-Service-Unit CC-Total-Octets).
    pub usage_quota_octets: u64,
    /// How long one RAR (or release) attempt waits for its answer, in milliseconds.
    pub rar_timeout_ms: u64,
    /// Attempts of a RAR before the PCRF gives up and releases the session.
    pub rar_attempts: u32,
    /// A release (or a critical SIM's rule change) the PCEF did not confirm stays pending and is
    /// tried again after this many milliseconds, doubling each time up to `retry_max_ms`; at once
    /// when the PCEF connects again.
    pub retry_min_ms: u64,
    /// The longest wait between two retries, in milliseconds.
    pub retry_max_ms: u64,
    /// When a rule change cannot reach the PCEF, a critical SIM keeps its last rules instead of
    /// losing its session (counted and logged). Off by default: a SIM never keeps more access than
    /// its policy.
    pub critical_fail_open: bool,
    /// Most DNS-resolved host rules per session (the oldest to expire give way).
    pub max_dynamic_per_session: usize,
    /// How sessions are released.
    pub release: Release,
    /// Sessions one SIM may have at once (one per PDN connection; TS 23.401 lets a UE have several,
    /// a handful in practice). A CCR-Initial beyond it is refused; the SIM's sessions stay.
    pub max_sessions_per_imsi: usize,
    /// Sessions one PCEF host may have at once: bounds what a PCEF that never ends its sessions
    /// (lost CCR-Ts, a Session-Id per attach) can make this process hold. A CCR-Initial beyond it is
    /// refused; the host's sessions stay.
    pub max_sessions_per_pcef: usize,
    /// Minutes an ended address binding (SIM, address, from, until) is kept, so that a flow reported
    /// late is attributed to the SIM that held the address when the flow started (0: none kept).
    pub binding_history_minutes: u64,
    /// Ended address bindings kept at most (the oldest give way).
    pub binding_history_entries: usize,
}

impl Default for PcrfConfig {
    fn default() -> Self {
        Self {
            dns_servers: Vec::new(),
            ccr_initial_per_sec: 5000,
            usage_quota_octets: 10_000_000,
            rar_timeout_ms: 2000,
            rar_attempts: 3,
            retry_min_ms: 5000,
            retry_max_ms: 60_000,
            critical_fail_open: false,
            max_dynamic_per_session: 64,
            release: Release::Rar,
            max_sessions_per_imsi: 8,
            max_sessions_per_pcef: 1_000_000,
            binding_history_minutes: 60,
            binding_history_entries: 100_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let c: PcrfConfig = toml::from_str("").unwrap();
        assert_eq!(c, PcrfConfig::default());
        assert_eq!((c.ccr_initial_per_sec, c.rar_attempts, c.max_dynamic_per_session), (5000, 3, 64));
        let c: PcrfConfig =
            toml::from_str("dns_servers = [\"10.0.0.53\"]\ncritical_fail_open = true\nrelease = \"asr\"").unwrap();
        assert_eq!((c.dns_servers.len(), c.critical_fail_open, c.release), (1, true, Release::Asr));
        assert!(toml::from_str::<PcrfConfig>("dns_server = []").is_err());
        assert_eq!((c.max_sessions_per_imsi, c.max_sessions_per_pcef), (8, 1_000_000));
        let c: PcrfConfig = toml::from_str("max_sessions_per_imsi = 2\nmax_sessions_per_pcef = 10").unwrap();
        assert_eq!((c.max_sessions_per_imsi, c.max_sessions_per_pcef), (2, 10));
    }
}
