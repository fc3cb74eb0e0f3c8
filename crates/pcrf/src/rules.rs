//! PCC rules from a SIM's effective policy ([`compile`]) and the difference between two rule sets
//! ([`diff`]), so that a policy change is pushed as Charging-Rule-Remove of the names that went and
//! Charging-Rule-Install of the new ones.
//!
//! | rule | name | precedence | Flow-Descriptions (Flow-Direction BIDIRECTIONAL) | Flow-Status |
//! |---|---|---|---|---|
//! | DNS | `warden-dns-<hash>` | 100 | `permit out 17 from <server>/32 53 to any`, same with 6 (or `from any 53` with no server configured) | ENABLED |
//! | each allowlisted prefix | `warden-allow-<hash>` | 1000 | `permit out <proto or ip> from <prefix> [<ports>] to any` | ENABLED |
//! | each DNS-resolved address | `warden-host-<hash>` | 2000 | `permit out ip from <addr>/32 to any` | ENABLED |
//! | open profile | `warden-open-<hash>` | 3000 | `permit out ip from any to any` | ENABLED |
//! | deny-all | `warden-deny-<hash>` | 65000 | `permit out ip from any to any` | DISABLED |
//!
//! The hash is a 64-bit FNV-1a of the rule's content (precedence, status, filters, QoS), so a name
//! changes exactly when what it enforces changes. Rules of one kind share their precedence: they all
//! permit, so their order among themselves does not matter, and adding one entry installs one rule.

use std::fmt::Write;
use std::net::IpAddr;

use cmp::traffic::{Access, EffectivePolicy};
use diameter::{avp, Avp};

use crate::ipfilter::{Direction, Endpoint, FlowFilter};
use crate::qos::BearerQos;

/// Precedence of the DNS rule.
pub const PRECEDENCE_DNS: u32 = 100;
/// Precedence of the allowlisted prefixes' rules.
pub const PRECEDENCE_ALLOW: u32 = 1000;
/// Precedence of the DNS-resolved addresses' rules.
pub const PRECEDENCE_HOST: u32 = 2000;
/// Precedence of the allow-all rule of an open profile.
pub const PRECEDENCE_OPEN: u32 = 3000;
/// Precedence of the deny-all rule (the lowest of Warden's).
pub const PRECEDENCE_DENY: u32 = 65000;

/// Flow-Status (TS 29.212 §5.3.? / TS 29.214 §5.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowStatus {
    /// ENABLED (2): both directions pass.
    Enabled = 2,
    /// DISABLED (3): both directions are dropped.
    Disabled = 3,
}

/// A flow: a filter and the directions it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The filter.
    pub filter: FlowFilter,
    /// Flow-Direction.
    pub direction: Direction,
}

/// A dynamic PCC rule (Charging-Rule-Definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicRule {
    /// Charging-Rule-Name.
    pub name: String,
    /// Precedence (lower wins).
    pub precedence: u32,
    /// Flow-Status.
    pub status: FlowStatus,
    /// Flow-Information.
    pub flows: Vec<Flow>,
    /// The bearer QoS it binds to (QoS-Information with QCI and ARP).
    pub qos: BearerQos,
}

/// A PCC rule to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PccRule {
    /// Defined here.
    Dynamic(DynamicRule),
    /// Configured on the PCEF, named by the profile.
    Predefined(String),
}

