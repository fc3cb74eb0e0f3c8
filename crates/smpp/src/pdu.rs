//! SMPP 3.4 PDUs (SMPP v3.4 §3.2, §4): the 16-octet header and the bodies of the operations an
//! ESME transceiver needs, encoded and decoded without I/O.
//!
//! Decoding never panics; every refusal names the command, the field and the limit it broke
//! ([`DecodeError`]). C-octet strings are checked against the spec's maximum sizes (NUL included),
//! `schedule_delivery_time`/`validity_period` must be empty or 16 characters, `short_message` at most
//! 254 octets, known TLVs must have the length SMPP 3.4 gives them; unknown TLVs are kept as received.

use std::fmt;

use zeroize::Zeroizing;

use crate::status::CommandStatus;
use crate::tlv::{self, Tlv, Tlvs};

/// The header's size.
pub const HEADER_LEN: usize = 16;
/// The largest PDU accepted or produced (a `deliver_sm` with a long `message_payload` fits).
pub const MAX_PDU_LEN: usize = 65_536;
/// `interface_version` for SMPP 3.4.
pub const INTERFACE_VERSION_34: u8 = 0x34;
/// The largest `short_message`.
pub const MAX_SHORT_MESSAGE: usize = 254;

/// `command_id` values (SMPP v3.4 §5.1.2.1).
pub mod command_id {
    /// `generic_nack`.
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    /// `bind_receiver`.
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    /// `bind_transmitter`.
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    /// `submit_sm`.
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    /// `deliver_sm`.
    pub const DELIVER_SM: u32 = 0x0000_0005;
    /// `unbind`.
    pub const UNBIND: u32 = 0x0000_0006;
    /// `bind_transceiver`.
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    /// `enquire_link`.
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    /// The bit that marks a response.
    pub const RESPONSE: u32 = 0x8000_0000;
}

