//! The network description, format version 1: what the operator states about its network (TOML).
//!
//! Every table rejects unknown keys (the error names the key, its table and the line); every value is
//! checked (enumerations name the allowed values). Tables an audit cannot do without (`auc`, `uicc`,
//! `roaming`, `qos`, `portal`, `eir`, `device_management`, `operations`) are required, so an omission is
//! an error rather than a silent pass; radio technologies, backhaul, GRX/IPX links, LPWA networks,
//! Wi-Fi and messaging are described only when the operator runs them. docs/audit.md has the reference.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::AuditError;

/// The description format version this crate reads.
pub const FORMAT_VERSION: u32 = 1;

/// Declares a closed set of names: serde (with aliases), `FromStr` (case-insensitive), `Display`.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[doc = $text] #[serde(rename = $text $(, alias = $alias)*)] $variant),+ }

        impl $name {
            /// All values, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The canonical name.
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
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($text) $(|| t.eq_ignore_ascii_case($alias))* {
                        return Ok(Self::$variant);
                    }
                )+
                Err(format!(concat!("unknown ", stringify!($name), " {:?} (allowed: ", $($text, " "),+, ")"), s))
            }
        }
    };
}

/// A radio algorithm of one family: its name and whether it is the null algorithm.
pub trait RadioAlgorithm: Copy + fmt::Display {
    /// True for the null algorithm (no ciphering or no integrity).
    fn is_null(&self) -> bool;
}

names!(
    /// GSM ciphering (TS 43.020): A5/0 is no ciphering.
    A5 { A50 = "A5/0" | "a5-0", A51 = "A5/1" | "a5-1", A52 = "A5/2" | "a5-2", A53 = "A5/3" | "a5-3", A54 = "A5/4" | "a5-4" }
);
names!(
    /// GPRS ciphering: GEA0 is no ciphering.
    Gea { Gea0 = "GEA0", Gea1 = "GEA1", Gea2 = "GEA2", Gea3 = "GEA3", Gea4 = "GEA4" }
);
names!(
    /// UMTS ciphering (TS 33.102): UEA0 is no ciphering.
    Uea { Uea0 = "UEA0", Uea1 = "UEA1", Uea2 = "UEA2" }
);
names!(
    /// UMTS integrity (TS 33.102).
    Uia { Uia1 = "UIA1", Uia2 = "UIA2" }
);
names!(
    /// EPS ciphering (TS 33.401): EEA0 is no ciphering.
    Eea { Eea0 = "EEA0" | "128-EEA0", Eea1 = "EEA1" | "128-EEA1", Eea2 = "EEA2" | "128-EEA2", Eea3 = "EEA3" | "128-EEA3" }
);
names!(
    /// EPS integrity (TS 33.401): EIA0 is no integrity.
    Eia { Eia0 = "EIA0" | "128-EIA0", Eia1 = "EIA1" | "128-EIA1", Eia2 = "EIA2" | "128-EIA2", Eia3 = "EIA3" | "128-EIA3" }
);
names!(
    /// 5G ciphering (TS 33.501): NEA0 is no ciphering.
    Nea { Nea0 = "NEA0" | "128-NEA0", Nea1 = "NEA1" | "128-NEA1", Nea2 = "NEA2" | "128-NEA2", Nea3 = "NEA3" | "128-NEA3" }
);
names!(
    /// 5G integrity (TS 33.501): NIA0 is no integrity.
    Nia { Nia0 = "NIA0" | "128-NIA0", Nia1 = "NIA1" | "128-NIA1", Nia2 = "NIA2" | "128-NIA2", Nia3 = "NIA3" | "128-NIA3" }
);

macro_rules! null_is {
    ($($t:ident => $null:pat),+) => {
        $(impl RadioAlgorithm for $t {
            fn is_null(&self) -> bool {
                matches!(self, $null)
            }
        })+
    };
}
null_is!(A5 => A5::A50, Gea => Gea::Gea0, Uea => Uea::Uea0, Eea => Eea::Eea0, Eia => Eia::Eia0, Nea => Nea::Nea0, Nia => Nia::Nia0);

impl RadioAlgorithm for Uia {
    fn is_null(&self) -> bool {
        false
    }
}