impl PccRule {
    /// Charging-Rule-Name.
    pub fn name(&self) -> &str {
        match self {
            Self::Dynamic(r) => &r.name,
            Self::Predefined(n) => n,
        }
    }
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn dynamic(kind: &str, precedence: u32, status: FlowStatus, flows: Vec<Flow>, qos: &BearerQos) -> PccRule {
    let mut content = format!(
        "{precedence}|{}|{}|{}|{}|{}",
        status as u32, qos.qci, qos.arp_level, qos.capability, qos.vulnerability
    );
    for f in &flows {
        let _ = write!(content, "|{}#{}", f.filter, f.direction.value());
    }
    PccRule::Dynamic(DynamicRule {
        name: format!("warden-{kind}-{:016x}", fnv1a(&content)),
        precedence,
        status,
        flows,
        qos: *qos,
    })
}

fn both(filter: FlowFilter) -> Flow {
    Flow { filter, direction: Direction::Bidirectional }
}

fn host_net(ip: IpAddr) -> (IpAddr, u8) {
    (ip, if ip.is_ipv4() { 32 } else { 128 })
}

/// The DNS rule: UDP and TCP port 53 of each of `servers`, or of any address when none is configured.
fn dns_rule(servers: &[IpAddr], qos: &BearerQos) -> PccRule {
    let remotes: Vec<Option<(IpAddr, u8)>> =
        if servers.is_empty() { vec![None] } else { servers.iter().map(|s| Some(host_net(*s))).collect() };
    let flows = remotes
        .into_iter()
        .flat_map(|net| {
            [17u8, 6].map(|proto| {
                both(FlowFilter {
                    proto: Some(proto),
                    remote: Endpoint { net, ports: Some((53, 53)) },
                    ue: Endpoint::ANY,
                })
            })
        })
        .collect();
    dynamic("dns", PRECEDENCE_DNS, FlowStatus::Enabled, flows, qos)
}

fn all_traffic() -> Vec<Flow> {
    vec![both(FlowFilter { proto: None, remote: Endpoint::ANY, ue: Endpoint::ANY })]
}

/// The flow filter of an allowlist entry.
pub fn prefix_filter(p: &ids::PrefixRule) -> FlowFilter {
    FlowFilter {
        proto: p.proto.map(|p| p.0),
        remote: Endpoint { net: Some((p.addr, p.len)), ports: p.ports },
        ue: Endpoint::ANY,
    }
}

/// The PCC rules that enforce `policy`: DNS to `dns_servers`, the allowlist (or the profile's
/// predefined rules), `hosts` (addresses resolved by the DNS firewall for an allowlisted name, not
/// already covered by an allowlisted prefix of every port and protocol), and deny-all; nothing for a
/// blocked SIM. Quarantined and barred SIMs' lists are the management platform's already
/// ([`cmp::traffic::effective`]), and predefined rules never apply to them.
pub fn compile(policy: &EffectivePolicy, dns_servers: &[IpAddr], hosts: &[IpAddr], qos: &BearerQos) -> Vec<PccRule> {
    if policy.traffic == Access::Blocked {
        return Vec::new();
    }
    let mut rules = vec![dns_rule(dns_servers, qos)];
    let restricted = matches!(policy.traffic, Access::Quarantined | Access::Barred);
    if !policy.predefined_rules.is_empty() && !restricted {
        rules.extend(policy.predefined_rules.iter().map(|n| PccRule::Predefined(n.clone())));
    } else if policy.traffic == Access::Open {
        rules.push(dynamic("open", PRECEDENCE_OPEN, FlowStatus::Enabled, all_traffic(), qos));
    } else {
        for p in &policy.allow_prefixes {
            rules.push(dynamic("allow", PRECEDENCE_ALLOW, FlowStatus::Enabled, vec![both(prefix_filter(p))], qos));
        }
    }
    if policy.traffic != Access::Open {
        let covered = |ip: IpAddr| {
            policy.allow_prefixes.iter().any(|p| p.ports.is_none() && p.proto.is_none() && p.contains_ip(ip))
                && (policy.predefined_rules.is_empty() || restricted)
        };
        let mut seen = Vec::new();
        for ip in hosts.iter().copied().filter(|ip| !covered(*ip)) {
            if seen.contains(&ip) {
                continue;
            }
            seen.push(ip);
            let filter = FlowFilter {
                proto: None,
                remote: Endpoint { net: Some(host_net(ip)), ports: None },
                ue: Endpoint::ANY,
            };
            rules.push(dynamic("host", PRECEDENCE_HOST, FlowStatus::Enabled, vec![both(filter)], qos));
        }
    }
    rules.push(dynamic("deny", PRECEDENCE_DENY, FlowStatus::Disabled, all_traffic(), qos));
    // One rule per distinct content: two equal allowlist entries are one rule.
    let mut names = std::collections::HashSet::new();
    rules.retain(|r| names.insert(r.name().to_string()));
    rules
}

/// Compiled rules with what a CCA needs of them made once: their names and the Charging-Rule-Install.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The rules.
    pub rules: Vec<PccRule>,
    /// Their Charging-Rule-Names, in order.
    pub names: Vec<String>,
    /// [`install_avp`] of the rules, encoded once ([`Avp::pre_encoded`]): each CCA copies one buffer
    /// instead of cloning and encoding a tree of some forty AVPs, and the bytes on the wire are the
    /// same.
    pub install: Option<Avp>,
}

