//! Property tests of the codec and the peer state machine:
//!
//! - (a) messages built from arbitrary AVP trees (every [`Value`] variant, Grouped nested up to four
//!   levels, with and without vendor, dictionary and unknown codes) encode and decode back to the same
//!   message, and re-encoding the decoded message gives the same bytes; their AVPs pre-encoded
//!   (`Avp::pre_encoded`) encode to the same bytes;
//! - (b) arbitrary bytes (random, and mutated valid messages) never make `Message::decode`,
//!   `MessageView` or `next_frame_len` panic, a decoded message re-encodes to bytes that decode to the
//!   same message, and the error answer built from any decode error is itself decodable;
//! - (c) the peer state machine survives arbitrary byte chunks interleaved with timeouts and
//!   application calls, and everything it transmits is a decodable Diameter message.
//!
//! Case counts are kept moderate so that the file runs in a few seconds in debug builds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::avp::avp_flags;
use diameter::dictionary::{self, AvpDef, AvpType};
use diameter::header::flags;
use diameter::peer::{Application, Event, Peer, PeerConfig, PeerState};
use diameter::result_code as rc;
use diameter::Command;
use diameter::{next_frame_len, Address, Avp, Header, Message, MessageView, RawAvps, Value};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use testkit::sansio::{allow_all, poll_message, pump};

/// Grouped AVPs nest at most this deep in generated messages (depth 0 is the top level; AVPs at
/// depth 4 are leaves).
const MAX_NEST: u32 = 4;
/// The Failed-AVP code: its children are kept as raw bytes by the decoder.
const FAILED_AVP: u32 = 279;

// ------------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------------

/// Dictionary entries that the (code, vendor) index resolves to (so a value of `ty` decodes as `ty`).
fn defs(grouped: bool) -> Vec<&'static AvpDef> {
    dictionary::all_avps()
        .iter()
        .filter(|d| dictionary::avp_by_code(d.code, d.vendor) == Some(*d))
        .filter(|d| (d.ty == AvpType::Grouped) == grouped)
        .collect()
}

fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        3 => ip().prop_map(Address::Ip),
        // Families 1 and 2 with the right length are Address::Ip; other families keep their bytes.
        1 => (any::<u16>().prop_filter("not IPv4/IPv6", |f| *f != 1 && *f != 2), bytes(20))
            .prop_map(|(family, bytes)| Address::Other { family, bytes }),
    ]
}

/// A value of the given dictionary type (not Grouped).
fn value_of(ty: AvpType) -> BoxedStrategy<Value> {
    use AvpType as T;
    match ty {
        T::OctetString => bytes(24).prop_map(Value::OctetString).boxed(),
        T::Integer32 => any::<i32>().prop_map(Value::Integer32).boxed(),
        T::Integer64 => any::<i64>().prop_map(Value::Integer64).boxed(),
        T::Unsigned32 => any::<u32>().prop_map(Value::Unsigned32).boxed(),
        T::Unsigned64 => any::<u64>().prop_map(Value::Unsigned64).boxed(),
        // Any bit pattern, NaNs and signed zeros included: compared by bits below.
        T::Float32 => any::<u32>().prop_map(|b| Value::Float32(f32::from_bits(b))).boxed(),
        T::Float64 => any::<u64>().prop_map(|b| Value::Float64(f64::from_bits(b))).boxed(),
        T::Address => address().prop_map(Value::Address).boxed(),
        T::Time => any::<u32>().prop_map(Value::Time).boxed(),
        T::Utf8String => text().prop_map(Value::Utf8String).boxed(),
        T::DiameterIdentity => text().prop_map(Value::DiameterIdentity).boxed(),
        T::DiameterUri => text().prop_map(Value::DiameterUri).boxed(),
        T::Enumerated => any::<i32>().prop_map(Value::Enumerated).boxed(),
        T::IpFilterRule => text().prop_map(Value::IpFilterRule).boxed(),
        T::Grouped => unreachable!("grouped values are built by arb_avp"),
    }
}