names!(
    /// Subscriber authentication algorithms an AuC may run.
    AuthAlgorithm {
        /// MILENAGE (TS 35.206).
        Milenage = "milenage",
        /// TUAK (TS 35.231).
        Tuak = "tuak",
        /// COMP128-1 (broken).
        Comp128v1 = "comp128v1" | "comp128-1",
        /// COMP128-2.
        Comp128v2 = "comp128v2" | "comp128-2",
        /// COMP128-3.
        Comp128v3 = "comp128v3" | "comp128-3",
        /// The XOR test algorithm (TS 34.108), never for production.
        Xor = "xor" | "xor-2g" | "xor-3g",
    }
);

impl AuthAlgorithm {
    /// True for any COMP128 version.
    pub fn is_comp128(&self) -> bool {
        matches!(self, Self::Comp128v1 | Self::Comp128v2 | Self::Comp128v3)
    }
}

names!(
    /// How MILENAGE operator keys are held by the AuC.
    OperatorKey {
        /// OPc per subscriber (OP kept out of the AuC database and off the cards).
        Opc = "opc",
        /// The operator-wide OP stored with the subscribers.
        Op = "op",
    }
);

names!(
    /// Protection of a backhaul plane or interconnect link.
    Protection {
        /// No encryption.
        None = "none",
        /// IPsec (NDS/IP, TS 33.210).
        Ipsec = "ipsec",
        /// MACsec (IEEE 802.1AE).
        Macsec = "macsec",
        /// TLS.
        Tls = "tls",
        /// DTLS.
        Dtls = "dtls",
    }
);

names!(
    /// GRX or IPX.
    LinkKind { Grx = "grx", Ipx = "ipx" }
);

names!(
    /// LoRaWAN activation.
    Activation {
        /// Over-the-air activation (session keys derived per join).
        Otaa = "otaa",
        /// Activation by personalisation (static session keys).
        Abp = "abp",
    }
);

names!(
    /// Wi-Fi authentication methods.
    EapMethod {
        /// EAP-SIM (RFC 4186).
        EapSim = "eap-sim",
        /// EAP-AKA (RFC 4187).
        EapAka = "eap-aka",
        /// EAP-AKA' (RFC 9048).
        EapAkaPrime = "eap-aka-prime" | "eap-aka'",
        /// EAP-TLS.
        EapTls = "eap-tls",
        /// EAP-TTLS.
        EapTtls = "eap-ttls",
        /// PEAP.
        Peap = "peap",
        /// EAP-MD5 (no mutual authentication).
        EapMd5 = "eap-md5",
        /// Pre-shared key (WPA2/WPA3-Personal).
        Psk = "psk",
        /// Open network.
        Open = "open",
    }
);

names!(
    /// UICC form factors (ETSI TS 102 221 / JEDEC MO-222 for MFF2).
    FormFactor {
        /// Mini-SIM.
        Ff2 = "2ff",
        /// Micro-SIM.
        Ff3 = "3ff",
        /// Nano-SIM.
        Ff4 = "4ff",
        /// Soldered machine form factor.
        Mff2 = "mff2",
        /// Integrated (iUICC).
        Integrated = "integrated",
    }
);

impl FormFactor {
    /// True for plug-in cards a person can take out.
    pub fn removable(&self) -> bool {
        matches!(self, Self::Ff2 | Self::Ff3 | Self::Ff4)
    }
}

names!(
    /// Security level of OTA commands (ETSI TS 102 225 SPI, first octet).
    OtaLevel {
        /// No RC, CC or DS.
        None = "none",
        /// Redundancy check only (CRC): no authentication.
        RedundancyCheck = "redundancy-check",
        /// Cryptographic checksum (MAC with KID).
        CryptographicChecksum = "cryptographic-checksum",
        /// Digital signature.
        DigitalSignature = "digital-signature",
    }
);

names!(
    /// How eUICC profiles are managed remotely.
    RemoteManagement {
        /// GSMA SGP.02 (M2M).
        Sgp02 = "sgp.02",
        /// GSMA SGP.32 (IoT).
        Sgp32 = "sgp.32",
        /// A supplier-specific scheme.
        Proprietary = "proprietary",
        /// No remote management.
        None = "none",
    }
);

