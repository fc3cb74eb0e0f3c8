//! Answers from upstream, made ready to send: checked, trimmed to the CNAME chain of the question
//! (and the SOA of a negative answer), TTLs clamped, encoded once. A cache hit copies the bytes and
//! patches the ID, flags, question case, counted-down TTLs and the OPT record.
//!
//! Negative answers (NXDOMAIN, NODATA) are cached for min(SOA TTL, SOA MINIMUM) as RFC 2308 §5
//! says; one without an SOA is not cached.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::shards::Sharded;
use crate::wire::{self, Question};

/// The longest CNAME chain followed.
const MAX_CHAIN: usize = 16;

/// The cache key: lower-cased name, type, class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

impl Key {
    pub(crate) fn of(q: &Question) -> Key {
        Key { name: q.lower.clone(), qtype: q.qtype.into(), qclass: q.qclass.into() }
    }
}

/// One answer, encoded, with what is needed to send it again later.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Header (ID 0), the question in lower case, answer and authority records; no OPT.
    wire: Vec<u8>,
    /// The question section's length in `wire`.
    question_len: usize,
    /// Offsets of every record's TTL field and the TTL written there.
    ttls: Vec<(usize, u32)>,
    /// NOERROR or NXDOMAIN.
    pub rcode: u16,
    /// The A/AAAA addresses at the end of the CNAME chain.
    pub addrs: Vec<IpAddr>,
    /// The smallest TTL along the chain to `addrs` (clamped).
    pub addrs_ttl: u32,
    /// How long it may be cached (None: not at all).
    pub cache_for: Option<u32>,
    /// When it was made.
    pub made: Instant,
}

/// Why an upstream answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AnswerError {
    /// The rcode is neither NOERROR nor NXDOMAIN.
    #[error("upstream answered rcode {0}")]
    Rcode(u16),
    /// The answer could not be encoded again (too big).
    #[error("upstream answer cannot be encoded: {0}")]
    Encode(String),
}

