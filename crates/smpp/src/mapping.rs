//! How the SMS router's messages map onto SMPP fields: an [`MtMessage`] segment onto a `submit_sm`,
//! a `deliver_sm` onto an [`MoMessage`], an [`MoVerdict`] onto the `deliver_sm_resp` status.

use sms::{MoMessage, MoVerdict, MtMessage, Via};

use crate::pdu::{ShortMessage, MAX_SHORT_MESSAGE};
use crate::status::CommandStatus;
use crate::tlv::tag;

/// `esm_class` bit 6: the user data starts with a UDH (UDHI).
pub const ESM_UDHI: u8 = 0x40;
/// TON international.
pub const TON_INTERNATIONAL: u8 = 0x01;
/// TON alphanumeric.
pub const TON_ALPHANUMERIC: u8 = 0x05;
/// NPI ISDN/E.164.
pub const NPI_ISDN: u8 = 0x01;

/// TON, NPI and address for an originator: `+digits` is international E.164, plain digits are
/// E.164 of unknown type (a short code), anything else alphanumeric.
pub fn source_address(originator: &str) -> (u8, u8, String) {
    if let Some(digits) = originator.strip_prefix('+') {
        (TON_INTERNATIONAL, NPI_ISDN, digits.to_string())
    } else if !originator.is_empty() && originator.bytes().all(|b| b.is_ascii_digit()) {
        (0x00, NPI_ISDN, originator.to_string())
    } else {
        (TON_ALPHANUMERIC, 0x00, originator.to_string())
    }
}

/// The `submit_sm` for one segment of `message`: destination the SIM's MSISDN (international
/// E.164), source the originator, `esm_class` UDHI, `protocol_id` TP-PID, `data_coding` TP-DCS,
/// a delivery receipt asked for. User data above 254 octets goes in `message_payload`.
pub fn submit_sm(message: &MtMessage, segment: &[u8]) -> Result<ShortMessage, String> {
    let msisdn = message
        .msisdn
        .as_deref()
        .ok_or_else(|| format!("IMSI {} has no MSISDN; SMPP addresses SIMs by MSISDN", message.imsi))?;
    let msisdn = msisdn.strip_prefix('+').unwrap_or(msisdn);
    if msisdn.is_empty() || !msisdn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("MSISDN {msisdn:?} is not digits"));
    }
    let (source_addr_ton, source_addr_npi, source_addr) = source_address(&message.originator);
    let mut sm = ShortMessage {
        source_addr_ton,
        source_addr_npi,
        source_addr,
        dest_addr_ton: TON_INTERNATIONAL,
        dest_addr_npi: NPI_ISDN,
        destination_addr: msisdn.to_string(),
        esm_class: ESM_UDHI,
        protocol_id: message.pid,
        data_coding: message.dcs,
        registered_delivery: 1,
        ..Default::default()
    };
    if segment.len() > MAX_SHORT_MESSAGE {
        sm.tlvs.push(tag::MESSAGE_PAYLOAD, segment.to_vec());
    } else {
        sm.short_message = segment.to_vec();
    }
    Ok(sm)
}

/// The `submit_sm` that forwards an MO message from a SIM to the SMSC: source the SIM's MSISDN
/// (international), destination TP-DA (`+digits` international, digits of unknown type), UDHI,
/// TP-PID and TP-DCS as the SIM sent them, no delivery receipt asked for.
pub fn forward_sm(message: &MoMessage) -> Result<ShortMessage, String> {
    let msisdn = message.msisdn.as_deref().ok_or("the MO message names no MSISDN to send it from")?;
    let msisdn = msisdn.strip_prefix('+').unwrap_or(msisdn);
    if msisdn.is_empty() || !msisdn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("MSISDN {msisdn:?} is not digits"));
    }
    let (dest_addr_ton, dest_addr_npi, destination_addr) = source_address(&message.destination);
    if dest_addr_ton == TON_ALPHANUMERIC {
        return Err(format!("destination {:?} is not a number", message.destination));
    }
    let mut sm = ShortMessage {
        source_addr_ton: TON_INTERNATIONAL,
        source_addr_npi: NPI_ISDN,
        source_addr: msisdn.to_string(),
        dest_addr_ton,
        dest_addr_npi,
        destination_addr,
        esm_class: if message.udhi { ESM_UDHI } else { 0 },
        protocol_id: message.pid,
        data_coding: message.dcs,
        ..Default::default()
    };
    if message.user_data.len() > MAX_SHORT_MESSAGE {
        sm.tlvs.push(tag::MESSAGE_PAYLOAD, message.user_data.clone());
    } else {
        sm.short_message = message.user_data.clone();
    }
    Ok(sm)
}

/// The MO message a (non-receipt) `deliver_sm` carries.
pub fn mo_message(sm: &ShortMessage) -> MoMessage {
    let user_data =
        if sm.short_message.is_empty() { sm.tlvs.message_payload().unwrap_or_default() } else { &sm.short_message };
    let msisdn = sm.source_addr.strip_prefix('+').unwrap_or(&sm.source_addr);
    let destination = if sm.dest_addr_ton == TON_INTERNATIONAL && !sm.destination_addr.starts_with('+') {
        format!("+{}", sm.destination_addr)
    } else {
        sm.destination_addr.clone()
    };
    MoMessage {
        imsi: None,
        msisdn: (!msisdn.is_empty()).then(|| msisdn.to_string()),
        destination,
        pid: sm.protocol_id,
        dcs: sm.data_coding,
        udhi: sm.esm_class & ESM_UDHI != 0,
        user_data: user_data.to_vec(),
        via: Via::Smpp,
    }
}

/// The `deliver_sm_resp` status for a handler's verdict: taken → `ESME_ROK`; barred (fixed
/// dialling) → `ESME_RX_R_APPN` (reject); failed and worth retrying → `ESME_RX_T_APPN`; failed for
/// good → `ESME_RX_P_APPN`.
pub fn deliver_status(verdict: &MoVerdict) -> CommandStatus {
    match verdict {
        MoVerdict::Accepted => CommandStatus::ESME_ROK,
        MoVerdict::Barred { .. } => CommandStatus::ESME_RX_R_APPN,
        MoVerdict::Failed { retry: true, .. } => CommandStatus::ESME_RX_T_APPN,
        MoVerdict::Failed { retry: false, .. } => CommandStatus::ESME_RX_P_APPN,
    }
}

/// Whether a `submit_sm` refused with `status` may succeed when sent again later.
pub fn retryable(status: CommandStatus) -> bool {
    matches!(
        status,
        CommandStatus::ESME_RTHROTTLED
            | CommandStatus::ESME_RMSGQFUL
            | CommandStatus::ESME_RSYSERR
            | CommandStatus::ESME_RSUBMITFAIL
            | CommandStatus::ESME_RX_T_APPN
            | CommandStatus::ESME_RUNKNOWNERR
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_onto_statuses() {
        assert_eq!(deliver_status(&MoVerdict::Accepted), CommandStatus::ESME_ROK);
        assert_eq!(deliver_status(&MoVerdict::Barred { reason: "x".into() }), CommandStatus(0x66));
        assert_eq!(deliver_status(&MoVerdict::Failed { reason: "x".into(), retry: true }), CommandStatus(0x64));
        assert_eq!(deliver_status(&MoVerdict::Failed { reason: "x".into(), retry: false }), CommandStatus(0x65));
    }
}
