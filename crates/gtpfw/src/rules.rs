//! The compiled rule set: partners by source address, home ranges, allowlists per interface, rule
//! modes, and the Cause each rule answers with (TS 29.274 Table 8.4-1; see docs/gtp.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use firewall::rules::Mode;
use firewall::Priority;
use gtpc::v2::values::cause;
use gtpc::Plmn;

use crate::config::GtpConfig;

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gtp.{field}: {reason}")]
pub struct ConfigError {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), reason: reason.into() }
}

macro_rules! rules {
    ($($(#[$m:meta])* $name:ident = $id:literal;)*) => {
        /// A check of the firewall (its id is the key in `[gtp.rules]` and the `rule` label).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $($(#[$m])* $name,)* }
        impl Rule {
            /// Every rule.
            pub const ALL: &'static [Rule] = &[$(Rule::$name,)*];
            /// The rule's id.
            pub fn id(self) -> &'static str { match self { $(Rule::$name => $id,)* } }
            /// The rule with this id.
            pub fn from_id(id: &str) -> Option<Rule> { Rule::ALL.iter().copied().find(|r| r.id() == id) }
        }
    };
}

rules! {
    /// No rule matched: relayed.
    Relay = "relay";
    /// The source address is no partner's: dropped, never answered.
    UnknownSource = "unknown-source";
    /// The datagram does not decode.
    Malformed = "malformed";
    /// The message type is not on the partner interface's allowlist.
    MessageType = "message-type";
    /// A mandatory IE is missing or does not read as its type.
    MandatoryIe = "mandatory-ie";
    /// The IMSI is not in the home ranges.
    ImsiRange = "imsi-range";
    /// The Serving Network is not one of the partner's PLMNs.
    ServingNetwork = "serving-network";
    /// The subscriber is not registered (S6a) in that visited network.
    NotRegistered = "not-registered";
    /// The APN is not in the SIM's profile.
    Apn = "apn";
    /// A response to no request seen (or one expired).
    UnexpectedResponse = "unexpected-response";
    /// A request for a tunnel this partner did not create (or no tunnel at all).
    ForeignTunnel = "foreign-tunnel";
    /// Too many of the partner's requests wait for a response.
    PendingFull = "pending-full";
    /// The partner's session set-up budget is spent.
    PartnerRate = "partner-rate";
    /// The subscriber's session set-up budget is spent.
    ImsiRate = "imsi-rate";
    /// The partner holds its maximum of tunnels.
    TunnelCap = "tunnel-cap";
    /// The P-GW's capacity is used (priority admission).
    Overload = "overload";
    /// The subscriber's view (S6a registration, profile, priority) could not be read from the store
    /// in time (`lookup_timeout_ms`), or too many requests already wait for one (`max_parked`).
    LookupTimeout = "lookup-timeout";
}

impl Rule {
    /// The Cause value of the response the firewall sends when the rule blocks a request, `None`
    /// when it drops instead (TS 29.274 Table 8.4-1; the choice per rule is in docs/gtp.md).
    pub fn cause(self) -> Option<u8> {
        Some(match self {
            Rule::Relay | Rule::UnknownSource | Rule::MessageType | Rule::UnexpectedResponse | Rule::PendingFull => {
                return None
            }
            Rule::Malformed => cause::INVALID_MESSAGE_FORMAT,
            Rule::MandatoryIe => cause::MANDATORY_IE_MISSING,
            Rule::ImsiRange | Rule::ServingNetwork => cause::REQUEST_REJECTED,
            Rule::NotRegistered => cause::USER_AUTHENTICATION_FAILED,
            Rule::Apn => cause::APN_ACCESS_DENIED,
            Rule::ForeignTunnel => cause::CONTEXT_NOT_FOUND,
            Rule::PartnerRate | Rule::TunnelCap | Rule::LookupTimeout => cause::NO_RESOURCES_AVAILABLE,
            Rule::ImsiRate | Rule::Overload => cause::APN_CONGESTION,
        })
    }
}

/// Which reference point a partner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// S8, GTPv2-C (TS 29.274).
    S8,
    /// Gp, GTPv1-C (TS 29.060).
    Gp,
}

/// GTPv2-C types a partner S-GW may send on S8 (TS 29.274 Table 6.1-1, S5/S8 column): Echo, Create
/// / Modify / Delete Session Request, Change Notification Request, Modify / Delete Bearer Command,
/// Bearer Resource Command, the responses to the P-GW's Create / Update / Delete Bearer Request,
/// Suspend and Resume Notification (and their acknowledgements are from the P-GW).
pub const S8_UPLINK: &[u8] = &[1, 2, 32, 34, 36, 38, 64, 66, 68, 96, 98, 100, 162, 164];
/// GTPv2-C types the P-GW may send to a partner on S8.
pub const S8_DOWNLINK: &[u8] = &[1, 2, 33, 35, 37, 39, 65, 67, 69, 95, 97, 99, 163, 165];
/// GTPv1-C types a partner SGSN may send on Gp (TS 29.060 Table 1): Echo, Create / Update / Delete
/// PDP Context Request, and the responses to the GGSN's Update / Delete PDP Context Request.
pub const GP_UPLINK: &[u8] = &[1, 2, 16, 18, 19, 20, 21];
/// GTPv1-C types the GGSN may send to a partner on Gp.
pub const GP_DOWNLINK: &[u8] = &[1, 2, 17, 18, 19, 20, 21];

/// A roaming partner.
#[derive(Debug, Clone)]
pub struct Partner {
    /// Its name.
    pub name: Arc<str>,
    /// Its PLMNs.
    pub plmns: Vec<Plmn>,
    /// S8 or Gp.
    pub interface: Interface,
    /// Session set-ups per second.
    pub setup_rate: f64,
    /// Tunnels at once.
    pub max_tunnels: usize,
    /// Gets Overload Control Information.
    pub overload_control: bool,
    /// Message types it may send.
    pub allow: Vec<u8>,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Partners.
    pub partners: Vec<Partner>,
    /// Partner index by source address.
    pub by_address: HashMap<IpAddr, usize, foldhash::fast::RandomState>,
    /// Home IMSI prefixes (digits).
    pub imsi_prefixes: Vec<Vec<u8>>,
    /// Home PLMNs.
    pub home_plmns: Vec<Plmn>,
    modes: HashMap<Rule, Mode>,
    /// Per-IMSI set-ups per second, and burst.
    pub imsi_rate: (f64, f64),
    /// P-GW capacity per second.
    pub capacity: f64,
    /// The door's burst in requests.
    pub burst: f64,
    /// Critical reserve in requests.
    pub reserve: f64,
    /// Low headroom in requests.
    pub low_headroom: f64,
    /// PGW Back-Off Time.
    pub backoff: Duration,
    /// OCI period of validity.
    pub validity: Duration,
    /// Registration grace window.
    pub grace: Duration,
    /// Request expiry.
    pub request_timeout: Duration,
    /// Pending requests per partner.
    pub max_pending: usize,
    /// Per-IMSI budgets kept.
    pub max_subscribers: usize,
    critical: Vec<Vec<u8>>,
    low: Vec<Vec<u8>>,
}

fn plmn(field: &str, s: &str) -> Result<Plmn, ConfigError> {
    if !(5..=6).contains(&s.len()) {
        return Err(invalid(field, format!("{s:?} is not a PLMN id (MCC and MNC, 5 or 6 digits)")));
    }
    Plmn::new(&s[..3], &s[3..]).map_err(|e| invalid(field, format!("{s:?}: {e}")))
}

fn prefixes(field: &str, list: &[String]) -> Result<Vec<Vec<u8>>, ConfigError> {
    list.iter()
        .map(|p| {
            if p.is_empty() || p.len() > 15 || !p.bytes().all(|b| b.is_ascii_digit()) {
                Err(invalid(field, format!("{p:?} is not an IMSI prefix (1 to 15 digits)")))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

impl Rules {
    /// Checks a configuration and compiles it.
    pub fn compile(c: &GtpConfig) -> Result<Rules, ConfigError> {
        let mut partners = Vec::new();
        let mut by_address = HashMap::default();
        for (i, p) in c.partners.iter().enumerate() {
            let field = format!("partners[{i}]");
            if p.name.is_empty() {
                return Err(invalid(format!("{field}.name"), "empty"));
            }
            if p.addresses.is_empty() || p.plmns.is_empty() {
                return Err(invalid(&field, "a partner needs addresses and plmns"));
            }
            let interface = match p.interface.as_str() {
                "s8" => Interface::S8,
                "gp" => Interface::Gp,
                other => return Err(invalid(format!("{field}.interface"), format!("{other:?}: use \"s8\" or \"gp\""))),
            };
            if !(p.setup_rate_per_sec > 0.0 && p.setup_rate_per_sec.is_finite()) {
                return Err(invalid(format!("{field}.setup_rate_per_sec"), "must be positive"));
            }
            for a in &p.addresses {
                if by_address.insert(*a, partners.len()).is_some() {
                    return Err(invalid(format!("{field}.addresses"), format!("{a} belongs to two partners")));
                }
            }
            let plmns = p.plmns.iter().map(|s| plmn(&format!("{field}.plmns"), s)).collect::<Result<_, _>>()?;
            let allow = p.allow.clone().unwrap_or_else(|| match interface {
                Interface::S8 => S8_UPLINK.to_vec(),
                Interface::Gp => GP_UPLINK.to_vec(),
            });
            partners.push(Partner {
                name: p.name.as_str().into(),
                plmns,
                interface,
                setup_rate: p.setup_rate_per_sec,
                max_tunnels: p.max_tunnels,
                overload_control: p.overload_control,
                allow,
            });
        }
        let mut modes = HashMap::new();
        for (id, m) in &c.rules {
            let r = Rule::from_id(id).ok_or_else(|| invalid("rules", format!("unknown rule {id:?}")))?;
            let mode = match m.as_str() {
                "enforce" => Mode::Enforce,
                "detect" => Mode::Detect,
                "off" => Mode::Off,
                other => return Err(invalid(format!("rules.{id}"), format!("{other:?}: use enforce, detect or off"))),
            };
            modes.insert(r, mode);
        }
        let o = &c.overload;
        if !(o.capacity_per_sec >= 1.0 && o.capacity_per_sec.is_finite()) {
            return Err(invalid("overload.capacity_per_sec", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&o.burst_share)
            || !(0.0..=1.0).contains(&o.critical_reserve)
            || !(0.0..=1.0).contains(&o.low_headroom)
        {
            return Err(invalid("overload", "burst_share, critical_reserve and low_headroom are shares (0 to 1)"));
        }
        if !(c.budgets.imsi_setups_per_min > 0.0 && c.budgets.imsi_burst >= 1.0) {
            return Err(invalid("budgets", "imsi_setups_per_min must be positive and imsi_burst at least 1"));
        }
        if !(1..=64).contains(&c.workers) {
            return Err(invalid("workers", "from 1 to 64 receiving tasks"));
        }
        match (c.offenders.action.as_str(), &c.offenders.profile) {
            ("none" | "bar-data", _) | ("profile", Some(_)) => {}
            ("profile", None) => return Err(invalid("offenders.profile", "action = \"profile\" needs a profile")),
            (other, _) => {
                return Err(invalid(
                    "offenders.action",
                    format!("{other:?}: use \"none\", \"bar-data\" or \"profile\""),
                ))
            }
        }
        if c.offenders.refusals == 0 || c.offenders.window_secs == 0 {
            return Err(invalid("offenders", "refusals and window_secs must be positive"));
        }
        if c.lookup_timeout_ms == 0 || c.max_parked == 0 {
            return Err(invalid("lookup_timeout_ms", "lookup_timeout_ms and max_parked must be positive"));
        }
        if o.critical_reserve + o.low_headroom > 0.9 {
            return Err(invalid("overload", "critical_reserve + low_headroom must leave a tenth of the burst"));
        }
        // Every class must be able to pass: the burst holds at least the low floor plus one.
        let burst = (o.capacity_per_sec * o.burst_share).max(1.0 / (1.0 - o.critical_reserve - o.low_headroom));
        Ok(Rules {
            partners,
            by_address,
            imsi_prefixes: prefixes("home.imsi_prefixes", &c.home.imsi_prefixes)?,
            home_plmns: c.home.plmns.iter().map(|s| plmn("home.plmns", s)).collect::<Result<_, _>>()?,
            modes,
            imsi_rate: (c.budgets.imsi_setups_per_min / 60.0, c.budgets.imsi_burst),
            capacity: o.capacity_per_sec,
            burst,
            reserve: burst * o.critical_reserve,
            low_headroom: burst * o.low_headroom,
            backoff: Duration::from_secs(u64::from(o.backoff_secs)),
            validity: Duration::from_secs(u64::from(o.validity_secs)),
            grace: Duration::from_secs(c.registration_grace_secs),
            request_timeout: Duration::from_millis(c.request_timeout_ms),
            max_pending: c.max_pending_per_partner,
            max_subscribers: c.max_subscribers,
            critical: prefixes("priority.critical", &c.priority.critical)?,
            low: prefixes("priority.low", &c.priority.low)?,
        })
    }

    /// The mode of a rule (enforce unless configured).
    pub fn mode(&self, r: Rule) -> Mode {
        self.modes.get(&r).copied().unwrap_or(Mode::Enforce)
    }

    /// The priority the configured prefix lists give an IMSI.
    pub fn priority(&self, imsi: &str) -> Priority {
        if firewall::rules::has_prefix(&self.critical, imsi.as_bytes()) {
            Priority::Critical
        } else if firewall::rules::has_prefix(&self.low, imsi.as_bytes()) {
            Priority::Low
        } else {
            Priority::Standard
        }
    }

    /// The door refills at the capacity less what its burst and the critical reserve may add, so
    /// that no second (sliding) lets more than the capacity through.
    pub fn door_rate(&self) -> f64 {
        (self.capacity - self.burst - self.reserve).max(self.capacity * 0.5)
    }
}
