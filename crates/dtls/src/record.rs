//! The little of the DTLS 1.2 wire format (RFC 6347 §4.1, §4.2.2) the server reads itself before any
//! session exists: the record header, an unfragmented ClientHello with its cookie, and the
//! HelloVerifyRequest it answers with. Everything else is OpenSSL's. Every parser here takes any
//! bytes and answers `None` for what it does not accept; nothing indexes past a length it checked.

/// Record content type of handshake records.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;
/// Handshake type of a HelloVerifyRequest.
pub const HELLO_VERIFY_REQUEST: u8 = 3;
/// DTLS 1.0 on the wire: RFC 6347 §4.2.1 has the HelloVerifyRequest carry it whatever is negotiated.
pub const DTLS1_0: [u8; 2] = [0xfe, 0xff];
/// Record header length.
pub const RECORD_HEADER: usize = 13;
/// Handshake header length.
pub const HANDSHAKE_HEADER: usize = 12;
/// The largest cookie the protocol carries (one length byte).
pub const MAX_COOKIE: usize = 255;

/// A big-endian cursor over a byte slice that never panics.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn uint(&mut self, n: usize) -> Option<u64> {
        self.take(n).map(|b| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    fn vector8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
}

/// The header of the first record of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type.
    pub content_type: u8,
    /// Protocol version on the wire.
    pub version: [u8; 2],
    /// Epoch.
    pub epoch: u16,
    /// 48-bit record sequence number.
    pub sequence: u64,
    /// Length of the fragment that follows.
    pub length: usize,
}

/// Reads the first record's header and fragment.
pub fn first_record(datagram: &[u8]) -> Option<(RecordHeader, &[u8])> {
    let mut r = Reader { b: datagram };
    let content_type = r.u8()?;
    let v = r.take(2)?;
    let epoch = r.uint(2)? as u16;
    let sequence = r.uint(6)?;
    let length = r.uint(2)? as usize;
    let fragment = r.take(length)?;
    Some((RecordHeader { content_type, version: [v[0], v[1]], epoch, sequence, length }, fragment))
}

/// An unfragmented ClientHello in the first record of a datagram, in epoch 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// The record it came in.
    pub record: RecordHeader,
    /// Handshake message sequence number (0 for the first ClientHello, 1 after a HelloVerifyRequest).
    pub message_seq: u16,
    /// `client_version`.
    pub client_version: [u8; 2],
    /// `random`.
    pub random: &'a [u8],
    /// `session_id`.
    pub session_id: &'a [u8],
    /// The cookie (empty in a first ClientHello).
    pub cookie: &'a [u8],
    /// Everything after the cookie: cipher suites, compression methods, extensions.
    pub rest: &'a [u8],
}

/// Parses the datagram's first record as an epoch-0 ClientHello sent in one fragment; `None` for
/// anything else (other records, other epochs, fragments, truncation, bad lengths).
pub fn client_hello(datagram: &[u8]) -> Option<ClientHello<'_>> {
    let (record, fragment) = first_record(datagram)?;
    if record.content_type != CONTENT_HANDSHAKE || record.epoch != 0 || record.version[0] != 0xfe {
        return None;
    }
    let mut r = Reader { b: fragment };
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let length = r.uint(3)? as usize;
    let message_seq = r.uint(2)? as u16;
    let offset = r.uint(3)? as usize;
    let fragment_length = r.uint(3)? as usize;
    if offset != 0 || fragment_length != length {
        return None;
    }
    let mut body = Reader { b: r.take(length)? };
    let v = body.take(2)?;
    let random = body.take(32)?;
    let session_id = body.vector8()?;
    if session_id.len() > 32 {
        return None;
    }
    let cookie = body.vector8()?;
    let rest = body.b;
    // Cipher suites (a non-empty, even-length vector) and compression methods must follow.
    let mut check = Reader { b: rest };
    let suites = check.uint(2)? as usize;
    if suites == 0 || !suites.is_multiple_of(2) {
        return None;
    }
    check.take(suites)?;
    if check.vector8()?.is_empty() {
        return None;
    }
    Some(ClientHello { record, message_seq, client_version: [v[0], v[1]], random, session_id, cookie, rest })
}

fn push_u24(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
}

fn push_u48(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_be_bytes()[2..]);
}

/// One epoch-0 handshake record holding one unfragmented message.
fn handshake_record(version: [u8; 2], sequence: u64, msg_type: u8, message_seq: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER + HANDSHAKE_HEADER + body.len());
    out.push(CONTENT_HANDSHAKE);
    out.extend_from_slice(&version);
    out.extend_from_slice(&[0, 0]);
    push_u48(&mut out, sequence);
    out.extend_from_slice(&((HANDSHAKE_HEADER + body.len()) as u16).to_be_bytes());
    out.push(msg_type);
    push_u24(&mut out, body.len());
    out.extend_from_slice(&message_seq.to_be_bytes());
    push_u24(&mut out, 0);
    push_u24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// The HelloVerifyRequest answering `hello` with `cookie` (at most [`MAX_COOKIE`] bytes): its
