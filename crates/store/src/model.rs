//! Domain records of the store: SIMs, service profiles, EIR entries, serving nodes. Secrets are not
//! here: K and OPc/TOPc live sealed in the database and are opened only into `auc` key types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ids::{Iccid, Imei, Imsi, Msisdn, Plmn};

/// Parses a lowercase name into an enum value, naming the allowed values in the error.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The stored name.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.to_ascii_lowercase().as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!(concat!("unknown ", stringify!($name), " {:?} (allowed: ", $($text, " "),+, ")"), s)),
                }
            }
        }
    };
}

named_enum!(
    /// Lifecycle of a SIM.
    SimStatus {
        /// Provisioned, not yet in service: no vectors.
        Inventory = "inventory",
        /// In service.
        Active = "active",
        /// Temporarily out of service: no vectors, CLR sent.
        Suspended = "suspended",
        /// Permanently out of service.
        Terminated = "terminated",
    }
);

named_enum!(
    /// Priority class, which drives QoS/ARP and storm admission.
    Priority {
        /// Harm to people if lost (healthcare, alarms).
        Critical = "critical",
        /// The default.
        Standard = "standard",
        /// Pushed back first under load.
        Low = "low",
    }
);

named_enum!(
    /// Services a profile may grant (SUB-1).
    Service {
        /// Packet data.
        Data = "data",
        /// SMS.
        Sms = "sms",
        /// Voice.
        Voice = "voice",
    }
);

named_enum!(
    /// Radio access technologies that can be forbidden.
    Rat {
        /// 2G.
        Geran = "geran",
        /// 3G.
        Utran = "utran",
        /// 4G.
        Eutran = "eutran",
        /// NB-IoT.
        Nbiot = "nbiot",
        /// 5G NR (as seen by the EPC).
        Nr = "nr",
    }
);

named_enum!(
    /// IMEI lock policy of a profile (SUB-7).
    ImeiLock {
        /// No lock.
        None = "none",
        /// Bind to the first IMEI seen.
        First = "first",
        /// Only the IMEIs bound explicitly.
        List = "list",
    }
);

named_enum!(
    /// What to do when an IMEI breaks the lock.
    LockAction {
        /// Record an event only.
        Event = "event",
        /// Bar the subscription (suspend).
        Bar = "bar",
    }
);

named_enum!(
    /// PDN type of an APN.
    PdnType {
        /// IPv4.
        Ipv4 = "ipv4",
        /// IPv6.
        Ipv6 = "ipv6",
        /// Dual stack.
        Ipv4v6 = "ipv4v6",
        /// IPv4 or IPv6.
        Ipv4OrIpv6 = "ipv4_or_ipv6",
        /// Non-IP (NB-IoT).
        NonIp = "non_ip",
    }
);

named_enum!(
    /// EIR list colour (DM-3, DM-4).
    EirStatus {
        /// Allowed.
        White = "white",
        /// Allowed, tracked (greylisted while investigated).
        Grey = "grey",
        /// Barred.
        Black = "black",
    }
);

/// One APN of a service profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apn {
    /// Service-Selection (APN name).
    pub name: String,
    /// PDN type.
    #[serde(default = "default_pdn")]
    pub pdn_type: PdnType,
    /// QCI (1–9 standardised, up to 254 operator-specific).
    #[serde(default = "default_qci")]
    pub qci: u8,
    /// ARP priority level 1 (highest) to 15; default derived from the SIM's priority class.
    #[serde(default)]
    pub arp_priority: Option<u8>,
    /// APN-AMBR uplink, bit/s.
    #[serde(default)]
    pub ambr_ul: Option<u32>,
    /// APN-AMBR downlink, bit/s.
    #[serde(default)]
    pub ambr_dl: Option<u32>,
}

fn default_pdn() -> PdnType {
    PdnType::Ipv4
}
fn default_qci() -> u8 {
    9
}

