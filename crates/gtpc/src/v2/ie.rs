//! GTPv2-C information elements (TS 29.274 §8.2): type, length, spare bits and instance, value. Grouped
//! IEs hold a list of IEs; every other IE (including types this crate does not know) holds its value
//! as it came, so that re-encoding is byte-identical.

use crate::error::DecodeError;
use crate::v2::{IeType, MAX_DEPTH};
use crate::Octets;

/// One information element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie {
    /// The IE type.
    pub ie_type: IeType,
    /// The instance (4 bits), which tells apart IEs of one type in one message (e.g. the sender's
    /// F-TEID is instance 0, the P-GW's instance 1 in a Create Session Request).
    pub instance: u8,
    /// The four spare bits beside the instance (the CR flag in older releases), kept for byte-exact relay.
    pub spare: u8,
    /// The value.
    pub value: IeValue,
}

/// An IE's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IeValue {
    /// The octets after the IE header, as they came.
    Raw(Octets),
    /// The IEs of a grouped IE.
    Grouped(Vec<Ie>),
}

impl Ie {
    /// An IE with a raw value.
    pub fn raw(ie_type: IeType, instance: u8, value: impl Into<Octets>) -> Ie {
        Ie { ie_type, instance: instance & 0x0f, spare: 0, value: IeValue::Raw(value.into()) }
    }

    /// A grouped IE.
    pub fn grouped(ie_type: IeType, instance: u8, children: Vec<Ie>) -> Ie {
        Ie { ie_type, instance: instance & 0x0f, spare: 0, value: IeValue::Grouped(children) }
    }

    /// The same IE with another instance.
    pub fn with_instance(mut self, instance: u8) -> Ie {
        self.instance = instance & 0x0f;
        self
    }

    /// The raw value; `None` for a grouped IE.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.value {
            IeValue::Raw(b) => Some(b),
            IeValue::Grouped(_) => None,
        }
    }

    /// The IEs of a grouped IE; empty for any other.
    pub fn children(&self) -> &[Ie] {
        match &self.value {
            IeValue::Grouped(c) => c,
            IeValue::Raw(_) => &[],
        }
    }

    /// The first child of a grouped IE with this type and instance.
    pub fn find(&self, ie_type: IeType, instance: u8) -> Option<&Ie> {
        self.children().iter().find(|c| c.ie_type == ie_type && c.instance == instance)
    }

    /// The length of the value in octets (what the length field says).
    pub fn value_len(&self) -> usize {
        match &self.value {
            IeValue::Raw(b) => b.len(),
            IeValue::Grouped(c) => c.iter().map(Ie::encoded_len).sum(),
        }
    }

    /// The IE's size on the wire: a 4-octet header and the value.
    pub fn encoded_len(&self) -> usize {
        4 + self.value_len()
    }

    /// Appends the IE. The caller keeps each value under 65,536 octets (the builder's values are).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.ie_type.0);
        out.extend_from_slice(&(self.value_len() as u16).to_be_bytes());
        out.push((self.spare << 4) | (self.instance & 0x0f));
        match &self.value {
            IeValue::Raw(b) => out.extend_from_slice(b),
            IeValue::Grouped(c) => c.iter().for_each(|ie| ie.encode_into(out)),
        }
    }
}

/// Decodes the IEs in `buf[start..end]`, which is the body of a message (`parent` `None`) or the value
/// of a grouped IE of type `parent`. Offsets in errors are positions in `buf`.
pub(crate) fn decode_list(
    buf: &[u8],
    start: usize,
    end: usize,
    parent: Option<u8>,
    depth: usize,
) -> Result<Vec<Ie>, DecodeError> {
    let mut ies = Vec::with_capacity(((end - start) / 8).min(64));
    let mut at = start;
    while at < end {
        let left = end - at;
        if left < 4 {
            return Err(DecodeError::TruncatedIe { offset: at, ie_type: Some(buf[at]), parent, need: 4, have: left });
        }
        let ie_type = IeType(buf[at]);
        let length = u16::from_be_bytes([buf[at + 1], buf[at + 2]]) as usize;
        let flags = buf[at + 3];
        let (spare, instance) = (flags >> 4, flags & 0x0f);
        if length > left - 4 {
            return Err(DecodeError::IeOverrun {
                offset: at,
                ie_type: ie_type.0,
                instance,
                length,
                available: left - 4,
                parent,
            });
        }
        let (vstart, vend) = (at + 4, at + 4 + length);
        let value = if ie_type.is_grouped() {
            if depth >= MAX_DEPTH {
                return Err(DecodeError::NestingTooDeep { offset: at, max: MAX_DEPTH });
            }
            IeValue::Grouped(decode_list(buf, vstart, vend, Some(ie_type.0), depth + 1)?)
        } else {
            IeValue::Raw(Octets::from_window(buf, vstart, length))
        };
        ies.push(Ie { ie_type, instance, spare, value });
        at = vend;
    }
    Ok(ies)
}
