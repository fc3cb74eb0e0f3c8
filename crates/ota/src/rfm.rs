//! Remote file management commands (ETSI TS 102 226 §6, with the APDUs of TS 102 221 for a UICC
//! and GSM 11.11 for a SIM): SELECT by FID or path, READ/UPDATE BINARY, READ/UPDATE RECORD; and
//! the proactive REFRESH (TS 102 223 §6.4.7) that makes the terminal re-read changed files.

use crate::apdu::Apdu;
use crate::error::{Field, OtaError, Result};

/// Which command set the card speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardClass {
    /// UICC (TS 102 221): CLA 0x00, SELECT returns the FCP, select by path supported.
    Uicc,
    /// SIM (GSM 11.11): CLA 0xA0, paths are selected one file at a time.
    Gsm,
}

impl CardClass {
    /// The class byte.
    pub fn cla(self) -> u8 {
        match self {
            CardClass::Uicc => 0x00,
            CardClass::Gsm => 0xA0,
        }
    }
}

/// The TAR of the UICC's RFM applications (TS 101 220 annex D / TS 31.116).
pub mod tar {
    /// RAM, the issuer security domain.
    pub const RAM: [u8; 3] = [0x00, 0x00, 0x00];
    /// UICC shared file system RFM.
    pub const UICC_RFM: [u8; 3] = [0xB0, 0x00, 0x00];
    /// SIM (GSM) RFM.
    pub const SIM_RFM: [u8; 3] = [0xB0, 0x00, 0x10];
    /// USIM RFM.
    pub const USIM_RFM: [u8; 3] = [0xB0, 0x00, 0x11];
}

fn param(reason: String) -> OtaError {
    OtaError::invalid(Field::Parameter, reason)
}

/// SELECT one file by its file identifier.
pub fn select_fid(class: CardClass, fid: u16) -> Apdu {
    let p2 = if class == CardClass::Uicc { 0x04 } else { 0x00 };
    Apdu { cla: class.cla(), ins: 0xA4, p1: 0x00, p2, data: fid.to_be_bytes().to_vec(), le: None }
}

/// SELECT a file by its path from the MF (`[0x3F00, …]`; `0x7FFF` stands for the current ADF).
/// A UICC gets one SELECT by path (P1 = 0x08, MF left out); a SIM one SELECT per file.
pub fn select_path(class: CardClass, path: &[u16]) -> Result<Vec<Apdu>> {
    if path.is_empty() || path.len() > 8 {
        return Err(param(format!("a path has 1 to 8 file identifiers, got {}", path.len())));
    }
    let rest = if path[0] == 0x3F00 { &path[1..] } else { path };
    match class {
        CardClass::Gsm => Ok(path.iter().map(|&f| select_fid(class, f)).collect()),
        CardClass::Uicc if rest.is_empty() => Ok(vec![select_fid(class, 0x3F00)]),
        CardClass::Uicc => {
            let data: Vec<u8> = rest.iter().flat_map(|f| f.to_be_bytes()).collect();
            Ok(vec![Apdu { cla: class.cla(), ins: 0xA4, p1: 0x08, p2: 0x04, data, le: None }])
        }
    }
}

/// READ BINARY of `len` bytes (1-256; 256 codes as Le 0) at `offset` (below 0x8000).
pub fn read_binary(class: CardClass, offset: u16, len: u16) -> Result<Apdu> {
    if offset >= 0x8000 || !(1..=256).contains(&len) {
        return Err(param(format!("READ BINARY needs offset < 0x8000 and 1-256 bytes, got {offset:#06x}/{len}")));
    }
    let [p1, p2] = offset.to_be_bytes();
    Ok(Apdu { cla: class.cla(), ins: 0xB0, p1, p2, data: vec![], le: Some(len as u8) })
}

/// UPDATE BINARY writing `data` at `offset`, split into APDUs of at most `chunk` bytes (1-255).
pub fn update_binary(class: CardClass, offset: u16, data: &[u8], chunk: usize) -> Result<Vec<Apdu>> {
    if data.is_empty() || !(1..=255).contains(&chunk) || usize::from(offset) + data.len() > 0x8000 {
        return Err(param(format!(
            "UPDATE BINARY of {} bytes at {offset:#06x} in chunks of {chunk} is not codable",
            data.len()
        )));
    }
    Ok(data
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let [p1, p2] = (offset + (i * chunk) as u16).to_be_bytes();
            Apdu { cla: class.cla(), ins: 0xD6, p1, p2, data: part.to_vec(), le: None }
        })
        .collect())
}

/// READ RECORD `record` (1-254, absolute mode) of `len` bytes.
pub fn read_record(class: CardClass, record: u8, len: u8) -> Result<Apdu> {
    if record == 0 || record == 0xFF {
        return Err(param(format!("record number {record} is outside 1-254")));
    }
    Ok(Apdu { cla: class.cla(), ins: 0xB2, p1: record, p2: 0x04, data: vec![], le: Some(len) })
}