names!(
    /// Signalling protocols a firewall can screen.
    SignallingProtocol {
        /// SS7/MAP (2G/3G roaming).
        Ss7 = "ss7",
        /// Diameter (4G roaming).
        Diameter = "diameter",
        /// GTP-C (data roaming).
        GtpC = "gtp-c",
        /// 5G roaming through the SEPP (HTTP/2).
        Sepp = "sepp",
    }
);

names!(
    /// Steering of roaming.
    Steering {
        /// None.
        None = "none",
        /// Commercial preferences only.
        Commercial = "commercial",
        /// Also moves devices away from networks judged risky (ROAM-5).
        Security = "security",
    }
);

names!(
    /// TLS protocol versions.
    TlsVersion { Ssl3 = "ssl3", Tls10 = "1.0", Tls11 = "1.1", Tls12 = "1.2", Tls13 = "1.3" }
);

names!(
    /// Second factors.
    MfaMethod {
        /// WebAuthn/FIDO2.
        Webauthn = "webauthn" | "fido2",
        /// TOTP/HOTP one-time codes.
        Otp = "otp" | "totp",
        /// One-time codes by SMS (a restricted authenticator in NIST SP 800-63B).
        SmsOtp = "sms-otp",
        /// Push approval in an app.
        Push = "push",
        /// Delegated to an OpenID Connect provider that enforces MFA.
        Oidc = "oidc",
    }
);

names!(
    /// Device management protocols.
    DmProtocol {
        /// OMA LwM2M.
        Lwm2m = "lwm2m",
        /// OMA DM (with FUMO).
        OmaDm = "oma-dm",
        /// Broadband Forum TR-069.
        Tr069 = "tr-069",
    }
);

/// The whole description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Format version: 1.
    pub version: u32,
    /// The operator's name, for the report.
    #[serde(default)]
    pub operator: Option<String>,
    /// Radio access per technology.
    #[serde(default)]
    pub radio: Radio,
    /// Backhaul protection per technology.
    #[serde(default)]
    pub backhaul: Backhaul,
    /// GRX/IPX links.
    #[serde(default)]
    pub grx_ipx: Vec<InterconnectLink>,
    /// Authentication centre.
    pub auc: Auc,
    /// LPWA networks.
    #[serde(default)]
    pub lpwa: Lpwa,
    /// Operator Wi-Fi.
    #[serde(default)]
    pub wifi: Option<Wifi>,
    /// SMS and USSD use by IoT services.
    #[serde(default)]
    pub messaging: Option<Messaging>,
    /// UICC supply and management.
    pub uicc: Uicc,
    /// Roaming protections.
    pub roaming: Roaming,
    /// QoS for critical devices.
    pub qos: Qos,
    /// The connectivity-management portal and API.
    pub portal: Portal,
    /// The EIR.
    pub eir: Eir,
    /// Device and gateway management.
    pub device_management: DeviceManagement,
    /// Security operations.
    pub operations: Operations,
    /// Expectations about subscriptions, checked against Warden's store (`--store`).
    #[serde(default)]
    pub subscriptions: Subscriptions,
}

/// `[radio]`: one table per technology the operator runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Radio {
    /// 2G.
    pub gsm: Option<Gsm>,
    /// 3G.
    pub umts: Option<Umts>,
    /// 4G.
    pub lte: Option<Eps>,
    /// 5G.
    pub nr: Option<Nr>,
    /// NB-IoT.
    #[serde(rename = "nb-iot")]
    pub nb_iot: Option<CellularIot>,
    /// LTE-M.
    #[serde(rename = "lte-m")]
    pub lte_m: Option<CellularIot>,
}

/// `[radio.gsm]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gsm {
    /// A5 algorithms enabled, most preferred first.
    pub ciphering: Vec<A5>,
    /// GEA algorithms enabled for GPRS/EDGE, most preferred first (absent: no packet data on 2G).
    #[serde(default)]
    pub gprs_ciphering: Option<Vec<Gea>>,
    /// Subscribers are always authenticated on 2G/3G (`authentication required`).
    pub authentication_required: bool,
    /// False base station detection or mitigation is in place.
    pub false_base_station_detection: bool,
}

