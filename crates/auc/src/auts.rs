//! Resynchronisation: verifying an AUTS and recovering SQN_MS (TS 33.102 §6.3.3 and §6.3.5).
//!
//! MAC-S is computed by the USIM with f1* over SQN_MS, RAND and a dummy AMF of 0000; the home network
//! recomputes it and compares in constant time. A forged or corrupted AUTS is refused and nothing is
//! learned from it.

use subtle::ConstantTimeEq;

use crate::algorithm::AuthAlgorithm;
use crate::error::{AucError, Result};
use crate::types::{xor6, Amf, Auts, Rand, Sqn};

/// Verifies `auts` for the challenge `rand` and returns SQN_MS.
pub fn verify_auts(alg: &AuthAlgorithm, rand: &Rand, auts: &Auts) -> Result<Sqn> {
    let ak_star = alg.f5star(rand);
    let sqn_ms = Sqn::from_bytes(xor6(auts.concealed_sqn(), ak_star.0));
    let expected = alg.f1star(rand, sqn_ms, Amf::RESYNC);
    let given = auts.mac_s();
    if given.len() != expected.len() || !bool::from(given.ct_eq(expected.as_slice())) {
        return Err(AucError::MacSFailure);
    }
    Ok(sqn_ms)
}

/// Builds the AUTS a USIM would send for `sqn_ms` (for tests, simulators and tools).
pub fn build_auts(alg: &AuthAlgorithm, rand: &Rand, sqn_ms: Sqn) -> Auts {
    let ak_star = alg.f5star(rand);
    let mac_s = alg.f1star(rand, sqn_ms, Amf::RESYNC);
    Auts::build(sqn_ms, &ak_star, &mac_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milenage::Milenage;
    use crate::secret::{Key, Opc};

    #[test]
    fn round_trip_and_forgery() {
        let alg: AuthAlgorithm =
            Milenage::new(&Key::from_slice(&[1; 16]).unwrap(), &Opc::from_slice(&[2; 16]).unwrap()).unwrap().into();
        let rand = Rand([4; 16]);
        let sqn = Sqn::new(0x0000_1234_5678).unwrap();
        let auts = build_auts(&alg, &rand, sqn);
        assert_eq!(auts.as_slice().len(), 14);
        assert_eq!(verify_auts(&alg, &rand, &auts), Ok(sqn));
        assert_eq!(verify_auts(&alg, &Rand([5; 16]), &auts), Err(AucError::MacSFailure));
        let mut forged = auts.as_slice().to_vec();
        forged[13] ^= 1;
        assert_eq!(verify_auts(&alg, &rand, &Auts::from_slice(&forged).unwrap()), Err(AucError::MacSFailure));
    }
}
