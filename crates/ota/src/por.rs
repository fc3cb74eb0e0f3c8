//! Proof of receipt: response packets for SMS-PP (ETSI TS 102 225 §5.2, 3GPP TS 31.115 §4.3):
//! `UDH(IEI 71) RPL RHL TAR CNTR PCNTR status RC/CC/DS additional-data`. Parsed and verified on
//! the server side ([`parse_response`]); built on the card side ([`build_response`], used by
//! simulators and tests).
//!
//! The RC/CC covers the UDH, RPL, RHL, TAR, CNTR, PCNTR, status and the data with its padding;
//! ciphering covers CNTR to the end (as pySim's published card vectors show).

use crate::counter::{Counter, CounterError};
use crate::error::{Field, OtaError, Result};
use crate::keys::KeySet;
use crate::secured::{hex, Protection};
use crate::spi::{Integrity, Spi};
use crate::status::ResponseStatus;

/// The UDH of a response packet in an SMS: UDHL 2, IEI 0x71 (response packet), length 0.
pub const RESPONSE_UDH: [u8; 3] = [0x02, 0x71, 0x00];

/// A verified response packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePacket {
    /// TAR of the application that answered.
    pub tar: [u8; 3],
    /// The counter of the command it answers.
    pub cntr: Counter,
    /// Padding count.
    pub pcntr: u8,
    /// Response status.
    pub status: ResponseStatus,
    /// Additional response data (the remote-command response), padding removed.
    pub data: Vec<u8>,
    /// False when the PoR came back without the ciphering/RC/CC its SPI asks for: cards answer a
    /// security error (status ≠ 0) in clear when they could not apply the key set.
    pub protected: bool,
}

impl ResponsePacket {
    /// Checks that this PoR answers the command sent to `tar` with `cntr`.
    pub fn answers(&self, tar: [u8; 3], cntr: Counter) -> core::result::Result<(), CounterError> {
        if self.cntr != cntr {
            return Err(CounterError::Mismatch { expected: cntr, got: self.cntr });
        }
        if self.tar != tar {
            return Err(CounterError::TarMismatch { cntr, expected: hex(&tar), got: hex(&self.tar) });
        }
        Ok(())
    }
}

/// Builds a PoR's user data (UDH included) answering `tar`/`cntr` with `status` and `data`, protected
/// as `spi` asks for the PoR.
pub fn build_response(
    spi: &Spi,
    keys: &KeySet,
    tar: [u8; 3],
    cntr: Counter,
    status: ResponseStatus,
    data: &[u8],
) -> Result<Vec<u8>> {
    let prot = protection(spi, keys)?;
    let pcntr = prot.padding(7 + data.len());
    let rhl = 10 + prot.sig_len();
    let rpl = 1 + rhl + data.len() + pcntr;
    if rpl > usize::from(u16::MAX) {
        return Err(OtaError::Length { field: Field::Response, expected: "at most 65,535 bytes of packet", got: rpl });
    }
    let mut out = RESPONSE_UDH.to_vec();
    out.extend_from_slice(&(rpl as u16).to_be_bytes());
    out.push(rhl as u8);
    out.extend_from_slice(&tar);
    out.extend_from_slice(&cntr.to_bytes());
    out.push(pcntr as u8);
    out.push(status.to_byte());
    out.extend_from_slice(data);
    out.resize(out.len() + pcntr, 0);
    prot.seal(&mut out, RESPONSE_UDH.len() + 13, RESPONSE_UDH.len() + 6);
    Ok(out)
}

/// The ciphering and RC/CC the PoR bits of `spi` ask for, keys checked against the algorithms.
fn protection<'k>(spi: &Spi, keys: &'k KeySet) -> Result<Protection<'k>> {
    let cipher = if spi.por_ciphered { Some(keys.cipher()?) } else { None };
    Ok(Protection { cipher, check: keys.check(spi.por_integrity)?, field: Field::Response })
}

fn truncated(what: &'static str, need: usize, got: usize) -> OtaError {
    OtaError::Truncated { field: Field::Response, what, need, got }
}

/// Splits the UDH (which must carry IEI 0x71) from the packet. User data starting with 0x00 (an RPL)
/// is taken as a bare packet and gets the standard UDH for the RC/CC.
fn split_udh(user_data: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let Some(&udhl) = user_data.first() else { return Err(truncated("UDH", 1, 0)) };
    if udhl == 0 {
        return Ok((RESPONSE_UDH.to_vec(), user_data));
    }
    let end = 1 + usize::from(udhl);
    if user_data.len() < end {
        return Err(truncated("UDH", end, user_data.len()));
    }
    let (udh, rest) = user_data.split_at(end);
    let mut i = 1;
    let mut found = false;
    while i < udh.len() {
        if i + 1 >= udh.len() || i + 2 + usize::from(udh[i + 1]) > udh.len() {
            return Err(OtaError::malformed(Field::Response, "UDH information element overruns the UDH"));
        }
        found |= udh[i] == 0x71;
        i += 2 + usize::from(udh[i + 1]);
    }
    if !found {
        return Err(OtaError::malformed(Field::Response, "UDH has no response packet element (IEI 0x71)"));
    }
    Ok((udh.to_vec(), rest))
}

/// Parses and verifies a PoR (its SMS user data, UDH included) with the command's SPI and key set.
pub fn parse_response(user_data: &[u8], spi: &Spi, keys: &KeySet) -> Result<ResponsePacket> {
    let (udh, packet) = split_udh(user_data)?;
    match open(&udh, packet, spi, keys) {
        Ok(r) => Ok(r),
        Err(e) => {
            // A card that could not apply the key set answers its security error in clear.
            let clear = Spi { por_ciphered: false, por_integrity: Integrity::None, ..*spi };
            match open(&udh, packet, &clear, keys) {
                Ok(r)
                    if r.status != ResponseStatus::PorOk
                        && (spi.por_ciphered || spi.por_integrity != Integrity::None) =>
                {
                    Ok(ResponsePacket { protected: false, ..r })
                }
                _ => Err(e),
            }
        }
    }
}

fn open(udh: &[u8], packet: &[u8], spi: &Spi, keys: &KeySet) -> Result<ResponsePacket> {
    if packet.len() < 6 {
        return Err(truncated("RPL, RHL and TAR", 6, packet.len()));
    }
    let rpl = usize::from(u16::from_be_bytes([packet[0], packet[1]]));
    if rpl != packet.len() - 2 {
        return Err(OtaError::malformed(
            Field::Response,
            format!("RPL says {rpl} bytes follow it, {} do", packet.len() - 2),
        ));
    }
    let prot = protection(spi, keys)?;
    let rhl = usize::from(packet[2]);
    if rhl != 10 + prot.sig_len() {
        return Err(OtaError::malformed(
            Field::Response,
            format!("RHL {rhl} does not fit the SPI's PoR RC/CC (expected {})", 10 + prot.sig_len()),
        ));
    }
    let tar = [packet[3], packet[4], packet[5]];
    let head = [udh, &packet[..6]].concat();
    let (fixed, data) = prot.open(&head, &packet[6..], 7, "CNTR, PCNTR, status and RC/CC")?;
    let (cntr, pcntr, status) = (Counter::from_slice(&fixed[..5])?, fixed[5], ResponseStatus::from_byte(fixed[6]));
    Ok(ResponsePacket { tar, cntr, pcntr, status, data, protected: true })
}
