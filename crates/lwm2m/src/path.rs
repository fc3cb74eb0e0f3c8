//! Object paths (`/3`, `/3/0`, `/3/0/9`, `/3/0/7/1`): object, instance, resource, resource instance,
//! each 0 to 65535 (65535 is reserved for instances and resources, LwM2M Core §6.1).

use std::fmt;
use std::str::FromStr;

/// A path to an object, object instance, resource or resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    /// Object id.
    pub object: u16,
    /// Instance.
    pub instance: Option<u16>,
    /// Resource (only with an instance).
    pub resource: Option<u16>,
    /// Resource instance (only with a resource).
    pub resource_instance: Option<u16>,
}

/// A path that is not `/O[/I[/R[/RI]]]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad object path {0:?}: expected /object[/instance[/resource[/resource-instance]]] with ids 0..65534")]
pub struct PathError(pub String);

impl Path {
    /// `/object`.
    pub const fn object(object: u16) -> Path {
        Path { object, instance: None, resource: None, resource_instance: None }
    }

    /// `/object/instance/resource`.
    pub const fn resource(object: u16, instance: u16, resource: u16) -> Path {
        Path { object, instance: Some(instance), resource: Some(resource), resource_instance: None }
    }

    /// The segments, in order.
    pub fn segments(&self) -> Vec<u16> {
        [Some(self.object), self.instance, self.resource, self.resource_instance].into_iter().flatten().collect()
    }

    /// The path one level down (`/3/0` + 9 = `/3/0/9`); `None` below a resource instance.
    pub fn child(&self, id: u16) -> Option<Path> {
        let mut p = *self;
        match (p.instance, p.resource, p.resource_instance) {
            (None, _, _) => p.instance = Some(id),
            (Some(_), None, _) => p.resource = Some(id),
            (Some(_), Some(_), None) => p.resource_instance = Some(id),
            _ => return None,
        }
        Some(p)
    }

    /// Builds a path from up to four ids.
    pub fn from_segments(ids: &[u16]) -> Option<Path> {
        if ids.is_empty() || ids.len() > 4 || ids[1..].contains(&u16::MAX) {
            return None;
        }
        Some(Path {
            object: ids[0],
            instance: ids.get(1).copied(),
            resource: ids.get(2).copied(),
            resource_instance: ids.get(3).copied(),
        })
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Path, PathError> {
        let bad = || PathError(s.chars().take(64).collect());
        let rest = s.strip_prefix('/').ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let ids: Vec<u16> = rest
            .split('/')
            .map(|seg| {
                if seg.is_empty() || seg.len() > 5 || !seg.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                seg.parse::<u16>().map_err(|_| bad())
            })
            .collect::<Result<_, _>>()?;
        Path::from_segments(&ids).ok_or_else(bad)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in self.segments() {
            write!(f, "/{id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let p: Path = "/3/0/9".parse().unwrap();
        assert_eq!(p, Path::resource(3, 0, 9));
        assert_eq!(p.to_string(), "/3/0/9");
        for bad in ["", "/", "3/0", "/a", "/3//0", "/70000", "/3/65535", "/1/2/3/4/5", "/+3"] {
            assert!(bad.parse::<Path>().is_err(), "{bad}");
        }
    }
}
