//! DNS messages on the wire: reading a query (with hickory-proto) into what the firewall needs, and
//! writing the short answers it makes itself (errors, refusals, truncation) byte by byte.
//!
//! Header layout and codes: RFC 1035 §4.1.1; OPT record: RFC 6891 §6.1.2; BADVERS: RFC 6891 §6.1.3;
//! TC and the 512-byte default: RFC 1035 §4.2.1; the 1232-byte cap: DNS flag day 2020.

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// RCODE NOERROR.
pub const NOERROR: u16 = 0;
/// RCODE FORMERR.
pub const FORMERR: u16 = 1;
/// RCODE SERVFAIL.
pub const SERVFAIL: u16 = 2;
/// RCODE NXDOMAIN.
pub const NXDOMAIN: u16 = 3;
/// RCODE NOTIMP.
pub const NOTIMP: u16 = 4;
/// RCODE REFUSED.
pub const REFUSED: u16 = 5;
/// Extended RCODE BADVERS (RFC 6891 §6.1.3).
pub const BADVERS: u16 = 16;

/// The UDP payload a client without EDNS can take (RFC 1035 §4.2.1).
pub const CLASSIC_UDP: usize = 512;
/// The largest UDP payload answered or advertised (DNS flag day 2020).
pub const MAX_UDP: u16 = 1232;
/// The header length.
pub const HEADER: usize = 12;

/// The client's EDNS OPT record, as far as the answer depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEdns {
    /// The UDP payload size it accepts.
    pub payload: u16,
    /// The EDNS version it speaks.
    pub version: u8,
}

/// A query the firewall can decide on.
#[derive(Debug, Clone)]
pub struct Question {
    /// The message ID.
    pub id: u16,
    /// The RD and CD flags of the query (copied into the response).
    pub rd: bool,
    /// Checking disabled.
    pub cd: bool,
    /// The name as asked.
    pub name: Name,
    /// The name in lower case without the trailing dot (`.` for the root): the log and policy form.
    pub lower: String,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS.
    pub qclass: DNSClass,
    /// The question section exactly as received (name, type, class).
    pub raw: Vec<u8>,
    /// True when a label holds a `.` (written `\.` in `lower`): such a name cannot be matched
    /// against allowlist suffixes by text, so an allowlist refuses it.
    pub dotted_label: bool,
    /// The client's OPT record.
    pub edns: Option<ClientEdns>,
    /// True when the query came over TCP (no payload limit but 65535).
    pub tcp: bool,
}

impl Question {
    /// The largest answer the client takes over its transport.
    pub fn limit(&self) -> usize {
        if self.tcp {
            return u16::MAX as usize;
        }
        match self.edns {
            Some(e) => (e.payload.clamp(CLASSIC_UDP as u16, MAX_UDP)) as usize,
            None => CLASSIC_UDP,
        }
    }
}

/// What to do with a datagram that is not a query the firewall decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Too short for a header, or a response: say nothing.
    Drop,
    /// Send this error answer (FORMERR, NOTIMP or BADVERS).
    Reply(Vec<u8>, u16),
}