impl Answer {
    /// Builds the answer to `q` from the upstream response `m` (already matched to the question).
    pub(crate) fn from_upstream(
        q: &Question,
        m: &Message,
        clamp: impl Fn(u32) -> u32,
        now: Instant,
    ) -> Result<Answer, AnswerError> {
        let rcode = u16::from(m.metadata.response_code);
        if rcode != wire::NOERROR && rcode != wire::NXDOMAIN {
            return Err(AnswerError::Rcode(rcode));
        }
        // Follow the CNAME chain from the question; keep only records owned by names on it.
        let mut chain: Vec<&Name> = vec![&q.name];
        let mut answers: Vec<Record> = Vec::new();
        let mut chain_ttl = u32::MAX;
        loop {
            let current = *chain.last().expect("chain starts with the question");
            let cname = m.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.name == *current && q.qtype != RecordType::CNAME => Some((r, &c.0)),
                _ => None,
            });
            match cname {
                Some((r, target)) if chain.len() <= MAX_CHAIN && !chain.contains(&target) => {
                    chain_ttl = chain_ttl.min(clamp(r.ttl));
                    answers.push(r.clone());
                    chain.push(target);
                }
                _ => break,
            }
        }
        let end = *chain.last().expect("chain starts with the question");
        let mut addrs = Vec::new();
        let mut finals = 0usize;
        for r in &m.answers {
            if r.name != *end || r.dns_class != q.qclass {
                continue;
            }
            let rtype = r.record_type();
            if rtype == q.qtype || q.qtype == RecordType::ANY {
                if rtype == RecordType::CNAME && q.qtype != RecordType::CNAME {
                    continue;
                }
                finals += 1;
                match &r.data {
                    RData::A(a) => addrs.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => addrs.push(IpAddr::V6(a.0)),
                    _ => {}
                }
                if matches!(r.data, RData::A(_) | RData::AAAA(_)) {
                    chain_ttl = chain_ttl.min(clamp(r.ttl));
                }
                answers.push(r.clone());
            }
        }
        let positive = rcode == wire::NOERROR && finals > 0;
        let mut authorities = Vec::new();
        let cache_for = if positive {
            answers.iter().map(|r| clamp(r.ttl)).min()
        } else {
            // RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
            let soa = m.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(s) => Some((r, s.minimum)),
                _ => None,
            });
            soa.map(|(r, minimum)| {
                let ttl = clamp(r.ttl.min(minimum));
                let mut r = r.clone();
                r.ttl = ttl;
                authorities.push(r);
                // The CNAMEs leading to the negative answer cannot outlive it either.
                answers.iter().map(|a| clamp(a.ttl)).fold(ttl, u32::min)
            })
        };
        for r in &mut answers {
            r.ttl = clamp(r.ttl);
        }
        if addrs.is_empty() {
            chain_ttl = 0;
        }
        let mut msg = Message::new(0, MessageType::Response, OpCode::Query);
        msg.metadata.response_code = m.metadata.response_code;
        let mut question = Query::query(q.name.to_lowercase(), q.qtype);
        question.set_query_class(q.qclass);
        msg.add_query(question);
        msg.insert_answers(answers);
        msg.insert_authorities(authorities);
        let bytes = msg.to_vec().map_err(|e| AnswerError::Encode(e.to_string()))?;
        let (question_len, ttls) = ttl_offsets(&bytes).ok_or_else(|| AnswerError::Encode("walk".into()))?;
        Ok(Answer { wire: bytes, question_len, ttls, rcode, addrs, addrs_ttl: chain_ttl, cache_for, made: now })
    }

    /// Seconds since the answer was made.
    pub(crate) fn age(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.made).as_secs().min(u32::MAX as u64) as u32
    }

    /// When it stops being served from the cache.
    pub(crate) fn expires(&self) -> Option<Instant> {
        self.cache_for.map(|s| self.made + Duration::from_secs(s.into()))
    }

    /// The TTL still left on the addresses.
    pub(crate) fn addrs_ttl_left(&self, now: Instant) -> u32 {
        self.addrs_ttl.saturating_sub(self.age(now))
    }

    /// The answer to `q` now: TTLs counted down, the question as the client wrote it, OPT when
    /// the client sent one, TC (and no records) when it does not fit the client's limit.
    pub(crate) fn render(&self, q: &Question, now: Instant) -> Vec<u8> {
        let age = self.age(now);
        let mut out = Vec::with_capacity(self.wire.len() + 11);
        out.extend_from_slice(&self.wire);
        wire::write_header(&mut out, q.id, 0, false, q.rd, q.cd, self.rcode);
        if q.raw.len() == self.question_len {
            out[wire::HEADER..wire::HEADER + self.question_len].copy_from_slice(&q.raw);
        }
        for &(at, ttl) in &self.ttls {
            out[at..at + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
        }
        if q.edns.is_some() {
            wire::push_opt(&mut out, self.rcode);
        }
        if out.len() > q.limit() {
            return wire::truncated(q, self.rcode);
        }
        out
    }
}

/// Finds the question's length and each record's TTL offset in a message we encoded.
fn ttl_offsets(msg: &[u8]) -> Option<(usize, Vec<(usize, u32)>)> {
    let count = |i: usize| u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]) as usize;
    if msg.len() < wire::HEADER {
        return None;
    }
    let records = count(1) + count(2) + count(3);
    let mut i = wire::skip_name(msg, wire::HEADER)? + 4;
    let question_len = i - wire::HEADER;
    let mut ttls = Vec::with_capacity(records);
    for _ in 0..records {
        i = wire::skip_name(msg, i)?;
        let ttl_at = i + 4;
        let fixed = msg.get(i..i + 10)?;
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        ttls.push((ttl_at, ttl));
        i += 10 + rdlen;
    }
    (i <= msg.len()).then_some((question_len, ttls))
}

/// The answer cache: bounded, sharded, expired entries removed when met.
#[derive(Debug)]
pub(crate) struct Cache {
    map: Sharded<Key, Arc<Answer>>,
}

