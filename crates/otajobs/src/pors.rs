//! Commands waiting for their PoR, per SIM ([`PorRegistry`]): a PoR is matched to its command by TAR
//! and counter (`ota::PendingPors`, each counter answered once); a replayed PoR, one whose counter
//! was never sent, one that comes after its command timed out, or one that does not verify is
//! refused and counted ([`PorStats`]); an unprotected error PoR without a counter is matched to the
//! SIM's only waiting command. Delivery reports of messages the SMSC accepted are matched by
//! message id.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ota::{Counter, CounterError, PendingPors, ResponsePacket};
use serde::Serialize;
use tokio::sync::oneshot;

/// How many timed-out counters per SIM are remembered to name a late PoR.
const LATE_MEMORY: usize = 16;

/// What a waiting command learns.
#[derive(Debug)]
pub enum PorEvent {
    /// Its PoR, verified and matched.
    Por(ResponsePacket),
    /// The SMSC reported the message undelivered (its final state).
    Undelivered(String),
}

/// Why a PoR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its counter was answered already.
    #[error("replayed PoR (counter {0} was answered already)")]
    Replayed(Counter),
    /// Its counter was never sent to this SIM.
    #[error("PoR for counter {0}, which was never sent to this SIM")]
    Unknown(Counter),
    /// Its command had timed out already.
    #[error("late PoR for counter {0}: its command had timed out")]
    Late(Counter),
    /// It does not verify or does not fit its command.
    #[error("invalid PoR: {0}")]
    Invalid(String),
}

/// Counts of PoRs seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PorStats {
    /// Matched to their command.
    pub matched: u64,
    /// Refused as replays.
    pub replayed: u64,
    /// Refused: counter never sent.
    pub unknown: u64,
    /// Refused: after their command's timeout.
    pub late: u64,
    /// Refused: malformed, failed verification, wrong TAR, unknown SIM.
    pub invalid: u64,
}

#[derive(Default)]
struct SimPors {
    pending: PendingPors,
    waiters: HashMap<Counter, oneshot::Sender<PorEvent>>,
    timed_out: VecDeque<Counter>,
}

/// A card that cannot open a command (wrong keys, unknown key set) answers an unprotected error PoR
/// without the command's counter (it could not read it; TS 102 225 §5.2). Such a PoR is matched to
/// the SIM's command when exactly one is waiting and its TAR is the PoR's; the returned counter is
/// that command's. It is unauthenticated, so it can only ever report a failure, never a success: at
/// worst a forged one makes the engine retry a command that did arrive (with a fresh counter).
fn unprotected_error_for_the_only_command(sim: &SimPors, por: &ResponsePacket) -> Option<Counter> {
    if por.protected || por.status == ota::ResponseStatus::PorOk || sim.waiters.contains_key(&por.cntr) {
        return None;
    }
    let mut waiting = sim.pending.waiting();
    let only = waiting.next()?;
    if waiting.next().is_some() {
        return None;
    }
    Some(only)
}

/// Commands waiting for a PoR, for every SIM.
#[derive(Default)]
pub struct PorRegistry {
    sims: Mutex<HashMap<String, SimPors>>,
    messages: Mutex<HashMap<String, (String, Counter)>>,
    matched: AtomicU64,
    replayed: AtomicU64,
    unknown: AtomicU64,
    late: AtomicU64,
    invalid: AtomicU64,
}

impl PorRegistry {
    /// Registers a command to `imsi` with `tar` and `cntr` before it is sent.
    pub fn register(
        &self,
        imsi: &str,
        tar: [u8; 3],
        cntr: Counter,
    ) -> Result<oneshot::Receiver<PorEvent>, CounterError> {
        let mut sims = self.sims.lock().expect("pors");
        let sim = sims.entry(imsi.to_string()).or_default();
        sim.pending.sent(tar, cntr)?;
        let (tx, rx) = oneshot::channel();
        sim.waiters.insert(cntr, tx);
        Ok(rx)
    }

    /// Stops waiting for `cntr`'s PoR; `timed_out` remembers it, so that its PoR, should it still
    /// come, is refused as late.
    pub fn forget(&self, imsi: &str, tar: [u8; 3], cntr: Counter, timed_out: bool) {
        let mut sims = self.sims.lock().expect("pors");
        if let Some(sim) = sims.get_mut(imsi) {
            let _ = sim.pending.answer(tar, cntr);
            sim.waiters.remove(&cntr);
            if timed_out {
                sim.timed_out.push_back(cntr);
                if sim.timed_out.len() > LATE_MEMORY {
                    sim.timed_out.pop_front();
                }
            }
        }
        self.messages.lock().expect("messages").retain(|_, (i, c)| !(i == imsi && *c == cntr));
    }

    /// Matches a verified PoR from `imsi` to its command and hands it over.
    pub fn deliver(&self, imsi: &str, por: ResponsePacket) -> Result<(), Refusal> {
        let mut sims = self.sims.lock().expect("pors");
        let Some(sim) = sims.get_mut(imsi) else {
            return Err(self.refused(Refusal::Unknown(por.cntr)));
        };
        let mut por = por;
        if let Some(only) = unprotected_error_for_the_only_command(sim, &por) {
            por.cntr = only;
        }
        match sim.pending.answer(por.tar, por.cntr) {
            Ok(_) => {
                self.matched.fetch_add(1, Ordering::Relaxed);
                if let Some(tx) = sim.waiters.remove(&por.cntr) {
                    let _ = tx.send(PorEvent::Por(por));
                }
                Ok(())
            }
            Err(CounterError::Replayed(c)) if sim.timed_out.contains(&c) => Err(self.refused(Refusal::Late(c))),
            Err(CounterError::Replayed(c)) => Err(self.refused(Refusal::Replayed(c))),
            Err(CounterError::Unknown(c)) => Err(self.refused(Refusal::Unknown(c))),
            Err(e) => Err(self.refused(Refusal::Invalid(e.to_string()))),
        }
    }

