//! The catalogue of checks: stable IDs, each tied to one requirement ID of REQUIREMENTS.md (the GSMA
//! CLP.14 recommendation it comes from), with a severity, an area, the risk and the remediation.
//! IDs are never reused or renumbered; a retired check keeps its ID out of use.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How bad a finding is, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Evidence or advice; never gates.
    Info,
    /// Hardening.
    Low,
    /// A weakness to plan away.
    Medium,
    /// A weakness an attacker can use.
    High,
    /// Broken protection: fix before anything else.
    Critical,
}

impl Severity {
    /// All, lowest first.
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// Lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// SARIF `level`.
    pub fn sarif_level(&self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        }
    }

    /// Score points an area loses per finding.
    pub fn penalty(&self) -> u32 {
        match self {
            Severity::Critical => 40,
            Severity::High => 20,
            Severity::Medium => 10,
            Severity::Low => 4,
            Severity::Info => 0,
        }
    }

    /// The process exit status when this is the worst finding and gates (see docs/audit.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            Severity::Info => 3,
            Severity::Low => 4,
            Severity::Medium => 5,
            Severity::High => 6,
            Severity::Critical => 7,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown severity {s:?} (allowed: info low medium high critical)"))
    }
}

/// The areas a report scores separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// Radio ciphering and integrity.
    Radio,
    /// AuC algorithms and keys.
    Authentication,
    /// LPWA networks, SMS and USSD.
    IotAccess,
    /// UICC supply, OTA, eUICC.
    Uicc,
    /// Backhaul, GRX/IPX, Wi-Fi, QoS.
    Transport,
    /// Roaming signalling and data roaming.
    Roaming,
    /// Portal and API: TLS, passwords, MFA.
    Portal,
    /// EIR, device management, monitoring, CERT, scanning.
    Operations,
    /// Evidence from Warden's subscriber store.
    Subscribers,
    /// The description checked against the imported configurations and data.
    Consistency,
}

impl Area {
    /// All areas, in report order.
    pub const ALL: [Area; 10] = [
        Area::Radio,
        Area::Authentication,
        Area::IotAccess,
        Area::Uicc,
        Area::Transport,
        Area::Roaming,
        Area::Portal,
        Area::Operations,
        Area::Subscribers,
        Area::Consistency,
    ];

    /// Short machine name.
    pub fn key(&self) -> &'static str {
        match self {
            Area::Radio => "radio",
            Area::Authentication => "authentication",
            Area::IotAccess => "iot-access",
            Area::Uicc => "uicc",
            Area::Transport => "transport",
            Area::Roaming => "roaming",
            Area::Portal => "portal",
            Area::Operations => "operations",
            Area::Subscribers => "subscribers",
            Area::Consistency => "consistency",
        }
    }

    /// Human title.
    pub fn title(&self) -> &'static str {
        match self {
            Area::Radio => "Radio access",
            Area::Authentication => "Authentication (AuC)",
            Area::IotAccess => "LPWA, SMS and USSD",
            Area::Uicc => "UICC and eUICC",
            Area::Transport => "Backhaul, interconnect, Wi-Fi, QoS",
            Area::Roaming => "Roaming protection",
            Area::Portal => "Portal and API",
            Area::Operations => "EIR, device management, operations",
            Area::Subscribers => "Subscribers (live store)",
            Area::Consistency => "Description vs imported evidence",
        }
    }
}

/// One check of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Check {
    /// Stable ID.
    pub id: &'static str,
    /// Requirement ID in REQUIREMENTS.md.
    pub requirement: &'static str,
    /// Severity of every finding of this check.
    pub severity: Severity,
    /// Area scored.
    pub area: Area,
    /// One line: what is wrong when it fires.
    pub title: &'static str,
    /// Why it matters.
    pub risk: &'static str,
    /// What to do.
    pub remediation: &'static str,
}

impl Check {
    /// The CLP.14 section the requirement restates.
    pub fn clause(&self) -> &'static str {
        clause(self.requirement)
    }
}

/// The CLP.14 section of a requirement ID (the section headings of REQUIREMENTS.md).
pub fn clause(requirement: &str) -> &'static str {
    match requirement.split('-').next().unwrap_or("") {
        "ID" | "AV" => "CLP.14 §3 Network security principles",
        "PR" => "CLP.14 §4 Privacy",
        "SUB" => "CLP.14 §5.1 Subscription management",
        "ALG" => "CLP.14 §5.2 Authentication and encryption algorithms",
        "NET" => "CLP.14 §5.3-5.5 Fixed networks, QoS, backhaul",
        "ROAM" => "CLP.14 §5.6 Roaming",
        "DM" => "CLP.14 §5.7 Endpoint and gateway management",
        "SEC" => "CLP.14 §5.8 Other security services",
        _ => "CLP.14",
    }
}

