//! The compiled rule set: the configuration checked once and turned into lookup tables the screening
//! path reads without allocating. A reload compiles a new [`Rules`] and swaps it in whole.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use diameter::dictionary::app;
use diameter::result_code as rc;
use diameter::Command;

use crate::config::{AnswerConfig, FirewallConfig};

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field has a value that cannot work.
    #[error("firewall.{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), reason: reason.into() }
}

/// The requests only the HSS sends, toward partners (S6a, TS 29.272): never accepted inbound, and
/// the only ones relayed outbound.
pub const OUTBOUND_COMMANDS: [Command; 4] = [Command::CLR, Command::IDR, Command::DSR, Command::RSR];

/// Every check and decision the firewall counts, with a stable id (metrics label, config key, events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Rule {
    /// Passed every check and forwarded.
    Pass = 0,
    /// Malformed message (RFC 6733 error answer).
    Malformed,
    /// Category 1: application id not allowed.
    Application,
    /// Category 1: command not allowed toward the HSS.
    Command,
    /// Our own identity in Route-Record: a routing loop.
    Loop,
    /// Category 2: Origin-Host/Origin-Realm not the partner's, or the host outside the realm.
    Origin,
    /// Category 2: Destination-Realm not a home realm.
    DestinationRealm,
    /// Category 2: IMSI outside the home ranges.
    HomeImsi,
    /// Category 2: Visited-PLMN-Id not one of the partner's.
    VisitedPlmn,
    /// Category 3: registration in another country too soon after the last one.
    Velocity,
    /// Category 3: PUR/NOR from a node that is not the registered MME.
    ServingNode,
    /// Per-IMSI budget exhausted.
    ImsiRate,
    /// Per-partner budget exhausted.
    PartnerRate,
    /// Overload: admission by priority refused.
    OverloadShed,
    /// Steering: outbound roamer registering in a risky visited network.
    RiskyPlmn,
    /// Steering: a critical device admitted after repeated rejections.
    CriticalRescue,
    /// Everything from a sinkholed partner.
    Sinkhole,
    /// Capabilities exchange refused (unknown or inconsistent peer).
    UnknownPeer,
    /// No upstream connection, or no answer in time.
    UpstreamUnavailable,
    /// A request of the HSS (CLR, IDR, DSR, RSR) relayed to a partner node.
    Outbound,
}

/// Number of [`Rule`] values.
pub const RULE_COUNT: usize = 20;

impl Rule {
    /// All rules, in id order.
    pub const ALL: [Rule; RULE_COUNT] = [
        Rule::Pass,
        Rule::Malformed,
        Rule::Application,
        Rule::Command,
        Rule::Loop,
        Rule::Origin,
        Rule::DestinationRealm,
        Rule::HomeImsi,
        Rule::VisitedPlmn,
        Rule::Velocity,
        Rule::ServingNode,
        Rule::ImsiRate,
        Rule::PartnerRate,
        Rule::OverloadShed,
        Rule::RiskyPlmn,
        Rule::CriticalRescue,
        Rule::Sinkhole,
        Rule::UnknownPeer,
        Rule::UpstreamUnavailable,
        Rule::Outbound,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Pass => "pass",
            Rule::Malformed => "malformed",
            Rule::Application => "c1-application",
            Rule::Command => "c1-command",
            Rule::Loop => "c1-loop",
            Rule::Origin => "c2-origin",
            Rule::DestinationRealm => "c2-destination-realm",
            Rule::HomeImsi => "c2-home-imsi",
            Rule::VisitedPlmn => "c2-visited-plmn",
            Rule::Velocity => "c3-velocity",
            Rule::ServingNode => "c3-serving-node",
            Rule::ImsiRate => "rate-imsi",
            Rule::PartnerRate => "rate-partner",
            Rule::OverloadShed => "overload-shed",
            Rule::RiskyPlmn => "steering-risky-plmn",
            Rule::CriticalRescue => "steering-critical-rescue",
            Rule::Sinkhole => "sinkhole",
            Rule::UnknownPeer => "peer-unknown",
            Rule::UpstreamUnavailable => "upstream-unavailable",
            Rule::Outbound => "outbound",
        }
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The documented default answer of a rule that answers.
    pub fn default_answer(self) -> Answer {
        match self {
            Rule::Pass | Rule::CriticalRescue | Rule::Malformed | Rule::Outbound => Answer::Result(rc::SUCCESS),
            Rule::Application => Answer::Result(rc::APPLICATION_UNSUPPORTED),
            Rule::Command => Answer::Result(rc::COMMAND_UNSUPPORTED),
            Rule::Loop => Answer::Result(rc::LOOP_DETECTED),
            Rule::Origin | Rule::VisitedPlmn | Rule::Velocity | Rule::ServingNode => {
                Answer::Result(rc::AUTHORIZATION_REJECTED)
            }
            Rule::DestinationRealm => Answer::Result(rc::REALM_NOT_SERVED),
            Rule::HomeImsi => Answer::Experimental(rc::EXP_USER_UNKNOWN),
            Rule::ImsiRate => Answer::Result(rc::UNABLE_TO_COMPLY),
            Rule::PartnerRate => Answer::Result(rc::TOO_BUSY),
            Rule::OverloadShed => Answer::Result(rc::UNABLE_TO_COMPLY),
            Rule::RiskyPlmn => Answer::Experimental(rc::EXP_ROAMING_NOT_ALLOWED),
            Rule::Sinkhole => Answer::Result(rc::UNABLE_TO_COMPLY),
            Rule::UnknownPeer => Answer::Result(rc::UNKNOWN_PEER),
            Rule::UpstreamUnavailable => Answer::Result(rc::UNABLE_TO_DELIVER),
        }
    }

