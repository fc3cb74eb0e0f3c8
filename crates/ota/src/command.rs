//! Command packets for SMS-PP (ETSI TS 102 225 §5.1 with the coding of 3GPP TS 31.115 §4):
//! `CPL CHL SPI KIc KID TAR CNTR PCNTR RC/CC/DS secured-data`, built on the server side
//! ([`build_command`]) and parsed and opened on the card side ([`CommandPacket`]).
//!
//! The RC/CC covers CPL, CHL, SPI, KIc, KID, TAR, CNTR, PCNTR and the secured data with its
//! ciphering padding (not the UDH); ciphering covers CNTR to the end. Padding is zeros, counted in
//! PCNTR; a DES/3DES CC pads its input with zeros that are not sent. These are the choices the
//! published pySim vectors (real cards) confirm.

use subtle::ConstantTimeEq;

use crate::counter::Counter;
use crate::crypto;
use crate::error::{Field, OtaError, Result};
use crate::keys::{CheckAlgorithm, KeySet};
use crate::spi::{Integrity, Spi};

/// Length of CHL's fixed part: SPI(2) KIc KID TAR(3) CNTR(5) PCNTR.
const CHL_FIXED: usize = 13;

/// What a command packet is addressed with, besides the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandHeader {
    /// Security parameters.
    pub spi: Spi,
    /// Toolkit application reference (e.g. B00010 SIM RFM, B00011 USIM RFM, 000000 RAM).
    pub tar: [u8; 3],
    /// Replay counter.
    pub cntr: Counter,
}

fn check_len<'k>(spi: &Spi, keys: &'k KeySet) -> Result<Option<(CheckAlgorithm, &'k [u8])>> {
    keys.check(spi.integrity)
}

/// Zero padding to a multiple of `block` for `len` bytes.
pub(crate) fn padding(len: usize, block: usize) -> usize {
    (block - len % block) % block
}

/// Builds a command packet (from CPL on) carrying `secured_data` (the remote commands).
pub fn build_command(h: &CommandHeader, keys: &KeySet, secured_data: &[u8]) -> Result<Vec<u8>> {
    let cipher = if h.spi.ciphered { Some(keys.cipher()?) } else { None };
    let check = check_len(&h.spi, keys)?;
    let sig_len = check.map_or(0, |(a, _)| a.len());
    let pcntr = cipher.map_or(0, |(alg, _)| padding(6 + sig_len + secured_data.len(), alg.block_size()));
    let chl = CHL_FIXED + sig_len;
    let cpl = 1 + chl + secured_data.len() + pcntr;
    if cpl > usize::from(u16::MAX) {
        return Err(OtaError::Length { field: Field::Apdu, expected: "at most 65,535 bytes of packet", got: cpl });
    }
    let mut out = Vec::with_capacity(2 + cpl);
    out.extend_from_slice(&(cpl as u16).to_be_bytes());
    out.push(chl as u8);
    out.extend_from_slice(&h.spi.to_bytes());
    out.extend_from_slice(&[keys.kic, keys.kid]);
    out.extend_from_slice(&h.tar);
    let protected_from = out.len();
    out.extend_from_slice(&h.cntr.to_bytes());
    out.push(pcntr as u8);
    let sig_at = out.len();
    out.extend_from_slice(secured_data);
    out.resize(out.len() + pcntr, 0);
    if let Some((alg, key)) = check {
        let sig = crypto::checksum(alg, key, &out);
        out.splice(sig_at..sig_at, sig);
    }
    if let Some((alg, key)) = cipher {
        crypto::encrypt(alg, key, &mut out[protected_from..]);
    }
    Ok(out)
}

/// A command packet as received by a card, before its key set is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandPacket<'a> {
    /// Security parameters.
    pub spi: Spi,
    /// KIc byte.
    pub kic: u8,
    /// KID byte.
    pub kid: u8,
    /// Toolkit application reference.
    pub tar: [u8; 3],
    chl: u8,
    raw: &'a [u8],
}

/// A command packet whose checks passed: the counter, padding count and secured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCommand {
    /// Security parameters.
    pub spi: Spi,
    /// KIc byte.
    pub kic: u8,
    /// KID byte.
    pub kid: u8,
    /// Toolkit application reference.
    pub tar: [u8; 3],
    /// Replay counter (to be checked against the card's with [`crate::CounterPolicy::accept`]).
    pub cntr: Counter,
    /// Padding count.
    pub pcntr: u8,
    /// The secured data without its padding (the remote commands).
    pub data: Vec<u8>,
}