/// Any non-Grouped variant.
fn leaf_value() -> BoxedStrategy<Value> {
    use AvpType as T;
    let all = [
        T::OctetString,
        T::Integer32,
        T::Integer64,
        T::Unsigned32,
        T::Unsigned64,
        T::Float32,
        T::Float64,
        T::Address,
        T::Time,
        T::Utf8String,
        T::DiameterIdentity,
        T::DiameterUri,
        T::Enumerated,
        T::IpFilterRule,
    ];
    proptest::strategy::Union::new(all.map(value_of)).boxed()
}

/// M and P bits in any combination (V follows the vendor id, reserved bits stay clear).
fn mp_flags() -> impl Strategy<Value = u8> {
    select(vec![0, avp_flags::M, avp_flags::P, avp_flags::M | avp_flags::P])
}

fn known(d: &AvpDef, mp: u8, value: Value) -> Avp {
    let vendor_id = (d.vendor != 0).then_some(d.vendor);
    let flags = if vendor_id.is_some() { mp | avp_flags::V } else { mp };
    Avp { code: d.code, flags, vendor_id, value }
}

/// An AVP the dictionary does not know, with any value.
fn unknown(value: BoxedStrategy<Value>) -> impl Strategy<Value = Avp> {
    let code = prop_oneof![1u32..5000, any::<u32>()];
    let vendor = prop_oneof![Just(None), Just(Some(dictionary::VENDOR_3GPP)), any::<u32>().prop_map(Some)];
    (code, vendor, mp_flags(), value)
        .prop_filter("unknown to the dictionary", |(c, v, _, _)| dictionary::avp_by_code(*c, v.unwrap_or(0)).is_none())
        .prop_map(|(code, vendor_id, mp, value)| Avp {
            code,
            flags: if vendor_id.is_some() { mp | avp_flags::V } else { mp },
            vendor_id,
            value,
        })
}

/// A few AVPs built by name through the public API.
fn named() -> impl Strategy<Value = Avp> {
    prop_oneof![
        text().prop_map(|s| Avp::new(avp::ORIGIN_HOST, s)),
        text().prop_map(|s| Avp::new(avp::SESSION_ID, s)),
        any::<u32>().prop_map(|n| Avp::new(avp::RESULT_CODE, n)),
        any::<u32>().prop_map(|n| Avp::new(avp::AUTH_SESSION_STATE, n.min(i32::MAX as u32))),
        any::<u32>().prop_map(|n| Avp::new(avp::EVENT_TIMESTAMP, n)),
        any::<u64>().prop_map(|n| Avp::new(avp::OC_SEQUENCE_NUMBER, n)),
        ip().prop_map(|a| Avp::new(avp::HOST_IP_ADDRESS, a)),
        bytes(8).prop_map(|b| Avp::new(avp::VISITED_PLMN_ID, b)),
        (any::<u32>(), any::<u32>()).prop_map(|(v, a)| Avp::grouped(
            avp::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![Avp::new(avp::VENDOR_ID, v), Avp::new(avp::AUTH_APPLICATION_ID, a)]
        )),
    ]
}

/// An AVP at nesting depth `depth` (0 = top level).
fn arb_avp(depth: u32) -> BoxedStrategy<Avp> {
    let leaf_defs = defs(false);
    let known_leaf = (select(leaf_defs), mp_flags())
        .prop_flat_map(|(d, mp)| value_of(d.ty).prop_map(move |v| known(d, mp, v)))
        .boxed();
    let leaf = prop_oneof![5 => known_leaf, 2 => unknown(leaf_value()), 2 => named()].boxed();
    if depth >= MAX_NEST {
        return leaf;
    }
    let kids = vec(arb_avp(depth + 1), 0..4);
    let known_group =
        (select(defs(true)), mp_flags(), kids.clone()).prop_map(|(d, mp, kids)| known(d, mp, Value::Grouped(kids)));
    let unknown_group = unknown(kids.prop_map(Value::Grouped).boxed());
    prop_oneof![6 => leaf, 2 => known_group, 1 => unknown_group].boxed()
}

