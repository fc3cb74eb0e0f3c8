//! The analytics engine's state across restarts, and its retention, on the engine thread.
//!
//! - **Snapshots** ([`analytics::snapshot`]): loaded at start from `[analytics] state_file` (default
//!   `<data_dir>/analytics/engine.snapshot`); written every `snapshot_minutes` (default 15; 0: never
//!   written nor loaded) and at graceful shutdown. A snapshot is written to `<file>.tmp` (mode 0600,
//!   directory 0700), synced, renamed over the file and the directory synced: a crash mid-write
//!   leaves the previous snapshot in place. The engine thread encodes [`CHUNK_DEVICES`] devices at a
//!   time, at most one chunk every [`CHUNK_EVERY`], and hands the bytes to a writer thread that hashes
//!   and writes them, so the engine goes on with its observations in between. A file that cannot be
//!   loaded (truncated, corrupt, another version) is logged with the reason, renamed to `<file>.bad`,
//!   and the engine starts empty.
//! - **Retention**: every hour, devices not seen for `device_idle_days` (default 30; 0: never) are
//!   forgotten ([`Engine::forget_idle`]), counted in `warden_analytics_devices_forgotten_total`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use analytics::snapshot::{Sealer, SnapshotJob};
use analytics::{Engine, EngineConfig};

/// Devices forgotten because they were idle for `device_idle_days`.
pub const DEVICES_FORGOTTEN: &str = "warden_analytics_devices_forgotten_total";

/// Devices encoded per step of a snapshot.
pub const CHUNK_DEVICES: usize = 1024;
/// At most one step of a snapshot per this interval (the engine's other work goes on between).
pub const CHUNK_EVERY: Duration = Duration::from_millis(10);
/// How often idle devices are looked for.
const FORGET_EVERY: Duration = Duration::from_secs(3600);
const DAY_MS: u64 = 24 * 3_600_000;

/// The snapshot file: `state_file`, or `<data_dir>/analytics/engine.snapshot`; `None` when
/// `snapshot_minutes` is 0.
pub fn state_path(state_file: Option<&Path>, snapshot_minutes: u64, data_dir: &Path) -> Option<PathBuf> {
    (snapshot_minutes > 0)
        .then(|| state_file.map_or_else(|| data_dir.join("analytics").join("engine.snapshot"), Path::to_path_buf))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The engine of the snapshot at `path`, or `None` (no file, or a file that cannot be loaded: it is
/// renamed to `<path>.bad` with a warning saying why). Never fails the start.
pub fn load(path: &Path, cfg: EngineConfig) -> Option<Engine> {
    let started = Instant::now();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(path = %path.display(), "analytics: no engine snapshot; every device starts learning");
            return None;
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "analytics: engine snapshot not readable; starting empty");
            return None;
        }
    };
    match analytics::snapshot::read(std::io::BufReader::with_capacity(1 << 20, file), cfg) {
        Ok(loaded) => {
            tracing::info!(
                path = %path.display(),
                devices = loaded.engine.device_count(),
                saved_at_ms = loaded.saved_at,
                took_ms = started.elapsed().as_millis() as u64,
                "analytics: engine state loaded"
            );
            eprintln!("warden: analytics engine state loaded ({} devices)", loaded.engine.device_count());
            Some(loaded.engine)
        }
        Err(reason) => {
            let bad = with_suffix(path, ".bad");
            let renamed = std::fs::rename(path, &bad);
            tracing::warn!(
                path = %path.display(),
                %reason,
                moved_to = %bad.display(),
                rename_error = renamed.err().map(|e| e.to_string()),
                "analytics: engine snapshot not loaded; every device starts learning"
            );
            eprintln!("warden: analytics engine snapshot {} not loaded: {reason}", path.display());
            None
        }
    }
}

/// What the engine thread sends the writer thread.
enum Part {
    Bytes(Vec<u8>),
    Done,
}