impl Cache {
    pub(crate) fn new(entries: usize) -> Self {
        Cache { map: Sharded::new(entries) }
    }

    /// The live answer for `key`.
    pub(crate) fn get(&self, key: &Key, now: Instant) -> Option<Arc<Answer>> {
        let mut shard = self.map.shard(key);
        let a = shard.get(key)?;
        if a.expires().is_some_and(|e| e > now) {
            return Some(a.clone());
        }
        shard.remove(key);
        None
    }

    /// Keeps `answer` if it may be cached.
    pub(crate) fn put(&self, key: Key, answer: Arc<Answer>, now: Instant) {
        if answer.cache_for.is_none_or(|s| s == 0) {
            return;
        }
        let per_shard = self.map.per_shard;
        let mut shard = self.map.shard(&key);
        Sharded::insert_bounded(&mut shard, per_shard, key, answer, |a| a.expires().is_none_or(|e| e <= now));
    }

    /// Cached answers (live or not yet removed).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The class of a question that can be cached and answered (IN only).
pub(crate) fn answerable_class(c: DNSClass) -> bool {
    c == DNSClass::IN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::query;
    use crate::wire::{parse_query, NOERROR, NXDOMAIN};
    use hickory_proto::rr::rdata::{A, CNAME, SOA};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn upstream(q: &Question, rcode: u16, answers: Vec<Record>, authorities: Vec<Record>) -> Message {
        let mut m = Message::new(99, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode.into();
        m.add_query(Query::query(q.name.clone(), q.qtype));
        m.insert_answers(answers);
        m.insert_authorities(authorities);
        m
    }

    fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(A::from(std::net::Ipv4Addr::from(ip))))
    }

    fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn soa(ttl: u32, minimum: u32) -> Record {
        let s = SOA::new(name("ns.acme.example."), name("h.acme.example."), 1, 1, 1, 1, minimum);
        Record::from_rdata(name("acme.example."), ttl, RData::SOA(s))
    }

    fn clamp(t: u32) -> u32 {
        t.clamp(5, 3600)
    }

