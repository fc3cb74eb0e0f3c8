//! The primitives of TS 102 225: CBC ciphering with a zero IV (DES, 3DES with 2 or 3 keys, AES),
//! the cryptographic checksum (DES/3DES CBC-MAC: the last block; AES-CMAC: truncated to 8 bytes)
//! and the CRC32 redundancy check. Callers pad; the functions here take whole blocks.

use cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use cmac::Mac;

use crate::keys::{BlockAlgorithm, CheckAlgorithm};

/// Runs `$body` with `$c` bound to the RustCrypto cipher type for `$alg` and `$key`'s length.
macro_rules! with_cipher {
    ($alg:expr, $key:expr, $c:ident => $body:expr) => {
        match ($alg, $key.len()) {
            (BlockAlgorithm::Des, _) => {
                type $c = des::Des;
                $body
            }
            (BlockAlgorithm::TripleDes2, _) => {
                type $c = des::TdesEde2;
                $body
            }
            (BlockAlgorithm::TripleDes3, _) => {
                type $c = des::TdesEde3;
                $body
            }
            (BlockAlgorithm::Aes, 24) => {
                type $c = aes::Aes192;
                $body
            }
            (BlockAlgorithm::Aes, 32) => {
                type $c = aes::Aes256;
                $body
            }
            (BlockAlgorithm::Aes, _) => {
                type $c = aes::Aes128;
                $body
            }
        }
    };
}

fn cbc_encrypt_with<C: BlockCipherEncrypt + KeyInit>(key: &[u8], data: &mut [u8]) {
    let iv = vec![0u8; C::block_size()];
    let mut enc = cbc::Encryptor::<C>::new_from_slices(key, &iv).expect("key length checked by KeySet");
    for chunk in data.chunks_exact_mut(C::block_size()) {
        let mut block = Block::<C>::try_from(&chunk[..]).expect("whole block");
        enc.encrypt_block(&mut block);
        chunk.copy_from_slice(&block);
    }
}

fn cbc_decrypt_with<C: BlockCipherDecrypt + KeyInit>(key: &[u8], data: &mut [u8]) {
    let iv = vec![0u8; C::block_size()];
    let mut dec = cbc::Decryptor::<C>::new_from_slices(key, &iv).expect("key length checked by KeySet");
    for chunk in data.chunks_exact_mut(C::block_size()) {
        let mut block = Block::<C>::try_from(&chunk[..]).expect("whole block");
        dec.decrypt_block(&mut block);
        chunk.copy_from_slice(&block);
    }
}

/// Ciphers `data` (a whole number of blocks) in place, CBC with a zero IV.
pub(crate) fn encrypt(alg: BlockAlgorithm, key: &[u8], data: &mut [u8]) {
    debug_assert_eq!(data.len() % alg.block_size(), 0);
    with_cipher!(alg, key, C => cbc_encrypt_with::<C>(key, data))
}

/// Deciphers `data` (a whole number of blocks) in place, CBC with a zero IV.
pub(crate) fn decrypt(alg: BlockAlgorithm, key: &[u8], data: &mut [u8]) {
    debug_assert_eq!(data.len() % alg.block_size(), 0);
    with_cipher!(alg, key, C => cbc_decrypt_with::<C>(key, data))
}

/// The DES/3DES CC: the last block of the CBC encryption (zero IV) of `data` padded with zeros to
/// a multiple of 8 bytes (the padding is not transmitted).
fn cbc_mac(alg: BlockAlgorithm, key: &[u8], data: &[u8]) -> [u8; 8] {
    let mut buf = data.to_vec();
    buf.resize(data.len().div_ceil(8).max(1) * 8, 0);
    encrypt(alg, key, &mut buf);
    buf[buf.len() - 8..].try_into().expect("8 bytes")
}

fn cmac_with<C>(key: &[u8], data: &[u8]) -> [u8; 8]
where
    cmac::Cmac<C>: KeyInit + Mac,
    C: cmac::block_api::CmacCipher,
{
    let mut mac = <cmac::Cmac<C> as KeyInit>::new_from_slice(key).expect("key length checked by KeySet");
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes()[..8].try_into().expect("8 bytes")
}

/// The AES CC: AES-CMAC (NIST SP 800-38B) truncated to its first 8 bytes.
fn aes_cmac(key: &[u8], data: &[u8]) -> [u8; 8] {
    match key.len() {
        24 => cmac_with::<aes::Aes192>(key, data),
        32 => cmac_with::<aes::Aes256>(key, data),
        _ => cmac_with::<aes::Aes128>(key, data),
    }
}

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The RC or CC of `data` (big-endian CRC32, 4 bytes; CC, 8 bytes).
pub(crate) fn checksum(alg: CheckAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    match alg {
        CheckAlgorithm::Crc32 => CRC32.checksum(data).to_be_bytes().to_vec(),
        CheckAlgorithm::Cc(BlockAlgorithm::Aes) => aes_cmac(key, data).to_vec(),
        CheckAlgorithm::Cc(block) => cbc_mac(block, key, data).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn aes_cmac_matches_rfc_4493_example_2_truncated() {
        // RFC 4493 §4, example 2: 16-byte message.
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = h("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(aes_cmac(&key, &msg).to_vec(), h("070a16b46b4d4144"));
    }

    #[test]
    fn aes_cbc_matches_nist_sp800_38a_f21() {
        // SP 800-38A F.2.1 uses IV 000102…0f; with a zero IV the first block is plain ECB (F.1.1).
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let mut block = h("6bc1bee22e409f96e93d7e117393172a");
        encrypt(BlockAlgorithm::Aes, &key, &mut block);
        assert_eq!(block, h("3ad77bb40d7a3660a89ecaf32466ef97"));
        decrypt(BlockAlgorithm::Aes, &key, &mut block);
        assert_eq!(block, h("6bc1bee22e409f96e93d7e117393172a"));
    }

    #[test]
    fn crc32_is_the_zlib_crc() {
        assert_eq!(checksum(CheckAlgorithm::Crc32, &[], b"123456789"), h("cbf43926"));
    }
}