/// record sequence number is the ClientHello's (RFC 6347 §4.2.1), its message sequence 0.
pub fn hello_verify_request(hello: &ClientHello<'_>, cookie: &[u8]) -> Vec<u8> {
    let cookie = &cookie[..cookie.len().min(MAX_COOKIE)];
    let mut body = Vec::with_capacity(3 + cookie.len());
    body.extend_from_slice(&DTLS1_0);
    body.push(cookie.len() as u8);
    body.extend_from_slice(cookie);
    handshake_record(DTLS1_0, hello.record.sequence, HELLO_VERIFY_REQUEST, 0, &body)
}

/// The first ClientHello this second one (the one carrying the cookie) stands for: the same
/// fields without the cookie, message sequence 0, one record sequence number earlier. OpenSSL's
/// server state machine is walked through it so that its own cookie exchange state matches what the
/// stateless front already did; `None` when the record sequence number leaves no room (0).
pub fn first_hello_for(hello: &ClientHello<'_>) -> Option<Vec<u8>> {
    let sequence = hello.record.sequence.checked_sub(1)?;
    let mut body = Vec::with_capacity(2 + 32 + 1 + hello.session_id.len() + 1 + hello.rest.len());
    body.extend_from_slice(&hello.client_version);
    body.extend_from_slice(hello.random);
    body.push(hello.session_id.len() as u8);
    body.extend_from_slice(hello.session_id);
    body.push(0);
    body.extend_from_slice(hello.rest);
    Some(handshake_record(hello.record.version, sequence, CLIENT_HELLO, 0, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello as a DTLS 1.2 client sends it (hand-built from RFC 6347 §4.2.2's layout).
    fn hello(seq: u64, message_seq: u16, cookie: &[u8]) -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.push(cookie.len() as u8);
        body.extend_from_slice(cookie);
        body.extend_from_slice(&[0, 2, 0xc0, 0xa8, 1, 0]);
        handshake_record([0xfe, 0xfd], seq, CLIENT_HELLO, message_seq, &body)
    }

    #[test]
    fn parses_a_hello_and_its_cookie() {
        let d = hello(3, 1, b"abc");
        let h = client_hello(&d).unwrap();
        assert_eq!(h.record.sequence, 3);
        assert_eq!(h.message_seq, 1);
        assert_eq!(h.cookie, b"abc");
        assert_eq!(h.random, &[7u8; 32]);
        assert_eq!(h.rest, &[0, 2, 0xc0, 0xa8, 1, 0]);
    }

    #[test]
    fn rebuilds_the_first_hello_without_cookie() {
        let second = hello(1, 1, b"cookie");
        let first = first_hello_for(&client_hello(&second).unwrap()).unwrap();
        assert_eq!(first, hello(0, 0, b""));
        assert_eq!(first_hello_for(&client_hello(&hello(0, 1, b"c")).unwrap()), None);
    }

    #[test]
    fn hello_verify_request_layout() {
        let d = hello(5, 0, b"");
        let hvr = hello_verify_request(&client_hello(&d).unwrap(), &[9; 4]);
        assert_eq!(
            hvr,
            [
                vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 0, 19],
                vec![3, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 7, 0xfe, 0xff, 4, 9, 9, 9, 9]
            ]
            .concat()
        );
    }

    proptest::proptest! {
        /// Any bytes: no panic; a hello found rebuilds into a first hello that parses back to the
        /// same fields without cookie, and its HelloVerifyRequest is one whole record.
        #[test]
        fn never_panics_and_rebuilds_faithfully(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                                                 cookie in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Some(h) = client_hello(&d) {
                let hvr = hello_verify_request(&h, &cookie);
                let (rec, frag) = first_record(&hvr).unwrap();
                proptest::prop_assert_eq!(rec.length, frag.len());
                if let Some(first) = first_hello_for(&h) {
                    let f = client_hello(&first).unwrap();
                    proptest::prop_assert_eq!((f.message_seq, f.cookie, f.random, f.rest), (0, &b""[..], h.random, h.rest));
                    proptest::prop_assert_eq!(f.record.sequence + 1, h.record.sequence);
                }
            }
        }

        /// Valid hellos with every cookie length parse back exactly.
        #[test]
        fn valid_hellos_parse(seq in 0u64..(1 << 48), mseq in 0u16..3, cookie in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..255)) {
            let d = hello(seq, mseq, &cookie);
            let h = client_hello(&d).unwrap();
            proptest::prop_assert_eq!((h.record.sequence, h.message_seq, h.cookie), (seq, mseq, cookie.as_slice()));
        }
    }

    #[test]
    fn refuses_what_is_not_a_whole_hello() {
        let d = hello(0, 0, b"");
        for n in 0..d.len() {
            assert!(client_hello(&d[..n]).is_none(), "truncated at {n}");
        }
        let mut frag = d.clone();
        frag[RECORD_HEADER + 11] ^= 1; // fragment length differs from length
        assert!(client_hello(&frag).is_none());
        let mut epoch = d.clone();
        epoch[4] = 1;
        assert!(client_hello(&epoch).is_none());
        let mut alert = d;
        alert[0] = 21;
        assert!(client_hello(&alert).is_none());
    }
}
