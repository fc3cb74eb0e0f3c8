//! GTPv2-C messages (TS 29.274 §5, §7): decode, encode, look-ups and a builder. A message may carry one
//! piggybacked message (§5.5.1: an initial message after a triggered response in the same datagram).

use crate::error::{DecodeError, ValueError};
use crate::v2::ie::decode_list;
use crate::v2::{Header, Ie, IeType, IeValue, MessageType};

/// A decoded or built GTPv2-C message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header (without the P flag and length, which encoding derives).
    pub header: Header,
    /// The top-level IEs in the order they came.
    pub ies: Vec<Ie>,
    /// The piggybacked message (the P flag is set exactly when this is `Some`).
    pub piggybacked: Option<Box<Message>>,
}

/// Why a builder could not make a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// An IE's value is longer than its 16-bit length field can say.
    #[error("IE type {0} is longer than 65,535 octets")]
    IeTooLong(u8),
    /// The message is longer than its 16-bit length field can say.
    #[error("message is longer than 65,535 octets")]
    MessageTooLong,
    /// The message to piggyback carries a piggybacked message itself.
    #[error("a piggybacked message cannot carry another one")]
    NestedPiggyback,
}

impl Message {
    /// Decodes one datagram: a message and, if its P flag is set, the piggybacked message after it.
    /// The whole datagram must be used.
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let (mut first, p, end) = decode_one(buf, 0)?;
        if p {
            if end == buf.len() {
                return Err(DecodeError::MissingPiggyback { offset: end });
            }
            let (second, p2, end2) = decode_one(buf, end)?;
            if p2 {
                return Err(DecodeError::NestedPiggyback { offset: end });
            }
            if end2 != buf.len() {
                return Err(DecodeError::TrailingBytes { offset: end2, count: buf.len() - end2 });
            }
            first.piggybacked = Some(Box::new(second));
        } else if end != buf.len() {
            return Err(DecodeError::TrailingBytes { offset: end, count: buf.len() - end });
        }
        Ok(first)
    }

    /// The size of the encoded datagram.
    pub fn encoded_len(&self) -> usize {
        self.own_len() + self.piggybacked.as_ref().map_or(0, |m| m.own_len())
    }

    fn own_len(&self) -> usize {
        self.header.len() + self.ies.iter().map(Ie::encoded_len).sum::<usize>()
    }

    /// Encodes the datagram. [`MessageBuilder::build`] refuses messages whose lengths do not fit their
    /// 16-bit fields; a message edited past that after building is encoded with truncated lengths.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded datagram to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_own(self.piggybacked.is_some(), out);
        if let Some(m) = &self.piggybacked {
            m.encode_own(false, out);
        }
    }

    fn encode_own(&self, piggyback: bool, out: &mut Vec<u8>) {
        let length = (self.own_len() - 4) as u16;
        self.header.encode(piggyback, length, out);
        self.ies.iter().for_each(|ie| ie.encode_into(out));
    }

    /// A builder for a message of this type.
    pub fn builder(message_type: MessageType) -> MessageBuilder {
        MessageBuilder::new(message_type)
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.header.message_type
    }

    /// The first top-level IE with this type and instance.
    pub fn find(&self, ie_type: IeType, instance: u8) -> Option<&Ie> {
        self.ies.iter().find(|ie| ie.ie_type == ie_type && ie.instance == instance)
    }

    /// Every top-level IE of this type, whatever its instance.
    pub fn find_all(&self, ie_type: IeType) -> impl Iterator<Item = &Ie> {
        self.ies.iter().filter(move |ie| ie.ie_type == ie_type)
    }

    /// The IMSI (IE type 1, instance 0), if present.
    pub fn imsi(&self) -> Option<Result<String, ValueError>> {
        self.find(IeType::IMSI, 0).map(Ie::as_imsi)
    }

    /// The Serving Network (instance 0), if present.
    pub fn serving_network(&self) -> Option<Result<crate::Plmn, ValueError>> {
        self.find(IeType::SERVING_NETWORK, 0).map(Ie::as_serving_network)
    }

    /// The APN (instance 0), if present.
    pub fn apn(&self) -> Option<Result<String, ValueError>> {
        self.find(IeType::APN, 0).map(Ie::as_apn)
    }

    /// The Cause (instance 0), if present.
    pub fn cause(&self) -> Option<Result<crate::v2::values::Cause, ValueError>> {
        self.find(IeType::CAUSE, 0).map(Ie::as_cause)
    }

    /// The sender's F-TEID for control plane (F-TEID instance 0), if present.
    pub fn sender_fteid(&self) -> Option<Result<crate::v2::values::Fteid, ValueError>> {
        self.find(IeType::FTEID, 0).map(Ie::as_fteid)
    }

    /// The Recovery restart counter (instance 0), if present.
    pub fn recovery(&self) -> Option<Result<u8, ValueError>> {
        self.find(IeType::RECOVERY, 0).map(Ie::as_recovery)
    }

    /// The Bearer Context IEs (any instance).
    pub fn bearer_contexts(&self) -> impl Iterator<Item = &Ie> {
        self.find_all(IeType::BEARER_CONTEXT)
    }
}

