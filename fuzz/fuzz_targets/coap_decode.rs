//! Fuzzes the CoAP codec and the LwM2M server: a datagram that decodes must re-encode to exactly the
//! input; every option of a decoded message is read as a Block and as an unsigned integer; the whole
//! input is then handled by an LwM2M server (lab flag on), with and without a DTLS identity, and every
//! datagram it sends back must decode.

#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use coap::block::Block;
use coap::option::{check_request_options, decode_uint};
use coap::{Message, OptionNumber};
use libfuzzer_sys::fuzz_target;
use lwm2m::server::{Server, ServerConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        assert_eq!(m.encode(), data, "a decoded message re-encodes to its input");
        for o in &m.options {
            let _ = (Block::decode(&o.value), decode_uint(&o.value));
        }
        let _ = check_request_options(&m.options, &[OptionNumber::URI_PATH]);
    }
    let now = Instant::now();
    let mut server = Server::new(ServerConfig { allow_unsecured: true, ..ServerConfig::default() }, now);
    let peer: SocketAddr = "127.0.0.1:5683".parse().unwrap();
    for identity in [None, Some("dev-1")] {
        let out = server.handle(now, peer, identity, data);
        for t in out.transmits {
            assert!(Message::decode(&t.datagram).is_ok(), "the server sent a datagram that does not decode");
        }
    }
});