/// Why octets are not a PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// `command_length` is smaller than the header.
    #[error("command_length {length} is below the 16-octet header")]
    LengthTooShort {
        /// The value.
        length: u32,
    },
    /// `command_length` is above [`MAX_PDU_LEN`].
    #[error("command_length {length} exceeds the limit of {max} octets")]
    LengthTooLong {
        /// The value.
        length: u32,
        /// The limit.
        max: usize,
    },
    /// The buffer handed to [`Pdu::decode`] is not `command_length` octets.
    #[error("command_length {length} but {available} octets given")]
    LengthMismatch {
        /// The value.
        length: u32,
        /// What there was.
        available: usize,
    },
    /// A `command_id` this codec does not handle.
    #[error("unknown or unsupported command_id 0x{0:08X}")]
    UnknownCommand(u32),
    /// The body ends inside a field.
    #[error("{command}: {field} is truncated")]
    Truncated {
        /// The command.
        command: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A C-octet string has no NUL within its maximum size.
    #[error("{command}: {field} has no terminating NUL within its maximum of {max} octets")]
    Unterminated {
        /// The command.
        command: &'static str,
        /// The field.
        field: &'static str,
        /// The maximum size, NUL included.
        max: usize,
    },
    /// A C-octet string holds a non-ASCII octet.
    #[error("{command}: {field} is not ASCII")]
    NotAscii {
        /// The command.
        command: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A time field is neither empty nor 16 characters.
    #[error("{command}: {field} must be empty or 16 characters, has {len}")]
    BadTime {
        /// The command.
        command: &'static str,
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// `sm_length` above 254.
    #[error("{command}: sm_length {sm_length} exceeds the limit of 254 octets")]
    SmLengthTooLong {
        /// The command.
        command: &'static str,
        /// The value.
        sm_length: u8,
    },
    /// A TLV's header or value runs past the body.
    #[error("{command}: TLV 0x{tag:04X} ({name}) is truncated: length {len}, {available} octets left")]
    TlvTruncated {
        /// The command.
        command: &'static str,
        /// The tag.
        tag: u16,
        /// The tag's name.
        name: &'static str,
        /// The length field.
        len: usize,
        /// What was left.
        available: usize,
    },
    /// A known TLV with a length SMPP 3.4 does not allow.
    #[error("{command}: TLV 0x{tag:04X} ({name}) has length {len}, allowed {min}..={max}")]
    TlvLength {
        /// The command.
        command: &'static str,
        /// The tag.
        tag: u16,
        /// The tag's name.
        name: &'static str,
        /// The length field.
        len: usize,
        /// The smallest allowed.
        min: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Octets after a body that takes no TLVs.
    #[error("{command}: {extra} unexpected octets after the body")]
    TrailingOctets {
        /// The command.
        command: &'static str,
        /// How many.
        extra: usize,
    },
}

impl DecodeError {
    /// The `command_status` to answer a PDU that failed this way with.
    pub fn status(&self) -> CommandStatus {
        match self {
            DecodeError::LengthTooShort { .. }
            | DecodeError::LengthTooLong { .. }
            | DecodeError::LengthMismatch { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::Unterminated { .. }
            | DecodeError::TrailingOctets { .. } => CommandStatus::ESME_RINVCMDLEN,
            DecodeError::UnknownCommand(_) => CommandStatus::ESME_RINVCMDID,
            DecodeError::NotAscii { field, .. } => match *field {
                "source_addr" => CommandStatus::ESME_RINVSRCADR,
                "destination_addr" => CommandStatus::ESME_RINVDSTADR,
                _ => CommandStatus::ESME_RSYSERR,
            },
            DecodeError::BadTime { field, .. } => match *field {
                "schedule_delivery_time" => CommandStatus::ESME_RINVSCHED,
                _ => CommandStatus::ESME_RINVEXPIRY,
            },
            DecodeError::SmLengthTooLong { .. } => CommandStatus::ESME_RINVMSGLEN,
            DecodeError::TlvTruncated { .. } => CommandStatus::ESME_RINVOPTPARSTREAM,
            DecodeError::TlvLength { .. } => CommandStatus::ESME_RINVPARLEN,
        }
    }
}

/// Why a PDU cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A C-octet string longer than its maximum allows.
    #[error("{field} has {len} characters, at most {max} are allowed")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most characters allowed (the spec's size less the NUL).
        max: usize,
    },
    /// A C-octet string with a NUL or a non-ASCII character.
    #[error("{field} holds a NUL or non-ASCII character")]
    BadChar {
        /// The field.
        field: &'static str,
    },
    /// A time field neither empty nor 16 characters.
    #[error("{field} must be empty or 16 characters, has {len}")]
    BadTime {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// `short_message` above 254 octets.
    #[error("short_message has {len} octets, at most 254 are allowed (use message_payload)")]
    ShortMessageTooLong {
        /// Its length.
        len: usize,
    },
    /// A TLV value above 65,535 octets.
    #[error("TLV 0x{tag:04X} has {len} octets, at most 65535 are allowed")]
    TlvTooLong {
        /// The tag.
        tag: u16,
        /// Its length.
        len: usize,
    },
    /// The whole PDU is above [`MAX_PDU_LEN`].
    #[error("the PDU has {len} octets, at most {max} are allowed")]
    PduTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The 16-octet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole PDU's length.
    pub command_length: u32,
    /// The operation.
    pub command_id: u32,
    /// The outcome (responses) or 0 (requests).
    pub command_status: CommandStatus,
    /// Pairs a response with its request.
    pub sequence_number: u32,
}

impl Header {
    /// Reads the header at the start of `buf` and checks `command_length` against the limits.
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        let word = |i: usize| -> Result<u32, DecodeError> {
            buf.get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(DecodeError::Truncated { command: "header", field: HEADER_FIELDS[i / 4] })
        };
        let command_length = word(0)?;
        check_length(command_length)?;
        Ok(Header {
            command_length,
            command_id: word(4)?,
            command_status: CommandStatus(word(8)?),
            sequence_number: word(12)?,
        })
    }
}

const HEADER_FIELDS: [&str; 4] = ["command_length", "command_id", "command_status", "sequence_number"];

fn check_length(length: u32) -> Result<(), DecodeError> {
    if (length as usize) < HEADER_LEN {
        return Err(DecodeError::LengthTooShort { length });
    }
    if length as usize > MAX_PDU_LEN {
        return Err(DecodeError::LengthTooLong { length, max: MAX_PDU_LEN });
    }
    Ok(())
}

/// How many octets the PDU at the start of `buf` has, once its `command_length` is there
/// (`Ok(None)`: fewer than 4 octets so far). For framing a stream.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let Some(b) = buf.get(..4) else { return Ok(None) };
    let length = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    check_length(length)?;
    Ok(Some(length as usize))
}

/// `bind_transmitter`, `bind_receiver` and `bind_transceiver` (SMPP v3.4 §4.1). The password is
/// zeroized when dropped and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Bind {
    /// Who binds (at most 15 characters).
    pub system_id: String,
    /// Its password (at most 8 characters).
    pub password: Zeroizing<String>,
    /// The kind of ESME (at most 12 characters).
    pub system_type: String,
    /// 0x34 for SMPP 3.4.
    pub interface_version: u8,
    /// TON of `address_range`.
    pub addr_ton: u8,
    /// NPI of `address_range`.
    pub addr_npi: u8,
    /// The addresses served (at most 40 characters).
    pub address_range: String,
}

