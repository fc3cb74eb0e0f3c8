//! DNS over TCP as RFC 7766 has it: several length-prefixed queries on one connection, sent before
//! any answer is read, each answered with its own ID; a connection with garbage keeps working.

mod common;

use std::collections::HashSet;

use common::*;
use dnsfw::DnsConfig;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn framed(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let q = m.to_vec().unwrap();
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    out
}

async fn read_answer(s: &mut TcpStream) -> Message {
    let len = s.read_u16().await.unwrap();
    let mut buf = vec![0u8; len as usize];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_on_one_connection_are_all_answered() {
    let h = start(DnsConfig::default()).await;
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{SIM1}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(h.addr).await.unwrap();
    let mut all = Vec::new();
    all.extend(framed(1, "api.acme.example."));
    all.extend(framed(2, "evil.example."));
    all.extend(framed(3, "fw1.ota.acme.example."));
    // A header and a cut question: FORMERR, and the connection goes on.
    let mut bad = framed(4, "api.acme.example.");
    bad.truncate(bad.len() - 3);
    bad[1] = (bad.len() - 2) as u8;
    all.extend(bad);
    all.extend(framed(5, "api.acme.example."));
    s.write_all(&all).await.unwrap();
    let mut got = HashSet::new();
    for _ in 0..5 {
        let m = read_answer(&mut s).await;
        let rcode = u16::from(m.metadata.response_code);
        match m.metadata.id {
            1 | 3 | 5 => assert_eq!((rcode, m.answers.len()), (0, 1)),
            2 => assert_eq!(rcode, 5),
            4 => assert_eq!(rcode, 1),
            other => panic!("unexpected id {other}"),
        }
        got.insert(m.metadata.id);
    }
    assert_eq!(got, HashSet::from([1, 2, 3, 4, 5]));
}
