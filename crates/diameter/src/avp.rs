//! AVPs (RFC 6733 §4): a zero-copy reader over encoded AVPs ([`RawAvps`]) and the owned, typed form
//! ([`Avp`], [`Value`]) that the dictionary gives meaning to. Encoding is byte-exact: an AVP decoded
//! from canonical bytes (zero padding, minimal lengths) encodes back to the same bytes.
//!
//! Every AVP of the dictionary is a typed handle here (`avp::ORIGIN_HOST`, an
//! [`AvpKey`]): `Avp::new(avp::ORIGIN_STATE_ID, 5u32)` cannot fail, and a
//! value of the wrong format does not compile.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::dictionary::avps::*;
use crate::dictionary::{self, Accepts, AvpKey, AvpType, Format};
use crate::error::DecodeError;

/// AVP flag bits.
pub mod avp_flags {
    /// Vendor-specific: a Vendor-ID field follows the length.
    pub const V: u8 = 0x80;
    /// Mandatory.
    pub const M: u8 = 0x40;
    /// Protected (deprecated by RFC 6733, kept for compatibility).
    pub const P: u8 = 0x20;
    /// Reserved bits, which must be zero.
    pub const RESERVED: u8 = 0x1f;
}

/// How deep Grouped AVPs may nest before a message is refused (S6a needs about 6).
pub const MAX_DEPTH: usize = 16;

/// One encoded AVP, borrowed from the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    /// AVP code.
    pub code: u32,
    /// Flag bits.
    pub flags: u8,
    /// Vendor id when the V bit is set.
    pub vendor_id: Option<u32>,
    /// The data, without padding.
    pub data: &'a [u8],
}

impl RawAvp<'_> {
    /// The vendor id, 0 when absent.
    pub fn vendor(&self) -> u32 {
        self.vendor_id.unwrap_or(0)
    }

    /// True when the M bit is set.
    pub fn is_mandatory(&self) -> bool {
        self.flags & avp_flags::M != 0
    }
}

/// Iterates over the AVPs encoded in a buffer, without copying.
#[derive(Debug, Clone)]
pub struct RawAvps<'a> {
    buf: &'a [u8],
}

impl<'a> RawAvps<'a> {
    /// Reads AVPs from `buf` (the data of a message after its header, or of a Grouped AVP).
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn bad_length(&mut self, code: u32, flags: u8, vendor_id: Option<u32>) -> Option<Result<RawAvp<'a>, DecodeError>> {
        self.buf = &[];
        // RFC 6733 §7.5: the offending AVP header with an empty (or zero-filled minimal) payload.
        let failed = Avp { code, flags, vendor_id, value: Value::OctetString(Vec::new()) };
        Some(Err(DecodeError::InvalidAvpLength { code, failed: Box::new(failed) }))
    }
}

impl<'a> Iterator for RawAvps<'a> {
    type Item = Result<RawAvp<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.buf;
        if b.is_empty() {
            return None;
        }
        if b.len() < 8 {
            let code = if b.len() >= 4 { u32::from_be_bytes([b[0], b[1], b[2], b[3]]) } else { 0 };
            return self.bad_length(code, 0, None);
        }
        let code = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let flags = b[4];
        let len = u32::from_be_bytes([0, b[5], b[6], b[7]]) as usize;
        let (vendor_id, head) = if flags & avp_flags::V != 0 {
            if b.len() < 12 {
                return self.bad_length(code, flags, None);
            }
            (Some(u32::from_be_bytes([b[8], b[9], b[10], b[11]])), 12)
        } else {
            (None, 8)
        };
        if len < head || len > b.len() {
            return self.bad_length(code, flags, vendor_id);
        }
        let data = &b[head..len];
        let padded = (len + 3) & !3;
        self.buf = &b[padded.min(b.len())..];
        Some(Ok(RawAvp { code, flags, vendor_id, data }))
    }
}

/// An address (RFC 6733 §4.3.1): IPv4, IPv6, or another IANA address family kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Family 1.
    Ip(IpAddr),
    /// Any other family.
    Other {
        /// IANA address family number.
        family: u16,
        /// The address bytes.
        bytes: Vec<u8>,
    },
}

