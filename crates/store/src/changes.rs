//! Changes announced by the database (PostgreSQL `LISTEN/NOTIFY`), so that every instance on one
//! database sees a change made by any other within milliseconds instead of at its next poll.
//!
//! The announcements come from triggers (migration 0010): a SIM's cached data changed
//! (`warden_cache`, `sim:<imsi>`), a profile changed (`profile:<name>`), a notification was queued
//! for a serving node (`warden_outbox`, the node). They are sent when the writing transaction
//! commits, whoever wrote. When the listening connection is lost, notifications sent meanwhile are
//! lost too: the feed then listens again and reports [`Change::Resync`] (as it does when it starts),
//! and the listener must assume that anything changed.

use sqlx::postgres::PgListener;

use crate::db::{Backend, Store};
use crate::error::Result;
use ids::Imsi;

/// Channel of cache announcements.
pub const CACHE_CHANNEL: &str = "warden_cache";
/// Channel of outbox announcements.
pub const OUTBOX_CHANNEL: &str = "warden_outbox";

/// One announced change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A SIM's data (status, profile, keys, priority, bound IMEIs, barring) changed or it was deleted.
    Sim(Imsi),
    /// A service profile changed, was created or deleted.
    Profile(String),
    /// SIMs were created (one announcement per statement).
    SimsInserted,
    /// A CLR/IDR was queued for this serving node (lower case).
    Outbox(String),
    /// The feed (re)connected: announcements may have been missed; drop everything cached.
    Resync,
}

impl Change {
    /// Parses a notification; `None` for one this version does not know.
    pub fn parse(channel: &str, payload: &str) -> Option<Change> {
        match channel {
            CACHE_CHANNEL => {
                let (kind, key) = payload.split_once(':')?;
                match kind {
                    "sims" if key == "inserted" => Some(Change::SimsInserted),
                    "sim" => key.parse().ok().map(Change::Sim),
                    "profile" => Some(Change::Profile(key.to_string())),
                    _ => None,
                }
            }
            OUTBOX_CHANNEL => Some(Change::Outbox(payload.to_ascii_lowercase())),
            _ => None,
        }
    }
}

/// The announcements of one database.
pub struct ChangeFeed {
    listener: PgListener,
    url: String,
    /// A [`Change::Resync`] is due (at start, and after a lost connection).
    resync: bool,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish()
    }
}

impl ChangeFeed {
    /// The next change. Never fails: when the connection is lost, a new one is opened (every second
    /// until it listens again) and [`Change::Resync`] is reported once it listens — so nothing
    /// committed after the resynchronisation can be missed.
    pub async fn next(&mut self) -> Change {
        loop {
            if self.resync {
                self.resync = false;
                return Change::Resync;
            }
            match self.listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(c) = Change::parse(n.channel(), n.payload()) {
                        return c;
                    }
                }
                Ok(None) | Err(_) => {
                    tracing::warn!("change feed: connection to the database lost; listening again");
                    self.listener = listen_until_ready(&self.url).await;
                    self.resync = true;
                }
            }
        }
    }
}

/// A listener on Warden's channels, retried every second until the database answers.
async fn listen_until_ready(url: &str) -> PgListener {
    loop {
        match listen(url).await {
            Ok(l) => return l,
            Err(e) => {
                tracing::warn!(error = %e, "change feed: cannot listen yet; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen(url: &str) -> Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen_all([CACHE_CHANNEL, OUTBOX_CHANNEL]).await?;
    Ok(listener)
}

impl Store {
    /// The change feed, on PostgreSQL; `None` on SQLite (one instance, which polls its outbox).
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        // Listening starts with a resynchronisation: whatever was cached before it may be stale.
        let listener = listen(self.url()).await?;
        Ok(Some(ChangeFeed { listener, url: self.url().to_string(), resync: true }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            Change::parse(CACHE_CHANNEL, "sim:001010000000001"),
            Some(Change::Sim("001010000000001".parse().unwrap()))
        );
        assert_eq!(Change::parse(CACHE_CHANNEL, "profile:iot"), Some(Change::Profile("iot".into())));
        assert_eq!(Change::parse(OUTBOX_CHANNEL, "MME1.Example"), Some(Change::Outbox("mme1.example".into())));
        assert_eq!(Change::parse(CACHE_CHANNEL, "sim:not-an-imsi"), None);
        assert_eq!(Change::parse(CACHE_CHANNEL, "unknown:x"), None);
        assert_eq!(Change::parse(CACHE_CHANNEL, "sims:inserted"), Some(Change::SimsInserted));
        assert_eq!(Change::parse("other", "sim:001010000000001"), None);
    }
}
