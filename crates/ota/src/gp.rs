//! Remote application management (ETSI TS 102 226 §8): the GlobalPlatform card specification's
//! INSTALL [for load], [for install], [for make selectable] and DELETE APDUs, built from their
//! parameters. Loading the applet itself (LOAD blocks) is not covered.

use crate::apdu::Apdu;
use crate::error::{Field, OtaError, Result};

/// CLA of GlobalPlatform commands.
const CLA_GP: u8 = 0x80;

fn aid<'a>(what: &str, a: &'a [u8]) -> Result<&'a [u8]> {
    if (5..=16).contains(&a.len()) {
        Ok(a)
    } else {
        Err(OtaError::invalid(Field::Parameter, format!("{what}: an AID has 5 to 16 bytes, got {}", a.len())))
    }
}

fn lv(out: &mut Vec<u8>, what: &str, v: &[u8]) -> Result<()> {
    let len = u8::try_from(v.len())
        .map_err(|_| OtaError::invalid(Field::Parameter, format!("{what}: at most 255 bytes, got {}", v.len())))?;
    out.push(len);
    out.extend_from_slice(v);
    Ok(())
}

fn install(p1: u8, data: Vec<u8>) -> Result<Apdu> {
    Apdu::new(CLA_GP, 0xE6, p1, 0x00, &data, None)
        .map_err(|_| OtaError::invalid(Field::Parameter, format!("INSTALL data of {} bytes exceeds 255", data.len())))
}

/// INSTALL [for load] (P1 = 0x02): load file AID, security domain AID (empty: the one addressed),
/// no hash, load parameters (e.g. `EF 04 C6 02 xx xx` for non-volatile code space), no token.
pub fn install_for_load(load_file: &[u8], security_domain: &[u8], load_params: &[u8]) -> Result<Apdu> {
    let mut d = Vec::new();
    lv(&mut d, "load file AID", aid("load file AID", load_file)?)?;
    let sd = if security_domain.is_empty() { security_domain } else { aid("security domain AID", security_domain)? };
    lv(&mut d, "security domain AID", sd)?;
    d.push(0x00);
    lv(&mut d, "load parameters", load_params)?;
    d.push(0x00);
    install(0x02, d)
}

/// INSTALL [for install] (P1 = 0x04, or 0x0C with `make_selectable`): executable load file,
/// module and application AIDs, privileges (1 or 3 bytes) and install parameters (the coded field,
/// see [`install_parameters`]); no token.
pub fn install_for_install(
    load_file: &[u8],
    module: &[u8],
    application: &[u8],
    privileges: &[u8],
    install_params: &[u8],
    make_selectable: bool,
) -> Result<Apdu> {
    if !matches!(privileges.len(), 1 | 3) {
        return Err(OtaError::invalid(Field::Parameter, format!("privileges: 1 or 3 bytes, got {}", privileges.len())));
    }
    let mut d = Vec::new();
    lv(&mut d, "executable load file AID", aid("executable load file AID", load_file)?)?;
    lv(&mut d, "executable module AID", aid("executable module AID", module)?)?;
    lv(&mut d, "application AID", aid("application AID", application)?)?;
    lv(&mut d, "privileges", privileges)?;
    lv(&mut d, "install parameters", install_params)?;
    d.push(0x00);
    install(if make_selectable { 0x0C } else { 0x04 }, d)
}

/// INSTALL [for make selectable] (P1 = 0x08) of an installed application.
pub fn install_for_make_selectable(application: &[u8], privileges: &[u8]) -> Result<Apdu> {
    let mut d = vec![0x00, 0x00];
    lv(&mut d, "application AID", aid("application AID", application)?)?;
    lv(&mut d, "privileges", privileges)?;
    d.extend_from_slice(&[0x00, 0x00]);
    install(0x08, d)
}

/// The install parameters field: application specific parameters (tag C9, always present) and,
/// for a toolkit applet, the UICC toolkit application specific parameters of TS 102 226 §8.2.1.3.2
/// (tag EA), already coded.
pub fn install_parameters(application_specific: &[u8], toolkit: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut out = vec![0xC9];
    lv(&mut out, "application specific parameters", application_specific)?;
    if let Some(t) = toolkit {
        out.push(0xEA);
        lv(&mut out, "toolkit parameters", t)?;
    }
    Ok(out)
}

/// DELETE (INS 0xE4) of the object with `aid` (tag 4F); `with_related` also deletes what depends on
/// it (P2 = 0x80, e.g. a load file and its applications).
pub fn delete(target: &[u8], with_related: bool) -> Result<Apdu> {
    let mut d = vec![0x4F];
    lv(&mut d, "AID", aid("AID", target)?)?;
    Apdu::new(CLA_GP, 0xE4, 0x00, if with_related { 0x80 } else { 0x00 }, &d, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKG: [u8; 7] = [0xA0, 0, 0, 0, 0x87, 0x10, 0x01];
    const APP: [u8; 8] = [0xA0, 0, 0, 0, 0x87, 0x10, 0x01, 0x01];

    #[test]
    fn install_and_delete_code_as_globalplatform() {
        let l = install_for_load(&PKG, &[], &[]).unwrap();
        assert_eq!(l.to_bytes()[..5], [0x80, 0xE6, 0x02, 0x00, 12]);
        assert_eq!(&l.data[8..], &[0x00, 0x00, 0x00, 0x00]);
        let params = install_parameters(&[], None).unwrap();
        let i = install_for_install(&PKG, &APP, &APP, &[0x00], &params, true).unwrap();
        assert_eq!((i.p1, i.data.len()), (0x0C, 1 + 7 + 1 + 8 + 1 + 8 + 2 + 3 + 1));
        assert_eq!(delete(&APP, true).unwrap().to_bytes(), [&[0x80, 0xE4, 0x00, 0x80, 10, 0x4F, 8][..], &APP].concat());
        assert!(delete(&[1, 2], false).unwrap_err().to_string().contains("5 to 16"));
        assert_eq!(
            install_for_make_selectable(&APP, &[0]).unwrap().data,
            [&[0, 0, 8][..], &APP, &[1, 0, 0, 0]].concat()
        );
    }
}
