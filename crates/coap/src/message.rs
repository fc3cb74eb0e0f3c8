//! The CoAP message (RFC 7252 §3): a 4-byte header, a token, options in increasing number order
//! (each coded as a delta from the previous one, §3.1) and, after the `0xFF` marker, the payload.
//!
//! [`Message::decode`] refuses every format error of §3 with a [`DecodeError`] that says what and
//! where, and keeps enough of the header ([`DecodeError::header`]) for the receiver to answer a
//! confirmable message with a Reset (§4.2). [`Message::encode`] writes the canonical form; a message
//! that decodes re-encodes to the same bytes.

use std::fmt;

use crate::option::{CoapOption, OptionNumber};

/// The message type (RFC 7252 §3, "T").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Confirmable: acknowledged, retransmitted until then.
    Con,
    /// Non-confirmable.
    Non,
    /// Acknowledgement (may carry a piggybacked response).
    Ack,
    /// Reset: the receiver could not process a message.
    Rst,
}

impl MessageType {
    fn bits(self) -> u8 {
        match self {
            MessageType::Con => 0,
            MessageType::Non => 1,
            MessageType::Ack => 2,
            MessageType::Rst => 3,
        }
    }

    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => MessageType::Con,
            1 => MessageType::Non,
            2 => MessageType::Ack,
            _ => MessageType::Rst,
        }
    }
}

/// A code: class (3 bits) and detail (5 bits), written `c.dd` (RFC 7252 §3, §12.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    /// 0.00 Empty.
    pub const EMPTY: Code = Code(0);
    /// 0.01 GET.
    pub const GET: Code = Code::new(0, 1);
    /// 0.02 POST.
    pub const POST: Code = Code::new(0, 2);
    /// 0.03 PUT.
    pub const PUT: Code = Code::new(0, 3);
    /// 0.04 DELETE.
    pub const DELETE: Code = Code::new(0, 4);
    /// 2.01 Created.
    pub const CREATED: Code = Code::new(2, 1);
    /// 2.02 Deleted.
    pub const DELETED: Code = Code::new(2, 2);
    /// 2.03 Valid.
    pub const VALID: Code = Code::new(2, 3);
    /// 2.04 Changed.
    pub const CHANGED: Code = Code::new(2, 4);
    /// 2.05 Content.
    pub const CONTENT: Code = Code::new(2, 5);
    /// 2.31 Continue (RFC 7959).
    pub const CONTINUE: Code = Code::new(2, 31);
    /// 4.00 Bad Request.
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    /// 4.01 Unauthorized.
    pub const UNAUTHORIZED: Code = Code::new(4, 1);
    /// 4.02 Bad Option.
    pub const BAD_OPTION: Code = Code::new(4, 2);
    /// 4.03 Forbidden.
    pub const FORBIDDEN: Code = Code::new(4, 3);
    /// 4.04 Not Found.
    pub const NOT_FOUND: Code = Code::new(4, 4);
    /// 4.05 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    /// 4.06 Not Acceptable.
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    /// 4.08 Request Entity Incomplete (RFC 7959).
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
    /// 4.12 Precondition Failed.
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    /// 4.13 Request Entity Too Large.
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);
    /// 4.15 Unsupported Content-Format.
    pub const UNSUPPORTED_CONTENT_FORMAT: Code = Code::new(4, 15);
    /// 5.00 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    /// 5.01 Not Implemented.
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    /// 5.03 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);

    /// The code `class.detail`.
    pub const fn new(class: u8, detail: u8) -> Code {
        Code(((class & 7) << 5) | (detail & 0x1f))
    }

    /// The class (0 request, 2 success, 4 client error, 5 server error).
    pub fn class(self) -> u8 {
        self.0 >> 5
    }

    /// The detail.
    pub fn detail(self) -> u8 {
        self.0 & 0x1f
    }

    /// A request method (0.01 to 0.31).
    pub fn is_request(self) -> bool {
        self.class() == 0 && self.0 != 0
    }

    /// A response (classes 2 to 5).
    pub fn is_response(self) -> bool {
        (2..=5).contains(&self.class())
    }

    /// A success response (2.xx).
    pub fn is_success(self) -> bool {
        self.class() == 2
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What of the header was read before a format error: enough to answer a CON with a Reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    /// Type.
    pub mtype: MessageType,
    /// Code.
    pub code: Code,
    /// Message id.
    pub message_id: u16,
}

/// Why a datagram is not a CoAP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// Fewer than the 4 header bytes.
    #[error("datagram of {0} bytes is shorter than the 4-byte header")]
    TooShort(usize),
    /// Version other than 1 (silently ignored per §3).
    #[error("version {0} is not 1")]
    Version(u8),
    /// Token length 9 to 15 (reserved, §3).
    #[error("token length {0} is reserved (0 to 8 allowed)")]
    TokenLength(u8),
    /// The token runs past the datagram.
    #[error("token of {0} bytes is cut off")]
    TokenCut(u8),
    /// An Empty message (0.00) with a token, options or payload (§4.1).
    #[error("an Empty message (0.00) carries nothing after its header")]
    EmptyNotEmpty,
    /// Option delta or length nibble 15 outside the payload marker (§3.1).
    #[error("option at offset {0}: nibble 15 is reserved")]
    ReservedNibble(usize),
    /// An option's extended delta/length or value runs past the datagram.
    #[error("option at offset {0} is cut off")]
    OptionCut(usize),
    /// The option number exceeds 65535.
    #[error("option at offset {0}: number past 65535")]
    OptionNumber(usize),
    /// A payload marker followed by no payload (§3).
    #[error("payload marker with an empty payload")]
    EmptyPayload,
}