    /// Whether the rule may be set to `detect` or `off` (the structural ones always enforce).
    fn configurable(self) -> bool {
        !matches!(
            self,
            Rule::Pass
                | Rule::Malformed
                | Rule::Loop
                | Rule::UnknownPeer
                | Rule::UpstreamUnavailable
                | Rule::Sinkhole
                | Rule::Outbound
        )
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Block with the rule's answer.
    Enforce,
    /// Count and report, let the request pass (learning after a restart or a storm).
    Detect,
    /// Not evaluated.
    Off,
}

/// An answer the firewall gives itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Result-Code.
    Result(u32),
    /// Experimental-Result (Vendor-Id 10415).
    Experimental(u32),
}

impl Answer {
    /// The code, whichever AVP carries it.
    pub fn code(self) -> u32 {
        match self {
            Answer::Result(c) | Answer::Experimental(c) => c,
        }
    }
}

impl TryFrom<AnswerConfig> for Answer {
    type Error = String;
    fn try_from(a: AnswerConfig) -> Result<Self, String> {
        match (a.result_code, a.experimental_result_code) {
            (Some(c), None) if (1000..6000).contains(&c) => Ok(Answer::Result(c)),
            (None, Some(c)) if (1000..6000).contains(&c) => Ok(Answer::Experimental(c)),
            (Some(_), Some(_)) => Err("give result_code or experimental_result_code, not both".into()),
            (None, None) => Err("give result_code or experimental_result_code".into()),
            _ => Err("a code must be between 1000 and 5999".into()),
        }
    }
}

/// Device priority for overload admission and steering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Never shed by priority, budgets or steering (admitted while the HSS has any capacity, and
    /// may use the critical reserve).
    Critical,
    /// Gets what critical devices leave of the capacity.
    Standard,
    /// Gets what critical and standard devices leave of the capacity (shed first).
    Low,
}

impl Priority {
    /// Label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::Standard => "standard",
            Priority::Low => "low",
        }
    }
}

/// A PLMN id as carried in Visited-PLMN-Id: the identity type of the `ids` crate, held in its three
/// BCD octets (TS 24.008 §10.5.1.13), so it hashes and compares without decoding.
pub use ids::Plmn;

/// An IMSI packed into a `u64`: the digits as a number, and the digit count in the top byte (so
/// leading zeros count).
pub type ImsiKey = u64;

/// Packs 6 to 15 ASCII digits; `None` for anything else.
pub fn imsi_key(digits: &[u8]) -> Option<ImsiKey> {
    if !(6..=15).contains(&digits.len()) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v | ((digits.len() as u64) << 56))
}

/// The digits of a packed IMSI.
pub fn imsi_string(k: ImsiKey) -> String {
    let len = (k >> 56) as usize;
    format!("{:0len$}", k & ((1 << 56) - 1))
}

