//! The AVP and command dictionary: base protocol (RFC 6733), S6a/S6d (TS 29.272), S13 (TS 29.272
//! §6.2/§7, ECR/ECA), Gx (TS 29.212: CCR/CCA, with RAR/RAA and ASR/ASA of the base protocol), SGd
//! (TS 29.338: OFR/OFA, TFR/TFA) and DOIC (RFC 7683). Code uses the typed handles generated from the tables
//! ([`avps`], re-exported as `diameter::avp::ORIGIN_HOST`, and [`Command`]); lookups by (code,
//! vendor) serve decoding, and lookups by name serve names that come from outside (tools, tests).

#[macro_use]
mod typed;
mod tables;

pub use tables::avps;
pub use typed::{Accepts, AvpKey, Command, Format, Number32, Text};

use std::collections::HashMap;
use std::sync::OnceLock;

/// 3GPP's vendor id (IANA enterprise number 10415).
pub const VENDOR_3GPP: u32 = 10415;

/// Application ids.
pub mod app {
    /// Diameter common messages (CER/CEA, DWR/DWA, DPR/DPA use it).
    pub const COMMON: u32 = 0;
    /// S6a/S6d (TS 29.272), vendor 10415.
    pub const S6A: u32 = 16_777_251;
    /// S13/S13' (TS 29.272), vendor 10415.
    pub const S13: u32 = 16_777_252;
    /// Gx (TS 29.212), vendor 10415.
    pub const GX: u32 = 16_777_238;
    /// SGd/Gdd (TS 29.338 §6.3.1), vendor 10415: short messages between the MME and the SMS centre.
    pub const SGD: u32 = 16_777_313;
    /// The relay application id.
    pub const RELAY: u32 = 0xffff_ffff;
}

/// Declares the data formats once: the [`AvpType`] enum, and in [`format`] a marker type per format
/// for the typed handles.
macro_rules! data_formats {
    ($($(#[doc = $doc:literal])* $f:ident,)*) => {
        /// The data format of an AVP (RFC 6733 §4.2 and §4.3).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AvpType {
            $($(#[doc = $doc])* $f,)*
        }

        /// The data formats of RFC 6733 §4.2 and §4.3 as types, for [`AvpKey`].
        pub mod format {
            $(
                #[doc = concat!("The ", stringify!($f), " data format.")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
                pub struct $f;

                impl super::Format for $f {
                    const TYPE: super::AvpType = super::AvpType::$f;
                }
            )*
        }
    };
}

data_formats!(
    /// Arbitrary bytes.
    OctetString,
    /// Signed 32-bit integer.
    Integer32,
    /// Signed 64-bit integer.
    Integer64,
    /// Unsigned 32-bit integer.
    Unsigned32,
    /// Unsigned 64-bit integer.
    Unsigned64,
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision.
    Float64,
    /// A sequence of AVPs.
    Grouped,
    /// An address family (2 bytes) and address.
    Address,
    /// NTP seconds since 1900 (4 bytes).
    Time,
    /// UTF-8 text.
    Utf8String,
    /// A Diameter identity (FQDN), ASCII.
    DiameterIdentity,
    /// A Diameter URI (`aaa://host:port;…`).
    DiameterUri,
    /// A 32-bit enumeration.
    Enumerated,
    /// An IP filter rule (RFC 6733 §4.3.1), text.
    IpFilterRule,
);

/// Whether a flag must, may or must not be set on an AVP (RFC 6733 AVP tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagRule {
    /// Must be set.
    Must,
    /// May be set or not.
    May,
    /// Must not be set.
    MustNot,
}

/// One AVP of the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpDef {
    /// Name as in the specification (e.g. `Origin-Host`).
    pub name: &'static str,
    /// AVP code.
    pub code: u32,
    /// Vendor id; 0 for IETF AVPs.
    pub vendor: u32,
    /// Data format.
    pub ty: AvpType,
    /// Rule for the M (mandatory) bit.
    pub m: FlagRule,
}

impl AvpDef {
    /// Vendor id as carried in the AVP header (`None` for IETF AVPs).
    pub const fn vendor_id(&self) -> Option<u32> {
        if self.vendor != 0 {
            Some(self.vendor)
        } else {
            None
        }
    }

    /// The flag bits the AVP is sent with: V for vendor AVPs, M when its M bit must be set.
    pub const fn flags(&self) -> u8 {
        let m = if matches!(self.m, FlagRule::Must) { crate::avp::avp_flags::M } else { 0 };
        let v = if self.vendor != 0 { crate::avp::avp_flags::V } else { 0 };
        m | v
    }
}

/// One command of the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDef {
    /// The command as a typed handle.
    pub command: Command,
    /// Full name without "Request"/"Answer" (e.g. `Authentication-Information`).
    pub name: &'static str,
    /// Abbreviation of the request (e.g. `AIR`).
    pub request: &'static str,
    /// Abbreviation of the answer (e.g. `AIA`).
    pub answer: &'static str,
    /// Command code.
    pub code: u32,
    /// Application id.
    pub app: u32,
    /// Whether the P (proxiable) bit is set on this command.
    pub proxiable: bool,
    /// AVPs the request must carry (fixed `< >` and required `{ }` in the CCF).
    pub request_required: &'static [AvpDef],
    /// AVPs the answer must carry.
    pub answer_required: &'static [AvpDef],
}

