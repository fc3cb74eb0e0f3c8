//! MILENAGE (3GPP TS 35.205/35.206): the AES-128 based f1, f1*, f2, f3, f4, f5, f5* and OPc.
//!
//! A [`Milenage`] instance holds the expanded AES key for one subscriber, so a batch of vectors
//! expands the key once. [`Milenage::outputs`] computes everything a vector needs with one AES
//! call for TEMP and one pipelined call for the five output blocks (no allocation).

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128Enc;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{AucError, Result};
use crate::secret::{Ck, Ik, Key, Op, Opc};
use crate::types::{Ak, Amf, Mac, Rand, Res, Sqn};

/// Rotation amounts r1..r5 in bits (TS 35.206 §4.1).
const R: [u32; 5] = [64, 0, 32, 64, 96];
/// Constants c1..c5 (TS 35.206 §4.1): all zero but the last bits.
const C: [u128; 5] = [0, 1, 2, 4, 8];

/// Every output of MILENAGE for one (RAND, SQN, AMF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilenageOutputs {
    /// f1: network authentication code MAC-A.
    pub mac_a: [u8; 8],
    /// f1*: resynchronisation authentication code MAC-S.
    pub mac_s: [u8; 8],
    /// f2: response RES.
    pub res: [u8; 8],
    /// f3: cipher key CK.
    pub ck: Ck,
    /// f4: integrity key IK.
    pub ik: Ik,
    /// f5: anonymity key AK.
    pub ak: Ak,
    /// f5*: resynchronisation anonymity key AK*.
    pub ak_star: Ak,
}

/// MILENAGE keyed for one subscriber (K and OPc).
#[derive(Clone, ZeroizeOnDrop)]
pub struct Milenage {
    cipher: Aes128Enc,
    opc: u128,
}

impl core::fmt::Debug for Milenage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Milenage([redacted])")
    }
}

impl Zeroize for Milenage {
    fn zeroize(&mut self) {
        self.opc.zeroize();
        // The AES key schedule zeroizes itself on drop (aes crate, `zeroize` feature).
    }
}

fn key128(k: &Key) -> Result<[u8; 16]> {
    k.expose().try_into().map_err(|_| AucError::InvalidLength {
        what: "K",
        expected: "16 bytes for MILENAGE",
        got: k.len(),
    })
}

fn encrypt(cipher: &Aes128Enc, x: u128) -> u128 {
    let mut block = Array::from(x.to_be_bytes());
    cipher.encrypt_block(&mut block);
    u128::from_be_bytes(block.into())
}

impl Milenage {
    /// Keys MILENAGE with K (128 bits) and OPc.
    pub fn new(k: &Key, opc: &Opc) -> Result<Self> {
        let mut key = key128(k)?;
        let cipher = Aes128Enc::new(&Array::from(key));
        key.zeroize();
        let opc = u128::from_be_bytes(opc.expose().try_into().expect("OPc is 16 bytes"));
        Ok(Self { cipher, opc })
    }

    /// Keys MILENAGE with K and OP, computing OPc first.
    pub fn with_op(k: &Key, op: &Op) -> Result<Self> {
        Self::new(k, &Self::opc(k, op)?)
    }

    /// OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1).
    pub fn opc(k: &Key, op: &Op) -> Result<Opc> {
        let mut key = key128(k)?;
        let cipher = Aes128Enc::new(&Array::from(key));
        key.zeroize();
        let mut op_v = u128::from_be_bytes(op.expose().try_into().expect("OP is 16 bytes"));
        let mut opc = (encrypt(&cipher, op_v) ^ op_v).to_be_bytes();
        let out = Opc::from_slice(&opc);
        opc.zeroize();
        op_v.zeroize();
        out
    }

    /// The OPc this instance was keyed with.
    pub fn opc_value(&self) -> Opc {
        Opc::from_slice(&self.opc.to_be_bytes()).expect("16 bytes")
    }

    fn temp(&self, rand: &Rand) -> u128 {
        encrypt(&self.cipher, u128::from_be_bytes(rand.0) ^ self.opc)
    }

