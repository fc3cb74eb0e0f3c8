//! RAT-Type values (TS 29.212 §5.3.31), the one table AIR and ULR read them from: UTRAN 1000,
//! GERAN 1001, E-UTRAN 1004, NB-IoT 1005, NR 1006–1009.

use store::model::Rat;

/// RAT-Type UTRAN.
pub const UTRAN: u32 = 1000;
/// RAT-Type GERAN.
pub const GERAN: u32 = 1001;
/// RAT-Type EUTRAN.
pub const EUTRAN: u32 = 1004;

/// The radio access a RAT-Type value names, when it names one a profile can forbid.
pub fn rat_of(rat_type: Option<u32>) -> Option<Rat> {
    match rat_type? {
        UTRAN => Some(Rat::Utran),
        GERAN => Some(Rat::Geran),
        EUTRAN => Some(Rat::Eutran),
        1005 => Some(Rat::Nbiot),
        1006..=1009 => Some(Rat::Nr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_ts_29_212() {
        assert_eq!(rat_of(Some(1001)), Some(Rat::Geran));
        assert_eq!(rat_of(Some(1000)), Some(Rat::Utran));
        assert_eq!(rat_of(Some(1004)), Some(Rat::Eutran));
        assert_eq!(rat_of(Some(1020)), None, "1020 is not a RAT-Type of TS 29.212");
        assert_eq!(rat_of(None), None);
    }
}
