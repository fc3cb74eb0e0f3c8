//! One peer's DTLS session: OpenSSL's state over a [`DatagramPipe`]. A session exists only once the
//! peer has proved it receives at its address (a ClientHello with a valid cookie); it then walks
//! OpenSSL through the cookie exchange the stateless front already did, so the handshake goes on
//! from the second ClientHello. Datagrams in are handshake progress or decrypted application data;
//! whatever OpenSSL writes (handshake flights, retransmissions, records, alerts) is taken out with
//! [`Session::take_outgoing`] for the socket.

use std::time::Instant;

use openssl::ssl::{ErrorCode, SslContext, SslStream};
use openssl::x509::X509VerifyResult;

use crate::context::{authenticated_identity, new_ssl};
use crate::pipe::DatagramPipe;
use crate::record::{first_hello_for, ClientHello};
use crate::revocation::{not_after_unix, serial_of};

/// The largest application datagram a record holds (2^14, RFC 6347 §4.1).
const MAX_PLAINTEXT: usize = 16 * 1024;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The peer sent close_notify.
    Closed,
    /// The handshake or the record layer failed (OpenSSL's reason).
    Failed(String),
}

impl End {
    /// The reason as text (`closed` for a close_notify).
    pub fn reason(&self) -> String {
        match self {
            End::Closed => "closed".into(),
            End::Failed(r) => r.clone(),
        }
    }
}

/// The client certificate of an established session, as far as revocation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// Serial ([`crate::revocation::normalise`]d).
    pub serial: String,
    /// Unix seconds after which it is no longer valid.
    pub not_after: Option<i64>,
}

/// One peer's session.
pub struct Session {
    stream: SslStream<DatagramPipe>,
    identity: Option<String>,
    cert: Option<PeerCert>,
    random: [u8; 32],
    /// When the handshake started.
    pub started: Instant,
    /// When the peer last sent a datagram that OpenSSL took.
    pub last_seen: Instant,
}

fn failed(e: impl std::fmt::Display) -> End {
    End::Failed(e.to_string())
}

impl Session {
    /// Starts a session from a ClientHello whose cookie the front verified (`datagram` holds it).
    pub fn start(ctx: &SslContext, hello: &ClientHello<'_>, datagram: &[u8], mtu: u32) -> Result<Session, End> {
        let first = first_hello_for(hello).ok_or_else(|| failed("ClientHello record sequence number 0"))?;
        let ssl = new_ssl(ctx, hello.cookie, mtu).map_err(failed)?;
        let mut stream = SslStream::new(ssl, DatagramPipe::default()).map_err(failed)?;
        // OpenSSL's side of the cookie exchange: it answers the first hello with the cookie the
        // front sent (its HelloVerifyRequest is dropped) and then expects the second.
        stream.get_mut().push(&first);
        match stream.accept() {
            Err(e) if e.code() == ErrorCode::WANT_READ => {}
            Err(e) => return Err(failed(e)),
            Ok(()) => return Err(failed("handshake finished on a first ClientHello")),
        }
        stream.get_mut().clear();
        let now = Instant::now();
        let mut random = [0u8; 32];
        random.copy_from_slice(hello.random);
        let mut s = Session { stream, identity: None, cert: None, random, started: now, last_seen: now };
        s.feed(datagram)?;
        Ok(s)
    }

    /// The authenticated identity, once the handshake has finished.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// The client certificate, once the handshake has finished with one (not for PSK).
    pub fn certificate(&self) -> Option<&PeerCert> {
        self.cert.as_ref()
    }

    /// Whether the handshake has finished.
    pub fn is_established(&self) -> bool {
        self.identity.is_some()
    }

    /// Whether `hello` is a retransmission of the ClientHello this session started from.
    pub fn same_hello(&self, hello: &ClientHello<'_>) -> bool {
        hello.random == self.random
    }

    /// Hands OpenSSL one datagram: returns the application datagrams it decrypted (none while the
    /// handshake runs), or why the session is over.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<Vec<Vec<u8>>, End> {
        self.stream.get_mut().push(datagram);
        self.last_seen = Instant::now();
        if !self.is_established() {
            match self.stream.accept() {
                Ok(()) => {
                    let id = authenticated_identity(self.stream.ssl())
                        .ok_or_else(|| failed("the peer is authenticated but has no identity"))?;
                    self.identity = Some(id);
                    self.cert = self
                        .stream
                        .ssl()
                        .peer_certificate()
                        .and_then(|c| Some(PeerCert { serial: serial_of(&c)?, not_after: not_after_unix(&c) }));
                }
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(Vec::new()),
                // The verify callback marks a revoked client certificate as the application's
                // refusal; OpenSSL's own text only says the verification failed.
                Err(e) if self.stream.ssl().verify_result() == X509VerifyResult::APPLICATION_VERIFICATION => {
                    return Err(End::Failed(format!("client certificate revoked: {e}")))
                }
                Err(e) => return Err(failed(e)),
            }
        }
        self.read_all()
    }

    fn read_all(&mut self) -> Result<Vec<Vec<u8>>, End> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; MAX_PLAINTEXT];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(0) => {}
                Ok(n) => out.push(buf[..n].to_vec()),
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(out),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => return Err(End::Closed),
                Err(e) => return Err(failed(e)),
            }
        }
    }

    /// Lets OpenSSL retransmit its last flight when its timer ran out (a lost datagram).
    pub fn poke(&mut self) -> Result<(), End> {
        if self.is_established() {
            return Ok(());
        }
        match self.stream.accept() {
            // Finished without a datagram cannot happen; the next `feed` would notice it anyway.
            Ok(()) => Ok(()),
            Err(e) if e.code() == ErrorCode::WANT_READ => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    /// Encrypts one application datagram for the peer.
    pub fn send(&mut self, datagram: &[u8]) -> Result<(), End> {
        if !self.is_established() {
            return Err(failed("handshake not finished"));
        }
        self.stream.ssl_write(datagram).map(|_| ()).map_err(failed)
    }

    /// Sends close_notify (best effort).
    pub fn close(&mut self) {
        let _ = self.stream.shutdown();
    }

    /// The datagrams to send since the last call.
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        self.stream.get_mut().take_outgoing()
    }
}
