//! The CoRE link-format payload of a registration (RFC 6690, LwM2M Core §6.2.1): `</>;rt="oma.lwm2m"`
//! (an alternate root path), `</1/0>,</3/0>,</5>` and attributes (`ver`, `ct`). Only what the server
//! keeps is read — the object instances — and anything that is not a link list is refused.

use crate::path::Path;

/// The most links a registration may list.
pub const MAX_LINKS: usize = 1024;

/// Why a payload is not a usable link list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not UTF-8.
    #[error("link-format payload is not UTF-8")]
    NotUtf8,
    /// A link not written `<…>`.
    #[error("link {0:?} is not written <uri>")]
    Syntax(String),
    /// A link to something other than an object or object instance.
    #[error("link {0:?} is not /object or /object/instance")]
    NotAnObject(String),
    /// More than [`MAX_LINKS`] links.
    #[error("more than {MAX_LINKS} links")]
    TooMany,
}

/// An object or object instance a device has: (object, instance or `u16::MAX` for the object alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectLink {
    /// Object id.
    pub object: u16,
    /// Instance, `u16::MAX` when the link names the object without instances.
    pub instance: u16,
}

impl ObjectLink {
    /// The link as a path.
    pub fn path(&self) -> Path {
        if self.instance == u16::MAX {
            Path::object(self.object)
        } else {
            Path { object: self.object, instance: Some(self.instance), resource: None, resource_instance: None }
        }
    }
}

/// Splits on commas outside quotes.
fn split_links(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Reads the object links of a registration payload (the alternate root, if any, is stripped).
pub fn parse_objects(payload: &[u8]) -> Result<Vec<ObjectLink>, LinkError> {
    let text = std::str::from_utf8(payload).map_err(|_| LinkError::NotUtf8)?;
    let mut root = String::new();
    let mut raw = Vec::new();
    for link in split_links(text).into_iter().map(str::trim).filter(|l| !l.is_empty()) {
        if raw.len() >= MAX_LINKS {
            return Err(LinkError::TooMany);
        }
        let short = || link.chars().take(64).collect::<String>();
        let rest = link.strip_prefix('<').ok_or_else(|| LinkError::Syntax(short()))?;
        let end = rest.find('>').ok_or_else(|| LinkError::Syntax(short()))?;
        let (uri, attrs) = (&rest[..end], &rest[end + 1..]);
        if !attrs.is_empty() && !attrs.starts_with(';') {
            return Err(LinkError::Syntax(short()));
        }
        if attrs.contains("rt=\"oma.lwm2m\"") || attrs.contains("rt=oma.lwm2m") {
            root = uri.trim_end_matches('/').to_string();
            continue;
        }
        raw.push((uri, short()));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (uri, short) in raw {
        let uri = if root.is_empty() { uri } else { uri.strip_prefix(root.as_str()).unwrap_or(uri) };
        if uri == "/" || uri.is_empty() {
            continue;
        }
        let p: Path = uri.parse().map_err(|_| LinkError::NotAnObject(short.clone()))?;
        if p.resource.is_some() {
            return Err(LinkError::NotAnObject(short));
        }
        out.push(ObjectLink { object: p.object, instance: p.instance.unwrap_or(u16::MAX) });
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_of_a_registration() {
        let l =
            parse_objects(br#"</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1,</5>,</3303/0>,</3303/1>"#).unwrap();
        let paths: Vec<String> = l.iter().map(|o| o.path().to_string()).collect();
        assert_eq!(paths, ["/1/0", "/3/0", "/5", "/3303/0", "/3303/1"]);
        let l = parse_objects(br#"</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>"#).unwrap();
        assert_eq!(l, vec![ObjectLink { object: 1, instance: 0 }]);
    }

    #[test]
    fn garbage_refused() {
        assert!(parse_objects(b"</3/0/1>").is_err());
        assert!(parse_objects(b"/3/0").is_err());
        assert!(parse_objects(b"<abc>").is_err());
        assert!(parse_objects(&[0xff, 0xfe]).is_err());
        assert!(parse_objects("</1>,".repeat(2000).as_bytes()).is_err());
    }
}
