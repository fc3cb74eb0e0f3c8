//! Choosing an authentication algorithm: names and numbers accepted from configuration and
//! imports, refusal of COMP128 and the XOR test algorithms, and [`AuthAlgorithm`], the common face
//! of MILENAGE and TUAK that vector generation and resynchronisation use.

use core::fmt;
use core::str::FromStr;

use crate::error::{AucError, Result};
use crate::milenage::Milenage;
use crate::secret::{Ck, Ik};
use crate::tuak::Tuak;
use crate::types::{Ak, Amf, Mac, Rand, Res, Sqn};

/// The algorithms Warden runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgorithmKind {
    /// MILENAGE, TS 35.205/35.206 (mandatory per CLP.14 ALG-1).
    Milenage,
    /// TUAK, TS 35.231.
    Tuak,
}

impl fmt::Display for AlgorithmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Milenage => "milenage",
            Self::Tuak => "tuak",
        })
    }
}

const COMP128_REASON: &str = "COMP128 (every version) is broken (key recovery from chosen RANDs, weakened Kc); \
                              CLP.14 ALG-1 requires MILENAGE or TUAK";
const XOR_REASON: &str = "the XOR algorithms of TS 34.108 are test algorithms with no security; \
                          CLP.14 ALG-1 requires MILENAGE or TUAK";

fn refused(name: &str, reason: &'static str) -> AucError {
    AucError::RefusedAlgorithm { name: name.to_string(), reason }
}

impl FromStr for AlgorithmKind {
    type Err = AucError;

    /// Accepts `milenage` and `tuak` in any case. Names of COMP128 (`comp128`, `comp128v1`,
    /// `COMP128-2`, `a3a8`, …) and of the XOR test algorithms (`xor`, `xor-2g`, `xor-3g`, …) are
    /// refused with the reason; anything else is unknown.
    fn from_str(name: &str) -> Result<Self> {
        let folded: String =
            name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        match folded.as_str() {
            "milenage" => Ok(Self::Milenage),
            "tuak" => Ok(Self::Tuak),
            f if f.starts_with("comp128") || f == "a3a8" || f == "a38" => Err(refused(name, COMP128_REASON)),
            f if f.starts_with("xor") || f == "testxor" => Err(refused(name, XOR_REASON)),
            _ => Err(AucError::UnknownAlgorithm(name.to_string())),
        }
    }
}

impl AlgorithmKind {
    /// Maps the algorithm numbers of Osmocom (libosmocore `enum osmo_auth_algo`, as stored by
    /// osmo-hlr): 0 none, 1–3 COMP128v1–v3, 4 XOR (3G), 5 MILENAGE, 6 XOR-2G, 7 TUAK.
    pub fn from_osmocom_id(id: u32) -> Result<Self> {
        let name = format!("osmocom algorithm {id}");
        match id {
            5 => Ok(Self::Milenage),
            7 => Ok(Self::Tuak),
            1..=3 => Err(refused(&name, COMP128_REASON)),
            4 | 6 => Err(refused(&name, XOR_REASON)),
            0 => Err(refused(&name, "no authentication at all")),
            _ => Err(AucError::UnknownAlgorithm(name)),
        }
    }
}

/// MILENAGE or TUAK keyed for one subscriber.
#[derive(Debug, Clone)]
pub enum AuthAlgorithm {
    /// MILENAGE with K and OPc.
    Milenage(Milenage),
    /// TUAK with K, TOPc and its sizes.
    Tuak(Tuak),
}

impl From<Milenage> for AuthAlgorithm {
    fn from(m: Milenage) -> Self {
        Self::Milenage(m)
    }
}

impl From<Tuak> for AuthAlgorithm {
    fn from(t: Tuak) -> Self {
        Self::Tuak(t)
    }
}

impl AuthAlgorithm {
    /// Which algorithm this is.
    pub fn kind(&self) -> AlgorithmKind {
        match self {
            Self::Milenage(_) => AlgorithmKind::Milenage,
            Self::Tuak(_) => AlgorithmKind::Tuak,
        }
    }

    /// f1*: MAC-S over (SQN, RAND, AMF).
    pub fn f1star(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        match self {
            Self::Milenage(m) => Mac::new(&m.f1_f1star(rand, sqn, amf).1),
            Self::Tuak(t) => t.f1star(rand, sqn, amf),
        }
    }

    /// f5*: AK*.
    pub fn f5star(&self, rand: &Rand) -> Ak {
        match self {
            Self::Milenage(m) => m.f5star(rand),
            Self::Tuak(t) => t.f5star(rand),
        }
    }

    /// f1 (MAC-A), f2 (RES), f3 (CK), f4 (IK) and f5 (AK): what one authentication vector needs.
    pub fn vector_outputs(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> (Mac, Res, Ck, Ik, Ak) {
        match self {
            Self::Milenage(m) => m.vector_outputs(rand, sqn, amf),
            Self::Tuak(t) => {
                let (res, ck, ik, ak) = t.f2345(rand);
                (t.f1(rand, sqn, amf), res, ck, ik, ak)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!("MILENAGE".parse::<AlgorithmKind>(), Ok(AlgorithmKind::Milenage));
        assert_eq!("Tuak".parse::<AlgorithmKind>(), Ok(AlgorithmKind::Tuak));
        for name in ["comp128", "COMP128v1", "comp128-2", "Comp128_v3", "A3/A8", "xor", "XOR-3G", "xor_2g", "test-xor"]
        {
            let err = name.parse::<AlgorithmKind>().unwrap_err();
            assert!(matches!(err, AucError::RefusedAlgorithm { .. }), "{name}: {err}");
            assert!(err.to_string().contains("refused"), "{err}");
        }
        assert!(matches!("aes".parse::<AlgorithmKind>(), Err(AucError::UnknownAlgorithm(_))));
    }

    #[test]
    fn osmocom_numbers() {
        assert_eq!(AlgorithmKind::from_osmocom_id(5), Ok(AlgorithmKind::Milenage));
        assert_eq!(AlgorithmKind::from_osmocom_id(7), Ok(AlgorithmKind::Tuak));
        for id in [0, 1, 2, 3, 4, 6] {
            assert!(matches!(AlgorithmKind::from_osmocom_id(id), Err(AucError::RefusedAlgorithm { .. })), "{id}");
        }
        assert!(matches!(AlgorithmKind::from_osmocom_id(99), Err(AucError::UnknownAlgorithm(_))));
    }
}
