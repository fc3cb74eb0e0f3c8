//! Typed handles on the dictionary, generated from its tables so that a name or a code is written
//! once: an [`AvpKey`] per AVP (`avp::ORIGIN_HOST`), typed by the AVP's data format so that only
//! values of that format can be given to it, and a [`Command`] per command.
//!
//! The tables in `tables.rs` are invocations of the `avps!` and `commands!` macros below; each row
//! produces both the table entry (for lookups by code and for decoding) and the constant.
//!
//! ```
//! use diameter::avp;
//! use diameter::{Command, Message};
//!
//! let mut m = Message::request(Command::DWR);
//! m.add(avp::ORIGIN_HOST, "mme.example").add(avp::ORIGIN_STATE_ID, 5u32);
//! assert_eq!(m.get_u32(avp::ORIGIN_STATE_ID), Some(5));
//! ```
//!
//! A value of the wrong format does not compile:
//!
//! ```compile_fail
//! use diameter::avp;
//! use diameter::{Command, Message};
//!
//! Message::request(Command::DWR).add(avp::ORIGIN_HOST, 5u32);
//! ```

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{format, AvpDef, AvpType};
use crate::avp::{Address, Avp, Value};
use crate::header::Header;

/// A data format (one of the types in [`format`](mod@format)).
pub trait Format: Copy + 'static {
    /// The dictionary's name for it.
    const TYPE: AvpType;
}

/// The Rust values an AVP of this format can be built from, and how.
pub trait Accepts<V>: Format {
    /// The value in this format.
    fn value(v: V) -> Value;
}

/// Formats whose value is text ([`crate::Message::get_str`]).
pub trait Text: Format {}

/// Formats whose value is a 32-bit number ([`crate::Message::get_u32`]).
pub trait Number32: Format {}

macro_rules! accepts {
    ($f:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(
            impl Accepts<$t> for format::$f {
                fn value($v: $t) -> Value {
                    $e
                }
            }
        )*
    };
}

accepts!(OctetString:
    Vec<u8> => |v| Value::OctetString(v),
    &[u8] => |v| Value::OctetString(v.to_vec()),
    &Vec<u8> => |v| Value::OctetString(v.clone()),
    &str => |v| Value::OctetString(v.as_bytes().to_vec()),
    String => |v| Value::OctetString(v.into_bytes()),
);

impl<const N: usize> Accepts<&[u8; N]> for format::OctetString {
    fn value(v: &[u8; N]) -> Value {
        Value::OctetString(v.to_vec())
    }
}

impl<const N: usize> Accepts<[u8; N]> for format::OctetString {
    fn value(v: [u8; N]) -> Value {
        Value::OctetString(v.to_vec())
    }
}

macro_rules! text {
    ($($f:ident),*) => {
        $(
            accepts!($f:
                &str => |v| Value::$f(v.to_string()),
                String => |v| Value::$f(v),
                &String => |v| Value::$f(v.clone()),
            );
            impl Text for format::$f {}
        )*
    };
}

text!(Utf8String, DiameterIdentity, DiameterUri, IpFilterRule);

accepts!(Unsigned32: u32 => |v| Value::Unsigned32(v));
accepts!(Unsigned64: u64 => |v| Value::Unsigned64(v), u32 => |v| Value::Unsigned64(v.into()));
accepts!(Integer32: i32 => |v| Value::Integer32(v));
accepts!(Integer64: i64 => |v| Value::Integer64(v), i32 => |v| Value::Integer64(v.into()));
// Enumerated values are written as unsigned numbers in the specifications; the 32 bits go on the
// wire unchanged either way.
accepts!(Enumerated: i32 => |v| Value::Enumerated(v), u32 => |v| Value::Enumerated(v as i32));
// Seconds since 1900-01-01 (NTP era 0).
accepts!(Time: u32 => |v| Value::Time(v));
accepts!(Float32: f32 => |v| Value::Float32(v));
accepts!(Float64: f64 => |v| Value::Float64(v), f32 => |v| Value::Float64(v.into()));
accepts!(Grouped: Vec<Avp> => |v| Value::Grouped(v));
accepts!(Address:
    IpAddr => |v| Value::Address(Address::Ip(v)),
    Ipv4Addr => |v| Value::Address(Address::Ip(v.into())),
    Ipv6Addr => |v| Value::Address(Address::Ip(v.into())),
    Address => |v| Value::Address(v),
);

impl Number32 for format::Unsigned32 {}
impl Number32 for format::Integer32 {}
impl Number32 for format::Enumerated {}
impl Number32 for format::Time {}

/// A typed handle on one AVP of the dictionary: its code, vendor, data format and M-bit rule, with
/// the format as a type parameter. The constants are in [`crate::avp`] (`avp::ORIGIN_HOST`).
pub struct AvpKey<F> {
    def: AvpDef,
    format: PhantomData<fn() -> F>,
}

// By hand: derived impls would ask the same of the format type.
impl<F> Clone for AvpKey<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for AvpKey<F> {}

impl<F> PartialEq for AvpKey<F> {
    fn eq(&self, other: &Self) -> bool {
        self.def == other.def
    }
}

impl<F> Eq for AvpKey<F> {}

impl<F> std::fmt::Debug for AvpKey<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.def.name)
    }
}

impl<F> AvpKey<F> {
    pub(crate) const fn new(def: AvpDef) -> Self {
        Self { def, format: PhantomData }
    }

    /// The dictionary entry.
    pub const fn def(self) -> AvpDef {
        self.def
    }

