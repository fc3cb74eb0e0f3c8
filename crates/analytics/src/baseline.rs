//! Per-device behaviour, learned online in a fixed, small amount of memory.
//!
//! A [`DeviceBaseline`] is what the engine remembers about one device: where it goes (bounded exact
//! sets of /32 and /24 keys, then a Bloom filter), which services (protocol and remote port), how many
//! bytes and flows per active hour (EWMA mean and variance, and the peak hour), at which hours of the day
//! it is active (24-bit map), how much signalling it causes per hour, its last IMEI and its DNS habits
//! (NXDOMAIN ratio, name entropy). Everything is inline: no heap allocation per device, so the memory
//! per device is `size_of::<DeviceBaseline>()` ([`BASELINE_BYTES_PER_DEVICE`], about 0.7 KiB; the
//! engine's total per device including its map entry and key is stated in
//! [`crate::detect::ENGINE_BYTES_PER_DEVICE`]).
//!
//! The learning period starts at the device's first observation and lasts
//! [`EngineConfig::learning_ms`](crate::detect::EngineConfig) of device time. During it everything
//! is learned and nothing about "new" behaviour is reported; afterwards the statistics keep adapting
//! slowly (EWMA) and hours that raised a volume detection are folded in clipped, so an attacker cannot
//! quickly teach the baseline that a spike is normal.
//!
//! The hashes here are a fixed 64-bit mixer (not keyed): an attacker who floods one device's sets only
//! saturates that device's own Bloom filter, which makes its destinations look known — the scanning
//! and volume detections, which do not depend on the sets, still see it.

use std::io::Read;
use std::net::IpAddr;

use crate::snapshot::{Dec, Enc, Short};

/// One hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;

/// Bytes one [`DeviceBaseline`] takes (everything is inline, no heap).
pub const BASELINE_BYTES_PER_DEVICE: usize = std::mem::size_of::<DeviceBaseline>();

/// A 64-bit mixer (the SplitMix64 finaliser, Steele et al., OOPSLA 2014).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed: a stable hash of names.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// The exact-set key of a remote address: the IPv4 address itself, or a hash of the IPv6 /64.
pub fn host_key(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => (mix64((u128::from(v6) >> 64) as u64) >> 32) as u32 | 1,
    }
}

/// The prefix key of a remote address: the IPv4 /24, or a hash of the IPv6 /48.
pub fn prefix_key(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) & 0xffff_ff00,
        IpAddr::V6(v6) => (mix64((u128::from(v6) >> 80) as u64 ^ 0x48) >> 32) as u32 | 1,
    }
}

/// A set of at most `N` 32-bit keys, inline.
#[derive(Debug, Clone, Copy)]
pub struct SmallSet<const N: usize> {
    keys: [u32; N],
    len: u8,
}

impl<const N: usize> Default for SmallSet<N> {
    fn default() -> Self {
        Self { keys: [0; N], len: 0 }
    }
}

impl<const N: usize> SmallSet<N> {
    /// Whether `key` is in the set.
    pub fn contains(&self, key: u32) -> bool {
        self.keys[..usize::from(self.len)].contains(&key)
    }

