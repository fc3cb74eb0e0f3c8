//! Pushing policy changes to the PCEF: RAR with the rule difference (TS 29.212 §4.5.2, §5.6.4),
//! session release (RAR with Session-Release-Cause, §4.5.? PCRF-initiated IP-CAN session
//! termination, or ASR), retries, and the fail-safe when a change cannot be delivered (what the
//! PCEF does not confirm stays pending: [`crate::retry`]).

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cmp::events::EventKind;
use cmp::traffic::Access;
use diameter::dictionary::app;
use diameter::result_code as rc;
use diameter::transport::RequestError;
use diameter::{avp, Command, Message};
use ids::Imsi;
use store::model::Priority;
use store::traffic::GxChange;

use crate::retry::Owed;
use crate::rules::{self, Diff};
use crate::session::Resolved;
use crate::{bump, lock, qos, Pcrf, Release, Subscriber};

/// Re-Auth-Request-Type AUTHORIZE_ONLY (RFC 6733 §8.12).
const AUTHORIZE_ONLY: u32 = 0;
/// Session-Release-Cause UE_SUBSCRIPTION_REASON (TS 29.212 §5.3.44).
const UE_SUBSCRIPTION_REASON: u32 = 1;
/// DNS-resolved rules live at least this long (a TTL of 0 still lets the device connect).
const MIN_HOST_TTL: Duration = Duration::from_secs(5);
/// ... and at most this long.
const MAX_HOST_TTL: Duration = Duration::from_secs(86_400);
/// How often expired DNS-resolved rules are looked for.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Sessions checked per slice when a PCEF connects ([`Pcrf::resync_host`]).
const RESYNC_SLICE: usize = 256;
/// How long a released session waits for the PCEF's CCR-T before it is forgotten.
const RELEASE_GRACE: Duration = Duration::from_secs(30);

/// Where a session's requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub session: String,
    pub host: String,
    pub realm: String,
}

enum Plan {
    Change { imsi: Imsi, target: Target, diff: Diff, names: Vec<String> },
    Release { imsi: Imsi, target: Target, reason: &'static str },
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Answered(u32),
    Failed,
}

/// Looks for expired DNS-resolved rules every [`SWEEP_EVERY`] and pushes their removal; ends with
/// the PCRF.
pub(crate) async fn sweep(me: Weak<Pcrf>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pcrf) = me.upgrade() else { return };
        let now = Instant::now();
        pcrf.retry_due(now);
        pcrf.flush_usage(true);
        // Only the SIMs that were given DNS-resolved rules are looked at (a scan of every session,
        // under the sessions lock, twice a second, held up the CCRs behind it). An expired rule on a
        // session whose PCEF has no connection here is not pushed (it could not be delivered, and
        // it would be found again every sweep until the PCEF is back): its host is marked as having
        // missed a change, so that it is brought up to date when it connects.
        let reachable = pcrf.reachable_hosts();
        let mut unreachable = std::collections::HashSet::new();
        let due: Vec<Imsi> = {
            let mut sessions = lock(&pcrf.sessions);
            let sims: Vec<Imsi> = sessions.resolved.iter().cloned().collect();
            let mut due = Vec::new();
            for imsi in sims {
                let (mut any, mut expired) = (false, false);
                for id in sessions.of_imsi(&imsi) {
                    if let Some(s) = sessions.get(&id).filter(|s| !s.releasing && !s.hosts.is_empty()) {
                        any = true;
                        if s.hosts.iter().any(|h| h.until <= now) {
                            let host = s.pcef_host.to_ascii_lowercase();
                            if reachable.contains(&host) {
                                expired = true;
                            } else {
                                unreachable.insert(host);
                            }
                        }
                    }
                }
                if expired {
                    due.push(imsi.clone());
                }
                if !any {
                    sessions.resolved.remove(&imsi);
                }
            }
            due
        };
        if !unreachable.is_empty() {
            pcrf.missed_by(unreachable);
        }
        for imsi in due {
            bump(&pcrf.counters.expiry_pushes);
            pcrf.spawn_push(imsi, false);
        }
    }
}

impl Pcrf {
    /// A SIM's own policy changed (allowlist overrides, quarantine): its sessions get the new rules
    /// by RAR, or are released when it is blocked.
    pub fn policy_changed(&self, imsi: &Imsi) {
        self.invalidate();
        self.spawn_push(imsi.clone(), true);
    }

