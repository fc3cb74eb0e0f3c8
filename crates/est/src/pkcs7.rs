//! The "certs-only" PKCS#7 / CMS message EST answers with (RFC 7030 §4.1.3, §4.2.3; RFC 5652
//! §5: a SignedData with no signers and no content, only certificates), and the CSR attributes
//! answer (RFC 7030 §4.5.2).

use crate::der::{self, oid, tag};

/// A degenerate SignedData carrying `certs` (DER certificates), wrapped in a ContentInfo.
pub fn certs_only(certs: &[&[u8]]) -> Vec<u8> {
    let signed_data = der::seq(&[
        &der::tlv(tag::INTEGER, &[1]),
        &der::tlv(tag::SET, &[]),
        &der::seq(&[&der::oid(oid::DATA)]),
        &der::constructed(0xa0, certs),
        &der::tlv(tag::SET, &[]),
    ]);
    der::seq(&[&der::oid(oid::SIGNED_DATA), &der::constructed(0xa0, &[&signed_data])])
}

/// The CSR attributes Warden asks for: an ECDSA P-256 key (id-ecPublicKey with the curve
/// secp256r1, RFC 7030 §4.5.2) and a signature with ecdsa-with-SHA256.
pub fn csr_attributes() -> Vec<u8> {
    der::seq(&[
        &der::seq(&[&der::oid(oid::EC_PUBLIC_KEY), &der::constructed(tag::SET, &[&der::oid(oid::SECP256R1)])]),
        &der::oid(oid::ECDSA_SHA256),
    ])
}

/// Base64 as EST sends it: lines of 64 characters ending in CRLF.
pub fn base64_lines(data: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 2);
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// Decodes base64 that may be broken into lines (white space ignored).
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certs_only_structure() {
        let cert = der::seq(&[&der::tlv(tag::INTEGER, &[5])]);
        let p7 = certs_only(&[&cert]);
        let mut outer = der::Reader::new(&p7);
        let ci = outer.expect(tag::SEQUENCE, "ContentInfo").unwrap();
        assert!(outer.is_empty());
        let mut r = der::Reader::new(ci.content);
        assert_eq!(r.expect(tag::OID, "oid").unwrap().content, oid::SIGNED_DATA);
        let explicit = r.expect(0xa0, "[0]").unwrap();
        let sd = der::Reader::new(explicit.content).expect(tag::SEQUENCE, "SignedData").unwrap();
        let mut r = der::Reader::new(sd.content);
        assert_eq!(r.expect(tag::INTEGER, "version").unwrap().content, [1]);
        assert!(r.expect(tag::SET, "digests").unwrap().content.is_empty());
        r.expect(tag::SEQUENCE, "encap").unwrap();
        assert_eq!(r.expect(0xa0, "certificates").unwrap().content, cert.as_slice());
        assert!(r.expect(tag::SET, "signers").unwrap().content.is_empty());
    }

    #[test]
    fn base64_round_trip_with_line_breaks() {
        let data: Vec<u8> = (0..=255).collect();
        let text = base64_lines(&data);
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(decode_base64(text.as_bytes()).unwrap(), data);
        assert!(decode_base64(b"not base64 !").is_none());
    }
}
