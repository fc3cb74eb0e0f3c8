//! The detection engine's state on disk: what it learned survives a restart.
//!
//! A snapshot holds every device's baseline and dedup state ([`crate::detect::Engine`]'s per-device
//! state) and the destinations each cohort learned. It does not hold the configuration (the one the
//! server starts with applies), the threat intelligence or the allowlists (loaded at start), nor the
//! cohort models (retrained from the restored baselines).
//!
//! Format, version [`VERSION`] (all integers little-endian):
//!
//! | part | content |
//! |---|---|
//! | header | magic `WRDNENG\0` (8 bytes), version (u32), saved at (u64, unix ms), device count (u64) |
//! | strings | count (u32), then each tenant or profile name once: length (u16), UTF-8 |
//! | cohorts | count (u32), then each: cohort hash (u64), destination count (u32), destinations (u32 each) |
//! | devices | device count records: IMSI (u8 length, UTF-8), tenant and profile (u32 string index each), last detection window per kind (8 × u32), baseline (sets written up to their length, the rest fixed) |
//! | checksum | SHA-256 of everything before it (32 bytes), then the end of the file |
//!
//! Reading ([`read`]) builds a new engine and returns it only when every record parsed, the
//! checksum matched and nothing follows it: a truncated, corrupt or other-version file gives a
//! [`SnapshotError`] saying precisely what is wrong, never a half-loaded engine, never a panic.
//!
//! Writing is split so that the server's engine thread never stops for long: [`SnapshotJob::begin`]
//! takes the device keys and writes the header (strings and cohorts included), then each
//! [`SnapshotJob::next_chunk`] encodes a bounded number of devices as they are at that moment; the
//! bytes go through a [`Sealer`] (which hashes them and appends the checksum) on another thread.
//! [`write`] does all of it at once.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::baseline::DeviceBaseline;
use crate::detect::{Engine, EngineConfig};
use crate::observe::{DeviceKey, UnixMs};

/// The first 8 bytes of a snapshot.
pub const MAGIC: [u8; 8] = *b"WRDNENG\0";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Longest IMSI (or device identifier) accepted in a record.
const MAX_IMSI: usize = 64;

/// Why a snapshot was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file has no bytes.
    #[error("the file is empty")]
    Empty,
    /// The file does not start with [`MAGIC`].
    #[error("not an engine snapshot (it does not start with the snapshot magic)")]
    NotASnapshot,
    /// Another version of the format.
    #[error("format version {found}; this build reads version {supported}")]
    Version {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends too early.
    #[error("truncated: the file ends inside {0}")]
    Truncated(String),
    /// A value no writer produces.
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// Where.
        what: String,
        /// What is wrong.
        why: String,
    },
    /// The content does not match its checksum.
    #[error("checksum mismatch: the content was altered after it was written")]
    Checksum,
    /// Bytes after the checksum.
    #[error("{0} unexpected bytes after the checksum")]
    TrailingBytes(u64),
    /// The file could not be read.
    #[error("read failed: {0}")]
    Io(String),
    /// A device was removed from the engine while its snapshot was being written (the snapshot is
    /// abandoned; the next one starts over).
    #[error("a device left the engine while the snapshot was being written")]
    DeviceGone,
}

/// A value could not be read; the caller says where.
#[derive(Debug)]
pub(crate) enum Short {
    /// End of input.
    Eof,
    /// Read error.
    Io(std::io::Error),
    /// A value out of its range.
    Bad(&'static str),
}

impl Short {
    fn at(self, what: impl FnOnce() -> String) -> SnapshotError {
        match self {
            Short::Eof => SnapshotError::Truncated(what()),
            Short::Io(e) => SnapshotError::Io(e.to_string()),
            Short::Bad(why) => SnapshotError::Corrupt { what: what(), why: why.to_string() },
        }
    }
}

/// Appends little-endian values.
pub(crate) struct Enc<'a>(pub &'a mut Vec<u8>);

impl Enc<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
}

/// Reads little-endian values, hashing every byte read.
pub(crate) struct Dec<R> {
    r: R,
    hasher: Sha256,
}

impl<R: Read> Dec<R> {
    fn new(r: R) -> Self {
        Self { r, hasher: Sha256::new() }
    }

