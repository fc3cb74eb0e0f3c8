//! [`Octets`]: an IE value's bytes, held inline up to 30 octets (nearly every GTP-C IE, an APN
//! included) so that decoding a message allocates only its IE lists, never per IE.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// How many octets are held without an allocation.
const INLINE: usize = 30;

/// Bytes of an IE value or extension header, as they came.
#[derive(Clone)]
pub struct Octets(Repr);

#[derive(Clone)]
enum Repr {
    /// `buf[..len]` are the octets; what follows is unspecified and never read.
    Inline {
        len: u8,
        buf: [u8; INLINE],
    },
    Heap(Box<[u8]>),
}

impl Octets {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// `all[start..start + len]`, copied with one fixed-size copy when `all` has `INLINE` octets from
    /// `start` (the decoder's fast path: no variable-length copy, no allocation). The caller has
    /// checked that `start + len <= all.len()`.
    pub(crate) fn from_window(all: &[u8], start: usize, len: usize) -> Octets {
        if len > INLINE {
            return Octets(Repr::Heap(all[start..start + len].into()));
        }
        let mut buf = [0u8; INLINE];
        match all.get(start..start + INLINE) {
            Some(w) => buf.copy_from_slice(w),
            None => buf[..len].copy_from_slice(&all[start..start + len]),
        }
        Octets(Repr::Inline { len: len as u8, buf })
    }
}

impl Default for Octets {
    fn default() -> Octets {
        Octets(Repr::Inline { len: 0, buf: [0; INLINE] })
    }
}

impl Deref for Octets {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Octets {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Octets {
    fn eq(&self, other: &Octets) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Octets {}

impl Hash for Octets {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl From<&[u8]> for Octets {
    fn from(b: &[u8]) -> Octets {
        Octets::from_window(b, 0, b.len())
    }
}

impl From<Vec<u8>> for Octets {
    fn from(v: Vec<u8>) -> Octets {
        if v.len() > INLINE {
            Octets(Repr::Heap(v.into_boxed_slice()))
        } else {
            Octets::from(v.as_slice())
        }
    }
}

impl<const N: usize> From<[u8; N]> for Octets {
    fn from(a: [u8; N]) -> Octets {
        Octets::from(&a[..])
    }
}

impl fmt::Debug for Octets {
    /// Hex, e.g. `Octets(0a1b2c)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Octets(")?;
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::Octets;

    #[test]
    fn inline_and_heap_values_compare_by_their_octets_only() {
        let all: Vec<u8> = (0..100).collect();
        let a = Octets::from_window(&all, 10, 3);
        assert_eq!(&a[..], [10, 11, 12]);
        assert_eq!(a, Octets::from(vec![10, 11, 12]), "the rest of the inline window is not compared");
        assert_eq!(&Octets::from_window(&all, 98, 2)[..], [98, 99]);
        let long = Octets::from_window(&all, 0, 40);
        assert_eq!(long.len(), 40);
        assert_eq!(long, Octets::from((0..40).collect::<Vec<u8>>()));
        assert_eq!(format!("{:?}", Octets::from([0xab, 1])), "Octets(ab01)");
    }
}