/// `[radio.umts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Umts {
    /// UEA algorithms, most preferred first.
    pub ciphering: Vec<Uea>,
    /// UIA algorithms, most preferred first.
    pub integrity: Vec<Uia>,
}

/// `[radio.lte]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eps {
    /// EEA algorithms, most preferred first.
    pub ciphering: Vec<Eea>,
    /// EIA algorithms, most preferred first.
    pub integrity: Vec<Eia>,
}

/// `[radio.nr]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nr {
    /// NEA algorithms, most preferred first.
    pub ciphering: Vec<Nea>,
    /// NIA algorithms, most preferred first.
    pub integrity: Vec<Nia>,
}

/// `[radio.nb-iot]`, `[radio.lte-m]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellularIot {
    /// EEA algorithms, most preferred first.
    pub ciphering: Vec<Eea>,
    /// EIA algorithms, most preferred first.
    pub integrity: Vec<Eia>,
    /// Devices can be provisioned remotely (eUICC / remote SIM provisioning).
    pub remote_sim_provisioning: bool,
}

/// `[auc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auc {
    /// Algorithms any subscriber uses.
    pub algorithms: Vec<AuthAlgorithm>,
    /// The shortest subscriber key K, in bits.
    pub min_key_bits: u32,
    /// How the MILENAGE operator key is held.
    pub operator_key: OperatorKey,
}

/// `[backhaul.<technology>]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backhaul {
    /// 2G.
    pub gsm: Option<BackhaulPlanes>,
    /// 3G.
    pub umts: Option<BackhaulPlanes>,
    /// 4G.
    pub lte: Option<BackhaulPlanes>,
    /// 5G.
    pub nr: Option<BackhaulPlanes>,
    /// NB-IoT.
    #[serde(rename = "nb-iot")]
    pub nb_iot: Option<BackhaulPlanes>,
    /// LTE-M.
    #[serde(rename = "lte-m")]
    pub lte_m: Option<BackhaulPlanes>,
}

/// Protection per plane of one technology's backhaul.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackhaulPlanes {
    /// User plane.
    pub user_plane: Protection,
    /// Signalling (control) plane.
    pub signalling_plane: Protection,
    /// Management plane, when separate.
    #[serde(default)]
    pub management_plane: Option<Protection>,
}

/// `[[grx_ipx]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterconnectLink {
    /// Name of the link or carrier.
    pub name: String,
    /// GRX or IPX.
    pub kind: LinkKind,
    /// Private transport (not the public Internet).
    pub private: bool,
    /// Encryption on the link.
    pub encryption: Protection,
}

/// `[lpwa]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lpwa {
    /// Tenants are told the security consequences of the LPWA choices (ALG-4).
    #[serde(default)]
    pub tenants_informed: bool,
    /// LoRaWAN.
    pub lorawan: Option<Lorawan>,
    /// Sigfox.
    pub sigfox: Option<Sigfox>,
}

/// `[lpwa.lorawan]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lorawan {
    /// Activation modes the network server accepts.
    pub activation_modes: Vec<Activation>,
    /// Device certification (LoRa Alliance) is recorded per device model.
    pub device_certification_recorded: bool,
    /// Salt of the AppKey fingerprints (hex, at least 16 bytes); see `warden audit fingerprint`.
    #[serde(default)]
    pub fingerprint_salt: Option<String>,
    /// Devices.
    #[serde(default)]
    pub devices: Vec<LoraDevice>,
}

/// `[[lpwa.lorawan.devices]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraDevice {
    /// DevEUI (16 hex digits).
    pub dev_eui: String,
    /// Activation used.
    pub activation: Activation,
    /// Salted fingerprint of the AppKey (`v1:` and 64 hex digits), never the key.
    #[serde(default)]
    pub app_key_fingerprint: Option<String>,
}

/// `[lpwa.sigfox]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sigfox {
    /// Payload encryption is on for all devices.
    pub payload_encryption: bool,
    /// Device certification (Sigfox Ready) is recorded.
    pub device_certification_recorded: bool,
}