impl Compiled {
    /// Names and Charging-Rule-Install of `rules`.
    pub fn new(rules: Vec<PccRule>) -> Self {
        Self {
            names: rules.iter().map(|r| r.name().to_string()).collect(),
            install: install_avp(&rules).map(|a| a.pre_encoded()),
            rules,
        }
    }
}

/// What to change on the PCEF to go from the installed rule names to the wanted rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Names installed and no longer wanted.
    pub remove: Vec<String>,
    /// Wanted rules not installed yet.
    pub install: Vec<PccRule>,
}

impl Diff {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.install.is_empty()
    }
}

/// The change from `installed` (names) to `wanted`.
pub fn diff(installed: &[String], wanted: &[PccRule]) -> Diff {
    Diff {
        remove: installed.iter().filter(|n| !wanted.iter().any(|w| w.name() == n.as_str())).cloned().collect(),
        install: wanted.iter().filter(|w| !installed.iter().any(|n| n == w.name())).cloned().collect(),
    }
}

/// Charging-Rule-Install with `rules` (dynamic ones as Charging-Rule-Definition, predefined ones as
/// Charging-Rule-Name); `None` when there are none.
pub fn install_avp(rules: &[PccRule]) -> Option<Avp> {
    if rules.is_empty() {
        return None;
    }
    let members = rules
        .iter()
        .map(|r| match r {
            PccRule::Predefined(n) => Avp::new(avp::CHARGING_RULE_NAME, n.as_bytes()),
            PccRule::Dynamic(d) => definition(d),
        })
        .collect::<Vec<_>>();
    Some(Avp::new(avp::CHARGING_RULE_INSTALL, members))
}

/// Charging-Rule-Remove naming `names`; `None` when there are none.
pub fn remove_avp(names: &[String]) -> Option<Avp> {
    if names.is_empty() {
        return None;
    }
    Some(Avp::new(
        avp::CHARGING_RULE_REMOVE,
        names.iter().map(|n| Avp::new(avp::CHARGING_RULE_NAME, n.as_bytes())).collect::<Vec<_>>(),
    ))
}

/// Online and Offline: DISABLE_ONLINE (0), DISABLE_OFFLINE (0): these rules are for gating, not
/// charging.
const CHARGING_DISABLED: u32 = 0;