/// A service profile: least privilege per subscription (SUB-1..3, NET-2, SUB-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProfile {
    /// Unique name.
    pub name: String,
    /// Services granted.
    pub services: Vec<Service>,
    /// Visited PLMNs allowed (empty: all).
    #[serde(default)]
    pub allowed_plmns: Vec<Plmn>,
    /// RATs forbidden.
    #[serde(default)]
    pub forbidden_rats: Vec<Rat>,
    /// IMEI lock policy.
    #[serde(default = "default_lock")]
    pub imei_lock: ImeiLock,
    /// Action on an IMEI lock violation.
    #[serde(default = "default_lock_action")]
    pub imei_lock_action: LockAction,
    /// UE-AMBR uplink, bit/s.
    #[serde(default)]
    pub ambr_ul: Option<u32>,
    /// UE-AMBR downlink, bit/s.
    #[serde(default)]
    pub ambr_dl: Option<u32>,
    /// The legacy allowlist (IP ranges or domains in one list): each entry is read as an
    /// `allow_prefixes` entry when it parses as one, else as an `allow_domains` entry
    /// ([`ServiceProfile::prefixes`], [`ServiceProfile::domains`]). Kept for profiles written
    /// before those fields existed.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Data traffic when the allowlists are empty: `restricted` (the default: nothing but DNS) or
    /// `open` (no restriction). Non-empty allowlists restrict either way (SUB-2).
    #[serde(default)]
    pub traffic: TrafficMode,
    /// Destination prefixes (with optional ports and protocol) the devices may reach.
    #[serde(default)]
    pub allow_prefixes: Vec<ids::PrefixRule>,
    /// Names the devices may resolve (exact, or `*.suffix`); their addresses become reachable for
    /// the records' TTL through the DNS firewall.
    #[serde(default)]
    pub allow_domains: Vec<ids::DomainPattern>,
    /// The tenant's management platform: the only destinations of a quarantined or data-barred SIM.
    #[serde(default)]
    pub quarantine_prefixes: Vec<ids::PrefixRule>,
    /// Names a quarantined SIM may still resolve (the management platform's).
    #[serde(default)]
    pub quarantine_domains: Vec<ids::DomainPattern>,
    /// Predefined PCC rule names configured on the P-GW, installed (Charging-Rule-Name) instead of
    /// dynamic rules built from the allowlists, where the operator prefers that. Empty: dynamic rules.
    #[serde(default)]
    pub predefined_rules: Vec<String>,
    /// Fixed dialling list for voice/SMS (stored; enforced by later work).
    #[serde(default)]
    pub fixed_dialling: Vec<String>,
    /// APN configuration.
    #[serde(default)]
    pub apn: Vec<Apn>,
    /// The operator's preferred visited networks written into the SIM's EF_OPLMNwAcT over the air
    /// (ROAM-5), in order: `"MCCMNC"` or `"MCCMNC:rat+rat"` with the RATs of [`Rat`] (without RATs:
    /// `geran+utran+eutran`). Empty: steering of roaming leaves these SIMs alone.
    #[serde(default)]
    pub oplmn: Vec<String>,
    /// Whether steering rewrites EF_PLMNwAcT (the user-controlled list) with the same content too.
    #[serde(default)]
    pub steer_plmnwact: bool,
    /// The size of the SIM's PLMN files in entries (5 bytes each), when larger than `oplmn`: the
    /// rest is written as unused entries. Default: the length of `oplmn`.
    #[serde(default)]
    pub oplmn_file_entries: Option<u16>,
    /// What steering does with a risky network in the list: move it to the end or remove it.
    #[serde(default)]
    pub steering: SteeringMode,
}

/// How steering of roaming treats a risky network in a SIM's preferred list (ROAM-5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SteeringMode {
    /// Moved behind every other network (the default: still usable when nothing else is).
    #[default]
    Demote,
    /// Removed from the list.
    Remove,
}

/// One entry of a profile's `oplmn` list: the network and its access technologies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferredPlmn {
    /// The network.
    pub plmn: Plmn,
    /// The access technologies.
    pub rats: Vec<Rat>,
}

