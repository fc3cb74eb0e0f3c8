//! Content formats and resource values: text/plain (0), opaque (42), link-format (40), SenML JSON
//! (110) and LwM2M TLV (11542). [`decode`] turns a response payload into (path, value) pairs;
//! TLV carries no types, so the types of the Device (3), Connectivity Monitoring (4) and Firmware
//! Update (5) resources come from a small built-in model and other resources read as opaque.

use serde::Serialize;

use crate::path::Path;
use crate::{senml, tlv};

/// text/plain; charset=utf-8.
pub const TEXT: u16 = 0;
/// application/link-format.
pub const LINK_FORMAT: u16 = 40;
/// application/octet-stream.
pub const OPAQUE: u16 = 42;
/// application/senml+json.
pub const SENML_JSON: u16 = 110;
/// application/senml+cbor.
pub const SENML_CBOR: u16 = 112;
/// application/vnd.oma.lwm2m+tlv.
pub const TLV: u16 = 11542;
/// application/vnd.oma.lwm2m+json (LwM2M 1.0).
pub const LWM2M_JSON: u16 = 11543;

/// A resource value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Integer (also Time).
    Integer(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Boolean(bool),
    /// String.
    String(String),
    /// Opaque bytes (rendered as hex in JSON).
    #[serde(serialize_with = "hex_bytes")]
    Opaque(Vec<u8>),
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// The type of a resource in the built-in model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// String.
    String,
    /// Integer or Time.
    Integer,
    /// Boolean.
    Boolean,
    /// Opaque or unknown.
    Opaque,
}

