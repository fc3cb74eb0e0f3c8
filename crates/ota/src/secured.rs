//! What command packets and response packets share (TS 102 225 §5.1/§5.2): the RC/CC inserted after
//! the counter part and computed over everything else, ciphering from CNTR to the end, and zero
//! padding counted in PCNTR.

use subtle::ConstantTimeEq;

use crate::crypto;
use crate::error::{Field, OtaError, Result};
use crate::keys::{BlockAlgorithm, CheckAlgorithm};

/// The ciphering and RC/CC a packet gets, with their keys.
#[derive(Clone, Copy)]
pub(crate) struct Protection<'k> {
    /// Ciphering algorithm and key, when ciphered.
    pub cipher: Option<(BlockAlgorithm, &'k [u8])>,
    /// RC/CC algorithm and key, when checked.
    pub check: Option<(CheckAlgorithm, &'k [u8])>,
    /// The input errors are about.
    pub field: Field,
}

impl Protection<'_> {
    /// Length of the RC/CC.
    pub fn sig_len(&self) -> usize {
        self.check.map_or(0, |(a, _)| a.len())
    }

    /// Zero padding octets for `clear_len` octets of ciphered part (without the RC/CC).
    pub fn padding(&self, clear_len: usize) -> usize {
        self.cipher.map_or(0, |(alg, _)| {
            let block = alg.block_size();
            (block - (clear_len + self.sig_len()) % block) % block
        })
    }

    /// Sender: computes the RC/CC over `packet` (which holds everything but it), inserts it at
    /// `sig_at` and ciphers from `cipher_from` to the end.
    pub fn seal(&self, packet: &mut Vec<u8>, sig_at: usize, cipher_from: usize) {
        if let Some((alg, key)) = self.check {
            let sig = crypto::checksum(alg, key, packet);
            packet.splice(sig_at..sig_at, sig);
        }
        if let Some((alg, key)) = self.cipher {
            crypto::encrypt(alg, key, &mut packet[cipher_from..]);
        }
    }

    /// Receiver: deciphers `body` (CNTR to the end), verifies the RC/CC that follows its first
    /// `fixed` octets against `clear_head || fixed part || data`, checks the padding (PCNTR is the
    /// sixth octet) and returns the fixed part and the data without padding.
    pub fn open(&self, clear_head: &[u8], body: &[u8], fixed: usize, what: &'static str) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut body = body.to_vec();
        if let Some((alg, key)) = self.cipher {
            if !body.len().is_multiple_of(alg.block_size()) {
                let reason =
                    format!("ciphered part of {} bytes is not a multiple of {} bytes", body.len(), alg.block_size());
                return Err(OtaError::Padding { field: self.field, reason });
            }
            crypto::decrypt(alg, key, &mut body);
        }
        let sig_len = self.sig_len();
        if body.len() < fixed + sig_len {
            return Err(OtaError::Truncated { field: self.field, what, need: fixed + sig_len, got: body.len() });
        }
        let data = body.split_off(fixed + sig_len);
        let received = body.split_off(fixed);
        if let Some((alg, key)) = self.check {
            let covered = [clear_head, &body, &data].concat();
            if !bool::from(crypto::checksum(alg, key, &covered).ct_eq(&received)) {
                let kind = if alg == CheckAlgorithm::Crc32 { "RC" } else { "CC" };
                return Err(OtaError::Checksum { field: self.field, kind, received: hex(&received) });
            }
        }
        let mut data = data;
        check_padding(&mut data, body[5], self.cipher.map(|(a, _)| a.block_size()), self.field)?;
        Ok((body, data))
    }
}

/// Checks `pcntr` zero padding octets at the end of `data` (fewer than a block when ciphered, none
/// otherwise) and strips them.
fn check_padding(data: &mut Vec<u8>, pcntr: u8, block: Option<usize>, field: Field) -> Result<()> {
    let n = usize::from(pcntr);
    let limit = block.map_or(0, |b| b - 1);
    if n > limit || n > data.len() {
        return Err(OtaError::Padding {
            field,
            reason: format!("PCNTR {n} exceeds the {limit} padding octets possible here"),
        });
    }
    if data[data.len() - n..].iter().any(|&b| b != 0) {
        return Err(OtaError::Padding { field, reason: format!("the {n} padding octets are not zeros") });
    }
    data.truncate(data.len() - n);
    Ok(())
}

/// Lowercase hex of a checksum or an identifier (never of a key).
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
