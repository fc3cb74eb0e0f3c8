//! Every registered device, by endpoint name and by location (`/rd/{location}`), with the deadline
//! at which its lifetime runs out. Slots in a vector, two hash indexes and an ordered set of
//! deadlines: register, update and de-register are O(1)/O(log n); [`Registry::expire`] takes the
//! devices whose lifetime ended. Times are seconds since the server's epoch (`u32`) to keep each
//! device small (docs/devices.md states the measured bytes per device).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use crate::link::ObjectLink;

/// What the server learned of a device after it registered (read from objects 3 and 4), and the SIM
/// it belongs to. Filled by the caller ([`Registry::device_mut`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    /// The SIM's IMSI, when linked.
    pub imsi: Option<String>,
    /// The SIM's tenant.
    pub tenant: Option<String>,
    /// Manufacturer (3/0/0).
    pub manufacturer: Option<String>,
    /// Model (3/0/1).
    pub model: Option<String>,
    /// Serial number (3/0/2).
    pub serial: Option<String>,
    /// Firmware version (3/0/3).
    pub firmware: Option<String>,
    /// Battery level, percent (3/0/9).
    pub battery: Option<i64>,
    /// Radio signal strength, dBm (4/0/2).
    pub signal: Option<i64>,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Endpoint client name.
    pub endpoint: Box<str>,
    /// Location id (`/rd/{hex}`).
    pub location: u64,
    /// Where its last register/update came from (where requests go).
    pub peer: SocketAddr,
    /// The DTLS identity it authenticated with; `None` over plain CoAP.
    pub identity: Option<Box<str>>,
    /// Lifetime, seconds.
    pub lifetime: u32,
    /// Registered at (seconds since the server's epoch).
    pub registered_at: u32,
    /// Last register/update (seconds since the server's epoch).
    pub updated_at: u32,
    /// LwM2M version (index in [`crate::registration::VERSIONS`]).
    pub version: u8,
    /// Binding as sent (`U`, `UQ`, …), at most 4 letters.
    pub binding: [u8; 4],
    /// Queue mode.
    pub queue_mode: bool,
    /// Objects and instances.
    pub objects: Box<[ObjectLink]>,
    /// Learned after registration; `None` until then.
    pub profile: Option<Box<Profile>>,
}

impl Device {
    /// Whether it registered over plain CoAP (no identity).
    pub fn unsecured(&self) -> bool {
        self.identity.is_none()
    }

    /// The location path segment.
    pub fn location_str(&self) -> String {
        format!("{:016x}", self.location)
    }

    /// The binding as text.
    pub fn binding_str(&self) -> &str {
        let n = self.binding.iter().position(|b| *b == 0).unwrap_or(4);
        std::str::from_utf8(&self.binding[..n]).unwrap_or("U")
    }

    /// The LwM2M version.
    pub fn version_str(&self) -> &'static str {
        crate::registration::VERSIONS.get(usize::from(self.version)).copied().unwrap_or("1.0")
    }

    /// Whether the device listed this object (or an instance of it).
    pub fn has_object(&self, object: u16) -> bool {
        self.objects.iter().any(|o| o.object == object)
    }

    fn deadline(&self) -> u64 {
        u64::from(self.updated_at) + u64::from(self.lifetime)
    }
}

/// The registry.
#[derive(Debug, Default)]
pub struct Registry {
    slots: Vec<Option<Device>>,
    free: Vec<u32>,
    by_endpoint: HashMap<Box<str>, u32>,
    by_location: HashMap<u64, u32>,
    deadlines: BTreeSet<(u64, u32)>,
}

impl Registry {
    /// An empty registry with room for `capacity` devices.
    pub fn with_capacity(capacity: usize) -> Registry {
        Registry {
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            by_endpoint: HashMap::with_capacity(capacity),
            by_location: HashMap::with_capacity(capacity),
            deadlines: BTreeSet::new(),
        }
    }

    /// Devices registered.
    pub fn len(&self) -> usize {
        self.by_endpoint.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_endpoint.is_empty()
    }

