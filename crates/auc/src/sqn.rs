//! Sequence number management in the home network, as TS 33.102 Annex C recommends (profile 1,
//! counter based): SQN = SEQ ‖ IND, one SEQ_HE counter per subscriber, an IND value per serving
//! node, and the resynchronisation rule of TS 33.102 §6.3.5.
//!
//! Persisting SEQ_HE (and reserving ranges ahead of use so a crash never reuses a SQN) is the
//! store's job; this module is pure arithmetic on the values it is given.

use sha2::{Digest, Sha256};

use crate::error::{AucError, Result};
use crate::types::Sqn;

/// How SQNs are split and checked: the IND length and the USIM's freshness limit Δ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqnScheme {
    ind_bits: u8,
    delta: u64,
}

impl Default for SqnScheme {
    /// IND of 5 bits and Δ = 2^28, the values TS 33.102 Annex C.3 gives as examples.
    fn default() -> Self {
        Self { ind_bits: 5, delta: 1 << 28 }
    }
}

/// What a resynchronisation did to the home network's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncOutcome {
    /// SEQ_HE + 1 is acceptable to the USIM already; the counter was left as it was.
    Kept,
    /// SEQ_HE was set to SEQ_MS, so the next vector carries SEQ_MS + 1.
    Reset {
        /// SEQ_HE before the reset.
        from: u64,
    },
}

impl SqnScheme {
    /// An IND length of 0 to 10 bits and a Δ of at least 1 (in SEQ steps).
    pub fn new(ind_bits: u8, delta: u64) -> Result<Self> {
        if ind_bits > 10 {
            return Err(AucError::InvalidIndLength(ind_bits));
        }
        if delta == 0 {
            return Err(AucError::InvalidParameter { what: "SQN delta", value: 0, allowed: "at least 1" });
        }
        Ok(Self { ind_bits, delta })
    }

    /// The IND length in bits.
    pub fn ind_bits(&self) -> u8 {
        self.ind_bits
    }

    /// Δ, the largest step forward the USIM accepts.
    pub fn delta(&self) -> u64 {
        self.delta
    }

    /// The largest SEQ value that fits beside the IND.
    pub fn max_seq(&self) -> u64 {
        Sqn::MAX >> self.ind_bits
    }

    /// Splits a SQN into (SEQ, IND).
    pub fn split(&self, sqn: Sqn) -> (u64, u32) {
        let v = sqn.value();
        (v >> self.ind_bits, (v & ((1 << self.ind_bits) - 1)) as u32)
    }

    /// Joins SEQ and IND into a SQN.
    pub fn join(&self, seq: u64, ind: u32) -> Result<Sqn> {
        if u64::from(ind) >> self.ind_bits != 0 {
            return Err(AucError::IndOutOfRange { ind, ind_bits: self.ind_bits });
        }
        if seq > self.max_seq() {
            return Err(AucError::SqnExhausted { ind_bits: self.ind_bits });
        }
        Sqn::new((seq << self.ind_bits) | u64::from(ind))
    }

    /// A stable IND for a serving node (for example its Diameter Origin-Host): the first bytes of
    /// SHA-256 of the name, reduced to the IND length. Stateless, so it survives restarts and is the
    /// same on every HSS front end. Two nodes may share an IND; that costs at most a
    /// resynchronisation for a subscriber moving between them, never security.
    pub fn ind_for_node(&self, node: &str) -> u32 {
        let digest = Sha256::digest(node.as_bytes());
        let word = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        word & ((1u32 << self.ind_bits) - 1)
    }
}

/// The home network's SEQ_HE for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SqnCounter {
    seq_he: u64,
}

impl SqnCounter {
    /// A counter at SEQ_HE = `seq_he` (the last SEQ issued).
    pub fn new(seq_he: u64) -> Self {
        Self { seq_he }
    }

    /// The counter from a stored SQN (its SEQ part).
    pub fn from_sqn(scheme: &SqnScheme, sqn: Sqn) -> Self {
        Self::new(scheme.split(sqn).0)
    }

    /// SEQ_HE, the last SEQ issued.
    pub fn seq_he(&self) -> u64 {
        self.seq_he
    }

