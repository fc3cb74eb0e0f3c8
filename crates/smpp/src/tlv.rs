//! SMPP 3.4 optional parameters (TLVs, SMPP v3.4 §5.3): kept in order as received, unknown tags
//! included, with accessors for the ones Warden reads.

/// The tags Warden names (SMPP v3.4 §5.3.2).
pub mod tag {
    /// `receipted_message_id`: the SMSC message id a delivery receipt is for (C-octet string).
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// `user_message_reference`.
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    /// `source_port`.
    pub const SOURCE_PORT: u16 = 0x020A;
    /// `destination_port`.
    pub const DESTINATION_PORT: u16 = 0x020B;
    /// `sar_msg_ref_num`: the concatenated message's reference.
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    /// `sar_total_segments`.
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    /// `sar_segment_seqnum`.
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    /// `sc_interface_version` (in bind responses).
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    /// `network_error_code` (delivery receipts).
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    /// `message_payload`: user data longer than `short_message` allows.
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// `message_state` (delivery receipts).
    pub const MESSAGE_STATE: u16 = 0x0427;
}

/// The spec's name of a tag Warden knows.
pub fn tag_name(tag: u16) -> &'static str {
    match tag {
        tag::RECEIPTED_MESSAGE_ID => "receipted_message_id",
        tag::USER_MESSAGE_REFERENCE => "user_message_reference",
        tag::SOURCE_PORT => "source_port",
        tag::DESTINATION_PORT => "destination_port",
        tag::SAR_MSG_REF_NUM => "sar_msg_ref_num",
        tag::SAR_TOTAL_SEGMENTS => "sar_total_segments",
        tag::SAR_SEGMENT_SEQNUM => "sar_segment_seqnum",
        tag::SC_INTERFACE_VERSION => "sc_interface_version",
        tag::NETWORK_ERROR_CODE => "network_error_code",
        tag::MESSAGE_PAYLOAD => "message_payload",
        tag::MESSAGE_STATE => "message_state",
        _ => "unknown",
    }
}

/// The value lengths SMPP 3.4 allows for a known tag, as (min, max); `None` for tags Warden does
/// not check (unknown ones included).
pub fn allowed_len(tag: u16) -> Option<(usize, usize)> {
    match tag {
        tag::RECEIPTED_MESSAGE_ID => Some((1, 65)),
        tag::USER_MESSAGE_REFERENCE | tag::SOURCE_PORT | tag::DESTINATION_PORT | tag::SAR_MSG_REF_NUM => Some((2, 2)),
        tag::SAR_TOTAL_SEGMENTS | tag::SAR_SEGMENT_SEQNUM | tag::SC_INTERFACE_VERSION | tag::MESSAGE_STATE => {
            Some((1, 1))
        }
        tag::NETWORK_ERROR_CODE => Some((3, 3)),
        _ => None,
    }
}

/// One optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Its tag.
    pub tag: u16,
    /// Its value (at most 65,535 octets).
    pub value: Vec<u8>,
}

/// The optional parameters of a PDU, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tlvs(pub Vec<Tlv>);

impl Tlvs {
    /// The value of the first TLV with `tag`.
    pub fn get(&self, tag: u16) -> Option<&[u8]> {
        self.0.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice())
    }

    /// Appends a TLV.
    pub fn push(&mut self, tag: u16, value: impl Into<Vec<u8>>) {
        self.0.push(Tlv { tag, value: value.into() });
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `message_payload`.
    pub fn message_payload(&self) -> Option<&[u8]> {
        self.get(tag::MESSAGE_PAYLOAD)
    }

    /// `receipted_message_id` without its terminating NUL.
    pub fn receipted_message_id(&self) -> Option<String> {
        let v = self.get(tag::RECEIPTED_MESSAGE_ID)?;
        let v = v.split(|b| *b == 0).next().unwrap_or_default();
        Some(String::from_utf8_lossy(v).into_owned())
    }

    /// `message_state` (1 ENROUTE, 2 DELIVERED, 3 EXPIRED, 4 DELETED, 5 UNDELIVERABLE, 6 ACCEPTED,
    /// 7 UNKNOWN, 8 REJECTED).
    pub fn message_state(&self) -> Option<u8> {
        self.get(tag::MESSAGE_STATE).and_then(|v| v.first().copied())
    }

    /// `sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum`, when all three are there.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        let r = self.get(tag::SAR_MSG_REF_NUM)?;
        let total = *self.get(tag::SAR_TOTAL_SEGMENTS)?.first()?;
        let seq = *self.get(tag::SAR_SEGMENT_SEQNUM)?.first()?;
        Some((u16::from_be_bytes([*r.first()?, *r.get(1)?]), total, seq))
    }
}
