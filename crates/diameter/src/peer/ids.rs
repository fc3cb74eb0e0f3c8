//! Hop-by-hop and end-to-end identifiers (RFC 6733 §3), from a seed the caller supplies (the peer
//! state machine does no I/O, so it reads neither clock nor OS random source itself).

/// Generates identifiers for one connection.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    hop_by_hop: u32,
    end_to_end: u32,
}

impl IdGenerator {
    /// `seed` should be random; `clock_low12` the low 12 bits of the current time in seconds, which
    /// RFC 6733 puts in the top 12 bits of the first end-to-end id so ids differ across reboots.
    pub fn new(seed: u64, clock_low12: u32) -> Self {
        Self {
            hop_by_hop: seed as u32,
            end_to_end: ((clock_low12 & 0xfff) << 20) | ((seed >> 32) as u32 & 0x000f_ffff),
        }
    }

    /// The next (hop-by-hop, end-to-end) pair.
    pub fn next_pair(&mut self) -> (u32, u32) {
        self.hop_by_hop = self.hop_by_hop.wrapping_add(1);
        self.end_to_end = self.end_to_end.wrapping_add(1);
        (self.hop_by_hop, self.end_to_end)
    }
}

/// SplitMix64, for watchdog jitter from the seed.
pub(crate) fn mix(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
