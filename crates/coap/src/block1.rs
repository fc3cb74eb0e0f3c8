//! Sending a request body block-wise with Block1 (RFC 7959 §2.3, §2.5, §2.9), sans-IO:
//! [`Block1Sender`] says which block to send, and what to do with each answer or time-out.
//!
//! - 2.31 Continue to a block with more after it: the next block. When the Block1 option of the
//!   answer names a smaller size (SZX) than the block sent, the peer took the whole block and wants
//!   smaller ones from now on (§2.3, §2.5): the sender goes on at the same byte offset with that size
//!   (the block number scaled, RFC 7959 Figure 11). A larger size, or another block number, is a
//!   protocol error.
//! - A final success (2.01, 2.04 …) to the last block: done. To a block that is not the last, it is
//!   refused: the peer acted on part of the body (it ignored Block1).
//! - 4.13 Request Entity Too Large with a Block1 option of a smaller size (§2.9.3): the same offset
//!   again with that size; without one (or not smaller): the body is too large for the peer.
//! - 4.08 Request Entity Incomplete (§2.9.2, the peer lost the blocks before): the transfer starts
//!   again from block 0, at most [`Block1Sender::restarts_left`] times, then fails.
//! - No answer (the caller's time-out): the same block again, at most `max_attempts` sends in a row;
//!   then the transfer is abandoned.
//!
//! After a failure the sender keeps failing with the same error.

use crate::block::Block;
use crate::message::Code;

/// The largest block number (20 bits, RFC 7959 §2.2).
pub const MAX_NUM: u32 = 0x000f_ffff;

/// Why a block-wise request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Block1Error {
    /// The peer answered a block with an error code.
    #[error("the peer answered block {num} with {code}")]
    Refused {
        /// The block.
        num: u32,
        /// Its answer.
        code: Code,
    },
    /// 4.13 without a smaller block size to go on with.
    #[error("the peer refused the body of {total} bytes as too large (4.13)")]
    TooLarge {
        /// The body's size.
        total: u64,
    },
    /// 4.08 again after the restarts allowed.
    #[error("the peer lost the transfer (4.08 Request Entity Incomplete) at byte {offset}")]
    Incomplete {
        /// Where the refused block started.
        offset: u64,
    },
    /// No answer to one block after every attempt.
    #[error("transfer cut off: no answer to block {num} after {attempts} attempts ({acked} of {total} bytes taken)")]
    Abandoned {
        /// The block nobody answered.
        num: u32,
        /// Sends of that block.
        attempts: u8,
        /// Bytes the peer confirmed.
        acked: u64,
        /// The body's size.
        total: u64,
    },
    /// An answer that breaks RFC 7959.
    #[error("the peer's answer to block {num} breaks RFC 7959: {what}")]
    Protocol {
        /// The block.
        num: u32,
        /// What is wrong.
        what: String,
    },
}

/// What to do after an answer or a time-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send [`Block1Sender::current`].
    Send,
    /// The peer took the whole body: its final answer code.
    Done(Code),
}

/// One body being sent with Block1.
#[derive(Debug, Clone)]
pub struct Block1Sender {
    total: usize,
    szx: u8,
    num: u32,
    attempts: u8,
    max_attempts: u8,
    restarts: u8,
    failed: Option<Block1Error>,
    done: bool,
}

impl Block1Sender {
    /// A transfer of `total` bytes in blocks of size exponent `szx` (0 to 6, 16 to 1024 bytes),
    /// each block sent at most `max_attempts` times (at least 1) without an answer.
    pub fn new(total: usize, szx: u8, max_attempts: u8) -> Block1Sender {
        let mut s = Block1Sender {
            total,
            szx: szx.min(6),
            num: 0,
            attempts: 1,
            max_attempts: max_attempts.max(1),
            restarts: 1,
            failed: None,
            done: false,
        };
        let szx = s.szx;
        let _ = s.move_to(0, szx);
        s
    }

    /// How many more times a 4.08 may start the transfer again.
    pub fn restarts_left(&self) -> u8 {
        self.restarts
    }

    /// The error the transfer failed with, if it did (a body too large to number is refused at once).
    pub fn failed(&self) -> Option<&Block1Error> {
        self.failed.as_ref()
    }

