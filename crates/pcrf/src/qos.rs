//! The default bearer's QoS installed in CCA-I (TS 29.212 §4.5.5.x): QCI from the profile's APN that
//! matches Called-Station-Id (9 when none does), ARP by the SIM's priority class (as the HSS gives it
//! in Subscription-Data) and APN-AMBR from that APN, else the profile.

use diameter::{avp, Avp};
use store::model::{Apn, Priority, ServiceProfile};

/// QCI when the profile names no APN that matches (TS 23.203 table 6.1.7: 9, best effort).
pub const DEFAULT_QCI: u8 = 9;

/// The default bearer's QoS for one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BearerQos {
    /// QoS-Class-Identifier.
    pub qci: u8,
    /// ARP Priority-Level (1 highest, 15 lowest).
    pub arp_level: u8,
    /// Pre-emption-Capability: 0 ENABLED, 1 DISABLED (TS 29.212 §5.3.46).
    pub capability: u32,
    /// Pre-emption-Vulnerability: 0 ENABLED, 1 DISABLED (TS 29.212 §5.3.47).
    pub vulnerability: u32,
    /// APN-AMBR (uplink, downlink) in bit/s, when known for both directions.
    pub ambr: Option<(u32, u32)>,
}

/// The profile's APN that `called_station_id` names: the same name, or the name followed by the
/// operator identifier (`internet.mnc001.mcc001.gprs`), case-insensitively.
pub fn apn_of<'a>(profile: &'a ServiceProfile, called_station_id: &str) -> Option<&'a Apn> {
    let called = called_station_id.to_ascii_lowercase();
    profile.apn.iter().find(|a| {
        let name = a.name.to_ascii_lowercase();
        called == name || called.strip_prefix(&name).is_some_and(|rest| rest.starts_with(".mnc"))
    })
}

/// ARP level, pre-emption capability and vulnerability for a priority class: critical devices get the
/// highest level and may pre-empt but are not pre-empted; the others may be pre-empted.
pub fn arp_of(priority: Priority) -> (u8, u32, u32) {
    match priority {
        Priority::Critical => (1, 0, 1),
        Priority::Standard => (8, 1, 0),
        Priority::Low => (14, 1, 0),
    }
}

/// The bearer QoS of a session to `called_station_id` for a SIM of `priority` with `profile`.
pub fn bearer_qos(priority: Priority, profile: Option<&ServiceProfile>, called_station_id: &str) -> BearerQos {
    let (level, capability, vulnerability) = arp_of(priority);
    let apn = profile.and_then(|p| apn_of(p, called_station_id));
    let pick = |apn_v: Option<u32>, profile_v: Option<u32>| apn_v.or(profile_v);
    let ul = pick(apn.and_then(|a| a.ambr_ul), profile.and_then(|p| p.ambr_ul));
    let dl = pick(apn.and_then(|a| a.ambr_dl), profile.and_then(|p| p.ambr_dl));
    BearerQos {
        qci: apn.map_or(DEFAULT_QCI, |a| a.qci),
        arp_level: apn.and_then(|a| a.arp_priority).unwrap_or(level),
        capability,
        vulnerability,
        ambr: ul.zip(dl),
    }
}

impl BearerQos {
    /// Allocation-Retention-Priority.
    pub fn arp_avp(&self) -> Avp {
        Avp::new(
            avp::ALLOCATION_RETENTION_PRIORITY,
            vec![
                Avp::new(avp::PRIORITY_LEVEL, u32::from(self.arp_level)),
                Avp::new(avp::PRE_EMPTION_CAPABILITY, self.capability),
                Avp::new(avp::PRE_EMPTION_VULNERABILITY, self.vulnerability),
            ],
        )
    }

    /// Default-EPS-Bearer-QoS (TS 29.212 §5.3.48): QCI and ARP.
    pub fn default_eps_bearer_qos(&self) -> Avp {
        Avp::new(
            avp::DEFAULT_EPS_BEARER_QOS,
            vec![Avp::new(avp::QOS_CLASS_IDENTIFIER, u32::from(self.qci)), self.arp_avp()],
        )
    }

    /// QoS-Information with the APN-AMBR (TS 29.212 §4.5.5.7), when known.
    pub fn apn_ambr(&self) -> Option<Avp> {
        let (ul, dl) = self.ambr?;
        Some(Avp::new(
            avp::QOS_INFORMATION,
            vec![Avp::new(avp::APN_AGGREGATE_MAX_BITRATE_UL, ul), Avp::new(avp::APN_AGGREGATE_MAX_BITRATE_DL, dl)],
        ))
    }

    /// QoS-Information of a PCC rule bound to the default bearer: its QCI and ARP.
    pub fn rule_qos(&self) -> Avp {
        Avp::new(avp::QOS_INFORMATION, vec![Avp::new(avp::QOS_CLASS_IDENTIFIER, u32::from(self.qci)), self.arp_avp()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> ServiceProfile {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["name"] = "p".into();
        v["services"] = serde_json::json!(["data"]);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn qci_and_ambr_come_from_the_matching_apn_else_the_profile() {
        let p = profile(
            r#"{"ambr_ul": 1000, "ambr_dl": 2000,
                "apn": [{"name": "meters.example", "qci": 7, "ambr_ul": 64000, "ambr_dl": 128000},
                        {"name": "internet", "qci": 8, "arp_priority": 3}]}"#,
        );
        let q = bearer_qos(Priority::Standard, Some(&p), "METERS.example");
        assert_eq!((q.qci, q.arp_level, q.ambr), (7, 8, Some((64000, 128000))));
        let q = bearer_qos(Priority::Low, Some(&p), "internet.mnc001.mcc001.gprs");
        assert_eq!((q.qci, q.arp_level, q.ambr), (8, 3, Some((1000, 2000))));
        let q = bearer_qos(Priority::Critical, Some(&p), "internetx");
        assert_eq!((q.qci, q.arp_level, q.capability, q.vulnerability), (DEFAULT_QCI, 1, 0, 1));
        let q = bearer_qos(Priority::Low, None, "x");
        assert_eq!((q.qci, q.arp_level, q.capability, q.vulnerability, q.ambr), (9, 14, 1, 0, None));
        assert!(q.apn_ambr().is_none());
    }
}
