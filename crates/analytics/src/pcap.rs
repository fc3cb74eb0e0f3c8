//! Reading classic libpcap capture files: both byte orders, microsecond and nanosecond timestamps.
//! pcapng is recognised and refused ([`PcapError::Pcapng`]), not read.
//!
//! [`PcapReader`] reads records one at a time from any [`Read`]; a file cut short mid-record ends
//! with [`PcapError::Truncated`] after the records before it, so a caller keeps what it already has.

use std::io::{self, Read};

/// The largest record the reader accepts; larger lengths mean a corrupt file.
pub const MAX_RECORD: u32 = 256 * 1024;

/// Why a capture could not be read (further).
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Reading failed.
    #[error("reading the capture: {0}")]
    Io(#[from] io::Error),
    /// Not a pcap file (unknown magic number).
    #[error("not a pcap file (magic {0:#010x})")]
    NotPcap(u32),
    /// A pcapng file, which this reader does not read.
    #[error("pcapng is not supported; convert with `editcap -F pcap`")]
    Pcapng,
    /// The file ends inside the file header or a record.
    #[error("the capture is truncated after {records} records")]
    Truncated {
        /// Complete records read before the cut.
        records: u64,
    },
    /// A record claims an impossible length.
    #[error("record {record}: captured length {length} is over the limit of {MAX_RECORD}")]
    BadRecord {
        /// 1-based record number.
        record: u64,
        /// The length it claimed.
        length: u32,
    },
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Length on the wire (may exceed `data.len()` when the snapshot length cut it).
    pub original_len: u32,
    /// The captured bytes, from the link-layer header on.
    pub data: &'a [u8],
}

/// A pcap reader over any byte source.
#[derive(Debug)]
pub struct PcapReader<R> {
    source: R,
    big_endian: bool,
    nanoseconds: bool,
    link_type: u32,
    records: u64,
    buf: Vec<u8>,
}

/// Reads as much of `buf` as the source has; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header.
    pub fn new(mut source: R) -> Result<Self, PcapError> {
        let mut header = [0u8; 24];
        let n = read_full(&mut source, &mut header)?;
        if n >= 4 {
            let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let (big_endian, nanoseconds) = match magic {
                0xa1b2_c3d4 => (false, false),
                0xa1b2_3c4d => (false, true),
                0xd4c3_b2a1 => (true, false),
                0x4d3c_b2a1 => (true, true),
                0x0a0d_0d0a => return Err(PcapError::Pcapng),
                other => return Err(PcapError::NotPcap(other)),
            };
            if n < 24 {
                return Err(PcapError::Truncated { records: 0 });
            }
            let mut reader = PcapReader { source, big_endian, nanoseconds, link_type: 0, records: 0, buf: Vec::new() };
            // The low 16 bits are the link type; the upper bits may carry FCS information.
            reader.link_type = reader.u32(&header[20..24]) & 0xffff;
            return Ok(reader);
        }
        Err(PcapError::Truncated { records: 0 })
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The link type (LINKTYPE_*): 1 Ethernet, 101 raw IP, 113 Linux cooked, …
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Complete records read so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// The next record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, PcapError> {
        let mut header = [0u8; 16];
        let n = read_full(&mut self.source, &mut header)?;
        if n == 0 {
            return Ok(None);
        }
        if n < 16 {
            return Err(PcapError::Truncated { records: self.records });
        }
        let secs = u64::from(self.u32(&header[0..4]));
        let frac = u64::from(self.u32(&header[4..8]));
        let captured = self.u32(&header[8..12]);
        let original_len = self.u32(&header[12..16]);
        if captured > MAX_RECORD {
            return Err(PcapError::BadRecord { record: self.records + 1, length: captured });
        }
        self.buf.resize(captured as usize, 0);
        let got = read_full(&mut self.source, &mut self.buf)?;
        if got < self.buf.len() {
            return Err(PcapError::Truncated { records: self.records });
        }
        self.records += 1;
        let timestamp_ns = secs * 1_000_000_000 + if self.nanoseconds { frac } else { frac * 1000 };
        Ok(Some(Record { timestamp_ns, original_len, data: &self.buf }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(big_endian: bool, nanoseconds: bool, packets: &[&[u8]]) -> Vec<u8> {
        let w = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(w(if nanoseconds { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(if big_endian { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        out.extend(w(0));
        out.extend(w(0));
        out.extend(w(65535));
        out.extend(w(101));
        for (i, p) in packets.iter().enumerate() {
            out.extend(w(1_700_000_000 + i as u32));
            out.extend(w(5));
            out.extend(w(p.len() as u32));
            out.extend(w(p.len() as u32));
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn reads_both_byte_orders_and_timestamp_precisions() {
        for big_endian in [false, true] {
            for nanoseconds in [false, true] {
                let file = capture(big_endian, nanoseconds, &[b"abc", b"defgh"]);
                let mut r = PcapReader::new(&file[..]).unwrap();
                assert_eq!(r.link_type(), 101);
                let first = r.next_record().unwrap().unwrap();
                assert_eq!(first.data, b"abc");
                let unit = if nanoseconds { 1 } else { 1000 };
                assert_eq!(first.timestamp_ns, 1_700_000_000_000_000_000 + 5 * unit);
                assert_eq!(r.next_record().unwrap().unwrap().data, b"defgh");
                assert!(r.next_record().unwrap().is_none());
                assert_eq!(r.records_read(), 2);
            }
        }
    }

    #[test]
    fn a_cut_file_yields_its_whole_records_then_truncated() {
        let file = capture(false, false, &[b"abc", b"defgh"]);
        for cut in 24..file.len() {
            let mut r = PcapReader::new(&file[..cut]).unwrap();
            let mut seen = 0;
            let end = loop {
                match r.next_record() {
                    Ok(Some(_)) => seen += 1,
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            let complete = if cut >= 24 + 16 + 3 { 1 } else { 0 };
            assert_eq!(seen, complete, "cut at {cut}");
            match end {
                Some(PcapError::Truncated { records }) => assert_eq!(records, complete),
                None => assert!(cut == 24 || cut == 24 + 16 + 3, "only a cut between records ends cleanly"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(PcapReader::new(&file[..10]), Err(PcapError::Truncated { .. })));
        assert!(matches!(PcapReader::new(&b"\x0a\x0d\x0d\x0a1234"[..]), Err(PcapError::Pcapng)));
        assert!(matches!(PcapReader::new(&b"GIF89a......"[..]), Err(PcapError::NotPcap(_))));
    }
}