/// Charging-Rule-Definition (TS 29.212 §5.3.4), members in the order of its CCF.
fn definition(d: &DynamicRule) -> Avp {
    let mut m = vec![Avp::new(avp::CHARGING_RULE_NAME, d.name.as_bytes())];
    for f in &d.flows {
        m.push(Avp::new(
            avp::FLOW_INFORMATION,
            vec![
                Avp::new(avp::FLOW_DESCRIPTION, f.filter.to_string()),
                Avp::new(avp::FLOW_DIRECTION, f.direction.value()),
            ],
        ));
    }
    m.push(Avp::new(avp::FLOW_STATUS, d.status as u32));
    m.push(d.qos.rule_qos());
    m.push(Avp::new(avp::ONLINE, CHARGING_DISABLED));
    m.push(Avp::new(avp::OFFLINE, CHARGING_DISABLED));
    m.push(Avp::new(avp::PRECEDENCE, d.precedence));
    Avp::new(avp::CHARGING_RULE_DEFINITION, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::model::Priority;

    fn policy(traffic: Access, prefixes: &[&str], predefined: &[&str]) -> EffectivePolicy {
        EffectivePolicy {
            traffic,
            allow_prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            allow_domains: Vec::new(),
            predefined_rules: predefined.iter().map(|s| s.to_string()).collect(),
            priority: Priority::Standard,
        }
    }

    fn qos() -> BearerQos {
        crate::qos::bearer_qos(Priority::Standard, None, "internet")
    }

    fn dynamic_rules(rules: &[PccRule]) -> Vec<&DynamicRule> {
        rules.iter().filter_map(|r| if let PccRule::Dynamic(d) = r { Some(d) } else { None }).collect()
    }

    /// Parses the Flow-Descriptions of the ENABLED non-DNS rules back: they are exactly the allowlist.
    #[test]
    fn allow_rules_are_exactly_the_allowlist() {
        let entries = ["198.51.100.0/24", "203.0.113.7/32:443/tcp", "2001:db8::/32:5683-5684/udp", "192.0.2.0/24/icmp"];
        let p = policy(Access::Restricted, &entries, &[]);
        let rules = compile(&p, &["192.0.2.53".parse().unwrap()], &[], &qos());
        let d = dynamic_rules(&rules);
        let allow: Vec<String> = d
            .iter()
            .filter(|r| r.precedence == PRECEDENCE_ALLOW)
            .flat_map(|r| r.flows.iter())
            .map(|f| {
                let back: FlowFilter = f.filter.to_string().parse().unwrap();
                assert_eq!(f.direction, Direction::Bidirectional);
                assert_eq!(back.ue, Endpoint::ANY);
                let (addr, len) = back.remote.net.unwrap();
                let mut s = format!("{addr}/{len}");
                if let Some((lo, hi)) = back.remote.ports {
                    s += &if lo == hi { format!(":{lo}") } else { format!(":{lo}-{hi}") };
                }
                if let Some(proto) = back.proto {
                    s += &format!("/{}", ids::Proto(proto));
                }
                s
            })
            .collect();
        assert_eq!(allow, entries);
        // DNS first, deny-all last and disabled, nothing else.
        assert_eq!(d.first().unwrap().precedence, PRECEDENCE_DNS);
        let dns: Vec<String> = d[0].flows.iter().map(|f| f.filter.to_string()).collect();
        assert_eq!(
            dns,
            ["permit out 17 from 192.0.2.53/32 53 to assigned", "permit out 6 from 192.0.2.53/32 53 to assigned"]
        );
        let deny = d.last().unwrap();
        assert_eq!((deny.precedence, deny.status), (PRECEDENCE_DENY, FlowStatus::Disabled));
        assert_eq!(deny.flows[0].filter.to_string(), "permit out ip from any to assigned");
        assert_eq!(d.len(), entries.len() + 2);
        assert!(d.iter().filter(|r| r.status == FlowStatus::Enabled).all(|r| r.precedence < PRECEDENCE_DENY));
    }

    #[test]
    fn open_restricted_empty_quarantine_blocked_and_predefined() {
        let q = qos();
        let open = compile(&policy(Access::Open, &[], &[]), &[], &[], &q);
        let texts: Vec<(u32, String)> =
            dynamic_rules(&open).iter().map(|r| (r.precedence, r.flows[0].filter.to_string())).collect();
        assert_eq!(texts[0], (PRECEDENCE_DNS, "permit out 17 from any 53 to assigned".to_string()));
        assert_eq!(texts[1], (PRECEDENCE_OPEN, "permit out ip from any to assigned".to_string()));
        assert_eq!(texts.len(), 3);
        // Restricted with nothing allowed: DNS and deny-all only.
        assert_eq!(compile(&policy(Access::Restricted, &[], &[]), &[], &[], &q).len(), 2);
        assert!(compile(&policy(Access::Blocked, &["10.0.0.0/8"], &[]), &[], &[], &q).is_empty());
        // Predefined rules replace the dynamic allow rules, not DNS and deny-all.
        let pre = compile(&policy(Access::Restricted, &["10.0.0.0/8"], &["gold", "iot"]), &[], &[], &q);
        let names: Vec<&str> = pre.iter().map(PccRule::name).collect();
        assert_eq!(&names[1..3], ["gold", "iot"]);
        assert_eq!(pre.len(), 4);
        // ... but never for a quarantined SIM, which gets the management platform only.
        let quar = compile(&policy(Access::Quarantined, &["10.9.0.0/16:8443/tcp"], &["gold"]), &[], &[], &q);
        assert!(quar.iter().all(|r| matches!(r, PccRule::Dynamic(_))));
        assert_eq!(
            dynamic_rules(&quar)[1].flows[0].filter.to_string(),
            "permit out 6 from 10.9.0.0/16 8443 to assigned"
        );
    }

    #[test]
    fn resolved_hosts_add_rules_and_names_follow_content() {
        let q = qos();
        let p = policy(Access::Restricted, &["198.51.100.0/24"], &[]);
        let hosts: Vec<IpAddr> =
            vec!["198.51.100.9".parse().unwrap(), "203.0.113.5".parse().unwrap(), "2001:db8::5".parse().unwrap()];
        let rules = compile(&p, &[], &hosts, &q);
        let host_rules: Vec<String> = dynamic_rules(&rules)
            .iter()
            .filter(|r| r.precedence == PRECEDENCE_HOST)
            .map(|r| r.flows[0].filter.to_string())
            .collect();
        // 198.51.100.9 is inside the allowlisted /24 already.
        assert_eq!(
            host_rules,
            ["permit out ip from 203.0.113.5/32 to assigned", "permit out ip from 2001:db8::5/128 to assigned"]
        );
        let before = compile(&p, &[], &[], &q);
        let d = diff(&before.iter().map(|r| r.name().to_string()).collect::<Vec<_>>(), &rules);
        assert!(d.remove.is_empty());
        assert_eq!(d.install.len(), 2);
        // Same content, same names: compiling twice is no change.
        let again = compile(&p, &[], &hosts, &q);
        assert!(diff(&rules.iter().map(|r| r.name().to_string()).collect::<Vec<_>>(), &again).is_empty());
        // Editing the allowlist replaces exactly the changed entry.
        let edited = compile(&policy(Access::Restricted, &["198.51.100.0/25"], &[]), &[], &[], &q);
        let d = diff(&before.iter().map(|r| r.name().to_string()).collect::<Vec<_>>(), &edited);
        assert_eq!((d.remove.len(), d.install.len()), (1, 1));
        assert!(d.remove[0].starts_with("warden-allow-"));
        // Another ARP changes every dynamic rule's name.
        let crit = crate::qos::bearer_qos(Priority::Critical, None, "internet");
        let other = compile(&p, &[], &[], &crit);
        assert!(other.iter().all(|r| before.iter().all(|b| b.name() != r.name())));
    }

    /// The Charging-Rule-Install a CCA carries (encoded once) is byte for byte the tree's encoding,
    /// and decodes back to that tree.
    #[test]
    fn the_encoded_install_is_the_tree_on_the_wire() {
        let hosts: Vec<IpAddr> = vec!["203.0.113.5".parse().unwrap(), "2001:db8::5".parse().unwrap()];
        for p in [
            policy(
                Access::Restricted,
                &["198.51.100.0/24", "203.0.113.7/32:443/tcp", "2001:db8::/32:5683-5684/udp"],
                &[],
            ),
            policy(Access::Restricted, &["10.0.0.0/8"], &["gold", "iot"]),
            policy(Access::Open, &[], &[]),
        ] {
            let rules = compile(&p, &["192.0.2.53".parse().unwrap()], &hosts, &qos());
            let tree = install_avp(&rules).unwrap();
            let compiled = Compiled::new(rules);
            let encoded = compiled.install.as_ref().unwrap();
            let (mut want, mut got) = (Vec::new(), Vec::new());
            tree.encode(&mut want);
            encoded.encode(&mut got);
            assert_eq!(got, want);
            assert_eq!(encoded.len(), tree.len());
            let raw = diameter::RawAvps::new(&got).next().unwrap().unwrap();
            assert_eq!(Avp::decode(&raw, 0).unwrap(), tree);
        }
        assert!(Compiled::new(Vec::new()).install.is_none());
    }

    #[test]
    fn avps_carry_definitions_and_names() {
        let rules = compile(&policy(Access::Restricted, &["10.0.0.0/8"], &["gold"]), &[], &[], &qos());
        let install = install_avp(&rules).unwrap();
        let members = install.as_grouped().unwrap();
        assert_eq!(members.len(), rules.len());
        assert!(members.iter().any(|m| m.is(avp::CHARGING_RULE_NAME)));
        let def = members.iter().find(|m| m.is(avp::CHARGING_RULE_DEFINITION)).unwrap();
        let inner = def.as_grouped().unwrap();
        assert!(inner[0].is(avp::CHARGING_RULE_NAME));
        assert!(inner.iter().any(|a| a.is(avp::PRECEDENCE)));
        assert!(install_avp(&[]).is_none());
        assert!(remove_avp(&[]).is_none());
        assert_eq!(remove_avp(&["a".into(), "b".into()]).unwrap().as_grouped().unwrap().len(), 2);
    }
}
