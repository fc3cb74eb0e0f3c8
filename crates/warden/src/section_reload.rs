//! Reloading one section of the configuration file on every SIGHUP (the roaming firewall's
//! `[firewall]`, the GTP-C firewall's `[gtp]`): the file is read again, the section handed to the
//! component, and the outcome written to standard error; a refused reload leaves the rules unchanged.

use std::fmt::Display;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Reloads `[section]` (picked out of the file by `pick`) into `apply` on every SIGHUP until `stop`.
#[cfg(unix)]
pub async fn on_hangup<T, E: Display>(
    section: &'static str,
    pick: impl Fn(Config) -> Option<T>,
    apply: impl Fn(T) -> Result<(), E>,
    path: PathBuf,
    mut hup: tokio::signal::unix::Signal,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            _ = stop.cancelled() => return,
        }
        match Config::load(Some(&path)).map(&pick) {
            Ok(Some(new)) => match apply(new) {
                Ok(()) => eprintln!("warden: [{section}] rules reloaded from {}", path.display()),
                Err(e) => eprintln!("warden: [{section}] reload refused, rules unchanged: {e}"),
            },
            Ok(None) => eprintln!("warden: [{section}] removed from {}; restart to stop it", path.display()),
            Err(e) => eprintln!("warden: [{section}] reload refused, rules unchanged: {e}"),
        }
    }
}
