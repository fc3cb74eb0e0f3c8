//! Templates as the collector keeps them, and the decoding of one data record against one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ie::{classify, Element, VARIABLE_LENGTH};
use crate::{FiveTuple, Flow};

/// One field of a template: what it is and how long (or [`VARIABLE_LENGTH`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub element: Element,
    pub length: u16,
}

/// A field specifier as read from the wire (RFC 7011 §3.2, RFC 3954 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub id: u16,
    pub enterprise: bool,
    pub length: u16,
}

/// Whether a template describes flow records or options records (which are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateKind {
    Data,
    Options,
}

/// Why a template record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// A field's length does not fit its element's type, or every record would be empty.
    BadField,
}

/// A usable template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub kind: TemplateKind,
    fields: Box<[Field]>,
    /// The shortest a record can be (variable-length fields count their 1-octet length).
    pub min_length: usize,
    /// Whether a variable-length field is present (records then vary in length).
    variable: bool,
    /// Whether any field is read at all (options templates read none).
    reads_anything: bool,
}

impl Template {
    /// Builds a template from its field specifiers. Options templates keep only the lengths.
    pub fn new(kind: TemplateKind, specs: &[FieldSpec]) -> Result<Self, TemplateError> {
        let mut fields = Vec::with_capacity(specs.len());
        let mut min_length = 0usize;
        let mut variable = false;
        for spec in specs {
            let element = match kind {
                TemplateKind::Options => Element::Skip,
                TemplateKind::Data => classify(spec.id, spec.enterprise, spec.length).ok_or(TemplateError::BadField)?,
            };
            if spec.length == VARIABLE_LENGTH {
                variable = true;
                min_length += 1;
            } else {
                min_length += usize::from(spec.length);
            }
            fields.push(Field { element, length: spec.length });
        }
        if min_length == 0 {
            return Err(TemplateError::BadField);
        }
        let reads_anything = fields.iter().any(|f| f.element != Element::Skip);
        Ok(Template { kind, fields: fields.into_boxed_slice(), min_length, variable, reads_anything })
    }

    /// The length of the record at the start of `data`, or `None` when it runs past the end.
    pub fn record_length(&self, data: &[u8]) -> Option<usize> {
        if !self.variable {
            return (data.len() >= self.min_length).then_some(self.min_length);
        }
        let mut pos = 0usize;
        for f in self.fields.iter() {
            let (start, len) = field_bounds(data, pos, f.length)?;
            pos = start + len;
        }
        Some(pos)
    }

    /// Decodes the record at the start of `data` into `record`; returns its length, or `None` when it
    /// runs past the end of `data`.
    pub fn decode(&self, data: &[u8], record: &mut Record) -> Option<usize> {
        if !self.reads_anything {
            return self.record_length(data);
        }
        let mut pos = 0usize;
        for f in self.fields.iter() {
            let (start, len) = field_bounds(data, pos, f.length)?;
            let value = &data[start..start + len];
            pos = start + len;
            record.set(f.element, value);
        }
        Some(pos)
    }
}

/// Where a field's value starts and how long it is, reading a variable-length prefix (RFC 7011 §7).
#[inline]
fn field_bounds(data: &[u8], pos: usize, length: u16) -> Option<(usize, usize)> {
    let (start, len) = if length == VARIABLE_LENGTH {
        let first = *data.get(pos)?;
        if first < 255 {
            (pos + 1, usize::from(first))
        } else {
            let hi = *data.get(pos + 1)?;
            let lo = *data.get(pos + 2)?;
            (pos + 3, usize::from(u16::from_be_bytes([hi, lo])))
        }
    } else {
        (pos, usize::from(length))
    };
    (start + len <= data.len()).then_some((start, len))
}