    /// A SIM's status, profile or barring changed: as [`Pcrf::policy_changed`].
    pub fn sim_changed(&self, imsi: &Imsi) {
        self.invalidate();
        self.spawn_push(imsi.clone(), true);
    }

    /// A profile changed: every session of a SIM with that profile is re-evaluated.
    pub fn profile_changed(&self, profile: &str) {
        self.invalidate();
        let with_sessions: std::collections::HashSet<Imsi> = lock(&self.sessions).imsis().into_iter().collect();
        let mut affected = Vec::new();
        lock(&self.cache).retain(|imsi, s| {
            if s.profile_name.as_deref() != Some(profile) {
                return true;
            }
            if with_sessions.contains(imsi) {
                affected.push(imsi.clone());
                true
            } else {
                false
            }
        });
        for imsi in affected {
            self.spawn_push(imsi, true);
        }
    }

    /// The DNS firewall resolved `name`, allowlisted, to `addrs` for `imsi`: each address becomes a
    /// host rule of that SIM's sessions (pushed by RAR at once) until `ttl` has passed (then removed
    /// by RAR), and as long as the SIM's policy allows `name` (a policy change that no longer does
    /// removes it; one that still does keeps it). Nothing is added when the policy known now does
    /// not allow `name`. At most `max_dynamic_per_session` per session; those expiring first give way.
    pub fn allow_resolved(&self, imsi: &Imsi, name: &str, addrs: &[IpAddr], ttl: Duration) {
        if !self.may_resolve(imsi, name) {
            return;
        }
        let until = Instant::now() + ttl.clamp(MIN_HOST_TTL, MAX_HOST_TTL);
        let name: Arc<str> = Arc::from(name);
        let max = self.config.max_dynamic_per_session;
        let mut changed = false;
        {
            let mut sessions = lock(&self.sessions);
            for id in sessions.of_imsi(imsi) {
                let Some(s) = sessions.get_mut(&id).filter(|s| !s.releasing) else { continue };
                for a in addrs {
                    match s.hosts.iter_mut().find(|h| h.ip == *a) {
                        Some(h) => {
                            h.until = h.until.max(until);
                            h.name = name.clone();
                        }
                        None => {
                            s.hosts.push(Resolved { ip: *a, until, name: name.clone() });
                            changed = true;
                        }
                    }
                }
                if s.hosts.len() > max {
                    s.hosts.sort_by_key(|h| std::cmp::Reverse(h.until));
                    s.hosts.truncate(max);
                }
            }
            // Looked at by the sweep until none of its sessions has such a rule left.
            if changed {
                sessions.resolved.insert(imsi.clone());
            }
        }
        if changed {
            // The push takes the policy of now (read again if a change was announced since the
            // check above), which drops the new hosts if it no longer allows `name`.
            self.spawn_push(imsi.clone(), false);
        }
    }

    /// Brings every session of the PCEF `host` (lower case) to its policy as it is now, when that
    /// PCEF connects. A session whose rules are those its SIM's cached policy gives a new session
    /// (no DNS-resolved hosts, the same rule names) is left as it is, checked without compiling
    /// anything; every other SIM gets a push ([`Pcrf::push`]: the full plan, RAR where it differs).
    /// The sessions are checked [`RESYNC_SLICE`] at a time with a yield between slices, so that a
    /// reconnect of a PCEF with a hundred thousand sessions does not hold up the CCRs arriving on
    /// the same workers (it did: one push task per SIM, each compiling the rules of all its
    /// sessions, was a burst of seconds of CPU at every reconnect).
    pub(crate) async fn resync_host(&self, host: &str) {
        // The host's sessions from its index (a scan of every session here, under the lock, was
        // the first second's burst of slow answers at each reconnect); those being released are
        // skipped by `not_current`.
        let ids: Vec<Arc<str>> = lock(&self.sessions).of_pcef(host);
        let mut todo: Vec<Imsi> = Vec::new();
        for slice in ids.chunks(RESYNC_SLICE) {
            self.not_current(slice, &mut todo);
            tokio::task::yield_now().await;
        }
        todo.sort();
        todo.dedup();
        for imsi in todo {
            self.spawn_push(imsi, false);
        }
    }

