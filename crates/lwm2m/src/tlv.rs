//! OMA LwM2M TLV (content format 11542, LwM2M Core §7.4.3). Each entry's type byte: bits 7–6 the
//! identifier kind (object instance, resource instance, multiple resource, resource with value),
//! bit 5 an 8- or 16-bit identifier, bits 4–3 how the length is given (in bits 2–0, or in 1, 2 or 3
//! following bytes). Nested kinds (object instance, multiple resource) hold entries; the others a value.

/// The identifier kind of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Object instance (holds resources).
    ObjectInstance,
    /// Resource instance (a value inside a multiple resource).
    ResourceInstance,
    /// Multiple resource (holds resource instances).
    MultipleResource,
    /// Resource with a value.
    Resource,
}

/// One TLV entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Kind.
    pub kind: Kind,
    /// Identifier.
    pub id: u16,
    /// The value (resources and resource instances) or the raw nested bytes decoded into `children`.
    pub value: Vec<u8>,
    /// Nested entries (object instances and multiple resources).
    pub children: Vec<Tlv>,
}

/// Why bytes are not TLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    /// The entry at the offset runs past the end.
    #[error("TLV entry at offset {0} is cut off")]
    Cut(usize),
    /// Nested too deep (an object instance in a multiple resource, …).
    #[error("TLV entry at offset {0} is nested where it cannot be")]
    Nesting(usize),
}

fn kind_bits(k: Kind) -> u8 {
    match k {
        Kind::ObjectInstance => 0,
        Kind::ResourceInstance => 1,
        Kind::MultipleResource => 2,
        Kind::Resource => 3,
    }
}

/// Decodes a TLV payload (at most two levels of nesting below the top, as the format allows).
pub fn decode(data: &[u8]) -> Result<Vec<Tlv>, TlvError> {
    decode_level(data, 0, 0)
}

fn decode_level(data: &[u8], base: usize, depth: u8) -> Result<Vec<Tlv>, TlvError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let at = base + pos;
        let t = data[pos];
        pos += 1;
        let kind = match t >> 6 {
            0 => Kind::ObjectInstance,
            1 => Kind::ResourceInstance,
            2 => Kind::MultipleResource,
            _ => Kind::Resource,
        };
        let id_len = if t & 0x20 != 0 { 2 } else { 1 };
        let id_bytes = data.get(pos..pos + id_len).ok_or(TlvError::Cut(at))?;
        let id = id_bytes.iter().fold(0u16, |a, b| (a << 8) | u16::from(*b));
        pos += id_len;
        let len_len = usize::from((t >> 3) & 3);
        let len = if len_len == 0 {
            usize::from(t & 7)
        } else {
            let b = data.get(pos..pos + len_len).ok_or(TlvError::Cut(at))?;
            b.iter().fold(0usize, |a, x| (a << 8) | usize::from(*x))
        };
        pos += len_len;
        let value = data.get(pos..pos.checked_add(len).ok_or(TlvError::Cut(at))?).ok_or(TlvError::Cut(at))?;
        let children = match kind {
            Kind::ObjectInstance if depth == 0 => decode_level(value, base + pos, 1)?,
            Kind::MultipleResource if depth <= 1 => decode_level(value, base + pos, 2)?,
            Kind::ObjectInstance | Kind::MultipleResource => return Err(TlvError::Nesting(at)),
            _ => Vec::new(),
        };
        if children.iter().any(|c| match kind {
            Kind::ObjectInstance => !matches!(c.kind, Kind::Resource | Kind::MultipleResource),
            _ => c.kind != Kind::ResourceInstance,
        }) {
            return Err(TlvError::Nesting(at));
        }
        let value = if children.is_empty() && matches!(kind, Kind::Resource | Kind::ResourceInstance) {
            value.to_vec()
        } else {
            Vec::new()
        };
        out.push(Tlv { kind, id, value, children });
        pos += len;
    }
    Ok(out)
}

/// Encodes entries.
pub fn encode(entries: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let body = match e.kind {
            Kind::ObjectInstance | Kind::MultipleResource => encode(&e.children),
            _ => e.value.clone(),
        };
        let mut t = kind_bits(e.kind) << 6;
        if e.id > 255 {
            t |= 0x20;
        }
        let len = body.len();
        let len_bytes: Vec<u8> = match len {
            0..=7 => {
                t |= len as u8;
                vec![]
            }
            8..=0xff => {
                t |= 1 << 3;
                vec![len as u8]
            }
            0x100..=0xffff => {
                t |= 2 << 3;
                (len as u16).to_be_bytes().to_vec()
            }
            _ => {
                t |= 3 << 3;
                (len.min(0xff_ffff) as u32).to_be_bytes()[1..].to_vec()
            }
        };
        out.push(t);
        if e.id > 255 {
            out.extend_from_slice(&e.id.to_be_bytes());
        } else {
            out.push(e.id as u8);
        }
        out.extend_from_slice(&len_bytes);
        out.extend_from_slice(&body[..body.len().min(0xff_ffff)]);
    }
    out
}

/// An integer value (1, 2, 4 or 8 bytes, two's complement, big-endian).
pub fn int_value(v: &[u8]) -> Option<i64> {
    match v.len() {
        1 => Some(i64::from(v[0] as i8)),
        2 => Some(i64::from(i16::from_be_bytes([v[0], v[1]]))),
        4 => Some(i64::from(i32::from_be_bytes(v.try_into().ok()?))),
        8 => Some(i64::from_be_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

/// An integer in the shortest of 1, 2, 4 or 8 bytes.
pub fn int_bytes(v: i64) -> Vec<u8> {
    if let Ok(x) = i8::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i16::try_from(v) {
        x.to_be_bytes().to_vec()
    } else if let Ok(x) = i32::try_from(v) {
        x.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LwM2M Core TS 1.1 §7.4.3.2, Example: the Device object instance /3/0 read as resources
    /// (Manufacturer "Open Mobile Alliance", Model Number "Lightweight M2M Client", …, the Available
    /// Power Sources multiple resource 0 and 1).
    #[test]
    fn device_object_example_of_the_specification() {
        let bytes = [
            0xC8, 0x00, 0x14, b'O', b'p', b'e', b'n', b' ', b'M', b'o', b'b', b'i', b'l', b'e', b' ', b'A', b'l', b'l',
            b'i', b'a', b'n', b'c', b'e', 0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05,
        ];
        let d = decode(&bytes).unwrap();
        assert_eq!(d[0].kind, Kind::Resource);
        assert_eq!(d[0].value, b"Open Mobile Alliance");
        assert_eq!(d[1].kind, Kind::MultipleResource);
        assert_eq!(d[1].children.len(), 2);
        assert_eq!(int_value(&d[1].children[1].value), Some(5));
        assert_eq!(encode(&d), bytes);
    }

    #[test]
    fn cut_and_misnested_refused() {
        assert!(decode(&[0xC8, 0x00, 0x14, b'O']).is_err());
        // A multiple resource holding an object instance.
        assert!(decode(&[0x86, 0x06, 0x01, 0x00]).is_err());
        assert_eq!(int_bytes(-2), vec![0xfe]);
        assert_eq!(int_value(&int_bytes(1 << 40)), Some(1 << 40));
    }
}
