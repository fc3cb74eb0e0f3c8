//! PLMN lists with access technology: EF_PLMNwAcT (6F60, TS 31.102 §4.2.5) and EF_OPLMNwAcT (6F61,
//! §4.2.53): 5-byte entries of a PLMN (3-byte BCD, TS 24.008 §10.5.1.3) and an access technology
//! bitmap. Steering of roaming rewrites them: [`demote`] moves a PLMN to the end, [`remove`]
//! deletes it; [`rewrite_commands`] turns the new contents into RFM APDUs.

use crate::apdu::Apdu;
use crate::error::{Field, OtaError, Result};
use crate::rfm::{select_path, update_binary, CardClass};

/// A PLMN: MCC and a 2- or 3-digit MNC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plmn {
    mcc: [u8; 3],
    mnc: [u8; 3],
    mnc_len: u8,
}

/// Access technology bits (byte 1 high, byte 2 low).
pub mod act {
    /// UTRAN.
    pub const UTRAN: u16 = 0x8000;
    /// E-UTRAN.
    pub const E_UTRAN: u16 = 0x4000;
    /// E-UTRAN in WB-S1 mode.
    pub const E_UTRAN_WB_S1: u16 = 0x2000;
    /// E-UTRAN in NB-S1 mode.
    pub const E_UTRAN_NB_S1: u16 = 0x1000;
    /// NG-RAN.
    pub const NG_RAN: u16 = 0x0800;
    /// GSM.
    pub const GSM: u16 = 0x0080;
}

impl Plmn {
    /// From "MCCMNC" digits (5 or 6).
    pub fn parse(s: &str) -> Result<Plmn> {
        let bad = || OtaError::invalid(Field::Parameter, format!("PLMN {s:?}: MCC and MNC are 5 or 6 digits"));
        if !matches!(s.len(), 5 | 6) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
        let mut mnc = [0xF; 3];
        mnc[..d.len() - 3].copy_from_slice(&d[3..]);
        Ok(Plmn { mcc: [d[0], d[1], d[2]], mnc, mnc_len: (d.len() - 3) as u8 })
    }

    /// From the 3 BCD bytes; `None` for the unused entry FF FF FF.
    pub fn from_bytes(b: [u8; 3]) -> Result<Option<Plmn>> {
        if b == [0xFF; 3] {
            return Ok(None);
        }
        let (mcc, mnc3, mnc) = ([b[0] & 0xF, b[0] >> 4, b[1] & 0xF], b[1] >> 4, [b[2] & 0xF, b[2] >> 4]);
        let digits_ok = mcc.iter().chain(&mnc).all(|&d| d <= 9) && (mnc3 <= 9 || mnc3 == 0xF);
        if !digits_ok {
            return Err(OtaError::malformed(
                Field::Parameter,
                format!("PLMN bytes {:02x}{:02x}{:02x} are not BCD", b[0], b[1], b[2]),
            ));
        }
        let (mnc, mnc_len) = if mnc3 == 0xF { ([mnc[0], mnc[1], 0xF], 2) } else { ([mnc[0], mnc[1], mnc3], 3) };
        Ok(Some(Plmn { mcc, mnc, mnc_len }))
    }

    /// The 3 BCD bytes.
    pub fn to_bytes(self) -> [u8; 3] {
        let mnc3 = if self.mnc_len == 2 { 0xF } else { self.mnc[2] };
        [(self.mcc[1] << 4) | self.mcc[0], (mnc3 << 4) | self.mcc[2], (self.mnc[1] << 4) | self.mnc[0]]
    }
}

impl core::fmt::Display for Plmn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for d in self.mcc.iter().chain(&self.mnc[..usize::from(self.mnc_len)]) {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// One entry of a PLMNwAcT file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlmnEntry {
    /// The PLMN; `None` for an unused entry.
    pub plmn: Option<Plmn>,
    /// Access technology bitmap.
    pub act: u16,
}

impl PlmnEntry {
    /// An unused entry (FF FF FF 00 00).
    pub const UNUSED: PlmnEntry = PlmnEntry { plmn: None, act: 0 };
}

/// Decodes a PLMNwAcT file (a whole number of 5-byte entries).
pub fn decode_list(content: &[u8]) -> Result<Vec<PlmnEntry>> {
    if !content.len().is_multiple_of(5) {
        return Err(OtaError::malformed(
            Field::Parameter,
            format!("a PLMNwAcT file has 5-byte entries, got {} bytes", content.len()),
        ));
    }
    content
        .chunks_exact(5)
        .map(|e| {
            let plmn = Plmn::from_bytes([e[0], e[1], e[2]])?;
            Ok(PlmnEntry { plmn, act: if plmn.is_some() { u16::from_be_bytes([e[3], e[4]]) } else { 0 } })
        })
        .collect()
}

