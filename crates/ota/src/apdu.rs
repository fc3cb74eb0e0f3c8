//! Command APDUs (ISO/IEC 7816-4 short form, cases 1-4) and the two script formats of ETSI TS 102 226
//! §5.1/§5.2 that carry them in a command packet's secured data: compact (APDUs concatenated) and
//! expanded (C-APDU TLVs 0x22 in a command scripting template 0xAA with a definite length).

use crate::error::{Field, OtaError, Result};

/// A short command APDU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Apdu {
    /// Class byte.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (Lc is its length; at most 255 bytes).
    pub data: Vec<u8>,
    /// Expected response length, when the command returns data (0 = up to 256).
    pub le: Option<u8>,
}

/// Instructions whose P3 is Le (case 2) in the compact format, where APDUs are only concatenated:
/// READ BINARY, READ RECORD, GET RESPONSE, STATUS, GET DATA and FETCH.
const CASE_2: [u8; 6] = [0xB0, 0xB2, 0xC0, 0xF2, 0xCA, 0x12];

impl Apdu {
    /// An APDU; `data` must be at most 255 bytes.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Result<Apdu> {
        if data.len() > 255 {
            return Err(OtaError::Length {
                field: Field::Apdu,
                expected: "at most 255 bytes of command data",
                got: data.len(),
            });
        }
        Ok(Apdu { cla, ins, p1, p2, data: data.to_vec(), le })
    }

    /// Parses one complete short APDU (`CLA INS P1 P2 [Lc data] [Le]`).
    pub fn parse(b: &[u8]) -> Result<Apdu> {
        let bad = |reason: String| OtaError::invalid(Field::Apdu, reason);
        if b.len() < 4 {
            return Err(OtaError::Length {
                field: Field::Apdu,
                expected: "at least 4 bytes (CLA INS P1 P2)",
                got: b.len(),
            });
        }
        let (h, rest) = b.split_at(4);
        let (data, le) = match rest {
            [] => (&[][..], None),
            [le] => (&[][..], Some(*le)),
            [0, ..] => return Err(bad("Lc 0 with data following (extended lengths are not supported)".into())),
            [lc, tail @ ..] if tail.len() == usize::from(*lc) => (tail, None),
            [lc, tail @ ..] if tail.len() == usize::from(*lc) + 1 => {
                (&tail[..tail.len() - 1], Some(tail[tail.len() - 1]))
            }
            [lc, tail @ ..] => return Err(bad(format!("Lc {lc} but {} bytes follow it", tail.len()))),
        };
        Apdu::new(h[0], h[1], h[2], h[3], data, le)
    }

    /// The complete APDU (`CLA INS P1 P2 [Lc data] [Le]`), as in the expanded format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        out.extend(self.le);
        out
    }

    /// The APDU as the compact format carries it: a case-4 command goes without Le (its response
    /// is left for GET RESPONSE / the PoR's last response data), so that P3 is always either Lc or Le.
    pub fn compact_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if self.data.is_empty() {
            out.push(self.le.unwrap_or(0));
        } else {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        out
    }
}

/// How remote commands are coded in the secured data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptFormat {
    /// TS 102 226 §5.1: APDUs concatenated.
    Compact,
    /// TS 102 226 §5.2: a command scripting template (0xAA) of C-APDU TLVs (0x22).
    Expanded,
}

/// BER-TLV length octets (definite form).
pub(crate) fn ber_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