/// `[wifi]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wifi {
    /// Authentication methods accepted.
    pub eap_methods: Vec<EapMethod>,
}

/// `[messaging]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messaging {
    /// IoT services use SMS.
    pub sms: bool,
    /// IoT services use USSD.
    pub ussd: bool,
    /// Tenants using them are told these are not end-to-end protected, and advised to encrypt.
    pub tenants_warned: bool,
}

/// `[uicc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uicc {
    /// Form factors supplied.
    pub form_factors: Vec<FormFactor>,
    /// Some devices are physically exposed (street furniture, meters, vehicles).
    pub tamper_exposed_devices: bool,
    /// A SIM moved to another device is detected (IMEI lock or similar) and acted on.
    pub tamper_detection: bool,
    /// UICC-based services offered to tenants (e.g. `iot-safe`).
    #[serde(default)]
    pub tenant_services: Vec<String>,
    /// Suppliers.
    pub suppliers: Vec<Supplier>,
    /// OTA (ETSI TS 102 225/226).
    pub ota: Ota,
    /// eUICCs, when used.
    #[serde(default)]
    pub euicc: Option<Euicc>,
}

/// `[[uicc.suppliers]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supplier {
    /// Supplier name.
    pub name: String,
    /// GSMA SAS-UP accredited production site.
    pub sas_accredited: bool,
    /// Certificate reference.
    #[serde(default)]
    pub sas_certificate: Option<String>,
    /// The production site and accreditation are recorded per SIM batch.
    pub recorded_per_batch: bool,
}

/// `[uicc.ota]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ota {
    /// Minimum security level of commands the cards accept.
    pub security_level: OtaLevel,
    /// Commands are ciphered (KIc).
    pub ciphering: bool,
    /// Replay protection: the counter must be higher (TS 102 225 CNTR).
    pub counter_check: bool,
}

/// `[uicc.euicc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Euicc {
    /// How profiles are managed.
    pub remote_management: RemoteManagement,
}

/// `[roaming]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roaming {
    /// The signalling firewall; absent when there is none.
    #[serde(default)]
    pub signalling_firewall: Option<SignallingFirewall>,
    /// Steering of roaming.
    pub steering_of_roaming: Steering,
    /// The HLR/HSS is protected against signalling storms (rate limits, DOIC).
    pub hss_overload_protection: bool,
    /// Critical devices keep service during storms.
    pub critical_priority_in_storms: bool,
    /// Extended Access Barring is used for devices that support it.
    pub extended_access_barring: bool,
    /// Intentional DoS traffic can be sinkholed.
    pub sinkhole: bool,
    /// A GTP firewall protects the home GGSN/P-GW.
    pub gtp_firewall: bool,
    /// Per-device and per-partner limits on Create PDP Context / Create Session.
    pub gtp_rate_limits: bool,
}

/// `[roaming.signalling_firewall]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignallingFirewall {
    /// Protocols screened.
    pub protocols: Vec<SignallingProtocol>,
    /// GSMA screening categories applied (1, 2, 3; FS.11/FS.19/FS.20).
    pub categories: Vec<u8>,
}

/// `[qos]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qos {
    /// Critical devices get a higher allocation/retention priority.
    pub critical_high_priority: bool,
}

/// `[portal]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// TLS versions accepted.
    pub tls_versions: Vec<TlsVersion>,
    /// Cipher suites accepted (IANA names); empty: the TLS library's defaults.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Plain HTTP is served (other than a redirect to HTTPS).
    pub plaintext_http: bool,
    /// Password policy.
    pub passwords: Passwords,
    /// Multi-factor authentication.
    pub mfa: Mfa,
}

/// `[portal.passwords]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passwords {
    /// Minimum length.
    pub min_length: u32,
    /// Maximum length accepted.
    pub max_length: u32,
    /// Composition rules (character classes) are imposed.
    pub composition_rules: bool,
    /// Passwords expire after this many days (0: never).
    pub expiry_days: u32,
    /// New passwords are checked against a list of common or breached passwords.
    pub blocklist_check: bool,
}