macro_rules! checks {
    ($($id:literal, $req:literal, $sev:ident, $area:ident, $title:literal, $risk:literal, $fix:literal;)+) => {
        /// Every check, in ID order.
        pub static CHECKS: &[Check] = &[$(Check {
            id: $id, requirement: $req, severity: Severity::$sev, area: Area::$area,
            title: $title, risk: $risk, remediation: $fix,
        }),+];
    };
}

checks! {
    "WA-ALG-001", "ALG-2", Critical, Radio, "GSM allows no ciphering (A5/0)",
        "Calls, SMS and signalling of devices that fall back to A5/0 travel in clear over the air.",
        "Remove A5/0 from the enabled A5 set; allow only A5/3 (and A5/4 where supported).";
    "WA-ALG-002", "ALG-2", High, Radio, "GSM allows A5/1",
        "A5/1 is broken by published time-memory trade-offs: traffic can be decrypted passively.",
        "Disable A5/1; migrate remaining devices to A5/3 or off 2G.";
    "WA-ALG-003", "ALG-2", Critical, Radio, "GSM allows A5/2",
        "A5/2 is breakable in real time and was withdrawn by 3GPP; it also exposes the key used with other A5 versions.",
        "Disable A5/2 everywhere.";
    "WA-ALG-004", "ALG-2", High, Radio, "GSM without A5/3",
        "Without A5/3 (128-bit key in A5/4) no 2G device gets a cipher that withstands known attacks.",
        "Enable A5/3 (and A5/4) and prefer it.";
    "WA-ALG-005", "ALG-2", Critical, Radio, "GPRS allows no ciphering (GEA0)",
        "Packet data of devices on GEA0 is sent in clear.",
        "Remove GEA0 from the GPRS ciphering set; allow GEA3 and GEA4.";
    "WA-ALG-006", "ALG-2", High, Radio, "GPRS allows GEA1",
        "GEA1 has an effective key strength of 40 bits (Beierle et al., 2021): GPRS traffic can be decrypted.",
        "Disable GEA1 in the SGSN and BSS.";
    "WA-ALG-007", "ALG-2", Medium, Radio, "GPRS allows GEA2",
        "GEA2 falls to known-plaintext attacks far below its 64-bit key length.",
        "Prefer GEA3/GEA4 and disable GEA2 when devices allow.";
    "WA-ALG-008", "ALG-2", Medium, Radio, "No false base station detection on 2G",
        "2G has no network authentication: a false base station can capture devices and force weak ciphering.",
        "Deploy false base station detection (radio measurements, IMSI-catcher detection) and prefer 4G/5G for IoT.";
    "WA-ALG-009", "ALG-2", Critical, Radio, "Authentication optional on the 2G/3G core",
        "Subscribers attach without proving they hold the SIM key: identities can be impersonated.",
        "Set authentication to required in the MSC/VLR and SGSN.";
    "WA-ALG-010", "ALG-3", Critical, Radio, "UMTS prefers no ciphering (UEA0 first)",
        "Most sessions run without ciphering.",
        "Put UEA2/UEA1 first; keep UEA0 only if emergency calls without USIM require it.";
    "WA-ALG-011", "ALG-3", High, Radio, "UMTS allows UEA0",
        "A device or a downgrading attacker can end up with no ciphering.",
        "Remove UEA0 from the allowed set.";
    "WA-ALG-012", "ALG-3", Critical, Radio, "UMTS without UIA1/UIA2 integrity",
        "Without integrity protection signalling can be forged.",
        "Enable UIA2 and UIA1.";
    "WA-ALG-013", "ALG-3", Critical, Radio, "EPS prefers null ciphering (EEA0 first)",
        "Devices supporting EEA0 get no ciphering of NAS/RRC and user data.",
        "Order the ciphering list EEA2, EEA1, EEA3 (EEA0 last, if at all).";
    "WA-ALG-014", "ALG-3", Medium, Radio, "EPS allows EEA0",
        "EEA0 is needed only for unauthenticated emergency calls; otherwise it is a downgrade target.",
        "Remove EEA0 unless emergency calls without USIM must be supported, and keep it last.";
    "WA-ALG-015", "ALG-3", Critical, Radio, "EPS prefers null integrity (EIA0 first)",
        "NAS/RRC messages are not integrity-protected: signalling can be forged.",
        "Order the integrity list EIA2, EIA1, EIA3; never prefer EIA0.";
    "WA-ALG-016", "ALG-3", High, Radio, "EPS allows EIA0",
        "TS 33.401 permits EIA0 only for unauthenticated emergency calls; an MME offering it can be downgraded.",
        "Remove EIA0 from the integrity list.";
    "WA-ALG-017", "ALG-3", Critical, Radio, "5G prefers null ciphering (NEA0 first)",
        "Devices supporting NEA0 get no ciphering.",
        "Order the 5G ciphering list NEA2, NEA1, NEA3.";
    "WA-ALG-018", "ALG-3", Medium, Radio, "5G allows NEA0",
        "NEA0 is a downgrade target outside emergency services.",
        "Remove NEA0 or keep it last for emergency services only.";
    "WA-ALG-019", "ALG-3", Critical, Radio, "5G prefers null integrity (NIA0 first)",
        "Signalling is not integrity-protected.",
        "Order the 5G integrity list NIA2, NIA1, NIA3.";
    "WA-ALG-020", "ALG-3", High, Radio, "5G allows NIA0",
        "TS 33.501 allows NIA0 only for unauthenticated emergency sessions.",
        "Remove NIA0 from the integrity list.";
    "WA-ALG-021", "ALG-4", Low, Radio, "NB-IoT/LTE-M without remote SIM provisioning",
        "Long-lived cellular IoT devices cannot change subscription or credentials without a site visit.",
        "Offer eUICC remote SIM provisioning (SGP.02/SGP.32) for NB-IoT and LTE-M devices.";
    "WA-ALG-030", "ALG-1", Critical, Authentication, "COMP128 in use",
        "COMP128-1 leaks Ki to a few thousand queries and all versions give 54-bit or 64-bit keys: SIMs can be cloned.",
        "Replace the SIMs with MILENAGE or TUAK cards; refuse COMP128 in the AuC.";
    "WA-ALG-031", "ALG-1", Critical, Authentication, "XOR test algorithm in use",
        "The XOR algorithm of TS 34.108 is for test SIMs and gives no security.",
        "Remove test subscribers and XOR from the production AuC.";
    "WA-ALG-032", "ALG-1", High, Authentication, "MILENAGE not available",
        "CLP.14 makes MILENAGE the baseline algorithm for devices of any lifetime.",
        "Provision MILENAGE (or TUAK) for every subscriber.";
    "WA-ALG-033", "ALG-4", High, Authentication, "Subscriber keys shorter than 128 bits",
        "Short keys (such as 64-bit keys) can be searched exhaustively over a device's lifetime.",
        "Issue 128-bit (or 256-bit TUAK) keys.";
    "WA-ALG-034", "ALG-1", Low, Authentication, "OP stored instead of OPc",
        "The operator-wide OP stored with subscribers lets one leak expose the derivation for every card.",
        "Store OPc per subscriber (derived at personalisation) and keep OP offline.";
    "WA-ALG-035", "ALG-1", Info, Authentication, "TUAK not available",
        "TUAK offers 256-bit keys for devices expected to live for decades.",
        "Consider TUAK for new long-lifetime SIM batches.";
    "WA-ALG-036", "ALG-1", Low, Authentication, "TUAK with a 32-bit RES",
        "A 32-bit RES makes guessing a response 2^32 times easier than the 64-bit default.",
        "Use a RES of at least 64 bits.";
    "WA-ALG-040", "ALG-4", High, IotAccess, "LoRaWAN ABP activation",
        "ABP devices keep static session keys and frame counters that reset: replay and key reuse.",
        "Accept only OTAA joins; migrate ABP devices.";
    "WA-ALG-041", "ALG-4", Critical, IotAccess, "LoRaWAN AppKey shared between devices",
        "One extracted device key lets an attacker join as, or decrypt, every device sharing it.",
        "Give every device its own AppKey.";
    "WA-ALG-042", "ALG-4", Low, IotAccess, "LoRaWAN devices without an AppKey fingerprint",
        "Key sharing cannot be ruled out for these devices.",
        "Add salted fingerprints with `warden audit fingerprint`.";
    "WA-ALG-043", "ALG-4", High, IotAccess, "Sigfox payload encryption off",
        "Sigfox messages are authenticated but travel in clear to the backend unless payload encryption is on.",
        "Turn on Sigfox payload encryption for all devices.";
    "WA-ALG-044", "ALG-4", Low, IotAccess, "LPWA device certification not recorded",
        "Uncertified devices may implement the security of the radio protocol incorrectly.",
        "Record the LoRa Alliance / Sigfox Ready certification of every device model.";
    "WA-ALG-045", "ALG-4", Low, IotAccess, "Tenants not told the security consequences of LPWA choices",
        "Tenants may assume protections the LPWA network does not give.",
        "Document for tenants what each LPWA option protects and what it does not.";
    "WA-ALG-070", "ALG-1", High, Authentication, "PyHSS computes COMP128 2G vectors for MILENAGE USIMs",
        "PyHSS's `algo` column is 1-3 or NULL (which PyHSS runs as COMP128v3) for subscribers that have an OPc, so their GSM triplets are COMP128 outputs of the MILENAGE key K: a USIM answers with MILENAGE-derived SRES/Kc and fails 2G authentication, and a card that really runs COMP128 exposes the K that protects its 3G/4G access to COMP128's weaknesses.",
        "Change the `algo` column of these subscribers to a value other than 1-3 (PyHSS's own fixture uses 0) so PyHSS derives their 2G triplets from MILENAGE; only cards whose SIM application really runs COMP128 need replacing.";
    "WA-ALG-071", "ID-1", Critical, Authentication, "One subscriber key K shared by several IMSIs",
        "Whoever extracts K from one card (or reads it at personalisation) can clone or impersonate every SIM that shares it and decrypt their traffic.",
        "Give every SIM its own random K: re-personalise or replace the SIMs that share one, then remove the duplicates from the HSS.";
    "WA-ALG-072", "ID-1", High, Authentication, "One OPc shared by SIMs with different keys",
        "OPc is derived from K and the operator's OP, so different keys give different OPc values: an equal OPc over different K was not derived (a placeholder, or OP stored as OPc), and one card's OPc gives the attacker every card's.",
        "Derive OPc per SIM from its K and the operator's OP at personalisation and store that value.";
    "WA-ALG-073", "ID-1", Critical, Authentication, "Well-known test key in the HSS",
        "K, OPc or OP is a published test value (3GPP TS 35.208 test sets, sample subscribers of Open5GS, PyHSS or Osmocom): anyone can compute these SIMs' vectors and session keys.",
        "Remove test subscribers from production; issue real SIMs with random keys for any device that uses a published key.";
    "WA-ALG-074", "ID-1", High, Authentication, "K equal to OPc",
        "A real OPc is never equal to its K: the OPc column holds a copy of the key, so whoever sees the OPc (card vendor files, provisioning exports) has K.",
        "Re-provision these SIMs with the OPc derived from their K and the operator's OP.";
    "WA-ALG-075", "ALG-1", High, Authentication, "HSS database holds no subscriber",
        "Nothing was audited: a live SQLite database copied without its -wal file, or the wrong file, passes every subscriber check silently.",
        "Audit a consistent copy (`sqlite3 hss.db '.backup copy.db'`, or copy the -wal file with it) or the live file read-only.";
    "WA-ALG-050", "ALG-5", Medium, IotAccess, "SMS/USSD used without warning tenants",
        "SMS and USSD are not end-to-end protected; tenants may send commands or data in clear.",
        "Warn tenants and recommend service-layer encryption for SMS/USSD payloads.";
    "WA-ALG-060", "ALG-2", Medium, Radio, "2G authentication optional, done only because ciphering needs it",
        "OsmoMSC authenticates 2G phones only while the A5 set requires a key: a later `encryption a5 0`, or a call path without ciphering, silently drops authentication too.",
        "Set `authentication required` in the OsmoMSC `network` node.";
    "WA-ALG-061", "ID-2", High, Authentication, "Subscribers without authentication data",
        "The HLR holds no key for these subscribers: they cannot be authenticated, and a core with optional authentication lets them in unauthenticated.",
        "Provision MILENAGE (or TUAK) keys for them, or delete the subscribers.";
    "WA-ALG-062", "ID-2", Critical, Radio, "GPRS core accepts every IMSI (SGSN auth-policy accept-all)",
        "osmo-sgsn with `auth-policy accept-all` lets any phone, with any IMSI, attach and use data without authentication or subscription check.",
        "Set `auth-policy remote` with `authentication required` and a GSUP connection to the HLR.";
    "WA-NET-001", "NET-1", High, Transport, "Operator Wi-Fi without mutual authentication",
        "Open, PSK or EAP-MD5 Wi-Fi lets devices join rogue access points and shares secrets between users.",
        "Use EAP-AKA' or EAP-AKA (or EAP-SIM) so devices authenticate with their SIM.";
    "WA-NET-002", "NET-1", Low, Transport, "Operator Wi-Fi with non-SIM EAP methods",
        "Credentials other than the SIM must be provisioned and managed separately.",
        "Prefer EAP-AKA'/EAP-AKA for SIM-equipped devices.";
    "WA-NET-003", "NET-1", Low, Transport, "Wi-Fi offers EAP-SIM only",
        "EAP-SIM rests on GSM triplets and 64-bit Kc.",
        "Add EAP-AKA' (RFC 9048) and prefer it.";
    "WA-NET-010", "NET-3", High, Transport, "Unencrypted backhaul plane",
        "User data or signalling can be read and modified on the backhaul (microwave, leased lines).",
        "Protect the plane with IPsec (NDS/IP, TS 33.210) or MACsec.";
    "WA-NET-011", "NET-3", Medium, Transport, "Backhaul not described for a technology in use",
        "The backhaul protection of this technology is unknown.",
        "Describe the backhaul of every radio technology the operator runs.";
    "WA-NET-020", "ALG-2", High, Transport, "GRX/IPX link not private",
        "GTP traffic on a public path can be intercepted or injected.",
        "Carry GRX/IPX traffic on private links, or at least inside IPsec.";
    "WA-NET-030", "NET-2", Medium, Transport, "Critical devices without higher QoS priority",
        "Critical devices lose service first when cells are congested.",
        "Give critical subscriptions a higher allocation/retention priority with pre-emption.";
    "WA-NET-060", "ROAM-1", High, Roaming, "HLR GSUP interface reachable beyond loopback",
        "GSUP carries no authentication of its own: whoever reaches the port (TCP 4222) can fetch authentication vectors, update locations and change subscriber state.",
        "Bind osmo-hlr's GSUP (`hlr` / `gsup` / `bind ip`) to 127.0.0.1, or to a private core address behind a firewall that admits only the MSC/SGSN.";
    "WA-NET-040", "ID-3", High, Transport, "Diameter peer connection without TLS",
        "S6a/S6d/Gx traffic (authentication vectors with CK/IK/Kasme, subscriber profiles) travels in clear and can be read or altered on the path.",
        "Remove `No_TLS` and use TLS (TLS_Cred/TLS_CA) on every Diameter connection, or carry it inside IPsec (NDS/IP) and record that.";
    "WA-NET-041", "ID-3", High, Transport, "5G SBI served over plain HTTP",
        "Service-based interface requests (subscriber data, authentication vectors, policies) between network functions travel in clear and unauthenticated.",
        "Serve the SBI over HTTPS: `scheme: https` with `private_key`/`cert` (per server or under `default.tls.server`), with client verification where the release supports it.";
    "WA-NET-042", "SEC-3", Medium, Transport, "PyHSS listener bound to every address",
        "A service bound to 0.0.0.0 or :: (Diameter, GSUP, the provisioning API, metrics) answers on every interface, including ones reachable from outside the core.",
        "Bind each PyHSS listener to the one core-network address that needs it (bind_ip), and filter the rest.";
    "WA-ROAM-001", "ROAM-2", Critical, Roaming, "No signalling firewall",
        "Partners' and attackers' SS7/Diameter/GTP messages reach the core unscreened (location tracking, interception, DoS).",
        "Deploy a signalling firewall (or Warden's roaming firewall) on every interconnect.";
    "WA-ROAM-002", "ROAM-2", High, Roaming, "Screening category 1 missing",
        "Messages never allowed on an interconnect (category 1) are not blocked.",
        "Block category 1 messages at the interconnect.";
    "WA-ROAM-003", "ROAM-2", High, Roaming, "Screening category 2 missing",
        "Messages inconsistent with the subscriber's home network (category 2) are not checked.",
        "Check that the origin matches the subscriber's home network.";
    "WA-ROAM-004", "ROAM-2", Medium, Roaming, "Screening category 3 missing",
        "Location plausibility (category 3) is not checked: fake visited networks go unnoticed.",
        "Check location plausibility (velocity, last known network).";
    "WA-ROAM-005", "ROAM-2", High, Roaming, "Signalling firewall misses a protocol in use",
        "One roaming protocol reaches the core unscreened.",
        "Extend screening to every roaming protocol in use (SS7 for 2G/3G, Diameter for 4G, GTP-C, SEPP for 5G).";
    "WA-ROAM-006", "ROAM-1", Medium, Roaming, "HSS not protected against signalling storms",
        "A storm, intentional or not, can take the HLR/HSS down for everyone.",
        "Rate-limit per peer and per subscriber, and support DOIC overload control.";
    "WA-ROAM-007", "ROAM-3", Medium, Roaming, "Critical devices not protected during storms",
        "During a storm critical devices are rejected like any other, or devices retry without back-off.",
        "Admit critical devices first during storms and use Extended Access Barring for devices that support it.";
    "WA-ROAM-008", "ROAM-4", Low, Roaming, "No sinkhole for intentional DoS",
        "Attack traffic can only be rejected, not absorbed.",
        "Provide a sinkhole mode for traffic judged hostile.";
    "WA-ROAM-009", "ROAM-5", Medium, Roaming, "No steering of roaming",
        "Devices stay on visited networks judged risky.",
        "Use security-based steering of roaming (reject registrations, rewrite preferred networks over the air).";
    "WA-ROAM-010", "ROAM-5", Low, Roaming, "Steering of roaming is commercial only",
        "Steering does not take the security of visited networks into account.",
        "Feed security events (partner incidents, device reports) into steering decisions.";
    "WA-ROAM-011", "ROAM-6", High, Roaming, "No GTP firewall in front of the home GGSN/P-GW",
        "Data-roaming storms and forged GTP-C messages reach the gateway.",
        "Deploy a GTP firewall on the GRX/IPX side of the GGSN/P-GW.";
    "WA-ROAM-012", "ROAM-6", Medium, Roaming, "No per-device or per-partner GTP limits",
        "A burst of Create PDP Context / Create Session requests from one partner or device starves others.",
        "Limit GTP-C request rates per device and per partner, serving critical devices first.";
    "WA-SUB-001", "SUB-6", High, Uicc, "OTA without cryptographic security",
        "Cards accept OTA commands with no or only a redundancy check: anyone who can send an SMS can manage the card.",
        "Require a cryptographic checksum (or signature) on every OTA command (TS 102 225 SPI).";
    "WA-SUB-002", "SUB-6", Medium, Uicc, "OTA commands not ciphered",
        "OTA contents (keys, files, applets) travel in clear.",
        "Cipher OTA commands (KIc).";
    "WA-SUB-003", "SUB-6", Medium, Uicc, "OTA without replay protection",
        "Captured OTA commands can be replayed.",
        "Require counter checking (process only if the counter is higher).";
    "WA-SUB-004", "SUB-7", Medium, Uicc, "Removable UICCs in tamper-exposed devices",
        "A plug-in SIM can be taken from an exposed device and used elsewhere.",
        "Use MFF2 or integrated UICCs for physically exposed devices.";
    "WA-SUB-005", "SUB-7", Medium, Uicc, "No detection of a SIM moved to another device",
        "A stolen SIM is used in another device unnoticed.",
        "Lock SIMs to their device's IMEI (Warden profiles: imei_lock) and act on violations.";
    "WA-SUB-006", "SUB-8", High, Uicc, "eUICC remote management not per GSMA",
        "Profiles are managed without the security of the GSMA remote SIM provisioning architecture.",
        "Manage eUICCs per GSMA SGP.02 or SGP.32.";
    "WA-SUB-007", "SUB-10", High, Uicc, "UICC supplier not SAS accredited",
        "Keys may leak at personalisation in a production site without GSMA SAS-UP accreditation.",
        "Source UICCs only from SAS-UP accredited sites.";
    "WA-SUB-008", "SUB-10", Low, Uicc, "SAS accreditation not recorded per SIM batch",
        "The accreditation of the site that made a batch cannot be shown.",
        "Record the production site and its SAS certificate for every batch.";
    "WA-SUB-009", "SUB-9", Info, Uicc, "No UICC-based services for tenants",
        "Tenants cannot use the UICC as a secure element for their own keys (IoT SAFE).",
        "Consider offering IoT SAFE or tenant security domains.";
    "WA-SEC-001", "SEC-5", Critical, Portal, "Portal/API accepts TLS below 1.2",
        "SSL 3.0, TLS 1.0 and 1.1 are deprecated (RFC 8996) and allow downgrade attacks.",
        "Accept only TLS 1.2 and 1.3.";
    "WA-SEC-002", "SEC-5", Medium, Portal, "Portal/API without TLS 1.3",
        "Current NIST SP 800-52r2 guidance expects TLS 1.3 support.",
        "Enable TLS 1.3.";
    "WA-SEC-003", "SEC-5", High, Portal, "Weak TLS cipher suites",
        "RC4, DES/3DES, NULL, EXPORT, anonymous or MD5 suites can be broken or give no authentication.",
        "Offer only AEAD suites with ECDHE (TLS 1.2) and the TLS 1.3 suites.";
    "WA-SEC-004", "SEC-5", Medium, Portal, "TLS cipher suites without forward secrecy",
        "Static RSA key exchange lets a stolen server key decrypt recorded sessions.",
        "Remove TLS_RSA_* suites; keep ECDHE suites.";
    "WA-SEC-005", "SEC-5", High, Portal, "Portal/API served over plain HTTP",
        "Credentials and tokens travel in clear.",
        "Serve only HTTPS (redirect and HSTS).";
    "WA-SEC-010", "SEC-6", High, Portal, "Password minimum below 8 characters",
        "NIST SP 800-63B requires at least 8 characters.",
        "Require at least 15 characters (8 with MFA).";
    "WA-SEC-011", "SEC-6", Medium, Portal, "Password minimum below 15 without MFA",
        "NIST SP 800-63B (rev. 4) asks for 15 characters when the password is the only factor.",
        "Require 15 characters or make MFA mandatory.";
    "WA-SEC-012", "SEC-6", Low, Portal, "Maximum password length below 64",
        "Short maximums prevent passphrases and password managers.",
        "Accept passwords of at least 64 characters.";
    "WA-SEC-013", "SEC-6", Low, Portal, "Composition rules or periodic password expiry",
        "NIST SP 800-63B advises against both: they lead to predictable passwords.",
        "Drop composition rules and periodic expiry; change passwords on evidence of compromise.";
    "WA-SEC-014", "SEC-6", Medium, Portal, "No blocklist check of new passwords",
        "Common and breached passwords are accepted.",
        "Check new passwords against a list of common and breached passwords.";
    "WA-SEC-020", "SEC-8", High, Portal, "Portal without mandatory MFA",
        "A phished or guessed password gives full control of a tenant's devices.",
        "Require a second factor (WebAuthn, OTP or an OIDC provider enforcing MFA).";
    "WA-SEC-021", "SEC-8", Low, Portal, "SMS one-time codes as a second factor",
        "NIST SP 800-63B lists SMS OTP as a restricted authenticator (SIM swap, interception).",
        "Offer WebAuthn or app-based OTP and phase out SMS codes.";
    "WA-SEC-022", "SEC-8", Medium, Portal, "No human approval of sensitive device tasks",
        "Network attach approval, software updates or hard resets can be triggered by a stolen session alone.",
        "Require a person's approval (step-up authentication) for sensitive device tasks.";
    "WA-SEC-030", "SEC-3", High, Operations, "No CERT membership",
        "Incidents and threat intelligence are not shared with peers.",
        "Join a CERT/CSIRT community (national CERT, FIRST, GSMA T-ISAC).";
    "WA-SEC-031", "SEC-3", Medium, Operations, "No threat information sharing",
        "Indicators seen in this network do not help others, and theirs do not help you.",
        "Export indicators to your CERT community.";
    "WA-SEC-032", "SEC-3", High, Operations, "No periodic vulnerability scanning",
        "Known vulnerabilities in network elements stay unnoticed.",
        "Scan network elements and platforms at least quarterly.";
    "WA-SEC-033", "SEC-3", Medium, Operations, "Vulnerability scans less often than quarterly",
        "New vulnerabilities stay open for months.",
        "Scan at least every 90 days, and after changes.";
    "WA-SEC-034", "SEC-3", Medium, Operations, "No real-time security monitoring",
        "Attacks are found late or not at all.",
        "Monitor network resources and security events in real time.";
    "WA-SEC-035", "SEC-3", Low, Operations, "No backup management channel or link failures not investigated",
        "An attacker who cuts a link also cuts management, and the failure is not treated as a possible breach.",
        "Provide a backup management channel and investigate link failures as possible breaches.";
    "WA-SEC-040", "SEC-7", Medium, Operations, "No X.509 certificate management for devices and gateways",
        "Device credentials cannot be renewed or revoked.",
        "Manage device and gateway certificates (issue, renew, revoke).";
    "WA-SEC-060", "ID-2", Critical, Operations, "CA private key in the configuration tree",
        "Whoever reads the configuration (a backup, a container image, a package) can issue certificates every network function trusts and impersonate any of them.",
        "Keep the CA key offline, out of the configuration tree; issue new certificates from a new CA if it was ever distributed.";
    "WA-SEC-061", "ID-2", Critical, Operations, "Private key published with the distribution",
        "The key is the sample shipped in Open5GS's source tree: anyone can decrypt SUCIs (subscriber identities) or impersonate the TLS endpoint that uses it.",
        "Generate new keys for every network function and SUCI home-network key before going live, and provision the new home-network public key to the SIMs.";
    "WA-SEC-062", "ID-1", High, Operations, "Private key readable by every local user",
        "Any account or process on the host can copy the key.",
        "Make key files readable only by the service's user (chmod 600 or 640 with the service's group).";
    "WA-SEC-063", "ID-1", Info, Operations, "Private key in the configuration tree",
        "Evidence: the key file is part of the configuration; it must be protected like the secret it is (backups, images, permissions).",
        "Keep only the keys this host's network functions use, readable only by them.";
    "WA-SEC-064", "ID-1", High, Operations, "PyHSS provisioning API not locked",
        "With `lock_provisioning: False`, anyone who reaches the PyHSS API can read and change subscribers and their keys without a Provisioning-Key.",
        "Set `lock_provisioning: True` with a long random `provisioning_key`, and bind the API to a management address only.";
    "WA-SEC-065", "ID-1", High, Operations, "PyHSS provisioning key is the shipped sample",
        "The key PyHSS ships in config.yaml is public: a locked API opens to anyone who reads PyHSS's documentation.",
        "Set `provisioning_key` to a long random secret kept out of the repository.";
    "WA-DM-001", "DM-3", High, Operations, "No EIR",
        "Stolen or unapproved devices cannot be barred.",
        "Deploy an EIR (Warden's S13 EIR) and check IMEIs at attach.";
    "WA-DM-002", "DM-3", Medium, Operations, "EIR not connected to the GSMA CEIR",
        "Devices reported stolen in other networks are not barred here.",
        "Import the GSMA CEIR lists into the EIR.";
    "WA-DM-003", "DM-3", Low, Operations, "CEIR lists imported less often than weekly",
        "Newly reported devices stay usable for days.",
        "Import CEIR lists at least weekly (daily where possible).";
    "WA-DM-010", "DM-2", Medium, Operations, "Gateways and devices not managed",
        "Gateways cannot be monitored or updated.",
        "Manage cellular devices with LwM2M (or OMA DM) and fixed gateways with TR-069.";
    "WA-DM-011", "DM-2", High, Operations, "Firmware updates not authenticated",
        "Forged firmware can be pushed to devices.",
        "Sign firmware and verify it on the device before installing.";
    "WA-TLS-001", "SEC-5", High, Portal, "TLS probe: no TLS 1.2/1.3 handshake",
        "The endpoint does not complete a handshake with any modern protocol version and suite.",
        "Serve TLS 1.2 and 1.3 with AEAD/ECDHE suites on the endpoint.";
    "WA-TLS-002", "SEC-5", Medium, Portal, "TLS probe: TLS 1.3 not accepted",
        "The live endpoint does not offer TLS 1.3.",
        "Enable TLS 1.3 on the endpoint.";
    "WA-TLS-003", "SEC-5", Info, Portal, "TLS probe: protocol versions and suites offered",
        "Evidence: what the live endpoint accepted. TLS 1.0/1.1 and legacy suites cannot be tested by the probe.",
        "Compare with the stated portal policy; test legacy versions with a dedicated scanner.";
    "WA-STO-001", "ALG-1", Critical, Subscribers, "Subscriber on a refused or unknown algorithm in the store",
        "The subscriber cannot be served safely and the row was not written by Warden's checks.",
        "Re-provision the SIM with MILENAGE or TUAK keys.";
    "WA-STO-002", "SUB-4", High, Subscribers, "Critical-service SIM without the critical priority class",
        "Without the critical class the SIM has no termination protection, no exemption from automated blocking and no ARP pre-emption.",
        "Set the SIM's priority to critical.";
    "WA-STO-003", "SUB-1", Medium, Subscribers, "Data-only SIM with voice or SMS",
        "Services the device does not need are an attack surface (SMS-borne attacks, toll fraud).",
        "Assign a data-only service profile.";
    "WA-STO-004", "SUB-1", Low, Subscribers, "SIM without MSISDN on a voice/SMS profile",
        "A SIM that has no number grants services it cannot use as intended.",
        "Assign a data-only profile or give the SIM its MSISDN.";
    "WA-STO-005", "ID-2", Medium, Subscribers, "Key-encryption key stored beside the database",
        "Whoever copies the data directory (a backup, a disk image) has the sealed K/OPc of every subscriber and the key that opens them.",
        "Keep the KEK apart from the database: keys.kek_file on another volume, keys.kek_env, or a systemd credential (docs/operations.md).";
    "WA-AUD-001", "ALG-2", High, Consistency, "Description contradicts an imported 2G configuration",
        "The description states a 2G setting (A5/GEA set, authentication, false base station detection) that an imported configuration does not apply: the audit and any supplier agreement built on the description understate what the network offers over the air.",
        "Fix the imported configuration to match the stated policy (or correct the description), then re-run the audit with both.";
    "WA-AUD-002", "ALG-3", High, Consistency, "Description contradicts an imported 3G/4G/5G configuration",
        "The description states UEA/UIA, EEA/EIA or NEA/NIA orders that an imported core configuration does not apply: devices get weaker protection than the operator declares.",
        "Fix the imported configuration to match the stated orders (or correct the description), then re-run the audit with both.";
    "WA-AUD-003", "ALG-4", High, Consistency, "Description contradicts imported IoT or key-length data",
        "The description states cellular IoT provisioning or subscriber key lengths that imported data does not bear out.",
        "Fix the imported configuration or subscriber data (or correct the description), then re-run the audit with both.";
    "WA-AUD-004", "ALG-1", High, Consistency, "Description contradicts imported AuC data",
        "The description states authentication algorithms or operator-key handling that the imported subscriber data does not use: subscribers are authenticated more weakly than declared.",
        "Move the subscribers to the declared algorithm and key form (or correct the description), then re-run the audit with both.";
}

/// The check with this ID.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_per_prefix_and_tied_to_requirements() {
        let mut seen = std::collections::HashSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate {}", c.id);
            assert!(c.id.starts_with("WA-"));
            assert_ne!(c.clause(), "CLP.14", "{} has no clause", c.id);
            assert!(!c.risk.is_empty() && !c.remediation.is_empty());
        }
    }
}
