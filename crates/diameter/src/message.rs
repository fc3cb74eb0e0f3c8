//! Diameter messages: the owned, typed [`Message`] built and read through the dictionary's typed
//! handles ([`Command`], `avp::ORIGIN_HOST`), the zero-copy [`MessageView`] for hot paths that look
//! at a few AVPs, and error answers.

use crate::avp::{self, find, find_all, Avp, RawAvp, RawAvps};
use crate::dictionary::{Accepts, AvpKey, Command, Format, Number32, Text};
use crate::error::DecodeError;
use crate::header::{flags, Header, HEADER_LEN, VERSION};
use crate::result_code as rc;

/// A decode failure, with whatever was learned before it (enough to build an error answer).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct MessageError {
    /// The header, when it could be read.
    pub header: Option<Header>,
    /// The Session-Id, when it was read before the error.
    pub session_id: Option<String>,
    /// What went wrong.
    pub error: DecodeError,
}

/// An owned Diameter message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header; `length` is recomputed on encoding.
    pub header: Header,
    /// The AVPs in order.
    pub avps: Vec<Avp>,
}

/// Checks the header fields that do not depend on the command: version, length, reserved and E bits.
fn check_header(h: &Header, available: usize) -> Result<(), DecodeError> {
    if h.version != VERSION {
        return Err(DecodeError::UnsupportedVersion(h.version));
    }
    if h.length as usize != available || !h.length.is_multiple_of(4) {
        return Err(DecodeError::InvalidMessageLength(h.length));
    }
    if h.flags & flags::RESERVED != 0 {
        return Err(DecodeError::InvalidHeaderBits("reserved command flag bits set"));
    }
    if h.is_request() && h.is_error() {
        return Err(DecodeError::InvalidHeaderBits("E bit set on a request"));
    }
    Ok(())
}

impl Message {
    /// A new request of `command` (R bit set), with the P bit and the application id from the
    /// dictionary. Identifiers are left at zero.
    pub fn request(command: Command) -> Self {
        Self::new(command, flags::R)
    }

    /// A new answer of `command` that answers no particular request (tests, tools); answers to a
    /// request are built with [`Message::answer_to`].
    pub fn answer(command: Command) -> Self {
        Self::new(command, 0)
    }

    fn new(command: Command, r: u8) -> Self {
        let p = if command.proxiable() { flags::P } else { 0 };
        Self {
            header: Header {
                version: VERSION,
                length: 0,
                flags: p | r,
                code: command.code(),
                app_id: command.app(),
                hop_by_hop: 0,
                end_to_end: 0,
            },
            avps: Vec::new(),
        }
    }

    /// An answer to `request`: same command, application and identifiers, R cleared, P kept, and the
    /// request's Session-Id first (RFC 6733 §6.2).
    pub fn answer_to(request: &Header, session_id: Option<&str>) -> Self {
        let mut avps = Vec::new();
        if let Some(s) = session_id {
            avps.push(Avp::new(avp::SESSION_ID, s));
        }
        Self { header: Header { version: VERSION, length: 0, flags: request.flags & flags::P, ..*request }, avps }
    }

    /// Appends an AVP.
    pub fn push(&mut self, avp: Avp) -> &mut Self {
        self.avps.push(avp);
        self
    }

    /// Appends an AVP: `m.add(avp::ORIGIN_HOST, "mme.example")`.
    pub fn add<F: Accepts<V>, V>(&mut self, key: AvpKey<F>, value: V) -> &mut Self {
        self.avps.push(Avp::new(key, value));
        self
    }

    /// The first top-level AVP of kind `key`.
    pub fn get<F: Format>(&self, key: AvpKey<F>) -> Option<&Avp> {
        find(&self.avps, key)
    }

