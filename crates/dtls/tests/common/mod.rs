//! Shared by the DTLS tests and the benchmark: a server on loopback with a handler that records what
//! it gets and answers (a CoAP ACK for a CoAP request, `identity:payload` otherwise), a blocking
//! OpenSSL DTLS client over a UDP socket, and finding the third-party tools.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dtls::{DatagramHandler, DtlsConfig, DtlsServer, Limits, PskTable, Stats, X509Credentials};
use openssl::ssl::{ErrorCode, HandshakeError, SslContext, SslMethod, SslStream, SslVersion};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// What the handler was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub peer: SocketAddr,
    pub identity: Option<String>,
    pub datagram: Vec<u8>,
}

/// Records every datagram; answers a CoAP confirmable request with a piggybacked 2.05 ACK whose
/// payload is `identity=<identity>`, and anything else with `<identity>:<datagram>`.
#[derive(Default)]
pub struct Recorder {
    pub got: Mutex<Vec<Received>>,
    pub closed: Mutex<Vec<SocketAddr>>,
}

/// A minimal CoAP answer (RFC 7252 §3): ACK, 2.05 Content, the request's message id and token.
pub fn coap_ack(request: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = request.split_first()?;
    let tkl = usize::from(first & 0x0f);
    if first >> 6 != 1 || (first >> 4) & 3 != 0 || tkl > 8 || rest.len() < 3 + tkl {
        return None;
    }
    let mut out = vec![0x60 | (tkl as u8), 0x45, rest[1], rest[2]];
    out.extend_from_slice(&rest[3..3 + tkl]);
    out.push(0xff);
    out.extend_from_slice(payload);
    Some(out)
}

impl DatagramHandler for Recorder {
    fn handle(&self, peer: SocketAddr, identity: Option<String>, datagram: &[u8]) -> Vec<Vec<u8>> {
        let id = identity.clone().unwrap_or_default();
        self.got.lock().unwrap().push(Received { peer, identity, datagram: datagram.to_vec() });
        match coap_ack(datagram, format!("identity={id}").as_bytes()) {
            Some(ack) => vec![ack],
            None => vec![[id.as_bytes(), b":", datagram].concat()],
        }
    }

    fn session_closed(&self, peer: SocketAddr) {
        self.closed.lock().unwrap().push(peer);
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    pub handler: Arc<Recorder>,
    pub psk: Arc<PskTable>,
    pub outbound: dtls::Outbound,
    cancel: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts a server on 127.0.0.1 with these PSKs (identity, key) and optional X.509 credentials.
pub async fn start(psks: &[(&str, &[u8])], x509: Option<X509Credentials>, limits: Limits) -> Running {
    start_with(psks, x509, limits, None).await
}

/// [`start`], refusing the client certificates whose serials are in `revoked`.
pub async fn start_with(
    psks: &[(&str, &[u8])],
    x509: Option<X509Credentials>,
    limits: Limits,
    revoked: Option<Arc<dtls::RevokedSerials>>,
) -> Running {
    let psk = Arc::new(PskTable::new(psks.iter().map(|(i, k)| (i.to_string(), Zeroizing::new(k.to_vec())))));
    let handler = Arc::new(Recorder::default());
    let config = DtlsConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        limits,
        psk: Some(psk.clone() as Arc<dyn dtls::PskResolver>),
        x509,
        revoked,
    };
    let server = DtlsServer::bind(config, handler.clone()).await.expect("bind");
    let addr = server.local_addr().unwrap();
    let stats = server.stats();
    let outbound = server.outbound();
    let cancel = CancellationToken::new();
    tokio::spawn(server.run(cancel.clone()));
    Running { addr, stats, handler, psk, outbound, cancel }
}

/// A connected UDP socket as OpenSSL's transport (one datagram per read and write).
#[derive(Debug)]
pub struct UdpStream(pub UdpSocket);

impl Read for UdpStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for UdpStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A DTLS 1.2 PSK client context offering `cipher`.
pub fn psk_client_context(identity: &str, key: &[u8], cipher: &str) -> SslContext {
    let mut b = openssl::ssl::SslContextBuilder::new(SslMethod::dtls_client()).unwrap();
    b.set_min_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
    b.set_max_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
    b.set_cipher_list(cipher).unwrap();
    let (identity, key) = (identity.as_bytes().to_vec(), key.to_vec());
    b.set_psk_client_callback(move |_ssl, _hint, id_out, key_out| {
        id_out[..identity.len()].copy_from_slice(&identity);
        id_out[identity.len()] = 0;
        key_out[..key.len()].copy_from_slice(&key);
        Ok(key.len())
    });
    b.build()
}

/// Connects and finishes the handshake (retrying on read timeouts so OpenSSL retransmits).
pub fn connect(ctx: &SslContext, server: SocketAddr) -> Result<SslStream<UdpStream>, String> {
    connect_from(ctx, server, "127.0.0.1")
}

/// [`connect`] from a socket bound to `ip` (another loopback address is another source).
pub fn connect_from(ctx: &SslContext, server: SocketAddr, ip: &str) -> Result<SslStream<UdpStream>, String> {
    let sock = UdpSocket::bind((ip, 0)).unwrap();
    sock.connect(server).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let ssl = openssl::ssl::Ssl::new(ctx).unwrap();
    let mut attempt = ssl.connect(UdpStream(sock));
    for _ in 0..10 {
        match attempt {
            Ok(s) => return Ok(s),
            Err(HandshakeError::WouldBlock(mid)) => attempt = mid.handshake(),
            Err(HandshakeError::Failure(mid)) => return Err(mid.error().to_string()),
            Err(HandshakeError::SetupFailure(e)) => return Err(e.to_string()),
        }
    }
    Err("handshake did not finish".into())
}

/// Sends one application datagram and reads the answer.
pub fn roundtrip(s: &mut SslStream<UdpStream>, data: &[u8]) -> Result<Vec<u8>, String> {
    s.ssl_write(data).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    for _ in 0..10 {
        match s.ssl_read(&mut buf) {
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) if e.code() == ErrorCode::WANT_READ => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("no answer".into())
}

/// Whether `tool` is on PATH; without it a `SKIPPED` line, or a failure when `CI` is set.
pub fn have(tool: &str, package: &str) -> bool {
    let found =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is not installed but CI is set (Debian package {package})");
        println!("SKIPPED: {tool} not found on PATH (Debian package {package})");
    }
    found
}

/// Waits until `cond` holds (up to two seconds).
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..40 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
