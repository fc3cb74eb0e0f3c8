//! The 20-byte Diameter header (RFC 6733 §3) and message framing on a byte stream.

use crate::error::DecodeError;

/// Length of the header in bytes.
pub const HEADER_LEN: usize = 20;
/// The only protocol version.
pub const VERSION: u8 = 1;

/// Command flags.
pub mod flags {
    /// Request.
    pub const R: u8 = 0x80;
    /// Proxiable.
    pub const P: u8 = 0x40;
    /// Error (protocol error answers).
    pub const E: u8 = 0x20;
    /// Potentially retransmitted.
    pub const T: u8 = 0x10;
    /// Reserved bits, which must be zero.
    pub const RESERVED: u8 = 0x0f;
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version (always 1 once accepted).
    pub version: u8,
    /// Message length including the header.
    pub length: u32,
    /// Command flags (R, P, E, T).
    pub flags: u8,
    /// Command code (24 bits).
    pub code: u32,
    /// Application id.
    pub app_id: u32,
    /// Hop-by-hop identifier.
    pub hop_by_hop: u32,
    /// End-to-end identifier.
    pub end_to_end: u32,
}

impl Header {
    /// True for requests.
    pub fn is_request(&self) -> bool {
        self.flags & flags::R != 0
    }

    /// True when the P bit is set.
    pub fn is_proxiable(&self) -> bool {
        self.flags & flags::P != 0
    }

    /// True when the E bit is set.
    pub fn is_error(&self) -> bool {
        self.flags & flags::E != 0
    }

    /// True when the T bit is set.
    pub fn is_retransmit(&self) -> bool {
        self.flags & flags::T != 0
    }

    /// Reads a header from the first 20 bytes (no check beyond the size).
    pub fn parse(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { need: HEADER_LEN, have: b.len() });
        }
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(Self {
            version: b[0],
            length: u32_at(0) & 0x00ff_ffff,
            flags: b[4],
            code: u32_at(4) & 0x00ff_ffff,
            app_id: u32_at(8),
            hop_by_hop: u32_at(12),
            end_to_end: u32_at(16),
        })
    }

    /// Writes the header (with `self.length`) into `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&((u32::from(self.version) << 24) | (self.length & 0x00ff_ffff)).to_be_bytes());
        out.extend_from_slice(&((u32::from(self.flags) << 24) | (self.code & 0x00ff_ffff)).to_be_bytes());
        out.extend_from_slice(&self.app_id.to_be_bytes());
        out.extend_from_slice(&self.hop_by_hop.to_be_bytes());
        out.extend_from_slice(&self.end_to_end.to_be_bytes());
    }
}

/// Why a byte stream cannot be framed any more: the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The length field is below the header size, so the next message cannot be found.
    #[error("message length {0} is shorter than the 20-byte header")]
    TooShort(u32),
    /// The length field is above the configured bound.
    #[error("message length {length} exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced length.
        length: u32,
        /// The bound.
        max: u32,
    },
}

/// Looks at the start of a stream buffer: `Ok(None)` when fewer than 4 bytes are there, otherwise the
/// length of the next message, or why the stream cannot be framed.
pub fn next_frame_len(buf: &[u8], max: u32) -> Result<Option<usize>, FramingError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let length = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]);
    if length < HEADER_LEN as u32 {
        return Err(FramingError::TooShort(length));
    }
    if length > max {
        return Err(FramingError::TooLarge { length, max });
    }
    Ok(Some(length as usize))
}
