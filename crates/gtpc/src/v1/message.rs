//! GTPv1-C messages (TS 29.060 §7): decode, encode, look-ups.

use std::fmt;

use crate::error::DecodeError;
use crate::v1::ie::decode_list;
use crate::v1::{Header, Ie, IeType};

/// A GTPv1 message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u8);

impl MessageType {
    /// Echo Request.
    pub const ECHO_REQUEST: MessageType = MessageType(1);
    /// Echo Response.
    pub const ECHO_RESPONSE: MessageType = MessageType(2);
    /// Version Not Supported.
    pub const VERSION_NOT_SUPPORTED: MessageType = MessageType(3);
    /// Create PDP Context Request.
    pub const CREATE_PDP_CONTEXT_REQUEST: MessageType = MessageType(16);
    /// Create PDP Context Response.
    pub const CREATE_PDP_CONTEXT_RESPONSE: MessageType = MessageType(17);
    /// Update PDP Context Request.
    pub const UPDATE_PDP_CONTEXT_REQUEST: MessageType = MessageType(18);
    /// Update PDP Context Response.
    pub const UPDATE_PDP_CONTEXT_RESPONSE: MessageType = MessageType(19);
    /// Delete PDP Context Request.
    pub const DELETE_PDP_CONTEXT_REQUEST: MessageType = MessageType(20);
    /// Delete PDP Context Response.
    pub const DELETE_PDP_CONTEXT_RESPONSE: MessageType = MessageType(21);
    /// Error Indication.
    pub const ERROR_INDICATION: MessageType = MessageType(26);
    /// Supported Extension Headers Notification.
    pub const SUPPORTED_EXTENSION_HEADERS_NOTIFICATION: MessageType = MessageType(31);
    /// G-PDU (user data; not decoded by this crate).
    pub const G_PDU: MessageType = MessageType(255);

    /// The specification's name, `None` for a type not named here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Echo Request",
            2 => "Echo Response",
            3 => "Version Not Supported",
            16 => "Create PDP Context Request",
            17 => "Create PDP Context Response",
            18 => "Update PDP Context Request",
            19 => "Update PDP Context Response",
            20 => "Delete PDP Context Request",
            21 => "Delete PDP Context Response",
            26 => "Error Indication",
            31 => "Supported Extension Headers Notification",
            255 => "G-PDU",
            _ => return None,
        })
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "unknown ({})", self.0),
        }
    }
}

/// A decoded or built GTPv1-C message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The IEs in the order they came.
    pub ies: Vec<Ie>,
}

impl Message {
    /// A message with S=1 and this sequence number.
    pub fn new(message_type: MessageType, teid: u32, sequence: u16, ies: Vec<Ie>) -> Message {
        Message { header: Header::new(message_type, teid, sequence), ies }
    }

    /// Decodes one datagram; it must hold exactly one message. G-PDUs are refused (user plane).
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let (header, total) = Header::decode(buf)?;
        if header.message_type == MessageType::G_PDU {
            return Err(DecodeError::UserPlane(header.message_type.0));
        }
        let ies = decode_list(buf, header.len(), total)?;
        if total != buf.len() {
            return Err(DecodeError::TrailingBytes { offset: total, count: buf.len() - total });
        }
        Ok(Message { header, ies })
    }

    /// The size of the encoded message.
    pub fn encoded_len(&self) -> usize {
        self.header.len() + self.ies.iter().map(Ie::encoded_len).sum::<usize>()
    }

    /// Encodes the message. The caller keeps it under 65,544 octets.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.header.encode((self.encoded_len() - 8) as u16, &mut out);
        self.ies.iter().for_each(|ie| ie.encode_into(&mut out));
        out
    }

    /// The first IE of this type.
    pub fn find(&self, t: IeType) -> Option<&Ie> {
        self.ies.iter().find(|ie| ie.ie_type == t)
    }

    /// Every IE of this type (e.g. both GSN Addresses of a Create PDP Context Request: signalling first,
    /// user traffic second).
    pub fn find_all(&self, t: IeType) -> impl Iterator<Item = &Ie> {
        self.ies.iter().filter(move |ie| ie.ie_type == t)
    }
}
