//! Stateless cookies (RFC 6347 §4.2.1): `HMAC-SHA-256(secret, window ‖ peer ‖ ClientHello fields)`,
//! so a ClientHello from a spoofed address costs one HMAC and one small answer and leaves nothing
//! behind. The secret is random per process and wiped on drop; a cookie is good for the time window
//! it was made in and the next one (each [`COOKIE_WINDOW`] long).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::record::ClientHello;

/// How long one cookie window lasts.
pub const COOKIE_WINDOW: Duration = Duration::from_secs(30);
/// Cookie length: the whole HMAC-SHA-256.
pub const COOKIE_LEN: usize = 32;

/// The cookie secret.
pub struct CookieKey {
    secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

fn window_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / COOKIE_WINDOW.as_secs()
}

impl CookieKey {
    /// A fresh random secret.
    pub fn random() -> Result<Self, openssl::error::ErrorStack> {
        let mut secret = Zeroizing::new([0u8; 32]);
        openssl::rand::rand_bytes(secret.as_mut())?;
        Ok(CookieKey { secret })
    }

    fn compute(&self, window: u64, peer: SocketAddr, hello: &ClientHello<'_>) -> [u8; COOKIE_LEN] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.as_ref()).expect("HMAC takes any key length");
        m.update(&window.to_be_bytes());
        match peer {
            SocketAddr::V4(a) => m.update(&a.ip().to_ipv6_mapped().octets()),
            SocketAddr::V6(a) => m.update(&a.ip().octets()),
        }
        m.update(&peer.port().to_be_bytes());
        // The fields RFC 6347 §4.2.1 has the client repeat unchanged in its second ClientHello.
        m.update(&hello.client_version);
        m.update(hello.random);
        m.update(&[hello.session_id.len() as u8]);
        m.update(hello.session_id);
        m.update(hello.rest);
        m.finalize().into_bytes().into()
    }

    /// The cookie to send `peer` for this ClientHello.
    pub fn cookie(&self, peer: SocketAddr, hello: &ClientHello<'_>) -> [u8; COOKIE_LEN] {
        self.compute(window_now(), peer, hello)
    }

    /// Whether the ClientHello carries a cookie this key made for `peer` and these fields, in this
    /// window or the one before (compared in constant time).
    pub fn verify(&self, peer: SocketAddr, hello: &ClientHello<'_>) -> bool {
        if hello.cookie.len() != COOKIE_LEN {
            return false;
        }
        let now = window_now();
        [now, now.saturating_sub(1)]
            .into_iter()
            .any(|w| bool::from(self.compute(w, peer, hello).as_slice().ct_eq(hello.cookie)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordHeader;

    fn hello<'a>(cookie: &'a [u8], random: &'a [u8]) -> ClientHello<'a> {
        ClientHello {
            record: RecordHeader { content_type: 22, version: [0xfe, 0xfd], epoch: 0, sequence: 1, length: 0 },
            message_seq: 1,
            client_version: [0xfe, 0xfd],
            random,
            session_id: b"",
            cookie,
            rest: b"\x00\x02\xc0\xa8\x01\x00",
        }
    }

    #[test]
    fn a_cookie_is_bound_to_peer_and_hello() {
        let k = CookieKey::random().unwrap();
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let c = k.cookie(peer, &hello(b"", &[1; 32]));
        assert!(k.verify(peer, &hello(&c, &[1; 32])));
        assert!(!k.verify("127.0.0.1:5001".parse().unwrap(), &hello(&c, &[1; 32])), "other port");
        assert!(!k.verify("127.0.0.2:5000".parse().unwrap(), &hello(&c, &[1; 32])), "other address");
        assert!(!k.verify(peer, &hello(&c, &[2; 32])), "other random");
        assert!(!k.verify(peer, &hello(&c[..31], &[1; 32])), "short");
        let other = CookieKey::random().unwrap();
        assert!(!other.verify(peer, &hello(&c, &[1; 32])), "other secret");
    }
}