impl Default for Bind {
    fn default() -> Self {
        Bind {
            system_id: String::new(),
            password: Zeroizing::new(String::new()),
            system_type: String::new(),
            interface_version: INTERFACE_VERSION_34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        }
    }
}

impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bind")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("addr_ton", &self.addr_ton)
            .field("addr_npi", &self.addr_npi)
            .field("address_range", &self.address_range)
            .finish()
    }
}

/// The response to a bind (SMPP v3.4 §4.1.2). Its body may be absent when the bind failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindResp {
    /// The SMSC's id (at most 15 characters).
    pub system_id: String,
    /// Optional parameters (`sc_interface_version`).
    pub tlvs: Tlvs,
}

/// `submit_sm` (SMPP v3.4 §4.4.1) and `deliver_sm` (§4.6.1), which share their mandatory fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShortMessage {
    /// `service_type` (at most 5 characters).
    pub service_type: String,
    /// TON of the source.
    pub source_addr_ton: u8,
    /// NPI of the source.
    pub source_addr_npi: u8,
    /// The source address (at most 20 characters).
    pub source_addr: String,
    /// TON of the destination.
    pub dest_addr_ton: u8,
    /// NPI of the destination.
    pub dest_addr_npi: u8,
    /// The destination address (at most 20 characters).
    pub destination_addr: String,
    /// Messaging mode and type; 0x40 UDHI, 0x04 (in `deliver_sm`) a delivery receipt.
    pub esm_class: u8,
    /// TP-PID.
    pub protocol_id: u8,
    /// Priority.
    pub priority_flag: u8,
    /// Empty or 16 characters.
    pub schedule_delivery_time: String,
    /// Empty or 16 characters.
    pub validity_period: String,
    /// 1: an SMSC delivery receipt is asked for.
    pub registered_delivery: u8,
    /// Replace an earlier message.
    pub replace_if_present_flag: u8,
    /// TP-DCS.
    pub data_coding: u8,
    /// A canned message's id.
    pub sm_default_msg_id: u8,
    /// At most 254 octets; longer user data goes in `message_payload`.
    pub short_message: Vec<u8>,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

/// `submit_sm_resp` and `deliver_sm_resp`: a message id (at most 64 characters); the body may be
/// absent in an error response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageIdResp {
    /// The SMSC's message id (`submit_sm_resp`) or empty (`deliver_sm_resp`).
    pub message_id: String,
}

/// A PDU body, by operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Body {
    GenericNack,
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    SubmitSm(ShortMessage),
    SubmitSmResp(MessageIdResp),
    DeliverSm(ShortMessage),
    DeliverSmResp(MessageIdResp),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
}

impl Body {
    /// Its `command_id`.
    pub fn command_id(&self) -> u32 {
        use command_id::*;
        match self {
            Body::GenericNack => GENERIC_NACK,
            Body::BindReceiver(_) => BIND_RECEIVER,
            Body::BindReceiverResp(_) => BIND_RECEIVER | RESPONSE,
            Body::BindTransmitter(_) => BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => BIND_TRANSMITTER | RESPONSE,
            Body::BindTransceiver(_) => BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => BIND_TRANSCEIVER | RESPONSE,
            Body::SubmitSm(_) => SUBMIT_SM,
            Body::SubmitSmResp(_) => SUBMIT_SM | RESPONSE,
            Body::DeliverSm(_) => DELIVER_SM,
            Body::DeliverSmResp(_) => DELIVER_SM | RESPONSE,
            Body::Unbind => UNBIND,
            Body::UnbindResp => UNBIND | RESPONSE,
            Body::EnquireLink => ENQUIRE_LINK,
            Body::EnquireLinkResp => ENQUIRE_LINK | RESPONSE,
        }
    }