/// A typed AVP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Bytes; also the form of AVPs the dictionary does not know.
    OctetString(Vec<u8>),
    /// Integer32.
    Integer32(i32),
    /// Integer64.
    Integer64(i64),
    /// Unsigned32.
    Unsigned32(u32),
    /// Unsigned64.
    Unsigned64(u64),
    /// Float32 (bits preserved exactly).
    Float32(f32),
    /// Float64 (bits preserved exactly).
    Float64(f64),
    /// Grouped.
    Grouped(Vec<Avp>),
    /// Address.
    Address(Address),
    /// Time: seconds since 1900-01-01 (NTP era 0).
    Time(u32),
    /// UTF8String.
    Utf8String(String),
    /// DiameterIdentity.
    DiameterIdentity(String),
    /// DiameterURI.
    DiameterUri(String),
    /// Enumerated.
    Enumerated(i32),
    /// IPFilterRule.
    IpFilterRule(String),
}

macro_rules! from_value {
    ($t:ty, $v:ident) => {
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::$v(x.into())
            }
        }
    };
}
from_value!(&str, Utf8String);
from_value!(String, Utf8String);
from_value!(&[u8], OctetString);
from_value!(Vec<u8>, OctetString);
from_value!(i32, Integer32);
from_value!(i64, Integer64);
from_value!(u32, Unsigned32);
from_value!(u64, Unsigned64);
from_value!(f32, Float32);
from_value!(f64, Float64);
from_value!(Vec<Avp>, Grouped);

impl<const N: usize> From<&[u8; N]> for Value {
    fn from(x: &[u8; N]) -> Self {
        Value::OctetString(x.to_vec())
    }
}

impl From<IpAddr> for Value {
    fn from(x: IpAddr) -> Self {
        Value::Address(Address::Ip(x))
    }
}

impl Value {
    /// Converts a value to the type the dictionary gives an AVP (text to identities, unsigned to
    /// enumerations, …), or gives it back when the two cannot match.
    pub fn coerce(self, ty: AvpType) -> Result<Value, Value> {
        use AvpType as T;
        Ok(match (ty, self) {
            (T::OctetString, v @ Value::OctetString(_)) => v,
            (T::OctetString, Value::Utf8String(s)) => Value::OctetString(s.into_bytes()),
            (T::Utf8String, v @ Value::Utf8String(_)) => v,
            (T::DiameterIdentity, Value::Utf8String(s) | Value::DiameterIdentity(s)) => Value::DiameterIdentity(s),
            (T::DiameterUri, Value::Utf8String(s) | Value::DiameterUri(s)) => Value::DiameterUri(s),
            (T::IpFilterRule, Value::Utf8String(s) | Value::IpFilterRule(s)) => Value::IpFilterRule(s),
            (T::Unsigned32, v @ Value::Unsigned32(_)) => v,
            (T::Unsigned64, Value::Unsigned32(n)) => Value::Unsigned64(n.into()),
            (T::Unsigned64, v @ Value::Unsigned64(_)) => v,
            (T::Integer32, v @ Value::Integer32(_)) => v,
            (T::Integer32, Value::Unsigned32(n)) if n <= i32::MAX as u32 => Value::Integer32(n as i32),
            (T::Integer64, Value::Integer32(n)) => Value::Integer64(n.into()),
            (T::Integer64, Value::Unsigned32(n)) => Value::Integer64(n.into()),
            (T::Integer64, v @ Value::Integer64(_)) => v,
            (T::Enumerated, Value::Integer32(n) | Value::Enumerated(n)) => Value::Enumerated(n),
            (T::Enumerated, Value::Unsigned32(n)) if n <= i32::MAX as u32 => Value::Enumerated(n as i32),
            (T::Time, Value::Unsigned32(n) | Value::Time(n)) => Value::Time(n),
            (T::Float32, v @ Value::Float32(_)) => v,
            (T::Float64, v @ Value::Float64(_)) => v,
            (T::Float64, Value::Float32(f)) => Value::Float64(f.into()),
            (T::Grouped, v @ Value::Grouped(_)) => v,
            (T::Address, v @ Value::Address(_)) => v,
            (_, v) => return Err(v),
        })
    }