impl PreferredPlmn {
    /// Parses `"MCCMNC"` or `"MCCMNC:rat+rat"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (plmn, rats) = s.split_once(':').unwrap_or((s, "geran+utran+eutran"));
        let plmn = plmn.parse::<Plmn>().map_err(|e| format!("oplmn entry {s:?}: {e}"))?;
        let rats = rats
            .split('+')
            .map(|r| r.parse::<Rat>().map_err(|e| format!("oplmn entry {s:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { plmn, rats })
    }
}

fn default_lock() -> ImeiLock {
    ImeiLock::None
}
fn default_lock_action() -> LockAction {
    LockAction::Event
}

/// What a profile lets through when its allowlists are empty (SUB-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficMode {
    /// Nothing but DNS (the default).
    #[default]
    Restricted,
    /// Everything.
    Open,
}

impl ServiceProfile {
    /// True for data-only subscriptions (Network-Access-Mode ONLY_PACKET).
    pub fn data_only(&self) -> bool {
        self.services == [Service::Data]
    }

    /// The allowed prefixes: `allow_prefixes` and the prefix entries of the legacy `ip_allowlist`.
    pub fn prefixes(&self) -> Vec<ids::PrefixRule> {
        let legacy = self.ip_allowlist.iter().filter_map(|e| e.parse::<ids::PrefixRule>().ok());
        let mut all: Vec<_> = self.allow_prefixes.iter().copied().chain(legacy).collect();
        all.dedup();
        all
    }

    /// The allowed names: `allow_domains` and the legacy `ip_allowlist` entries that are names.
    pub fn domains(&self) -> Vec<ids::DomainPattern> {
        let legacy = self
            .ip_allowlist
            .iter()
            .filter(|e| e.parse::<ids::PrefixRule>().is_err())
            .filter_map(|e| e.parse::<ids::DomainPattern>().ok());
        let mut all: Vec<_> = self.allow_domains.iter().cloned().chain(legacy).collect();
        all.dedup();
        all
    }

    /// The parsed `oplmn` list.
    pub fn preferred_plmns(&self) -> Result<Vec<PreferredPlmn>, String> {
        self.oplmn.iter().map(|e| PreferredPlmn::parse(e).map_err(|e| format!("profile {}: {e}", self.name))).collect()
    }

    /// Checks values a profile file might get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("profile name is empty".into());
        }
        self.preferred_plmns()?;
        if let Some(n) = self.oplmn_file_entries {
            if usize::from(n) < self.oplmn.len() || n > 6553 {
                return Err(format!(
                    "profile {}: oplmn_file_entries {n} must hold the {} oplmn entries (and at most 6553)",
                    self.name,
                    self.oplmn.len()
                ));
            }
        }
        if self.services.is_empty() {
            return Err(format!("profile {}: no services", self.name));
        }
        for e in &self.ip_allowlist {
            if e.parse::<ids::PrefixRule>().is_err() {
                if let Err(why) = e.parse::<ids::DomainPattern>() {
                    return Err(format!(
                        "profile {}: ip_allowlist entry is neither a prefix nor a name: {why}",
                        self.name
                    ));
                }
            }
        }
        if let Some(bad) =
            self.predefined_rules.iter().find(|r| r.is_empty() || r.len() > 128 || r.chars().any(char::is_control))
        {
            return Err(format!(
                "profile {}: predefined rule name {bad:?} must be 1-128 printable characters",
                self.name
            ));
        }
        for a in &self.apn {
            let label_ok = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if a.name.len() > 100 || !a.name.split('.').all(label_ok) {
                return Err(format!(
                    "profile {}: APN name {:?} must be dot-separated labels of letters, digits and '-'",
                    self.name, a.name
                ));
            }
            if a.qci == 0 || a.qci == 255 {
                return Err(format!("profile {}: APN {} has reserved QCI {} (use 1–254)", self.name, a.name, a.qci));
            }
            if a.arp_priority.is_some_and(|p| !(1..=15).contains(&p)) {
                return Err(format!("profile {}: APN {} ARP priority must be 1..15", self.name, a.name));
            }
        }
        Ok(())
    }
}

/// The authentication algorithm of a SIM with its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmSpec {
    /// MILENAGE.
    Milenage,
    /// TUAK with its output sizes and iterations.
    Tuak(auc::TuakParams),
}