/// The type of resource `object/resource` as the built-in model knows it.
pub fn kind_of(object: u16, resource: u16) -> Kind {
    match (object, resource) {
        (3, 0..=3 | 14..=19) => Kind::String,
        (3, 6..=13 | 20 | 21) => Kind::Integer,
        (4, 0..=3 | 6 | 8..=10) => Kind::Integer,
        (4, 4 | 5 | 7) => Kind::String,
        (5, 1 | 6 | 7) => Kind::String,
        (5, 3 | 5 | 9) => Kind::Integer,
        (1, 0..=3 | 5 | 17) => Kind::Integer,
        (1, 6) => Kind::Boolean,
        (1, 7) => Kind::String,
        _ => Kind::Opaque,
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// A format this server does not read.
    #[error("content format {0} is not supported")]
    Unsupported(u16),
    /// Malformed TLV.
    #[error(transparent)]
    Tlv(#[from] tlv::TlvError),
    /// Malformed SenML.
    #[error(transparent)]
    Senml(#[from] senml::SenmlError),
    /// A text value that is not UTF-8.
    #[error("text/plain value is not UTF-8")]
    NotUtf8,
    /// A value that does not fit the resource.
    #[error("value {0:?} does not fit the resource")]
    BadValue(String),
}

fn typed(path: &Path, raw: &[u8]) -> Value {
    match path.resource.map(|r| kind_of(path.object, r)).unwrap_or(Kind::Opaque) {
        Kind::String => match std::str::from_utf8(raw) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::Opaque(raw.to_vec()),
        },
        Kind::Integer => tlv::int_value(raw).map(Value::Integer).unwrap_or_else(|| Value::Opaque(raw.to_vec())),
        Kind::Boolean if raw.len() == 1 => Value::Boolean(raw[0] != 0),
        _ => Value::Opaque(raw.to_vec()),
    }
}

fn tlv_values(base: Path, entries: &[tlv::Tlv], out: &mut Vec<(Path, Value)>) {
    for e in entries {
        // A single-resource read may answer with the resource's own entry (its id repeats the path's).
        let here = if base.resource.is_some() && e.kind == tlv::Kind::Resource && base.resource == Some(e.id) {
            Some(base)
        } else {
            base.child(e.id)
        };
        let Some(here) = here else { continue };
        if e.children.is_empty() && matches!(e.kind, tlv::Kind::Resource | tlv::Kind::ResourceInstance) {
            let typing = Path { resource_instance: None, ..here };
            out.push((here, typed(&typing, &e.value)));
        } else {
            let next = if base.resource.is_some() && base.resource == Some(e.id) { base } else { here };
            tlv_values(next, &e.children, out);
        }
    }
}

/// Reads a response to a read of `path`.
pub fn decode(format: Option<u16>, path: &Path, payload: &[u8]) -> Result<Vec<(Path, Value)>, ContentError> {
    match format.unwrap_or(TEXT) {
        TEXT => {
            let s = std::str::from_utf8(payload).map_err(|_| ContentError::NotUtf8)?;
            let kind = path.resource.map(|r| kind_of(path.object, r)).unwrap_or(Kind::String);
            let v = match kind {
                Kind::Integer => s.trim().parse().map(Value::Integer).unwrap_or_else(|_| Value::String(s.into())),
                Kind::Boolean => Value::Boolean(s.trim() == "1" || s.trim() == "true"),
                _ => Value::String(s.to_string()),
            };
            Ok(vec![(*path, v)])
        }
        OPAQUE => Ok(vec![(*path, Value::Opaque(payload.to_vec()))]),
        TLV => {
            let entries = tlv::decode(payload)?;
            let mut out = Vec::new();
            tlv_values(*path, &entries, &mut out);
            Ok(out)
        }
        SENML_JSON => Ok(senml::decode(payload)?),
        SENML_CBOR => Ok(crate::senml_cbor::decode(payload)?),
        other => Err(ContentError::Unsupported(other)),
    }
}

/// A value as a TLV entry holds it (LwM2M Core §7.4.3: integers in 1, 2, 4 or 8 bytes, floats in 8,
/// booleans in 1, strings as UTF-8, opaque as is).
pub fn tlv_value(value: &Value) -> Vec<u8> {
    match value {
        Value::Integer(i) => tlv::int_bytes(*i),
        Value::Float(f) => f.to_be_bytes().to_vec(),
        Value::Boolean(b) => vec![u8::from(*b)],
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Opaque(o) => o.clone(),
    }
}

/// Encodes a value for a write of one resource in `format`.
pub fn encode_resource(format: u16, path: &Path, value: &Value) -> Result<Vec<u8>, ContentError> {
    match format {
        TEXT => Ok(match value {
            Value::Integer(i) => i.to_string().into_bytes(),
            Value::Float(f) => f.to_string().into_bytes(),
            Value::Boolean(b) => (if *b { "1" } else { "0" }).as_bytes().to_vec(),
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Opaque(_) => return Err(ContentError::BadValue("opaque value as text".into())),
        }),
        OPAQUE => match value {
            Value::Opaque(o) => Ok(o.clone()),
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(ContentError::BadValue("only bytes are opaque".into())),
        },
        SENML_JSON => Ok(senml::encode(&[(*path, value.clone())])),
        SENML_CBOR => Ok(crate::senml_cbor::encode(&[(*path, value.clone())])),
        TLV => {
            let id = path.resource.ok_or_else(|| ContentError::BadValue("TLV write needs a resource path".into()))?;
            Ok(tlv::encode(&[tlv::Tlv { kind: tlv::Kind::Resource, id, value: tlv_value(value), children: vec![] }]))
        }
        other => Err(ContentError::Unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_read_of_an_instance_is_typed_by_the_model() {
        let p: Path = "/3/0".parse().unwrap();
        let payload = tlv::encode(&[
            tlv::Tlv { kind: tlv::Kind::Resource, id: 0, value: b"ACME".to_vec(), children: vec![] },
            tlv::Tlv { kind: tlv::Kind::Resource, id: 9, value: vec![87], children: vec![] },
        ]);
        let v = decode(Some(TLV), &p, &payload).unwrap();
        assert_eq!(
            v,
            vec![
                (Path::resource(3, 0, 0), Value::String("ACME".into())),
                (Path::resource(3, 0, 9), Value::Integer(87))
            ]
        );
        let single = decode(
            Some(TLV),
            &Path::resource(3, 0, 9),
            &tlv::encode(&[tlv::Tlv { kind: tlv::Kind::Resource, id: 9, value: vec![50], children: vec![] }]),
        )
        .unwrap();
        assert_eq!(single, vec![(Path::resource(3, 0, 9), Value::Integer(50))]);
        assert_eq!(decode(Some(TEXT), &Path::resource(3, 0, 9), b"42").unwrap()[0].1, Value::Integer(42));
        assert!(decode(Some(9999), &p, b"").is_err());
    }
}