    /// A fresh SQN for the serving node with index `ind`: SEQ_HE + 1 ‖ IND (TS 33.102 C.3.2).
    /// The counter moves only when a SQN is actually returned.
    pub fn next(&mut self, scheme: &SqnScheme, ind: u32) -> Result<Sqn> {
        let seq = self.seq_he.checked_add(1).ok_or(AucError::SqnExhausted { ind_bits: scheme.ind_bits })?;
        let sqn = scheme.join(seq, ind)?;
        self.seq_he = seq;
        Ok(sqn)
    }

    /// Applies a verified SQN_MS from an AUTS (TS 33.102 §6.3.5 steps iii–iv): when the next SEQ
    /// would be accepted by the USIM (greater than SEQ_MS and no more than Δ ahead of it) the counter
    /// stays; otherwise SEQ_HE becomes SEQ_MS.
    pub fn resync(&mut self, scheme: &SqnScheme, sqn_ms: Sqn) -> ResyncOutcome {
        let (seq_ms, _) = scheme.split(sqn_ms);
        let next = self.seq_he.saturating_add(1);
        if next > seq_ms && next - seq_ms <= scheme.delta {
            ResyncOutcome::Kept
        } else {
            let from = self.seq_he;
            self.seq_he = seq_ms;
            ResyncOutcome::Reset { from }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_and_ind_round_trip() {
        let s = SqnScheme::new(5, 1 << 28).unwrap();
        let sqn = s.join(0x1234, 7).unwrap();
        assert_eq!(sqn.value(), (0x1234 << 5) | 7);
        assert_eq!(s.split(sqn), (0x1234, 7));
        assert!(matches!(s.join(1, 32), Err(AucError::IndOutOfRange { ind: 32, ind_bits: 5 })));
        assert!(matches!(s.join(s.max_seq() + 1, 0), Err(AucError::SqnExhausted { .. })));
        assert!(SqnScheme::new(11, 1).is_err());
        let none = SqnScheme::new(0, 1).unwrap();
        assert_eq!(none.split(Sqn::new(99).unwrap()), (99, 0));
    }

    #[test]
    fn next_increments_seq_and_uses_ind() {
        let s = SqnScheme::default();
        let mut c = SqnCounter::new(10);
        let a = c.next(&s, 3).unwrap();
        let b = c.next(&s, 4).unwrap();
        assert_eq!(s.split(a), (11, 3));
        assert_eq!(s.split(b), (12, 4));
        assert_eq!(c.seq_he(), 12);
    }

    #[test]
    fn exhausted_counter_does_not_move() {
        let s = SqnScheme::new(10, 1).unwrap();
        let mut c = SqnCounter::new(s.max_seq());
        assert!(c.next(&s, 0).is_err());
        assert_eq!(c.seq_he(), s.max_seq());
    }

    #[test]
    fn resync_rules() {
        let s = SqnScheme::new(5, 100).unwrap();
        // USIM ahead of the HE (e.g. HSS restored from backup): reset to SEQ_MS.
        let mut c = SqnCounter::new(10);
        assert_eq!(c.resync(&s, s.join(50, 1).unwrap()), ResyncOutcome::Reset { from: 10 });
        assert_eq!(s.split(c.next(&s, 2).unwrap()).0, 51);
        // HE slightly ahead and within delta: kept.
        let mut c = SqnCounter::new(60);
        assert_eq!(c.resync(&s, s.join(50, 1).unwrap()), ResyncOutcome::Kept);
        assert_eq!(c.seq_he(), 60);
        // HE too far ahead (beyond delta): reset.
        let mut c = SqnCounter::new(500);
        assert_eq!(c.resync(&s, s.join(50, 1).unwrap()), ResyncOutcome::Reset { from: 500 });
        // Equal: SEQ_HE + 1 = SEQ_MS + 1 is acceptable.
        let mut c = SqnCounter::new(50);
        assert_eq!(c.resync(&s, s.join(50, 0).unwrap()), ResyncOutcome::Kept);
    }

    #[test]
    fn node_ind_is_stable_and_in_range() {
        let s = SqnScheme::default();
        let a = s.ind_for_node("mme1.epc.mnc001.mcc001.3gppnetwork.org");
        assert_eq!(a, s.ind_for_node("mme1.epc.mnc001.mcc001.3gppnetwork.org"));
        assert!(a < 32);
        let spread: std::collections::HashSet<u32> = (0..200).map(|i| s.ind_for_node(&format!("mme{i}"))).collect();
        assert!(spread.len() > 20, "hash spreads nodes over the IND space");
    }
}