/// A decode failure: why, and the header when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    /// Why.
    pub kind: DecodeErrorKind,
    /// The header, when the first 4 bytes were read and the version is 1.
    pub header: Option<RawHeader>,
}

/// A CoAP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Type.
    pub mtype: MessageType,
    /// Code.
    pub code: Code,
    /// Message id (de-duplication, matching ACK/RST to CON).
    pub message_id: u16,
    /// Token (0 to 8 bytes; matches responses to requests).
    pub token: Vec<u8>,
    /// Options, in increasing number order (equal numbers keep their order).
    pub options: Vec<CoapOption>,
    /// Payload.
    pub payload: Vec<u8>,
}

/// The payload marker.
const PAYLOAD_MARKER: u8 = 0xff;

fn read_ext(data: &[u8], pos: &mut usize, nibble: u8, at: usize) -> Result<u32, DecodeErrorKind> {
    match nibble {
        0..=12 => Ok(u32::from(nibble)),
        13 => {
            let b = *data.get(*pos).ok_or(DecodeErrorKind::OptionCut(at))?;
            *pos += 1;
            Ok(u32::from(b) + 13)
        }
        14 => {
            let b = data.get(*pos..*pos + 2).ok_or(DecodeErrorKind::OptionCut(at))?;
            *pos += 2;
            Ok(u32::from(u16::from_be_bytes([b[0], b[1]])) + 269)
        }
        _ => Err(DecodeErrorKind::ReservedNibble(at)),
    }
}

fn ext_nibble(v: u32) -> (u8, usize) {
    match v {
        0..=12 => (v as u8, 0),
        13..=268 => (13, 1),
        _ => (14, 2),
    }
}

fn write_ext(out: &mut Vec<u8>, v: u32) {
    match v {
        0..=12 => {}
        13..=268 => out.push((v - 13) as u8),
        _ => out.extend_from_slice(&((v - 269) as u16).to_be_bytes()),
    }
}

impl Message {
    /// A message with no options and no payload.
    pub fn new(mtype: MessageType, code: Code, message_id: u16, token: Vec<u8>) -> Message {
        Message { mtype, code, message_id, token, options: Vec::new(), payload: Vec::new() }
    }

    /// An Empty ACK for `message_id` (acknowledges a CON, the response follows separately).
    pub fn empty_ack(message_id: u16) -> Message {
        Message::new(MessageType::Ack, Code::EMPTY, message_id, Vec::new())
    }

    /// A Reset for `message_id`.
    pub fn reset(message_id: u16) -> Message {
        Message::new(MessageType::Rst, Code::EMPTY, message_id, Vec::new())
    }

    /// A response to `request`: piggybacked in an ACK for a CON, a NON (with `message_id`) for a NON.
    pub fn response_to(request: &Message, code: Code, message_id: u16) -> Message {
        match request.mtype {
            MessageType::Con => Message::new(MessageType::Ack, code, request.message_id, request.token.clone()),
            _ => Message::new(MessageType::Non, code, message_id, request.token.clone()),
        }
    }

    /// Decodes a datagram.
    pub fn decode(data: &[u8]) -> Result<Message, DecodeError> {
        if data.len() < 4 {
            return Err(DecodeError { kind: DecodeErrorKind::TooShort(data.len()), header: None });
        }
        let version = data[0] >> 6;
        if version != 1 {
            return Err(DecodeError { kind: DecodeErrorKind::Version(version), header: None });
        }
        let header = RawHeader {
            mtype: MessageType::from_bits(data[0] >> 4),
            code: Code(data[1]),
            message_id: u16::from_be_bytes([data[2], data[3]]),
        };
        let fail = |kind| DecodeError { kind, header: Some(header) };
        let tkl = data[0] & 0x0f;
        if tkl > 8 {
            return Err(fail(DecodeErrorKind::TokenLength(tkl)));
        }
        let token = data.get(4..4 + usize::from(tkl)).ok_or(fail(DecodeErrorKind::TokenCut(tkl)))?.to_vec();
        if header.code == Code::EMPTY && data.len() > 4 {
            return Err(fail(DecodeErrorKind::EmptyNotEmpty));
        }
        let mut pos = 4 + usize::from(tkl);
        let mut options = Vec::new();
        let mut number: u32 = 0;
        let mut payload = Vec::new();
        while pos < data.len() {
            let at = pos;
            let first = data[pos];
            pos += 1;
            if first == PAYLOAD_MARKER {
                if pos == data.len() {
                    return Err(fail(DecodeErrorKind::EmptyPayload));
                }
                payload = data[pos..].to_vec();
                break;
            }
            let delta = read_ext(data, &mut pos, first >> 4, at).map_err(fail)?;
            let len = read_ext(data, &mut pos, first & 0x0f, at).map_err(fail)? as usize;
            number += delta;
            if number > u32::from(u16::MAX) {
                return Err(fail(DecodeErrorKind::OptionNumber(at)));
            }
            let value = data.get(pos..pos + len).ok_or(fail(DecodeErrorKind::OptionCut(at)))?.to_vec();
            pos += len;
            options.push(CoapOption { number: OptionNumber(number as u16), value });
        }
        Ok(Message { mtype: header.mtype, code: header.code, message_id: header.message_id, token, options, payload })
    }