/// One partner, compiled.
#[derive(Debug, Clone)]
pub struct Partner {
    /// Name for metrics and events.
    pub name: std::sync::Arc<str>,
    /// Origin-Hosts, lower case.
    pub hosts: Vec<String>,
    /// Realms, lower case.
    pub realms: Vec<String>,
    /// PLMNs.
    pub plmns: Vec<Plmn>,
    /// Source addresses (empty: any).
    pub addresses: Vec<IpAddr>,
    /// Budget (rate, burst), if any.
    pub budget: Option<(f64, f64)>,
    /// Sinkholed.
    pub sinkhole: bool,
}

/// How sinkholed partners are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkholeMode {
    /// Read and discard.
    Drop,
    /// Answer everything with the `sinkhole` answer.
    Answer,
}

/// The compiled rule set.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The firewall's Origin-Host.
    pub origin_host: String,
    /// The firewall's Origin-Realm.
    pub origin_realm: String,
    /// Partners.
    pub partners: Vec<Partner>,
    host_index: HashMap<String, usize>,
    /// Home realms, lower case.
    pub home_realms: Vec<String>,
    /// Home PLMNs.
    pub home_plmns: Vec<Plmn>,
    /// Home IMSI prefixes.
    pub home_prefixes: Vec<Vec<u8>>,
    /// Allowed application ids.
    pub applications: Vec<u32>,
    /// Commands allowed toward the HSS (the inbound matrix).
    pub inbound: Vec<Command>,
    modes: [Mode; RULE_COUNT],
    answers: [Answer; RULE_COUNT],
    /// Default minimum time between registrations in different countries.
    pub velocity_default: Duration,
    velocity_pairs: HashMap<(u16, u16), Duration>,
    /// Per-IMSI budget (rate, burst).
    pub imsi_budget: (f64, f64),
    /// Global budget (rate, burst).
    pub capacity: (f64, f64),
    /// Upstream in-flight limit.
    pub upstream_max_in_flight: usize,
    /// Upstream latency limit.
    pub upstream_max_latency: Duration,
    /// High-water fraction.
    pub high_water: f64,
    /// Tokens of the global burst only critical devices may use.
    pub critical_reserve: f64,
    /// Tokens of the global burst, above the critical reserve, that low-priority devices leave to
    /// standard ones.
    pub low_headroom: f64,
    /// OC-Validity-Duration.
    pub doic_validity_secs: u32,
    /// Risky PLMNs by configuration.
    pub risky_plmns: HashSet<Plmn>,
    /// Steering settings.
    pub steering: crate::config::SteeringConfig,
    critical_imsis: HashSet<ImsiKey>,
    critical_prefixes: Vec<Vec<u8>>,
    low_imsis: HashSet<ImsiKey>,
    low_prefixes: Vec<Vec<u8>>,
    /// Sinkhole treatment.
    pub sinkhole_mode: SinkholeMode,
    /// Origin-Host must lie in Origin-Realm.
    pub host_in_realm: bool,
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.to_ascii_lowercase()).collect()
}

