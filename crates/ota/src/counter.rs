//! Replay counters (TS 102 225 §5.1.1, CNTR): the 5-byte [`Counter`], the server-side choice of the
//! next value ([`CounterPolicy::next`]), the card-side check of the SPI counter modes
//! ([`CounterPolicy::accept`]) and the matching of PoRs to the commands they answer
//! ([`PendingPors`]), which detects replayed and unknown PoRs.
//!
//! Durable storage is the caller's: keep the last counter used per SIM and key set, reserve
//! `policy.next(last)` and store it *before* sending; the functions here guarantee the values are
//! strictly increasing and never wrap.

use std::collections::BTreeMap;

use crate::error::{Field, OtaError};
use crate::spi::CounterMode;
use crate::status::ResponseStatus;

/// A 40-bit replay counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Counter(u64);

impl Counter {
    /// The highest value five bytes hold.
    pub const MAX: u64 = (1 << 40) - 1;

    /// A counter from its value (at most [`Counter::MAX`]).
    pub fn new(value: u64) -> Option<Counter> {
        (value <= Self::MAX).then_some(Counter(value))
    }

    /// The value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// From the five bytes on the wire.
    pub fn from_bytes(b: [u8; 5]) -> Counter {
        Counter(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// From a slice that must be exactly five bytes.
    pub fn from_slice(b: &[u8]) -> Result<Counter, OtaError> {
        let arr: [u8; 5] =
            b.try_into().map_err(|_| OtaError::Length { field: Field::Cntr, expected: "5 bytes", got: b.len() })?;
        Ok(Counter::from_bytes(arr))
    }

    /// The five bytes on the wire.
    pub fn to_bytes(self) -> [u8; 5] {
        let b = self.0.to_be_bytes();
        [b[3], b[4], b[5], b[6], b[7]]
    }
}

impl core::fmt::Display for Counter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:010x}", self.0)
    }
}

/// Why a counter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// The last counter was already the highest five bytes hold: the key set needs replacing.
    #[error("counter exhausted at {0}: replace the key set")]
    Exhausted(Counter),
    /// The command's counter is not higher than the card's (replay).
    #[error("counter {received} is not higher than the card's {stored}")]
    Low {
        /// The card's counter.
        stored: Counter,
        /// The command's.
        received: Counter,
    },
    /// The command's counter skips values where the mode requires exactly one higher.
    #[error("counter {received} is more than one higher than the card's {stored}")]
    High {
        /// The card's counter.
        stored: Counter,
        /// The command's.
        received: Counter,
    },
    /// The card's counter has reached its maximum.
    #[error("the card's counter {0} is blocked at its maximum")]
    Blocked(Counter),
    /// A PoR whose counter answers no command waiting for one (replayed, or answered already).
    #[error("PoR counter {0} answers no pending command (replayed or already answered)")]
    Replayed(Counter),
    /// A PoR whose counter is higher than any command sent.
    #[error("PoR counter {0} is higher than any command sent")]
    Unknown(Counter),
    /// A PoR for the right counter but another TAR.
    #[error("PoR for counter {cntr} comes from TAR {got}, the command went to TAR {expected}")]
    TarMismatch {
        /// The command's counter.
        cntr: Counter,
        /// The command's TAR, hex.
        expected: String,
        /// The PoR's TAR, hex.
        got: String,
    },
    /// A PoR whose counter differs from the command it should answer.
    #[error("PoR counter {got} does not answer the command's {expected}")]
    Mismatch {
        /// The command's counter.
        expected: Counter,
        /// The PoR's.
        got: Counter,
    },
    /// A counter sent twice or out of order on the server side.
    #[error("counter {sent} is not higher than the last one sent, {last}")]
    NotIncreasing {
        /// The last counter sent.
        last: Counter,
        /// The one being sent.
        sent: Counter,
    },
}

impl CounterError {
    /// The PoR status a card answers for this refusal.
    pub fn por_status(&self) -> ResponseStatus {
        match self {
            CounterError::Low { .. } => ResponseStatus::CntrLow,
            CounterError::High { .. } => ResponseStatus::CntrHigh,
            CounterError::Blocked(_) | CounterError::Exhausted(_) => ResponseStatus::CntrBlocked,
            _ => ResponseStatus::UnidentifiedSecurityError,
        }
    }
}

/// The counter rules of one key set, from the SPI's counter mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterPolicy {
    /// The SPI's counter mode.
    pub mode: CounterMode,
}

impl CounterPolicy {
    /// The policy of a counter mode.
    pub fn new(mode: CounterMode) -> Self {
        CounterPolicy { mode }
    }

    /// The counter for the next command after `last_used` (none yet: 1). Every mode gets a fresh,
    /// strictly higher value, so that PoRs (which echo the counter) identify their command even when
    /// the card does not check it.
    pub fn next(&self, last_used: Option<Counter>) -> Result<Counter, CounterError> {
        next_counter(last_used)
    }

    /// Card side: accepts `received` against the card's `stored` counter, per the mode. On success
    /// the card stores `received` (for the modes that check).
    pub fn accept(&self, stored: Counter, received: Counter) -> Result<(), CounterError> {
        match self.mode {
            CounterMode::NoCounter | CounterMode::Available => Ok(()),
            _ if stored.0 == Counter::MAX => Err(CounterError::Blocked(stored)),
            _ if received <= stored => Err(CounterError::Low { stored, received }),
            CounterMode::MustBeOneHigher if received.0 != stored.0 + 1 => Err(CounterError::High { stored, received }),
            _ => Ok(()),
        }
    }
}

