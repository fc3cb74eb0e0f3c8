//! SenML CBOR (RFC 8428 §6, content format 112): the same records as [`crate::senml`] with integer
//! labels — base name −2, base time −3, name 0, value 2, string value 3, boolean value 4, time 6,
//! data value 8 (a byte string) — and LwM2M's object link `"vlo"` (Core TS 1.1 §7.4.5).

use ciborium::value::{Integer, Value as Cbor};

use crate::content::Value;
use crate::path::Path;
use crate::senml::SenmlError;

fn label(k: &Cbor) -> Option<i64> {
    match k {
        Cbor::Integer(i) => i64::try_from(i128::from(*i)).ok(),
        Cbor::Text(t) if t == "vlo" => Some(1000),
        _ => None,
    }
}

/// Decodes a payload into (path, value) pairs, in order.
pub fn decode(payload: &[u8]) -> Result<Vec<(Path, Value)>, SenmlError> {
    let top: Cbor = ciborium::de::from_reader(payload).map_err(|e| SenmlError::Json(format!("CBOR: {e}")))?;
    let Cbor::Array(records) = top else { return Err(SenmlError::Json("CBOR: not an array of records".into())) };
    let mut base = String::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let Cbor::Map(fields) = r else { return Err(SenmlError::Json("CBOR: a record is not a map".into())) };
        let mut name = None;
        let mut values = Vec::new();
        for (k, v) in fields {
            match (label(&k), v) {
                (Some(-2), Cbor::Text(bn)) => base = bn,
                (Some(0), Cbor::Text(n)) => name = Some(n),
                (Some(2), Cbor::Integer(i)) => values
                    .push(Value::Integer(i64::try_from(i128::from(i)).map_err(|_| SenmlError::Value("v".into()))?)),
                (Some(2), Cbor::Float(f)) => values.push(Value::Float(f)),
                (Some(3), Cbor::Text(s)) => values.push(Value::String(s)),
                (Some(4), Cbor::Bool(b)) => values.push(Value::Boolean(b)),
                (Some(8), Cbor::Bytes(b)) => values.push(Value::Opaque(b)),
                (Some(1000), Cbor::Text(s)) => values.push(Value::String(s)),
                (Some(-2 | 0 | 2 | 3 | 4 | 8 | 1000), _) => {
                    return Err(SenmlError::Value("a field of the wrong type".into()))
                }
                _ => {}
            }
        }
        let full = format!("{base}{}", name.unwrap_or_default());
        let path: Path = full.parse().map_err(|_| SenmlError::Name(full.chars().take(64).collect()))?;
        if values.len() != 1 {
            return Err(SenmlError::Value(full));
        }
        out.push((path, values.remove(0)));
    }
    Ok(out)
}

/// Encodes (path, value) pairs as SenML CBOR (full names, no base).
pub fn encode(values: &[(Path, Value)]) -> Vec<u8> {
    let records: Vec<Cbor> = values
        .iter()
        .map(|(p, v)| {
            let value = match v {
                Value::Integer(i) => (2, Cbor::Integer(Integer::from(*i))),
                Value::Float(f) => (2, Cbor::Float(*f)),
                Value::String(s) => (3, Cbor::Text(s.clone())),
                Value::Boolean(b) => (4, Cbor::Bool(*b)),
                Value::Opaque(o) => (8, Cbor::Bytes(o.clone())),
            };
            Cbor::Map(vec![
                (Cbor::Integer(0.into()), Cbor::Text(p.to_string())),
                (Cbor::Integer(value.0.into()), value.1),
            ])
        })
        .collect();
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&Cbor::Array(records), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8428 §6's labels by hand: [{-2: "/3/0/", 0: "9", 2: 87}, {0: "0", 3: "ACME"}].
    #[test]
    fn records_with_a_base_name() {
        let bytes = [
            0x82, 0xa3, 0x21, 0x65, b'/', b'3', b'/', b'0', b'/', 0x00, 0x61, b'9', 0x02, 0x18, 87, 0xa2, 0x00, 0x61,
            b'0', 0x03, 0x64, b'A', b'C', b'M', b'E',
        ];
        let d = decode(&bytes).unwrap();
        assert_eq!(
            d,
            vec![
                (Path::resource(3, 0, 9), Value::Integer(87)),
                (Path::resource(3, 0, 0), Value::String("ACME".into()))
            ]
        );
        assert_eq!(decode(&encode(&d)).unwrap(), d);
        assert!(decode(&[0xa0]).is_err());
        assert!(decode(&[0x81, 0xa1, 0x00, 0x61, b'x']).is_err());
        assert!(decode(&[0x82, 0xff]).is_err());
    }
}
