//! Driving sans-IO Diameter peers in tests without sockets: take one message out of a peer, move
//! bytes between two peers until both are quiet, and trust every peer.

use std::sync::Arc;
use std::time::Instant;

use diameter::peer::{Peer, PeerAuthorizer, PeerIdentity};

/// An authoriser that accepts every peer.
pub fn allow_all() -> Arc<dyn PeerAuthorizer> {
    Arc::new(|_: &PeerIdentity| true)
}

/// The next message the peer queued, as bytes.
pub fn poll_message(p: &mut Peer) -> Option<Vec<u8>> {
    let mut b = Vec::new();
    p.poll_transmit(&mut b).map(|_| b)
}

/// Moves every queued message from `a` to `b` and back until both are quiet.
pub fn pump(a: &mut Peer, b: &mut Peer, now: Instant) {
    loop {
        let mut moved = false;
        while let Some(bytes) = poll_message(a) {
            b.handle_input(&bytes, now);
            moved = true;
        }
        while let Some(bytes) = poll_message(b) {
            a.handle_input(&bytes, now);
            moved = true;
        }
        if !moved {
            break;
        }
    }
}
