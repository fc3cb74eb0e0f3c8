//! Builds IPFIX and NetFlow v9 messages: for tests, benchmarks and load generators (`warden bench
//! ipfix`). It writes what it is told, malformed or not, so tests can build bad input too.

use std::net::IpAddr;

use crate::Flow;

/// One field specifier of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpecifier {
    /// Information element ID (without the enterprise bit).
    pub id: u16,
    /// Field length, 65535 for variable length (IPFIX only).
    pub length: u16,
    /// Enterprise number, for enterprise-specific elements (IPFIX only).
    pub enterprise: Option<u32>,
}

impl FieldSpecifier {
    /// An IANA element.
    pub const fn iana(id: u16, length: u16) -> Self {
        FieldSpecifier { id, length, enterprise: None }
    }
}

/// The fields [`v4_flow_record`] writes, in order: addresses, ports, protocol, TCP flags, counters,
/// start and end in Unix milliseconds (57 octets a record).
pub const V4_FLOW_FIELDS: [FieldSpecifier; 10] = [
    FieldSpecifier::iana(8, 4),
    FieldSpecifier::iana(12, 4),
    FieldSpecifier::iana(7, 2),
    FieldSpecifier::iana(11, 2),
    FieldSpecifier::iana(4, 1),
    FieldSpecifier::iana(6, 2),
    FieldSpecifier::iana(1, 8),
    FieldSpecifier::iana(2, 8),
    FieldSpecifier::iana(152, 8),
    FieldSpecifier::iana(153, 8),
];

/// Appends one record of the [`V4_FLOW_FIELDS`] template; `None` when an address is IPv6.
pub fn v4_flow_record(flow: &Flow, out: &mut Vec<u8>) -> Option<()> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (flow.tuple.src, flow.tuple.dst) else { return None };
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    out.extend_from_slice(&flow.tuple.sport.to_be_bytes());
    out.extend_from_slice(&flow.tuple.dport.to_be_bytes());
    out.push(flow.tuple.proto);
    out.extend_from_slice(&flow.tcp_flags.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&flow.octets.to_be_bytes());
    out.extend_from_slice(&flow.packets.to_be_bytes());
    out.extend_from_slice(&flow.start_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&flow.end_ms.unwrap_or(0).to_be_bytes());
    Some(())
}

/// One message being built, set by set.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    ipfix: bool,
    buf: Vec<u8>,
    records: u16,
}

impl MessageBuilder {
    /// An IPFIX message (version 10) for an observation domain.
    pub fn ipfix(domain: u32, export_time: u32, sequence: u32) -> Self {
        let mut buf = Vec::with_capacity(1400);
        buf.extend_from_slice(&10u16.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes()); // length, set by finish
        buf.extend_from_slice(&export_time.to_be_bytes());
        buf.extend_from_slice(&sequence.to_be_bytes());
        buf.extend_from_slice(&domain.to_be_bytes());
        MessageBuilder { ipfix: true, buf, records: 0 }
    }

    /// A NetFlow v9 packet for a source ID.
    pub fn netflow_v9(source_id: u32, sys_uptime_ms: u32, unix_secs: u32, sequence: u32) -> Self {
        let mut buf = Vec::with_capacity(1400);
        buf.extend_from_slice(&9u16.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes()); // count, set by finish
        buf.extend_from_slice(&sys_uptime_ms.to_be_bytes());
        buf.extend_from_slice(&unix_secs.to_be_bytes());
        buf.extend_from_slice(&sequence.to_be_bytes());
        buf.extend_from_slice(&source_id.to_be_bytes());
        MessageBuilder { ipfix: false, buf, records: 0 }
    }

    /// A set with the given ID and content, as is (the length is computed).
    pub fn raw_set(&mut self, set_id: u16, content: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&set_id.to_be_bytes());
        self.buf.extend_from_slice(&((content.len() + 4) as u16).to_be_bytes());
        self.buf.extend_from_slice(content);
        self
    }

    fn specifiers(out: &mut Vec<u8>, fields: &[FieldSpecifier]) {
        for f in fields {
            let id = if f.enterprise.is_some() { f.id | 0x8000 } else { f.id };
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&f.length.to_be_bytes());
            if let Some(pen) = f.enterprise {
                out.extend_from_slice(&pen.to_be_bytes());
            }
        }
    }

    /// A template set (IPFIX set 2, v9 flowset 0) with one template.
    pub fn template(&mut self, id: u16, fields: &[FieldSpecifier]) -> &mut Self {
        let mut content = Vec::new();
        content.extend_from_slice(&id.to_be_bytes());
        content.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        Self::specifiers(&mut content, fields);
        self.records += 1;
        let set_id = if self.ipfix { 2 } else { 0 };
        self.raw_set(set_id, &content)
    }

    /// An options template set (IPFIX set 3, v9 flowset 1) with one template.
    pub fn options_template(&mut self, id: u16, scope: &[FieldSpecifier], options: &[FieldSpecifier]) -> &mut Self {
        let mut content = Vec::new();
        content.extend_from_slice(&id.to_be_bytes());
        if self.ipfix {
            content.extend_from_slice(&((scope.len() + options.len()) as u16).to_be_bytes());
            content.extend_from_slice(&(scope.len() as u16).to_be_bytes());
            Self::specifiers(&mut content, scope);
            Self::specifiers(&mut content, options);
        } else {
            content.extend_from_slice(&((scope.len() * 4) as u16).to_be_bytes());
            content.extend_from_slice(&((options.len() * 4) as u16).to_be_bytes());
            Self::specifiers(&mut content, scope);
            Self::specifiers(&mut content, options);
            // Flowsets are padded to 32 bits (RFC 3954 §6.1).
            while (content.len() + 4) % 4 != 0 {
                content.push(0);
            }
        }
        self.records += 1;
        let set_id = if self.ipfix { 3 } else { 1 };
        self.raw_set(set_id, &content)
    }

    /// An IPFIX template withdrawal (field count 0) in a template set; `id` 2 withdraws them all.
    pub fn withdraw(&mut self, id: u16) -> &mut Self {
        let mut content = Vec::new();
        content.extend_from_slice(&id.to_be_bytes());
        content.extend_from_slice(&0u16.to_be_bytes());
        self.raw_set(2, &content)
    }

    /// A data set of already-encoded records for a template.
    pub fn data(&mut self, template_id: u16, records: &[u8], record_count: u16) -> &mut Self {
        self.records = self.records.saturating_add(record_count);
        self.raw_set(template_id, records)
    }

    /// The message's bytes (length or count filled in).
    pub fn finish(mut self) -> Vec<u8> {
        let word = if self.ipfix { self.buf.len() as u16 } else { self.records };
        self.buf[2..4].copy_from_slice(&word.to_be_bytes());
        self.buf
    }
}