/// Decodes the message at `offset`: returns it (without piggyback), its P flag and where it ends.
fn decode_one(buf: &[u8], offset: usize) -> Result<(Message, bool, usize), DecodeError> {
    let (header, p, total) = Header::decode(buf, offset)?;
    let end = offset + total;
    let ies = decode_list(buf, offset + header.len(), end, None, 0)?;
    Ok((Message { header, ies, piggybacked: None }, p, end))
}

/// Builds a message: `Message::builder(MessageType::CREATE_SESSION_REQUEST).teid(0).sequence(7).ie(…).build()`.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    header: Header,
    ies: Vec<Ie>,
    piggybacked: Option<Message>,
}

impl MessageBuilder {
    /// A message of this type with sequence number 0. Echo and Version Not Supported messages have no
    /// TEID (T=0, §5.5.2); every other type starts with TEID 0 (T=1), as an initial message to a peer
    /// whose TEID is not yet known carries.
    pub fn new(message_type: MessageType) -> MessageBuilder {
        let teid = match message_type {
            MessageType::ECHO_REQUEST | MessageType::ECHO_RESPONSE | MessageType::VERSION_NOT_SUPPORTED => None,
            _ => Some(0),
        };
        MessageBuilder { header: Header::new(message_type, teid, 0), ies: Vec::new(), piggybacked: None }
    }

    /// Sets the TEID (T=1).
    pub fn teid(mut self, teid: u32) -> Self {
        self.header.teid = Some(teid);
        self
    }

    /// Removes the TEID (T=0).
    pub fn no_teid(mut self) -> Self {
        self.header.teid = None;
        self
    }

    /// Sets the sequence number (its low 24 bits).
    pub fn sequence(mut self, sequence: u32) -> Self {
        self.header.sequence = sequence & 0x00ff_ffff;
        self
    }

    /// Sets the message priority (MP=1; 4 bits, 0 is the highest).
    pub fn priority(mut self, priority: u8) -> Self {
        self.header.priority = Some(priority & 0x0f);
        self
    }

    /// Appends an IE.
    pub fn ie(mut self, ie: Ie) -> Self {
        self.ies.push(ie);
        self
    }

    /// Appends IEs.
    pub fn ies(mut self, ies: impl IntoIterator<Item = Ie>) -> Self {
        self.ies.extend(ies);
        self
    }

    /// Piggybacks a message after this one (§5.5.1).
    pub fn piggyback(mut self, message: Message) -> Self {
        self.piggybacked = Some(message);
        self
    }

    /// The message, once every length fits its field.
    pub fn build(self) -> Result<Message, BuildError> {
        fn check(ies: &[Ie]) -> Result<(), BuildError> {
            for ie in ies {
                if ie.value_len() > u16::MAX as usize {
                    return Err(BuildError::IeTooLong(ie.ie_type.0));
                }
                if let IeValue::Grouped(c) = &ie.value {
                    check(c)?;
                }
            }
            Ok(())
        }
        check(&self.ies)?;
        let piggybacked = match self.piggybacked {
            Some(m) if m.piggybacked.is_some() => return Err(BuildError::NestedPiggyback),
            Some(m) => Some(Box::new(m)),
            None => None,
        };
        let m = Message { header: self.header, ies: self.ies, piggybacked };
        if m.own_len() - 4 > u16::MAX as usize
            || m.piggybacked.as_ref().is_some_and(|p| p.own_len() - 4 > u16::MAX as usize)
        {
            return Err(BuildError::MessageTooLong);
        }
        Ok(m)
    }
}
