//! Sealing of K and OPc/TOPc at rest (ID-1): AES-256-GCM under a key-encryption key (KEK) from a file
//! or an environment variable. The IMSI and field name are the associated data, so a sealed blob moved
//! to another subscriber or column does not open. Blobs name their KEK, so several KEKs can be loaded
//! at once while a rotation re-seals rows in the background.
//!
//! Blob layout: `0x01 ‖ kek_id (4, BE) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, Zeroizing};

/// Sealing errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The KEK file or variable is not 64 hex characters.
    #[error("key-encryption key must be 64 hex characters (32 bytes): {0}")]
    BadKek(String),
    /// The blob names a KEK that is not loaded.
    #[error("sealed value uses KEK {0}, which is not loaded")]
    UnknownKek(u32),
    /// Authentication failed: wrong key, wrong subscriber, or tampering.
    #[error("sealed value does not open (wrong KEK, moved between rows, or tampered)")]
    Open,
    /// The blob is too short or has an unknown version.
    #[error("sealed value is malformed")]
    Malformed,
    /// The OS random generator failed.
    #[error("random generator failed")]
    Rng,
}

/// A key-encryption key with its id.
pub struct Kek {
    id: u32,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek(id {}, [redacted])", self.id)
    }
}

impl Kek {
    /// From 32 bytes.
    pub fn from_bytes(id: u32, bytes: &[u8; 32]) -> Self {
        Self { id, cipher: Aes256Gcm::new(bytes.into()) }
    }

    /// From 64 hex characters (surrounding white space ignored).
    pub fn from_hex(id: u32, text: &str) -> Result<Self, SealError> {
        let mut raw = Zeroizing::new(hex::decode(text.trim()).map_err(|e| SealError::BadKek(e.to_string()))?);
        let arr: &[u8; 32] =
            raw.as_slice().try_into().map_err(|_| SealError::BadKek(format!("{} bytes", raw.len())))?;
        let kek = Self::from_bytes(id, arr);
        raw.zeroize();
        Ok(kek)
    }

    /// A KEK's id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// The loaded KEKs: one current (for sealing) and any older ones still being rotated away.
#[derive(Debug)]
pub struct Keyring {
    current: Kek,
    older: Vec<Kek>,
}

fn aad(imsi: &str, field: &str) -> Vec<u8> {
    [imsi.as_bytes(), b"\0", field.as_bytes()].concat()
}

impl Keyring {
    /// A keyring sealing with `current` and able to open blobs of `older` KEKs.
    pub fn new(current: Kek, older: Vec<Kek>) -> Self {
        Self { current, older }
    }

    /// The id of the sealing KEK.
    pub fn current_id(&self) -> u32 {
        self.current.id
    }

    /// Seals `plaintext` for the column `field` of subscriber `imsi`.
    pub fn seal(&self, imsi: &str, field: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; 12];
        auc::fill_random(&mut nonce).map_err(|_| SealError::Rng)?;
        let ct = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: &aad(imsi, field) })
            .map_err(|_| SealError::Malformed)?;
        let mut out = Vec::with_capacity(17 + ct.len());
        out.push(1);
        out.extend_from_slice(&self.current.id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a blob sealed for (`imsi`, `field`). The result wipes itself when dropped.
    pub fn open(&self, imsi: &str, field: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if blob.len() < 1 + 4 + 12 + 16 || blob[0] != 1 {
            return Err(SealError::Malformed);
        }
        let id = u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]);
        let kek =
            std::iter::once(&self.current).chain(&self.older).find(|k| k.id == id).ok_or(SealError::UnknownKek(id))?;
        kek.cipher
            .decrypt(
                &Nonce::from(<[u8; 12]>::try_from(&blob[5..17]).expect("12 bytes")),
                Payload { msg: &blob[17..], aad: &aad(imsi, field) },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }

    /// The KEK id a blob was sealed with.
    pub fn blob_kek(blob: &[u8]) -> Option<u32> {
        (blob.len() >= 5 && blob[0] == 1).then(|| u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(Kek::from_bytes(2, &[7; 32]), vec![Kek::from_bytes(1, &[6; 32])])
    }

    #[test]
    fn seal_open_and_binding() {
        let r = ring();
        let blob = r.seal("001010000000001", "k", b"secret key bytes").unwrap();
        assert!(!blob.windows(6).any(|w| w == b"secret"), "ciphertext does not contain the plaintext");
        assert_eq!(&**r.open("001010000000001", "k", &blob).unwrap(), b"secret key bytes");
        assert_eq!(r.open("001010000000002", "k", &blob), Err(SealError::Open));
        assert_eq!(r.open("001010000000001", "opc", &blob), Err(SealError::Open));
        let mut t = blob.clone();
        *t.last_mut().unwrap() ^= 1;
        assert_eq!(r.open("001010000000001", "k", &t), Err(SealError::Open));
        assert_eq!(r.open("x", "k", &[1, 2]), Err(SealError::Malformed));
    }

    #[test]
    fn rotation_opens_old_blobs_and_seals_with_new() {
        let old = Keyring::new(Kek::from_bytes(1, &[6; 32]), vec![]);
        let blob = old.seal("1", "k", b"abc").unwrap();
        let r = ring();
        assert_eq!(&**r.open("1", "k", &blob).unwrap(), b"abc");
        assert_eq!(Keyring::blob_kek(&r.seal("1", "k", b"abc").unwrap()), Some(2));
        let only_new = Keyring::new(Kek::from_bytes(2, &[7; 32]), vec![]);
        assert_eq!(only_new.open("1", "k", &blob), Err(SealError::UnknownKek(1)));
    }

    #[test]
    fn kek_parsing() {
        assert!(Kek::from_hex(1, &"ab".repeat(32)).is_ok());
        assert!(matches!(Kek::from_hex(1, "abcd"), Err(SealError::BadKek(_))));
        assert!(matches!(Kek::from_hex(1, &"zz".repeat(32)), Err(SealError::BadKek(_))));
        assert!(!format!("{:?}", Kek::from_bytes(1, &[9; 32])).contains('9'));
    }
}