/// Reads a BER-TLV at the start of `b`: (tag, value, rest). Single-byte tags only.
pub(crate) fn read_tlv(b: &[u8], field: Field) -> Result<(u8, &[u8], &[u8])> {
    let trunc = |need: usize| OtaError::Truncated { field, what: "TLV", need, got: b.len() };
    let (&tag, rest) = b.split_first().ok_or_else(|| trunc(2))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| trunc(2))?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81 if !rest.is_empty() => (usize::from(rest[0]), &rest[1..]),
        0x82 if rest.len() >= 2 => ((usize::from(rest[0]) << 8) | usize::from(rest[1]), &rest[2..]),
        0x81 | 0x82 => return Err(trunc(b.len() + 1)),
        other => return Err(OtaError::malformed(field, format!("TLV length form {other:#04x} is not supported"))),
    };
    if rest.len() < len {
        return Err(OtaError::Truncated { field, what: "TLV value", need: len, got: rest.len() });
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Codes APDUs as secured data in `format`.
pub fn build_script(format: ScriptFormat, apdus: &[Apdu]) -> Vec<u8> {
    match format {
        ScriptFormat::Compact => apdus.iter().flat_map(Apdu::compact_bytes).collect(),
        ScriptFormat::Expanded => {
            let mut inner = Vec::new();
            for a in apdus {
                let c = a.to_bytes();
                inner.push(0x22);
                ber_len(&mut inner, c.len());
                inner.extend_from_slice(&c);
            }
            let mut out = vec![0xAA];
            ber_len(&mut out, inner.len());
            out.extend_from_slice(&inner);
            out
        }
    }
}

/// Card side: the APDUs of secured data. Data starting with 0xAA whose template spans it exactly is
/// the expanded format; anything else is compact.
pub fn parse_script(data: &[u8]) -> Result<(ScriptFormat, Vec<Apdu>)> {
    if data.first() == Some(&0xAA) {
        if let Ok((_, mut inner, [])) = read_tlv(data, Field::Packet) {
            let mut apdus = Vec::new();
            while !inner.is_empty() {
                let (tag, value, rest) = read_tlv(inner, Field::Packet)?;
                if tag == 0x22 {
                    apdus.push(Apdu::parse(value).map_err(|e| OtaError::malformed(Field::Packet, e.to_string()))?);
                }
                inner = rest;
            }
            return Ok((ScriptFormat::Expanded, apdus));
        }
    }
    let mut apdus = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Err(OtaError::Truncated {
                field: Field::Packet,
                what: "compact C-APDU header",
                need: 5,
                got: rest.len(),
            });
        }
        let (h, p3) = (&rest[..4], rest[4]);
        if CASE_2.contains(&h[1]) {
            apdus.push(Apdu::new(h[0], h[1], h[2], h[3], &[], Some(p3))?);
            rest = &rest[5..];
        } else {
            let end = 5 + usize::from(p3);
            if rest.len() < end {
                return Err(OtaError::Truncated {
                    field: Field::Packet,
                    what: "compact C-APDU data",
                    need: end,
                    got: rest.len(),
                });
            }
            apdus.push(Apdu::new(h[0], h[1], h[2], h[3], &rest[5..end], None)?);
            rest = &rest[end..];
        }
    }
    Ok((ScriptFormat::Compact, apdus))
}

/// One response APDU of an expanded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rapdu {
    /// Response data.
    pub data: Vec<u8>,
    /// Status word.
    pub sw: [u8; 2],
}

/// The additional data of a PoR: the remote-command response (TS 102 226 §5.1.2 / §5.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteResponse {
    /// Compact: number of commands executed, last status word, last response data.
    Compact {
        /// Commands executed.
        commands: u8,
        /// Status word of the last one.
        sw: [u8; 2],
        /// Its response data.
        data: Vec<u8>,
    },
    /// Expanded: a response scripting template (0xAB) of R-APDU TLVs (0x23).
    Expanded {
        /// Number of executed C-APDUs (TLV 0x80).
        commands: u8,
        /// The R-APDUs, in order.
        responses: Vec<Rapdu>,
        /// The bad-format TLV (0x90) when the card reports one.
        bad_format: Option<u8>,
    },
}