/// Writes one snapshot to `<path>.tmp` from the parts received, then syncs and renames it over
/// `path`. Any failure or a closed channel removes the temporary file. Returns the bytes written.
fn write_file(path: &Path, parts: Receiver<Part>) -> std::io::Result<u64> {
    let tmp = with_suffix(path, ".tmp");
    let result = (|| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::storage::private_dir(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&tmp)?;
        let mut sealer = Sealer::new(std::io::BufWriter::with_capacity(1 << 20, file));
        loop {
            match parts.recv() {
                Ok(Part::Bytes(b)) => sealer.write_part(&b)?,
                Ok(Part::Done) => break,
                Err(_) => return Err(std::io::Error::other("snapshot abandoned")),
            }
        }
        let (w, bytes) = sealer.finish()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A snapshot being written.
struct Writing {
    job: SnapshotJob,
    parts: SyncSender<Part>,
    /// Bytes encoded that the writer could not take yet.
    pending: Option<Vec<u8>>,
    encoded_all: bool,
    /// `Done` was handed to the writer.
    done_sent: bool,
    last_step: Instant,
    started: Instant,
    /// Time the engine thread spent encoding.
    busy: Duration,
    result: Receiver<std::io::Result<u64>>,
}

impl Writing {
    /// Takes the device keys, encodes the header and starts the writer thread.
    fn begin(engine: &Engine, saved_at: u64, path: &Path) -> std::io::Result<Writing> {
        let started = Instant::now();
        let mut header = Vec::new();
        let job = SnapshotJob::begin(engine, saved_at, &mut header);
        let (parts, rx) = sync_channel(4);
        let (done, result) = sync_channel(1);
        let path = path.to_path_buf();
        std::thread::Builder::new().name("analytics-snapshot".into()).spawn(move || {
            let _ = done.send(write_file(&path, rx));
        })?;
        let _ = parts.send(Part::Bytes(header));
        Ok(Writing {
            job,
            parts,
            pending: None,
            encoded_all: false,
            done_sent: false,
            last_step: started,
            started,
            busy: started.elapsed(),
            result,
        })
    }

    /// One step: hands over what is pending, or encodes the next chunk. Never waits for the writer.
    /// `Err` when the snapshot must be abandoned.
    fn step(&mut self, engine: &Engine) -> Result<(), String> {
        let t = Instant::now();
        if self.pending.is_none() && !self.encoded_all {
            let mut buf = Vec::with_capacity(CHUNK_DEVICES * 512);
            self.encoded_all = self.job.next_chunk(engine, CHUNK_DEVICES, &mut buf).map_err(|e| e.to_string())?;
            self.pending = Some(buf);
        }
        if let Some(buf) = self.pending.take() {
            match self.parts.try_send(Part::Bytes(buf)) {
                Ok(()) => {}
                Err(TrySendError::Full(Part::Bytes(buf))) => self.pending = Some(buf),
                Err(_) => return Err("the snapshot writer stopped".into()),
            }
        }
        if self.encoded_all && self.pending.is_none() && !self.done_sent {
            match self.parts.try_send(Part::Done) {
                Ok(()) => self.done_sent = true,
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return Err("the snapshot writer stopped".into()),
            }
        }
        self.busy += t.elapsed();
        self.last_step = Instant::now();
        Ok(())
    }

    /// Whether everything was handed to the writer (`Done` included).
    fn handed_over(&self) -> bool {
        self.done_sent
    }

    /// Writes the rest at once, waiting for the writer (at shutdown); the bytes written.
    fn finish(mut self, engine: &Engine) -> Result<(u64, Duration), String> {
        loop {
            if let Some(buf) = self.pending.take() {
                self.parts.send(Part::Bytes(buf)).map_err(|_| "the snapshot writer stopped".to_string())?;
            }
            if self.encoded_all {
                break;
            }
            let mut buf = Vec::with_capacity(CHUNK_DEVICES * 512);
            self.encoded_all = self.job.next_chunk(engine, CHUNK_DEVICES, &mut buf).map_err(|e| e.to_string())?;
            self.pending = Some(buf);
        }
        if !self.done_sent {
            self.parts.send(Part::Done).map_err(|_| "the snapshot writer stopped".to_string())?;
        }
        let bytes = self.result.recv().map_err(|_| "the snapshot writer stopped".to_string())?;
        bytes.map(|b| (b, self.busy)).map_err(|e| e.to_string())
    }
}

/// The engine thread's periodic work besides observations: snapshots and forgetting idle devices.
pub struct Upkeep {
    path: Option<PathBuf>,
    every: Duration,
    next_snapshot: Instant,
    writing: Option<Writing>,
    idle_ms: Option<u64>,
    next_forget: Instant,
}

impl Upkeep {
    /// Snapshots to `path` every `every` (none without a path); devices idle for `idle_days`
    /// forgotten every hour (0: never). The first of each is one period after `now`.
    pub fn new(path: Option<PathBuf>, every: Duration, idle_days: u64, now: Instant) -> Self {
        Self {
            path,
            every,
            next_snapshot: now + every,
            writing: None,
            idle_ms: (idle_days > 0).then(|| idle_days.saturating_mul(DAY_MS)),
            next_forget: now + FORGET_EVERY,
        }
    }

    /// Runs what is due at `now` (monotonic) and `wall_ms` (unix ms, for idleness); `latest` is the
    /// newest observation time, recorded in snapshots. Returns the devices forgotten.
    pub fn tick(&mut self, engine: &mut Engine, now: Instant, wall_ms: u64, latest: u64) -> usize {
        let mut forgotten = 0;
        // A snapshot in progress holds the device keys: devices are forgotten between snapshots.
        if now >= self.next_forget && self.writing.is_none() {
            self.next_forget = now + FORGET_EVERY;
            forgotten = self.forget(engine, wall_ms);
        }
        if let Some(path) = &self.path {
            if self.writing.is_none() && now >= self.next_snapshot {
                self.next_snapshot = now + self.every;
                match Writing::begin(engine, latest, path) {
                    Ok(w) => self.writing = Some(w),
                    Err(e) => tracing::warn!(error = %e, "analytics: engine snapshot not started"),
                }
            }
        }
        self.step(engine, now);
        forgotten
    }

    /// Forgets the devices not seen for the idle period before `wall_ms`; how many.
    pub fn forget(&mut self, engine: &mut Engine, wall_ms: u64) -> usize {
        let Some(idle) = self.idle_ms else { return 0 };
        let n = engine.forget_idle(wall_ms.saturating_sub(idle));
        if n > 0 {
            metrics::counter!(DEVICES_FORGOTTEN).increment(n as u64);
            metrics::gauge!(crate::analytics_run::DEVICES).set(engine.device_count() as f64);
            tracing::info!(forgotten = n, devices = engine.device_count(), "analytics: idle devices forgotten");
        }
        n
    }

    fn step(&mut self, engine: &Engine, now: Instant) {
        let Some(w) = &mut self.writing else { return };
        if !w.handed_over() && now.duration_since(w.last_step) >= CHUNK_EVERY {
            if let Err(e) = w.step(engine) {
                tracing::warn!(error = %e, "analytics: engine snapshot abandoned; the next one starts over");
                self.writing = None;
                return;
            }
        }
        if w.handed_over() {
            match w.result.try_recv() {
                Ok(r) => {
                    report(r.map(|b| (b, w.busy)).map_err(|e| e.to_string()), w.job.devices(), w.started);
                    self.writing = None;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.writing = None,
            }
        }
    }

    /// At shutdown: the snapshot in progress is finished, or a new one written, waiting for it.
    pub fn final_snapshot(&mut self, engine: &Engine, latest: u64) {
        let Some(path) = &self.path else { return };
        let writing = match self.writing.take() {
            Some(w) => Ok(w),
            None => Writing::begin(engine, latest, path),
        };
        let started = Instant::now();
        match writing {
            Ok(w) => {
                let devices = w.job.devices();
                report(w.finish(engine), devices, started);
            }
            Err(e) => tracing::warn!(error = %e, "analytics: engine snapshot at shutdown not written"),
        }
    }

    /// Runs the snapshot in progress to its end (tests).
    #[cfg(test)]
    fn wait_idle(&mut self, engine: &Engine) {
        while let Some(w) = &mut self.writing {
            w.last_step = Instant::now() - CHUNK_EVERY;
            self.step(engine, Instant::now());
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn report(result: Result<(u64, Duration), String>, devices: usize, started: Instant) {
    match result {
        Ok((bytes, busy)) => tracing::info!(
            devices,
            bytes,
            engine_ms = busy.as_millis() as u64,
            took_ms = started.elapsed().as_millis() as u64,
            "analytics: engine snapshot written"
        ),
        Err(e) => tracing::warn!(error = %e, "analytics: engine snapshot not written"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics::observe::proto;
    use analytics::{DeviceKey, FlowObservation};

    const T0: u64 = 1_767_225_600_000;

    fn observe(e: &mut Engine, imsi: &str, at: u64) {
        let f = FlowObservation {
            at,
            device: DeviceKey::new(imsi, "acme", "meter"),
            remote: "198.51.100.10".parse().unwrap(),
            remote_port: 443,
            proto: proto::TCP,
            octets_up: 100,
            octets_down: 100,
            packets: 2,
        };
        e.observe_flow(&f, &mut Vec::new());
    }

    #[test]
    fn idle_devices_are_forgotten_every_hour_from_the_engine_loop() {
        let mut e = Engine::new(EngineConfig::default());
        observe(&mut e, "001010000000001", T0);
        observe(&mut e, "001010000000002", T0 + 20 * DAY_MS);
        let start = Instant::now();
        let mut upkeep = Upkeep::new(None, Duration::from_secs(900), 30, start);
        let wall = T0 + 31 * DAY_MS;
        assert_eq!(upkeep.tick(&mut e, start + Duration::from_secs(60), wall, 0), 0, "not due yet");
        assert_eq!(e.device_count(), 2);
        assert_eq!(upkeep.tick(&mut e, start + FORGET_EVERY, wall, 0), 1);
        assert_eq!(e.device_count(), 1);
        assert_eq!(upkeep.tick(&mut e, start + FORGET_EVERY + Duration::from_secs(60), wall + 30 * DAY_MS, 0), 0);
        assert_eq!(upkeep.tick(&mut e, start + 2 * FORGET_EVERY, wall + 30 * DAY_MS, 0), 1);
        assert_eq!(e.device_count(), 0);
        // 0 days: never.
        observe(&mut e, "001010000000003", T0);
        let mut never = Upkeep::new(None, Duration::from_secs(900), 0, start);
        assert_eq!(never.tick(&mut e, start + 10 * FORGET_EVERY, u64::MAX, 0), 0);
        assert_eq!(e.device_count(), 1);
    }

    #[test]
    fn snapshots_are_written_privately_and_whole_and_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(None, 15, &dir.path().join("data")).unwrap();
        assert_eq!(path, dir.path().join("data/analytics/engine.snapshot"));
        assert_eq!(state_path(Some(Path::new("/x/y")), 15, dir.path()).unwrap(), Path::new("/x/y"));
        assert_eq!(state_path(None, 0, dir.path()), None);
        let mut e = Engine::new(EngineConfig::default());
        for i in 0..10_000u64 {
            observe(&mut e, &format!("00101{i:010}"), T0 + i);
        }
        let start = Instant::now();
        let mut upkeep = Upkeep::new(Some(path.clone()), Duration::from_secs(900), 30, start);
        upkeep.tick(&mut e, start + Duration::from_secs(900), T0, T0 + 9_999);
        assert!(upkeep.writing.is_some(), "due");
        // The engine goes on while the snapshot is written.
        observe(&mut e, "001019999999999", T0 + 20_000);
        upkeep.wait_idle(&e);
        assert!(path.exists());
        assert!(!with_suffix(&path, ".tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        assert_eq!(load(&path, EngineConfig::default()).unwrap().device_count(), 10_000);
        // At shutdown: everything, the newest device included.
        upkeep.final_snapshot(&e, T0 + 20_000);
        assert_eq!(load(&path, EngineConfig::default()).unwrap().device_count(), 10_001);
    }

    #[test]
    fn a_damaged_snapshot_is_moved_aside_and_the_engine_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.snapshot");
        assert!(load(&path, EngineConfig::default()).is_none(), "no file");
        let mut e = Engine::new(EngineConfig::default());
        observe(&mut e, "001010000000001", T0);
        let mut bytes = Vec::new();
        analytics::snapshot::write(&e, T0, &mut bytes).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
        assert!(load(&path, EngineConfig::default()).is_none());
        assert!(!path.exists());
        assert_eq!(std::fs::read(with_suffix(&path, ".bad")).unwrap().len(), bytes.len() - 7);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(load(&path, EngineConfig::default()).unwrap().device_count(), 1);
        // A write that fails (its directory is a file) leaves the previous snapshot alone.
        let blocked = dir.path().join("engine.snapshot").join("x");
        let mut upkeep = Upkeep::new(Some(blocked), Duration::from_secs(1), 0, Instant::now());
        upkeep.final_snapshot(&e, T0);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