    fn raw(&mut self, buf: &mut [u8]) -> Result<(), Short> {
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Short::Eof
            } else {
                Short::Io(e)
            }
        })
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut b = [0u8; N];
        self.raw(&mut b)?;
        self.hasher.update(b);
        Ok(b)
    }
    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.take::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    pub fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    /// A finite `f32` (no writer produces NaN or infinities).
    pub fn f32(&mut self) -> Result<f32, Short> {
        let v = f32::from_le_bytes(self.take()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Short::Bad("a statistic is not a finite number"))
        }
    }
    pub fn bool(&mut self) -> Result<bool, Short> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Short::Bad("a flag is neither 0 nor 1")),
        }
    }
    /// `len` bytes of UTF-8.
    fn string(&mut self, len: usize) -> Result<String, Short> {
        let mut b = vec![0u8; len];
        self.raw(&mut b)?;
        self.hasher.update(&b);
        String::from_utf8(b).map_err(|_| Short::Bad("a name is not UTF-8"))
    }
}

/// Hashes what is written through it and, at [`Sealer::finish`], appends the SHA-256 checksum.
pub struct Sealer<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Sealer<W> {
    /// Writes to `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: Sha256::new(), written: 0 }
    }

    /// Writes part of the snapshot (header or chunk).
    pub fn write_part(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    /// Appends the checksum; returns the writer and the total bytes written.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        let digest = self.hasher.finalize();
        self.inner.write_all(&digest)?;
        self.inner.flush()?;
        Ok((self.inner, self.written + digest.len() as u64))
    }
}

/// A snapshot being written: the devices as they were when it began, encoded a chunk at a time.
#[derive(Debug)]
pub struct SnapshotJob {
    keys: Vec<DeviceKey>,
    next: usize,
    strings: HashMap<Arc<str>, u32>,
}

impl SnapshotJob {
    /// Takes the device keys of `engine` and encodes the header, the strings and the cohorts into
    /// `out`. `saved_at` is recorded in the header (the newest observation time, say).
    pub fn begin(engine: &Engine, saved_at: UnixMs, out: &mut Vec<u8>) -> SnapshotJob {
        let keys: Vec<DeviceKey> = engine.device_keys().cloned().collect();
        let mut strings: HashMap<Arc<str>, u32> = HashMap::new();
        let mut order: Vec<Arc<str>> = Vec::new();
        for k in &keys {
            for s in [&k.tenant, &k.profile] {
                if !strings.contains_key(s) {
                    strings.insert(s.clone(), order.len() as u32);
                    order.push(s.clone());
                }
            }
        }
        let mut e = Enc(out);
        e.0.extend_from_slice(&MAGIC);
        e.u32(VERSION);
        e.u64(saved_at);
        e.u64(keys.len() as u64);
        e.u32(order.len() as u32);
        for s in &order {
            // Names longer than 65,535 bytes are cut at a character boundary (none are in practice).
            let mut end = s.len().min(usize::from(u16::MAX));
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            e.u16(end as u16);
            e.0.extend_from_slice(&s.as_bytes()[..end]);
        }
        let cohorts: Vec<(u64, &HashSet<u32>)> = engine.cohort_destinations().collect();
        e.u32(cohorts.len() as u32);
        for (key, set) in cohorts {
            e.u64(key);
            e.u32(set.len() as u32);
            for d in set {
                e.u32(*d);
            }
        }
        SnapshotJob { keys, next: 0, strings }
    }

    /// Devices in the snapshot.
    pub fn devices(&self) -> usize {
        self.keys.len()
    }

    /// Devices not encoded yet.
    pub fn remaining(&self) -> usize {
        self.keys.len() - self.next
    }

