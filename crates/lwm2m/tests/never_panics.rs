//! The server never panics on any datagram: random bytes, mutated valid requests (register, update,
//! block-wise, responses to its own requests), from several peers with and without identities; the
//! registry only ever holds devices whose registration was answered 2.01.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap::{Code, Message, MessageType, OptionNumber};
use lwm2m::server::{Event, Operation, Server, ServerConfig};
use lwm2m::Path;
use proptest::prelude::*;

fn seed_messages() -> Vec<Vec<u8>> {
    let mut reg = Message::new(MessageType::Con, Code::POST, 1, vec![1, 2]);
    reg.set_uri_path("/rd");
    reg.push_option(OptionNumber::URI_QUERY, *b"ep=dev-1");
    reg.push_option(OptionNumber::URI_QUERY, *b"lt=60");
    reg.payload = b"</1/0>,</3/0>".to_vec();
    let mut upd = Message::new(MessageType::Con, Code::POST, 2, vec![3]);
    upd.set_uri_path("/rd/0123456789abcdef");
    let mut blk = reg.clone();
    blk.push_option(OptionNumber::BLOCK1, vec![0x08]);
    let ack = Message::new(MessageType::Ack, Code::CONTENT, 3, vec![0; 8]);
    vec![reg.encode(), upd.encode(), blk.encode(), ack.encode()]
}

/// One generated input: a seed with one byte changed, or random bytes.
type Input = (usize, prop::sample::Index, u8, Vec<u8>, u8, bool);

/// The peer (port `base` + `who`), its identity (`dev-1` for peer 2) and the datagram of an input.
fn input(base: u16, seeds: &[Vec<u8>], i: Input) -> (SocketAddr, Option<&'static str>, Vec<u8>) {
    let (which, at, byte, random, who, mutate) = i;
    let peer: SocketAddr = format!("127.0.0.1:{}", base + u16::from(who)).parse().unwrap();
    let identity = (who == 2).then_some("dev-1");
    let mut d = if mutate { seeds[which].clone() } else { random };
    if mutate && !d.is_empty() {
        let k = at.index(d.len());
        d[k] = byte;
    }
    (peer, identity, d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn server_never_panics(
        inputs in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..40), 0u8..3, any::<bool>()), 1..30),
        allow in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut s = Server::new(ServerConfig { allow_unsecured: allow, ..ServerConfig::default() }, t0);
        let seeds = seed_messages();
        let mut created = 0usize;
        for (i, (which, at, byte, random, who, mutate)) in inputs.into_iter().enumerate() {
            let (peer, identity, d) = input(40000, &seeds, (which, at, byte, random, who, mutate));
            let now = t0 + Duration::from_millis(i as u64 * 700);
            let out = s.handle(now, peer, identity, &d);
            for t in &out.transmits {
                prop_assert!(Message::decode(&t.datagram).is_ok());
            }
            created += out.events.iter().filter(|e| matches!(e, Event::Registered { .. })).count();
            let _ = s.request(now, "dev-1", Operation::Read { path: Path::object(3), accept: None });
            let _ = s.tick(now);
        }
        prop_assert!(s.registry().len() <= created);
    }
}

fn bootstrap_seeds() -> Vec<Vec<u8>> {
    let mut bs = Message::new(MessageType::Con, Code::POST, 1, vec![1, 2]);
    bs.set_uri_path("/bs");
    bs.push_option(OptionNumber::URI_QUERY, *b"ep=dev-1");
    bs.push_option(OptionNumber::URI_QUERY, *b"pct=11542");
    let ack = Message::new(MessageType::Ack, Code::DELETED, 3, vec![0; 8]);
    let sep = Message::new(MessageType::Con, Code::CHANGED, 4, vec![0; 8]);
    vec![bs.encode(), ack.encode(), sep.encode(), Message::reset(5).encode()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The bootstrap server never panics either, answers only with CoAP, and provisions an account
    /// only to an endpoint that asked under its own credential.
    #[test]
    fn bootstrap_server_never_panics(
        inputs in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..40), 0u8..3, any::<bool>()), 1..30),
        allow in any::<bool>(),
    ) {
        use lwm2m::bootstrap::{BootstrapConfig, BootstrapServer, BsEvent};
        let t0 = Instant::now();
        let mut s = BootstrapServer::new(BootstrapConfig { allow_unsecured: allow, max_sessions: 2, ..BootstrapConfig::default() });
        let seeds = bootstrap_seeds();
        for (i, (which, at, byte, random, who, mutate)) in inputs.into_iter().enumerate() {
            let (peer, identity, d) = input(41000, &seeds, (which, at, byte, random, who, mutate));
            let now = t0 + Duration::from_millis(i as u64 * 700);
            let out = s.handle(now, peer, identity, &d);
            for t in &out.transmits {
                prop_assert!(Message::decode(&t.datagram).is_ok());
            }
            for e in out.events.iter().chain(s.tick(now).events.iter()) {
                if let BsEvent::Finished { account, .. } = e {
                    prop_assert!(identity == Some(account.endpoint.as_str()) || (allow && identity.is_none()));
                }
            }
            prop_assert!(s.in_progress() <= 2);
        }
    }
}