/// `[portal.mfa]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mfa {
    /// Every portal user must use a second factor.
    pub required: bool,
    /// Second factors offered.
    #[serde(default)]
    pub methods: Vec<MfaMethod>,
    /// A person approves sensitive device tasks (attach approval, software update, hard reset).
    pub sensitive_actions_approval: bool,
}

/// `[eir]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eir {
    /// An EIR answers the network's IMEI checks.
    pub deployed: bool,
    /// The EIR imports the GSMA CEIR lists.
    pub ceir_connected: bool,
    /// Days between CEIR list imports.
    #[serde(default)]
    pub ceir_sync_days: Option<u32>,
}

/// `[device_management]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceManagement {
    /// Protocols gateways and devices are managed with.
    pub protocols: Vec<DmProtocol>,
    /// Firmware/software updates are authenticated (signed).
    pub authenticated_firmware: bool,
    /// X.509 certificates of devices and gateways are managed (issued, renewed, revoked).
    pub device_certificates: bool,
}

/// `[operations]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// Security events are monitored in real time.
    pub security_monitoring: bool,
    /// CERTs/CSIRTs the operator is a member of (e.g. `FIRST`, `GSMA T-ISAC`).
    pub cert_memberships: Vec<String>,
    /// Threat information is shared (indicators exported).
    pub threat_sharing: bool,
    /// Days between vulnerability scans; absent: none.
    #[serde(default)]
    pub vulnerability_scan_interval_days: Option<u32>,
    /// A backup management channel exists.
    pub backup_management_channel: bool,
    /// A link failure is investigated as a possible breach.
    pub link_failure_treated_as_breach: bool,
}

/// `[subscriptions]`: expectations checked against the store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    /// Profiles whose SIMs must be data-only.
    #[serde(default)]
    pub data_only_profiles: Vec<String>,
    /// Tenants whose SIMs must be data-only.
    #[serde(default)]
    pub data_only_tenants: Vec<String>,
    /// Profiles of critical services (their SIMs must have the critical priority class).
    #[serde(default)]
    pub critical_profiles: Vec<String>,
    /// Tenants of critical services.
    #[serde(default)]
    pub critical_tenants: Vec<String>,
}

/// Parses and validates a description. `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<Description, AuditError> {
    let bad = |message: String| AuditError::Description { origin: origin.to_string(), message };
    // The version first, so a newer document gets that answer rather than an unknown-key error.
    let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    match table.get("version") {
        Some(toml::Value::Integer(v)) if *v == i64::from(FORMAT_VERSION) => {}
        Some(toml::Value::Integer(v)) => {
            return Err(bad(format!(
                "unsupported description version {v} (this Warden reads version {FORMAT_VERSION})"
            )))
        }
        Some(other) => return Err(bad(format!("`version` must be the integer {FORMAT_VERSION}, not {other}"))),
        None => return Err(bad(format!("missing `version = {FORMAT_VERSION}` at the top"))),
    }
    let d: Description = toml::from_str(text).map_err(|e| {
        let at = e.span().and_then(|span| key_path_at(text, span.start));
        let message = e.to_string().trim_end().to_string();
        bad(match at {
            Some(path) => format!("at `{path}`: {message}"),
            None => message,
        })
    })?;
    d.validate().map_err(bad)?;
    Ok(d)
}

/// The dotted key path of the key on the line holding byte `offset`: the enclosing `[table]` or
/// `[[array]]` header (with the array index) and the key before `=`.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string());
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for l in text[..line_start].lines() {
        let t = l.split('#').next().unwrap_or("").trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|x| x.strip_suffix("]]")) {
            let n = counts.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *n);
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            table = name.trim().to_string();
        }
    }
    match (table.is_empty(), key) {
        (_, None) if line.trim_start().starts_with('[') => None,
        (true, Some(k)) => Some(k),
        (false, Some(k)) => Some(format!("{table}.{k}")),
        (_, None) => (!table.is_empty()).then_some(table),
    }
}

