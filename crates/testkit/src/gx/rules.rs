//! The P-GW's installed policy for one IP-CAN session, kept as a PCEF keeps it (TS 29.212 §4.5.2):
//! dynamic PCC rules by Charging-Rule-Name (a definition with a known name modifies that rule),
//! predefined rules and rule bases by name, event triggers, usage monitoring and the session's QoS.
//! And the PCEF's evaluation of a packet: service data flow filters in precedence order (lower
//! value first), the first match decides, its rule's Flow-Status says whether the packet passes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use diameter::Avp;

use super::codes::{base, rule_failure, tgpp, EVENT_NO_EVENT_TRIGGERS, USAGE_MONITORING_DISABLED, VENDOR_3GPP};
use super::ipfilter::{Dir, IpFilterRule};
use super::raw::{bytes_of, child_u32, children, find, find_all, str_of, u32_of, u64_of};

/// Flow-Status (TS 29.214 §5.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStatus {
    /// ENABLED-UPLINK (0).
    EnabledUplink,
    /// ENABLED-DOWNLINK (1).
    EnabledDownlink,
    /// ENABLED (2).
    Enabled,
    /// DISABLED (3): matching packets are dropped.
    Disabled,
    /// REMOVED (4).
    Removed,
    /// Any other value (dropped, as a PCEF cannot honour it).
    Other(u32),
}

impl FlowStatus {
    /// From the AVP value.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::EnabledUplink,
            1 => Self::EnabledDownlink,
            2 => Self::Enabled,
            3 => Self::Disabled,
            4 => Self::Removed,
            n => Self::Other(n),
        }
    }

    /// True when packets in direction `d` pass.
    pub fn passes(self, d: Direction) -> bool {
        matches!(
            (self, d),
            (Self::Enabled, _)
                | (Self::EnabledUplink, Direction::Uplink)
                | (Self::EnabledDownlink, Direction::Downlink)
        )
    }
}

/// Flow-Direction (TS 29.212 §5.3.65).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDirection {
    /// UNSPECIFIED (0): applied in both directions.
    Unspecified,
    /// DOWNLINK (1).
    Downlink,
    /// UPLINK (2).
    Uplink,
    /// BIDIRECTIONAL (3).
    Bidirectional,
    /// Any other value (applied in no direction).
    Other(u32),
}

impl FlowDirection {
    /// From the AVP value.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Unspecified,
            1 => Self::Downlink,
            2 => Self::Uplink,
            3 => Self::Bidirectional,
            n => Self::Other(n),
        }
    }
}

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the UE to the network.
    Uplink,
    /// From the network to the UE.
    Downlink,
}

/// One service data flow filter of a rule (Flow-Information).
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The Flow-Description as received.
    pub text: String,
    /// The Flow-Description parsed.
    pub filter: IpFilterRule,
    /// Flow-Direction, when sent.
    pub direction: Option<FlowDirection>,
}

impl Flow {
    /// True when this filter applies to packets going `d`: by Flow-Direction, or without it by the
    /// rule's own `in`/`out` (the pre-Rel-12 convention).
    pub fn applies_to(&self, d: Direction) -> bool {
        match self.direction {
            Some(FlowDirection::Unspecified | FlowDirection::Bidirectional) => true,
            Some(FlowDirection::Uplink) => d == Direction::Uplink,
            Some(FlowDirection::Downlink) => d == Direction::Downlink,
            Some(FlowDirection::Other(_)) => false,
            None => (self.filter.dir == Dir::Out) == (d == Direction::Downlink),
        }
    }

    /// True when `p` matches. An `out` rule names the remote side as source and the UE as
    /// destination, and is matched against uplink packets with the two swapped (TS 29.212
    /// §5.4.2); an `in` rule names the UE as source.
    pub fn matches(&self, p: &Packet, ue_addresses: &dyn Fn(IpAddr) -> bool) -> bool {
        if !self.applies_to(p.direction) {
            return false;
        }
        if self.filter.proto.is_some_and(|proto| proto != p.proto) {
            return false;
        }
        let (ue_side, remote_side) = match self.filter.dir {
            Dir::Out => (&self.filter.dst, &self.filter.src),
            Dir::In => (&self.filter.src, &self.filter.dst),
        };
        ue_side.matches(p.ue, p.ue_port, ue_addresses(p.ue)) && remote_side.matches(p.remote, p.remote_port, false)
    }
}

