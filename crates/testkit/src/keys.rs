//! 3GPP TS 35.208 §4.3 test set 1: the MILENAGE keys every HSS and API test uses, and their
//! expected outputs where tests compare with them.

/// K.
pub const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
/// OP.
pub const OP: &str = "cdc202d5123e20f62b6d676ac72cb318";
/// OPc = E_K(OP) ⊕ OP.
pub const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";
/// RAND.
pub const RAND: &str = "23553cbe9637a89d218ae64dae47bf35";
/// SQN.
pub const SQN: &str = "ff9bb4d0b607";
/// AMF.
pub const AMF: &str = "b9b9";

/// Bytes of a hex string (test constants only: panics on bad hex).
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// K as the `auc` key type.
pub fn k() -> auc::Key {
    auc::Key::from_slice(&hex(K)).expect("16-byte K")
}

/// OPc as stored.
pub fn opc() -> auc::SecretBytes<32> {
    auc::SecretBytes::new(&hex(OPC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opc_is_derived_from_op_and_k() {
        let op = auc::Op::from_slice(&hex(OP)).unwrap();
        assert_eq!(auc::Milenage::opc(&k(), &op).unwrap().expose(), hex(OPC).as_slice());
    }
}
