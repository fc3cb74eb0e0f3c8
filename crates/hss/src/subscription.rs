//! Subscription-Data (TS 29.272 §7.3.2) built from a service profile and the SIM's priority class
//! (SUB-1 least privilege, NET-2 ARP by priority).

use diameter::avp;
use diameter::Avp;
use store::model::{Apn, PdnType, Priority, Rat, ServiceProfile, Sim};

use crate::config::SubscriptionConfig;

/// Access-Restriction-Data bits (TS 29.272 §7.3.31).
fn access_restriction(forbidden: &[Rat]) -> u32 {
    forbidden.iter().fold(0, |bits, r| {
        bits | match r {
            Rat::Utran => 1 << 0,
            Rat::Geran => 1 << 1,
            Rat::Eutran => 1 << 4,
            Rat::Nbiot => 1 << 6,
            Rat::Nr => 1 << 8,
        }
    })
}

/// ARP for a priority class: critical devices get the highest level and may pre-empt; the others
/// may be pre-empted (values per TS 29.212 §5.3.45–47: capability 0 = enabled, vulnerability 0 = enabled).
fn arp(priority: Priority, apn: &Apn) -> Avp {
    let (level, capability, vulnerability) = match priority {
        Priority::Critical => (1, 0u32, 1u32),
        Priority::Standard => (8, 1, 0),
        Priority::Low => (14, 1, 0),
    };
    Avp::new(
        avp::ALLOCATION_RETENTION_PRIORITY,
        vec![
            Avp::new(avp::PRIORITY_LEVEL, u32::from(apn.arp_priority.unwrap_or(level))),
            Avp::new(avp::PRE_EMPTION_CAPABILITY, capability),
            Avp::new(avp::PRE_EMPTION_VULNERABILITY, vulnerability),
        ],
    )
}

fn pdn_type(p: PdnType) -> u32 {
    match p {
        PdnType::Ipv4 => 0,
        PdnType::Ipv6 => 1,
        PdnType::Ipv4v6 => 2,
        PdnType::Ipv4OrIpv6 => 3,
        PdnType::NonIp => 4,
    }
}

fn ambr_avp(ul: u32, dl: u32) -> Avp {
    Avp::new(
        avp::AMBR,
        vec![Avp::new(avp::MAX_REQUESTED_BANDWIDTH_UL, ul), Avp::new(avp::MAX_REQUESTED_BANDWIDTH_DL, dl)],
    )
}

/// An APN's AMBR, when the profile gives both directions (it is optional per APN).
fn ambr(ul: Option<u32>, dl: Option<u32>) -> Option<Avp> {
    Some(ambr_avp(ul?, dl?))
}

/// MSISDN as TBCD (TS 29.329 §6.3.2): digits swapped in pairs, F filler.
pub fn tbcd(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    d.chunks(2).map(|c| (c.get(1).copied().unwrap_or(0xf) << 4) | c[0]).collect()
}

/// The Subscription-Data AVP for a SIM and its profile. With no profile the subscriber gets nothing but
/// its status (least privilege: no APN, no services). With a profile it always carries the UE-AMBR:
/// the profile's, or for a direction the profile leaves out, `defaults`'.
pub fn subscription_data(sim: &Sim, profile: Option<&ServiceProfile>, defaults: &SubscriptionConfig) -> Avp {
    let mut avps = Vec::new();
    if let Some(m) = &sim.msisdn {
        avps.push(Avp::new(avp::MSISDN, tbcd(m)));
    }
    if sim.data_barred {
        // TS 29.272 §7.3.29/§7.3.30: OPERATOR_DETERMINED_BARRING, with bit 0 (All Packet Oriented
        // Services Barred) of Operator-Determined-Barring.
        avps.push(Avp::new(avp::SUBSCRIBER_STATUS, 1u32));
        avps.push(Avp::new(avp::OPERATOR_DETERMINED_BARRING, 1u32));
    } else {
        avps.push(Avp::new(avp::SUBSCRIBER_STATUS, 0u32)); // SERVICE_GRANTED
    }
    let Some(p) = profile else {
        avps.push(Avp::new(avp::NETWORK_ACCESS_MODE, 2u32));
        avps.push(Avp::new(
            avp::ACCESS_RESTRICTION_DATA,
            access_restriction(&[Rat::Utran, Rat::Geran, Rat::Eutran, Rat::Nbiot, Rat::Nr]),
        ));
        return Avp::new(avp::SUBSCRIPTION_DATA, avps);
    };
    // 0 PACKET_AND_CIRCUIT, 2 ONLY_PACKET (data-only subscriptions get no CS services).
    avps.push(Avp::new(avp::NETWORK_ACCESS_MODE, if p.data_only() { 2u32 } else { 0 }));
    avps.push(Avp::new(avp::ACCESS_RESTRICTION_DATA, access_restriction(&p.forbidden_rats)));
    avps.push(ambr_avp(p.ambr_ul.unwrap_or(defaults.ambr_ul), p.ambr_dl.unwrap_or(defaults.ambr_dl)));
    if !p.apn.is_empty() {
        let mut profile_avps = vec![
            Avp::new(avp::CONTEXT_IDENTIFIER, 1u32),
            Avp::new(avp::ALL_APN_CONFIGURATIONS_INCLUDED_INDICATOR, 0u32),
        ];
        for (i, a) in p.apn.iter().enumerate() {
            let mut conf = vec![
                Avp::new(avp::CONTEXT_IDENTIFIER, i as u32 + 1),
                Avp::new(avp::PDN_TYPE, pdn_type(a.pdn_type)),
                Avp::new(avp::SERVICE_SELECTION, a.name.as_str()),
                Avp::new(
                    avp::EPS_SUBSCRIBED_QOS_PROFILE,
                    vec![Avp::new(avp::QOS_CLASS_IDENTIFIER, u32::from(a.qci)), arp(sim.priority, a)],
                ),
            ];
            conf.extend(ambr(a.ambr_ul, a.ambr_dl));
            profile_avps.push(Avp::new(avp::APN_CONFIGURATION, conf));
        }
        avps.push(Avp::new(avp::APN_CONFIGURATION_PROFILE, profile_avps));
    }
    Avp::new(avp::SUBSCRIPTION_DATA, avps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbcd_encoding() {
        assert_eq!(tbcd("4915"), vec![0x94, 0x51]);
        assert_eq!(tbcd("491"), vec![0x94, 0xf1]);
    }

    #[test]
    fn restrictions() {
        assert_eq!(access_restriction(&[Rat::Geran]), 2);
        assert_eq!(access_restriction(&[Rat::Utran, Rat::Geran]), 3);
    }
}