    /// Encodes the message (options sorted by number first, stably).
    ///
    /// A token longer than 8 bytes is cut to 8: the type cannot express it on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        let tkl = self.token.len().min(8);
        out.push(0x40 | (self.mtype.bits() << 4) | tkl as u8);
        out.push(self.code.0);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.token[..tkl]);
        let mut sorted: Vec<&CoapOption> = self.options.iter().collect();
        sorted.sort_by_key(|o| o.number.0);
        let mut previous = 0u32;
        for o in sorted {
            let delta = u32::from(o.number.0) - previous;
            previous = u32::from(o.number.0);
            let len = o.value.len().min(65535 + 269) as u32;
            let (dn, _) = ext_nibble(delta);
            let (ln, _) = ext_nibble(len);
            out.push((dn << 4) | ln);
            write_ext(&mut out, delta);
            write_ext(&mut out, len);
            out.extend_from_slice(&o.value[..len as usize]);
        }
        if !self.payload.is_empty() {
            out.push(PAYLOAD_MARKER);
            out.extend_from_slice(&self.payload);
        }
        out
    }

    fn encoded_len_hint(&self) -> usize {
        4 + self.token.len() + self.options.iter().map(|o| o.value.len() + 5).sum::<usize>() + self.payload.len() + 1
    }

    /// The first option with `number`.
    pub fn option(&self, number: OptionNumber) -> Option<&CoapOption> {
        self.options.iter().find(|o| o.number == number)
    }

    /// Every option with `number`, in order.
    pub fn options_of(&self, number: OptionNumber) -> impl Iterator<Item = &CoapOption> {
        self.options.iter().filter(move |o| o.number == number)
    }

    /// Adds an option (kept after existing options of the same number).
    pub fn push_option(&mut self, number: OptionNumber, value: impl Into<Vec<u8>>) -> &mut Self {
        self.options.push(CoapOption { number, value: value.into() });
        self
    }

    /// Adds an unsigned-integer option in its shortest form.
    pub fn push_uint(&mut self, number: OptionNumber, value: u32) -> &mut Self {
        self.push_option(number, crate::option::encode_uint(value))
    }

    /// Replaces every option with `number` by one with `value`.
    pub fn set_option(&mut self, number: OptionNumber, value: impl Into<Vec<u8>>) -> &mut Self {
        self.options.retain(|o| o.number != number);
        self.push_option(number, value)
    }

    /// The first option with `number` read as an unsigned integer; `None` when absent or too long.
    pub fn uint(&self, number: OptionNumber) -> Option<u32> {
        self.option(number).and_then(|o| crate::option::decode_uint(&o.value))
    }

    /// The Uri-Path segments joined by `/` (with a leading `/`), or `None` when one is not UTF-8.
    pub fn uri_path(&self) -> Option<String> {
        let mut s = String::new();
        for o in self.options_of(OptionNumber::URI_PATH) {
            s.push('/');
            s.push_str(std::str::from_utf8(&o.value).ok()?);
        }
        if s.is_empty() {
            s.push('/');
        }
        Some(s)
    }

    /// The Uri-Path segments, or `None` when one is not UTF-8.
    pub fn uri_path_segments(&self) -> Option<Vec<&str>> {
        self.options_of(OptionNumber::URI_PATH).map(|o| std::str::from_utf8(&o.value).ok()).collect()
    }

    /// Sets the Uri-Path from `/a/b/c` (empty segments skipped).
    pub fn set_uri_path(&mut self, path: &str) -> &mut Self {
        self.options.retain(|o| o.number != OptionNumber::URI_PATH);
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            self.push_option(OptionNumber::URI_PATH, seg.as_bytes());
        }
        self
    }

    /// The Uri-Query items (`key=value` or `key`), or `None` when one is not UTF-8.
    pub fn uri_queries(&self) -> Option<Vec<&str>> {
        self.options_of(OptionNumber::URI_QUERY).map(|o| std::str::from_utf8(&o.value).ok()).collect()
    }

    /// The Content-Format, when present and well formed.
    pub fn content_format(&self) -> Option<u16> {
        self.uint(OptionNumber::CONTENT_FORMAT).and_then(|v| u16::try_from(v).ok())
    }
}