    /// Its spec name (`submit_sm_resp`).
    pub fn name(&self) -> &'static str {
        command_name(self.command_id()).unwrap_or("unknown")
    }

    /// Whether it is a response (`generic_nack` included).
    pub fn is_response(&self) -> bool {
        self.command_id() & command_id::RESPONSE != 0
    }
}

/// The spec name of a `command_id` this codec handles.
pub fn command_name(id: u32) -> Option<&'static str> {
    use command_id::*;
    if id == GENERIC_NACK {
        return Some("generic_nack");
    }
    let (request, response) = match id & !RESPONSE {
        BIND_RECEIVER => ("bind_receiver", "bind_receiver_resp"),
        BIND_TRANSMITTER => ("bind_transmitter", "bind_transmitter_resp"),
        BIND_TRANSCEIVER => ("bind_transceiver", "bind_transceiver_resp"),
        SUBMIT_SM => ("submit_sm", "submit_sm_resp"),
        DELIVER_SM => ("deliver_sm", "deliver_sm_resp"),
        UNBIND => ("unbind", "unbind_resp"),
        ENQUIRE_LINK => ("enquire_link", "enquire_link_resp"),
        _ => return None,
    };
    Some(if id & RESPONSE != 0 { response } else { request })
}

/// A whole PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// `command_status`.
    pub status: CommandStatus,
    /// `sequence_number`.
    pub sequence: u32,
    /// The operation and its fields.
    pub body: Body,
}

impl Pdu {
    /// A request (status 0).
    pub fn request(sequence: u32, body: Body) -> Pdu {
        Pdu { status: CommandStatus::ESME_ROK, sequence, body }
    }

    /// Encodes the PDU, header included.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Vec::with_capacity(64);
        w.extend_from_slice(&[0; 4]);
        w.extend_from_slice(&self.body.command_id().to_be_bytes());
        w.extend_from_slice(&self.status.0.to_be_bytes());
        w.extend_from_slice(&self.sequence.to_be_bytes());
        let error = !self.status.is_ok();
        match &self.body {
            Body::GenericNack | Body::Unbind | Body::UnbindResp | Body::EnquireLink | Body::EnquireLinkResp => {}
            Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
                put_cstr(&mut w, "system_id", &b.system_id, 16)?;
                put_cstr(&mut w, "password", &b.password, 9)?;
                put_cstr(&mut w, "system_type", &b.system_type, 13)?;
                w.extend_from_slice(&[b.interface_version, b.addr_ton, b.addr_npi]);
                put_cstr(&mut w, "address_range", &b.address_range, 41)?;
            }
            Body::BindReceiverResp(r) | Body::BindTransmitterResp(r) | Body::BindTransceiverResp(r) => {
                if !(error && r.system_id.is_empty() && r.tlvs.is_empty()) {
                    put_cstr(&mut w, "system_id", &r.system_id, 16)?;
                    put_tlvs(&mut w, &r.tlvs)?;
                }
            }
            Body::SubmitSm(m) | Body::DeliverSm(m) => put_short_message(&mut w, m)?,
            Body::SubmitSmResp(r) | Body::DeliverSmResp(r) => {
                if !(error && r.message_id.is_empty()) {
                    put_cstr(&mut w, "message_id", &r.message_id, 65)?;
                }
            }
        }
        if w.len() > MAX_PDU_LEN {
            return Err(EncodeError::PduTooLong { len: w.len(), max: MAX_PDU_LEN });
        }
        let len = (w.len() as u32).to_be_bytes();
        w[..4].copy_from_slice(&len);
        Ok(w)
    }

    /// Decodes one PDU; `buf` must be exactly `command_length` octets.
    pub fn decode(buf: &[u8]) -> Result<Pdu, DecodeError> {
        let header = Header::decode(buf)?;
        if header.command_length as usize != buf.len() {
            return Err(DecodeError::LengthMismatch { length: header.command_length, available: buf.len() });
        }
        let body = decode_body(header.command_id, &buf[HEADER_LEN..])?;
        Ok(Pdu { status: header.command_status, sequence: header.sequence_number, body })
    }
}