/// A multiplicative hasher for the fixed (code, vendor) tables: the keys come from our own tables,
/// not from peers, so flooding resistance (SipHash) buys nothing and costs a quarter of a decode.
#[derive(Default, Clone, Copy)]
struct CodeHash;

impl std::hash::BuildHasher for CodeHash {
    type Hasher = CodeHasher;
    fn build_hasher(&self) -> CodeHasher {
        CodeHasher(0)
    }
}

#[derive(Default)]
struct CodeHasher(u64);

impl std::hash::Hasher for CodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|b| self.write_u64(u64::from(*b)));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

struct Index {
    by_name: HashMap<&'static str, &'static AvpDef>,
    by_code: HashMap<(u32, u32), &'static AvpDef, CodeHash>,
    cmd_by_abbrev: HashMap<&'static str, &'static CommandDef>,
    cmd_by_code: HashMap<(u32, u32), &'static CommandDef, CodeHash>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index {
        by_name: tables::AVPS.iter().map(|d| (d.name, d)).collect(),
        by_code: tables::AVPS.iter().map(|d| ((d.code, d.vendor), d)).collect::<HashMap<_, _, CodeHash>>(),
        cmd_by_abbrev: tables::COMMANDS.iter().flat_map(|c| [(c.request, c), (c.answer, c)]).collect(),
        cmd_by_code: tables::COMMANDS.iter().map(|c| ((c.app, c.code), c)).collect::<HashMap<_, _, CodeHash>>(),
    })
}

/// The AVP named `name`.
pub fn avp_by_name(name: &str) -> Option<&'static AvpDef> {
    index().by_name.get(name).copied()
}

/// The AVP with this code and vendor id (0 for IETF).
pub fn avp_by_code(code: u32, vendor: u32) -> Option<&'static AvpDef> {
    index().by_code.get(&(code, vendor)).copied()
}

/// The command whose request or answer abbreviation is `abbrev` (e.g. `AIR` or `AIA`).
pub fn command_by_abbrev(abbrev: &str) -> Option<&'static CommandDef> {
    index().cmd_by_abbrev.get(abbrev).copied()
}

/// The command with this code in this application. Base commands (CER, DWR, DPR) are found in any
/// application.
pub fn command_by_code(app: u32, code: u32) -> Option<&'static CommandDef> {
    let i = index();
    i.cmd_by_code.get(&(app, code)).or_else(|| i.cmd_by_code.get(&(app::COMMON, code))).copied()
}

/// Every AVP definition.
pub fn all_avps() -> &'static [AvpDef] {
    tables::AVPS
}