/// The counter after `last_used` (1 when none was used); never wraps.
pub fn next_counter(last_used: Option<Counter>) -> Result<Counter, CounterError> {
    match last_used {
        None => Ok(Counter(1)),
        Some(c) if c.0 == Counter::MAX => Err(CounterError::Exhausted(c)),
        Some(c) => Ok(Counter(c.0 + 1)),
    }
}

/// Whether a matched PoR arrived in the order its commands were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PorOrder {
    /// No older command is still waiting.
    InOrder,
    /// This many older commands are still waiting (SMS may arrive out of order; their PoRs are
    /// still accepted once).
    OvertookOlder(usize),
}

/// The commands of one SIM and key set waiting for a PoR: each counter is answered at most once,
/// counters are sent strictly increasing.
#[derive(Debug, Clone, Default)]
pub struct PendingPors {
    pending: BTreeMap<Counter, [u8; 3]>,
    last_sent: Option<Counter>,
}

impl PendingPors {
    /// Resumes from stored state: the last counter sent and the commands still waiting.
    pub fn resume(last_sent: Option<Counter>, pending: impl IntoIterator<Item = (Counter, [u8; 3])>) -> Self {
        PendingPors { pending: pending.into_iter().collect(), last_sent }
    }

    /// Records a command sent to `tar` with `cntr`; refuses a counter not higher than the last one.
    pub fn sent(&mut self, tar: [u8; 3], cntr: Counter) -> Result<(), CounterError> {
        if let Some(last) = self.last_sent {
            if cntr <= last {
                return Err(CounterError::NotIncreasing { last, sent: cntr });
            }
        }
        self.last_sent = Some(cntr);
        self.pending.insert(cntr, tar);
        Ok(())
    }

    /// Matches a PoR from `tar` with `cntr` to its command and removes it from the waiting list.
    pub fn answer(&mut self, tar: [u8; 3], cntr: Counter) -> Result<PorOrder, CounterError> {
        let Some(&expected) = self.pending.get(&cntr) else {
            return Err(match self.last_sent {
                Some(last) if cntr <= last => CounterError::Replayed(cntr),
                _ => CounterError::Unknown(cntr),
            });
        };
        if expected != tar {
            return Err(CounterError::TarMismatch { cntr, expected: hex3(expected), got: hex3(tar) });
        }
        self.pending.remove(&cntr);
        let older = self.pending.range(..cntr).count();
        Ok(if older == 0 { PorOrder::InOrder } else { PorOrder::OvertookOlder(older) })
    }

    /// The counters still waiting, oldest first.
    pub fn waiting(&self) -> impl Iterator<Item = Counter> + '_ {
        self.pending.keys().copied()
    }

    /// The last counter sent.
    pub fn last_sent(&self) -> Option<Counter> {
        self.last_sent
    }
}

fn hex3(b: [u8; 3]) -> String {
    format!("{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: u64) -> Counter {
        Counter::new(v).unwrap()
    }

    #[test]
    fn card_side_modes() {
        let higher = CounterPolicy::new(CounterMode::MustBeHigher);
        assert!(higher.accept(c(5), c(9)).is_ok());
        assert_eq!(higher.accept(c(5), c(5)).unwrap_err().por_status(), ResponseStatus::CntrLow);
        let one = CounterPolicy::new(CounterMode::MustBeOneHigher);
        assert!(one.accept(c(5), c(6)).is_ok());
        assert_eq!(one.accept(c(5), c(7)).unwrap_err().por_status(), ResponseStatus::CntrHigh);
        assert_eq!(one.accept(c(5), c(4)).unwrap_err().por_status(), ResponseStatus::CntrLow);
        assert_eq!(one.accept(c(Counter::MAX), c(0)).unwrap_err().por_status(), ResponseStatus::CntrBlocked);
        assert!(CounterPolicy::new(CounterMode::NoCounter).accept(c(5), c(1)).is_ok());
        assert!(CounterPolicy::new(CounterMode::Available).accept(c(5), c(5)).is_ok());
    }

    #[test]
    fn next_counter_increases_and_never_wraps() {
        assert_eq!(next_counter(None).unwrap(), c(1));
        assert_eq!(next_counter(Some(c(41))).unwrap(), c(42));
        assert_eq!(next_counter(Some(c(Counter::MAX))), Err(CounterError::Exhausted(c(Counter::MAX))));
        assert_eq!(Counter::from_bytes(c(0x01_0203_0405).to_bytes()), c(0x01_0203_0405));
        assert!(Counter::new(Counter::MAX + 1).is_none());
    }

    #[test]
    fn pors_are_matched_once_and_replays_detected() {
        let tar = [0xb0, 0, 0x11];
        let mut p = PendingPors::default();
        p.sent(tar, c(1)).unwrap();
        p.sent(tar, c(2)).unwrap();
        assert_eq!(p.sent(tar, c(2)), Err(CounterError::NotIncreasing { last: c(2), sent: c(2) }));
        assert_eq!(p.answer(tar, c(2)), Ok(PorOrder::OvertookOlder(1)));
        assert_eq!(p.answer(tar, c(2)), Err(CounterError::Replayed(c(2))));
        assert!(matches!(p.answer([1, 2, 3], c(1)), Err(CounterError::TarMismatch { .. })));
        assert_eq!(p.answer(tar, c(1)), Ok(PorOrder::InOrder));
        assert_eq!(p.answer(tar, c(9)), Err(CounterError::Unknown(c(9))));
        assert_eq!(p.waiting().count(), 0);
    }
}