    #[test]
    fn the_cname_chain_is_followed_and_only_its_records_kept() {
        let q = parse_query(&query("www.acme.example.", RecordType::A, None), false).unwrap();
        let m = upstream(
            &q,
            NOERROR,
            vec![
                cname("www.acme.example.", 300, "edge.cdn.example."),
                cname("edge.cdn.example.", 60, "e1.cdn.example."),
                a("e1.cdn.example.", 120, [192, 0, 2, 1]),
                a("e1.cdn.example.", 120, [192, 0, 2, 2]),
                a("unrelated.example.", 120, [203, 0, 113, 66]),
            ],
            vec![],
        );
        let ans = Answer::from_upstream(&q, &m, clamp, Instant::now()).unwrap();
        assert_eq!(ans.addrs, vec![IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2])]);
        assert_eq!(ans.addrs_ttl, 60);
        assert_eq!(ans.cache_for, Some(60));
        let out = Message::from_vec(&ans.render(&q, Instant::now())).unwrap();
        assert_eq!(out.answers.len(), 4, "the unrelated record is dropped");
    }

    #[test]
    fn ttls_are_clamped_and_counted_down_and_the_question_case_copied() {
        let q = parse_query(&query("API.acme.example.", RecordType::A, Some(1232)), false).unwrap();
        let m = upstream(&q, NOERROR, vec![a("api.acme.example.", 1, [192, 0, 2, 7])], vec![]);
        let t0 = Instant::now();
        let ans = Answer::from_upstream(&q, &m, clamp, t0).unwrap();
        assert_eq!(ans.cache_for, Some(5), "TTL 1 is raised to the minimum");
        let later = t0 + Duration::from_secs(3);
        let out = Message::from_vec(&ans.render(&q, later)).unwrap();
        assert_eq!(out.metadata.id, 0x1234);
        assert!(out.metadata.recursion_available && out.metadata.recursion_desired);
        assert_eq!(out.queries[0].name.to_ascii(), "API.acme.example.");
        assert_eq!(out.answers[0].ttl, 2);
        assert!(out.edns.is_some(), "the client sent OPT, so the answer has one");
        let m = upstream(&q, NOERROR, vec![a("api.acme.example.", 86400, [192, 0, 2, 7])], vec![]);
        assert_eq!(Answer::from_upstream(&q, &m, clamp, t0).unwrap().cache_for, Some(3600));
    }

    #[test]
    fn negative_answers_use_the_soa_minimum_and_no_soa_means_no_caching() {
        let q = parse_query(&query("nope.acme.example.", RecordType::A, None), false).unwrap();
        let m = upstream(&q, NXDOMAIN, vec![], vec![soa(900, 30)]);
        let ans = Answer::from_upstream(&q, &m, clamp, Instant::now()).unwrap();
        assert_eq!((ans.rcode, ans.cache_for), (NXDOMAIN, Some(30)));
        assert!(ans.addrs.is_empty());
        let out = Message::from_vec(&ans.render(&q, Instant::now())).unwrap();
        assert_eq!(out.authorities[0].ttl, 30);
        // NODATA: NOERROR without an A record.
        let m = upstream(&q, NOERROR, vec![], vec![soa(20, 600)]);
        assert_eq!(Answer::from_upstream(&q, &m, clamp, Instant::now()).unwrap().cache_for, Some(20));
        let m = upstream(&q, NXDOMAIN, vec![], vec![]);
        assert_eq!(Answer::from_upstream(&q, &m, clamp, Instant::now()).unwrap().cache_for, None);
        let m = upstream(&q, 2, vec![], vec![]);
        assert!(matches!(Answer::from_upstream(&q, &m, clamp, Instant::now()), Err(AnswerError::Rcode(2))));
    }

    #[test]
    fn an_answer_too_big_for_the_client_is_truncated() {
        let q = parse_query(&query("big.acme.example.", RecordType::A, None), false).unwrap();
        let records = (0..60).map(|i| a("big.acme.example.", 300, [198, 51, 100, i])).collect();
        let ans = Answer::from_upstream(&q, &upstream(&q, NOERROR, records, vec![]), clamp, Instant::now()).unwrap();
        let out = Message::from_vec(&ans.render(&q, Instant::now())).unwrap();
        assert!(out.metadata.truncation && out.answers.is_empty());
        let q = parse_query(&query("big.acme.example.", RecordType::A, Some(4096)), false).unwrap();
        let out = Message::from_vec(&ans.render(&q, Instant::now())).unwrap();
        assert!(!out.metadata.truncation && out.answers.len() == 60);
        let q = parse_query(&query("big.acme.example.", RecordType::A, None), true).unwrap();
        assert_eq!(Message::from_vec(&ans.render(&q, Instant::now())).unwrap().answers.len(), 60);
    }

    #[test]
    fn the_cache_serves_until_expiry_and_stays_bounded() {
        let cache = Cache::new(16);
        let t0 = Instant::now();
        let q = parse_query(&query("api.acme.example.", RecordType::A, None), false).unwrap();
        let m = upstream(&q, NOERROR, vec![a("api.acme.example.", 10, [192, 0, 2, 7])], vec![]);
        let ans = Arc::new(Answer::from_upstream(&q, &m, clamp, t0).unwrap());
        cache.put(Key::of(&q), ans, t0);
        assert!(cache.get(&Key::of(&q), t0 + Duration::from_secs(9)).is_some());
        assert!(cache.get(&Key::of(&q), t0 + Duration::from_secs(10)).is_none());
        for i in 0..200 {
            let q = parse_query(&query(&format!("h{i}.acme.example."), RecordType::A, None), false).unwrap();
            let m = upstream(&q, NOERROR, vec![a(&format!("h{i}.acme.example."), 10, [192, 0, 2, 7])], vec![]);
            cache.put(Key::of(&q), Arc::new(Answer::from_upstream(&q, &m, clamp, t0).unwrap()), t0);
        }
        assert!(cache.len() <= 16);
    }
}