    fn encoded_len(&self) -> usize {
        match self {
            Value::OctetString(b) => b.len(),
            Value::Integer32(_) | Value::Unsigned32(_) | Value::Float32(_) | Value::Time(_) | Value::Enumerated(_) => 4,
            Value::Integer64(_) | Value::Unsigned64(_) | Value::Float64(_) => 8,
            Value::Grouped(avps) => avps.iter().map(Avp::padded_len).sum(),
            Value::Address(Address::Ip(IpAddr::V4(_))) => 6,
            Value::Address(Address::Ip(IpAddr::V6(_))) => 18,
            Value::Address(Address::Other { bytes, .. }) => 2 + bytes.len(),
            Value::Utf8String(s) | Value::DiameterIdentity(s) | Value::DiameterUri(s) | Value::IpFilterRule(s) => {
                s.len()
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::OctetString(b) => out.extend_from_slice(b),
            Value::Integer32(n) | Value::Enumerated(n) => out.extend_from_slice(&n.to_be_bytes()),
            Value::Integer64(n) => out.extend_from_slice(&n.to_be_bytes()),
            Value::Unsigned32(n) | Value::Time(n) => out.extend_from_slice(&n.to_be_bytes()),
            Value::Unsigned64(n) => out.extend_from_slice(&n.to_be_bytes()),
            Value::Float32(f) => out.extend_from_slice(&f.to_bits().to_be_bytes()),
            Value::Float64(f) => out.extend_from_slice(&f.to_bits().to_be_bytes()),
            Value::Grouped(avps) => avps.iter().for_each(|a| a.encode(out)),
            Value::Address(Address::Ip(IpAddr::V4(a))) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&a.octets());
            }
            Value::Address(Address::Ip(IpAddr::V6(a))) => {
                out.extend_from_slice(&2u16.to_be_bytes());
                out.extend_from_slice(&a.octets());
            }
            Value::Address(Address::Other { family, bytes }) => {
                out.extend_from_slice(&family.to_be_bytes());
                out.extend_from_slice(bytes);
            }
            Value::Utf8String(s) | Value::DiameterIdentity(s) | Value::DiameterUri(s) | Value::IpFilterRule(s) => {
                out.extend_from_slice(s.as_bytes())
            }
        }
    }
}

/// An error building an AVP by name ([`Avp::by_name`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The dictionary has no AVP of that name.
    #[error("unknown AVP {0:?}")]
    UnknownAvp(String),
    /// The value does not fit the AVP's type.
    #[error("AVP {name} is {ty:?}, which cannot hold {value:?}")]
    WrongType {
        /// AVP name.
        name: &'static str,
        /// Its type.
        ty: AvpType,
        /// The value given.
        value: Box<Value>,
    },
}

/// An owned AVP.
#[derive(Debug, Clone, PartialEq)]
pub struct Avp {
    /// AVP code.
    pub code: u32,
    /// Flag bits as sent (V is recomputed from `vendor_id` on encoding).
    pub flags: u8,
    /// Vendor id (V bit).
    pub vendor_id: Option<u32>,
    /// The value.
    pub value: Value,
}

fn fixed<const N: usize>(raw: &RawAvp<'_>) -> Result<[u8; N], DecodeError> {
    raw.data
        .try_into()
        .map_err(|_| DecodeError::InvalidAvpLength { code: raw.code, failed: Box::new(Avp::from_raw(raw)) })
}

fn text(raw: &RawAvp<'_>) -> Result<String, DecodeError> {
    String::from_utf8(raw.data.to_vec()).map_err(|_| DecodeError::InvalidAvpValue {
        code: raw.code,
        reason: "not valid UTF-8",
        failed: Box::new(Avp::from_raw(raw)),
    })
}

impl Avp {
    /// An AVP of the dictionary, with its vendor and M bit set as the dictionary says:
    /// `Avp::new(avp::ORIGIN_HOST, "mme.example")`.
    pub fn new<F: Accepts<V>, V>(key: AvpKey<F>, value: V) -> Self {
        Self { code: key.code(), flags: key.flags(), vendor_id: key.vendor_id(), value: F::value(value) }
    }

    /// A Grouped AVP.
    pub fn grouped(key: AvpKey<dictionary::format::Grouped>, avps: Vec<Avp>) -> Self {
        Self::new(key, avps)
    }

