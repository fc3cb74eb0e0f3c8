//! Subscription-Data (TS 29.272 §7.3.2) built from a service profile and the SIM's priority class
//! (SUB-1 least privilege, NET-2 ARP by priority).

use diameter::Avp;
use store::model::{Apn, PdnType, Priority, Rat, ServiceProfile, Sim};

use crate::answer::{avp, group};

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
    group(
        "Allocation-Retention-Priority",
        vec![
            avp("Priority-Level", u32::from(apn.arp_priority.unwrap_or(level))),
            avp("Pre-emption-Capability", capability),
            avp("Pre-emption-Vulnerability", vulnerability),
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

fn ambr(ul: Option<u32>, dl: Option<u32>) -> Option<Avp> {
    match (ul, dl) {
        (Some(u), Some(d)) => {
            Some(group("AMBR", vec![avp("Max-Requested-Bandwidth-UL", u), avp("Max-Requested-Bandwidth-DL", d)]))
        }
        _ => None,
    }
}

/// MSISDN as TBCD (TS 29.329 §6.3.2): digits swapped in pairs, F filler.
pub fn tbcd(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    d.chunks(2).map(|c| (c.get(1).copied().unwrap_or(0xf) << 4) | c[0]).collect()
}

/// The Subscription-Data AVP for a SIM and its profile. With no profile the subscriber gets nothing but
/// its status (least privilege: no APN, no services).
pub fn subscription_data(sim: &Sim, profile: Option<&ServiceProfile>) -> Avp {
    let mut avps = Vec::new();
    if let Some(m) = &sim.msisdn {
        avps.push(avp("MSISDN", tbcd(m)));
    }
    if sim.data_barred {
        // TS 29.272 §7.3.29/§7.3.30: OPERATOR_DETERMINED_BARRING, with bit 0 (All Packet Oriented
        // Services Barred) of Operator-Determined-Barring.
        avps.push(avp("Subscriber-Status", 1u32));
        avps.push(avp("Operator-Determined-Barring", 1u32));
    } else {
        avps.push(avp("Subscriber-Status", 0u32)); // SERVICE_GRANTED
    }
    let Some(p) = profile else {
        avps.push(avp("Network-Access-Mode", 2u32));
        avps.push(avp(
            "Access-Restriction-Data",
            access_restriction(&[Rat::Utran, Rat::Geran, Rat::Eutran, Rat::Nbiot, Rat::Nr]),
        ));
        return group("Subscription-Data", avps);
    };
    // 0 PACKET_AND_CIRCUIT, 2 ONLY_PACKET (data-only subscriptions get no CS services).
    avps.push(avp("Network-Access-Mode", if p.data_only() { 2u32 } else { 0 }));
    avps.push(avp("Access-Restriction-Data", access_restriction(&p.forbidden_rats)));
    avps.extend(ambr(p.ambr_ul, p.ambr_dl));
    if !p.apn.is_empty() {
        let mut profile_avps =
            vec![avp("Context-Identifier", 1u32), avp("All-APN-Configurations-Included-Indicator", 0u32)];
        for (i, a) in p.apn.iter().enumerate() {
            let mut conf = vec![
                avp("Context-Identifier", i as u32 + 1),
                avp("PDN-Type", pdn_type(a.pdn_type)),
                avp("Service-Selection", a.name.as_str()),
                group(
                    "EPS-Subscribed-QoS-Profile",
                    vec![avp("QoS-Class-Identifier", u32::from(a.qci)), arp(sim.priority, a)],
                ),
            ];
            conf.extend(ambr(a.ambr_ul, a.ambr_dl));
            profile_avps.push(group("APN-Configuration", conf));
        }
        avps.push(group("APN-Configuration-Profile", profile_avps));
    }
    group("Subscription-Data", avps)
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
