//! IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) collection, sans-IO.
//!
//! [`Collector::handle`] takes one UDP datagram and the address it came from and appends the flow
//! records it carried. Datagrams from addresses not in [`CollectorConfig::exporters`] are dropped
//! before they are read. Templates (and options templates, whose records are skipped) are kept per
//! (exporter, protocol version, observation domain or source ID), at most
//! [`CollectorConfig::max_templates_per_exporter`] per exporter and
//! [`CollectorConfig::max_fields_per_template`] fields each. Anything malformed is dropped at the
//! smallest unit that can be skipped safely (datagram, set, template record, data record) and
//! counted by [`DropReason`]; nothing here panics on input.

pub mod encode;
mod ie;
mod template;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use template::{Clock, FieldSpec, Record, Template, TemplateKind};

use crate::Flow;

/// Which exporters are heard and how much template state each may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Addresses datagrams are accepted from; every other source is dropped and counted.
    pub exporters: Vec<IpAddr>,
    /// Templates (data and options, all domains) one exporter may have at once; more are refused.
    pub max_templates_per_exporter: usize,
    /// Fields one template may have; longer templates are refused.
    pub max_fields_per_template: usize,
}

impl CollectorConfig {
    /// Accepts the given exporters, with the default bounds (512 templates, 128 fields).
    pub fn new(exporters: impl IntoIterator<Item = IpAddr>) -> Self {
        CollectorConfig {
            exporters: exporters.into_iter().collect(),
            max_templates_per_exporter: 512,
            max_fields_per_template: 128,
        }
    }
}

/// Why something was dropped. Each drop counts once, at the unit named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Datagram: the source address is not a configured exporter.
    UnknownExporter,
    /// Datagram: shorter than its header.
    ShortHeader,
    /// Datagram: neither IPFIX (10) nor NetFlow v9.
    UnsupportedVersion,
    /// Datagram: the IPFIX message length is shorter than a header or longer than the datagram.
    BadMessageLength,
    /// Set: its length is under 4 or runs past the message (the rest of the message is dropped too).
    BadSetLength,
    /// Set: a set ID that is neither a template set nor a data set (IPFIX 0, 1, 4–255; v9 2–255).
    ReservedSetId,
    /// Template record: truncated, ID under 256, wrong field count, or a field length its element
    /// cannot have (the rest of the set is dropped when the record's end cannot be known).
    BadTemplate,
    /// Template record: the exporter already has the maximum number of templates, or the template has
    /// more fields than allowed.
    TemplateLimit,
    /// Data set: no template with that ID from that exporter and domain (yet).
    UnknownTemplate,
    /// Data record: runs past the end of its set (the rest of the set is dropped).
    BadRecord,
    /// Data record: no source or destination address.
    MissingAddresses,
}

impl DropReason {
    /// Every reason, in a fixed order (for metrics).
    pub const ALL: [DropReason; 11] = [
        DropReason::UnknownExporter,
        DropReason::ShortHeader,
        DropReason::UnsupportedVersion,
        DropReason::BadMessageLength,
        DropReason::BadSetLength,
        DropReason::ReservedSetId,
        DropReason::BadTemplate,
        DropReason::TemplateLimit,
        DropReason::UnknownTemplate,
        DropReason::BadRecord,
        DropReason::MissingAddresses,
    ];

    /// A stable snake_case name (a metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownExporter => "unknown_exporter",
            DropReason::ShortHeader => "short_header",
            DropReason::UnsupportedVersion => "unsupported_version",
            DropReason::BadMessageLength => "bad_message_length",
            DropReason::BadSetLength => "bad_set_length",
            DropReason::ReservedSetId => "reserved_set_id",
            DropReason::BadTemplate => "bad_template",
            DropReason::TemplateLimit => "template_limit",
            DropReason::UnknownTemplate => "unknown_template",
            DropReason::BadRecord => "bad_record",
            DropReason::MissingAddresses => "missing_addresses",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the collector has seen since it was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams handed in, accepted or not.
    pub datagrams: u64,
    /// Flow records produced.
    pub flows: u64,
    /// Templates (data and options) learned or redefined.
    pub templates_learned: u64,
    /// Templates removed by withdrawal messages.
    pub templates_withdrawn: u64,
    /// Options data records skipped (they are read for their length only).
    pub options_records_skipped: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl Counters {
    /// How many were dropped for this reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// How many were dropped, all reasons together.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    fn drop(&mut self, reason: DropReason) {
        self.dropped[reason.index()] += 1;
    }
}