    /// Adds to `todo` the SIM of every session of `ids` that may not be at its policy: one whose SIM
    /// has no current cached policy, is blocked, has DNS-resolved hosts, or whose rule names are not
    /// those the cached policy gives a new session under its bearer QoS.
    fn not_current(&self, ids: &[Arc<str>], todo: &mut Vec<Imsi>) {
        let imsis: Vec<Option<Imsi>> = {
            let sessions = lock(&self.sessions);
            ids.iter().map(|id| sessions.get(id).map(|s| s.imsi.clone())).collect()
        };
        let epoch = self.epoch();
        let subs: Vec<Option<Arc<Subscriber>>> = {
            let cache = lock(&self.cache);
            imsis
                .iter()
                .map(|i| {
                    let sub = cache.get(i.as_ref()?)?;
                    (sub.epoch == epoch && sub.loaded.elapsed() < crate::CACHE_TTL).then(|| sub.clone())
                })
                .collect()
        };
        let sessions = lock(&self.sessions);
        for ((id, imsi), sub) in ids.iter().zip(imsis).zip(subs) {
            let (Some(imsi), Some(s)) = (imsi, sessions.get(id)) else { continue };
            if s.releasing {
                continue;
            }
            let current = sub.is_some_and(|sub| {
                sub.policy.traffic != Access::Blocked && s.hosts.is_empty() && {
                    let qos = qos::bearer_qos(sub.priority, sub.profile.as_deref(), &s.apn);
                    let names = &sub.session_rules(&qos, &self.config.dns_servers).names;
                    names.len() == s.rules.len() && names.iter().all(|n| s.rules.contains(n))
                }
            });
            if !current {
                todo.push(imsi);
            }
        }
    }

    /// Re-evaluates a SIM's sessions in the background (tracked for [`Pcrf::settle`]).
    /// The PCEF hosts (lower case) with an open connection here.
    fn reachable_hosts(&self) -> std::collections::HashSet<String> {
        let peers = lock(&self.peers);
        peers.live.iter().filter(|(_, v)| v.iter().any(|p| p.is_open())).map(|(h, _)| h.clone()).collect()
    }

    pub(crate) fn spawn_push(&self, imsi: Imsi, reload: bool) {
        let Some(me) = self.me.upgrade() else { return };
        self.tasks.spawn(async move { me.push(&imsi, reload).await });
    }

