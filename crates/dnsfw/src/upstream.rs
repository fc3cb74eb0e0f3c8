//! Asking the upstream resolvers: UDP first from a fresh random port with a random ID, TCP when the
//! answer is truncated, the next resolver on timeout, error or SERVFAIL/REFUSED. An answer counts
//! only if it comes from the resolver asked, with our ID and our question.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

use crate::wire::{self, Question};

/// Why no upstream answer could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No upstream is configured.
    #[error("no upstream resolver is configured")]
    None,
    /// The last resolver tried failed this way.
    #[error("upstream {addr}: {why}")]
    Failed {
        /// The resolver.
        addr: SocketAddr,
        /// What went wrong.
        why: String,
    },
}

/// Asks `upstreams` in order for `q` and returns the first usable response.
pub(crate) async fn resolve(
    upstreams: &[SocketAddr],
    per_try: Duration,
    q: &Question,
) -> Result<Message, UpstreamError> {
    let mut last = UpstreamError::None;
    for &addr in upstreams {
        let id: u16 = rand::random();
        let request = request(q, id);
        let deadline = Instant::now() + per_try;
        let outcome = match exchange_udp(addr, &request, id, q, deadline).await {
            Ok(m) if m.metadata.truncation => exchange_tcp(addr, &request, id, q, deadline).await,
            other => other,
        };
        match outcome {
            Ok(m) => {
                let rcode = u16::from(m.metadata.response_code);
                if rcode == wire::NOERROR || rcode == wire::NXDOMAIN {
                    return Ok(m);
                }
                last = UpstreamError::Failed { addr, why: format!("rcode {rcode}") };
            }
            Err(why) => last = UpstreamError::Failed { addr, why },
        }
    }
    Err(last)
}

/// The query sent upstream: our ID, RD, the question in lower case, EDNS with our payload size.
fn request(q: &Question, id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = q.cd;
    let mut query = Query::query(q.name.to_lowercase(), q.qtype);
    query.set_query_class(q.qclass);
    m.add_query(query);
    let mut edns = Edns::new();
    edns.set_max_payload(wire::MAX_UDP);
    m.set_edns(edns);
    m.to_vec().unwrap_or_default()
}

/// True when `m` answers our request `id` for `q`.
fn matches(m: &Message, id: u16, q: &Question) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0].name == q.name
        && m.queries[0].query_type == q.qtype
        && m.queries[0].query_class == q.qclass
}

async fn exchange_udp(
    addr: SocketAddr,
    request: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Result<Message, String> {
    let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let sock = UdpSocket::bind(local).await.map_err(|e| format!("bind: {e}"))?;
    sock.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    sock.send(request).await.map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = match timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err("timed out (udp)".into()),
            Ok(Err(e)) => return Err(format!("recv: {e}")),
            Ok(Ok(n)) => n,
        };
        // Anything else (a stray or forged datagram) is ignored until the deadline.
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if matches(&m, id, q) {
                return Ok(m);
            }
        }
    }
}

async fn exchange_tcp(
    addr: SocketAddr,
    request: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Result<Message, String> {
    let work = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| format!("tcp connect: {e}"))?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&(request.len() as u16).to_be_bytes());
        framed.extend_from_slice(request);
        s.write_all(&framed).await.map_err(|e| format!("tcp send: {e}"))?;
        loop {
            let len = s.read_u16().await.map_err(|e| format!("tcp recv: {e}"))? as usize;
            let mut buf = vec![0u8; len];
            s.read_exact(&mut buf).await.map_err(|e| format!("tcp recv: {e}"))?;
            let m = Message::from_vec(&buf).map_err(|e| format!("tcp answer unreadable: {e}"))?;
            if matches(&m, id, q) {
                return Ok(m);
            }
        }
    };
    timeout_at(deadline, work).await.unwrap_or_else(|_| Err("timed out (tcp)".into()))
}
