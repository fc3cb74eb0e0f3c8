//! KIc and KID (ETSI TS 102 225 §5.1.2, §5.1.3): the algorithm and key index they code, and the OTA
//! key set ([`KeySet`]) whose keys zeroize on drop and never print.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Field, OtaError, Result};
use crate::spi::Integrity;

/// A block cipher in CBC mode with a zero IV, as the KIc (or, for a CC, the KID) codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockAlgorithm {
    /// Single DES (b1b2 = 01, b3b4 = 00); kept for old cards.
    Des,
    /// Triple DES, outer CBC, two keys (b1b2 = 01, b3b4 = 01).
    TripleDes2,
    /// Triple DES, outer CBC, three keys (b1b2 = 01, b3b4 = 10).
    TripleDes3,
    /// AES (b1b2 = 10, b3b4 = 00): CBC for ciphering, CMAC for a CC; key of 16, 24 or 32 bytes.
    Aes,
}

impl BlockAlgorithm {
    /// Block size in bytes.
    pub fn block_size(self) -> usize {
        match self {
            BlockAlgorithm::Aes => 16,
            _ => 8,
        }
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            BlockAlgorithm::Des => "DES",
            BlockAlgorithm::TripleDes2 => "3DES with 2 keys",
            BlockAlgorithm::TripleDes3 => "3DES with 3 keys",
            BlockAlgorithm::Aes => "AES",
        }
    }

    /// Checks that `key` suits the algorithm; `field` names the key in the error.
    pub fn check_key(self, key: &[u8], field: Field) -> Result<()> {
        let (ok, expected) = match self {
            BlockAlgorithm::Des => (key.len() == 8, "8"),
            BlockAlgorithm::TripleDes2 => (key.len() == 16, "16"),
            BlockAlgorithm::TripleDes3 => (key.len() == 24, "24"),
            BlockAlgorithm::Aes => (matches!(key.len(), 16 | 24 | 32), "16, 24 or 32"),
        };
        if ok {
            Ok(())
        } else {
            Err(OtaError::KeyLength { field, algorithm: self.name(), expected, got: key.len() })
        }
    }

    /// Decodes the algorithm nibble (b1-b4) of a KIc, or of a KID used for a CC.
    fn from_nibble(byte: u8, field: Field) -> Result<BlockAlgorithm> {
        let unsupported = |what: &str| OtaError::Unsupported { field, reason: format!("{byte:#04x}: {what}") };
        match (byte & 3, (byte >> 2) & 3) {
            (0, _) => Err(unsupported("algorithm known implicitly (b1b2 = 00) is not supported; name it")),
            (1, 0) => Ok(BlockAlgorithm::Des),
            (1, 1) => Ok(BlockAlgorithm::TripleDes2),
            (1, 2) => Ok(BlockAlgorithm::TripleDes3),
            (1, _) => Err(unsupported("DES in ECB mode is not supported")),
            (2, 0) => Ok(BlockAlgorithm::Aes),
            (2, _) => Err(unsupported("reserved AES mode (b3b4 must be 00)")),
            _ => Err(unsupported("proprietary algorithm (b1b2 = 11) is not supported")),
        }
    }
}

/// The RC/CC algorithm a KID codes, given the SPI's integrity choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckAlgorithm {
    /// CRC32 (ISO/IEC 13239, as zlib), 4 bytes.
    Crc32,
    /// A cryptographic checksum with this algorithm (DES/3DES CBC-MAC or AES-CMAC), 8 bytes.
    Cc(BlockAlgorithm),
}

impl CheckAlgorithm {
    /// Length of the RC/CC in a packet.
    pub fn len(self) -> usize {
        match self {
            CheckAlgorithm::Crc32 => 4,
            CheckAlgorithm::Cc(_) => 8,
        }
    }

    /// Always false: a check is never empty (clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// The ciphering algorithm and key index of a KIc byte.
pub fn kic_algorithm(kic: u8) -> Result<BlockAlgorithm> {
    BlockAlgorithm::from_nibble(kic, Field::Kic)
}

/// The RC/CC algorithm of a KID byte for the integrity an SPI asks for (`None` when it asks for none).
pub fn kid_algorithm(kid: u8, integrity: Integrity, field_of_spi: Field) -> Result<Option<CheckAlgorithm>> {
    match integrity {
        Integrity::None => Ok(None),
        Integrity::Ds => Err(OtaError::Unsupported {
            field: field_of_spi,
            reason: "digital signature (DS) is not supported; use a CC".into(),
        }),
        Integrity::Cc => BlockAlgorithm::from_nibble(kid, Field::Kid).map(|a| Some(CheckAlgorithm::Cc(a))),
        Integrity::Rc => match (kid & 3, (kid >> 2) & 3) {
            (1, 1) => Ok(Some(CheckAlgorithm::Crc32)),
            (1, 0) => {
                Err(OtaError::Unsupported { field: Field::Kid, reason: format!("{kid:#04x}: CRC16 is not supported") })
            }
            _ => Err(OtaError::Unsupported {
                field: Field::Kid,
                reason: format!("{kid:#04x}: not a supported RC algorithm (CRC32 is 0x?5)"),
            }),
        },
    }
}

/// An OTA key (up to 32 bytes): zeroized on drop, printed as `[redacted]`, compared in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct OtaKey {
    bytes: [u8; 32],
    len: usize,
}