/// IPFIX is version 10; NetFlow v9 is version 9. Part of the template cache key: the two ID spaces
/// are separate even for the same exporter and domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Version {
    NetflowV9,
    Ipfix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TemplateKey {
    version: Version,
    domain: u32,
    id: u16,
}

/// One exporter's templates.
#[derive(Debug, Default)]
struct ExporterState {
    templates: HashMap<TemplateKey, Template>,
}

/// The IPFIX / NetFlow v9 collector: datagrams in, flows out.
#[derive(Debug)]
pub struct Collector {
    config: CollectorConfig,
    allowed: HashSet<IpAddr>,
    exporters: HashMap<IpAddr, ExporterState>,
    counters: Counters,
}

/// The context every set of one message is read in.
#[derive(Clone, Copy)]
struct Message {
    exporter: IpAddr,
    version: Version,
    domain: u32,
    clock: Clock,
}

const IPFIX_HEADER: usize = 16;
const V9_HEADER: usize = 20;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

impl Collector {
    /// A collector accepting the configured exporters.
    pub fn new(config: CollectorConfig) -> Self {
        let allowed = config.exporters.iter().map(|ip| ip.to_canonical()).collect();
        Collector { config, allowed, exporters: HashMap::new(), counters: Counters::default() }
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// How many templates (data and options) are cached for all exporters.
    pub fn template_count(&self) -> usize {
        self.exporters.values().map(|e| e.templates.len()).sum()
    }

    /// Reads one datagram from `exporter` and appends its flows to `out`; returns how many it added.
    pub fn handle(&mut self, exporter: IpAddr, datagram: &[u8], out: &mut Vec<Flow>) -> usize {
        self.counters.datagrams += 1;
        let exporter = exporter.to_canonical();
        if !self.allowed.contains(&exporter) {
            self.counters.drop(DropReason::UnknownExporter);
            return 0;
        }
        let before = out.len();
        match be16(datagram, 0) {
            None => self.counters.drop(DropReason::ShortHeader),
            Some(10) => self.ipfix(exporter, datagram, out),
            Some(9) => self.netflow_v9(exporter, datagram, out),
            Some(_) => self.counters.drop(DropReason::UnsupportedVersion),
        }
        let added = out.len() - before;
        self.counters.flows += added as u64;
        added
    }

    fn ipfix(&mut self, exporter: IpAddr, datagram: &[u8], out: &mut Vec<Flow>) {
        if datagram.len() < IPFIX_HEADER {
            self.counters.drop(DropReason::ShortHeader);
            return;
        }
        let length = usize::from(be16(datagram, 2).unwrap_or(0));
        if length < IPFIX_HEADER || length > datagram.len() {
            self.counters.drop(DropReason::BadMessageLength);
            return;
        }
        let domain = be32(datagram, 12).unwrap_or(0);
        let message = Message { exporter, version: Version::Ipfix, domain, clock: Clock::Ipfix };
        self.sets(message, &datagram[IPFIX_HEADER..length], out);
    }

    fn netflow_v9(&mut self, exporter: IpAddr, datagram: &[u8], out: &mut Vec<Flow>) {
        if datagram.len() < V9_HEADER {
            self.counters.drop(DropReason::ShortHeader);
            return;
        }
        let sys_uptime_ms = be32(datagram, 4).unwrap_or(0);
        let unix_secs = be32(datagram, 8).unwrap_or(0);
        let domain = be32(datagram, 16).unwrap_or(0);
        let clock = Clock::Uptime { sys_uptime_ms, unix_secs };
        let message = Message { exporter, version: Version::NetflowV9, domain, clock };
        // NetFlow v9 has no message length: the datagram is the message (RFC 3954 §5.1).
        self.sets(message, &datagram[V9_HEADER..], out);
    }

    /// Walks the sets (flowsets) of one message.
    fn sets(&mut self, m: Message, mut body: &[u8], out: &mut Vec<Flow>) {
        while !body.is_empty() {
            let (Some(set_id), Some(set_length)) = (be16(body, 0), be16(body, 2)) else {
                self.counters.drop(DropReason::BadSetLength);
                return;
            };
            let set_length = usize::from(set_length);
            if set_length < 4 || set_length > body.len() {
                self.counters.drop(DropReason::BadSetLength);
                return;
            }
            let content = &body[4..set_length];
            body = &body[set_length..];
            match (m.version, set_id) {
                (Version::Ipfix, 2) => self.ipfix_templates(m, content, TemplateKind::Data),
                (Version::Ipfix, 3) => self.ipfix_templates(m, content, TemplateKind::Options),
                (Version::NetflowV9, 0) => self.v9_templates(m, content),
                (Version::NetflowV9, 1) => self.v9_options_templates(m, content),
                (_, id) if id >= 256 => self.data_set(m, id, content, out),
                _ => self.counters.drop(DropReason::ReservedSetId),
            }
        }
    }

    /// IPFIX template and options template sets (RFC 7011 §3.4.1, §3.4.2, withdrawals §8.1).
    fn ipfix_templates(&mut self, m: Message, content: &[u8], kind: TemplateKind) {
        let mut pos = 0usize;
        // Fewer than 4 octets left is padding.
        while content.len() - pos >= 4 {
            let id = be16(content, pos).unwrap_or(0);
            let field_count = usize::from(be16(content, pos + 2).unwrap_or(0));
            if field_count == 0 {
                pos += 4;
                self.withdraw(m, id, kind);
                continue;
            }
            let mut cursor = pos + 4;
            let scope_count = match kind {
                TemplateKind::Data => 0,
                TemplateKind::Options => {
                    let Some(scope) = be16(content, cursor) else {
                        self.counters.drop(DropReason::BadTemplate);
                        return;
                    };
                    cursor += 2;
                    usize::from(scope)
                }
            };
            let mut specs = Vec::with_capacity(field_count.min(self.config.max_fields_per_template + 1));
            for _ in 0..field_count {
                let (Some(raw_id), Some(length)) = (be16(content, cursor), be16(content, cursor + 2)) else {
                    self.counters.drop(DropReason::BadTemplate);
                    return;
                };
                cursor += 4;
                let enterprise = raw_id & 0x8000 != 0;
                if enterprise {
                    if content.len() < cursor + 4 {
                        self.counters.drop(DropReason::BadTemplate);
                        return;
                    }
                    cursor += 4;
                }
                if specs.len() <= self.config.max_fields_per_template {
                    specs.push(FieldSpec { id: raw_id & 0x7fff, enterprise, length });
                }
            }
            pos = cursor;
            if kind == TemplateKind::Options && (scope_count == 0 || scope_count > field_count) {
                self.counters.drop(DropReason::BadTemplate);
                continue;
            }
            self.learn(m, id, kind, field_count, &specs);
        }
    }

    /// NetFlow v9 template flowsets (RFC 3954 §5.2). No enterprise bits, no withdrawal.
    fn v9_templates(&mut self, m: Message, content: &[u8]) {
        let mut pos = 0usize;
        while content.len() - pos >= 4 {
            let id = be16(content, pos).unwrap_or(0);
            let field_count = usize::from(be16(content, pos + 2).unwrap_or(0));
            let end = pos + 4 + field_count * 4;
            if field_count == 0 || end > content.len() {
                self.counters.drop(DropReason::BadTemplate);
                return;
            }
            let specs: Vec<FieldSpec> = (0..field_count.min(self.config.max_fields_per_template + 1))
                .map(|i| {
                    let at = pos + 4 + i * 4;
                    let id = be16(content, at).unwrap_or(0);
                    FieldSpec { id, enterprise: false, length: be16(content, at + 2).unwrap_or(0) }
                })
                .collect();
            pos = end;
            self.learn(m, id, TemplateKind::Data, field_count, &specs);
        }
    }

    /// NetFlow v9 options template flowsets (RFC 3954 §6.1): kept for their record length only.
    fn v9_options_templates(&mut self, m: Message, content: &[u8]) {
        let mut pos = 0usize;
        // An options template record is at least 6 octets of header and one 4-octet scope field;
        // anything shorter at the end is padding.
        while content.len() - pos >= 10 {
            let id = be16(content, pos).unwrap_or(0);
            let scope_length = usize::from(be16(content, pos + 2).unwrap_or(0));
            let option_length = usize::from(be16(content, pos + 4).unwrap_or(0));
            let end = pos + 6 + scope_length + option_length;
            if scope_length == 0 || scope_length % 4 != 0 || option_length % 4 != 0 || end > content.len() {
                self.counters.drop(DropReason::BadTemplate);
                return;
            }
            let field_count = (scope_length + option_length) / 4;
            let specs: Vec<FieldSpec> = (0..field_count.min(self.config.max_fields_per_template + 1))
                .map(|i| {
                    let at = pos + 6 + i * 4;
                    FieldSpec { id: 0, enterprise: false, length: be16(content, at + 2).unwrap_or(0) }
                })
                .collect();
            pos = end;
            self.learn(m, id, TemplateKind::Options, field_count, &specs);
        }
    }

    /// Stores a template after its checks (ID, field count, bounds, field lengths).
    fn learn(&mut self, m: Message, id: u16, kind: TemplateKind, field_count: usize, specs: &[FieldSpec]) {
        if id < 256 {
            self.counters.drop(DropReason::BadTemplate);
            return;
        }
        if field_count > self.config.max_fields_per_template {
            self.counters.drop(DropReason::TemplateLimit);
            return;
        }
        let template = match Template::new(kind, specs) {
            Ok(t) => t,
            Err(_) => {
                self.counters.drop(DropReason::BadTemplate);
                return;
            }
        };
        let key = TemplateKey { version: m.version, domain: m.domain, id };
        let state = self.exporters.entry(m.exporter).or_default();
        if !state.templates.contains_key(&key) && state.templates.len() >= self.config.max_templates_per_exporter {
            self.counters.drop(DropReason::TemplateLimit);
            return;
        }
        state.templates.insert(key, template);
        self.counters.templates_learned += 1;
    }

    /// A withdrawal: one template, or all of a kind in the domain when the ID is the set ID (2 or 3).
    fn withdraw(&mut self, m: Message, id: u16, kind: TemplateKind) {
        let all_id = match kind {
            TemplateKind::Data => 2,
            TemplateKind::Options => 3,
        };
        if id != all_id && id < 256 {
            self.counters.drop(DropReason::BadTemplate);
            return;
        }
        let Some(state) = self.exporters.get_mut(&m.exporter) else { return };
        let before = state.templates.len();
        if id == all_id {
            state.templates.retain(|k, t| !(k.version == m.version && k.domain == m.domain && t.kind == kind));
        } else {
            let key = TemplateKey { version: m.version, domain: m.domain, id };
            if state.templates.get(&key).is_some_and(|t| t.kind == kind) {
                state.templates.remove(&key);
            }
        }
        self.counters.templates_withdrawn += (before - state.templates.len()) as u64;
    }

    /// A data set: records decoded against their template until what is left is padding.
    fn data_set(&mut self, m: Message, id: u16, content: &[u8], out: &mut Vec<Flow>) {
        let key = TemplateKey { version: m.version, domain: m.domain, id };
        let Some(template) = self.exporters.get(&m.exporter).and_then(|s| s.templates.get(&key)) else {
            self.counters.drop(DropReason::UnknownTemplate);
            return;
        };
        let counters = &mut self.counters;
        let mut pos = 0usize;
        while content.len() - pos >= template.min_length {
            let rest = &content[pos..];
            if template.kind == TemplateKind::Options {
                match template.record_length(rest) {
                    Some(n) => {
                        pos += n;
                        counters.options_records_skipped += 1;
                    }
                    None => {
                        counters.drop(DropReason::BadRecord);
                        return;
                    }
                }
                continue;
            }
            let mut record = Record::default();
            let Some(n) = template.decode(rest, &mut record) else {
                counters.drop(DropReason::BadRecord);
                return;
            };
            pos += n;
            match record.into_flow(m.exporter, m.domain, m.clock) {
                Some(flow) => out.push(flow),
                None => counters.drop(DropReason::MissingAddresses),
            }
        }
    }
}
