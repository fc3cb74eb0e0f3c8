//! SenML JSON (RFC 8428, content format 110) as LwM2M 1.1 uses it (Core §7.4.4): records with a
//! base name `bn`, a name `n` appended to it, and one value — `v` (number), `vs` (string), `vb`
//! (boolean), `vd` (base64 opaque) or `vlo` (object link). Names resolve to object paths.

use serde::{Deserialize, Serialize};

use crate::content::Value;
use crate::path::Path;

/// One SenML record (the fields LwM2M uses; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Base name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bn: Option<String>,
    /// Base time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bt: Option<f64>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Numeric value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v: Option<f64>,
    /// String value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs: Option<String>,
    /// Boolean value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vb: Option<bool>,
    /// Opaque value, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vd: Option<String>,
    /// Object link `"3:0"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlo: Option<String>,
    /// Time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
}

/// Why a SenML payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenmlError {
    /// Not a JSON array of records.
    #[error("not a SenML JSON array: {0}")]
    Json(String),
    /// A name that is not an object path.
    #[error("record name {0:?} is not an object path")]
    Name(String),
    /// A record with no value (or more than one).
    #[error("record {0:?} must carry exactly one value")]
    Value(String),
}

/// Decodes a payload into (path, value) pairs, in order.
pub fn decode(payload: &[u8]) -> Result<Vec<(Path, Value)>, SenmlError> {
    let records: Vec<Record> = serde_json::from_slice(payload).map_err(|e| SenmlError::Json(e.to_string()))?;
    let mut base = String::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if let Some(bn) = &r.bn {
            base = bn.clone();
        }
        let name = format!("{base}{}", r.n.as_deref().unwrap_or(""));
        let path: Path = name.parse().map_err(|_| SenmlError::Name(name.chars().take(64).collect()))?;
        let mut values = Vec::new();
        if let Some(v) = r.v {
            values.push(if v.fract() == 0.0 && v.abs() < 9.0e15 { Value::Integer(v as i64) } else { Value::Float(v) });
        }
        if let Some(s) = r.vs {
            values.push(Value::String(s));
        }
        if let Some(b) = r.vb {
            values.push(Value::Boolean(b));
        }
        if let Some(d) = r.vd {
            values.push(Value::Opaque(base64url_decode(&d).ok_or_else(|| SenmlError::Value(name.clone()))?));
        }
        if let Some(l) = r.vlo {
            values.push(Value::String(l));
        }
        if values.len() != 1 {
            return Err(SenmlError::Value(name));
        }
        out.push((path, values.remove(0)));
    }
    Ok(out)
}

/// Encodes (path, value) pairs as SenML JSON (full names, no base).
pub fn encode(values: &[(Path, Value)]) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .map(|(p, v)| {
            let mut r = Record { n: Some(p.to_string()), ..Record::default() };
            match v {
                Value::Integer(i) => r.v = Some(*i as f64),
                Value::Float(f) => r.v = Some(*f),
                Value::Boolean(b) => r.vb = Some(*b),
                Value::String(s) => r.vs = Some(s.clone()),
                Value::Opaque(o) => r.vd = Some(base64url_encode(o)),
            }
            r
        })
        .collect();
    serde_json::to_vec(&records).unwrap_or_default()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5), as SenML's `vd`.
pub fn base64url_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |a, (i, b)| a | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// Reads base64url, padded or not (standard `+`/`/` accepted too).
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LwM2M Core TS 1.1 §7.4.4, the Device object read example (abridged).
    #[test]
    fn device_object_example() {
        let p = br#"[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"9","v":100},{"n":"13","v":1367491215},{"n":"6/0","v":1}]"#;
        let d = decode(p).unwrap();
        assert_eq!(d[0], (Path::resource(3, 0, 0), Value::String("Open Mobile Alliance".into())));
        assert_eq!(d[1], (Path::resource(3, 0, 9), Value::Integer(100)));
        assert_eq!(d[3].0.to_string(), "/3/0/6/0");
        assert_eq!(decode(&encode(&d)).unwrap(), d);
    }

    #[test]
    fn bad_records_refused() {
        assert!(decode(br#"{"n":"/3/0/0"}"#).is_err());
        assert!(decode(br#"[{"n":"x","v":1}]"#).is_err());
        assert!(decode(br#"[{"n":"/3/0/0"}]"#).is_err());
        assert!(decode(br#"[{"n":"/3/0/0","v":1,"vs":"a"}]"#).is_err());
        assert_eq!(base64url_decode(&base64url_encode(b"\x00\xffhello")), Some(b"\x00\xffhello".to_vec()));
    }
}
