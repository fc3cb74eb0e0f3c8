//! The security parameter indicator (ETSI TS 102 225 §5.1.1): what a command packet is protected
//! with, which counter check the card applies, and how the proof of receipt (PoR) comes back.

use crate::error::{Field, OtaError, Result};

/// Counter handling, SPI1 bits b4b5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterMode {
    /// 00: no counter.
    NoCounter,
    /// 01: counter available, no replay or sequence checking.
    Available,
    /// 10: process only if the counter is higher than the one in the card.
    MustBeHigher,
    /// 11: process only if the counter is exactly one higher than the one in the card.
    MustBeOneHigher,
}

/// Redundancy check, cryptographic checksum or digital signature (SPI1 b1b2, SPI2 b3b4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// 00: none.
    None,
    /// 01: redundancy check (CRC).
    Rc,
    /// 10: cryptographic checksum.
    Cc,
    /// 11: digital signature (not supported: refused when used).
    Ds,
}

/// Whether a PoR is asked for, SPI2 b1b2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PorRequest {
    /// 00: no PoR.
    None,
    /// 01: PoR required.
    Always,
    /// 10: PoR only on error.
    OnError,
}

/// A decoded SPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spi {
    /// Counter mode of the command.
    pub counter: CounterMode,
    /// The command is ciphered with the KIc algorithm.
    pub ciphered: bool,
    /// RC/CC/DS of the command.
    pub integrity: Integrity,
    /// PoR request.
    pub por: PorRequest,
    /// RC/CC/DS of the PoR.
    pub por_integrity: Integrity,
    /// The PoR is ciphered.
    pub por_ciphered: bool,
    /// The PoR comes in an SMS-SUBMIT (true) or in the SMS-DELIVER-REPORT (false).
    pub por_via_submit: bool,
}

fn integrity(bits: u8) -> Integrity {
    match bits & 3 {
        0 => Integrity::None,
        1 => Integrity::Rc,
        2 => Integrity::Cc,
        _ => Integrity::Ds,
    }
}

fn integrity_bits(i: Integrity) -> u8 {
    match i {
        Integrity::None => 0,
        Integrity::Rc => 1,
        Integrity::Cc => 2,
        Integrity::Ds => 3,
    }
}

impl Spi {
    /// Decodes the two SPI octets; reserved bits and the reserved PoR request value are refused.
    pub fn from_bytes(b: [u8; 2]) -> Result<Spi> {
        let [spi1, spi2] = b;
        if spi1 & 0xE0 != 0 {
            return Err(OtaError::invalid(Field::Spi, format!("SPI1 {spi1:#04x} sets reserved bits b6-b8")));
        }
        if spi2 & 0xC0 != 0 {
            return Err(OtaError::invalid(Field::Spi, format!("SPI2 {spi2:#04x} sets reserved bits b7-b8")));
        }
        let counter = match (spi1 >> 3) & 3 {
            0 => CounterMode::NoCounter,
            1 => CounterMode::Available,
            2 => CounterMode::MustBeHigher,
            _ => CounterMode::MustBeOneHigher,
        };
        let por = match spi2 & 3 {
            0 => PorRequest::None,
            1 => PorRequest::Always,
            2 => PorRequest::OnError,
            _ => return Err(OtaError::invalid(Field::Spi, format!("SPI2 {spi2:#04x}: PoR request 11 is reserved"))),
        };
        Ok(Spi {
            counter,
            ciphered: spi1 & 0x04 != 0,
            integrity: integrity(spi1),
            por,
            por_integrity: integrity(spi2 >> 2),
            por_ciphered: spi2 & 0x10 != 0,
            por_via_submit: spi2 & 0x20 != 0,
        })
    }

    /// Decodes an SPI from a slice that must be exactly two octets.
    pub fn from_slice(b: &[u8]) -> Result<Spi> {
        let arr: [u8; 2] =
            b.try_into().map_err(|_| OtaError::Length { field: Field::Spi, expected: "2 bytes", got: b.len() })?;
        Spi::from_bytes(arr)
    }

    /// The two SPI octets.
    pub fn to_bytes(self) -> [u8; 2] {
        let counter = match self.counter {
            CounterMode::NoCounter => 0,
            CounterMode::Available => 1,
            CounterMode::MustBeHigher => 2,
            CounterMode::MustBeOneHigher => 3,
        };
        let spi1 = integrity_bits(self.integrity) | (u8::from(self.ciphered) << 2) | (counter << 3);
        let por = match self.por {
            PorRequest::None => 0,
            PorRequest::Always => 1,
            PorRequest::OnError => 2,
        };
        let spi2 = por
            | (integrity_bits(self.por_integrity) << 2)
            | (u8::from(self.por_ciphered) << 4)
            | (u8::from(self.por_via_submit) << 5);
        [spi1, spi2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pysim_spi_0619_is_cc_ciphered_with_ciphered_cc_por() {
        let spi = Spi::from_bytes([0x06, 0x19]).unwrap();
        assert_eq!(spi.counter, CounterMode::NoCounter);
        assert!(spi.ciphered);
        assert_eq!(spi.integrity, Integrity::Cc);
        assert_eq!(spi.por, PorRequest::Always);
        assert_eq!(spi.por_integrity, Integrity::Cc);
        assert!(spi.por_ciphered);
        assert!(!spi.por_via_submit);
    }

    #[test]
    fn every_valid_spi_round_trips_and_reserved_bits_are_refused() {
        for spi1 in 0..=255u8 {
            for spi2 in 0..=255u8 {
                match Spi::from_bytes([spi1, spi2]) {
                    Ok(s) => assert_eq!(s.to_bytes(), [spi1, spi2]),
                    Err(_) => assert!(spi1 & 0xE0 != 0 || spi2 & 0xC0 != 0 || spi2 & 3 == 3),
                }
            }
        }
        assert_eq!(Spi::from_bytes([0x16, 0x39]).unwrap().counter, CounterMode::MustBeHigher);
        assert!(Spi::from_bytes([0x16, 0x39]).unwrap().por_via_submit);
    }
}
