//! Command packets for SMS-PP (ETSI TS 102 225 §5.1 with the coding of 3GPP TS 31.115 §4):
//! `CPL CHL SPI KIc KID TAR CNTR PCNTR RC/CC/DS secured-data`, built on the server side
//! ([`build_command`]) and parsed and opened on the card side ([`CommandPacket`]).
//!
//! The RC/CC covers CPL, CHL, SPI, KIc, KID, TAR, CNTR, PCNTR and the secured data with its
//! ciphering padding (not the UDH); ciphering covers CNTR to the end. Padding is zeros, counted in
//! PCNTR; a DES/3DES CC pads its input with zeros that are not sent. These are the choices the
//! published pySim vectors (real cards) confirm.

use crate::counter::Counter;
use crate::error::{Field, OtaError, Result};
use crate::keys::KeySet;
use crate::secured::Protection;
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

/// Builds a command packet (from CPL on) carrying `secured_data` (the remote commands).
pub fn build_command(h: &CommandHeader, keys: &KeySet, secured_data: &[u8]) -> Result<Vec<u8>> {
    let prot = protection(&h.spi, keys)?;
    let pcntr = prot.padding(6 + secured_data.len());
    let chl = CHL_FIXED + prot.sig_len();
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
    out.extend_from_slice(&h.cntr.to_bytes());
    out.push(pcntr as u8);
    out.extend_from_slice(secured_data);
    out.resize(out.len() + pcntr, 0);
    prot.seal(&mut out, 16, 10);
    Ok(out)
}

/// The ciphering and RC/CC of a command with `spi`, keys checked against the algorithms.
fn protection<'k>(spi: &Spi, keys: &'k KeySet) -> Result<Protection<'k>> {
    let cipher = if spi.ciphered { Some(keys.cipher()?) } else { None };
    Ok(Protection { cipher, check: keys.check(spi.integrity)?, field: Field::Packet })
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
        let prot = protection(&self.spi, keys)?;
        if usize::from(self.chl) != CHL_FIXED + prot.sig_len() {
            return Err(OtaError::malformed(
                Field::Packet,
                format!("CHL {} does not fit the SPI and KID (expected {})", self.chl, CHL_FIXED + prot.sig_len()),
            ));
        }
        let (fixed, data) = prot.open(&self.raw[..10], &self.raw[10..], 6, "CNTR, PCNTR and RC/CC")?;
        let (cntr, pcntr) = (Counter::from_slice(&fixed[..5])?, fixed[5]);
        Ok(OpenedCommand { spi: self.spi, kic: self.kic, kid: self.kid, tar: self.tar, cntr, pcntr, data })
    }
}
