//! The datagram pipe OpenSSL reads from and writes to instead of a socket: each `read` hands it one
//! whole received datagram (cut to the buffer, as UDP does), each `write` is one datagram to send.
//! An empty inbox is `WouldBlock`, which OpenSSL turns into "wants to read".

use std::collections::VecDeque;
use std::io::{self, Read, Write};

/// How many received datagrams one session may have queued: the server feeds one at a time, so
/// more than this is a bug or a flood and the oldest are dropped (as a full socket buffer would).
const INBOX_LIMIT: usize = 16;

/// One session's datagrams in and out.
#[derive(Debug, Default)]
pub struct DatagramPipe {
    inbox: VecDeque<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
}

impl DatagramPipe {
    /// Queues a received datagram for OpenSSL.
    pub fn push(&mut self, datagram: &[u8]) {
        if self.inbox.len() >= INBOX_LIMIT {
            self.inbox.pop_front();
        }
        self.inbox.push_back(datagram.to_vec());
    }

    /// Takes the datagrams OpenSSL wrote since the last call.
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }

    /// Drops everything received and written (a state OpenSSL was walked through for nothing).
    pub fn clear(&mut self) {
        self.inbox.clear();
        self.outbox.clear();
    }
}

impl Read for DatagramPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.inbox.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }
}

impl Write for DatagramPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_datagram_per_read_and_write() {
        let mut p = DatagramPipe::default();
        let mut buf = [0u8; 4];
        assert_eq!(p.read(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        p.push(b"abcdef");
        p.push(b"xy");
        assert_eq!(p.read(&mut buf).unwrap(), 4, "cut to the buffer");
        assert_eq!(&buf, b"abcd");
        assert_eq!(p.read(&mut buf).unwrap(), 2, "the rest of the first datagram is gone");
        p.write_all(b"one").unwrap();
        p.write_all(b"two").unwrap();
        assert_eq!(p.take_outgoing(), vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(p.take_outgoing().is_empty());
    }
}