fn digits(field: &str, v: &[String]) -> Result<Vec<Vec<u8>>, ConfigError> {
    v.iter()
        .map(|p| {
            if p.is_empty() || p.len() > 15 || !p.bytes().all(|b| b.is_ascii_digit()) {
                Err(invalid(field, format!("{p:?} is not an IMSI prefix (1-15 digits)")))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

fn imsis(field: &str, v: &[String]) -> Result<HashSet<ImsiKey>, ConfigError> {
    v.iter().map(|s| imsi_key(s.as_bytes()).ok_or_else(|| invalid(field, format!("{s:?} is not an IMSI")))).collect()
}

fn plmns(field: &str, v: &[String]) -> Result<Vec<Plmn>, ConfigError> {
    v.iter()
        .map(|s| {
            s.parse::<Plmn>().map_err(|_| invalid(field, format!("{s:?} is not a PLMN id (MCC+MNC, 5 or 6 digits)")))
        })
        .collect()
}

fn positive(field: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(field, "must be a positive number"))
    }
}

/// True when `digits` starts with one of `prefixes`.
pub fn has_prefix(prefixes: &[Vec<u8>], digits: &[u8]) -> bool {
    prefixes.iter().any(|p| digits.starts_with(p))
}

impl Rules {
    /// Checks a configuration and compiles it.
    pub fn compile(c: &FirewallConfig) -> Result<Self, ConfigError> {
        if c.origin_host.is_empty() || c.origin_realm.is_empty() {
            return Err(invalid("origin_host", "origin_host and origin_realm must be set"));
        }
        if c.upstream_connections == 0 || c.upstream_connections > 64 {
            return Err(invalid("upstream_connections", "must be between 1 and 64"));
        }
        if c.watchdog_secs < 6 {
            return Err(invalid("watchdog_secs", "must be at least 6 (RFC 3539)"));
        }
        if c.max_in_flight == 0 {
            return Err(invalid("max_in_flight", "must be at least 1"));
        }
        if !c.listen.ip().is_loopback() && c.partners.is_empty() {
            return Err(invalid("listen", "not a loopback address but no partners are configured"));
        }
        if c.home.realms.is_empty() || c.home.imsi_prefixes.is_empty() {
            return Err(invalid("home", "realms and imsi_prefixes must not be empty"));
        }
        let mut inbound = Vec::new();
        for name in &c.inbound_commands {
            let upper = name.to_ascii_uppercase();
            let request = Command::from_abbrev(&upper).filter(|c| c.request_abbrev() == upper);
            if request.is_some_and(|c| OUTBOUND_COMMANDS.contains(&c)) {
                return Err(invalid("inbound_commands", format!("{name} is sent by the HSS, never toward it")));
            }
            let cmd = request
                .filter(|c| c.app() != app::COMMON)
                .ok_or_else(|| invalid("inbound_commands", format!("{name} is not an application request")))?;
            if !c.applications.contains(&cmd.app()) {
                return Err(invalid("inbound_commands", format!("{name} belongs to an application not allowed")));
            }
            inbound.push(cmd);
        }
        let mut partners = Vec::new();
        let mut host_index = HashMap::new();
        for (i, p) in c.partners.iter().enumerate() {
            let f = format!("partners[{i}]");
            if p.origin_hosts.is_empty() || p.realms.is_empty() || p.plmns.is_empty() {
                return Err(invalid(f, "origin_hosts, realms and plmns must not be empty"));
            }
            let hosts = lower(&p.origin_hosts);
            for h in &hosts {
                if host_index.insert(h.clone(), i).is_some() {
                    return Err(invalid(f, format!("Origin-Host {h} is configured twice")));
                }
            }
            let budget = match p.rate_per_sec {
                Some(r) => {
                    let r = positive(&format!("{f}.rate_per_sec"), r)?;
                    Some((r, positive(&format!("{f}.burst"), p.burst.unwrap_or(r))?))
                }
                None => None,
            };
            partners.push(Partner {
                name: p.name.as_str().into(),
                hosts,
                realms: lower(&p.realms),
                plmns: plmns(&format!("{f}.plmns"), &p.plmns)?,
                addresses: p.addresses.clone(),
                budget,
                sinkhole: p.sinkhole,
            });
        }
        let mut modes = [Mode::Enforce; RULE_COUNT];
        for (id, m) in &c.rules {
            let rule = Rule::from_id(id).ok_or_else(|| invalid("rules", format!("unknown rule id {id:?}")))?;
            if !rule.configurable() {
                return Err(invalid("rules", format!("{id} always applies")));
            }
            modes[rule as usize] = match m.as_str() {
                "enforce" => Mode::Enforce,
                "detect" => Mode::Detect,
                "off" => Mode::Off,
                other => return Err(invalid(format!("rules.{id}"), format!("{other:?}: use enforce, detect or off"))),
            };
        }
        let mut answers = Rule::ALL.map(Rule::default_answer);
        for (id, a) in &c.answers {
            let rule = Rule::from_id(id).ok_or_else(|| invalid("answers", format!("unknown rule id {id:?}")))?;
            answers[rule as usize] = Answer::try_from(*a).map_err(|e| invalid(format!("answers.{id}"), e))?;
        }
        let minutes = |field: &str, m: f64| {
            if m.is_finite() && m >= 0.0 {
                Ok(Duration::from_secs_f64(m * 60.0))
            } else {
                Err(invalid(field, "must be zero or more minutes"))
            }
        };
        let mut velocity_pairs = HashMap::new();
        for (i, p) in c.velocity.pairs.iter().enumerate() {
            let f = format!("velocity.pairs[{i}]");
            let mcc = |s: &String| -> Result<u16, ConfigError> {
                s.parse::<u16>()
                    .ok()
                    .filter(|_| s.len() == 3)
                    .ok_or_else(|| invalid(&f, format!("{s:?} is not an MCC")))
            };
            let (a, b) = (mcc(&p.mcc[0])?, mcc(&p.mcc[1])?);
            let d = minutes(&f, p.min_minutes)?;
            velocity_pairs.insert((a, b), d);
            velocity_pairs.insert((b, a), d);
        }
        let o = &c.overload;
        let capacity = positive("overload.capacity_per_sec", o.capacity_per_sec)?;
        if !(0.0..1.0).contains(&o.critical_reserve) {
            return Err(invalid("overload.critical_reserve", "must be in [0, 1)"));
        }
        if !(0.0..1.0).contains(&o.low_headroom) || o.critical_reserve + o.low_headroom >= 1.0 {
            return Err(invalid("overload.low_headroom", "must be in [0, 1) with critical_reserve + low_headroom < 1"));
        }
        // Every class must be admissible from a full budget: a low-priority device needs
        // 1 + (critical_reserve + low_headroom) × burst tokens, at most the burst.
        let min_burst = 1.0 / (1.0 - o.critical_reserve - o.low_headroom);
        let burst = positive("overload.burst", o.burst.unwrap_or((capacity / 20.0).max(min_burst)))?;
        if burst < min_burst {
            return Err(invalid(
                "overload.burst",
                format!(
                    "{burst} is too small: with critical_reserve {} and low_headroom {} it must be at least \
                     {min_burst:.2}, or standard and low-priority devices could never be admitted",
                    o.critical_reserve, o.low_headroom
                ),
            ));
        }
        if !(o.high_water > 0.0 && o.high_water <= 1.0) {
            return Err(invalid("overload.high_water", "must be in (0, 1]"));
        }
        let s = &c.steering;
        if !(s.failure_ratio > 0.0 && s.failure_ratio <= 1.0) {
            return Err(invalid("steering.failure_ratio", "must be in (0, 1]"));
        }
        if s.window_secs == 0 || s.critical_rescue_window_secs == 0 {
            return Err(invalid("steering", "windows must be at least one second"));
        }
        let sinkhole_mode = match c.sinkhole.mode.as_str() {
            "drop" => SinkholeMode::Drop,
            "answer" => SinkholeMode::Answer,
            other => return Err(invalid("sinkhole.mode", format!("{other:?}: use drop or answer"))),
        };
        let p = &c.priority;
        Ok(Self {
            origin_host: c.origin_host.clone(),
            origin_realm: c.origin_realm.clone(),
            partners,
            host_index,
            home_realms: lower(&c.home.realms),
            home_plmns: plmns("home.plmns", &c.home.plmns)?,
            home_prefixes: digits("home.imsi_prefixes", &c.home.imsi_prefixes)?,
            applications: c.applications.clone(),
            inbound,
            modes,
            answers,
            velocity_default: minutes("velocity.min_minutes", c.velocity.min_minutes)?,
            velocity_pairs,
            imsi_budget: (
                positive("budgets.imsi_rate_per_sec", c.budgets.imsi_rate_per_sec)?,
                positive("budgets.imsi_burst", c.budgets.imsi_burst)?,
            ),
            capacity: (capacity, burst),
            upstream_max_in_flight: o.max_in_flight.max(1),
            upstream_max_latency: Duration::from_secs_f64(positive("overload.max_latency_ms", o.max_latency_ms)? / 1e3),
            high_water: o.high_water,
            critical_reserve: o.critical_reserve * burst,
            low_headroom: o.low_headroom * burst,
            doic_validity_secs: o.doic_validity_secs.clamp(1, 86_400),
            risky_plmns: plmns("steering.risky_plmns", &s.risky_plmns)?.into_iter().collect(),
            steering: s.clone(),
            critical_imsis: imsis("priority.critical_imsis", &p.critical_imsis)?,
            critical_prefixes: digits("priority.critical_imsi_prefixes", &p.critical_imsi_prefixes)?,
            low_imsis: imsis("priority.low_imsis", &p.low_imsis)?,
            low_prefixes: digits("priority.low_imsi_prefixes", &p.low_imsi_prefixes)?,
            sinkhole_mode,
            host_in_realm: c.host_in_realm,
        })
    }

    /// The partner an Origin-Host belongs to.
    pub fn partner_by_host(&self, host: &str) -> Option<usize> {
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            self.host_index.get(&host.to_ascii_lowercase()).copied()
        } else {
            self.host_index.get(host).copied()
        }
    }

    /// The mode of a rule.
    pub fn mode(&self, r: Rule) -> Mode {
        self.modes[r as usize]
    }

    /// The answer of a rule.
    pub fn answer(&self, r: Rule) -> Answer {
        self.answers[r as usize]
    }

    /// Minimum time between registrations in two countries.
    pub fn velocity(&self, from: u16, to: u16) -> Duration {
        self.velocity_pairs.get(&(from, to)).copied().unwrap_or(self.velocity_default)
    }

    /// The configured priority of an IMSI (standard when not listed).
    pub fn priority(&self, key: ImsiKey, digits: &[u8]) -> Priority {
        if self.critical_imsis.contains(&key) || has_prefix(&self.critical_prefixes, digits) {
            Priority::Critical
        } else if self.low_imsis.contains(&key) || has_prefix(&self.low_prefixes, digits) {
            Priority::Low
        } else {
            Priority::Standard
        }
    }

    /// True when a PLMN is a home PLMN.
    pub fn is_home_plmn(&self, p: &Plmn) -> bool {
        self.home_plmns.contains(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plmn_round_trip() {
        let p = |s: &str| s.parse::<Plmn>();
        assert_eq!(p("00101").unwrap().to_bcd(), [0x00, 0xf1, 0x10]);
        assert_eq!(p("310260").unwrap().to_bcd(), [0x13, 0x00, 0x62]);
        assert_eq!(p("26201").unwrap().to_string(), "26201");
        assert_eq!(p("310260").unwrap().to_string(), "310260");
        assert_eq!(p("26201").unwrap().mcc(), 262);
        assert!(p("2620").is_err());
        assert!(p("26a01").is_err());
    }

    #[test]
    fn imsi_keys_keep_leading_zeros() {
        let k = imsi_key(b"001010000000001").unwrap();
        assert_eq!(imsi_string(k), "001010000000001");
        assert_ne!(imsi_key(b"01010000000001"), Some(k));
        assert_eq!(imsi_key(b"12345"), None);
        assert_eq!(imsi_key(b"0010100000000x1"), None);
    }

    #[test]
    fn the_shipped_example_compiles() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/firewall.toml");
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let section = toml::to_string(&doc["firewall"]).unwrap();
        let rules = Rules::compile(&FirewallConfig::from_toml(&section).unwrap()).unwrap();
        assert_eq!(rules.partners.len(), 2);
        assert_eq!(rules.mode(Rule::Velocity), Mode::Detect);
        assert_eq!(rules.velocity(262, 208), Duration::from_secs(20 * 60));
        assert_eq!(rules.answer(Rule::RiskyPlmn), Answer::Experimental(5004));
    }

    #[test]
    fn refuses_bad_configurations() {
        let base = r#"
            [home]
            realms = ["home.example"]
            imsi_prefixes = ["00101"]
        "#;
        let ok = FirewallConfig::from_toml(base).unwrap();
        Rules::compile(&ok).unwrap();
        for (extra, needle) in [
            ("inbound_commands = [\"CLR\"]", "never toward it"),
            ("[rules]\nc9-nothing = \"enforce\"", "unknown rule id"),
            ("[rules]\nc3-velocity = \"sometimes\"", "use enforce"),
            ("[answers]\nc3-velocity = { result_code = 5003, experimental_result_code = 5004 }", "not both"),
            ("[overload]\ncapacity_per_sec = 0", "positive"),
            ("[overload]\nburst = 2", "at least 4.00"),
            ("[overload]\nlow_headroom = 0.5", "critical_reserve + low_headroom < 1"),
            ("[steering]\nrisky_plmns = [\"2620\"]", "PLMN"),
        ] {
            let text = if extra.starts_with('[') { format!("{base}\n{extra}") } else { format!("{extra}\n{base}") };
            let err = Rules::compile(&FirewallConfig::from_toml(&text).unwrap()).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra}: {err}");
        }
    }
}