    /// The device with this endpoint name.
    pub fn get(&self, endpoint: &str) -> Option<&Device> {
        let slot = *self.by_endpoint.get(endpoint)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    /// The device with this endpoint name, to change its profile.
    pub fn device_mut(&mut self, endpoint: &str) -> Option<&mut Device> {
        let slot = *self.by_endpoint.get(endpoint)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The device at this location.
    pub fn by_location(&self, location: u64) -> Option<&Device> {
        let slot = *self.by_location.get(&location)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Every device, in no order.
    pub fn iter(&self) -> impl Iterator<Item = &Device> {
        self.slots.iter().flatten()
    }

    /// Adds a device, replacing (and returning) one registered under the same endpoint name — a
    /// device that registers again starts afresh (LwM2M Core §6.2.1).
    pub fn insert(&mut self, device: Device) -> Option<Device> {
        let old = self.remove(&device.endpoint.clone());
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_endpoint.insert(device.endpoint.clone(), slot);
        self.by_location.insert(device.location, slot);
        self.deadlines.insert((device.deadline(), slot));
        self.slots[slot as usize] = Some(device);
        old
    }

    /// Applies an update to the device at `location`: `change` may alter it; its deadline is
    /// recomputed from its `updated_at` and `lifetime` afterwards.
    pub fn update<R>(&mut self, location: u64, change: impl FnOnce(&mut Device) -> R) -> Option<R> {
        let slot = *self.by_location.get(&location)?;
        let d = self.slots.get_mut(slot as usize)?.as_mut()?;
        self.deadlines.remove(&(d.deadline(), slot));
        let r = change(d);
        self.deadlines.insert((d.deadline(), slot));
        Some(r)
    }

    /// Removes the device with this endpoint name.
    pub fn remove(&mut self, endpoint: &str) -> Option<Device> {
        let slot = self.by_endpoint.remove(endpoint)?;
        let d = self.slots.get_mut(slot as usize)?.take()?;
        self.by_location.remove(&d.location);
        self.deadlines.remove(&(d.deadline(), slot));
        self.free.push(slot);
        Some(d)
    }

    /// Removes and returns the devices whose lifetime ended at or before `now` (seconds since the
    /// server's epoch).
    pub fn expire(&mut self, now: u64) -> Vec<Device> {
        let mut out = Vec::new();
        while let Some(&(deadline, slot)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            let endpoint = self.slots.get(slot as usize).and_then(|s| s.as_ref()).map(|d| d.endpoint.clone());
            match endpoint {
                Some(ep) => out.extend(self.remove(&ep)),
                None => {
                    self.deadlines.pop_first();
                }
            }
        }
        out
    }

    /// The earliest deadline (seconds since the server's epoch).
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|(d, _)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(ep: &str, loc: u64, lt: u32, at: u32) -> Device {
        Device {
            endpoint: ep.into(),
            location: loc,
            peer: "127.0.0.1:5683".parse().unwrap(),
            identity: None,
            lifetime: lt,
            registered_at: at,
            updated_at: at,
            version: 1,
            binding: *b"U\0\0\0",
            queue_mode: false,
            objects: Box::new([]),
            profile: None,
        }
    }

    #[test]
    fn register_update_expire() {
        let mut r = Registry::default();
        r.insert(dev("a", 1, 10, 0));
        r.insert(dev("b", 2, 20, 0));
        assert_eq!(r.len(), 2);
        // Re-registration replaces the old location.
        let old = r.insert(dev("a", 3, 10, 5)).unwrap();
        assert_eq!(old.location, 1);
        assert!(r.by_location(1).is_none());
        assert_eq!(r.expire(14).len(), 0);
        r.update(2, |d| d.updated_at = 30).unwrap();
        let gone: Vec<_> = r.expire(15).into_iter().map(|d| d.endpoint).collect();
        assert_eq!(gone, vec!["a".into()]);
        assert_eq!(r.next_deadline(), Some(50));
        assert!(r.remove("b").is_some());
        assert!(r.is_empty());
        assert_eq!(r.next_deadline(), None);
    }
}