    /// The block to send now and the byte range of the body it carries.
    pub fn current(&self) -> (Block, std::ops::Range<usize>) {
        let size = 1usize << (u32::from(self.szx) + 4);
        let start = (self.num as usize).saturating_mul(size).min(self.total);
        let end = (start + size).min(self.total);
        (Block { num: self.num, more: end < self.total, szx: self.szx }, start..end)
    }

    /// Bytes the peer confirmed so far (everything before the current block).
    pub fn acked(&self) -> u64 {
        if self.done {
            return self.total as u64;
        }
        self.current().1.start as u64
    }

    /// The body's size.
    pub fn total(&self) -> u64 {
        self.total as u64
    }

    /// The current block size exponent.
    pub fn szx(&self) -> u8 {
        self.szx
    }

    fn fail(&mut self, e: Block1Error) -> Result<Next, Block1Error> {
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Goes on at byte `offset` with size exponent `szx`; the body must fit the 20-bit block
    /// numbers at that size.
    fn move_to(&mut self, offset: usize, szx: u8) -> Result<Next, Block1Error> {
        let last = self.total.saturating_sub(1) >> (u32::from(szx) + 4);
        if last > MAX_NUM as usize {
            let what = format!("blocks of {} bytes cannot number a body of {} bytes", 16usize << szx, self.total);
            return self.fail(Block1Error::Protocol { num: self.num, what });
        }
        self.szx = szx;
        self.num = (offset >> (u32::from(szx) + 4)) as u32;
        self.attempts = 1;
        Ok(Next::Send)
    }

    /// The peer's answer to the current block: its code and its Block1 option, when it has one
    /// (`Err`: the option did not decode).
    pub fn on_response(&mut self, code: Code, block1: Option<Result<Block, String>>) -> Result<Next, Block1Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(Next::Done(code));
        }
        let (cur, range) = self.current();
        let protocol = |what: String| Block1Error::Protocol { num: cur.num, what };
        let echo = match block1 {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return self.fail(protocol(format!("Block1 option not readable: {e}"))),
            None => None,
        };
        if code == Code::CONTINUE {
            if !cur.more {
                return self.fail(protocol("2.31 Continue to the last block".into()));
            }
            let Some(echo) = echo else {
                return self.fail(protocol("2.31 Continue without a Block1 option".into()));
            };
            if echo.num != cur.num || echo.szx > cur.szx {
                return self.fail(protocol(format!(
                    "2.31 Continue names block {} of size {} (sent: block {} of size {})",
                    echo.num,
                    echo.size(),
                    cur.num,
                    cur.size()
                )));
            }
            return self.move_to(range.end, echo.szx);
        }
        if code.is_success() {
            if cur.more {
                return self.fail(protocol(format!(
                    "final answer {code} to block {} with more to come: the peer took part of the body",
                    cur.num
                )));
            }
            self.done = true;
            return Ok(Next::Done(code));
        }
        if code == Code::REQUEST_ENTITY_TOO_LARGE {
            return match echo {
                Some(b) if b.szx < cur.szx => self.move_to(range.start, b.szx),
                _ => self.fail(Block1Error::TooLarge { total: self.total as u64 }),
            };
        }
        if code == Code::REQUEST_ENTITY_INCOMPLETE {
            if self.restarts > 0 {
                self.restarts -= 1;
                return self.move_to(0, self.szx);
            }
            return self.fail(Block1Error::Incomplete { offset: range.start as u64 });
        }
        self.fail(Block1Error::Refused { num: cur.num, code })
    }

    /// No answer to the current block in time: send it again, or give up.
    pub fn on_timeout(&mut self) -> Result<Next, Block1Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.attempts >= self.max_attempts {
            let e = Block1Error::Abandoned {
                num: self.num,
                attempts: self.attempts,
                acked: self.acked(),
                total: self.total as u64,
            };
            return self.fail(e);
        }
        self.attempts += 1;
        Ok(Next::Send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{BlockAssembler, Progress};

    /// A peer that reassembles with [`BlockAssembler`] and answers like a device would: 2.31 with
    /// the Block1 echo (of size `answer_szx` once it wants smaller blocks), 2.04 at the end.
    struct Peer {
        asm: BlockAssembler,
        answer_szx: Option<u8>,
        body: Option<Vec<u8>>,
    }

    impl Peer {
        fn take(&mut self, b: Block, payload: &[u8]) -> (Code, Option<Result<Block, String>>) {
            match self.asm.push(b, payload) {
                Ok(Progress::Continue) => {
                    let szx = self.answer_szx.map_or(b.szx, |s| s.min(b.szx));
                    (Code::CONTINUE, Some(Ok(Block { szx, ..b })))
                }
                Ok(Progress::Complete(body)) => {
                    self.body = Some(body);
                    (Code::CHANGED, Some(Ok(b)))
                }
                Err(_) => (Code::REQUEST_ENTITY_INCOMPLETE, None),
            }
        }
    }

    fn body(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    /// Runs `s` against `peer` to the end: the blocks sent (number, size).
    fn run(s: &mut Block1Sender, image: &[u8], peer: &mut Peer) -> Vec<(u32, usize)> {
        let mut sent = Vec::new();
        loop {
            let (b, r) = s.current();
            sent.push((b.num, b.size()));
            let (code, echo) = peer.take(b, &image[r]);
            match s.on_response(code, echo).unwrap() {
                Next::Send => {}
                Next::Done(c) => {
                    assert_eq!(c, Code::CHANGED);
                    return sent;
                }
            }
        }
    }

    #[test]
    fn a_body_goes_over_in_order_and_arrives_whole() {
        let image = body(5000);
        let mut s = Block1Sender::new(image.len(), 6, 3);
        let mut peer = Peer { asm: BlockAssembler::new(1 << 20), answer_szx: None, body: None };
        let sent = run(&mut s, &image, &mut peer);
        assert_eq!(sent.len(), 5);
        assert_eq!(peer.body.as_deref(), Some(image.as_slice()));
        assert_eq!(s.acked(), 5000);
        // A body of exactly one block, and an empty one, are one request without "more".
        for n in [1024, 0] {
            let image = body(n);
            let mut s = Block1Sender::new(n, 6, 3);
            assert!(!s.current().0.more);
            let mut peer = Peer { asm: BlockAssembler::new(1 << 20), answer_szx: None, body: None };
            assert_eq!(run(&mut s, &image, &mut peer).len(), 1);
            assert_eq!(peer.body.as_deref(), Some(image.as_slice()));
        }
    }

    #[test]
    fn the_device_shrinking_the_block_size_is_honoured() {
        // RFC 7959 Figure 11: block 0 of 1024 taken, answered with SZX 2 (64): go on at byte 1024
        // with block 16 of 64 bytes.
        let image = body(3000);
        let mut s = Block1Sender::new(image.len(), 6, 3);
        let mut peer = Peer { asm: BlockAssembler::new(1 << 20), answer_szx: Some(2), body: None };
        let sent = run(&mut s, &image, &mut peer);
        assert_eq!(sent[0], (0, 1024));
        assert_eq!(sent[1], (16, 64));
        assert!(sent[1..].iter().all(|(_, size)| *size == 64));
        assert_eq!(sent.len(), 1 + (3000 - 1024usize).div_ceil(64));
        assert_eq!(peer.body.as_deref(), Some(image.as_slice()));
    }

    #[test]
    fn too_large_with_a_smaller_size_retries_the_block_smaller() {
        let image = body(600);
        let mut s = Block1Sender::new(image.len(), 6, 3);
        let small = Block { num: 0, more: true, szx: 4 };
        assert_eq!(s.on_response(Code::REQUEST_ENTITY_TOO_LARGE, Some(Ok(small))), Ok(Next::Send));
        let (b, r) = s.current();
        assert_eq!((b.num, b.size(), r), (0, 256, 0..256));
        // Without a smaller size, 4.13 ends the transfer.
        let mut s = Block1Sender::new(image.len(), 4, 3);
        assert_eq!(s.on_response(Code::REQUEST_ENTITY_TOO_LARGE, None), Err(Block1Error::TooLarge { total: 600 }));
        assert!(s.on_timeout().is_err(), "a failed transfer stays failed");
    }

    #[test]
    fn a_lost_block_is_sent_again_and_the_transfer_completes() {
        let image = body(200);
        let mut s = Block1Sender::new(image.len(), 2, 3);
        let mut peer = Peer { asm: BlockAssembler::new(1 << 20), answer_szx: None, body: None };
        let (b0, r0) = s.current();
        let (c, e) = peer.take(b0, &image[r0]);
        assert_eq!(s.on_response(c, e), Ok(Next::Send));
        // Block 1 is lost twice (no answer): the same block goes again.
        let lost = s.current();
        assert_eq!(s.on_timeout(), Ok(Next::Send));
        assert_eq!(s.on_timeout(), Ok(Next::Send));
        assert_eq!(s.current(), lost);
        assert_eq!(s.acked(), 64);
        run(&mut s, &image, &mut peer);
        assert_eq!(peer.body.as_deref(), Some(image.as_slice()));
    }

    #[test]
    fn an_abandoned_transfer_fails_and_never_completes() {
        let image = body(1000);
        let mut s = Block1Sender::new(image.len(), 4, 3);
        assert_eq!(s.on_response(Code::CONTINUE, Some(Ok(Block { num: 0, more: true, szx: 4 }))), Ok(Next::Send));
        assert_eq!(s.on_timeout(), Ok(Next::Send));
        assert_eq!(s.on_timeout(), Ok(Next::Send));
        let e = s.on_timeout().unwrap_err();
        assert_eq!(e, Block1Error::Abandoned { num: 1, attempts: 3, acked: 256, total: 1000 });
        assert!(e.to_string().contains("cut off"), "{e}");
        // A late answer does not revive it.
        assert_eq!(s.on_response(Code::CHANGED, None), Err(e));
    }

    #[test]
    fn incomplete_restarts_once_then_fails() {
        let image = body(100);
        let mut s = Block1Sender::new(image.len(), 0, 3);
        assert_eq!(s.on_response(Code::CONTINUE, Some(Ok(Block { num: 0, more: true, szx: 0 }))), Ok(Next::Send));
        assert_eq!(s.current().0.num, 1);
        assert_eq!(s.on_response(Code::REQUEST_ENTITY_INCOMPLETE, None), Ok(Next::Send));
        assert_eq!(s.current().0.num, 0, "4.08: from the start again");
        assert_eq!(s.restarts_left(), 0);
        assert_eq!(s.on_response(Code::REQUEST_ENTITY_INCOMPLETE, None), Err(Block1Error::Incomplete { offset: 0 }));
    }

    #[test]
    fn a_body_past_the_20_bit_block_numbers_is_refused() {
        // 16 MiB + 1 in 16-byte blocks needs block number 2^20.
        let mut s = Block1Sender::new((16 << 20) + 1, 0, 3);
        assert!(matches!(s.failed(), Some(Block1Error::Protocol { .. })));
        assert!(s.on_timeout().is_err());
        // At 1024 bytes it fits; shrinking to 16 bytes would not.
        let mut s = Block1Sender::new((16 << 20) + 1, 6, 3);
        assert!(s.failed().is_none());
        let small = Block { num: 0, more: true, szx: 0 };
        assert!(matches!(s.on_response(Code::CONTINUE, Some(Ok(small))), Err(Block1Error::Protocol { .. })));
    }

    #[test]
    fn answers_that_break_the_protocol_are_refused() {
        let m = |code, echo| Block1Sender::new(100, 0, 3).on_response(code, echo);
        // Final success to a non-final block: the device took part of the body.
        assert!(matches!(m(Code::CHANGED, None), Err(Block1Error::Protocol { .. })));
        // 2.31 without an echo, with another block number, with a larger size.
        assert!(matches!(m(Code::CONTINUE, None), Err(Block1Error::Protocol { .. })));
        let other = Block { num: 3, more: true, szx: 0 };
        assert!(matches!(m(Code::CONTINUE, Some(Ok(other))), Err(Block1Error::Protocol { .. })));
        let mut s = Block1Sender::new(100, 1, 3);
        let larger = Block { num: 0, more: true, szx: 2 };
        assert!(matches!(s.on_response(Code::CONTINUE, Some(Ok(larger))), Err(Block1Error::Protocol { .. })));
        assert!(matches!(m(Code::CONTINUE, Some(Err("reserved".into()))), Err(Block1Error::Protocol { .. })));
        // 2.31 to the last block.
        let mut s = Block1Sender::new(10, 0, 3);
        let last = Block { num: 0, more: false, szx: 0 };
        assert!(matches!(s.on_response(Code::CONTINUE, Some(Ok(last))), Err(Block1Error::Protocol { .. })));
        // Any other error code.
        assert_eq!(m(Code::NOT_FOUND, None), Err(Block1Error::Refused { num: 0, code: Code::NOT_FOUND }));
    }
}