impl OtaKey {
    /// Copies a key of at most 32 bytes; `field` names it in the error.
    pub fn new(key: &[u8], field: Field) -> Result<OtaKey> {
        if key.len() > 32 {
            return Err(OtaError::Length { field, expected: "at most 32 bytes", got: key.len() });
        }
        let mut out = OtaKey { bytes: [0; 32], len: key.len() };
        out.bytes[..key.len()].copy_from_slice(key);
        Ok(out)
    }

    /// The key bytes. Every caller is a place where key material leaves its wrapper.
    pub fn expose(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl PartialEq for OtaKey {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && bool::from(self.expose().ct_eq(other.expose()))
    }
}
impl Eq for OtaKey {}

impl fmt::Debug for OtaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One OTA key set of a SIM: the KIc and KID bytes (algorithm + key index) and their keys.
///
/// The keys are checked against the algorithms when a packet is built or opened, because whether
/// each key is needed depends on the SPI (no ciphering: no KIc key; RC: no KID key).
#[derive(Clone, PartialEq, Eq)]
pub struct KeySet {
    /// KIc byte.
    pub kic: u8,
    /// KID byte.
    pub kid: u8,
    enc: OtaKey,
    mac: OtaKey,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySet {{ kic: {:#04x}, kid: {:#04x}, keys: [redacted] }}", self.kic, self.kid)
    }
}

impl KeySet {
    /// A key set from its KIc/KID bytes and its ciphering and CC keys (either may be empty when the
    /// SPI in use does not need it).
    pub fn new(kic: u8, kid: u8, enc_key: &[u8], mac_key: &[u8]) -> Result<KeySet> {
        Ok(KeySet { kic, kid, enc: OtaKey::new(enc_key, Field::EncKey)?, mac: OtaKey::new(mac_key, Field::MacKey)? })
    }

    /// The key index (b5-b8) of the KIc.
    pub fn kic_index(&self) -> u8 {
        self.kic >> 4
    }

    /// The key index (b5-b8) of the KID.
    pub fn kid_index(&self) -> u8 {
        self.kid >> 4
    }

    /// The ciphering algorithm, with the ciphering key checked against it.
    pub(crate) fn cipher(&self) -> Result<(BlockAlgorithm, &[u8])> {
        let alg = kic_algorithm(self.kic)?;
        alg.check_key(self.enc.expose(), Field::EncKey)?;
        Ok((alg, self.enc.expose()))
    }

    /// The RC/CC algorithm for `integrity`, with the CC key checked against it.
    pub(crate) fn check(&self, integrity: Integrity) -> Result<Option<(CheckAlgorithm, &[u8])>> {
        let Some(alg) = kid_algorithm(self.kid, integrity, Field::Spi)? else { return Ok(None) };
        if let CheckAlgorithm::Cc(block) = alg {
            block.check_key(self.mac.expose(), Field::MacKey)?;
        }
        Ok(Some((alg, self.mac.expose())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kic_nibbles_decode_as_ts_102_225_codes_them() {
        assert_eq!(kic_algorithm(0x35).unwrap(), BlockAlgorithm::TripleDes2);
        assert_eq!(kic_algorithm(0x19).unwrap(), BlockAlgorithm::TripleDes3);
        assert_eq!(kic_algorithm(0x22).unwrap(), BlockAlgorithm::Aes);
        assert_eq!(kic_algorithm(0x11).unwrap(), BlockAlgorithm::Des);
        for bad in [0x10, 0x1D, 0x23, 0x13] {
            let e = kic_algorithm(bad).unwrap_err();
            assert_eq!(e.field(), Field::Kic, "{e}");
            assert!(e.is_parameter_error());
        }
        assert_eq!(kid_algorithm(0x15, Integrity::Rc, Field::Spi).unwrap(), Some(CheckAlgorithm::Crc32));
        assert!(kid_algorithm(0x11, Integrity::Rc, Field::Spi).unwrap_err().to_string().contains("CRC16"));
        assert!(kid_algorithm(0x15, Integrity::Ds, Field::Spi).unwrap_err().to_string().contains("digital signature"));
    }

    #[test]
    fn keys_are_checked_per_algorithm_and_never_printed() {
        let ks = KeySet::new(0x22, 0x22, &[7; 8], &[9; 16]).unwrap();
        let e = ks.cipher().unwrap_err();
        assert_eq!(e.to_string(), "enc-key: AES takes a key of 16, 24 or 32 bytes, got 8 bytes");
        assert!(ks.check(Integrity::Cc).is_ok());
        assert!(!format!("{ks:?}").contains("09"));
    }
}
