//! TUAK (3GPP TS 35.231): the Keccak-f[1600] based f1, f1*, f2, f3, f4, f5, f5* and TOPc, with
//! every size the specification allows and a configurable number of Keccak iterations.
//!
//! The specification numbers the 1600 state bits IN[1599..0] and writes each input X[n-1..0] into a
//! field with its least significant bit at the lowest state bit. With Keccak's byte order (state
//! byte j holds bits 8j..8j+7) that is: every multi-byte field goes into the state with its byte
//! order reversed, and every output is read out reversed. The permutation itself comes from the
//! RustCrypto `keccak` crate.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{AucError, Result};
use crate::secret::{Ck, Ik, Key, Top, Topc};
use crate::types::{Ak, Amf, Mac, Rand, Res, Sqn};

/// ALGONAME[55..0]: the ASCII string "TUAK1.0" (TS 35.231 §6.1).
const ALGONAME: &[u8; 7] = b"TUAK1.0";
/// Largest iteration count accepted (the specification leaves it open; this bounds the cost).
pub const MAX_ITERATIONS: u32 = 1_000;

/// Output sizes and iteration count of a TUAK instance (TS 35.231 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TuakParams {
    /// Length of MAC-A and MAC-S in bits: 64, 128 or 256.
    pub mac_bits: u32,
    /// Length of RES in bits: 32, 64, 128 or 256.
    pub res_bits: u32,
    /// Length of CK in bits: 128 or 256.
    pub ck_bits: u32,
    /// Length of IK in bits: 128 or 256.
    pub ik_bits: u32,
    /// Number of Keccak-f[1600] permutations per function (at least 1).
    pub iterations: u32,
}

impl Default for TuakParams {
    /// The sizes of a typical USIM: 64-bit MAC and RES, 128-bit CK and IK, one iteration.
    fn default() -> Self {
        Self { mac_bits: 64, res_bits: 64, ck_bits: 128, ik_bits: 128, iterations: 1 }
    }
}

fn check(what: &'static str, value: u32, allowed: &'static [u32], words: &'static str) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(AucError::InvalidParameter { what, value, allowed: words })
    }
}

impl TuakParams {
    /// Checks every size against TS 35.231.
    pub fn validate(&self) -> Result<()> {
        check("MAC length (bits)", self.mac_bits, &[64, 128, 256], "64, 128, 256")?;
        check("RES length (bits)", self.res_bits, &[32, 64, 128, 256], "32, 64, 128, 256")?;
        check("CK length (bits)", self.ck_bits, &[128, 256], "128, 256")?;
        check("IK length (bits)", self.ik_bits, &[128, 256], "128, 256")?;
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(AucError::InvalidParameter {
                what: "Keccak iterations",
                value: self.iterations,
                allowed: "1 to 1000",
            });
        }
        Ok(())
    }
}

/// Applies Keccak-f[1600] to a state given as 200 bytes (lane i little-endian at bytes 8i..8i+8),
/// `iterations` times.
pub fn keccak_f1600_bytes(state: &mut [u8; 200], iterations: u32) {
    let mut lanes: [u64; 25] =
        core::array::from_fn(|i| u64::from_le_bytes(state[8 * i..8 * i + 8].try_into().expect("8")));
    keccak::Keccak::new().with_f1600(|f| {
        for _ in 0..iterations {
            f(&mut lanes);
        }
    });
    for (i, lane) in lanes.iter().enumerate() {
        state[8 * i..8 * i + 8].copy_from_slice(&lane.to_le_bytes());
    }
    lanes.zeroize();
}

/// Writes `field` into the state at byte offset `at` with its byte order reversed.
fn push(state: &mut [u8; 200], at: usize, field: &[u8]) {
    for (i, b) in field.iter().rev().enumerate() {
        state[at + i] = *b;
    }
}

/// Reads `len` bytes at byte offset `at`, reversing them back.
fn pull<const N: usize>(state: &[u8; 200], at: usize, len: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for i in 0..len {
        out[i] = state[at + len - 1 - i];
    }
    out
}

