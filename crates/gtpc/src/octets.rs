//! [`Octets`]: an IE value's bytes, held inline up to 24 octets (nearly every GTP-C IE) so that decoding
//! a message allocates only its IE lists, never per IE.

use std::fmt;
use std::ops::Deref;

use smallvec::SmallVec;

/// Bytes of an IE value or extension header, as they came.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Octets(SmallVec<[u8; 24]>);

impl Octets {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for Octets {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Octets {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Octets {
    fn from(b: &[u8]) -> Octets {
        Octets(SmallVec::from_slice(b))
    }
}

impl From<Vec<u8>> for Octets {
    fn from(v: Vec<u8>) -> Octets {
        Octets(SmallVec::from_vec(v))
    }
}

impl<const N: usize> From<[u8; N]> for Octets {
    fn from(a: [u8; N]) -> Octets {
        Octets(SmallVec::from_slice(&a))
    }
}

impl fmt::Debug for Octets {
    /// Hex, e.g. `Octets(0a1b2c)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Octets(")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}
