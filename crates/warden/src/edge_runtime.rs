//! The platform API runs on a runtime of its own, apart from the one that serves Diameter, and its
//! threads run at a lower CPU priority (nice +10 on Linux). Signalling is the service the devices
//! depend on; the management plane is not. A flood of HTTP requests or of logins (argon2id costs
//! tens of milliseconds per attempt) then takes the CPU only when the HSS leaves it idle, and it
//! cannot hold the workers that answer AIRs and ULRs. The API's blocking pool, where passwords are
//! hashed, belongs to this runtime too.

use crate::error::ServeError;

/// How much lower the API's threads run (the nice increment; raising it needs no privilege).
pub const NICE: i32 = 10;

/// The platform's runtime: half the cores (at least one) as workers, threads named `warden-api`.
/// Shut down without waiting when dropped (its tasks have ended by then: the App stops them first).
pub struct EdgeRuntime(Option<tokio::runtime::Runtime>);

impl EdgeRuntime {
    /// Builds the runtime.
    pub fn new() -> Result<Self, ServeError> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("warden-api")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        Ok(EdgeRuntime(Some(rt)))
    }

    /// Where to spawn the platform's tasks.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for EdgeRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Lowers the calling thread's CPU priority by [`NICE`] (Linux: the nice value is per thread).
fn lower_priority() {
    // Relative to the thread's own value (inherited from the process): a server started at nice 5
    // runs its API at 15, and one started at 19 keeps 19 — never higher than the Diameter threads,
    // which setting the absolute value would do with the privilege to raise it.
    #[cfg(target_os = "linux")]
    {
        let me = Some(rustix::thread::gettid());
        let lowered = rustix::process::getpriority_process(me)
            .and_then(|now| rustix::process::setpriority_process(me, (now + NICE).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "could not lower the API thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn api_threads_run_at_a_lower_priority_than_the_diameter_ones() {
        let rt = EdgeRuntime::new().unwrap();
        let mine = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let blocking = rt
            .handle()
            .block_on(
                rt.handle()
                    .spawn_blocking(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()),
            )
            .unwrap();
        let worker = rt
            .handle()
            .block_on(
                rt.handle()
                    .spawn(async { rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap() }),
            )
            .unwrap();
        assert_eq!(worker, (mine + NICE).min(19), "workers");
        assert_eq!(blocking, (mine + NICE).min(19), "the blocking pool (password hashing)");
    }
}
