//! Block-wise transfers (RFC 7959): the Block1/Block2 option value (§2.2: block number NUM, the
//! "more" flag M, size exponent SZX with size `2^(SZX+4)`, SZX 7 reserved) and [`BlockAssembler`],
//! which puts a body back together from its blocks. The assembler bounds the total size, requires
//! every block at the offset that follows what it holds (a block out of order or a transfer that
//! skips one is refused, RFC 7959 §2.9.2's 4.08), and every non-final block to be exactly its size.

/// A Block1 or Block2 option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Block number (20 bits at most).
    pub num: u32,
    /// More blocks follow.
    pub more: bool,
    /// Size exponent, 0 to 6 (16 to 1024 bytes).
    pub szx: u8,
}

/// Why a block or a transfer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The option value is longer than 3 bytes.
    #[error("block option of {0} bytes (at most 3)")]
    Length(usize),
    /// SZX 7 is reserved.
    #[error("block size exponent 7 is reserved")]
    ReservedSzx,
    /// A block that does not start where the body so far ends (out of order, repeated past, or the
    /// first block missing): 4.08 Request Entity Incomplete.
    #[error("block {num} starts at byte {offset}, expected byte {expected}")]
    OutOfOrder {
        /// Block number received.
        num: u32,
        /// Where it starts.
        offset: u64,
        /// Where the next block must start.
        expected: u64,
    },
    /// A non-final block whose payload is not the block size: 4.00.
    #[error("block {num} carries {len} bytes, its size is {size}")]
    WrongSize {
        /// Block number.
        num: u32,
        /// Bytes carried.
        len: usize,
        /// Block size.
        size: usize,
    },
    /// The body would pass the bound: 4.13 Request Entity Too Large.
    #[error("body would reach {0} bytes, more than allowed")]
    TooLarge(u64),
}

impl Block {
    /// The block size in bytes.
    pub fn size(self) -> usize {
        1usize << (u32::from(self.szx.min(6)) + 4)
    }

    /// Where the block starts in the body.
    pub fn offset(self) -> u64 {
        u64::from(self.num) << (u32::from(self.szx.min(6)) + 4)
    }

    /// Reads an option value (0 to 3 bytes).
    pub fn decode(value: &[u8]) -> Result<Block, BlockError> {
        let v =
            crate::option::decode_uint(value).filter(|_| value.len() <= 3).ok_or(BlockError::Length(value.len()))?;
        let szx = (v & 7) as u8;
        if szx == 7 {
            return Err(BlockError::ReservedSzx);
        }
        Ok(Block { num: v >> 4, more: v & 8 != 0, szx })
    }

    /// Writes the option value in its shortest form.
    pub fn encode(self) -> Vec<u8> {
        let v = ((self.num & 0x000f_ffff) << 4) | (u32::from(self.more) << 3) | u32::from(self.szx.min(6));
        crate::option::encode_uint(v)
    }

    /// The largest size exponent whose block is at most `bytes` (at least 0).
    pub fn szx_for(bytes: usize) -> u8 {
        (0u8..=6).rev().find(|s| (1usize << (s + 4)) <= bytes).unwrap_or(0)
    }

    /// Block `num` of `body` cut at size exponent `szx`: the bytes and the option value to send with
    /// them (Block2 of a response). `None` when the block starts past the body's end.
    pub fn slice(body: &[u8], num: u32, szx: u8) -> Option<(&[u8], Block)> {
        let b = Block { num, more: false, szx: szx.min(6) };
        let start = usize::try_from(b.offset()).ok()?;
        if start > body.len() || (start == body.len() && start != 0) {
            return None;
        }
        let end = (start + b.size()).min(body.len());
        Some((&body[start..end], Block { more: end < body.len(), ..b }))
    }
}

/// What the assembler did with a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Held; more blocks are expected (the server answers 2.31 Continue to a Block1).
    Continue,
    /// The last block arrived: the whole body.
    Complete(Vec<u8>),
}

