//! Observe (RFC 7641): the option's value in a registration (0 register, 1 deregister, §2) and in a
//! notification (a 24-bit sequence number), and the freshness rule of §3.4 that tells whether a
//! notification is newer than the last one kept.

use std::time::Duration;

/// Observe value of a GET that registers an observation.
pub const REGISTER: u32 = 0;
/// Observe value of a GET that cancels an observation.
pub const DEREGISTER: u32 = 1;

/// Largest sequence number (24 bits).
pub const MAX_SEQUENCE: u32 = (1 << 24) - 1;

/// Whether a notification with sequence `v2`, received `elapsed` after the one with `v1`, is newer
/// (RFC 7641 §3.4: within 2^23 ahead modulo 2^24, or more than 128 seconds later).
pub fn is_fresher(v1: u32, v2: u32, elapsed: Duration) -> bool {
    let (v1, v2) = (v1 & MAX_SEQUENCE, v2 & MAX_SEQUENCE);
    (v1 < v2 && v2 - v1 < (1 << 23)) || (v1 > v2 && v1 - v2 > (1 << 23)) || elapsed > Duration::from_secs(128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_wraps_and_times_out() {
        let now = Duration::ZERO;
        assert!(is_fresher(5, 6, now));
        assert!(!is_fresher(6, 5, now));
        assert!(is_fresher(MAX_SEQUENCE, 0, now));
        assert!(!is_fresher(6, 6, now));
        assert!(is_fresher(6, 5, Duration::from_secs(129)));
    }
}