    /// The input block of OUT1 (f1, f1*) before encryption.
    fn in1_block(&self, temp: u128, sqn: Sqn, amf: Amf) -> u128 {
        let s = sqn.to_bytes();
        let half = u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], amf.0[0], amf.0[1]]) as u128;
        let in1 = (half << 64) | half;
        temp ^ (in1 ^ self.opc).rotate_left(R[0]) ^ C[0]
    }

    /// The input block of OUTi for i in 2..=5 before encryption.
    fn out_block(&self, temp: u128, i: usize) -> u128 {
        (temp ^ self.opc).rotate_left(R[i - 1]) ^ C[i - 1]
    }

    /// f1 and f1*: (MAC-A, MAC-S).
    pub fn f1_f1star(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> ([u8; 8], [u8; 8]) {
        let temp = self.temp(rand);
        let out1 = (encrypt(&self.cipher, self.in1_block(temp, sqn, amf)) ^ self.opc).to_be_bytes();
        (out1[..8].try_into().expect("8"), out1[8..].try_into().expect("8"))
    }

    /// f5*: AK* for resynchronisation.
    pub fn f5star(&self, rand: &Rand) -> Ak {
        let temp = self.temp(rand);
        let out5 = (encrypt(&self.cipher, self.out_block(temp, 5)) ^ self.opc).to_be_bytes();
        Ak(out5[..6].try_into().expect("6"))
    }

    /// OUT1..OUTn (n ≤ 5) for one RAND: one AES call for TEMP, then the n output blocks pipelined
    /// through AES-NI together. The caller wipes the result.
    fn out_blocks<const N: usize>(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> [[u8; 16]; N] {
        let temp = self.temp(rand);
        let mut blocks: [_; N] = core::array::from_fn(|i| {
            let input = if i == 0 { self.in1_block(temp, sqn, amf) } else { self.out_block(temp, i + 1) };
            Array::from(input.to_be_bytes())
        });
        self.cipher.encrypt_blocks(&mut blocks);
        let out = core::array::from_fn(|i| (u128::from_be_bytes(blocks[i].into()) ^ self.opc).to_be_bytes());
        blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
        out
    }

    /// f1, f1*, f2, f3, f4, f5 and f5* at once.
    pub fn outputs(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> MilenageOutputs {
        let mut out: [[u8; 16]; 5] = self.out_blocks(rand, sqn, amf);
        let result = MilenageOutputs {
            mac_a: out[0][..8].try_into().expect("8"),
            mac_s: out[0][8..].try_into().expect("8"),
            res: out[1][8..].try_into().expect("8"),
            ak: Ak(out[1][..6].try_into().expect("6")),
            ck: Ck::from_slice(&out[2]).expect("16"),
            ik: Ik::from_slice(&out[3]).expect("16"),
            ak_star: Ak(out[4][..6].try_into().expect("6")),
        };
        out.zeroize();
        result
    }

    /// f1 (MAC-A), f2 (RES), f3 (CK), f4 (IK), f5 (AK): what an authentication vector needs (OUT1 to
    /// OUT4; f1* and f5* are skipped).
    pub fn vector_outputs(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> (Mac, Res, Ck, Ik, Ak) {
        let mut out: [[u8; 16]; 4] = self.out_blocks(rand, sqn, amf);
        let result = (
            Mac::new(&out[0][..8]),
            Res::new(&out[1][8..]),
            Ck::from_slice(&out[2]).expect("16"),
            Ik::from_slice(&out[3]).expect("16"),
            Ak(out[1][..6].try_into().expect("6")),
        );
        out.zeroize();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    }

    /// TS 35.208 §4.3 Test Set 1 (the full conformance set runs in tests/conformance.rs).
    #[test]
    fn test_set_1() {
        let k = Key::from_slice(&h::<16>("465b5ce8b199b49faa5f0a2ee238a6bc")).unwrap();
        let op = Op::from_slice(&h::<16>("cdc202d5123e20f62b6d676ac72cb318")).unwrap();
        let m = Milenage::with_op(&k, &op).unwrap();
        assert_eq!(m.opc_value().expose(), h::<16>("cd63cb71954a9f4e48a5994e37a02baf"));
        let rand = Rand(h("23553cbe9637a89d218ae64dae47bf35"));
        let o = m.outputs(&rand, Sqn::from_bytes(h("ff9bb4d0b607")), Amf(h("b9b9")));
        assert_eq!(o.mac_a, h::<8>("4a9ffac354dfafb3"));
        assert_eq!(o.mac_s, h::<8>("01cfaf9ec4e871e9"));
        assert_eq!(o.res, h::<8>("a54211d5e3ba50bf"));
        assert_eq!(o.ck.expose(), h::<16>("b40ba9a3c58b2a05bbf0d987b21bf8cb"));
        assert_eq!(o.ik.expose(), h::<16>("f769bcd751044604127672711c6d3441"));
        assert_eq!(o.ak.0, h::<6>("aa689c648370"));
        assert_eq!(o.ak_star.0, h::<6>("451e8beca43b"));
    }

    #[test]
    fn separate_functions_agree_with_outputs() {
        let k = Key::from_slice(&[7; 16]).unwrap();
        let m = Milenage::new(&k, &Opc::from_slice(&[9; 16]).unwrap()).unwrap();
        let rand = Rand([3; 16]);
        let (sqn, amf) = (Sqn::new(42).unwrap(), Amf([0x80, 0]));
        let all = m.outputs(&rand, sqn, amf);
        assert_eq!(m.f1_f1star(&rand, sqn, amf), (all.mac_a, all.mac_s));
        assert_eq!(m.f5star(&rand), all.ak_star);
        let (mac, res, ck, ik, ak) = m.vector_outputs(&rand, sqn, amf);
        assert_eq!((mac.as_slice(), res.as_slice(), ak), (&all.mac_a[..], &all.res[..], all.ak));
        assert_eq!((ck, ik), (all.ck, all.ik));
    }

    #[test]
    fn refuses_256_bit_k() {
        let k = Key::from_slice(&[7; 32]).unwrap();
        let err = Milenage::new(&k, &Opc::from_slice(&[9; 16]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("16 bytes for MILENAGE"));
    }
}
