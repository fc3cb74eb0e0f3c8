//! SMSC delivery receipts (a `deliver_sm` with esm_class message type 0x04): the
//! `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` text of SMPP v3.4 Appendix B
//! and the `receipted_message_id`/`message_state` TLVs (§5.3.2.12, §5.3.2.35), which win when both
//! are there.

use sms::DeliveryReport;

use crate::pdu::ShortMessage;

/// `esm_class` bits 2–5: the message type.
pub const ESM_MESSAGE_TYPE_MASK: u8 = 0x3C;
/// Message type "SMSC delivery receipt".
pub const ESM_DELIVERY_RECEIPT: u8 = 0x04;

/// Whether a `deliver_sm` is an SMSC delivery receipt.
pub fn is_delivery_receipt(m: &ShortMessage) -> bool {
    m.esm_class & ESM_MESSAGE_TYPE_MASK == ESM_DELIVERY_RECEIPT
}

/// The fields of an Appendix B receipt text; those absent are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptText {
    /// `id:` — the message id the SMSC gave in `submit_sm_resp`.
    pub id: Option<String>,
    /// `sub:`.
    pub sub: Option<String>,
    /// `dlvrd:`.
    pub dlvrd: Option<String>,
    /// `submit date:` (YYMMDDhhmm).
    pub submit_date: Option<String>,
    /// `done date:` (YYMMDDhhmm).
    pub done_date: Option<String>,
    /// `stat:` (DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE).
    pub stat: Option<String>,
    /// `err:`.
    pub err: Option<String>,
    /// `text:` (the rest).
    pub text: Option<String>,
}

/// Why a delivery receipt could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Neither `receipted_message_id` nor an `id:` field.
    #[error("the delivery receipt names no message id (no receipted_message_id TLV, no id: field)")]
    NoMessageId,
    /// Neither `message_state` nor a `stat:` field.
    #[error("the delivery receipt names no state (no message_state TLV, no stat: field)")]
    NoState,
    /// A `message_state` value SMPP 3.4 does not define.
    #[error("message_state {0} is not an SMPP 3.4 message state")]
    UnknownState(u8),
}

/// Reads the Appendix B fields out of a receipt text. Keys are case-insensitive; unknown words are
/// ignored; `text:` takes the rest of the line.
pub fn parse_receipt_text(text: &[u8]) -> ReceiptText {
    let text = String::from_utf8_lossy(text);
    let mut out = ReceiptText::default();
    let lower = text.to_ascii_lowercase();
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in lower.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, lower.len()));
    }
    let mut i = 0;
    while i < words.len() {
        let (s, e) = words[i];
        let word = &lower[s..e];
        // "submit date:" and "done date:" are two words.
        let (key, value_start, value_end) = if (word == "submit" || word == "done")
            && words.get(i + 1).is_some_and(|(s2, e2)| lower[*s2..*e2].starts_with("date:"))
        {
            i += 1;
            let (s2, e2) = words[i];
            (if word == "submit" { "submit date" } else { "done date" }, s2 + 5, e2)
        } else if let Some(colon) = word.find(':') {
            (&word[..colon], s + colon + 1, e)
        } else {
            i += 1;
            continue;
        };
        let value = text[value_start..value_end].to_string();
        match key {
            "id" => out.id = Some(value),
            "sub" => out.sub = Some(value),
            "dlvrd" => out.dlvrd = Some(value),
            "submit date" => out.submit_date = Some(value),
            "done date" => out.done_date = Some(value),
            "stat" => out.stat = Some(value),
            "err" => out.err = Some(value),
            "text" => {
                out.text = Some(text[value_start..].trim().to_string());
                break;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The Appendix B `stat:` name of a `message_state` value.
pub fn state_name(message_state: u8) -> Option<&'static str> {
    Some(match message_state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        7 => "UNKNOWN",
        8 => "REJECTD",
        _ => return None,
    })
}

/// The delivery report a receipt `deliver_sm` carries: the TLVs where present, the text otherwise.
pub fn delivery_report(m: &ShortMessage) -> Result<DeliveryReport, ReceiptError> {
    let body = if m.short_message.is_empty() { m.tlvs.message_payload().unwrap_or_default() } else { &m.short_message };
    let text = parse_receipt_text(body);
    let message_id = m.tlvs.receipted_message_id().or(text.id).ok_or(ReceiptError::NoMessageId)?;
    let state = match m.tlvs.message_state() {
        Some(s) => state_name(s).ok_or(ReceiptError::UnknownState(s))?.to_string(),
        None => text.stat.ok_or(ReceiptError::NoState)?.to_ascii_uppercase(),
    };
    Ok(DeliveryReport { delivered: state == "DELIVRD", message_id, state })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::tag;

    #[test]
    fn appendix_b_text_is_read() {
        let t = parse_receipt_text(
            b"id:0123456789 sub:001 dlvrd:001 submit date:2612041530 done date:2612041531 stat:DELIVRD err:000 Text:hello there",
        );
        assert_eq!(t.id.as_deref(), Some("0123456789"));
        assert_eq!(t.sub.as_deref(), Some("001"));
        assert_eq!(t.dlvrd.as_deref(), Some("001"));
        assert_eq!(t.submit_date.as_deref(), Some("2612041530"));
        assert_eq!(t.done_date.as_deref(), Some("2612041531"));
        assert_eq!(t.stat.as_deref(), Some("DELIVRD"));
        assert_eq!(t.err.as_deref(), Some("000"));
        assert_eq!(t.text.as_deref(), Some("hello there"));
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let mut m =
            ShortMessage { esm_class: 0x04, short_message: b"id:AAA stat:DELIVRD".to_vec(), ..Default::default() };
        assert!(is_delivery_receipt(&m));
        assert_eq!(
            delivery_report(&m).unwrap(),
            DeliveryReport { message_id: "AAA".into(), delivered: true, state: "DELIVRD".into() }
        );
        m.tlvs.push(tag::RECEIPTED_MESSAGE_ID, b"BBB\0".to_vec());
        m.tlvs.push(tag::MESSAGE_STATE, vec![5]);
        assert_eq!(
            delivery_report(&m).unwrap(),
            DeliveryReport { message_id: "BBB".into(), delivered: false, state: "UNDELIV".into() }
        );
    }

    #[test]
    fn a_receipt_without_id_or_state_is_refused() {
        let m = ShortMessage { esm_class: 0x04, short_message: b"stat:DELIVRD".to_vec(), ..Default::default() };
        assert_eq!(delivery_report(&m), Err(ReceiptError::NoMessageId));
        let m = ShortMessage { esm_class: 0x04, short_message: b"id:1".to_vec(), ..Default::default() };
        assert_eq!(delivery_report(&m), Err(ReceiptError::NoState));
        let mut m = ShortMessage { esm_class: 0x04, short_message: b"id:1".to_vec(), ..Default::default() };
        m.tlvs.push(tag::MESSAGE_STATE, vec![9]);
        assert_eq!(delivery_report(&m), Err(ReceiptError::UnknownState(9)));
    }
}