/// Allocation-Retention-Priority (TS 29.212 §5.3.32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arp {
    /// Priority-Level (1 highest … 15).
    pub priority_level: Option<u32>,
    /// Pre-emption-Capability: 0 ENABLED (may pre-empt others), 1 DISABLED.
    pub pre_emption_capability: Option<u32>,
    /// Pre-emption-Vulnerability: 0 ENABLED (may be pre-empted), 1 DISABLED.
    pub pre_emption_vulnerability: Option<u32>,
}

impl Arp {
    /// True when the bearer may pre-empt others (capability ENABLED).
    pub fn may_pre_empt(&self) -> Option<bool> {
        self.pre_emption_capability.map(|v| v == 0)
    }

    /// True when the bearer may be pre-empted (vulnerability ENABLED).
    pub fn pre_emptable(&self) -> Option<bool> {
        self.pre_emption_vulnerability.map(|v| v == 0)
    }
}

/// QoS-Information or Default-EPS-Bearer-QoS (TS 29.212 §5.3.16, §5.3.48); bit rates in bit/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qos {
    /// QoS-Class-Identifier.
    pub qci: Option<u32>,
    /// Allocation-Retention-Priority.
    pub arp: Option<Arp>,
    /// Max-Requested-Bandwidth-UL.
    pub mbr_ul: Option<u32>,
    /// Max-Requested-Bandwidth-DL.
    pub mbr_dl: Option<u32>,
    /// Guaranteed-Bitrate-UL.
    pub gbr_ul: Option<u32>,
    /// Guaranteed-Bitrate-DL.
    pub gbr_dl: Option<u32>,
    /// APN-Aggregate-Max-Bitrate-UL.
    pub apn_ambr_ul: Option<u32>,
    /// APN-Aggregate-Max-Bitrate-DL.
    pub apn_ambr_dl: Option<u32>,
}

impl Qos {
    /// Reads a QoS-Information or Default-EPS-Bearer-QoS AVP.
    pub fn from_avp(a: &Avp) -> Self {
        let g = |code| child_u32(a, code, VENDOR_3GPP);
        let arp = children(a).and_then(|kids| {
            let arp = find(&kids, tgpp::ALLOCATION_RETENTION_PRIORITY, VENDOR_3GPP)?;
            let n = |code| child_u32(arp, code, VENDOR_3GPP);
            Some(Arp {
                priority_level: n(tgpp::PRIORITY_LEVEL),
                pre_emption_capability: n(tgpp::PRE_EMPTION_CAPABILITY),
                pre_emption_vulnerability: n(tgpp::PRE_EMPTION_VULNERABILITY),
            })
        });
        Self {
            qci: g(tgpp::QOS_CLASS_IDENTIFIER),
            arp,
            mbr_ul: g(tgpp::MAX_REQUESTED_BANDWIDTH_UL),
            mbr_dl: g(tgpp::MAX_REQUESTED_BANDWIDTH_DL),
            gbr_ul: g(tgpp::GUARANTEED_BITRATE_UL),
            gbr_dl: g(tgpp::GUARANTEED_BITRATE_DL),
            apn_ambr_ul: g(tgpp::APN_AGGREGATE_MAX_BITRATE_UL),
            apn_ambr_dl: g(tgpp::APN_AGGREGATE_MAX_BITRATE_DL),
        }
    }
}

/// A dynamic PCC rule (Charging-Rule-Definition, TS 29.212 §5.3.4).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PccRule {
    /// Charging-Rule-Name (text when it is UTF-8, else lowercase hex).
    pub name: String,
    /// Precedence: lower values are evaluated first.
    pub precedence: Option<u32>,
    /// Flow-Status as sent; see [`PccRule::flow_status`].
    pub flow_status_avp: Option<FlowStatus>,
    /// The service data flow filters.
    pub flows: Vec<Flow>,
    /// QoS-Information.
    pub qos: Option<Qos>,
    /// Monitoring-Key.
    pub monitoring_key: Option<Vec<u8>>,
    /// Rating-Group.
    pub rating_group: Option<u32>,
    /// Service-Identifier.
    pub service_identifier: Option<u32>,
    /// Online.
    pub online: Option<u32>,
    /// Offline.
    pub offline: Option<u32>,
    /// Metering-Method.
    pub metering_method: Option<u32>,
    /// Reporting-Level.
    pub reporting_level: Option<u32>,
}