    /// Encodes up to `max_devices` more devices into `out`, each as it is in `engine` now; `Ok(true)`
    /// when every device is encoded. [`SnapshotError::DeviceGone`] when one was removed since
    /// [`SnapshotJob::begin`] (the header's count would be wrong: the snapshot must be abandoned).
    pub fn next_chunk(
        &mut self,
        engine: &Engine,
        max_devices: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, SnapshotError> {
        let end = self.keys.len().min(self.next.saturating_add(max_devices.max(1)));
        let mut e = Enc(out);
        for key in &self.keys[self.next..end] {
            let (baseline, last_window) = engine.device_state(key).ok_or(SnapshotError::DeviceGone)?;
            let mut imsi_len = key.imsi.len().min(MAX_IMSI);
            while !key.imsi.is_char_boundary(imsi_len) {
                imsi_len -= 1;
            }
            e.u8(imsi_len as u8);
            e.0.extend_from_slice(&key.imsi.as_bytes()[..imsi_len]);
            e.u32(self.strings[&key.tenant]);
            e.u32(self.strings[&key.profile]);
            for w in last_window {
                e.u32(*w);
            }
            baseline.encode(&mut e);
        }
        self.next = end;
        Ok(self.next == self.keys.len())
    }
}

/// Writes the whole snapshot of `engine` to `w` at once; returns the bytes written.
pub fn write<W: Write>(engine: &Engine, saved_at: UnixMs, w: W) -> std::io::Result<u64> {
    let mut buf = Vec::new();
    let mut job = SnapshotJob::begin(engine, saved_at, &mut buf);
    let mut sealer = Sealer::new(w);
    sealer.write_part(&buf)?;
    loop {
        buf.clear();
        let done = job.next_chunk(engine, 4096, &mut buf).map_err(std::io::Error::other)?;
        sealer.write_part(&buf)?;
        if done {
            break;
        }
    }
    Ok(sealer.finish()?.1)
}

/// A loaded snapshot.
#[derive(Debug)]
pub struct Loaded {
    /// The engine with every device and cohort of the snapshot (no intelligence, no allowlist).
    pub engine: Engine,
    /// The time the writer recorded in the header.
    pub saved_at: UnixMs,
}

/// Reads a snapshot into a new engine configured with `cfg`. See the module documentation.
pub fn read<R: Read>(r: R, cfg: EngineConfig) -> Result<Loaded, SnapshotError> {
    let mut d = Dec::new(r);
    let mut magic = [0u8; 8];
    let mut got = 0;
    while got < magic.len() {
        match d.r.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SnapshotError::Io(e.to_string())),
        }
    }
    if got == 0 {
        return Err(SnapshotError::Empty);
    }
    if magic[..got] != MAGIC[..got] {
        return Err(SnapshotError::NotASnapshot);
    }
    if got < magic.len() {
        return Err(SnapshotError::Truncated("the header".into()));
    }
    d.hasher.update(magic);
    let header = || "the header".to_string();
    let version = d.u32().map_err(|s| s.at(header))?;
    if version != VERSION {
        return Err(SnapshotError::Version { found: version, supported: VERSION });
    }
    let saved_at = d.u64().map_err(|s| s.at(header))?;
    let device_count = d.u64().map_err(|s| s.at(header))?;

    let string_count = d.u32().map_err(|s| s.at(header))?;
    let mut strings: Vec<Arc<str>> = Vec::with_capacity(string_count.min(1 << 16) as usize);
    for i in 0..string_count {
        let what = || format!("name {} of {string_count}", i + 1);
        let len = d.u16().map_err(|s| s.at(what))?;
        strings.push(d.string(usize::from(len)).map_err(|s| s.at(what))?.into());
    }

    let mut engine = Engine::new(cfg);
    let cohort_count = d.u32().map_err(|s| s.at(header))?;
    for i in 0..cohort_count {
        let what = || format!("cohort {} of {cohort_count}", i + 1);
        let key = d.u64().map_err(|s| s.at(what))?;
        let n = d.u32().map_err(|s| s.at(what))?;
        let mut set = HashSet::with_capacity(n.min(1 << 16) as usize);
        for _ in 0..n {
            set.insert(d.u32().map_err(|s| s.at(what))?);
        }
        if !engine.restore_cohort(key, set) {
            return Err(Short::Bad("the cohort appears twice").at(what));
        }
    }

    for i in 0..device_count {
        let what = || format!("device record {} of {device_count}", i + 1);
        let imsi_len = d.u8().map_err(|s| s.at(what))?;
        if imsi_len == 0 || usize::from(imsi_len) > MAX_IMSI {
            return Err(Short::Bad("the IMSI length is out of range").at(what));
        }
        let imsi = d.string(usize::from(imsi_len)).map_err(|s| s.at(what))?;
        let name = |d: &mut Dec<R>| -> Result<Arc<str>, Short> {
            let index = d.u32()?;
            strings.get(index as usize).cloned().ok_or(Short::Bad("a name index is out of range"))
        };
        let tenant = name(&mut d).map_err(|s| s.at(what))?;
        let profile = name(&mut d).map_err(|s| s.at(what))?;
        let mut last_window = [0u32; 8];
        for w in &mut last_window {
            *w = d.u32().map_err(|s| s.at(what))?;
        }
        let baseline = DeviceBaseline::decode(&mut d).map_err(|s| s.at(what))?;
        let key = DeviceKey { imsi: imsi.into(), tenant, profile };
        if !engine.restore_device(key, baseline, last_window) {
            return Err(Short::Bad("the device appears twice").at(what));
        }
    }

    let expected = d.hasher.finalize_reset();
    let mut stored = [0u8; 32];
    d.raw(&mut stored).map_err(|s| s.at(|| "the checksum".to_string()))?;
    if stored[..] != expected[..] {
        return Err(SnapshotError::Checksum);
    }
    let mut rest = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        match d.r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => rest += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SnapshotError::Io(e.to_string())),
        }
    }
    if rest > 0 {
        return Err(SnapshotError::TrailingBytes(rest));
    }
    Ok(Loaded { engine, saved_at })
}

#[cfg(test)]
mod tests;