    fn imsi_lock(&self, imsi: &Imsi) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.imsi_locks).entry(imsi.clone()).or_default().clone()
    }

    /// Brings every session of `imsi` to its policy (read again from the store when `reload`, which
    /// also drops the DNS-resolved rules of the previous policy).
    pub(crate) async fn push(&self, imsi: &Imsi, reload: bool) {
        let guard_lock = self.imsi_lock(imsi);
        {
            let _guard = guard_lock.lock().await;
            match self.subscriber(imsi, reload).await {
                Ok(sub) => {
                    for plan in self.plans(imsi, sub.as_deref()) {
                        self.carry_out(plan, sub.as_deref()).await;
                    }
                }
                Err(e) => tracing::warn!(%imsi, error = %e, "policy could not be read; sessions unchanged"),
            }
        }
        let mut locks = lock(&self.imsi_locks);
        if locks.get(imsi).is_some_and(|l| Arc::strong_count(l) <= 2) {
            locks.remove(imsi);
        }
    }

    /// What to do for each session of `imsi` whose PCEF this instance is connected to. A session
    /// whose PCEF has no connection here is left alone: on several instances the one holding the
    /// connection acts (it hears of the change too), and the host is marked as having missed a
    /// change, so that when it connects here it gets the current rules of all its sessions
    /// ([`Pcrf::peer_open`], [`Pcrf::missed_by`]). Releasing or changing it from
    /// here could only fail, and would delete a session another instance serves.
    fn plans(&self, imsi: &Imsi, sub: Option<&Subscriber>) -> Vec<Plan> {
        let now = Instant::now();
        let reachable = self.reachable_hosts();
        let mut unreachable = std::collections::HashSet::new();
        let mut sessions = lock(&self.sessions);
        let mut plans = Vec::new();
        for id in sessions.of_imsi(imsi) {
            let Some(s) = sessions.get_mut(&id).filter(|s| !s.releasing) else { continue };
            let host = s.pcef_host.to_ascii_lowercase();
            if !reachable.contains(&host) {
                tracing::debug!(session = %s.id, pcef = %s.pcef_host, "PCEF not connected here; left to its instance");
                unreachable.insert(host);
                continue;
            }
            // Resolved hosts stay while unexpired and while the policy (as read now) allows their
            // name: a change that narrows the domains (quarantine) removes them, one that does not
            // (or a second announcement of the same change) keeps them.
            s.hosts.retain(|h| h.until > now && sub.is_some_and(|sub| sub.allows_name(&h.name)));
            let target = Target { session: s.id.to_string(), host: s.pcef_host.clone(), realm: s.pcef_realm.clone() };
            let sub = match sub {
                None => {
                    plans.push(Plan::Release { imsi: imsi.clone(), target, reason: "SIM no longer provisioned" });
                    continue;
                }
                Some(sub) if sub.policy.traffic == Access::Blocked => {
                    plans.push(Plan::Release { imsi: imsi.clone(), target, reason: "SIM not active" });
                    continue;
                }
                Some(sub) => sub,
            };
            let qos = qos::bearer_qos(sub.priority, sub.profile.as_deref(), &s.apn);
            let hosts: Vec<IpAddr> = s.hosts.iter().map(|h| h.ip).collect();
            let wanted = rules::compile(&sub.policy, &self.config.dns_servers, &hosts, &qos);
            let diff = rules::diff(&s.rules, &wanted);
            if !diff.is_empty() {
                let names = wanted.iter().map(|r| r.name().to_string()).collect();
                plans.push(Plan::Change { imsi: imsi.clone(), target, diff, names });
            }
        }
        drop(sessions);
        if !unreachable.is_empty() {
            self.missed_by(unreachable);
        }
        plans
    }

    fn request(&self, command: Command, t: &Target) -> Message {
        let mut m = Message::request(command);
        m.header.app_id = app::GX;
        m.add(avp::SESSION_ID, t.session.as_str());
        m.add(avp::AUTH_APPLICATION_ID, app::GX);
        m.add(avp::ORIGIN_HOST, self.origin_host.as_str());
        m.add(avp::ORIGIN_REALM, self.origin_realm.as_str());
        m.add(avp::DESTINATION_REALM, t.realm.as_str());
        m.add(avp::DESTINATION_HOST, t.host.as_str());
        m
    }

    /// The RAR carrying a rule change.
    fn rar(&self, t: &Target, diff: &Diff) -> Message {
        let mut m = self.request(Command::RAR, t);
        m.add(avp::RE_AUTH_REQUEST_TYPE, AUTHORIZE_ONLY);
        if let Some(remove) = rules::remove_avp(&diff.remove) {
            m.push(remove);
        }
        if let Some(install) = rules::install_avp(&diff.install) {
            m.push(install);
        }
        m
    }

    /// The request that releases a session.
    fn release_request(&self, t: &Target) -> Message {
        match self.config.release {
            Release::Rar => {
                let mut m = self.request(Command::RAR, t);
                m.add(avp::RE_AUTH_REQUEST_TYPE, AUTHORIZE_ONLY);
                m.add(avp::SESSION_RELEASE_CAUSE, UE_SUBSCRIPTION_REASON);
                m
            }
            Release::Asr => self.request(Command::ASR, t),
        }
    }

    /// Sends `msg` to `host`: over its newest open connection, the next one when that one closed;
    /// `rar_attempts` attempts of `rar_timeout_ms` each, with a short pause between them. No answer
    /// and protocol errors (3xxx) are tried again; any other answer is final.
    async fn deliver(&self, host: &str, msg: Message) -> Delivery {
        let timeout = Duration::from_millis(self.config.rar_timeout_ms.max(1));
        let attempts = self.config.rar_attempts.max(1);
        let is_rar = msg.header.code == Command::RAR.code();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep((Duration::from_millis(50) * attempt).min(timeout)).await;
            }
            for p in self.connections_to(host) {
                if is_rar {
                    bump(&self.counters.rar_sent);
                }
                match tokio::time::timeout(timeout, p.request(msg.clone())).await {
                    // A protocol error (3xxx: too busy, unable to deliver through an agent) is
                    // transient: the next attempt may succeed.
                    Ok(Ok(a)) if a.result_code().is_some_and(rc::is_protocol_error) && attempt + 1 < attempts => break,
                    Ok(Ok(a)) => return Delivery::Answered(a.result_code().unwrap_or(0)),
                    Ok(Err(RequestError::Closed | RequestError::Refused(_))) => continue,
                    Ok(Err(RequestError::Timeout)) | Err(_) => break,
                }
            }
        }
        Delivery::Failed
    }

    async fn carry_out(&self, plan: Plan, sub: Option<&Subscriber>) {
        let (imsi, target, diff, names) = match plan {
            Plan::Release { imsi, target, reason } => return self.release(&imsi, &target, reason).await,
            Plan::Change { imsi, target, diff, names } => (imsi, target, diff, names),
        };
        let outcome = self.deliver(&target.host, self.rar(&target, &diff)).await;
        match outcome {
            Delivery::Answered(rc::SUCCESS) => {
                self.settled(&target.session);
                let row = {
                    let mut sessions = lock(&self.sessions);
                    sessions.get_mut(&target.session).map(|s| {
                        s.rules = names;
                        s.updated_at = store::now();
                        s.row()
                    })
                };
                if let Some(row) = row {
                    self.write(GxChange::Put(row));
                }
            }
            Delivery::Answered(rc::UNKNOWN_SESSION_ID) => {
                tracing::info!(session = %target.session, "PCEF no longer knows the session; forgotten");
                self.settled(&target.session);
                if lock(&self.sessions).remove(&target.session).is_some() {
                    self.write(GxChange::Delete(target.session));
                }
            }
            other => {
                bump(&self.counters.rar_failed);
                // Fail-open keeps a critical SIM's allowlist, never more: not through a quarantine or
                // a data barring.
                let critical = sub.is_some_and(|s| {
                    s.priority == Priority::Critical
                        && !matches!(s.policy.traffic, Access::Quarantined | Access::Barred)
                });
                if critical && self.config.critical_fail_open {
                    bump(&self.counters.fail_open);
                    tracing::error!(session = %target.session, pcef = %target.host, ?other,
                        "rule change not delivered; critical SIM keeps its last rules (critical_fail_open) until it is");
                    self.owe(&imsi, &target, Owed::Rules);
                } else {
                    tracing::warn!(session = %target.session, pcef = %target.host, ?other,
                        "rule change not delivered; releasing the session");
                    self.release(&imsi, &target, "rule change not delivered").await;
                }
            }
        }
    }

    /// Releases a session: it is marked released (no rules, no longer found by address) and
    /// `gx.session_released` recorded (once), then the PCEF is asked to end it
    /// ([`Pcrf::confirm_release`]).
    async fn release(&self, imsi: &Imsi, t: &Target, reason: &'static str) {
        let who = {
            let mut sessions = lock(&self.sessions);
            let who = match sessions.get_mut(&t.session) {
                Some(s) if !s.releasing => {
                    s.releasing = true;
                    s.rules.clear();
                    s.hosts.clear();
                    Some(s.tenant.clone())
                }
                _ => None,
            };
            sessions.unindex_addresses(&t.session);
            who
        };
        let Some(tenant) = who else { return };
        bump(&self.counters.asr);
        let detail = format!("Gx session {} on {} released: {reason}", t.session, t.host);
        let kind = EventKind::GxSessionReleased.name().into_owned();
        self.write(GxChange::Event { tenant, imsi: imsi.to_string(), kind, detail });
        self.confirm_release(imsi, t).await;
    }

    /// Asks the PCEF to end a released session. Once it confirms (or no longer knows the session)
    /// the row is deleted; a session the PCEF then does not end with CCR-T is forgotten after
    /// [`RELEASE_GRACE`] (should the PCEF keep it, its next CCR-U is answered
    /// DIAMETER_UNKNOWN_SESSION_ID). Until it confirms, the session and its row stay, pending: the
    /// PCEF may still enforce the rules it had, so the release is tried again ([`crate::retry`]),
    /// also after a restart of this process (the stored session is brought to its policy when its
    /// PCEF connects).
    pub(crate) async fn confirm_release(&self, imsi: &Imsi, t: &Target) {
        if !lock(&self.sessions).get(&t.session).is_some_and(|s| s.releasing) {
            // Ended meanwhile (CCR-T, a PCEF restart).
            self.settled(&t.session);
            return;
        }
        let outcome = self.deliver(&t.host, self.release_request(t)).await;
        match outcome {
            Delivery::Answered(rc::SUCCESS) => {}
            Delivery::Answered(rc::UNKNOWN_SESSION_ID) => {
                self.settled(&t.session);
                if lock(&self.sessions).remove(&t.session).is_some() {
                    self.write(GxChange::Delete(t.session.clone()));
                }
                return;
            }
            other => {
                tracing::warn!(session = %t.session, pcef = %t.host, ?other,
                    "session release not confirmed; kept pending and tried again");
                self.owe(imsi, t, Owed::Release);
                return;
            }
        }
        self.settled(&t.session);
        self.write(GxChange::Delete(t.session.clone()));
        let me = self.me.clone();
        let id = t.session.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RELEASE_GRACE).await;
            if let Some(p) = me.upgrade() {
                let mut sessions = lock(&p.sessions);
                if sessions.get(&id).is_some_and(|s| s.releasing) {
                    sessions.remove(&id);
                }
            }
        });
    }
}
