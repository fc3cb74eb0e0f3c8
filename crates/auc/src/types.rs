//! Public (non-secret) values of the authentication procedures: RAND, SQN, AMF, AK, MAC, RES, AUTN,
//! AUTS and the serving network identity.

use core::fmt;

use crate::error::{fixed, AucError, Result};

/// A short byte string of up to `CAP` bytes, stored inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes<const CAP: usize> {
    bytes: [u8; CAP],
    len: u8,
}

impl<const CAP: usize> Bytes<CAP> {
    /// Copies `bytes`; more than `CAP` bytes is a programming error and panics.
    pub fn new(bytes: &[u8]) -> Self {
        assert!(bytes.len() <= CAP && CAP <= u8::MAX as usize, "byte string longer than its capacity");
        let mut out = Self { bytes: [0; CAP], len: bytes.len() as u8 };
        out.bytes[..bytes.len()].copy_from_slice(bytes);
        out
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const CAP: usize> AsRef<[u8]> for Bytes<CAP> {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const CAP: usize> fmt::Debug for Bytes<CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A message authentication code from f1 or f1*: 64 bits (MILENAGE, TUAK) or 128/256 bits (TUAK).
pub type Mac = Bytes<32>;
/// A response RES/XRES from f2: 64 bits (MILENAGE) or 32 to 256 bits (TUAK).
pub type Res = Bytes<32>;
/// An authentication token AUTN = SQN⊕AK ‖ AMF ‖ MAC-A (16 bytes with a 64-bit MAC, up to 40).
pub type Autn = Bytes<40>;

/// The 128-bit random challenge RAND.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rand(pub [u8; 16]);

impl Rand {
    /// Parses exactly 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        fixed("RAND", "16 bytes", bytes).map(Self)
    }

    /// A fresh RAND from the operating system's CSPRNG.
    pub fn random() -> Result<Self> {
        let mut r = [0u8; 16];
        fill_random(&mut r)?;
        Ok(Self(r))
    }
}

impl fmt::Debug for Rand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rand({:?})", Bytes::<16>::new(&self.0))
    }
}

/// Fills `buf` from the operating system's CSPRNG (one system call, however long the buffer).
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| AucError::Rng(e.to_string()))
}

/// The 16-bit authentication management field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Amf(pub [u8; 2]);

impl Amf {
    /// AMF 0000, which f1* uses when the USIM computes MAC-S for resynchronisation (TS 33.102 §6.3.3).
    pub const RESYNC: Amf = Amf([0, 0]);

    /// Parses exactly 2 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        fixed("AMF", "2 bytes", bytes).map(Self)
    }

    /// This AMF with the "AMF separation bit" (bit 0, the most significant) set, as TS 33.401 §6.1.1
    /// requires for authentication vectors meant for E-UTRAN.
    pub fn with_separation_bit(self) -> Self {
        Self([self.0[0] | 0x80, self.0[1]])
    }

    /// True when the AMF separation bit is set.
    pub fn separation_bit(self) -> bool {
        self.0[0] & 0x80 != 0
    }
}

/// A 48-bit sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Sqn(u64);

impl Sqn {
    /// The largest 48-bit value.
    pub const MAX: u64 = (1 << 48) - 1;

    /// Accepts values below 2^48.
    pub fn new(value: u64) -> Result<Self> {
        if value > Self::MAX {
            return Err(AucError::SqnOutOfRange(value));
        }
        Ok(Self(value))
    }

    /// Parses exactly 6 big-endian bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let b: [u8; 6] = fixed("SQN", "6 bytes", bytes)?;
        Ok(Self::from_bytes(b))
    }

    /// From 6 big-endian bytes.
    pub fn from_bytes(b: [u8; 6]) -> Self {
        Self(u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]))
    }

    /// The value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// 6 big-endian bytes.
    pub fn to_bytes(self) -> [u8; 6] {
        let b = self.0.to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }

    /// SQN ⊕ AK, the concealed sequence number carried in AUTN and AUTS.
    pub fn conceal(self, ak: &Ak) -> [u8; 6] {
        xor6(self.to_bytes(), ak.0)
    }
}

/// The 48-bit anonymity key from f5 or f5*.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ak(pub [u8; 6]);

impl fmt::Debug for Ak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ak({:?})", Bytes::<6>::new(&self.0))
    }
}