/// UPDATE RECORD `record` (1-254, absolute mode) with `data` (the whole record, 1-255 bytes).
pub fn update_record(class: CardClass, record: u8, data: &[u8]) -> Result<Apdu> {
    if record == 0 || record == 0xFF {
        return Err(param(format!("record number {record} is outside 1-254")));
    }
    if data.is_empty() || data.len() > 255 {
        return Err(param(format!("a record has 1-255 bytes, got {}", data.len())));
    }
    Ok(Apdu { cla: class.cla(), ins: 0xDC, p1: record, p2: 0x04, data: data.to_vec(), le: None })
}

/// The REFRESH command qualifiers of TS 102 223 §8.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshMode {
    /// 0x00: NAA initialization and full file change notification.
    InitAndFullFileChange,
    /// 0x01: file change notification (needs a file list).
    FileChange,
    /// 0x02: NAA initialization and file change notification (needs a file list).
    InitAndFileChange,
    /// 0x03: NAA initialization.
    Init,
    /// 0x04: UICC reset.
    UiccReset,
    /// 0x05: NAA application reset.
    ApplicationReset,
    /// 0x06: NAA session reset (needs a file list).
    SessionReset,
    /// 0x07: steering of roaming (the terminal re-reads the PLMN lists and re-selects).
    SteeringOfRoaming,
}

impl RefreshMode {
    /// The command qualifier.
    pub fn qualifier(self) -> u8 {
        self as u8
    }

    fn needs_files(self) -> bool {
        matches!(self, RefreshMode::FileChange | RefreshMode::InitAndFileChange | RefreshMode::SessionReset)
    }
}

/// The proactive REFRESH command (BER-TLV 0xD0) with `mode` and the full paths (from 3F00) of the
/// changed files: what a toolkit applet on the card issues after an RFM update. Delivering it is
/// the card's business (an RFM application's or applet's option), so this is a parameter builder.
pub fn refresh_command(mode: RefreshMode, files: &[&[u16]]) -> Result<Vec<u8>> {
    if mode.needs_files() && files.is_empty() {
        return Err(param(format!("REFRESH mode {:#04x} needs a file list", mode.qualifier())));
    }
    let mut body = vec![0x81, 0x03, 0x01, 0x01, mode.qualifier(), 0x82, 0x02, 0x81, 0x82];
    if !files.is_empty() {
        let mut list = vec![files.len() as u8];
        for path in files {
            if path.first() != Some(&0x3F00) {
                return Err(param("REFRESH file paths start at the MF (3F00)".into()));
            }
            list.extend(path.iter().flat_map(|f| f.to_be_bytes()));
        }
        body.push(0x92);
        crate::apdu::ber_len(&mut body, list.len());
        body.extend_from_slice(&list);
    }
    let mut out = vec![0xD0];
    crate::apdu::ber_len(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_commands_code_as_ts_102_221() {
        assert_eq!(select_fid(CardClass::Uicc, 0x3F00).to_bytes(), vec![0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00]);
        let by_path = select_path(CardClass::Uicc, &[0x3F00, 0x7FFF, 0x6F61]).unwrap();
        assert_eq!(by_path[0].to_bytes(), vec![0x00, 0xA4, 0x08, 0x04, 0x04, 0x7F, 0xFF, 0x6F, 0x61]);
        assert_eq!(select_path(CardClass::Gsm, &[0x3F00, 0x7F20, 0x6F30]).unwrap().len(), 3);
        let ub = update_binary(CardClass::Uicc, 0x10, &[1; 300], 200).unwrap();
        assert_eq!((ub[0].p2, ub[1].p1, ub[1].p2, ub[1].data.len()), (0x10, 0x00, 0xD8, 100));
        assert_eq!(read_record(CardClass::Gsm, 2, 28).unwrap().to_bytes(), vec![0xA0, 0xB2, 2, 4, 28]);
        assert!(update_record(CardClass::Uicc, 0, &[1]).is_err());
        assert_eq!(read_binary(CardClass::Uicc, 0, 256).unwrap().le, Some(0));
    }

    #[test]
    fn refresh_codes_command_details_and_file_list() {
        let r = refresh_command(RefreshMode::FileChange, &[&[0x3F00, 0x7FFF, 0x6F61]]).unwrap();
        assert_eq!(
            r,
            vec![
                0xD0, 0x12, 0x81, 0x03, 0x01, 0x01, 0x01, 0x82, 0x02, 0x81, 0x82, 0x92, 0x07, 0x01, 0x3F, 0x00, 0x7F,
                0xFF, 0x6F, 0x61
            ]
        );
        assert!(refresh_command(RefreshMode::FileChange, &[]).is_err());
        assert_eq!(refresh_command(RefreshMode::SteeringOfRoaming, &[]).unwrap()[6], 0x07);
    }
}