/// Decodes the body of a PDU whose header said `id`.
pub fn decode_body(id: u32, body: &[u8]) -> Result<Body, DecodeError> {
    use command_id::*;
    let command = command_name(id).ok_or(DecodeError::UnknownCommand(id))?;
    let mut r = Reader { buf: body, pos: 0, command };
    let decoded = match id {
        GENERIC_NACK => Body::GenericNack,
        UNBIND => Body::Unbind,
        ENQUIRE_LINK => Body::EnquireLink,
        x if x == UNBIND | RESPONSE => Body::UnbindResp,
        x if x == ENQUIRE_LINK | RESPONSE => Body::EnquireLinkResp,
        BIND_RECEIVER => Body::BindReceiver(r.bind()?),
        BIND_TRANSMITTER => Body::BindTransmitter(r.bind()?),
        BIND_TRANSCEIVER => Body::BindTransceiver(r.bind()?),
        x if x == BIND_RECEIVER | RESPONSE => Body::BindReceiverResp(r.bind_resp()?),
        x if x == BIND_TRANSMITTER | RESPONSE => Body::BindTransmitterResp(r.bind_resp()?),
        x if x == BIND_TRANSCEIVER | RESPONSE => Body::BindTransceiverResp(r.bind_resp()?),
        SUBMIT_SM => Body::SubmitSm(r.short_message()?),
        DELIVER_SM => Body::DeliverSm(r.short_message()?),
        x if x == SUBMIT_SM | RESPONSE => Body::SubmitSmResp(r.message_id_resp()?),
        x if x == DELIVER_SM | RESPONSE => Body::DeliverSmResp(r.message_id_resp()?),
        _ => return Err(DecodeError::UnknownCommand(id)),
    };
    let extra = r.buf.len() - r.pos;
    if extra != 0 {
        return Err(DecodeError::TrailingOctets { command, extra });
    }
    Ok(decoded)
}

fn put_cstr(w: &mut Vec<u8>, field: &'static str, value: &str, max: usize) -> Result<(), EncodeError> {
    if value.len() >= max {
        return Err(EncodeError::TooLong { field, len: value.len(), max: max - 1 });
    }
    if value.bytes().any(|b| b == 0 || !b.is_ascii()) {
        return Err(EncodeError::BadChar { field });
    }
    w.extend_from_slice(value.as_bytes());
    w.push(0);
    Ok(())
}

fn put_time(w: &mut Vec<u8>, field: &'static str, value: &str) -> Result<(), EncodeError> {
    if !value.is_empty() && value.len() != 16 {
        return Err(EncodeError::BadTime { field, len: value.len() });
    }
    put_cstr(w, field, value, 17)
}

fn put_tlvs(w: &mut Vec<u8>, tlvs: &Tlvs) -> Result<(), EncodeError> {
    for Tlv { tag, value } in &tlvs.0 {
        let len = u16::try_from(value.len()).map_err(|_| EncodeError::TlvTooLong { tag: *tag, len: value.len() })?;
        w.extend_from_slice(&tag.to_be_bytes());
        w.extend_from_slice(&len.to_be_bytes());
        w.extend_from_slice(value);
    }
    Ok(())
}

fn put_short_message(w: &mut Vec<u8>, m: &ShortMessage) -> Result<(), EncodeError> {
    put_cstr(w, "service_type", &m.service_type, 6)?;
    w.extend_from_slice(&[m.source_addr_ton, m.source_addr_npi]);
    put_cstr(w, "source_addr", &m.source_addr, 21)?;
    w.extend_from_slice(&[m.dest_addr_ton, m.dest_addr_npi]);
    put_cstr(w, "destination_addr", &m.destination_addr, 21)?;
    w.extend_from_slice(&[m.esm_class, m.protocol_id, m.priority_flag]);
    put_time(w, "schedule_delivery_time", &m.schedule_delivery_time)?;
    put_time(w, "validity_period", &m.validity_period)?;
    w.extend_from_slice(&[m.registered_delivery, m.replace_if_present_flag, m.data_coding, m.sm_default_msg_id]);
    if m.short_message.len() > MAX_SHORT_MESSAGE {
        return Err(EncodeError::ShortMessageTooLong { len: m.short_message.len() });
    }
    w.push(m.short_message.len() as u8);
    w.extend_from_slice(&m.short_message);
    put_tlvs(w, &m.tlvs)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    command: &'static str,
}