/// Encodes entries as the file content.
pub fn encode_list(entries: &[PlmnEntry]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| {
            let p = e.plmn.map_or([0xFF; 3], Plmn::to_bytes);
            let a = if e.plmn.is_some() { e.act.to_be_bytes() } else { [0, 0] };
            [p[0], p[1], p[2], a[0], a[1]]
        })
        .collect()
}

/// Used entries in order, then unused ones, keeping the file's size.
fn compact(used: Vec<PlmnEntry>, size: usize) -> Vec<PlmnEntry> {
    let mut out = used;
    out.resize(size, PlmnEntry::UNUSED);
    out
}

/// Moves every entry of `plmn` behind the other used entries (lowest priority), keeping the order of
/// the rest and the file size. Returns `None` when the list does not contain `plmn` or already ends
/// with it (nothing to write).
pub fn demote(entries: &[PlmnEntry], plmn: Plmn) -> Option<Vec<PlmnEntry>> {
    let used: Vec<PlmnEntry> = entries.iter().copied().filter(|e| e.plmn.is_some()).collect();
    let (hit, mut rest): (Vec<_>, Vec<_>) = used.iter().partition(|e| e.plmn == Some(plmn));
    if hit.is_empty() {
        return None;
    }
    rest.extend(hit);
    let out = compact(rest, entries.len());
    (out != entries).then_some(out)
}

/// Removes every entry of `plmn`, moving the later entries up and leaving unused entries at the end.
/// Returns `None` when the list does not contain it.
pub fn remove(entries: &[PlmnEntry], plmn: Plmn) -> Option<Vec<PlmnEntry>> {
    if !entries.iter().any(|e| e.plmn == Some(plmn)) {
        return None;
    }
    let used = entries.iter().copied().filter(|e| e.plmn.is_some() && e.plmn != Some(plmn)).collect();
    Some(compact(used, entries.len()))
}

/// The two files steering rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlmnFile {
    /// EF_PLMNwAcT (user controlled), 6F60.
    User,
    /// EF_OPLMNwAcT (operator controlled), 6F61.
    Operator,
}

impl PlmnFile {
    /// The file identifier.
    pub fn fid(self) -> u16 {
        match self {
            PlmnFile::User => 0x6F60,
            PlmnFile::Operator => 0x6F61,
        }
    }
}

/// RFM commands writing `entries` into `file` of the USIM (SELECT by path 7FFF/FID, then UPDATE
/// BINARY in chunks of at most 120 bytes to fit single SMS where possible).
pub fn rewrite_commands(file: PlmnFile, entries: &[PlmnEntry]) -> Result<Vec<Apdu>> {
    let mut apdus = select_path(CardClass::Uicc, &[0x3F00, 0x7FFF, file.fid()])?;
    apdus.extend(update_binary(CardClass::Uicc, 0, &encode_list(entries), 120)?);
    Ok(apdus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str) -> PlmnEntry {
        PlmnEntry { plmn: Some(Plmn::parse(p).unwrap()), act: act::E_UTRAN | act::GSM }
    }

    #[test]
    fn plmn_bcd_follows_ts_24_008() {
        assert_eq!(Plmn::parse("26201").unwrap().to_bytes(), [0x62, 0xF2, 0x10]);
        assert_eq!(Plmn::parse("310410").unwrap().to_bytes(), [0x13, 0x00, 0x14]);
        for s in ["26201", "310410", "00101"] {
            assert_eq!(Plmn::from_bytes(Plmn::parse(s).unwrap().to_bytes()).unwrap().unwrap().to_string(), s);
        }
        assert!(Plmn::parse("2620").is_err());
        assert!(Plmn::from_bytes([0x6A, 0xF2, 0x10]).is_err());
    }

    #[test]
    fn demote_and_remove_keep_size_and_order() {
        let list = vec![e("26201"), e("26202"), e("26203"), PlmnEntry::UNUSED];
        let bytes = encode_list(&list);
        assert_eq!(&bytes[..5], &[0x62, 0xF2, 0x10, 0x40, 0x80]);
        assert_eq!(decode_list(&bytes).unwrap(), list);
        let p = Plmn::parse("26201").unwrap();
        assert_eq!(demote(&list, p).unwrap(), vec![e("26202"), e("26203"), e("26201"), PlmnEntry::UNUSED]);
        assert_eq!(demote(&[e("26202"), e("26201"), PlmnEntry::UNUSED], p), None);
        assert_eq!(remove(&list, p).unwrap(), vec![e("26202"), e("26203"), PlmnEntry::UNUSED, PlmnEntry::UNUSED]);
        assert_eq!(remove(&list, Plmn::parse("20801").unwrap()), None);
        let apdus = rewrite_commands(PlmnFile::Operator, &list).unwrap();
        assert_eq!(apdus[0].data, vec![0x7F, 0xFF, 0x6F, 0x61]);
        assert_eq!(apdus[1].data, bytes);
    }
}