fn arb_header() -> impl Strategy<Value = Header> {
    (any::<(bool, bool, bool, bool)>(), 0u32..=0x00ff_ffff, any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |((r, p, e, t), code, app_id, hop_by_hop, end_to_end)| {
            let mut f = 0;
            if r {
                f |= flags::R;
            } else if e {
                f |= flags::E;
            }
            if p {
                f |= flags::P;
            }
            if t {
                f |= flags::T;
            }
            Header { version: 1, length: 0, flags: f, code, app_id, hop_by_hop, end_to_end }
        },
    )
}

fn arb_message() -> impl Strategy<Value = Message> {
    (arb_header(), vec(arb_avp(0), 0..8)).prop_map(|(header, avps)| Message { header, avps })
}

// ------------------------------------------------------------------------------------------------
// What the decoder gives back
// ------------------------------------------------------------------------------------------------

/// The bytes of an AVP's value (without header and padding), as the encoder writes them.
fn value_bytes(a: &Avp) -> Vec<u8> {
    let mut b = Vec::new();
    a.encode(&mut b);
    let head = if a.vendor_id.is_some() { 12 } else { 8 };
    b[head..a.len()].to_vec()
}

/// What decoding an encoded `a` yields: AVPs the dictionary does not know (and the children of
/// Failed-AVP) come back as OctetStrings holding their encoded value.
fn expected(a: &Avp, raw: bool) -> Avp {
    if raw || dictionary::avp_by_code(a.code, a.vendor()).is_none() {
        return Avp { value: Value::OctetString(value_bytes(a)), ..a.clone() };
    }
    let value = match &a.value {
        Value::Grouped(kids) => {
            let raw = a.code == FAILED_AVP && a.vendor_id.is_none();
            Value::Grouped(kids.iter().map(|k| expected(k, raw)).collect())
        }
        v => v.clone(),
    };
    Avp { value, ..a.clone() }
}

/// Equality with floats compared by bit pattern (NaN payloads and signed zeros must survive).
fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) => x.to_bits() == y.to_bits(),
        (Value::Float64(x), Value::Float64(y)) => x.to_bits() == y.to_bits(),
        (Value::Grouped(x), Value::Grouped(y)) => avps_eq(x, y),
        _ => a == b,
    }
}

fn avps_eq(a: &[Avp], b: &[Avp]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.code == b.code && a.flags == b.flags && a.vendor_id == b.vendor_id && value_eq(&a.value, &b.value)
        })
}

fn messages_eq_ignoring_length(a: &Message, b: &Message) -> bool {
    Header { length: 0, ..a.header } == Header { length: 0, ..b.header } && avps_eq(&a.avps, &b.avps)
}

fn has_unknown_or_failed(avps: &[Avp]) -> bool {
    avps.iter().any(|a| {
        dictionary::avp_by_code(a.code, a.vendor()).is_none()
            || (a.code == FAILED_AVP && a.vendor_id.is_none())
            || a.as_grouped().is_some_and(has_unknown_or_failed)
    })
}

