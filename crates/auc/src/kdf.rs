//! Key derivations on top of the f-functions: K_ASME for E-UTRAN (TS 33.401 Annex A.2, with the
//! generic KDF of TS 33.220 Annex B.2) and the GSM conversion functions c2 and c3 (TS 33.102 §6.8.1.2).

use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::error::{AucError, Result};
use crate::secret::{Ck, Ik, Kasme, Kc};
use crate::types::{Res, ServingNetwork};

/// FC value of the K_ASME derivation (TS 33.401 A.2).
const FC_KASME: u8 = 0x10;

/// K_ASME = HMAC-SHA-256(CK ‖ IK, FC ‖ SN id ‖ 0x0003 ‖ SQN⊕AK ‖ 0x0006).
pub fn kasme(ck: &Ck, ik: &Ik, serving_network: &ServingNetwork, sqn_xor_ak: &[u8; 6]) -> Kasme {
    let mut key = [0u8; 64];
    let (c, i) = (ck.expose(), ik.expose());
    key[..c.len()].copy_from_slice(c);
    key[c.len()..c.len() + i.len()].copy_from_slice(i);
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key[..c.len() + i.len()]).expect("HMAC takes any key length");
    key.zeroize();
    let mut s = [0u8; 14];
    s[0] = FC_KASME;
    s[1..4].copy_from_slice(&serving_network.0);
    s[4..6].copy_from_slice(&3u16.to_be_bytes());
    s[6..12].copy_from_slice(sqn_xor_ak);
    s[12..14].copy_from_slice(&6u16.to_be_bytes());
    mac.update(&s);
    let mut out: [u8; 32] = mac.finalize().into_bytes().into();
    let k = Kasme::from_slice(&out).expect("32 bytes");
    out.zeroize();
    k
}

/// c2: SRES = XRES*1 ⊕ XRES*2 ⊕ XRES*3 ⊕ XRES*4, where XRES* is XRES zero-padded to 128 bits and
/// XRES*i are its 32-bit words. Defined for XRES of at most 128 bits.
pub fn c2(xres: &Res) -> Result<[u8; 4]> {
    let x = xres.as_slice();
    if x.len() > 16 || x.len() < 4 {
        return Err(AucError::Unsupported("GSM conversion c2 needs an XRES of 32 to 128 bits"));
    }
    let mut padded = [0u8; 16];
    padded[..x.len()].copy_from_slice(x);
    Ok(core::array::from_fn(|i| padded[i] ^ padded[4 + i] ^ padded[8 + i] ^ padded[12 + i]))
}

/// c3: Kc = CK1 ⊕ CK2 ⊕ IK1 ⊕ IK2 over the 64-bit halves. Defined for 128-bit CK and IK.
pub fn c3(ck: &Ck, ik: &Ik) -> Result<Kc> {
    let (c, i) = (ck.expose(), ik.expose());
    if c.len() != 16 || i.len() != 16 {
        return Err(AucError::Unsupported("GSM conversion c3 needs 128-bit CK and IK"));
    }
    let mut kc: [u8; 8] = core::array::from_fn(|n| c[n] ^ c[8 + n] ^ i[n] ^ i[8 + n]);
    let out = Kc::from_slice(&kc).expect("8 bytes");
    kc.zeroize();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2_folds_words_and_pads_short_xres() {
        let x = Res::new(&[1, 2, 3, 4, 0x10, 0x20, 0x30, 0x40]);
        assert_eq!(c2(&x).unwrap(), [0x11, 0x22, 0x33, 0x44]);
        let full = Res::new(&[0xff; 16]);
        assert_eq!(c2(&full).unwrap(), [0; 4]);
        assert!(c2(&Res::new(&[0; 32])).is_err());
    }

    #[test]
    fn c3_folds_halves() {
        let ck = Ck::from_slice(&[[1u8; 8], [2u8; 8]].concat()).unwrap();
        let ik = Ik::from_slice(&[[4u8; 8], [8u8; 8]].concat()).unwrap();
        assert_eq!(c3(&ck, &ik).unwrap().expose(), &[15u8; 8]);
        assert!(c3(&Ck::from_slice(&[0; 32]).unwrap(), &ik).is_err());
    }

    /// Expected value computed independently with Python's `hmac`/`hashlib` over the same S string
    /// (the cross-check test repeats this on random inputs).
    #[test]
    fn kasme_matches_hmac_sha256_over_s() {
        let ck = Ck::from_slice(&[0x11; 16]).unwrap();
        let ik = Ik::from_slice(&[0x22; 16]).unwrap();
        let sn = ServingNetwork::from_mcc_mnc("001", "01").unwrap();
        let a = kasme(&ck, &ik, &sn, &[1, 2, 3, 4, 5, 6]);
        let hex: String = a.expose().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "764a892f528487bb35082e676783925b6c5c0e77c60bf2626db08b213f5f9a27");
        assert_ne!(a, kasme(&ck, &ik, &sn, &[1, 2, 3, 4, 5, 7]));
    }
}