    /// The name in the specification (`Origin-Host`).
    pub const fn name(self) -> &'static str {
        self.def.name
    }

    /// AVP code.
    pub const fn code(self) -> u32 {
        self.def.code
    }

    /// Vendor id, 0 for IETF AVPs.
    pub const fn vendor(self) -> u32 {
        self.def.vendor
    }

    /// Vendor id as carried in the AVP header (`None` for IETF AVPs, which have no V bit).
    pub const fn vendor_id(self) -> Option<u32> {
        self.def.vendor_id()
    }

    /// The data format.
    pub const fn ty(self) -> AvpType {
        self.def.ty
    }

    /// The flag bits an AVP of this kind is sent with: V for vendor AVPs, M when the M bit must be
    /// set.
    pub const fn flags(self) -> u8 {
        self.def.flags()
    }

    /// (code, vendor id) as in the AVP header: a constant of this is a pattern for matching
    /// `(raw.code, raw.vendor_id)` in place.
    pub const fn id(self) -> (u32, Option<u32>) {
        (self.def.code, self.def.vendor_id())
    }

    /// True for an AVP header with exactly this code and vendor (the V bit set for vendor AVPs and
    /// clear for IETF AVPs).
    pub fn matches(self, code: u32, vendor_id: Option<u32>) -> bool {
        code == self.def.code && vendor_id == self.def.vendor_id()
    }
}

/// The fixed `< >` and required `{ }` AVPs of a command, from keys or from a list of them.
macro_rules! avp_list {
    ([$($key:ident),* $(,)?]) => {
        &[$($key.def()),*]
    };
    ($list:ident) => {
        $list
    };
}

/// The AVP table: each row becomes a constant of [`crate::avp`] and an entry of the table.
macro_rules! avps {
    ($(
        $key:ident = AvpDef { name: $name:literal, code: $code:literal, vendor: $vendor:expr, ty: $ty:ident, m: $m:ident $(,)? }
    ),* $(,)?) => {
        /// Every AVP of the dictionary as a typed handle, named after the specification
        /// (`Origin-Host` is `ORIGIN_HOST`; a leading digit is spelled out: `THREE_GPP2_MEID`).
        pub mod avps {
            use super::super::{format, AvpKey};
            use super::super::{AvpDef, AvpType, FlagRule, VENDOR_3GPP};

            $(
                #[doc = concat!("`", $name, "`: code ", stringify!($code), ", vendor ", stringify!($vendor), ", ", stringify!($ty), ", M bit ", stringify!($m), ".")]
                pub const $key: AvpKey<format::$ty> = AvpKey::new(AvpDef {
                    name: $name,
                    code: $code,
                    vendor: $vendor,
                    ty: AvpType::$ty,
                    m: FlagRule::$m,
                });
            )*
        }

        use avps::*;

        pub(super) static AVPS: &[AvpDef] = &[$($key.def()),*];

        /// (constant name, specification name) of every row, to check that they correspond.
        #[cfg(test)]
        pub(super) static KEY_NAMES: &[(&str, &str)] = &[$((stringify!($key), $name)),*];
    };
}

/// The command table: each row becomes a [`Command`] and an entry of the table.
macro_rules! commands {
    ($(
        $req:ident / $ans:ident = CommandDef {
            name: $name:literal,
            code: $code:literal,
            app: $app:expr,
            proxiable: $proxiable:literal,
            request_required: $rr:tt,
            answer_required: $ar:tt $(,)?
        }
    ),* $(,)?) => {
        /// A command of the dictionary, named after its request (`AIR` is Authentication-Information,
        /// request AIR and answer AIA).
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command {
            $(
                #[doc = concat!(stringify!($req), "/", stringify!($ans), ": ", $name, " (code ", stringify!($code), ").")]
                $req,
            )*
        }

        impl Command {
            /// Every command of the dictionary.
            pub const ALL: &'static [Command] = &[$(Command::$req),*];

            /// The command code.
            pub const fn code(self) -> u32 {
                match self {
                    $(Command::$req => $code,)*
                }
            }

            /// The application id.
            pub const fn app(self) -> u32 {
                match self {
                    $(Command::$req => $app,)*
                }
            }

            /// The dictionary entry (name, P bit, required AVPs).
            pub fn def(self) -> &'static CommandDef {
                &COMMANDS[self as usize]
            }
        }

        pub(super) static COMMANDS: &[CommandDef] = &[$(
            CommandDef {
                command: Command::$req,
                name: $name,
                request: stringify!($req),
                answer: stringify!($ans),
                code: $code,
                app: $app,
                proxiable: $proxiable,
                request_required: avp_list!($rr),
                answer_required: avp_list!($ar),
            }
        ),*];
    };
}

pub use super::tables::Command;

impl Command {
    /// The command with this code in this application; base commands (CER, DWR, DPR, …) are found in
    /// any application.
    pub fn from_code(app: u32, code: u32) -> Option<Command> {
        super::command_by_code(app, code).map(|d| d.command)
    }

    /// The command of a message header.
    pub fn from_header(header: &Header) -> Option<Command> {
        Self::from_code(header.app_id, header.code)
    }

    /// The command whose request or answer abbreviation is `abbrev` (`AIR` or `AIA`), for names
    /// that come from outside (configuration files, tools).
    pub fn from_abbrev(abbrev: &str) -> Option<Command> {
        super::command_by_abbrev(abbrev).map(|d| d.command)
    }

    /// The request's abbreviation (`AIR`).
    pub fn request_abbrev(self) -> &'static str {
        self.def().request
    }

    /// The answer's abbreviation (`AIA`).
    pub fn answer_abbrev(self) -> &'static str {
        self.def().answer
    }

    /// Whether the P (proxiable) bit is set on this command.
    pub fn proxiable(self) -> bool {
        self.def().proxiable
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.request_abbrev())
    }
}