/// Byte offsets of the fields in the state (TS 35.231 §6).
mod at {
    pub const TOP: usize = 0;
    pub const INSTANCE: usize = 32;
    pub const ALGONAME: usize = 33;
    pub const RAND: usize = 40;
    pub const AMF: usize = 56;
    pub const SQN: usize = 58;
    pub const KEY: usize = 64;
    /// Padding (TS 35.231 §6): byte 96 holds 0x1F and byte 135 holds 0x80.
    pub const PAD_FIRST: usize = 96;
    pub const PAD_LAST: usize = 135;
    /// Outputs of f2345/f5*.
    pub const RES: usize = 0;
    pub const CK: usize = 32;
    pub const IK: usize = 64;
    pub const AK: usize = 96;
}

/// TUAK keyed for one subscriber (K and TOPc) with fixed output sizes.
#[derive(Clone, ZeroizeOnDrop)]
pub struct Tuak {
    key: [u8; 32],
    key_len: usize,
    topc: [u8; 32],
    #[zeroize(skip)]
    params: TuakParams,
}

impl Zeroize for Tuak {
    fn zeroize(&mut self) {
        self.key.zeroize();
        self.topc.zeroize();
    }
}

impl core::fmt::Debug for Tuak {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tuak([redacted], {:?})", self.params)
    }
}

/// Every output of TUAK for one (RAND, SQN, AMF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuakOutputs {
    /// f1: MAC-A.
    pub mac_a: Mac,
    /// f1*: MAC-S.
    pub mac_s: Mac,
    /// f2: RES.
    pub res: Res,
    /// f3: CK.
    pub ck: Ck,
    /// f4: IK.
    pub ik: Ik,
    /// f5: AK.
    pub ak: Ak,
    /// f5*: AK*.
    pub ak_star: Ak,
}

fn key_bit(key_len: usize) -> u8 {
    u8::from(key_len == 32)
}

/// Fills the fields every TUAK function shares: TOP or TOPc, INSTANCE, ALGONAME, K and the padding.
fn base_state(top: &[u8; 32], instance: u8, key: &[u8]) -> [u8; 200] {
    let mut s = [0u8; 200];
    push(&mut s, at::TOP, top);
    s[at::INSTANCE] = instance;
    push(&mut s, at::ALGONAME, ALGONAME);
    push(&mut s, at::KEY, key);
    s[at::PAD_FIRST] = 0x1f;
    s[at::PAD_LAST] = 0x80;
    s
}

fn mac_code(bits: u32) -> u8 {
    match bits {
        64 => 0b001,
        128 => 0b010,
        _ => 0b100,
    }
}

fn res_code(bits: u32) -> u8 {
    match bits {
        32 => 0b000,
        64 => 0b001,
        128 => 0b010,
        _ => 0b100,
    }
}

impl Tuak {
    /// Keys TUAK with K (128 or 256 bits) and TOPc.
    pub fn new(k: &Key, topc: &Topc, params: TuakParams) -> Result<Self> {
        params.validate()?;
        let mut key = [0u8; 32];
        key[..k.len()].copy_from_slice(k.expose());
        Ok(Self { key, key_len: k.len(), topc: topc.expose().try_into().expect("32"), params })
    }

    /// Keys TUAK with K and TOP, computing TOPc first.
    pub fn with_top(k: &Key, top: &Top, params: TuakParams) -> Result<Self> {
        params.validate()?;
        Self::new(k, &Self::topc(k, top, params.iterations)?, params)
    }

    /// TOPc from TOP and K (TS 35.231 §6.2).
    pub fn topc(k: &Key, top: &Top, iterations: u32) -> Result<Topc> {
        TuakParams { iterations, ..TuakParams::default() }.validate()?;
        let mut s = base_state(top.expose().try_into().expect("32"), key_bit(k.len()), k.expose());
        keccak_f1600_bytes(&mut s, iterations);
        let mut out: [u8; 32] = pull(&s, 0, 32);
        s.zeroize();
        let topc = Topc::from_slice(&out);
        out.zeroize();
        topc
    }

    /// The TOPc this instance was keyed with.
    pub fn topc_value(&self) -> Topc {
        Topc::from_slice(&self.topc).expect("32")
    }

    /// The sizes this instance produces.
    pub fn params(&self) -> TuakParams {
        self.params
    }

    fn run(&self, instance: u8, rand: &Rand, sqn_amf: Option<(Sqn, Amf)>) -> [u8; 200] {
        let key = &self.key[..self.key_len];
        let mut s = base_state(&self.topc, instance | key_bit(self.key_len), key);
        push(&mut s, at::RAND, &rand.0);
        if let Some((sqn, amf)) = sqn_amf {
            push(&mut s, at::AMF, &amf.0);
            push(&mut s, at::SQN, &sqn.to_bytes());
        }
        keccak_f1600_bytes(&mut s, self.params.iterations);
        s
    }