impl RemoteResponse {
    /// Parses a PoR's additional data in the format the command used.
    pub fn parse(data: &[u8], format: ScriptFormat) -> Result<RemoteResponse> {
        match format {
            ScriptFormat::Compact => {
                if data.len() < 3 {
                    return Err(OtaError::Truncated {
                        field: Field::Response,
                        what: "compact response",
                        need: 3,
                        got: data.len(),
                    });
                }
                Ok(RemoteResponse::Compact { commands: data[0], sw: [data[1], data[2]], data: data[3..].to_vec() })
            }
            ScriptFormat::Expanded => {
                let (tag, mut inner, _) = read_tlv(data, Field::Response)?;
                if tag != 0xAB {
                    return Err(OtaError::malformed(
                        Field::Response,
                        format!("expanded response starts with {tag:#04x}, not 0xAB"),
                    ));
                }
                let (mut commands, mut responses, mut bad_format) = (0, Vec::new(), None);
                while !inner.is_empty() {
                    let (tag, value, rest) = read_tlv(inner, Field::Response)?;
                    match (tag, value) {
                        (0x80, [n]) => commands = *n,
                        (0x90, [e]) => bad_format = Some(*e),
                        (0x23, [d @ .., s1, s2]) => responses.push(Rapdu { data: d.to_vec(), sw: [*s1, *s2] }),
                        (0x23, _) => {
                            return Err(OtaError::malformed(Field::Response, "R-APDU TLV shorter than a status word"))
                        }
                        _ => {}
                    }
                    inner = rest;
                }
                Ok(RemoteResponse::Expanded { commands, responses, bad_format })
            }
        }
    }

    /// Commands executed, the last status word and its response data (`None` when the expanded
    /// response holds no R-APDU).
    pub fn summary(&self) -> (u8, Option<[u8; 2]>, &[u8]) {
        match self {
            RemoteResponse::Compact { commands, sw, data } => (*commands, Some(*sw), data),
            RemoteResponse::Expanded { commands, responses, .. } => match responses.last() {
                Some(r) => (*commands, Some(r.sw), &r.data),
                None => (*commands, None, &[]),
            },
        }
    }

    /// Builds the response (card side, for simulators).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            RemoteResponse::Compact { commands, sw, data } => [&[*commands][..], sw, data].concat(),
            RemoteResponse::Expanded { commands, responses, bad_format } => {
                let mut inner = vec![0x80, 0x01, *commands];
                for r in responses {
                    inner.push(0x23);
                    ber_len(&mut inner, r.data.len() + 2);
                    inner.extend_from_slice(&r.data);
                    inner.extend_from_slice(&r.sw);
                }
                if let Some(e) = bad_format {
                    inner.extend_from_slice(&[0x90, 0x01, *e]);
                }
                let mut out = vec![0xAB];
                ber_len(&mut out, inner.len());
                out.extend_from_slice(&inner);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apdu_cases_round_trip() {
        for hex in ["00a40004023f00", "00b0000010", "00a40004023f0000", "80f2000c"] {
            let b: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            assert_eq!(Apdu::parse(&b).unwrap().to_bytes(), b, "{hex}");
        }
        assert!(Apdu::parse(&[0, 0xa4, 0, 4, 3, 0x3f]).unwrap_err().to_string().contains("Lc 3"));
    }

    #[test]
    fn both_formats_round_trip() {
        let apdus = vec![
            Apdu::new(0, 0xA4, 0, 4, &[0x3f, 0], None).unwrap(),
            Apdu::new(0, 0xB0, 0, 0, &[], Some(10)).unwrap(),
            Apdu::new(0, 0xD6, 0, 0, &[1; 200], None).unwrap(),
        ];
        for f in [ScriptFormat::Compact, ScriptFormat::Expanded] {
            assert_eq!(parse_script(&build_script(f, &apdus)).unwrap(), (f, apdus.clone()));
        }
        let r = RemoteResponse::Expanded {
            commands: 2,
            responses: vec![Rapdu { data: vec![], sw: [0x90, 0] }, Rapdu { data: vec![1, 2], sw: [0x61, 0x32] }],
            bad_format: None,
        };
        assert_eq!(RemoteResponse::parse(&r.to_bytes(), ScriptFormat::Expanded).unwrap(), r);
        assert_eq!(r.summary(), (2, Some([0x61, 0x32]), &[1u8, 2][..]));
    }
}