fn truncated(what: &'static str, need: usize, got: usize) -> OtaError {
    OtaError::Truncated { field: Field::Packet, what, need, got }
}

impl<'a> CommandPacket<'a> {
    /// Parses the clear header of a command packet (from CPL on) and checks its lengths.
    pub fn parse(packet: &'a [u8]) -> Result<CommandPacket<'a>> {
        if packet.len() < 2 + 1 + 8 {
            return Err(truncated("CPL, CHL, SPI, KIc, KID and TAR", 11, packet.len()));
        }
        let cpl = usize::from(u16::from_be_bytes([packet[0], packet[1]]));
        if cpl != packet.len() - 2 {
            return Err(OtaError::malformed(
                Field::Packet,
                format!("CPL says {cpl} bytes follow it, {} do", packet.len() - 2),
            ));
        }
        let chl = packet[2];
        if usize::from(chl) < CHL_FIXED || usize::from(chl) > cpl - 1 {
            return Err(OtaError::malformed(Field::Packet, format!("CHL {chl} is outside 13..={}", cpl - 1)));
        }
        let spi =
            Spi::from_bytes([packet[3], packet[4]]).map_err(|e| OtaError::malformed(Field::Packet, e.to_string()))?;
        Ok(CommandPacket {
            spi,
            kic: packet[5],
            kid: packet[6],
            tar: [packet[7], packet[8], packet[9]],
            chl,
            raw: packet,
        })
    }

    /// Card side: checks that `keys` is the key set the packet names, deciphers, verifies the RC/CC
    /// and the padding, and returns the contents. Errors map to PoR statuses with
    /// [`OtaError::por_status`].
    pub fn open(&self, keys: &KeySet) -> Result<OpenedCommand> {
        for (field, got, have) in [(Field::Kic, self.kic, keys.kic), (Field::Kid, self.kid, keys.kid)] {
            let used = if field == Field::Kic { self.spi.ciphered } else { self.spi.integrity != Integrity::None };
            if got != have && used {
                return Err(OtaError::malformed(
                    field,
                    format!("the packet names {got:#04x}, the key set is {have:#04x}"),
                ));
            }
        }
        let cipher = if self.spi.ciphered { Some(keys.cipher()?) } else { None };
        let check = keys.check(self.spi.integrity)?;
        let sig_len = check.map_or(0, |(a, _)| a.len());
        if usize::from(self.chl) != CHL_FIXED + sig_len {
            return Err(OtaError::malformed(
                Field::Packet,
                format!("CHL {} does not fit the SPI and KID (expected {})", self.chl, CHL_FIXED + sig_len),
            ));
        }
        let mut body = self.raw[10..].to_vec();
        if let Some((alg, key)) = cipher {
            if !body.len().is_multiple_of(alg.block_size()) {
                return Err(OtaError::Padding {
                    field: Field::Packet,
                    reason: format!(
                        "ciphered part of {} bytes is not a multiple of {} bytes",
                        body.len(),
                        alg.block_size()
                    ),
                });
            }
            crypto::decrypt(alg, key, &mut body);
        }
        if body.len() < 6 + sig_len {
            return Err(truncated("CNTR, PCNTR and RC/CC", 6 + sig_len, body.len()));
        }
        let cntr = Counter::from_slice(&body[..5])?;
        let pcntr = body[5];
        if let Some((alg, key)) = check {
            let received = body[6..6 + sig_len].to_vec();
            let mut covered = self.raw[..10].to_vec();
            covered.extend_from_slice(&body[..6]);
            covered.extend_from_slice(&body[6 + sig_len..]);
            let computed = crypto::checksum(alg, key, &covered);
            if !bool::from(computed.ct_eq(&received)) {
                let kind = if alg == CheckAlgorithm::Crc32 { "RC" } else { "CC" };
                return Err(OtaError::Checksum { field: Field::Packet, kind, received: hex(&received) });
            }
        }
        let mut data = body.split_off(6 + sig_len);
        check_padding(&mut data, pcntr, cipher.map(|(a, _)| a.block_size()), Field::Packet)?;
        Ok(OpenedCommand { spi: self.spi, kic: self.kic, kid: self.kid, tar: self.tar, cntr, pcntr, data })
    }
}

/// Checks `pcntr` zero padding octets at the end of `data` (fewer than a block when ciphered) and
/// strips them.
pub(crate) fn check_padding(data: &mut Vec<u8>, pcntr: u8, block: Option<usize>, field: Field) -> Result<()> {
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

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
