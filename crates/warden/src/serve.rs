//! `warden serve`: builds the [`App`] from the configuration and runs it until SIGINT or SIGTERM,
//! then shuts it down in order (see [`crate::app`]); the process exits 0 once every task has stopped.

use std::future::Future;

use crate::app::App;
use crate::config::Config;
use crate::error::ServeError;

/// Runs the server until a signal arrives.
pub async fn run(config: Config) -> Result<(), ServeError> {
    // The handlers first: a signal that arrives while the App is being built is not lost.
    let signal = shutdown_signal()?;
    if let Some(kek) = crate::storage::kek_beside_database(&config) {
        tracing::warn!(kek = %kek.display(), "the key-encryption key lies beside the database; see docs/operations.md");
        eprintln!(
            "warden: warning: the key-encryption key {} lies beside the database: a copy of that directory \
             holds the subscriber keys and the key that opens them. Move it (keys.kek_file elsewhere, \
             keys.kek_env or a systemd credential; docs/operations.md).",
            kek.display()
        );
    }
    App::build(config).await?.run(signal).await
}

/// Resolves on SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl Future<Output = ()>, ServeError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handler = |kind, name| signal(kind).map_err(|source| ServeError::Signal { signal: name, source });
        let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
        let mut int = handler(SignalKind::interrupt(), "SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