/// An unsigned integer in network order, 1 to 8 octets (reduced-size encoding).
#[inline]
fn unsigned(value: &[u8]) -> u64 {
    value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The values read from one data record, before they become a [`Flow`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Record {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    proto: u8,
    octets: u64,
    packets: u64,
    tcp_flags: Option<u16>,
    start_uptime: Option<u32>,
    end_uptime: Option<u32>,
    start_seconds: Option<u32>,
    end_seconds: Option<u32>,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
    system_init_ms: Option<u64>,
}

/// What relative times (flowStart/EndSysUpTime) count from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    /// NetFlow v9: the header's sysUptime (ms) at its unix_secs.
    Uptime { sys_uptime_ms: u32, unix_secs: u32 },
    /// IPFIX: systemInitTimeMilliseconds in the record, when there.
    Ipfix,
}

impl Record {
    #[inline]
    fn set(&mut self, element: Element, v: &[u8]) {
        // Lengths were checked against the element when the template was accepted.
        match element {
            Element::Skip => {}
            Element::Octets => self.octets = unsigned(v),
            Element::Packets => self.packets = unsigned(v),
            Element::Protocol => self.proto = v[0],
            Element::TcpFlags => self.tcp_flags = Some(unsigned(v) as u16),
            Element::SourcePort => self.sport = unsigned(v) as u16,
            Element::DestinationPort => self.dport = unsigned(v) as u16,
            Element::SourceV4 => self.src = Some(IpAddr::V4(Ipv4Addr::from(unsigned(v) as u32))),
            Element::DestinationV4 => self.dst = Some(IpAddr::V4(Ipv4Addr::from(unsigned(v) as u32))),
            Element::SourceV6 => self.src = Some(IpAddr::V6(v6(v))),
            Element::DestinationV6 => self.dst = Some(IpAddr::V6(v6(v))),
            Element::StartUptime => self.start_uptime = Some(unsigned(v) as u32),
            Element::EndUptime => self.end_uptime = Some(unsigned(v) as u32),
            Element::StartSeconds => self.start_seconds = Some(unsigned(v) as u32),
            Element::EndSeconds => self.end_seconds = Some(unsigned(v) as u32),
            Element::StartMilliseconds => self.start_ms = Some(unsigned(v)),
            Element::EndMilliseconds => self.end_ms = Some(unsigned(v)),
            Element::SystemInit => self.system_init_ms = Some(unsigned(v)),
        }
    }

    /// The flow, or `None` when the record had no source or destination address.
    pub fn into_flow(self, exporter: IpAddr, observation_domain: u32, clock: Clock) -> Option<Flow> {
        let (src, dst) = (self.src?, self.dst?);
        let absolute = |ms: Option<u64>, secs: Option<u32>, uptime: Option<u32>| -> Option<u64> {
            ms.or_else(|| secs.map(|s| u64::from(s) * 1000)).or_else(|| {
                let uptime = uptime?;
                match clock {
                    Clock::Uptime { sys_uptime_ms, unix_secs } => {
                        // The uptime counter wraps every 2^32 ms (about 49.7 days).
                        let ago = u64::from(sys_uptime_ms.wrapping_sub(uptime));
                        (u64::from(unix_secs) * 1000).checked_sub(ago)
                    }
                    Clock::Ipfix => self.system_init_ms?.checked_add(u64::from(uptime)),
                }
            })
        };
        Some(Flow {
            exporter,
            observation_domain,
            tuple: FiveTuple { src, dst, sport: self.sport, dport: self.dport, proto: self.proto },
            octets: self.octets,
            packets: self.packets,
            start_ms: absolute(self.start_ms, self.start_seconds, self.start_uptime),
            end_ms: absolute(self.end_ms, self.end_seconds, self.end_uptime),
            tcp_flags: self.tcp_flags,
        })
    }
}

fn v6(v: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(v);
    Ipv6Addr::from(octets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u16, length: u16) -> FieldSpec {
        FieldSpec { id, enterprise: false, length }
    }

    #[test]
    fn a_variable_length_field_is_read_with_its_one_or_three_octet_prefix() {
        let t = Template::new(TemplateKind::Data, &[spec(8, 4), spec(82, VARIABLE_LENGTH), spec(12, 4)]).unwrap();
        assert_eq!(t.min_length, 9);
        let mut short = vec![10, 0, 0, 1, 3, b'e', b't', b'h', 10, 0, 0, 2];
        assert_eq!(t.record_length(&short), Some(12));
        // 300 octets: 255, then 0x012c.
        let mut long = vec![10, 0, 0, 1, 255, 0x01, 0x2c];
        long.extend(std::iter::repeat_n(b'x', 300));
        long.extend([10, 0, 0, 2]);
        let mut r = Record::default();
        assert_eq!(t.decode(&long, &mut r), Some(4 + 3 + 300 + 4));
        assert_eq!(r.dst, Some("10.0.0.2".parse().unwrap()));
        short.truncate(11);
        assert_eq!(t.record_length(&short), None, "a record that runs past the set");
    }

    #[test]
    fn an_all_empty_template_is_refused() {
        assert_eq!(Template::new(TemplateKind::Data, &[spec(999, 0)]), Err(TemplateError::BadField));
        assert_eq!(Template::new(TemplateKind::Data, &[]), Err(TemplateError::BadField));
    }

    #[test]
    fn netflow_uptimes_become_unix_milliseconds_across_a_wrap() {
        let r = Record {
            src: Some("10.0.0.1".parse().unwrap()),
            dst: Some("10.0.0.2".parse().unwrap()),
            start_uptime: Some(u32::MAX - 999),
            end_uptime: Some(500),
            ..Record::default()
        };
        let clock = Clock::Uptime { sys_uptime_ms: 1500, unix_secs: 1_700_000_000 };
        let flow = r.into_flow("192.0.2.1".parse().unwrap(), 7, clock).unwrap();
        assert_eq!(flow.end_ms, Some(1_700_000_000_000 - 1000));
        assert_eq!(flow.start_ms, Some(1_700_000_000_000 - 2500));
    }
}