/// Every command definition.
pub fn all_commands() -> &'static [CommandDef] {
    tables::COMMANDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_are_unique_and_consistent() {
        let mut names = std::collections::HashSet::new();
        let mut codes = std::collections::HashSet::new();
        for d in all_avps() {
            assert!(names.insert(d.name), "duplicate AVP name {}", d.name);
            assert!(codes.insert((d.code, d.vendor)), "duplicate AVP code {} vendor {}", d.code, d.vendor);
            assert_eq!(avp_by_code(d.code, d.vendor), Some(d));
        }
        for c in all_commands() {
            for d in c.request_required.iter().chain(c.answer_required) {
                assert_eq!(avp_by_name(d.name), Some(d), "{} names an AVP outside the table", c.request);
            }
            assert_eq!(command_by_abbrev(c.request).map(|d| d.command), Some(c.command));
            assert_eq!(command_by_abbrev(c.answer).map(|d| d.command), Some(c.command));
            assert_eq!((c.command.code(), c.command.app(), c.command.def()), (c.code, c.app, c));
        }
        assert_eq!(Command::ALL.len(), all_commands().len());
    }

    /// Each constant is its AVP's name in upper case with `-` as `_` and a leading digit spelled out.
    #[test]
    fn constants_are_named_after_their_avps() {
        assert_eq!(tables::KEY_NAMES.len(), all_avps().len());
        for (constant, name) in tables::KEY_NAMES {
            let upper = name.to_ascii_uppercase().replace('-', "_");
            let expected = match upper.as_bytes()[0] {
                b'3' => format!("THREE_{}", &upper[1..]),
                b'5' => format!("FIVE_{}", &upper[1..]),
                b'0'..=b'9' => panic!("{name}: no spelling for its leading digit"),
                _ => upper,
            };
            assert_eq!(*constant, expected, "{name}");
        }
    }

    #[test]
    fn handles_carry_the_table_entries() {
        use crate::avp;
        assert_eq!(avp::ORIGIN_HOST.def(), *avp_by_name("Origin-Host").unwrap());
        assert_eq!((avp::ORIGIN_HOST.flags(), avp::ORIGIN_HOST.vendor_id()), (0x40, None));
        assert_eq!((avp::VISITED_PLMN_ID.flags(), avp::VISITED_PLMN_ID.vendor_id()), (0xc0, Some(VENDOR_3GPP)));
        assert_eq!(avp::ERROR_MESSAGE.flags(), 0);
        assert_eq!(avp::THREE_GPP2_MEID.name(), "3GPP2-MEID");
        assert!(avp::VISITED_PLMN_ID.matches(1407, Some(VENDOR_3GPP)));
        assert!(!avp::VISITED_PLMN_ID.matches(1407, None));
        assert!(!avp::SESSION_ID.matches(263, Some(0)), "a V bit makes it another AVP");
        assert_eq!(Command::from_code(app::S13, 257), Some(Command::CER));
        assert_eq!(Command::from_code(app::S13, 318), None);
        assert_eq!(Command::from_code(app::S6A, 318), Some(Command::AIR));
        assert_eq!(Command::from_abbrev("AIA"), Some(Command::AIR));
        assert_eq!((Command::ECR.code(), Command::ECR.app()), (324, app::S13));
        assert_eq!((Command::AIR.request_abbrev(), Command::AIR.answer_abbrev()), ("AIR", "AIA"));
    }

    #[test]
    fn well_known_entries() {
        let oh = avp_by_name("Origin-Host").unwrap();
        assert_eq!((oh.code, oh.vendor, oh.ty, oh.m), (264, 0, AvpType::DiameterIdentity, FlagRule::Must));
        let v = avp_by_name("E-UTRAN-Vector").unwrap();
        assert_eq!((v.code, v.vendor, v.ty), (1414, VENDOR_3GPP, AvpType::Grouped));
        let air = command_by_abbrev("AIR").unwrap();
        assert_eq!((air.code, air.app), (318, app::S6A));
        assert_eq!(command_by_code(app::S6A, 257).unwrap().request, "CER");
        assert_eq!(command_by_code(app::S6A, 257).unwrap().command, Command::CER);
        assert_eq!(command_by_code(app::S13, 324).unwrap().request, "ECR");
        let oc = avp_by_name("OC-Supported-Features").unwrap();
        assert_eq!((oc.code, oc.vendor), (621, 0));
    }
}
