//! Session-Ids for the requests the HSS originates (CLR, IDR), globally and eternally unique as
//! RFC 6733 §8.8 requires: `<DiameterIdentity>;<high 32 bits>;<low 32 bits>[;<optional value>]`.
//!
//! The two numbers are the halves of one 64-bit value that starts with the Unix time of start-up in
//! its high half and zero in its low half, and is incremented atomically for every request: no two
//! requests of one run share a Session-Id, and a restart (more than a second later) starts above
//! every value the previous run could have reached at its rate. The optional part names the command
//! (`clr`, `idr`) for whoever reads a trace; it carries no subscriber identity.

use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out fresh Session-Ids for one Diameter identity.
#[derive(Debug)]
pub struct SessionIds {
    host: String,
    next: AtomicU64,
}

impl SessionIds {
    /// Session-Ids of `host`, the high half starting at the current Unix time.
    pub fn new(host: &str) -> Self {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self::starting_at(host, u64::from(secs as u32) << 32)
    }

    /// Session-Ids of `host` whose 64-bit value starts at `value`.
    pub fn starting_at(host: &str, value: u64) -> Self {
        Self { host: host.to_string(), next: AtomicU64::new(value) }
    }

    /// A Session-Id no other call returns: `<host>;<high>;<low>;<tag>` (`tag` must not contain `;`).
    pub fn next(&self, tag: &str) -> String {
        let v = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{};{};{};{tag}", self.host, v >> 32, v as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_half_counts_and_carries_into_the_high_half() {
        let ids = SessionIds::starting_at("hss.home.example", (7 << 32) | u64::from(u32::MAX - 1));
        assert_eq!(ids.next("clr"), "hss.home.example;7;4294967294;clr");
        assert_eq!(ids.next("idr"), "hss.home.example;7;4294967295;idr");
        assert_eq!(ids.next("clr"), "hss.home.example;8;0;clr");
    }

    #[test]
    fn the_high_half_starts_at_the_time_of_start_up() {
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let id = SessionIds::new("h").next("clr");
        let parts: Vec<&str> = id.split(';').collect();
        let high: u64 = parts[1].parse().unwrap();
        assert!(high >= before, "{id}: the high half is the Unix time, not a counter from zero");
        assert_eq!(parts[2], "0", "{id}: the low half starts at zero");
    }
}