    /// An AVP of the dictionary whose value is kept as the bytes given (Failed-AVP content, a value
    /// echoed as it was received).
    pub fn with_bytes<F>(key: AvpKey<F>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            code: key.code(),
            flags: key.flags(),
            vendor_id: key.vendor_id(),
            value: Value::OctetString(data.into()),
        }
    }

    /// An AVP of the dictionary by its name, for names that come from outside (tools, tests of the
    /// dictionary); the value is converted to the AVP's type when it can be.
    pub fn by_name(name: &str, value: impl Into<Value>) -> Result<Self, BuildError> {
        let def = dictionary::avp_by_name(name).ok_or_else(|| BuildError::UnknownAvp(name.to_string()))?;
        let value = value.into().coerce(def.ty).map_err(|v| BuildError::WrongType {
            name: def.name,
            ty: def.ty,
            value: Box::new(v),
        })?;
        Ok(Self { code: def.code, flags: def.flags(), vendor_id: def.vendor_id(), value })
    }

    /// True when this AVP has the code and vendor of `key`.
    pub fn is<F>(&self, key: AvpKey<F>) -> bool {
        self.code == key.code() && self.vendor() == key.vendor()
    }

    /// The raw bytes of an AVP as an OctetString (unknown AVPs, Failed-AVP content).
    pub fn from_raw(raw: &RawAvp<'_>) -> Self {
        Self {
            code: raw.code,
            flags: raw.flags,
            vendor_id: raw.vendor_id,
            value: Value::OctetString(raw.data.to_vec()),
        }
    }

    /// Decodes an AVP with the type the dictionary gives it; unknown AVPs stay OctetStrings.
    pub fn decode(raw: &RawAvp<'_>, depth: usize) -> Result<Self, DecodeError> {
        if raw.flags & avp_flags::RESERVED != 0 {
            return Err(DecodeError::InvalidAvpBits { code: raw.code, failed: Box::new(Self::from_raw(raw)) });
        }
        let ty = dictionary::avp_by_code(raw.code, raw.vendor()).map(|d| d.ty).unwrap_or(AvpType::OctetString);
        let value = match ty {
            AvpType::OctetString => Value::OctetString(raw.data.to_vec()),
            AvpType::Integer32 => Value::Integer32(i32::from_be_bytes(fixed(raw)?)),
            AvpType::Enumerated => Value::Enumerated(i32::from_be_bytes(fixed(raw)?)),
            AvpType::Integer64 => Value::Integer64(i64::from_be_bytes(fixed(raw)?)),
            AvpType::Unsigned32 => Value::Unsigned32(u32::from_be_bytes(fixed(raw)?)),
            AvpType::Time => Value::Time(u32::from_be_bytes(fixed(raw)?)),
            AvpType::Unsigned64 => Value::Unsigned64(u64::from_be_bytes(fixed(raw)?)),
            AvpType::Float32 => Value::Float32(f32::from_bits(u32::from_be_bytes(fixed(raw)?))),
            AvpType::Float64 => Value::Float64(f64::from_bits(u64::from_be_bytes(fixed(raw)?))),
            AvpType::Utf8String => Value::Utf8String(text(raw)?),
            AvpType::DiameterIdentity => Value::DiameterIdentity(text(raw)?),
            AvpType::DiameterUri => Value::DiameterUri(text(raw)?),
            AvpType::IpFilterRule => Value::IpFilterRule(text(raw)?),
            AvpType::Address => Value::Address(Self::decode_address(raw)?),
            AvpType::Grouped => {
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::NestingTooDeep(MAX_DEPTH));
                }
                let inner = if FAILED_AVP.matches(raw.code, raw.vendor_id) {
                    // Failed-AVP carries offending AVPs as they were received (bad flags, bad values):
                    // keep them as bytes instead of judging them again.
                    RawAvps::new(raw.data).map(|r| r.map(|r| Avp::from_raw(&r))).collect::<Result<_, _>>()?
                } else {
                    RawAvps::new(raw.data).map(|r| Avp::decode(&r?, depth + 1)).collect::<Result<_, _>>()?
                };
                Value::Grouped(inner)
            }
        };
        Ok(Self { code: raw.code, flags: raw.flags, vendor_id: raw.vendor_id, value })
    }

    fn decode_address(raw: &RawAvp<'_>) -> Result<Address, DecodeError> {
        let d = raw.data;
        let bad = || DecodeError::InvalidAvpLength { code: raw.code, failed: Box::new(Avp::from_raw(raw)) };
        if d.len() < 2 {
            return Err(bad());
        }
        let family = u16::from_be_bytes([d[0], d[1]]);
        Ok(match (family, d.len() - 2) {
            (1, 4) => Address::Ip(IpAddr::V4(Ipv4Addr::new(d[2], d[3], d[4], d[5]))),
            (2, 16) => Address::Ip(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&d[2..]).expect("16")))),
            (1 | 2, _) => return Err(bad()),
            _ => Address::Other { family, bytes: d[2..].to_vec() },
        })
    }

    /// Vendor id, 0 when absent.
    pub fn vendor(&self) -> u32 {
        self.vendor_id.unwrap_or(0)
    }

    /// True when the M bit is set.
    pub fn is_mandatory(&self) -> bool {
        self.flags & avp_flags::M != 0
    }

    /// The dictionary name of this AVP, if known.
    pub fn name(&self) -> Option<&'static str> {
        dictionary::avp_by_code(self.code, self.vendor()).map(|d| d.name)
    }

    fn header_len(&self) -> usize {
        if self.vendor_id.is_some() {
            12
        } else {
            8
        }
    }

    /// Encoded length without padding (the AVP Length field).
    pub fn len(&self) -> usize {
        self.header_len() + self.value.encoded_len()
    }

    /// Never true: an AVP has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encoded length including padding.
    pub fn padded_len(&self) -> usize {
        (self.len() + 3) & !3
    }

    /// Appends the encoded AVP, padded to 4 bytes with zeros.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // One pass: the length field is filled in once the value is written, so that nested Grouped
        // AVPs do not recompute the lengths of their subtrees at every level.
        let start = out.len();
        out.extend_from_slice(&self.code.to_be_bytes());
        let flags = match self.vendor_id {
            Some(_) => self.flags | avp_flags::V,
            None => self.flags & !avp_flags::V,
        };
        out.extend_from_slice(&[flags, 0, 0, 0]);
        if let Some(v) = self.vendor_id {
            out.extend_from_slice(&v.to_be_bytes());
        }
        self.value.encode(out);
        let len = out.len() - start;
        out[start + 4..start + 8].copy_from_slice(&((u32::from(flags) << 24) | len as u32).to_be_bytes());
        out.resize(start + ((len + 3) & !3), 0);
    }

    /// The same AVP with its value kept as its encoding (an OctetString of the encoded value): it
    /// encodes byte for byte as `self` does, and cloning it copies one buffer instead of a tree. For
    /// a Grouped AVP built once and sent in many messages (the PCRF's Charging-Rule-Install); reading
    /// it back as a tree takes a decode.
    pub fn pre_encoded(&self) -> Avp {
        let mut data = Vec::with_capacity(self.value.encoded_len());
        self.value.encode(&mut data);
        Avp { code: self.code, flags: self.flags, vendor_id: self.vendor_id, value: Value::OctetString(data) }
    }

    /// The Unsigned32/Enumerated/Integer32/Time value as u32.
    pub fn as_u32(&self) -> Option<u32> {
        match self.value {
            Value::Unsigned32(n) | Value::Time(n) => Some(n),
            Value::Enumerated(n) | Value::Integer32(n) => u32::try_from(n).ok(),
            _ => None,
        }
    }

    /// The Unsigned64 (or Unsigned32) value.
    pub fn as_u64(&self) -> Option<u64> {
        match self.value {
            Value::Unsigned64(n) => Some(n),
            _ => self.as_u32().map(u64::from),
        }
    }

    /// The text of a UTF8String, DiameterIdentity, DiameterURI or IPFilterRule.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Utf8String(s) | Value::DiameterIdentity(s) | Value::DiameterUri(s) | Value::IpFilterRule(s) => {
                Some(s)
            }
            _ => None,
        }
    }

    /// The bytes of an OctetString (or the text of a string type).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::OctetString(b) => Some(b),
            _ => self.as_str().map(str::as_bytes),
        }
    }

    /// The AVPs of a Grouped AVP.
    pub fn as_grouped(&self) -> Option<&[Avp]> {
        match &self.value {
            Value::Grouped(v) => Some(v),
            _ => None,
        }
    }

    /// The address of an Address AVP.
    pub fn as_address(&self) -> Option<&Address> {
        match &self.value {
            Value::Address(a) => Some(a),
            _ => None,
        }
    }

    /// The first AVP of kind `key` inside this Grouped AVP.
    pub fn child<F>(&self, key: AvpKey<F>) -> Option<&Avp> {
        find(self.as_grouped()?, key)
    }
}

/// The first AVP of kind `key` in `avps`.
pub fn find<F>(avps: &[Avp], key: AvpKey<F>) -> Option<&Avp> {
    avps.iter().find(|a| a.is(key))
}

/// Every AVP of kind `key` in `avps`.
pub fn find_all<F: Format>(avps: &[Avp], key: AvpKey<F>) -> impl Iterator<Item = &Avp> + '_ {
    avps.iter().filter(move |a| a.is(key))
}