    /// Every top-level AVP of kind `key`.
    pub fn get_all<F: Format>(&self, key: AvpKey<F>) -> impl Iterator<Item = &Avp> + '_ {
        find_all(&self.avps, key)
    }

    /// Text of the first top-level AVP of kind `key` (a text format).
    pub fn get_str<F: Text>(&self, key: AvpKey<F>) -> Option<&str> {
        self.get(key).and_then(Avp::as_str)
    }

    /// Value of the first top-level AVP of kind `key` (a 32-bit number format), when it fits a u32.
    pub fn get_u32<F: Number32>(&self, key: AvpKey<F>) -> Option<u32> {
        self.get(key).and_then(Avp::as_u32)
    }

    /// The command, if the dictionary knows it.
    pub fn command(&self) -> Option<Command> {
        Command::from_header(&self.header)
    }

    /// `"AIR"`, `"AIA"`, … when the command is known.
    pub fn abbrev(&self) -> Option<&'static str> {
        self.command().map(|c| if self.header.is_request() { c.request_abbrev() } else { c.answer_abbrev() })
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        self.header.is_request()
    }

    /// Result-Code, or the Experimental-Result-Code inside Experimental-Result.
    pub fn result_code(&self) -> Option<u32> {
        self.get_u32(avp::RESULT_CODE)
            .or_else(|| self.get(avp::EXPERIMENTAL_RESULT)?.child(avp::EXPERIMENTAL_RESULT_CODE)?.as_u32())
    }

    /// Session-Id.
    pub fn session_id(&self) -> Option<&str> {
        self.get_str(avp::SESSION_ID)
    }

    /// Encoded length.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.avps.iter().map(Avp::padded_len).sum::<usize>()
    }

    /// Never true: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the encoded message to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        self.write(out);
    }

    /// The encoded message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write(&mut out);
        out
    }

    /// Writes the message; the length field is filled in at the end, so that the AVP tree is walked
    /// once for the bytes (and once by the caller for the capacity), not once more per field.
    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        Header { length: 0, ..self.header }.write(out);
        self.avps.iter().for_each(|a| a.encode(out));
        let length = (out.len() - start) as u32;
        out[start + 1..start + 4].copy_from_slice(&length.to_be_bytes()[1..]);
    }

    /// Decodes exactly one message from `bytes`, typing AVPs with the dictionary (unknown AVPs are kept
    /// as bytes). Checks version, length, reserved and E bits, AVP lengths, AVP flags and nesting.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let header = Header::parse(bytes).map_err(|error| MessageError { header: None, session_id: None, error })?;
        let fail = |error, session_id| MessageError { header: Some(header), session_id, error };
        check_header(&header, bytes.len()).map_err(|e| fail(e, None))?;
        let mut avps: Vec<Avp> = Vec::with_capacity(12);
        // Where the Session-Id is; it is copied out only when an error needs it.
        let mut session_at: Option<usize> = None;
        for raw in RawAvps::new(&bytes[HEADER_LEN..]) {
            let avp = match raw.and_then(|raw| Avp::decode(&raw, 0)) {
                Ok(avp) => avp,
                Err(e) => return Err(fail(e, session_at.and_then(|i| avps[i].as_str()).map(str::to_string))),
            };
            if session_at.is_none() && avp::SESSION_ID.matches(avp.code, avp.vendor_id) && avp.as_str().is_some() {
                session_at = Some(avps.len());
            }
            avps.push(avp);
        }
        Ok(Self { header, avps })
    }

    /// An error answer to a request that failed: Result-Code, Origin-Host, Origin-Realm, Failed-AVP
    /// when there is one, and the E bit for protocol errors (RFC 6733 §7.2).
    pub fn error_answer(
        request: &Header,
        session_id: Option<&str>,
        origin_host: &str,
        origin_realm: &str,
        error: &DecodeError,
    ) -> Self {
        let mut m = Self::answer_to(request, session_id);
        m.set_error(
            error.result_code(),
            origin_host,
            origin_realm,
            error.failed_avp().cloned(),
            Some(&error.to_string()),
        );
        m
    }

    /// Fills an answer with a Result-Code and the base AVPs of an error answer.
    pub fn set_error(
        &mut self,
        code: u32,
        origin_host: &str,
        origin_realm: &str,
        failed: Option<Avp>,
        message: Option<&str>,
    ) {
        if rc::is_protocol_error(code) {
            self.header.flags |= flags::E;
        }
        self.add(avp::ORIGIN_HOST, origin_host);
        self.add(avp::ORIGIN_REALM, origin_realm);
        self.add(avp::RESULT_CODE, code);
        if let Some(text) = message {
            self.add(avp::ERROR_MESSAGE, text);
        }
        if let Some(f) = failed {
            self.add(avp::FAILED_AVP, vec![f]);
        }
    }
}

/// A message read in place: the header and an iterator over its AVPs, without copying or typing.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    /// The header.
    pub header: Header,
    body: &'a [u8],
}

impl<'a> MessageView<'a> {
    /// Checks the header (version, length, flags) and borrows the AVP area.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let header = Header::parse(bytes)?;
        check_header(&header, bytes.len())?;
        Ok(Self { header, body: &bytes[HEADER_LEN..] })
    }

    /// The top-level AVPs.
    pub fn avps(&self) -> RawAvps<'a> {
        RawAvps::new(self.body)
    }

    /// The first top-level AVP of kind `key` (same code and vendor).
    pub fn find<F>(&self, key: AvpKey<F>) -> Option<RawAvp<'a>> {
        self.find_code(key.code(), key.vendor())
    }

    /// The first top-level AVP with this code and vendor (0 for IETF), for AVPs the dictionary does
    /// not hold.
    pub fn find_code(&self, code: u32, vendor: u32) -> Option<RawAvp<'a>> {
        self.avps().map_while(Result::ok).find(|a| a.code == code && a.vendor() == vendor)
    }
}