impl PccRule {
    /// The Flow-Status in force: ENABLED when the PCRF sent none.
    pub fn flow_status(&self) -> FlowStatus {
        self.flow_status_avp.unwrap_or(FlowStatus::Enabled)
    }

    /// True when this rule matches every packet (`ip from any to assigned|any`, no ports, both
    /// directions) and drops it: the deny-all a PCRF installs under an allowlist.
    pub fn is_deny_all(&self) -> bool {
        self.is_deny_all_for(&|_| false)
    }

    /// Like [`PccRule::is_deny_all`], with the UE side also written as the UE's own address
    /// (`is_ue` tells which addresses are the UE's).
    pub fn is_deny_all_for(&self, is_ue: &dyn Fn(IpAddr) -> bool) -> bool {
        use super::ipfilter::Addr;
        let everyone = |a: &Addr| match a {
            Addr::Any => true,
            Addr::Net(p) => p.len == 0,
            Addr::Assigned => false,
        };
        let the_ue = |a: &Addr| match a {
            Addr::Any | Addr::Assigned => true,
            Addr::Net(p) => p.len == 0 || (p.is_host() && is_ue(p.addr)),
        };
        let covers = |d| {
            self.flows.iter().any(|f| {
                let r = &f.filter;
                let (ue, remote) = if r.dir == Dir::Out { (&r.dst, &r.src) } else { (&r.src, &r.dst) };
                f.applies_to(d)
                    && r.proto.is_none()
                    && !ue.negated
                    && !remote.negated
                    && ue.ports.is_empty()
                    && remote.ports.is_empty()
                    && the_ue(&ue.addr)
                    && everyone(&remote.addr)
            })
        };
        matches!(self.flow_status(), FlowStatus::Disabled) && covers(Direction::Uplink) && covers(Direction::Downlink)
    }
}

/// A rule the P-GW could not install or remove (reported in Charging-Rule-Report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    /// The rule (or base) name.
    pub name: String,
    /// Rule-Failure-Code (TS 29.212 §5.3.38).
    pub code: u32,
    /// What was wrong.
    pub reason: String,
}

/// Usage monitoring of one Monitoring-Key: the thresholds granted (TS 29.212 §4.5.17).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Monitoring {
    /// Granted CC-Total-Octets.
    pub total_octets: Option<u64>,
    /// Granted CC-Input-Octets.
    pub input_octets: Option<u64>,
    /// Granted CC-Output-Octets.
    pub output_octets: Option<u64>,
    /// Usage-Monitoring-Level: 0 session, 1 PCC rule.
    pub level: Option<u32>,
}

/// One packet for [`Installed::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Which way it goes.
    pub direction: Direction,
    /// The UE's address.
    pub ue: IpAddr,
    /// The UE's port, when relevant.
    pub ue_port: Option<u16>,
    /// The other end.
    pub remote: IpAddr,
    /// The other end's port, when relevant.
    pub remote_port: Option<u16>,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP).
    pub proto: u8,
}

/// What the installed rules do with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The first matching rule (named) lets it pass.
    Pass(String),
    /// The first matching rule (named) drops it (its Flow-Status).
    Drop(String),
    /// No rule matches: the PCEF drops it (TS 23.203 §6.2.2.2).
    NoMatch,
}

/// Everything the PCRF installed on one session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Installed {
    /// Dynamic PCC rules by name.
    pub rules: BTreeMap<String, PccRule>,
    /// Predefined PCC rules activated by name (Charging-Rule-Name alone).
    pub predefined: BTreeSet<String>,
    /// Rule bases activated (Charging-Rule-Base-Name).
    pub base_names: BTreeSet<String>,
    /// Event triggers in force.
    pub event_triggers: BTreeSet<u32>,
    /// Session QoS-Information (APN-AMBR).
    pub qos: Option<Qos>,
    /// Default-EPS-Bearer-QoS.
    pub default_bearer_qos: Option<Qos>,
    /// Usage monitoring by Monitoring-Key.
    pub monitoring: BTreeMap<Vec<u8>, Monitoring>,
    /// Every rule that failed to install or remove, in order.
    pub failures: Vec<RuleFailure>,
}