impl AlgorithmSpec {
    /// `milenage` or `tuak:mac,res,ck,ik,iterations`.
    pub fn to_db(&self) -> String {
        match self {
            Self::Milenage => "milenage".into(),
            Self::Tuak(p) => format!("tuak:{},{},{},{},{}", p.mac_bits, p.res_bits, p.ck_bits, p.ik_bits, p.iterations),
        }
    }

    /// Reads the stored form.
    pub fn from_db(s: &str) -> Result<Self, String> {
        if s == "milenage" {
            return Ok(Self::Milenage);
        }
        let nums: Vec<u32> = s
            .strip_prefix("tuak:")
            .ok_or_else(|| format!("bad algorithm {s:?}"))?
            .split(',')
            .map(|x| x.parse().map_err(|_| format!("bad algorithm {s:?}")))
            .collect::<Result<_, _>>()?;
        let [mac_bits, res_bits, ck_bits, ik_bits, iterations] = nums[..] else {
            return Err(format!("bad algorithm {s:?}"));
        };
        let p = auc::TuakParams { mac_bits, res_bits, ck_bits, ik_bits, iterations };
        p.validate().map_err(|e| e.to_string())?;
        Ok(Self::Tuak(p))
    }
}

/// A SIM to provision: identities, keys in clear (sealed by the store before writing), settings.
#[derive(Debug, Clone)]
pub struct NewSim {
    /// IMSI.
    pub imsi: Imsi,
    /// ICCID.
    pub iccid: Option<Iccid>,
    /// MSISDN.
    pub msisdn: Option<Msisdn>,
    /// EID of the eUICC, when known.
    pub eid: Option<ids::Eid>,
    /// K.
    pub k: auc::Key,
    /// OPc (MILENAGE) or TOPc (TUAK): OP/TOP are converted before this point.
    pub opc: auc::SecretBytes<32>,
    /// AMF.
    pub amf: [u8; 2],
    /// Algorithm.
    pub algorithm: AlgorithmSpec,
    /// Service profile name.
    pub profile: Option<String>,
    /// Priority class.
    pub priority: Priority,
    /// Tenant (IoT service provider).
    pub tenant: String,
    /// Initial status.
    pub status: SimStatus,
}

/// Where a SIM is registered (the serving MME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingNode {
    /// Origin-Host of the MME.
    pub origin_host: String,
    /// Origin-Realm of the MME.
    pub origin_realm: String,
    /// Visited PLMN.
    pub plmn: Option<Plmn>,
    /// Unix seconds of the registration.
    pub since: i64,
}

/// A SIM as read from the store (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sim {
    /// IMSI.
    pub imsi: Imsi,
    /// ICCID.
    pub iccid: Option<String>,
    /// MSISDN.
    pub msisdn: Option<String>,
    /// EID of the eUICC.
    pub eid: Option<String>,
    /// Tenant.
    pub tenant: String,
    /// Status.
    pub status: SimStatus,
    /// Priority class.
    pub priority: Priority,
    /// Profile name.
    pub profile: Option<String>,
    /// Algorithm.
    pub algorithm: AlgorithmSpec,
    /// AMF.
    pub amf: [u8; 2],
    /// IMEIs bound to the SIM (IMEI lock).
    pub bound_imeis: Vec<String>,
    /// Serving MME.
    pub serving: Option<ServingNode>,
    /// Packet data barred by the operator or a rule (Operator-Determined-Barring bit 0).
    pub data_barred: bool,
}

/// An EIR list entry key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EirKey {
    /// One IMEI (14-digit body).
    Imei(String),
    /// A TAC (8 digits): every IMEI of a device model.
    Tac(String),
    /// An inclusive range of 14-digit IMEI bodies.
    Range(String, String),
}

/// An EIR list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EirEntry {
    /// What it matches.
    pub key: EirKey,
    /// Its colour.
    pub status: EirStatus,
    /// Why.
    pub reason: String,
    /// Where it came from (`operator`, `ceir`, …).
    pub source: String,
}

/// A Device Host Identity report (DM-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    /// The module's IMEI.
    pub imei: Imei,
    /// Host device make, model and software as reported.
    pub host: String,
    /// Unix seconds.
    pub reported_at: i64,
}