impl Reader<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated { command: self.command, field })?;
        self.pos += 1;
        Ok(b)
    }

    fn cstr(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        let window = &rest[..rest.len().min(max)];
        let Some(nul) = window.iter().position(|b| *b == 0) else {
            return Err(if rest.len() < max {
                DecodeError::Truncated { command: self.command, field }
            } else {
                DecodeError::Unterminated { command: self.command, field, max }
            });
        };
        let text = &window[..nul];
        if !text.is_ascii() {
            return Err(DecodeError::NotAscii { command: self.command, field });
        }
        self.pos += nul + 1;
        Ok(text.iter().map(|b| *b as char).collect())
    }

    fn time(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let t = self.cstr(field, 17)?;
        if !t.is_empty() && t.len() != 16 {
            return Err(DecodeError::BadTime { command: self.command, field, len: t.len() });
        }
        Ok(t)
    }

    fn tlvs(&mut self) -> Result<Tlvs, DecodeError> {
        let mut out = Vec::new();
        while !self.at_end() {
            let rest = &self.buf[self.pos..];
            let (tag, len) = match rest {
                [t0, t1, l0, l1, ..] => (u16::from_be_bytes([*t0, *t1]), u16::from_be_bytes([*l0, *l1]) as usize),
                _ => {
                    let tag = match rest {
                        [t0, t1, ..] => u16::from_be_bytes([*t0, *t1]),
                        _ => 0,
                    };
                    return Err(DecodeError::TlvTruncated {
                        command: self.command,
                        tag,
                        name: tlv::tag_name(tag),
                        len: 0,
                        available: rest.len(),
                    });
                }
            };
            let value = rest.get(4..4 + len).ok_or(DecodeError::TlvTruncated {
                command: self.command,
                tag,
                name: tlv::tag_name(tag),
                len,
                available: rest.len() - 4,
            })?;
            if let Some((min, max)) = tlv::allowed_len(tag) {
                if len < min || len > max {
                    return Err(DecodeError::TlvLength {
                        command: self.command,
                        tag,
                        name: tlv::tag_name(tag),
                        len,
                        min,
                        max,
                    });
                }
            }
            out.push(Tlv { tag, value: value.to_vec() });
            self.pos += 4 + len;
        }
        Ok(Tlvs(out))
    }

    fn bind(&mut self) -> Result<Bind, DecodeError> {
        Ok(Bind {
            system_id: self.cstr("system_id", 16)?,
            password: Zeroizing::new(self.cstr("password", 9)?),
            system_type: self.cstr("system_type", 13)?,
            interface_version: self.u8("interface_version")?,
            addr_ton: self.u8("addr_ton")?,
            addr_npi: self.u8("addr_npi")?,
            address_range: self.cstr("address_range", 41)?,
        })
    }

    fn bind_resp(&mut self) -> Result<BindResp, DecodeError> {
        if self.at_end() {
            return Ok(BindResp::default());
        }
        Ok(BindResp { system_id: self.cstr("system_id", 16)?, tlvs: self.tlvs()? })
    }

    fn message_id_resp(&mut self) -> Result<MessageIdResp, DecodeError> {
        if self.at_end() {
            return Ok(MessageIdResp::default());
        }
        Ok(MessageIdResp { message_id: self.cstr("message_id", 65)? })
    }

    fn short_message(&mut self) -> Result<ShortMessage, DecodeError> {
        let service_type = self.cstr("service_type", 6)?;
        let source_addr_ton = self.u8("source_addr_ton")?;
        let source_addr_npi = self.u8("source_addr_npi")?;
        let source_addr = self.cstr("source_addr", 21)?;
        let dest_addr_ton = self.u8("dest_addr_ton")?;
        let dest_addr_npi = self.u8("dest_addr_npi")?;
        let destination_addr = self.cstr("destination_addr", 21)?;
        let esm_class = self.u8("esm_class")?;
        let protocol_id = self.u8("protocol_id")?;
        let priority_flag = self.u8("priority_flag")?;
        let schedule_delivery_time = self.time("schedule_delivery_time")?;
        let validity_period = self.time("validity_period")?;
        let registered_delivery = self.u8("registered_delivery")?;
        let replace_if_present_flag = self.u8("replace_if_present_flag")?;
        let data_coding = self.u8("data_coding")?;
        let sm_default_msg_id = self.u8("sm_default_msg_id")?;
        let sm_length = self.u8("sm_length")?;
        if sm_length as usize > MAX_SHORT_MESSAGE {
            return Err(DecodeError::SmLengthTooLong { command: self.command, sm_length });
        }
        let short_message = self
            .buf
            .get(self.pos..self.pos + sm_length as usize)
            .ok_or(DecodeError::Truncated { command: self.command, field: "short_message" })?
            .to_vec();
        self.pos += sm_length as usize;
        Ok(ShortMessage {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs: self.tlvs()?,
        })
    }
}
