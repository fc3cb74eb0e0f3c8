//! The one event vocabulary of the platform: every event in the feed (`/events`, SSE, webhooks, `sim
//! show`) has a kind from [`EventKind`], written `<subject>.<what>` in lower case. docs/events.md
//! lists them with their meaning; a test keeps that page and this enum in step.

use std::borrow::Cow;

/// Kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A SIM's lifecycle status changed (`inventory → active`, …).
    SimStatusChanged,
    /// A SIM got another service profile.
    SimProfileChanged,
    /// Packet data of a SIM was barred (Operator-Determined-Barring).
    SimDataBarred,
    /// Packet data of a SIM was unbarred.
    SimDataUnbarred,
    /// An operator admin lifted the termination protection of a critical SIM.
    SimProtectionLifted,
    /// An operator admin restored it.
    SimProtectionRestored,
    /// An IMEI lock bound a device to a SIM.
    ImeiBound,
    /// A SIM registered from a device its IMEI lock does not allow.
    ImeiLockViolation,
    /// The MME reported new terminal information (NOR).
    ImeiReported,
    /// A critical device is on the EIR's black list; the EIR answered greylisted (DM-5).
    EirCriticalBlacklisted,
    /// A resynchronisation request with a MAC-S that does not verify (AUTS).
    AuthAutsRejected,
    /// The HSS refused a registration in a visited network the profile forbids.
    RoamingRejected,
    /// The roaming firewall blocked or flagged a request about the subscriber; the suffix is the
    /// firewall's rule id (docs/firewall.md), e.g. `firewall.c2-visited-plmn`.
    Firewall(&'static str),
    /// The GTP-C firewall refused, dropped or flagged a message (about the subscriber, or a summary
    /// per partner without one); the suffix is its rule id (docs/gtp.md), e.g. `gtp.imsi-rate`.
    Gtp(&'static str),
    /// A tenant rule fired.
    RuleHit,
    /// A rule fired on a critical SIM: it alerts instead of acting (SUB-4).
    RuleAlertCritical,
    /// A CLR or IDR the HSS had to send was given up: no instance reached the serving node in time.
    NotificationExpired,
    /// Someone asked to terminate or unprotect a critical SIM; a second person must approve.
    ApprovalRequested,
    /// A second person approved such a request; the change is made.
    ApprovalApproved,
    /// A second person rejected such a request.
    ApprovalRejected,
    /// A SIM's own allowlists changed (SUB-2).
    SimPolicyChanged,
    /// A SIM was quarantined: only its tenant's management platform stays reachable (AV-1).
    SimQuarantined,
    /// A SIM's quarantine was lifted.
    SimQuarantineLifted,
    /// The DNS firewall refused a name outside the SIM's allowlist.
    DnsRefused,
    /// The PCRF released a SIM's data session (ASR): the SIM is no longer active.
    GxSessionReleased,
    /// Security analytics found something new about a SIM, or its score rose a band (AV-1).
    AnalyticsDetection,
    /// A detection's policy action is an alert (or, on a critical SIM, an alert instead of acting).
    AnalyticsAlert,
    /// The analytics policy acted on a detection: quarantine, suspension or a firmware update asked.
    AnalyticsAction,
    /// A person undid what the analytics policy did.
    AnalyticsActionUndone,
    /// A person acknowledged or resolved a detection.
    AnalyticsStatusChanged,
    /// A SIM's own fixed dialling list changed (SUB-3).
    SimFixedDiallingChanged,
    /// An MO short message was refused: its destination is not on the SIM's fixed dialling list.
    SmsMoBarred,
    /// An MO short message was refused: it could not be read (a malformed SMS-SUBMIT).
    SmsMoRefused,
    /// A firmware campaign was created and started (DM-2).
    FirmwareCampaignStarted,
    /// A person paused a firmware campaign, or it paused itself past its failure threshold.
    FirmwareCampaignPaused,
    /// A person resumed a paused firmware campaign.
    FirmwareCampaignResumed,
    /// A person cancelled a firmware campaign.
    FirmwareCampaignCancelled,
    /// Every device of a firmware campaign finished (succeeded, failed or skipped).
    FirmwareCampaignFinished,
    /// A device was offered a firmware image (LwM2M object 5).
    DeviceFirmwareOffered,
    /// A device installed a firmware image and reports its version.
    DeviceFirmwareUpdated,
    /// A device's firmware update failed (the reason is in the detail).
    DeviceFirmwareFailed,
    /// An LwM2M device registered (`warden serve` with `[devices]`, docs/devices.md).
    DeviceRegistered,
    /// An LwM2M device de-registered.
    DeviceDeregistered,
    /// An LwM2M device's lifetime ran out without an update.
    DeviceExpired,
    /// The IMEI a device reports is not the one the HSS saw in the SIM's last Update-Location.
    DeviceImeiMismatch,
    /// The LwM2M bootstrap server provisioned a device (docs/devices.md#bootstrap-server).
    DeviceBootstrapped,
    /// A bootstrap was refused or failed; nothing was stored.
    DeviceBootstrapFailed,
}

impl EventKind {
    /// Every kind with a fixed name (the firewalls' kinds are `firewall.<rule id>` and `gtp.<rule id>`).
    pub const FIXED: [EventKind; 45] = [
        EventKind::SimStatusChanged,
        EventKind::SimProfileChanged,
        EventKind::SimDataBarred,
        EventKind::SimDataUnbarred,
        EventKind::SimProtectionLifted,
        EventKind::SimProtectionRestored,
        EventKind::ImeiBound,
        EventKind::ImeiLockViolation,
        EventKind::ImeiReported,
        EventKind::EirCriticalBlacklisted,
        EventKind::AuthAutsRejected,
        EventKind::RoamingRejected,
        EventKind::RuleHit,
        EventKind::RuleAlertCritical,
        EventKind::NotificationExpired,
        EventKind::ApprovalRequested,
        EventKind::ApprovalApproved,
        EventKind::ApprovalRejected,
        EventKind::SimPolicyChanged,
        EventKind::SimQuarantined,
        EventKind::SimQuarantineLifted,
        EventKind::DnsRefused,
        EventKind::GxSessionReleased,
        EventKind::AnalyticsDetection,
        EventKind::AnalyticsAlert,
        EventKind::AnalyticsAction,
        EventKind::AnalyticsActionUndone,
        EventKind::AnalyticsStatusChanged,
        EventKind::SimFixedDiallingChanged,
        EventKind::SmsMoBarred,
        EventKind::SmsMoRefused,
        EventKind::FirmwareCampaignStarted,
        EventKind::FirmwareCampaignPaused,
        EventKind::FirmwareCampaignResumed,
        EventKind::FirmwareCampaignCancelled,
        EventKind::FirmwareCampaignFinished,
        EventKind::DeviceFirmwareOffered,
        EventKind::DeviceFirmwareUpdated,
        EventKind::DeviceFirmwareFailed,
        EventKind::DeviceRegistered,
        EventKind::DeviceDeregistered,
        EventKind::DeviceExpired,
        EventKind::DeviceImeiMismatch,
        EventKind::DeviceBootstrapped,
        EventKind::DeviceBootstrapFailed,
    ];

    /// The name stored and shown.
    pub fn name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            EventKind::SimStatusChanged => "sim.status_changed",
            EventKind::SimProfileChanged => "sim.profile_changed",
            EventKind::SimDataBarred => "sim.data_barred",
            EventKind::SimDataUnbarred => "sim.data_unbarred",
            EventKind::SimProtectionLifted => "sim.protection_lifted",
            EventKind::SimProtectionRestored => "sim.protection_restored",
            EventKind::ImeiBound => "imei.bound",
            EventKind::ImeiLockViolation => "imei.lock_violation",
            EventKind::ImeiReported => "imei.reported",
            EventKind::EirCriticalBlacklisted => "eir.critical_blacklisted",
            EventKind::AuthAutsRejected => "auth.auts_rejected",
            EventKind::RoamingRejected => "roaming.rejected",
            EventKind::Firewall(rule) => return Cow::Owned(format!("firewall.{rule}")),
            EventKind::Gtp(rule) => return Cow::Owned(format!("gtp.{rule}")),
            EventKind::RuleHit => "rule.hit",
            EventKind::RuleAlertCritical => "rule.alert_critical",
            EventKind::NotificationExpired => "hss.notification_expired",
            EventKind::ApprovalRequested => "approval.requested",
            EventKind::ApprovalApproved => "approval.approved",
            EventKind::ApprovalRejected => "approval.rejected",
            EventKind::SimPolicyChanged => "sim.policy_changed",
            EventKind::SimQuarantined => "sim.quarantined",
            EventKind::SimQuarantineLifted => "sim.quarantine_lifted",
            EventKind::DnsRefused => "dns.refused",
            EventKind::GxSessionReleased => "gx.session_released",
            EventKind::AnalyticsDetection => "analytics.detection",
            EventKind::AnalyticsAlert => "analytics.alert",
            EventKind::AnalyticsAction => "analytics.action",
            EventKind::AnalyticsActionUndone => "analytics.action_undone",
            EventKind::AnalyticsStatusChanged => "analytics.status_changed",
            EventKind::SimFixedDiallingChanged => "sim.fixed_dialling_changed",
            EventKind::SmsMoBarred => "sms.mo_barred",
            EventKind::SmsMoRefused => "sms.mo_refused",
            EventKind::FirmwareCampaignStarted => "firmware.campaign_started",
            EventKind::FirmwareCampaignPaused => "firmware.campaign_paused",
            EventKind::FirmwareCampaignResumed => "firmware.campaign_resumed",
            EventKind::FirmwareCampaignCancelled => "firmware.campaign_cancelled",
            EventKind::FirmwareCampaignFinished => "firmware.campaign_finished",
            EventKind::DeviceFirmwareOffered => "device.firmware_offered",
            EventKind::DeviceFirmwareUpdated => "device.firmware_updated",
            EventKind::DeviceFirmwareFailed => "device.firmware_failed",
            EventKind::DeviceRegistered => "device.registered",
            EventKind::DeviceDeregistered => "device.deregistered",
            EventKind::DeviceExpired => "device.expired",
            EventKind::DeviceImeiMismatch => "device.imei_mismatch",
            EventKind::DeviceBootstrapped => "device.bootstrapped",
            EventKind::DeviceBootstrapFailed => "device.bootstrap_failed",
        })
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_scheme() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::FIXED {
            let name = k.name();
            let (subject, what) = name.split_once('.').expect("subject.what");
            assert!(!subject.is_empty() && !what.contains('.'), "{name}");
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'), "{name}");
            assert!(seen.insert(name.to_string()), "{name} twice");
        }
        assert_eq!(EventKind::Firewall("c2-visited-plmn").to_string(), "firewall.c2-visited-plmn");
        assert_eq!(EventKind::Gtp("imsi-rate").to_string(), "gtp.imsi-rate");
    }

    #[test]
    fn the_documentation_lists_every_kind() {
        let doc = include_str!("../../../docs/events.md");
        for k in EventKind::FIXED {
            assert!(doc.contains(&format!("`{}`", k.name())), "docs/events.md does not describe {k}");
        }
        assert!(doc.contains("`firewall.<rule>`"));
    }
}