/// Reads `packet` as a query with exactly one question.
pub fn parse_query(packet: &[u8], tcp: bool) -> Result<Question, Rejected> {
    if packet.len() < HEADER {
        return Err(Rejected::Drop);
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let flags = packet[2];
    if flags & 0x80 != 0 {
        // A response (QR set): answering it could start a loop between two servers.
        return Err(Rejected::Drop);
    }
    let opcode = (flags >> 3) & 0x0f;
    let rd = flags & 0x01 != 0;
    let cd = packet[3] & 0x10 != 0;
    if opcode != 0 {
        return Err(Rejected::Reply(header_only(id, opcode, rd, cd, NOTIMP), NOTIMP));
    }
    let formerr = || Rejected::Reply(header_only(id, 0, rd, cd, FORMERR), FORMERR);
    let qdcount = u16::from_be_bytes([packet[4], packet[5]]);
    if qdcount != 1 {
        return Err(formerr());
    }
    let msg = Message::from_vec(packet).map_err(|_| formerr())?;
    if msg.metadata.message_type != MessageType::Query || msg.metadata.op_code != OpCode::Query {
        return Err(formerr());
    }
    let Some(q) = msg.queries.first() else { return Err(formerr()) };
    let raw_end = question_end(packet).ok_or_else(formerr)?;
    let raw = packet[HEADER..raw_end].to_vec();
    let edns = msg.edns.as_ref().map(|e| ClientEdns { payload: e.max_payload(), version: e.version() });
    let mut question = Question {
        id,
        rd,
        cd,
        lower: lower_name(&q.name),
        name: q.name.clone(),
        qtype: q.query_type,
        qclass: q.query_class,
        raw,
        dotted_label: q.name.iter().any(|label| label.contains(&b'.')),
        edns,
        tcp,
    };
    // Zone transfers and the obsolete MAILA/MAILB meta-queries (RFC 1035 §3.2.3, RFC 1995) are
    // not offered by a resolver for UEs; OPT is not a question type (RFC 6891 §6.1.1).
    match u16::from(question.qtype) {
        251..=254 => return Err(Rejected::Reply(error_answer(&question, NOTIMP), NOTIMP)),
        41 => return Err(Rejected::Reply(error_answer(&question, FORMERR), FORMERR)),
        _ => {}
    }
    if let Some(e) = edns {
        if e.version > 0 {
            question.edns = Some(ClientEdns { payload: e.payload, version: 0 });
            return Err(Rejected::Reply(error_answer(&question, BADVERS), BADVERS));
        }
    }
    Ok(question)
}

/// The policy and log form of a name: lower case, no trailing dot, `.` for the root.
pub fn lower_name(name: &Name) -> String {
    if name.is_root() {
        return ".".into();
    }
    let mut s = name.to_lowercase().to_ascii();
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// The offset after the first question of `packet` (name without compression, type, class).
fn question_end(packet: &[u8]) -> Option<usize> {
    let mut i = HEADER;
    loop {
        let len = *packet.get(i)? as usize;
        if len & 0xc0 != 0 {
            // A compression pointer in the first name can only point backwards into the header.
            return None;
        }
        i += 1 + len;
        if len == 0 {
            break;
        }
    }
    let end = i + 4;
    (end <= packet.len()).then_some(end)
}

/// Skips the (possibly compressed) name at `i`, returning the offset after it.
pub(crate) fn skip_name(msg: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *msg.get(i)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(i + 1),
            0x00 => i += 1 + len as usize,
            0xc0 => return (i + 2 <= msg.len()).then_some(i + 2),
            _ => return None,
        }
    }
}

fn header_only(id: u16, opcode: u8, rd: bool, cd: bool, rcode: u16) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    write_header(&mut out, id, opcode, false, rd, cd, rcode);
    out
}

/// Writes ID, flags and rcode (the low 4 bits) into a response header; RA is always set.
pub(crate) fn write_header(out: &mut [u8], id: u16, opcode: u8, tc: bool, rd: bool, cd: bool, rcode: u16) {
    out[0..2].copy_from_slice(&id.to_be_bytes());
    out[2] = 0x80 | ((opcode & 0x0f) << 3) | (u8::from(tc) << 1) | u8::from(rd);
    out[3] = 0x80 | (u8::from(cd) << 4) | (rcode & 0x0f) as u8;
}

pub(crate) fn set_count(out: &mut [u8], section: usize, count: u16) {
    out[4 + 2 * section..6 + 2 * section].copy_from_slice(&count.to_be_bytes());
}

fn count(out: &[u8], section: usize) -> u16 {
    u16::from_be_bytes([out[4 + 2 * section], out[5 + 2 * section]])
}

/// Appends our OPT record (payload [`MAX_UDP`], version 0, no flags, the extended rcode bits).
pub(crate) fn push_opt(out: &mut Vec<u8>, rcode: u16) {
    out.push(0); // root name
    out.extend_from_slice(&41u16.to_be_bytes()); // TYPE OPT
    out.extend_from_slice(&MAX_UDP.to_be_bytes()); // CLASS = UDP payload size
    out.push((rcode >> 4) as u8); // extended RCODE
    out.push(0); // version
    out.extend_from_slice(&[0, 0]); // flags
    out.extend_from_slice(&[0, 0]); // RDLEN
    let ar = count(out, 3);
    set_count(out, 3, ar.wrapping_add(1));
}

/// An answer with no records: the question echoed, the rcode, and an OPT record when the client
/// sent one.
pub fn error_answer(q: &Question, rcode: u16) -> Vec<u8> {
    build_empty(q, rcode, false)
}

/// The truncated answer (TC set, no records) telling a UDP client to ask again over TCP.
pub fn truncated(q: &Question, rcode: u16) -> Vec<u8> {
    build_empty(q, rcode, true)
}