pub(crate) fn xor6(a: [u8; 6], b: [u8; 6]) -> [u8; 6] {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// The serving network identity used in K_ASME derivation: the PLMN id encoded in three octets as in
/// TS 24.301 §9.9.3.32 / TS 24.008 (MCC digit 2 ‖ MCC digit 1, MNC digit 3 ‖ MCC digit 3,
/// MNC digit 2 ‖ MNC digit 1; MNC digit 3 is F for two-digit MNCs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ServingNetwork(pub [u8; 3]);

impl ServingNetwork {
    /// Takes the three encoded octets (as carried in the Visited-PLMN-Id AVP).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        fixed("PLMN id", "3 bytes", bytes).map(Self)
    }

    /// Encodes an MCC (3 digits) and MNC (2 or 3 digits), e.g. `("001", "01")`.
    pub fn from_mcc_mnc(mcc: &str, mnc: &str) -> Result<Self> {
        let digits = |s: &str| -> Option<Vec<u8>> { s.bytes().map(|c| c.is_ascii_digit().then(|| c - b'0')).collect() };
        let bad = |what| AucError::InvalidLength { what, expected: "digits: MCC 3, MNC 2 or 3", got: 0 };
        let m = digits(mcc).filter(|d| d.len() == 3).ok_or(bad("MCC"))?;
        let n = digits(mnc).filter(|d| d.len() == 2 || d.len() == 3).ok_or(bad("MNC"))?;
        let mnc3 = if n.len() == 3 { n[2] } else { 0xF };
        Ok(Self([(m[1] << 4) | m[0], (mnc3 << 4) | m[2], (n[1] << 4) | n[0]]))
    }
}

/// A resynchronisation token AUTS = SQN_MS ⊕ AK* ‖ MAC-S (14 bytes with a 64-bit MAC-S; TUAK with a
/// longer MAC-S gives a longer AUTS).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Auts(Bytes<38>);

impl Auts {
    /// Parses an AUTS of 14, 22 or 38 bytes (MAC-S of 64, 128 or 256 bits).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        match bytes.len() {
            14 | 22 | 38 => Ok(Self(Bytes::new(bytes))),
            got => Err(AucError::InvalidLength {
                what: "AUTS",
                expected: "14 bytes (22 or 38 with a 128/256-bit TUAK MAC-S)",
                got,
            }),
        }
    }

    /// Builds an AUTS from its parts (as a USIM would).
    pub fn build(sqn_ms: Sqn, ak_star: &Ak, mac_s: &Mac) -> Self {
        let mut b = [0u8; 38];
        b[..6].copy_from_slice(&sqn_ms.conceal(ak_star));
        b[6..6 + mac_s.len()].copy_from_slice(mac_s.as_slice());
        Self(Bytes::new(&b[..6 + mac_s.len()]))
    }

    /// SQN_MS ⊕ AK*.
    pub fn concealed_sqn(&self) -> [u8; 6] {
        self.0.as_slice()[..6].try_into().expect("AUTS has at least 6 bytes")
    }

    /// MAC-S.
    pub fn mac_s(&self) -> &[u8] {
        &self.0.as_slice()[6..]
    }

    /// The encoded token.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plmn_encoding_follows_ts_24_008() {
        assert_eq!(ServingNetwork::from_mcc_mnc("001", "01").unwrap().0, [0x00, 0xf1, 0x10]);
        assert_eq!(ServingNetwork::from_mcc_mnc("310", "410").unwrap().0, [0x13, 0x00, 0x14]);
        assert_eq!(ServingNetwork::from_mcc_mnc("262", "01").unwrap().0, [0x62, 0xf2, 0x10]);
        assert!(ServingNetwork::from_mcc_mnc("26", "01").is_err());
        assert!(ServingNetwork::from_mcc_mnc("262", "0a").is_err());
    }

    #[test]
    fn sqn_is_48_bits() {
        assert!(Sqn::new(Sqn::MAX).is_ok());
        assert_eq!(Sqn::new(1 << 48), Err(AucError::SqnOutOfRange(1 << 48)));
        let s = Sqn::from_slice(&[0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07]).unwrap();
        assert_eq!(s.value(), 0xff9bb4d0b607);
        assert_eq!(s.to_bytes(), [0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07]);
    }

    #[test]
    fn amf_separation_bit_is_the_top_bit() {
        let a = Amf([0x00, 0x00]).with_separation_bit();
        assert_eq!(a.0, [0x80, 0x00]);
        assert!(a.separation_bit());
        assert!(!Amf([0x7f, 0xff]).separation_bit());
    }

    #[test]
    fn random_rands_differ() {
        assert_ne!(Rand::random().unwrap(), Rand::random().unwrap());
    }

    #[test]
    fn auts_lengths() {
        assert!(Auts::from_slice(&[0; 14]).is_ok());
        assert!(Auts::from_slice(&[0; 15]).is_err());
    }
}