/// Reassembles one body from its blocks, bounded by `max_total` bytes.
#[derive(Debug, Clone)]
pub struct BlockAssembler {
    max_total: usize,
    body: Vec<u8>,
}

impl BlockAssembler {
    /// An empty transfer that accepts at most `max_total` bytes.
    pub fn new(max_total: usize) -> Self {
        BlockAssembler { max_total, body: Vec::new() }
    }

    /// Bytes held so far.
    pub fn received(&self) -> usize {
        self.body.len()
    }

    /// Adds `block` carrying `payload`. On an error the transfer is spoiled: the caller drops it.
    pub fn push(&mut self, block: Block, payload: &[u8]) -> Result<Progress, BlockError> {
        let expected = self.body.len() as u64;
        if block.offset() != expected {
            return Err(BlockError::OutOfOrder { num: block.num, offset: block.offset(), expected });
        }
        if block.more && payload.len() != block.size() {
            return Err(BlockError::WrongSize { num: block.num, len: payload.len(), size: block.size() });
        }
        if !block.more && payload.len() > block.size() {
            return Err(BlockError::WrongSize { num: block.num, len: payload.len(), size: block.size() });
        }
        let total = expected + payload.len() as u64;
        if total > self.max_total as u64 {
            return Err(BlockError::TooLarge(total));
        }
        self.body.extend_from_slice(payload);
        if block.more {
            Ok(Progress::Continue)
        } else {
            Ok(Progress::Complete(std::mem::take(&mut self.body)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_value_examples_of_rfc_7959() {
        // NUM 2, M 1, SZX 6 (1024 bytes): 0x2e.
        let b = Block { num: 2, more: true, szx: 6 };
        assert_eq!(b.encode(), vec![0x2e]);
        assert_eq!(Block::decode(&[0x2e]), Ok(b));
        assert_eq!(Block::decode(&[]), Ok(Block { num: 0, more: false, szx: 0 }));
        assert_eq!(Block::decode(&[0x07]), Err(BlockError::ReservedSzx));
        assert_eq!(Block::decode(&[1, 2, 3, 4]), Err(BlockError::Length(4)));
    }

    #[test]
    fn reassembly_in_order_completes() {
        let mut a = BlockAssembler::new(100);
        assert_eq!(a.push(Block { num: 0, more: true, szx: 0 }, &[1; 16]), Ok(Progress::Continue));
        assert_eq!(
            a.push(Block { num: 1, more: false, szx: 0 }, &[2; 5]),
            Ok(Progress::Complete([[1; 16].as_slice(), &[2; 5]].concat()))
        );
    }

    #[test]
    fn out_of_order_short_and_oversized_refused() {
        let mut a = BlockAssembler::new(40);
        assert!(matches!(a.push(Block { num: 1, more: true, szx: 0 }, &[0; 16]), Err(BlockError::OutOfOrder { .. })));
        assert!(matches!(a.push(Block { num: 0, more: true, szx: 0 }, &[0; 15]), Err(BlockError::WrongSize { .. })));
        assert_eq!(a.push(Block { num: 0, more: true, szx: 0 }, &[0; 16]), Ok(Progress::Continue));
        assert_eq!(a.push(Block { num: 1, more: true, szx: 0 }, &[0; 16]), Ok(Progress::Continue));
        assert_eq!(a.push(Block { num: 2, more: true, szx: 0 }, &[0; 16]), Err(BlockError::TooLarge(48)));
    }

    #[test]
    fn slicing_a_body() {
        let body: Vec<u8> = (0..40).collect();
        let (b0, o0) = Block::slice(&body, 0, 0).unwrap();
        assert_eq!((b0.len(), o0.more), (16, true));
        let (b2, o2) = Block::slice(&body, 2, 0).unwrap();
        assert_eq!((b2, o2.more), (&body[32..], false));
        assert!(Block::slice(&body, 3, 0).is_none());
    }
}