fn build_empty(q: &Question, rcode: u16, tc: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + q.raw.len() + 11);
    out.resize(HEADER, 0);
    write_header(&mut out, q.id, 0, tc, q.rd, q.cd, rcode);
    set_count(&mut out, 0, 1);
    out.extend_from_slice(&q.raw);
    if q.edns.is_some() {
        push_opt(&mut out, rcode);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Query};

    pub(crate) fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        if let Some(p) = edns {
            let mut e = Edns::new();
            e.set_max_payload(p);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn a_query_is_read_with_its_raw_question_and_edns() {
        let q = parse_query(&query("Api.Acme.Example.", RecordType::A, Some(4096)), false).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.rd);
        assert_eq!(q.lower, "api.acme.example");
        assert_eq!(q.qtype, RecordType::A);
        assert_eq!(&q.raw[..4], b"\x03Api");
        assert_eq!(q.raw.len(), "Api.Acme.Example.".len() + 1 + 4);
        assert_eq!(q.limit(), 1232);
        let q = parse_query(&query("a.example.", RecordType::AAAA, None), false).unwrap();
        assert_eq!(q.limit(), 512);
        let q = parse_query(&query("a.example.", RecordType::AAAA, Some(100)), false).unwrap();
        assert_eq!(q.limit(), 512);
        let q = parse_query(&query("a.example.", RecordType::AAAA, None), true).unwrap();
        assert_eq!(q.limit(), 65535);
    }

    #[test]
    fn bad_queries_get_formerr_notimp_or_nothing() {
        assert_eq!(parse_query(b"\x12\x34\x01", false).unwrap_err(), Rejected::Drop);
        let good = query("a.example.", RecordType::A, None);
        // A response is never answered.
        let mut resp = good.clone();
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp, false).unwrap_err(), Rejected::Drop);
        // Truncated question: FORMERR with the ID.
        let Rejected::Reply(r, FORMERR) = parse_query(&good[..good.len() - 2], false).unwrap_err() else {
            panic!("expected FORMERR")
        };
        assert_eq!((r[0], r[1], r[3] & 0x0f), (0x12, 0x34, 1));
        assert_eq!(r[2] & 0x80, 0x80);
        // Two questions.
        let mut two = good.clone();
        two[5] = 2;
        assert!(matches!(parse_query(&two, false), Err(Rejected::Reply(_, FORMERR))));
        // NOTIFY opcode (4).
        let mut notify = good.clone();
        notify[2] = 4 << 3;
        let Rejected::Reply(r, NOTIMP) = parse_query(&notify, false).unwrap_err() else { panic!("expected NOTIMP") };
        assert_eq!((r[2] >> 3) & 0x0f, 4);
        assert_eq!(r[3] & 0x0f, 4);
        // Zone transfers are not offered.
        let axfr = query("acme.example.", RecordType::AXFR, None);
        let Rejected::Reply(r, NOTIMP) = parse_query(&axfr, true).unwrap_err() else { panic!("expected NOTIMP") };
        assert_eq!(Message::from_vec(&r).unwrap().queries[0].query_type, RecordType::AXFR);
    }

    #[test]
    fn edns_version_1_gets_badvers_in_the_opt_record() {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii("a.example.").unwrap(), RecordType::A));
        let mut e = Edns::new();
        e.set_version(1);
        m.set_edns(e);
        let Rejected::Reply(r, BADVERS) = parse_query(&m.to_vec().unwrap(), false).unwrap_err() else {
            panic!("expected BADVERS")
        };
        let answer = Message::from_vec(&r).unwrap();
        assert_eq!(u16::from(answer.metadata.response_code), BADVERS);
        assert!(answer.edns.is_some());
    }

    #[test]
    fn error_and_truncated_answers_echo_the_question_and_opt() {
        let q = parse_query(&query("X.example.", RecordType::TXT, Some(1232)), false).unwrap();
        let m = Message::from_vec(&error_answer(&q, REFUSED)).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(u16::from(m.metadata.response_code), REFUSED);
        assert_eq!(m.queries[0].name.to_ascii(), "X.example.");
        assert!(m.edns.is_some() && !m.metadata.truncation && m.metadata.recursion_available);
        let m = Message::from_vec(&truncated(&q, NOERROR)).unwrap();
        assert!(m.metadata.truncation);
        assert!(m.answers.is_empty());
    }
}
