//! Authentication vectors: UMTS quintets, E-UTRAN vectors with K_ASME, GSM triplets by conversion,
//! and batches that draw their RANDs from the OS CSPRNG in one call.

use crate::algorithm::AuthAlgorithm;
use crate::error::Result;
use crate::kdf::{c2, c3, kasme};
use crate::secret::{Ck, Ik, Kasme, Kc};
use crate::sqn::{SqnCounter, SqnScheme};
use crate::types::{fill_random, Ak, Amf, Autn, Mac, Rand, Res, ServingNetwork, Sqn};

/// A UMTS authentication vector (quintet): RAND, XRES, CK, IK, AUTN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UmtsVector {
    /// The challenge.
    pub rand: Rand,
    /// Expected response.
    pub xres: Res,
    /// Cipher key.
    pub ck: Ck,
    /// Integrity key.
    pub ik: Ik,
    /// Network authentication token.
    pub autn: Autn,
}

/// An E-UTRAN authentication vector: RAND, XRES, AUTN, K_ASME (TS 33.401 §6.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EutranVector {
    /// The challenge.
    pub rand: Rand,
    /// Expected response.
    pub xres: Res,
    /// Network authentication token (its AMF has the separation bit set).
    pub autn: Autn,
    /// The key for the serving network.
    pub kasme: Kasme,
}

/// A GSM triplet derived from UMTS keys by c2 and c3 (TS 33.102 §6.8.1.2), never by COMP128.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsmTriplet {
    /// The challenge.
    pub rand: Rand,
    /// Signed response SRES = c2(XRES).
    pub sres: [u8; 4],
    /// Cipher key Kc = c3(CK, IK).
    pub kc: Kc,
}

/// AUTN = SQN ⊕ AK ‖ AMF ‖ MAC-A.
pub fn autn(sqn: Sqn, ak: &Ak, amf: Amf, mac_a: &Mac) -> Autn {
    let mut b = [0u8; 40];
    b[..6].copy_from_slice(&sqn.conceal(ak));
    b[6..8].copy_from_slice(&amf.0);
    b[8..8 + mac_a.len()].copy_from_slice(mac_a.as_slice());
    Autn::new(&b[..8 + mac_a.len()])
}

impl AuthAlgorithm {
    /// A UMTS quintet for this RAND, SQN and AMF.
    pub fn umts_vector(&self, rand: Rand, sqn: Sqn, amf: Amf) -> UmtsVector {
        let (mac, xres, ck, ik, ak) = self.vector_outputs(&rand, sqn, amf);
        UmtsVector { rand, xres, ck, ik, autn: autn(sqn, &ak, amf, &mac) }
    }

    /// An E-UTRAN vector for the serving network. The AMF separation bit is set here, whatever
    /// the subscriber's configured AMF says (TS 33.401 §6.1.1).
    pub fn eutran_vector(&self, rand: Rand, sqn: Sqn, amf: Amf, serving_network: &ServingNetwork) -> EutranVector {
        let amf = amf.with_separation_bit();
        let (mac, xres, ck, ik, ak) = self.vector_outputs(&rand, sqn, amf);
        let kasme = kasme(&ck, &ik, serving_network, &sqn.conceal(&ak));
        EutranVector { rand, xres, autn: autn(sqn, &ak, amf, &mac), kasme }
    }

    /// A GSM triplet: SRES and Kc converted from f2, f3, f4 (which do not depend on SQN).
    pub fn gsm_triplet(&self, rand: Rand) -> Result<GsmTriplet> {
        let (xres, ck, ik) = match self {
            Self::Milenage(m) => {
                let (_, xres, ck, ik, _) = m.vector_outputs(&rand, Sqn::new(0)?, Amf([0, 0]));
                (xres, ck, ik)
            }
            Self::Tuak(t) => {
                let (xres, ck, ik, _) = t.f2345(&rand);
                (xres, ck, ik)
            }
        };
        Ok(GsmTriplet { rand, sres: c2(&xres)?, kc: c3(&ck, &ik)? })
    }
}

/// Draws `n` RANDs from the OS CSPRNG with a single system call.
pub fn random_rands(n: usize) -> Result<Vec<Rand>> {
    let mut buf = vec![0u8; n * 16];
    fill_random(&mut buf)?;
    Ok(buf.chunks_exact(16).map(|c| Rand(c.try_into().expect("16"))).collect())
}

/// Generates `n` E-UTRAN vectors for one subscriber and serving node: fresh RANDs, and a fresh
/// SQN (SEQ_HE + 1 ‖ `ind`) for each. The counter is advanced only for vectors actually produced.
pub fn eutran_batch(
    alg: &AuthAlgorithm,
    counter: &mut SqnCounter,
    scheme: &SqnScheme,
    ind: u32,
    amf: Amf,
    serving_network: &ServingNetwork,
    n: usize,
) -> Result<Vec<EutranVector>> {
    let rands = random_rands(n)?;
    let mut out = Vec::with_capacity(n);
    for rand in rands {
        let sqn = counter.next(scheme, ind)?;
        out.push(alg.eutran_vector(rand, sqn, amf, serving_network));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milenage::Milenage;
    use crate::secret::{Key, Opc};

    fn alg() -> AuthAlgorithm {
        Milenage::new(&Key::from_slice(&[1; 16]).unwrap(), &Opc::from_slice(&[2; 16]).unwrap()).unwrap().into()
    }

    #[test]
    fn eutran_vector_sets_separation_bit_and_binds_kasme_to_network() {
        let a = alg();
        let sn1 = ServingNetwork::from_mcc_mnc("001", "01").unwrap();
        let sn2 = ServingNetwork::from_mcc_mnc("001", "02").unwrap();
        let sqn = Sqn::new(33).unwrap();
        let v1 = a.eutran_vector(Rand([5; 16]), sqn, Amf([0, 0]), &sn1);
        let v2 = a.eutran_vector(Rand([5; 16]), sqn, Amf([0, 0]), &sn2);
        assert_eq!(v1.autn.as_slice()[6], 0x80);
        assert_eq!(v1.autn.len(), 16);
        assert_eq!(v1.xres, v2.xres);
        assert_ne!(v1.kasme, v2.kasme);
        let q = a.umts_vector(Rand([5; 16]), sqn, Amf([0, 0]));
        assert_eq!(q.autn.as_slice()[6], 0x00, "UMTS vectors keep the configured AMF");
    }

    #[test]
    fn gsm_triplet_is_conversion_of_quintet() {
        let a = alg();
        let q = a.umts_vector(Rand([9; 16]), Sqn::new(1).unwrap(), Amf([0, 0]));
        let t = a.gsm_triplet(Rand([9; 16])).unwrap();
        assert_eq!(t.sres, c2(&q.xres).unwrap());
        assert_eq!(t.kc, c3(&q.ck, &q.ik).unwrap());
    }

    #[test]
    fn batch_uses_fresh_rands_and_increasing_sqns() {
        let a = alg();
        let scheme = SqnScheme::default();
        let mut counter = SqnCounter::new(100);
        let sn = ServingNetwork::from_mcc_mnc("001", "01").unwrap();
        let v = eutran_batch(&a, &mut counter, &scheme, 7, Amf([0, 0]), &sn, 5).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(counter.seq_he(), 105);
        let rands: std::collections::HashSet<_> = v.iter().map(|x| x.rand).collect();
        assert_eq!(rands.len(), 5);
    }
}
