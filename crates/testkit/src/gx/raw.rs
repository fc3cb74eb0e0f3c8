//! AVPs by raw code and vendor: built with the flags the specification gives, and read whatever
//! type the dictionary gave them on decoding (a Gx AVP the dictionary does not know arrives as an
//! OctetString, a known one typed), so the P-GW never depends on the dictionary's Gx entries.

use diameter::avp::avp_flags;
use diameter::{Avp, RawAvps, Value};

use super::codes::VENDOR_3GPP;

/// An AVP with `code`, `vendor` (None for IETF AVPs) and the M bit when `mandatory`.
pub fn avp(code: u32, vendor: Option<u32>, mandatory: bool, value: impl Into<Value>) -> Avp {
    let m = if mandatory { avp_flags::M } else { 0 };
    let v = if vendor.is_some() { avp_flags::V } else { 0 };
    Avp { code, flags: m | v, vendor_id: vendor, value: value.into() }
}

/// An IETF AVP with the M bit (every base and credit-control AVP the P-GW sends has it).
pub fn ietf(code: u32, value: impl Into<Value>) -> Avp {
    avp(code, None, true, value)
}

/// A 3GPP AVP with V and, when `mandatory`, M.
pub fn tgpp(code: u32, mandatory: bool, value: impl Into<Value>) -> Avp {
    avp(code, Some(VENDOR_3GPP), mandatory, value)
}

/// True when `a` has this code and vendor (0 for IETF).
pub fn is(a: &Avp, code: u32, vendor: u32) -> bool {
    a.code == code && a.vendor() == vendor
}

/// The first AVP of `code`/`vendor` in `avps`.
pub fn find(avps: &[Avp], code: u32, vendor: u32) -> Option<&Avp> {
    avps.iter().find(|a| is(a, code, vendor))
}

/// Every AVP of `code`/`vendor` in `avps`.
pub fn find_all(avps: &[Avp], code: u32, vendor: u32) -> impl Iterator<Item = &Avp> + '_ {
    avps.iter().filter(move |a| is(a, code, vendor))
}

/// The value of a 32-bit number AVP, typed or as 4 raw bytes.
pub fn u32_of(a: &Avp) -> Option<u32> {
    match &a.value {
        Value::OctetString(b) => Some(u32::from_be_bytes(b.as_slice().try_into().ok()?)),
        _ => a.as_u32(),
    }
}

/// The value of a 64-bit (or 32-bit) number AVP, typed or as 8 (or 4) raw bytes.
pub fn u64_of(a: &Avp) -> Option<u64> {
    match &a.value {
        Value::OctetString(b) if b.len() == 8 => Some(u64::from_be_bytes(b.as_slice().try_into().ok()?)),
        Value::Unsigned64(n) => Some(*n),
        Value::Integer64(n) => u64::try_from(*n).ok(),
        _ => u32_of(a).map(u64::from),
    }
}

/// The bytes of an OctetString or the text of a string AVP.
pub fn bytes_of(a: &Avp) -> Option<&[u8]> {
    a.as_bytes()
}

/// The text of a string AVP (or of an OctetString holding UTF-8).
pub fn str_of(a: &Avp) -> Option<&str> {
    a.as_str().or_else(|| std::str::from_utf8(a.as_bytes()?).ok())
}

/// True when the M bit of `a` is set.
pub fn avp_is_mandatory(a: &Avp) -> bool {
    a.flags & avp_flags::M != 0
}

/// The AVPs inside a Grouped AVP: typed when the dictionary knew it, otherwise decoded from its bytes
/// (inner AVPs then stay raw, and are decoded in turn when read). `None` when the bytes are not AVPs.
pub fn children(a: &Avp) -> Option<Vec<Avp>> {
    match &a.value {
        Value::Grouped(v) => Some(v.clone()),
        Value::OctetString(b) => RawAvps::new(b).map(|r| r.ok().map(|r| Avp::from_raw(&r))).collect(),
        _ => None,
    }
}

/// The first child `code`/`vendor` of the Grouped AVP `a`.
pub fn child(a: &Avp, code: u32, vendor: u32) -> Option<Avp> {
    children(a)?.into_iter().find(|c| is(c, code, vendor))
}

/// A number inside a Grouped AVP.
pub fn child_u32(a: &Avp, code: u32, vendor: u32) -> Option<u32> {
    child(a, code, vendor).as_ref().and_then(u32_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_avps_are_read_from_raw_bytes_as_well_as_typed() {
        let inner = vec![tgpp(1005, true, b"r1".to_vec()), tgpp(1010, true, 7u32)];
        let typed = tgpp(1003, true, inner.clone());
        let mut bytes = Vec::new();
        inner.iter().for_each(|a| a.encode(&mut bytes));
        let raw = tgpp(1003, true, bytes);
        for g in [typed, raw] {
            let kids = children(&g).unwrap();
            assert_eq!(kids.len(), 2);
            assert_eq!(bytes_of(find(&kids, 1005, VENDOR_3GPP).unwrap()), Some(&b"r1"[..]));
            assert_eq!(child_u32(&g, 1010, VENDOR_3GPP), Some(7));
        }
        assert_eq!(children(&tgpp(1003, true, vec![0u8, 0, 0])), None, "three bytes are no AVP");
        assert_eq!(u64_of(&ietf(412, vec![0, 0, 0, 0, 0, 0, 1, 0])), Some(256));
    }
}