impl Description {
    /// Checks what the types cannot: non-empty lists, ranges, hex.
    pub fn validate(&self) -> Result<(), String> {
        fn non_empty<T>(v: &[T], path: &str) -> Result<(), String> {
            if v.is_empty() {
                Err(format!("{path}: list at least one value"))
            } else {
                Ok(())
            }
        }
        let r = &self.radio;
        if let Some(g) = &r.gsm {
            non_empty(&g.ciphering, "radio.gsm.ciphering")?;
            if let Some(gea) = &g.gprs_ciphering {
                non_empty(gea, "radio.gsm.gprs_ciphering")?;
            }
        }
        if let Some(u) = &r.umts {
            non_empty(&u.ciphering, "radio.umts.ciphering")?;
        }
        for (name, e) in [("lte", r.lte.as_ref().map(|e| (&e.ciphering, &e.integrity)))].into_iter().chain([
            ("nb-iot", r.nb_iot.as_ref().map(|e| (&e.ciphering, &e.integrity))),
            ("lte-m", r.lte_m.as_ref().map(|e| (&e.ciphering, &e.integrity))),
        ]) {
            if let Some((c, i)) = e {
                non_empty(c, &format!("radio.{name}.ciphering"))?;
                non_empty(i, &format!("radio.{name}.integrity"))?;
            }
        }
        if let Some(n) = &r.nr {
            non_empty(&n.ciphering, "radio.nr.ciphering")?;
            non_empty(&n.integrity, "radio.nr.integrity")?;
        }
        non_empty(&self.auc.algorithms, "auc.algorithms")?;
        if !(32..=512).contains(&self.auc.min_key_bits) {
            return Err(format!("auc.min_key_bits: {} is not a key length in bits (32..=512)", self.auc.min_key_bits));
        }
        if let Some(l) = &self.lpwa.lorawan {
            non_empty(&l.activation_modes, "lpwa.lorawan.activation_modes")?;
            if let Some(salt) = &l.fingerprint_salt {
                match hex::decode(salt) {
                    Ok(b) if b.len() >= 16 => {}
                    _ => return Err("lpwa.lorawan.fingerprint_salt: give at least 16 bytes as hex".into()),
                }
            }
            for (i, d) in l.devices.iter().enumerate() {
                let at = format!("lpwa.lorawan.devices[{i}]");
                if d.dev_eui.len() != 16 || !d.dev_eui.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("{at}.dev_eui: {:?} is not 16 hex digits", d.dev_eui));
                }
                if let Some(f) = &d.app_key_fingerprint {
                    crate::fingerprint::check_format(f).map_err(|e| format!("{at}.app_key_fingerprint: {e}"))?;
                    if l.fingerprint_salt.is_none() {
                        return Err(format!(
                            "{at}.app_key_fingerprint: fingerprints need lpwa.lorawan.fingerprint_salt (the salt they were made with)"
                        ));
                    }
                }
            }
        }
        if let Some(w) = &self.wifi {
            non_empty(&w.eap_methods, "wifi.eap_methods")?;
        }
        non_empty(&self.uicc.form_factors, "uicc.form_factors")?;
        non_empty(&self.uicc.suppliers, "uicc.suppliers")?;
        if let Some(fw) = &self.roaming.signalling_firewall {
            non_empty(&fw.protocols, "roaming.signalling_firewall.protocols")?;
            if let Some(c) = fw.categories.iter().find(|c| !(1..=3).contains(*c)) {
                return Err(format!(
                    "roaming.signalling_firewall.categories: {c} is not a GSMA screening category (1, 2 or 3)"
                ));
            }
        }
        non_empty(&self.portal.tls_versions, "portal.tls_versions")?;
        let p = &self.portal.passwords;
        if p.max_length < p.min_length {
            return Err(format!("portal.passwords: max_length {} is below min_length {}", p.max_length, p.min_length));
        }
        if self.portal.mfa.required && self.portal.mfa.methods.is_empty() {
            return Err("portal.mfa.methods: MFA is required, so list the methods offered".into());
        }
        Ok(())
    }

    /// Radio technologies the description enables, with their backhaul key.
    pub fn technologies(&self) -> Vec<&'static str> {
        let r = &self.radio;
        [
            ("gsm", r.gsm.is_some()),
            ("umts", r.umts.is_some()),
            ("lte", r.lte.is_some()),
            ("nr", r.nr.is_some()),
            ("nb-iot", r.nb_iot.is_some()),
            ("lte-m", r.lte_m.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect()
    }
}