    fn mac(&self, star: bool, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        let instance = (u8::from(star) << 7) | (mac_code(self.params.mac_bits) << 3);
        let mut s = self.run(instance, rand, Some((sqn, amf)));
        let len = self.params.mac_bits as usize / 8;
        let out = Mac::new(&pull::<32>(&s, 0, len)[..len]);
        s.zeroize();
        out
    }

    /// f1: MAC-A.
    pub fn f1(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        self.mac(false, rand, sqn, amf)
    }

    /// f1*: MAC-S.
    pub fn f1star(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        self.mac(true, rand, sqn, amf)
    }

    /// f2, f3, f4, f5: (RES, CK, IK, AK) from one Keccak run.
    pub fn f2345(&self, rand: &Rand) -> (Res, Ck, Ik, Ak) {
        let p = self.params;
        let instance =
            0x40 | (res_code(p.res_bits) << 3) | (u8::from(p.ck_bits == 256) << 2) | (u8::from(p.ik_bits == 256) << 1);
        let mut s = self.run(instance, rand, None);
        let (res_len, ck_len, ik_len) = (p.res_bits as usize / 8, p.ck_bits as usize / 8, p.ik_bits as usize / 8);
        let mut ck: [u8; 32] = pull(&s, at::CK, ck_len);
        let mut ik: [u8; 32] = pull(&s, at::IK, ik_len);
        let out = (
            Res::new(&pull::<32>(&s, at::RES, res_len)[..res_len]),
            Ck::from_slice(&ck[..ck_len]).expect("16 or 32"),
            Ik::from_slice(&ik[..ik_len]).expect("16 or 32"),
            Ak(pull(&s, at::AK, 6)),
        );
        ck.zeroize();
        ik.zeroize();
        s.zeroize();
        out
    }

    /// f5*: AK* for resynchronisation.
    pub fn f5star(&self, rand: &Rand) -> Ak {
        let mut s = self.run(0xc0, rand, None);
        let ak = Ak(pull(&s, at::AK, 6));
        s.zeroize();
        ak
    }

    /// Every function at once.
    pub fn outputs(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> TuakOutputs {
        let (res, ck, ik, ak) = self.f2345(rand);
        TuakOutputs {
            mac_a: self.f1(rand, sqn, amf),
            mac_s: self.f1star(rand, sqn, amf),
            res,
            ck,
            ik,
            ak,
            ak_star: self.f5star(rand),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keccak-f[1600] applied to the all-zero state (Keccak team's KeccakF-1600-IntermediateValues).
    #[test]
    fn keccak_zero_state_first_lane() {
        let mut s = [0u8; 200];
        keccak_f1600_bytes(&mut s, 1);
        assert_eq!(u64::from_le_bytes(s[..8].try_into().unwrap()), 0xF1258F7940E1DDE7);
        keccak_f1600_bytes(&mut s, 1);
        assert_eq!(u64::from_le_bytes(s[..8].try_into().unwrap()), 0x2D5C954DF96ECB3C);
    }

    #[test]
    fn sizes_are_checked() {
        let bad = TuakParams { res_bits: 48, ..TuakParams::default() };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "RES length (bits) = 48 is not allowed by TS 35.231 (allowed: 32, 64, 128, 256)"
        );
        assert!(TuakParams { iterations: 0, ..TuakParams::default() }.validate().is_err());
        assert!(TuakParams { mac_bits: 256, res_bits: 256, ck_bits: 256, ik_bits: 256, iterations: 2 }
            .validate()
            .is_ok());
    }

    #[test]
    fn output_lengths_follow_params() {
        let k = Key::from_slice(&[1; 32]).unwrap();
        let p = TuakParams { mac_bits: 128, res_bits: 32, ck_bits: 256, ik_bits: 128, iterations: 1 };
        let t = Tuak::new(&k, &Topc::from_slice(&[2; 32]).unwrap(), p).unwrap();
        let o = t.outputs(&Rand([3; 16]), Sqn::new(5).unwrap(), Amf([0, 0]));
        assert_eq!((o.mac_a.len(), o.mac_s.len(), o.res.len(), o.ck.len(), o.ik.len()), (16, 16, 4, 32, 16));
        assert_ne!(o.mac_a, o.mac_s);
        assert_ne!(o.ak, o.ak_star);
    }
}