// ------------------------------------------------------------------------------------------------
// (a) round trip
// ------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn built_messages_round_trip(m in arb_message()) {
        let bytes = m.encode();
        prop_assert_eq!(bytes.len(), m.len());
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(next_frame_len(&bytes, u32::MAX), Ok(Some(bytes.len())));
        // Appending to a buffer that already holds data gives the same bytes after it.
        let mut appended = vec![0xa5; 7];
        m.encode_into(&mut appended);
        prop_assert_eq!(&appended[..7], &[0xa5; 7]);
        prop_assert_eq!(&appended[7..], &bytes[..]);

        let decoded = Message::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let want = Message {
            header: Header { length: bytes.len() as u32, ..m.header },
            avps: m.avps.iter().map(|a| expected(a, false)).collect(),
        };
        prop_assert_eq!(decoded.header, want.header);
        prop_assert!(avps_eq(&decoded.avps, &want.avps), "decoded {:?}\nexpected {:?}", decoded.avps, want.avps);
        if !has_unknown_or_failed(&m.avps) {
            // Only dictionary AVPs: the decoded message is the one built.
            prop_assert!(avps_eq(&decoded.avps, &m.avps));
        }
        // encode(decode(bytes)) == bytes.
        prop_assert_eq!(decoded.encode(), bytes.clone());

        // The zero-copy view sees the same top-level AVPs.
        let view = MessageView::parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(view.header, decoded.header);
        let raws: Vec<_> = view.avps().collect::<Result<_, _>>().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(raws.len(), m.avps.len());
        for (raw, a) in raws.iter().zip(&m.avps) {
            prop_assert_eq!((raw.code, raw.flags, raw.vendor_id), (a.code, a.flags, a.vendor_id));
            prop_assert_eq!(raw.data, &value_bytes(a)[..]);
        }
        if let Some(first) = m.avps.first() {
            let found = view.find_code(first.code, first.vendor()).expect("first AVP is found");
            prop_assert_eq!(found.data, &value_bytes(first)[..]);
        }
    }

    /// `Avp::pre_encoded` (a value kept as its encoding) puts the same bytes on the wire as the tree
    /// it was made from, alone and inside a message, and its length is the tree's.
    #[test]
    fn pre_encoded_avps_encode_as_their_trees(m in arb_message()) {
        let pre = Message { header: m.header, avps: m.avps.iter().map(Avp::pre_encoded).collect() };
        prop_assert_eq!(pre.encode(), m.encode());
        for a in &m.avps {
            let p = a.pre_encoded();
            prop_assert_eq!(p.len(), a.len());
            let (mut x, mut y) = (Vec::new(), Vec::new());
            a.encode(&mut x);
            p.encode(&mut y);
            prop_assert_eq!(y, x);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// (b) arbitrary bytes
// ------------------------------------------------------------------------------------------------

/// Runs every reader over `bytes`; panics are the failure being looked for.
fn exercise_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = next_frame_len(bytes, u32::MAX);
    let _ = next_frame_len(bytes, 64 * 1024);
    let _ = Header::parse(bytes);

    match Message::decode(bytes) {
        Ok(m) => {
            // Decoded input re-encodes (canonically: zero padding, padded inner AVPs) to bytes that
            // decode to the same message, and that encoding is a fixed point.
            let again = m.encode();
            let m2 = Message::decode(&again).map_err(|e| TestCaseError::fail(format!("re-decode: {e:?}")))?;
            prop_assert!(messages_eq_ignoring_length(&m, &m2), "{:?}\n!=\n{:?}", m, m2);
            prop_assert_eq!(m2.encode(), again);
            let _ = (m.abbrev(), m.result_code(), m.session_id());
        }
        Err(e) => {
            let _ = (e.error.result_code(), e.error.failed_avp(), e.error.to_string());
            // The error answer the peer would send is itself a valid message.
            if let Some(h) = e.header {
                let ans = Message::error_answer(&h, e.session_id.as_deref(), "hss.example", "example", &e.error);
                let enc = ans.encode();
                prop_assert!(Message::decode(&enc).is_ok(), "error answer does not decode: {:02x?}", enc);
            }
        }
    }

    if let Ok(view) = MessageView::parse(bytes) {
        let _ = view.find(avp::SESSION_ID);
        let _ = view.find(avp::USER_NAME);
        for raw in view.avps().map_while(Result::ok) {
            let _ = (raw.vendor(), raw.is_mandatory());
            let _ = Avp::decode(&raw, 0);
            // Every AVP body may be a Grouped one.
            for inner in RawAvps::new(raw.data).map_while(Result::ok) {
                let _ = Avp::decode(&inner, 1);
            }
        }
    }
    Ok(())
}

/// A valid message with a few bytes changed, maybe truncated or extended, with the header length
/// sometimes fixed up so that the damage reaches the AVP parser.
fn mutated_message() -> impl Strategy<Value = Vec<u8>> {
    (
        arb_message(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        prop_oneof![2 => Just(0usize), 1 => 1usize..8],
        any::<bool>(),
        prop_oneof![2 => Just(Vec::new()), 1 => bytes(8)],
    )
        .prop_map(|(m, edits, cut, fix_len, tail)| {
            let mut b = m.encode();
            for (i, x) in edits {
                let i = i.index(b.len());
                b[i] ^= x;
            }
            b.truncate(b.len().saturating_sub(cut));
            b.extend_from_slice(&tail);
            if fix_len && b.len() >= 4 {
                let n = (b.len() as u32).to_be_bytes();
                b[1..4].copy_from_slice(&n[1..]);
                b[0] = 1;
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(b in bytes(300)) {
        exercise_decoders(&b)?;
    }

    #[test]
    fn framed_junk_never_panics(head in any::<[u8; 16]>(), body in bytes(200), pad in 0usize..4) {
        // A header with version 1 and a consistent length, so the junk reaches the AVP parser.
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&head);
        b.extend_from_slice(&body);
        b.resize(b.len() + pad, 0);
        let n = (b.len() as u32).to_be_bytes();
        b[1..4].copy_from_slice(&n[1..]);
        b[4] &= 0xf0 & !0x20;
        exercise_decoders(&b)?;
    }

    #[test]
    fn mutated_messages_never_panic(b in mutated_message()) {
        exercise_decoders(&b)?;
    }
}

// ------------------------------------------------------------------------------------------------
// (c) the peer state machine
// ------------------------------------------------------------------------------------------------

fn config(host: &str, apps: Vec<Application>) -> PeerConfig {
    PeerConfig::new(host, "epc.mnc001.mcc001.3gppnetwork.org", apps)
}

/// An initiator (MME) and a responder (HSS) after a successful capabilities exchange.
fn open_pair(now: Instant) -> (Peer, Peer) {
    let mut mme = Peer::initiator(config("mme.example", vec![Application::S6A]), allow_all(), None, now);
    let mut hss =
        Peer::responder(config("hss.example", vec![Application::S6A, Application::S13]), allow_all(), None, now);
    pump(&mut mme, &mut hss, now);
    assert_eq!((mme.state(), hss.state()), (PeerState::Open, PeerState::Open));
    while mme.poll_event().is_some() {}
    while hss.poll_event().is_some() {}
    (mme, hss)
}

/// Messages a remote peer might plausibly send, by index.
fn template(which: u8, hop_by_hop: u32, end_to_end: u32) -> Message {
    let realm = "epc.mnc001.mcc001.3gppnetwork.org";
    let base = |mut m: Message| {
        m.header.hop_by_hop = hop_by_hop;
        m.header.end_to_end = end_to_end;
        m
    };
    let mut m;
    match which % 9 {
        0 => {
            m = base(Message::request(Command::CER));
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            m.add(avp::HOST_IP_ADDRESS, IpAddr::from([10, 0, 0, 1]));
            m.add(avp::VENDOR_ID, 10415u32);
            m.add(avp::PRODUCT_NAME, "fuzz");
            m.push(Avp::grouped(
                avp::VENDOR_SPECIFIC_APPLICATION_ID,
                vec![Avp::new(avp::VENDOR_ID, 10415u32), Avp::new(avp::AUTH_APPLICATION_ID, 16_777_251u32)],
            ));
        }
        1 | 2 => {
            m = base(if which % 9 == 1 { Message::request(Command::DWR) } else { Message::answer(Command::DWR) });
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            if !m.is_request() {
                m.add(avp::RESULT_CODE, rc::SUCCESS);
            }
        }
        3 | 4 => {
            m = base(if which % 9 == 3 { Message::request(Command::DPR) } else { Message::answer(Command::DPR) });
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            if m.is_request() {
                m.add(avp::DISCONNECT_CAUSE, 2u32);
            } else {
                m.add(avp::RESULT_CODE, rc::SUCCESS);
            }
        }
        5 | 6 => {
            m = base(Message::request(Command::AIR));
            m.add(avp::SESSION_ID, "mme.example;1;2");
            m.add(avp::AUTH_SESSION_STATE, 1u32);
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            m.add(avp::DESTINATION_REALM, realm);
            m.add(avp::USER_NAME, "001010000000001");
            m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
        }
        7 => {
            m = base(Message::answer(Command::AIR));
            m.add(avp::SESSION_ID, "hss.example;1;2");
            m.add(avp::AUTH_SESSION_STATE, 1u32);
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            m.add(avp::RESULT_CODE, rc::SUCCESS);
        }
        _ => {
            m = base(Message::answer(Command::CER));
            m.add(avp::RESULT_CODE, rc::SUCCESS);
            m.add(avp::ORIGIN_HOST, "mme.example");
            m.add(avp::ORIGIN_REALM, realm);
            m.add(avp::HOST_IP_ADDRESS, IpAddr::from([10, 0, 0, 1]));
            m.add(avp::VENDOR_ID, 0u32);
            m.add(avp::PRODUCT_NAME, "fuzz");
            m.add(avp::AUTH_APPLICATION_ID, 16_777_251u32);
        }
    }
    m
}

#[derive(Debug, Clone)]
enum Step {
    /// Raw bytes, straight into the stream.
    Raw(Vec<u8>),
    /// A plausible message, maybe damaged, delivered in pieces.
    Template {
        which: u8,
        ids: (u32, u32),
        reuse_pending: Option<prop::sample::Index>,
        edits: Vec<(prop::sample::Index, u8)>,
        split: Vec<usize>,
    },
    /// A generated message, delivered in pieces.
    Arbitrary(Message, Vec<usize>),
    /// Time passes by this many milliseconds, then `handle_timeout`.
    Advance(u64),
    /// The application answers every request it was given.
    AnswerRequests,
    /// The application sends a request.
    SendRequest,
    /// The application disconnects.
    Disconnect,
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop_oneof![3 => Just(Vec::new()), 1 => vec((any::<prop::sample::Index>(), any::<u8>()), 1..3)]
}

fn splits() -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..64, 0..4)
}

fn step() -> impl Strategy<Value = Step> {
    // Template indices, weighted towards CER (so that responders open) and AIR (so that requests flow).
    let which = select(vec![0u8, 0, 1, 1, 2, 3, 4, 5, 5, 5, 6, 7, 7, 8, 8]);
    prop_oneof![
        2 => bytes(24).prop_map(Step::Raw),
        20 => (which, any::<(u32, u32)>(), proptest::option::of(any::<prop::sample::Index>()), edits(), splits())
            .prop_map(|(which, ids, reuse_pending, edits, split)| Step::Template { which, ids, reuse_pending, edits, split }),
        4 => (any::<(u32, u32)>(), vec(arb_avp(0), 1..4), splits()).prop_map(|(ids, extra, split)| {
            let mut m = template(5, ids.0, ids.1);
            m.avps.extend(extra);
            Step::Arbitrary(m, split)
        }),
        4 => (arb_message(), splits()).prop_map(|(m, s)| Step::Arbitrary(m, s)),
        6 => prop_oneof![0u64..2_000, 0u64..40_000].prop_map(Step::Advance),
        4 => Just(Step::AnswerRequests),
        3 => Just(Step::SendRequest),
        1 => Just(Step::Disconnect),
    ]
}

/// Half the time, the CER (template 0) or CEA (template 8, answering the CER sent) comes first, so
/// that the sequence often opens the connection before the junk arrives.
fn handshake(which: u8) -> impl Strategy<Value = Option<Step>> {
    // Before the exchange the only request an initiator has sent is its CER, so any index picks it.
    let step = (any::<(u32, u32)>(), any::<prop::sample::Index>(), edits(), splits())
        .prop_map(move |(ids, i, edits, split)| Step::Template { which, ids, reuse_pending: Some(i), edits, split });
    proptest::option::of(step)
}

/// Feeds `bytes` in chunks of the given sizes (the rest in one piece).
fn feed(peer: &mut Peer, bytes: &[u8], split: &[usize], now: Instant) {
    let mut rest = bytes;
    for &n in split {
        let (a, b) = rest.split_at(n.min(rest.len()));
        peer.handle_input(a, now);
        rest = b;
    }
    peer.handle_input(rest, now);
}

/// Everything the peer sends must decode; requests it has been handed are remembered for answers.
fn drain(peer: &mut Peer, requests: &mut Vec<Message>, sent_hbh: &mut Vec<u32>) -> Result<(), TestCaseError> {
    while let Some(out) = poll_message(peer) {
        let m = Message::decode(&out)
            .map_err(|e| TestCaseError::fail(format!("peer transmitted undecodable bytes: {e:?}\n{out:02x?}")))?;
        prop_assert_eq!(MessageView::parse(&out).map(|v| v.header), Ok(m.header));
        if m.is_request() {
            sent_hbh.push(m.header.hop_by_hop);
        }
    }
    while let Some(ev) = peer.poll_event() {
        if let Event::Request(r) = ev {
            requests.push(r);
        }
    }
    Ok(())
}

fn drive(mut peer: Peer, steps: Vec<Step>, start: Instant) -> Result<(), TestCaseError> {
    let mut now = start;
    let mut requests = Vec::new();
    let mut sent_hbh = Vec::new();
    drain(&mut peer, &mut requests, &mut sent_hbh)?;
    for s in steps {
        match s {
            Step::Raw(b) => peer.handle_input(&b, now),
            Step::Template { which, ids, reuse_pending, edits, split } => {
                let mut m = template(which, ids.0, ids.1);
                // Answers may carry the hop-by-hop id of a request the peer sent (CER, DWR, …).
                if let (Some(i), false, false) = (reuse_pending, m.is_request(), sent_hbh.is_empty()) {
                    m.header.hop_by_hop = sent_hbh[i.index(sent_hbh.len())];
                }
                let mut b = m.encode();
                for (i, x) in edits {
                    let i = i.index(b.len());
                    b[i] ^= x;
                }
                feed(&mut peer, &b, &split, now);
            }
            Step::Arbitrary(m, split) => feed(&mut peer, &m.encode(), &split, now),
            Step::Advance(ms) => {
                now += Duration::from_millis(ms);
                peer.handle_timeout(now);
                let _ = peer.poll_timeout();
            }
            Step::AnswerRequests => {
                for r in requests.drain(..) {
                    let mut a = Message::answer_to(&r.header, r.session_id());
                    a.add(avp::RESULT_CODE, rc::SUCCESS);
                    a.add(avp::ORIGIN_HOST, "hss.example");
                    a.add(avp::ORIGIN_REALM, "epc.mnc001.mcc001.3gppnetwork.org");
                    let _ = peer.send_answer(a);
                }
            }
            Step::SendRequest => {
                let _ = peer.send_request(template(5, 0, 0), now);
            }
            Step::Disconnect => peer.disconnect(0, now),
        }
        drain(&mut peer, &mut requests, &mut sent_hbh)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn responder_before_cer_survives_anything(handshake in handshake(0), steps in vec(step(), 0..32)) {
        let now = Instant::now();
        let hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
        drive(hss, handshake.into_iter().chain(steps).collect(), now)?;
    }

    #[test]
    fn open_responder_survives_anything(steps in vec(step(), 0..32)) {
        let now = Instant::now();
        let (_mme, hss) = open_pair(now);
        drive(hss, steps, now)?;
    }

    #[test]
    fn initiator_before_cea_survives_anything(handshake in handshake(8), steps in vec(step(), 0..32)) {
        let now = Instant::now();
        let mme = Peer::initiator(config("mme.example", vec![Application::S6A]), allow_all(), None, now);
        drive(mme, handshake.into_iter().chain(steps).collect(), now)?;
    }
}