    /// Counts a refusal and returns it.
    pub fn refused(&self, r: Refusal) -> Refusal {
        let counter = match r {
            Refusal::Replayed(_) => &self.replayed,
            Refusal::Unknown(_) => &self.unknown,
            Refusal::Late(_) => &self.late,
            Refusal::Invalid(_) => &self.invalid,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        r
    }

    /// Remembers that the SMSC accepted the message of `cntr` as `message_id`.
    pub fn accepted(&self, message_id: &str, imsi: &str, cntr: Counter) {
        self.messages.lock().expect("messages").insert(message_id.to_string(), (imsi.to_string(), cntr));
    }

    /// A delivery report: an undelivered message ends its command's wait; `None` when the message
    /// is not one of ours (or already answered).
    pub fn report(&self, message_id: &str, delivered: bool, state: &str) -> Option<(String, Counter)> {
        let key = if delivered {
            self.messages.lock().expect("messages").get(message_id).cloned()?
        } else {
            self.messages.lock().expect("messages").remove(message_id)?
        };
        if !delivered {
            let mut sims = self.sims.lock().expect("pors");
            if let Some(tx) = sims.get_mut(&key.0).and_then(|s| s.waiters.remove(&key.1)) {
                let _ = tx.send(PorEvent::Undelivered(state.to_string()));
            }
        }
        Some(key)
    }

    /// The counts so far.
    pub fn stats(&self) -> PorStats {
        PorStats {
            matched: self.matched.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            invalid: self.invalid.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn por(cntr: u64, tar: [u8; 3]) -> ResponsePacket {
        ResponsePacket {
            tar,
            cntr: Counter::new(cntr).unwrap(),
            pcntr: 0,
            status: ota::ResponseStatus::PorOk,
            data: vec![],
            protected: true,
        }
    }

    #[test]
    fn pors_match_once_and_replayed_unknown_late_are_refused_and_counted() {
        let r = PorRegistry::default();
        let tar = [0xb0, 0x00, 0x11];
        let c = |v| Counter::new(v).unwrap();
        let mut rx1 = r.register("1", tar, c(1)).unwrap();
        let _rx2 = r.register("1", tar, c(2)).unwrap();
        assert!(r.register("1", tar, c(2)).is_err(), "a counter is sent once");
        r.deliver("1", por(1, tar)).unwrap();
        assert!(matches!(rx1.try_recv(), Ok(PorEvent::Por(p)) if p.cntr == c(1)));
        assert_eq!(r.deliver("1", por(1, tar)), Err(Refusal::Replayed(c(1))));
        assert_eq!(r.deliver("1", por(9, tar)), Err(Refusal::Unknown(c(9))));
        assert_eq!(r.deliver("2", por(1, tar)), Err(Refusal::Unknown(c(1))));
        assert!(matches!(r.deliver("1", por(2, [1, 2, 3])), Err(Refusal::Invalid(_))));
        r.forget("1", tar, c(2), true);
        assert_eq!(r.deliver("1", por(2, tar)), Err(Refusal::Late(c(2))));
        assert_eq!(r.stats(), PorStats { matched: 1, replayed: 1, unknown: 2, late: 1, invalid: 1 });

        let mut rx3 = r.register("1", tar, c(3)).unwrap();
        r.accepted("m3", "1", c(3));
        assert!(r.report("m3", true, "ENROUTE").is_some());
        assert!(r.report("m3", false, "UNDELIV").is_some());
        assert!(matches!(rx3.try_recv(), Ok(PorEvent::Undelivered(s)) if s == "UNDELIV"));
        assert!(r.report("m3", false, "UNDELIV").is_none());
    }

    #[test]
    fn an_unprotected_error_without_a_counter_answers_the_only_waiting_command() {
        let r = PorRegistry::default();
        let tar = [0xb0, 0x00, 0x11];
        let c = |v| Counter::new(v).unwrap();
        let clear = |status, tar| ResponsePacket { status, protected: false, ..por(0, tar) };
        let mut rx = r.register("1", tar, c(7)).unwrap();
        // An unprotected success is never taken, nor an error for another TAR.
        assert!(r.deliver("1", clear(ota::ResponseStatus::PorOk, tar)).is_err());
        assert!(r.deliver("1", clear(ota::ResponseStatus::CipheringError, [1, 2, 3])).is_err());
        r.deliver("1", clear(ota::ResponseStatus::CipheringError, tar)).unwrap();
        assert!(
            matches!(rx.try_recv(), Ok(PorEvent::Por(p)) if p.cntr == c(7) && p.status == ota::ResponseStatus::CipheringError)
        );
        // With two commands waiting it cannot say which one it answers.
        let _a = r.register("1", tar, c(8)).unwrap();
        let _b = r.register("1", tar, c(9)).unwrap();
        assert!(r.deliver("1", clear(ota::ResponseStatus::CipheringError, tar)).is_err());
    }
}