    /// Adds `key`; false when the set is full and `key` is not in it.
    pub fn insert(&mut self, key: u32) -> bool {
        if self.contains(key) {
            return true;
        }
        if usize::from(self.len) == N {
            return false;
        }
        self.keys[usize::from(self.len)] = key;
        self.len += 1;
        true
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A Bloom filter of 1024 bits with 3 probes: about 1 % false positives at 100 keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bloom {
    bits: [u64; 16],
}

impl Bloom {
    fn probes(key: u64) -> [usize; 3] {
        let h = mix64(key ^ 0x9e37_79b9_7f4a_7c15);
        [(h & 1023) as usize, ((h >> 10) & 1023) as usize, ((h >> 20) & 1023) as usize]
    }

    /// Whether `key` may have been inserted.
    pub fn contains(&self, key: u64) -> bool {
        Self::probes(key).iter().all(|&b| self.bits[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Inserts `key`; true if it was (probably) not there before.
    pub fn insert(&mut self, key: u64) -> bool {
        let fresh = !self.contains(key);
        for b in Self::probes(key) {
            self.bits[b / 64] |= 1 << (b % 64);
        }
        fresh
    }
}

/// A linear counter ("probabilistic counting", Whang et al. 1990) of `64·W` bits: estimates the number
/// of distinct keys seen, up to a few times its bit count.
#[derive(Debug, Clone, Copy)]
pub struct DistinctCounter<const W: usize> {
    bits: [u64; W],
}

impl<const W: usize> Default for DistinctCounter<W> {
    fn default() -> Self {
        Self { bits: [0; W] }
    }
}

impl<const W: usize> DistinctCounter<W> {
    /// Counts `key`.
    pub fn insert(&mut self, key: u64) {
        let b = (mix64(key) % (64 * W as u64)) as usize;
        self.bits[b / 64] |= 1 << (b % 64);
    }

    /// The estimated number of distinct keys: `-m ln(zeros/m)`.
    pub fn estimate(&self) -> f64 {
        let m = (64 * W) as f64;
        let ones: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        let zeros = m - f64::from(ones);
        if zeros < 1.0 {
            // Saturated: at least this many.
            return m * m.ln();
        }
        -m * (zeros / m).ln()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.bits = [0; W];
    }
}

/// Exponentially weighted mean and variance (West 1979 incremental form), with `1/n` weights while
/// fewer than `1/alpha` values have been seen so that early values are averaged, not overweighted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ewma {
    mean: f32,
    var: f32,
    n: u16,
}

impl Ewma {
    /// Folds in `x` with smoothing `alpha` (0..1).
    pub fn update(&mut self, x: f64, alpha: f64) {
        self.n = self.n.saturating_add(1);
        let a = alpha.max(1.0 / f64::from(self.n));
        let mean = f64::from(self.mean);
        let diff = x - mean;
        let incr = a * diff;
        self.mean = (mean + incr) as f32;
        self.var = ((1.0 - a) * (f64::from(self.var) + diff * incr)) as f32;
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        f64::from(self.mean)
    }

    /// The standard deviation.
    pub fn sd(&self) -> f64 {
        f64::from(self.var).max(0.0).sqrt()
    }

    /// Number of values folded in (saturating).
    pub fn count(&self) -> u16 {
        self.n
    }
}

/// The short window the scanning and DNS detections count in.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShortWindow {
    /// Start of the window (unix ms).
    pub start: u64,
    /// Distinct remote hosts.
    pub hosts: DistinctCounter<4>,
    /// Distinct remote (protocol, port) services.
    pub services: DistinctCounter<2>,
    /// Distinct hosts contacted on telnet (TCP 23 or 2323), the Mirai signature.
    pub telnet_hosts: DistinctCounter<2>,
    /// DNS queries.
    pub dns_queries: u16,
    /// NXDOMAIN answers.
    pub dns_nxdomain: u16,
    /// Names with long, high-entropy subdomains.
    pub dns_suspicious: u16,
    /// Distinct subdomains under up to four base domains (hash of the base, counter).
    pub dns_bases: [(u32, DistinctCounter<2>); 4],
}

impl ShortWindow {
    /// Resets the window to start at `start`.
    pub fn restart(&mut self, start: u64) {
        *self = ShortWindow { start, ..Default::default() };
    }
}

/// What the engine knows about one device. See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceBaseline {
    /// First observation (unix ms): the learning period starts here.
    pub first_seen: u64,
    /// Last observation (unix ms).
    pub last_seen: u64,
    /// Remote hosts (/32 or IPv6 /64 keys).
    pub hosts: SmallSet<24>,
    /// Remote prefixes (/24 or IPv6 /48 keys).
    pub prefixes: SmallSet<12>,
    /// Hosts beyond the exact sets, and destinations acknowledged after learning.
    pub hosts_overflow: Bloom,
    /// Distinct hosts that went to the Bloom filter (approximate: its own false positives are not
    /// counted).
    pub hosts_overflow_count: u16,
    /// Remote services: `proto << 16 | port`.
    pub services: SmallSet<12>,
    /// Distinct services beyond `services` (approximate, counted once per Bloom miss).
    pub services_overflow_count: u16,
    /// The current hour (hours since the epoch).
    pub hour: u32,
    /// Bytes (both directions) so far in the current hour.
    pub hour_bytes: u64,
    /// Bytes from the device so far in the current hour.
    pub hour_bytes_up: u64,
    /// Flows so far in the current hour.
    pub hour_flows: u32,
    /// Signalling requests so far in the current hour.
    pub hour_signalling: u32,
    /// Of which rejected.
    pub hour_signalling_rejected: u32,
    /// A volume detection was raised in the current hour (the hour is folded in clipped).
    pub hour_spiked: bool,
    /// Bytes per active hour.
    pub bytes_per_hour: Ewma,
    /// Flows per active hour.
    pub flows_per_hour: Ewma,
    /// Share of bytes sent by the device, per active hour.
    pub upload_share: Ewma,
    /// Signalling requests per hour with signalling.
    pub signalling_per_hour: Ewma,
    /// Largest completed hour's bytes.
    pub peak_hour_bytes: f32,
    /// Largest completed hour's flows.
    pub peak_hour_flows: f32,
    /// Largest completed hour's signalling requests.
    pub peak_hour_signalling: f32,
    /// Hours of the day (UTC) with traffic, bit `h` for hour `h`.
    pub active_hours: u32,
    /// Last IMEI's first 14 digits (TAC and serial) as a number; 0 before the first.
    pub last_imei: u64,
    /// IMEI changes seen.
    pub imei_changes: u16,
    /// NXDOMAIN share of DNS answers.
    pub dns_nxdomain_ratio: Ewma,
    /// Shannon entropy (bits per character) of the subdomain part of queried names.
    pub dns_entropy: Ewma,
    /// Base domains queried (hashes).
    pub dns_bases: SmallSet<6>,
    /// The scanning/DNS short window.
    pub window: ShortWindow,
}

/// EWMA smoothing of the hourly statistics: about the last 20 active hours.
pub const HOURLY_ALPHA: f64 = 0.05;

impl DeviceBaseline {
    /// A baseline whose learning starts at `at`.
    pub fn new(at: u64) -> Self {
        Self { first_seen: at, last_seen: at, hour: (at / HOUR_MS) as u32, ..Default::default() }
    }

    /// Whether the learning period is over at `at`.
    pub fn learned(&self, at: u64, learning_ms: u64) -> bool {
        at >= self.first_seen.saturating_add(learning_ms)
    }

    /// Whether `ip` is one of the device's known destinations.
    pub fn knows_destination(&self, ip: IpAddr) -> bool {
        let host = host_key(ip);
        self.hosts.contains(host)
            || self.prefixes.contains(prefix_key(ip))
            || self.hosts_overflow.contains(u64::from(host))
    }

    /// Remembers `ip` as a destination of the device.
    pub fn learn_destination(&mut self, ip: IpAddr) {
        let host = host_key(ip);
        let _ = self.prefixes.insert(prefix_key(ip));
        if !self.hosts.insert(host) && self.hosts_overflow.insert(u64::from(host)) {
            self.hosts_overflow_count = self.hosts_overflow_count.saturating_add(1);
        }
    }

    /// Remembers a service (protocol, remote port).
    pub fn learn_service(&mut self, proto: u8, port: u16) {
        let key = u32::from(proto) << 16 | u32::from(port);
        if !self.services.insert(key) && self.hosts_overflow.insert(u64::from(key) | 1 << 40) {
            self.services_overflow_count = self.services_overflow_count.saturating_add(1);
        }
    }

    /// Number of distinct destinations known (approximate beyond the exact set).
    pub fn destination_count(&self) -> usize {
        self.hosts.len() + usize::from(self.hosts_overflow_count)
    }

    /// Number of distinct services known (approximate beyond the exact set).
    pub fn service_count(&self) -> usize {
        self.services.len() + usize::from(self.services_overflow_count)
    }

    /// Moves the hourly counters to the hour of `at`, folding the finished hour into the statistics.
    /// `clip` bounds what a spiked hour contributes (the threshold it crossed).
    pub fn roll_hour(&mut self, at: u64, clip_bytes: f64) {
        let hour = (at / HOUR_MS) as u32;
        if hour <= self.hour {
            return;
        }
        if self.hour_flows > 0 {
            let mut bytes = self.hour_bytes as f64;
            let mut flows = f64::from(self.hour_flows);
            if self.hour_spiked {
                bytes = bytes.min(clip_bytes);
                flows = flows.min(f64::from(self.peak_hour_flows).max(1.0) * 2.0);
            }
            self.bytes_per_hour.update(bytes, HOURLY_ALPHA);
            self.flows_per_hour.update(flows, HOURLY_ALPHA);
            let share = if self.hour_bytes == 0 { 0.5 } else { self.hour_bytes_up as f64 / self.hour_bytes as f64 };
            self.upload_share.update(share, HOURLY_ALPHA);
            if !self.hour_spiked {
                self.peak_hour_bytes = self.peak_hour_bytes.max(bytes as f32);
                self.peak_hour_flows = self.peak_hour_flows.max(flows as f32);
            }
        }
        if self.hour_signalling > 0 {
            let n = f64::from(self.hour_signalling);
            if !self.hour_spiked {
                self.peak_hour_signalling = self.peak_hour_signalling.max(n as f32);
            }
            self.signalling_per_hour.update(n.min(f64::from(self.peak_hour_signalling).max(1.0) * 2.0), HOURLY_ALPHA);
        }
        self.hour = hour;
        self.hour_bytes = 0;
        self.hour_bytes_up = 0;
        self.hour_flows = 0;
        self.hour_signalling = 0;
        self.hour_signalling_rejected = 0;
        self.hour_spiked = false;
    }

    /// Marks the hour of day of `at` as active.
    pub fn mark_active(&mut self, at: u64) {
        self.active_hours |= 1 << ((at / HOUR_MS) % 24);
    }
}

// Serialization for [`crate::snapshot`]: every field in declaration order; exact sets up to their
// length only. Decoding refuses what no encoder writes (a set longer than its capacity, a flag other
// than 0/1, a non-finite statistic) rather than build a state the engine never has.

impl<const N: usize> SmallSet<N> {
    fn encode(&self, e: &mut Enc<'_>) {
        e.u8(self.len);
        for k in &self.keys[..usize::from(self.len)] {
            e.u32(*k);
        }
    }

    fn decode<R: Read>(d: &mut Dec<R>) -> Result<Self, Short> {
        let len = d.u8()?;
        if usize::from(len) > N {
            return Err(Short::Bad("a set is longer than its capacity"));
        }
        let mut s = Self::default();
        for k in &mut s.keys[..usize::from(len)] {
            *k = d.u32()?;
        }
        s.len = len;
        Ok(s)
    }
}

fn encode_words(words: &[u64], e: &mut Enc<'_>) {
    for w in words {
        e.u64(*w);
    }
}

fn decode_words<R: Read, const W: usize>(d: &mut Dec<R>) -> Result<[u64; W], Short> {
    let mut words = [0u64; W];
    for w in &mut words {
        *w = d.u64()?;
    }
    Ok(words)
}

impl Ewma {
    fn encode(&self, e: &mut Enc<'_>) {
        e.f32(self.mean);
        e.f32(self.var);
        e.u16(self.n);
    }

    fn decode<R: Read>(d: &mut Dec<R>) -> Result<Self, Short> {
        Ok(Self { mean: d.f32()?, var: d.f32()?, n: d.u16()? })
    }
}

impl ShortWindow {
    fn encode(&self, e: &mut Enc<'_>) {
        e.u64(self.start);
        encode_words(&self.hosts.bits, e);
        encode_words(&self.services.bits, e);
        encode_words(&self.telnet_hosts.bits, e);
        e.u16(self.dns_queries);
        e.u16(self.dns_nxdomain);
        e.u16(self.dns_suspicious);
        for (base, counter) in &self.dns_bases {
            e.u32(*base);
            encode_words(&counter.bits, e);
        }
    }

    fn decode<R: Read>(d: &mut Dec<R>) -> Result<Self, Short> {
        let mut w = ShortWindow {
            start: d.u64()?,
            hosts: DistinctCounter { bits: decode_words(d)? },
            services: DistinctCounter { bits: decode_words(d)? },
            telnet_hosts: DistinctCounter { bits: decode_words(d)? },
            dns_queries: d.u16()?,
            dns_nxdomain: d.u16()?,
            dns_suspicious: d.u16()?,
            ..Default::default()
        };
        for (base, counter) in &mut w.dns_bases {
            *base = d.u32()?;
            counter.bits = decode_words(d)?;
        }
        Ok(w)
    }
}

impl DeviceBaseline {
    /// Appends the baseline's bytes ([`crate::snapshot`]).
    pub(crate) fn encode(&self, e: &mut Enc<'_>) {
        e.u64(self.first_seen);
        e.u64(self.last_seen);
        self.hosts.encode(e);
        self.prefixes.encode(e);
        encode_words(&self.hosts_overflow.bits, e);
        e.u16(self.hosts_overflow_count);
        self.services.encode(e);
        e.u16(self.services_overflow_count);
        e.u32(self.hour);
        e.u64(self.hour_bytes);
        e.u64(self.hour_bytes_up);
        e.u32(self.hour_flows);
        e.u32(self.hour_signalling);
        e.u32(self.hour_signalling_rejected);
        e.bool(self.hour_spiked);
        for s in [&self.bytes_per_hour, &self.flows_per_hour, &self.upload_share, &self.signalling_per_hour] {
            s.encode(e);
        }
        e.f32(self.peak_hour_bytes);
        e.f32(self.peak_hour_flows);
        e.f32(self.peak_hour_signalling);
        e.u32(self.active_hours);
        e.u64(self.last_imei);
        e.u16(self.imei_changes);
        self.dns_nxdomain_ratio.encode(e);
        self.dns_entropy.encode(e);
        self.dns_bases.encode(e);
        self.window.encode(e);
    }

    /// Reads a baseline written by [`DeviceBaseline::encode`].
    pub(crate) fn decode<R: Read>(d: &mut Dec<R>) -> Result<Self, Short> {
        Ok(Self {
            first_seen: d.u64()?,
            last_seen: d.u64()?,
            hosts: SmallSet::decode(d)?,
            prefixes: SmallSet::decode(d)?,
            hosts_overflow: Bloom { bits: decode_words(d)? },
            hosts_overflow_count: d.u16()?,
            services: SmallSet::decode(d)?,
            services_overflow_count: d.u16()?,
            hour: d.u32()?,
            hour_bytes: d.u64()?,
            hour_bytes_up: d.u64()?,
            hour_flows: d.u32()?,
            hour_signalling: d.u32()?,
            hour_signalling_rejected: d.u32()?,
            hour_spiked: d.bool()?,
            bytes_per_hour: Ewma::decode(d)?,
            flows_per_hour: Ewma::decode(d)?,
            upload_share: Ewma::decode(d)?,
            signalling_per_hour: Ewma::decode(d)?,
            peak_hour_bytes: d.f32()?,
            peak_hour_flows: d.f32()?,
            peak_hour_signalling: d.f32()?,
            active_hours: d.u32()?,
            last_imei: d.u64()?,
            imei_changes: d.u16()?,
            dns_nxdomain_ratio: Ewma::decode(d)?,
            dns_entropy: Ewma::decode(d)?,
            dns_bases: SmallSet::decode(d)?,
            window: ShortWindow::decode(d)?,
        })
    }
}

/// The first 14 digits of an IMEI/IMEISV as a number (TAC and serial; the check digit and software
/// version are ignored), or `None` when it is not 14–16 digits.
pub fn imei_key(imei: &str) -> Option<u64> {
    if !(14..=16).contains(&imei.len()) || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    imei[..14].parse().ok()
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Splits a DNS name into (subdomain part, base domain): the base is the last two labels, or the last
/// three when the second-level label is a usual registry label (`co.uk`, `com.au`) — an approximation of the public
/// suffix list that is enough to group a tunnel's queries.
pub fn split_base_domain(name: &str) -> (&str, &str) {
    let name = name.trim_end_matches('.');
    let Some(last) = name.rfind('.') else { return ("", name) };
    let Some(second) = name[..last].rfind('.') else { return ("", name) };
    let second_label = &name[second + 1..last];
    let registry = ["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go"];
    let cut = if registry.contains(&second_label) {
        match name[..second].rfind('.') {
            Some(third) => third,
            None => return ("", name),
        }
    } else {
        second
    };
    (&name[..cut], &name[cut + 1..])
}

/// Shannon entropy in bits per character of `s` lowercased, dots left out (no allocation).
pub fn label_entropy(s: &str) -> (f64, usize) {
    let mut counts = [0u32; 256];
    let mut n = 0usize;
    for b in s.bytes().filter(|b| *b != b'.') {
        counts[usize::from(b.to_ascii_lowercase())] += 1;
        n += 1;
    }
    if n == 0 {
        return (0.0, 0);
    }
    let total = n as f64;
    let h = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum();
    (h, n)
}

/// [`hash_bytes`] of the ASCII-lowercased bytes (no allocation).
pub(crate) fn hash_lowercase(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_per_device_is_stated_and_small() {
        // No heap: the whole baseline is inline. The target is 2 KiB per device all included.
        assert_eq!(BASELINE_BYTES_PER_DEVICE, std::mem::size_of::<DeviceBaseline>());
        let bytes = std::hint::black_box(BASELINE_BYTES_PER_DEVICE);
        assert!(bytes <= 1024, "baseline is {bytes} bytes");
    }

    #[test]
    fn sets_learn_destinations_beyond_their_exact_capacity() {
        let mut b = DeviceBaseline::new(0);
        for i in 0..200u32 {
            b.learn_destination(IpAddr::V4((0x0a00_0000 + i * 256).into()));
        }
        for i in 0..200u32 {
            assert!(b.knows_destination(IpAddr::V4((0x0a00_0000 + i * 256).into())));
        }
        assert!(!b.knows_destination("192.0.2.1".parse().unwrap()));
        assert!(b.destination_count() >= 190, "{}", b.destination_count());
        // A /24 neighbour of an exactly known host is known.
        let mut c = DeviceBaseline::new(0);
        c.learn_destination("198.51.100.7".parse().unwrap());
        assert!(c.knows_destination("198.51.100.9".parse().unwrap()));
        assert!(!c.knows_destination("198.51.101.9".parse().unwrap()));
    }

    #[test]
    fn distinct_counter_estimates_within_twenty_percent() {
        let mut c = DistinctCounter::<4>::default();
        for i in 0..150u64 {
            c.insert(i);
            c.insert(i);
        }
        let e = c.estimate();
        assert!((120.0..=180.0).contains(&e), "{e}");
    }

    #[test]
    fn ewma_tracks_mean_and_spread() {
        let mut e = Ewma::default();
        for i in 0..100 {
            e.update(if i % 2 == 0 { 90.0 } else { 110.0 }, 0.05);
        }
        assert!((e.mean() - 100.0).abs() < 2.0, "{}", e.mean());
        assert!((e.sd() - 10.0).abs() < 2.0, "{}", e.sd());
    }

    #[test]
    fn hours_fold_only_when_they_are_over_and_spikes_are_clipped() {
        let mut b = DeviceBaseline::new(0);
        b.hour_bytes = 1000;
        b.hour_flows = 1;
        b.roll_hour(HOUR_MS - 1, 0.0);
        assert_eq!(b.bytes_per_hour.count(), 0);
        b.roll_hour(HOUR_MS, 0.0);
        assert_eq!(b.bytes_per_hour.count(), 1);
        assert_eq!(b.peak_hour_bytes, 1000.0);
        b.hour_bytes = 1_000_000;
        b.hour_flows = 1;
        b.hour_spiked = true;
        b.roll_hour(2 * HOUR_MS, 2000.0);
        assert!(b.bytes_per_hour.mean() <= 2000.0);
        assert_eq!(b.peak_hour_bytes, 1000.0);
    }

    #[test]
    fn names_split_into_subdomain_and_base() {
        assert_eq!(split_base_domain("a.b.example.com"), ("a.b", "example.com"));
        assert_eq!(split_base_domain("example.com"), ("", "example.com"));
        assert_eq!(split_base_domain("x.bbc.co.uk"), ("x", "bbc.co.uk"));
        assert_eq!(split_base_domain("y.x.bbc.co.uk."), ("y.x", "bbc.co.uk"));
        assert_eq!(split_base_domain("api.abc.io"), ("api", "abc.io"));
        assert_eq!(split_base_domain("localhost"), ("", "localhost"));
        assert!(shannon_entropy("aaaa") < 0.01);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert_eq!(label_entropy("aB.ab"), (1.0, 4));
        assert_eq!(hash_lowercase("ExAmple"), hash_bytes(b"example"));
        assert_eq!(split_base_domain("a.b.co.uk"), ("a", "b.co.uk"));
        assert_eq!(split_base_domain("co.uk"), ("", "co.uk"));
        assert_eq!(imei_key("490154203237518"), Some(49015420323751));
        assert_eq!(imei_key("49015420323"), None);
    }
}
