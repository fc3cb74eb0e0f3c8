//! The few DER pieces EST, PKCS#7 and OCSP need that the certificate libraries do not offer: a
//! reader of tag-length-value items (definite lengths only, as DER requires) and writers of the
//! same, plus the object identifiers used here (values from the RFCs named beside them).

/// Why DER input is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub &'static str);

/// Universal tags.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// ENUMERATED.
    pub const ENUMERATED: u8 = 0x0a;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;
}

/// Encoded object identifiers (the content octets, without tag and length).
pub mod oid {
    /// id-data, RFC 5652.
    pub const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    /// id-signedData, RFC 5652.
    pub const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    /// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1), RFC 6960.
    pub const OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
    /// id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2), RFC 6960 §4.4.1.
    pub const OCSP_NONCE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
    /// id-ad-ocsp (1.3.6.1.5.5.7.48.1), RFC 5280.
    pub const AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    /// id-ad-caIssuers (1.3.6.1.5.5.7.48.2), RFC 5280.
    pub const AD_CA_ISSUERS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    /// id-sha1 (1.3.14.3.2.26).
    pub const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    /// id-sha256 (2.16.840.1.101.3.4.2.1).
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// ecdsa-with-SHA256 (1.2.840.10045.4.3.2), RFC 5758.
    pub const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// id-ecPublicKey (1.2.840.10045.2.1), RFC 5480.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// secp256r1 (1.2.840.10045.3.1.7), RFC 5480.
    pub const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// id-pe-authorityInfoAccess (1.3.6.1.5.5.7.1.1) as arcs, for rcgen's custom extensions.
    pub const AIA_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
}

/// One item: its tag, its content, and the whole encoding (tag and length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// Identifier octet.
    pub tag: u8,
    /// Content octets.
    pub content: &'a [u8],
    /// The whole item.
    pub raw: &'a [u8],
}

/// Reads items one after another from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// Nothing left.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next item, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next item.
    pub fn next_item(&mut self) -> Result<Item<'a>, DerError> {
        let data = self.rest;
        let (&tag, after) = data.split_first().ok_or(DerError("truncated: item expected"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not used here"));
        }
        let (&first, after) = after.split_first().ok_or(DerError("truncated length"))?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 {
                return Err(DerError("indefinite length"));
            }
            if n > 4 || after.len() < n {
                return Err(DerError("length too long"));
            }
            let len = after[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &after[n..])
        };
        if after.len() < len {
            return Err(DerError("truncated: content shorter than its length"));
        }
        let header = data.len() - after.len();
        self.rest = &after[len..];
        Ok(Item { tag, content: &after[..len], raw: &data[..header + len] })
    }

    /// The next item, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Item<'a>, DerError> {
        let item = self.next_item()?;
        if item.tag != tag {
            return Err(DerError(what));
        }
        Ok(item)
    }

    /// The next item if it has `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Item<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            return self.next_item().map(Some);
        }
        Ok(None)
    }
}

/// One item from `tag` and `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed item with `tag` whose content is `parts` one after another.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// A SEQUENCE of `parts`.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// An OBJECT IDENTIFIER.
pub fn oid(content: &[u8]) -> Vec<u8> {
    tlv(tag::OID, content)
}

/// A GeneralizedTime (`YYYYMMDDHHMMSSZ`) of Unix seconds `t` (crate `utc`; outside the years
/// 0000–9999, 1970-01-01).
pub fn generalized_time(t: i64) -> Vec<u8> {
    let d = utc::Civil::from_unix(t).unwrap_or(utc::Civil::EPOCH);
    let text = format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", d.year, d.month, d.day, d.hour, d.minute, d.second);
    tlv(tag::GENERALIZED_TIME, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_bad_lengths_are_refused() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let item = tlv(tag::OCTET_STRING, &vec![7; n]);
            let mut r = Reader::new(&item);
            let got = r.next_item().unwrap();
            assert_eq!((got.tag, got.content.len(), got.raw.len()), (tag::OCTET_STRING, n, item.len()));
            assert!(r.is_empty());
        }
        assert_eq!(tlv(tag::NULL, &[0; 200])[..3], [0x05, 0x81, 200]);
        assert!(Reader::new(&[0x30, 0x80, 0, 0]).next_item().is_err(), "indefinite length");
        assert!(Reader::new(&[0x30, 0x05, 1]).next_item().is_err(), "truncated content");
        assert!(Reader::new(&[0x30]).next_item().is_err(), "no length");
        assert!(Reader::new(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]).next_item().is_err(), "huge length");
    }

    #[test]
    fn generalized_time_is_utc_seconds() {
        assert_eq!(generalized_time(0), tlv(tag::GENERALIZED_TIME, b"19700101000000Z"));
        assert_eq!(generalized_time(1_700_000_000), tlv(tag::GENERALIZED_TIME, b"20231114221320Z"));
    }
}