fn name_of(a: &Avp) -> String {
    match str_of(a) {
        Some(s) => s.to_string(),
        None => bytes_of(a).unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

impl Installed {
    /// Applies the policy AVPs of a CCA or RAR (`avps`, the message's top level): removals first,
    /// then installations, event triggers, QoS and usage monitoring. Returns the failures of this
    /// message (also kept in [`Installed::failures`]).
    pub fn apply(&mut self, avps: &[Avp]) -> Vec<RuleFailure> {
        let mut failed = Vec::new();
        for remove in find_all(avps, tgpp::CHARGING_RULE_REMOVE, VENDOR_3GPP) {
            let kids = children(remove).unwrap_or_default();
            for n in find_all(&kids, tgpp::CHARGING_RULE_NAME, VENDOR_3GPP).map(name_of) {
                if self.rules.remove(&n).is_none() && !self.predefined.remove(&n) {
                    failed.push(RuleFailure {
                        name: n,
                        code: rule_failure::UNKNOWN_RULE_NAME,
                        reason: "not installed".into(),
                    });
                }
            }
            for n in find_all(&kids, tgpp::CHARGING_RULE_BASE_NAME, VENDOR_3GPP).map(name_of) {
                if !self.base_names.remove(&n) {
                    failed.push(RuleFailure {
                        name: n,
                        code: rule_failure::UNKNOWN_RULE_NAME,
                        reason: "base not active".into(),
                    });
                }
            }
        }
        for install in find_all(avps, tgpp::CHARGING_RULE_INSTALL, VENDOR_3GPP) {
            let kids = children(install).unwrap_or_default();
            for def in find_all(&kids, tgpp::CHARGING_RULE_DEFINITION, VENDOR_3GPP) {
                if let Err(f) = self.install_definition(def) {
                    failed.push(f);
                }
            }
            self.predefined.extend(find_all(&kids, tgpp::CHARGING_RULE_NAME, VENDOR_3GPP).map(name_of));
            self.base_names.extend(find_all(&kids, tgpp::CHARGING_RULE_BASE_NAME, VENDOR_3GPP).map(name_of));
        }
        let triggers: Vec<u32> = find_all(avps, tgpp::EVENT_TRIGGER, VENDOR_3GPP).filter_map(u32_of).collect();
        if !triggers.is_empty() {
            // TS 29.212 §4.5.3: a new list replaces the old one; NO_EVENT_TRIGGERS clears it.
            self.event_triggers = triggers.into_iter().filter(|t| *t != EVENT_NO_EVENT_TRIGGERS).collect();
        }
        if let Some(q) = find(avps, tgpp::QOS_INFORMATION, VENDOR_3GPP) {
            self.qos = Some(Qos::from_avp(q));
        }
        if let Some(q) = find(avps, tgpp::DEFAULT_EPS_BEARER_QOS, VENDOR_3GPP) {
            self.default_bearer_qos = Some(Qos::from_avp(q));
        }
        for umi in find_all(avps, tgpp::USAGE_MONITORING_INFORMATION, VENDOR_3GPP) {
            let kids = children(umi).unwrap_or_default();
            let Some(key) = find(&kids, tgpp::MONITORING_KEY, VENDOR_3GPP).and_then(bytes_of) else { continue };
            let support = find(&kids, tgpp::USAGE_MONITORING_SUPPORT, VENDOR_3GPP).and_then(u32_of);
            if support == Some(USAGE_MONITORING_DISABLED) {
                self.monitoring.remove(key);
                continue;
            }
            let gsu = find(&kids, base::GRANTED_SERVICE_UNIT, 0).and_then(children).unwrap_or_default();
            let octets = |code| find(&gsu, code, 0).and_then(u64_of);
            self.monitoring.insert(
                key.to_vec(),
                Monitoring {
                    total_octets: octets(base::CC_TOTAL_OCTETS),
                    input_octets: octets(base::CC_INPUT_OCTETS),
                    output_octets: octets(base::CC_OUTPUT_OCTETS),
                    level: find(&kids, tgpp::USAGE_MONITORING_LEVEL, VENDOR_3GPP).and_then(u32_of),
                },
            );
        }
        self.failures.extend(failed.iter().cloned());
        failed
    }

    /// Installs or modifies one dynamic rule. A known name is a modification: the attributes sent
    /// replace theirs (Flow-Information replaces every filter), the others stay.
    fn install_definition(&mut self, def: &Avp) -> Result<(), RuleFailure> {
        let kids = children(def).unwrap_or_default();
        let fail = |name: &str, code, reason: String| RuleFailure { name: name.to_string(), code, reason };
        let name = find(&kids, tgpp::CHARGING_RULE_NAME, VENDOR_3GPP).map(name_of).ok_or_else(|| {
            fail("", rule_failure::INCORRECT_FLOW_INFORMATION, "definition without Charging-Rule-Name".into())
        })?;
        let mut flows = Vec::new();
        for fi in find_all(&kids, tgpp::FLOW_INFORMATION, VENDOR_3GPP) {
            let f = children(fi).unwrap_or_default();
            let text = find(&f, tgpp::FLOW_DESCRIPTION, VENDOR_3GPP).and_then(str_of).ok_or_else(|| {
                fail(
                    &name,
                    rule_failure::INCORRECT_FLOW_INFORMATION,
                    "Flow-Information without Flow-Description".into(),
                )
            })?;
            let filter = IpFilterRule::parse(text)
                .map_err(|e| fail(&name, rule_failure::INCORRECT_FLOW_INFORMATION, format!("{text:?}: {e}")))?;
            let direction = find(&f, tgpp::FLOW_DIRECTION, VENDOR_3GPP).and_then(u32_of).map(FlowDirection::from_u32);
            flows.push(Flow { text: text.to_string(), filter, direction });
        }
        let existing = self.rules.get(&name).cloned();
        if existing.is_none() && flows.is_empty() {
            return Err(fail(
                &name,
                rule_failure::MISSING_FLOW_INFORMATION,
                "new rule without Flow-Information".into(),
            ));
        }
        let mut rule = existing.unwrap_or_else(|| PccRule { name: name.clone(), ..PccRule::default() });
        if !flows.is_empty() {
            rule.flows = flows;
        }
        let n = |code| find(&kids, code, VENDOR_3GPP).and_then(u32_of);
        let set = |slot: &mut Option<u32>, v: Option<u32>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut rule.precedence, n(tgpp::PRECEDENCE));
        if let Some(s) = n(tgpp::FLOW_STATUS) {
            rule.flow_status_avp = Some(FlowStatus::from_u32(s));
        }
        set(&mut rule.online, n(tgpp::ONLINE));
        set(&mut rule.offline, n(tgpp::OFFLINE));
        set(&mut rule.metering_method, n(tgpp::METERING_METHOD));
        set(&mut rule.reporting_level, n(tgpp::REPORTING_LEVEL));
        set(&mut rule.rating_group, find(&kids, base::RATING_GROUP, 0).and_then(u32_of));
        set(&mut rule.service_identifier, find(&kids, base::SERVICE_IDENTIFIER, 0).and_then(u32_of));
        if let Some(q) = find(&kids, tgpp::QOS_INFORMATION, VENDOR_3GPP) {
            rule.qos = Some(Qos::from_avp(q));
        }
        if let Some(k) = find(&kids, tgpp::MONITORING_KEY, VENDOR_3GPP).and_then(bytes_of) {
            rule.monitoring_key = Some(k.to_vec());
        }
        self.rules.insert(name, rule);
        Ok(())
    }

    /// Dynamic rules in evaluation order: by Precedence (lower first; rules without one last), then
    /// by name.
    pub fn ordered(&self) -> Vec<&PccRule> {
        let mut v: Vec<&PccRule> = self.rules.values().collect();
        v.sort_by_key(|r| (r.precedence.is_none(), r.precedence, r.name.clone()));
        v
    }

    /// What the PCEF does with `p`: the first rule in [`Installed::ordered`] with a matching filter
    /// decides by its Flow-Status. `is_ue` tells which addresses `assigned` stands for. Predefined
    /// rules are opaque here (their filters live in the P-GW's configuration) and are not evaluated.
    pub fn decide(&self, p: &Packet, is_ue: &dyn Fn(IpAddr) -> bool) -> Verdict {
        for rule in self.ordered() {
            if rule.flows.iter().any(|f| f.matches(p, is_ue)) {
                return if rule.flow_status().passes(p.direction) {
                    Verdict::Pass(rule.name.clone())
                } else {
                    Verdict::Drop(rule.name.clone())
                };
            }
        }
        Verdict::NoMatch
    }

    /// Every Flow-Description of the rules that let traffic pass, parsed, in evaluation order.
    pub fn permitted_filters(&self) -> Vec<&IpFilterRule> {
        self.ordered()
            .into_iter()
            .filter(|r| !matches!(r.flow_status(), FlowStatus::Disabled | FlowStatus::Removed | FlowStatus::Other(_)))
            .flat_map(|r| r.flows.iter().map(|f| &f.filter))
            .collect()
    }

    /// Where the installed rules depart from TS 29.212 (Flow-Description profile of §5.4.2, a
    /// Flow-Direction on every filter, a Precedence on every dynamic rule); empty when none.
    pub fn gx_issues(&self) -> Vec<String> {
        let mut v = Vec::new();
        for r in self.rules.values() {
            if r.precedence.is_none() {
                v.push(format!("{}: no Precedence", r.name));
            }
            for f in &r.flows {
                v.extend(f.filter.gx_violations().into_iter().map(|e| format!("{}: {:?}: {e}", r.name, f.text)));
                if f.direction.is_none() {
                    v.push(format!("{}: {:?}: no Flow-Direction", r.name, f.text));
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::{ietf, tgpp as t};
    use super::*;

    fn flow(desc: &str, dir: u32) -> Avp {
        t(tgpp::FLOW_INFORMATION, true, vec![t(tgpp::FLOW_DESCRIPTION, true, desc), t(tgpp::FLOW_DIRECTION, true, dir)])
    }

    fn rule(name: &str, precedence: u32, status: u32, flows: Vec<Avp>) -> Avp {
        let mut v = vec![t(tgpp::CHARGING_RULE_NAME, true, name.as_bytes().to_vec())];
        v.extend(flows);
        v.push(t(tgpp::FLOW_STATUS, true, status));
        v.push(t(tgpp::PRECEDENCE, true, precedence));
        t(tgpp::CHARGING_RULE_DEFINITION, true, v)
    }

    fn install(defs: Vec<Avp>) -> Avp {
        t(tgpp::CHARGING_RULE_INSTALL, true, defs)
    }

    fn up(remote: &str, port: Option<u16>, proto: u8) -> Packet {
        Packet {
            direction: Direction::Uplink,
            ue: "10.45.0.2".parse().unwrap(),
            ue_port: Some(40000),
            remote: remote.parse().unwrap(),
            remote_port: port,
            proto,
        }
    }

    const UE: fn(IpAddr) -> bool = |ip| ip == "10.45.0.2".parse::<IpAddr>().unwrap();

    /// An allowlist: 198.51.100.0/24 anything, 203.0.113.7 TCP 443 only, and a deny-all last.
    fn allowlist() -> Installed {
        let mut i = Installed::default();
        let failed = i.apply(&[install(vec![
            rule("allow-1", 100, 2, vec![flow("permit out ip from 198.51.100.0/24 to assigned", 3)]),
            rule("allow-2", 101, 2, vec![flow("permit out 6 from 203.0.113.7 443 to assigned", 3)]),
            rule("deny-all", 65000, 3, vec![flow("permit out ip from any to assigned", 3)]),
        ])]);
        assert!(failed.is_empty(), "{failed:?}");
        i
    }

    #[test]
    fn first_match_by_precedence_and_flow_status_decide() {
        let i = allowlist();
        assert_eq!(i.ordered().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["allow-1", "allow-2", "deny-all"]);
        assert!(i.rules["deny-all"].is_deny_all());
        assert!(!i.rules["allow-1"].is_deny_all());
        let mut explicit = Installed::default();
        explicit.apply(&[install(vec![rule("d", 9, 3, vec![flow("permit out ip from any to 10.45.0.2", 3)])])]);
        assert!(!explicit.rules["d"].is_deny_all() && explicit.rules["d"].is_deny_all_for(&UE));
        explicit.apply(&[install(vec![rule("d", 9, 3, vec![flow("permit out ip from any to 10.45.0.2", 1)])])]);
        assert!(!explicit.rules["d"].is_deny_all_for(&UE), "downlink only");
        explicit.apply(&[install(vec![rule("d", 9, 2, vec![flow("permit out ip from any to 10.45.0.2", 3)])])]);
        assert!(!explicit.rules["d"].is_deny_all_for(&UE), "enabled");
        assert!(i.gx_issues().is_empty(), "{:?}", i.gx_issues());
        assert_eq!(i.decide(&up("198.51.100.9", Some(80), 6), &UE), Verdict::Pass("allow-1".into()));
        assert_eq!(i.decide(&up("198.51.100.9", None, 1), &UE), Verdict::Pass("allow-1".into()));
        assert_eq!(i.decide(&up("203.0.113.7", Some(443), 6), &UE), Verdict::Pass("allow-2".into()));
        assert_eq!(i.decide(&up("203.0.113.7", Some(443), 17), &UE), Verdict::Drop("deny-all".into()));
        assert_eq!(i.decide(&up("203.0.113.7", Some(80), 6), &UE), Verdict::Drop("deny-all".into()));
        assert_eq!(i.decide(&up("192.0.2.1", Some(443), 6), &UE), Verdict::Drop("deny-all".into()));
        // Downlink from an allowed server passes too (bidirectional filters).
        let down = Packet { direction: Direction::Downlink, ..up("198.51.100.9", Some(80), 6) };
        assert_eq!(i.decide(&down, &UE), Verdict::Pass("allow-1".into()));
        // Another UE's address does not match `assigned`.
        let other = Packet { ue: "10.45.0.3".parse().unwrap(), ..up("198.51.100.9", Some(80), 6) };
        assert_eq!(i.decide(&other, &UE), Verdict::NoMatch);
    }

    #[test]
    fn precedence_not_install_order_decides() {
        let mut i = Installed::default();
        // Deny-all first in the message but with a lower precedence value: it shadows everything.
        i.apply(&[install(vec![
            rule("deny-all", 10, 3, vec![flow("permit out ip from any to assigned", 3)]),
            rule("allow-1", 100, 2, vec![flow("permit out ip from 198.51.100.0/24 to assigned", 3)]),
        ])]);
        assert_eq!(i.decide(&up("198.51.100.9", Some(80), 6), &UE), Verdict::Drop("deny-all".into()));
    }

    #[test]
    fn flow_direction_limits_where_a_filter_applies() {
        let mut i = Installed::default();
        i.apply(&[install(vec![
            rule("dl-only", 1, 2, vec![flow("permit out 17 from 192.0.2.53 53 to assigned", 1)]),
            rule(
                "legacy-in",
                2,
                2,
                vec![t(
                    tgpp::FLOW_INFORMATION,
                    true,
                    vec![t(tgpp::FLOW_DESCRIPTION, true, "permit in 6 from assigned to 192.0.2.80 80")],
                )],
            ),
        ])]);
        assert_eq!(i.decide(&up("192.0.2.53", Some(53), 17), &UE), Verdict::NoMatch, "downlink-only filter");
        let down = Packet { direction: Direction::Downlink, ..up("192.0.2.53", Some(53), 17) };
        assert_eq!(i.decide(&down, &UE), Verdict::Pass("dl-only".into()));
        assert_eq!(i.decide(&up("192.0.2.80", Some(80), 6), &UE), Verdict::Pass("legacy-in".into()));
        assert_eq!(i.gx_issues().len(), 3, "{:?}", i.gx_issues());
        // ENABLED-UPLINK lets uplink through and drops downlink.
        i.apply(&[install(vec![rule("dl-only", 1, 0, vec![flow("permit out 17 from 192.0.2.53 53 to assigned", 3)])])]);
        assert_eq!(i.decide(&down, &UE), Verdict::Drop("dl-only".into()));
        assert_eq!(i.decide(&up("192.0.2.53", Some(53), 17), &UE), Verdict::Pass("dl-only".into()));
    }

    #[test]
    fn install_modify_remove_and_failures() {
        let mut i = allowlist();
        // Modification keeps what is not sent (precedence) and replaces the filters.
        let modify = t(
            tgpp::CHARGING_RULE_DEFINITION,
            true,
            vec![
                t(tgpp::CHARGING_RULE_NAME, true, b"allow-1".to_vec()),
                flow("permit out ip from 198.51.101.0/24 to assigned", 3),
            ],
        );
        assert!(i.apply(&[install(vec![modify])]).is_empty());
        assert_eq!(i.rules["allow-1"].precedence, Some(100));
        assert_eq!(i.rules["allow-1"].flows.len(), 1);
        assert_eq!(i.decide(&up("198.51.100.9", Some(80), 6), &UE), Verdict::Drop("deny-all".into()));
        // Predefined names and bases, removal of both.
        let pre = install(vec![
            t(tgpp::CHARGING_RULE_NAME, true, b"dns".to_vec()),
            t(tgpp::CHARGING_RULE_BASE_NAME, true, b"iot".to_vec()),
        ]);
        i.apply(&[pre]);
        assert!(i.predefined.contains("dns") && i.base_names.contains("iot"));
        let remove = t(
            tgpp::CHARGING_RULE_REMOVE,
            true,
            vec![
                t(tgpp::CHARGING_RULE_NAME, true, b"allow-2".to_vec()),
                t(tgpp::CHARGING_RULE_NAME, true, b"dns".to_vec()),
                t(tgpp::CHARGING_RULE_NAME, true, b"nope".to_vec()),
                t(tgpp::CHARGING_RULE_BASE_NAME, true, b"iot".to_vec()),
            ],
        );
        let failed = i.apply(&[remove]);
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].name.as_str(), failed[0].code), ("nope", rule_failure::UNKNOWN_RULE_NAME));
        assert!(!i.rules.contains_key("allow-2") && i.predefined.is_empty() && i.base_names.is_empty());
        // A bad Flow-Description and a new rule without flows are refused, the rest installed.
        let failed = i.apply(&[install(vec![
            rule("bad", 5, 2, vec![flow("permit out tcp from any to assigned", 3)]),
            t(tgpp::CHARGING_RULE_DEFINITION, true, vec![t(tgpp::CHARGING_RULE_NAME, true, b"empty".to_vec())]),
            rule("good", 6, 2, vec![flow("permit out 17 from any 53 to assigned", 3)]),
        ])]);
        let codes: Vec<_> = failed.iter().map(|f| (f.name.as_str(), f.code)).collect();
        assert_eq!(
            codes,
            [("bad", rule_failure::INCORRECT_FLOW_INFORMATION), ("empty", rule_failure::MISSING_FLOW_INFORMATION)]
        );
        assert!(i.rules.contains_key("good") && !i.rules.contains_key("bad"));
        assert_eq!(i.failures.len(), 3);
    }

    #[test]
    fn qos_triggers_and_monitoring_are_recorded() {
        let mut i = Installed::default();
        let arp = t(
            tgpp::ALLOCATION_RETENTION_PRIORITY,
            false,
            vec![
                t(tgpp::PRIORITY_LEVEL, false, 9u32),
                t(tgpp::PRE_EMPTION_CAPABILITY, false, 1u32),
                t(tgpp::PRE_EMPTION_VULNERABILITY, false, 0u32),
            ],
        );
        i.apply(&[
            t(tgpp::EVENT_TRIGGER, true, 33u32),
            t(tgpp::EVENT_TRIGGER, true, 2u32),
            t(
                tgpp::QOS_INFORMATION,
                true,
                vec![
                    t(tgpp::APN_AGGREGATE_MAX_BITRATE_UL, true, 64_000u32),
                    t(tgpp::APN_AGGREGATE_MAX_BITRATE_DL, true, 128_000u32),
                ],
            ),
            t(tgpp::DEFAULT_EPS_BEARER_QOS, true, vec![t(tgpp::QOS_CLASS_IDENTIFIER, true, 9u32), arp]),
            t(
                tgpp::USAGE_MONITORING_INFORMATION,
                true,
                vec![
                    t(tgpp::MONITORING_KEY, true, b"mk1".to_vec()),
                    ietf(base::GRANTED_SERVICE_UNIT, vec![ietf(base::CC_TOTAL_OCTETS, 1_000_000u64)]),
                    t(tgpp::USAGE_MONITORING_LEVEL, true, 0u32),
                ],
            ),
        ]);
        assert_eq!(i.event_triggers, BTreeSet::from([2, 33]));
        assert_eq!(i.qos.unwrap().apn_ambr_dl, Some(128_000));
        let d = i.default_bearer_qos.unwrap();
        assert_eq!(d.qci, Some(9));
        let arp = d.arp.unwrap();
        assert_eq!((arp.priority_level, arp.may_pre_empt(), arp.pre_emptable()), (Some(9), Some(false), Some(true)));
        assert_eq!(i.monitoring[&b"mk1".to_vec()].total_octets, Some(1_000_000));
        i.apply(&[t(tgpp::EVENT_TRIGGER, true, EVENT_NO_EVENT_TRIGGERS)]);
        assert!(i.event_triggers.is_empty());
        i.apply(&[t(
            tgpp::USAGE_MONITORING_INFORMATION,
            true,
            vec![t(tgpp::MONITORING_KEY, true, b"mk1".to_vec()), t(tgpp::USAGE_MONITORING_SUPPORT, true, 0u32)],
        )]);
        assert!(i.monitoring.is_empty());
    }
}
