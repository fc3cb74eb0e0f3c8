//! Capabilities exchange (RFC 6733 §5.3): building CER/CEA from the local configuration and finding
//! the applications both sides support.

use std::net::IpAddr;

use crate::avp::{Address, Avp, Value};
use crate::dictionary::app;
use crate::message::Message;

/// An application a peer supports: its id and, for vendor-specific applications, the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Application {
    /// Application id.
    pub id: u32,
    /// Vendor id for Vendor-Specific-Application-Id; `None` for Auth-Application-Id alone.
    pub vendor: Option<u32>,
}

impl Application {
    /// S6a/S6d (vendor 10415).
    pub const S6A: Application = Application { id: app::S6A, vendor: Some(crate::dictionary::VENDOR_3GPP) };
    /// S13 (vendor 10415).
    pub const S13: Application = Application { id: app::S13, vendor: Some(crate::dictionary::VENDOR_3GPP) };
}

/// What a peer says about itself in CER or CEA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Host-IP-Address values.
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id.
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: String,
    /// Origin-State-Id, when sent.
    pub origin_state_id: Option<u32>,
    /// Supported-Vendor-Id values.
    pub supported_vendors: Vec<u32>,
    /// Application ids advertised (Auth-, Acct- and inside Vendor-Specific-Application-Id).
    pub applications: Vec<u32>,
}

impl Capabilities {
    /// Reads the capabilities from a CER or CEA.
    pub fn from_message(m: &Message) -> Self {
        let mut applications = Vec::new();
        for a in &m.avps {
            match a.name() {
                Some("Auth-Application-Id" | "Acct-Application-Id") => applications.extend(a.as_u32()),
                Some("Vendor-Specific-Application-Id") => {
                    for inner in a.as_grouped().unwrap_or_default() {
                        if matches!(inner.name(), Some("Auth-Application-Id" | "Acct-Application-Id")) {
                            applications.extend(inner.as_u32());
                        }
                    }
                }
                _ => {}
            }
        }
        Self {
            origin_host: m.get_str("Origin-Host").unwrap_or_default().to_string(),
            origin_realm: m.get_str("Origin-Realm").unwrap_or_default().to_string(),
            host_ip_addresses: m
                .get_all("Host-IP-Address")
                .filter_map(|a| match a.as_address() {
                    Some(Address::Ip(ip)) => Some(*ip),
                    _ => None,
                })
                .collect(),
            vendor_id: m.get_u32("Vendor-Id").unwrap_or(0),
            product_name: m.get_str("Product-Name").unwrap_or_default().to_string(),
            origin_state_id: m.get_u32("Origin-State-Id"),
            supported_vendors: m.get_all("Supported-Vendor-Id").filter_map(Avp::as_u32).collect(),
            applications,
        }
    }
}

/// Applications both sides support; the relay id on either side matches everything the other has.
pub fn common_applications(local: &[Application], remote: &[u32]) -> Vec<u32> {
    let local_ids: Vec<u32> = local.iter().map(|a| a.id).collect();
    if local_ids.contains(&app::RELAY) {
        return remote.to_vec();
    }
    if remote.contains(&app::RELAY) {
        return local_ids;
    }
    local_ids.into_iter().filter(|id| remote.contains(id)).collect()
}

/// Appends the capability AVPs of the local node to a CER or CEA.
pub fn add_local_capabilities(m: &mut Message, c: &super::PeerConfig) {
    let add = |m: &mut Message, name: &str, v: Value| {
        m.add(name, v).expect("base AVP");
    };
    add(m, "Origin-Host", c.origin_host.as_str().into());
    add(m, "Origin-Realm", c.origin_realm.as_str().into());
    for ip in &c.host_ip_addresses {
        add(m, "Host-IP-Address", (*ip).into());
    }
    add(m, "Vendor-Id", c.vendor_id.into());
    add(m, "Product-Name", c.product_name.as_str().into());
    add(m, "Origin-State-Id", c.origin_state_id.into());
    let mut vendors: Vec<u32> = c.applications.iter().filter_map(|a| a.vendor).collect();
    vendors.sort_unstable();
    vendors.dedup();
    for v in vendors {
        add(m, "Supported-Vendor-Id", v.into());
    }
    for a in &c.applications {
        match a.vendor {
            None => add(m, "Auth-Application-Id", a.id.into()),
            Some(v) => {
                let inner =
                    vec![Avp::new("Vendor-Id", v).expect("base"), Avp::new("Auth-Application-Id", a.id).expect("base")];
                add(m, "Vendor-Specific-Application-Id", Value::Grouped(inner));
            }
        }
    }
    add(m, "Firmware-Revision", c.firmware_revision.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_apps_and_relay() {
        let local = [Application::S6A, Application::S13];
        assert_eq!(common_applications(&local, &[app::S6A, 4]), vec![app::S6A]);
        assert!(common_applications(&local, &[4]).is_empty());
        assert_eq!(common_applications(&local, &[app::RELAY]), vec![app::S6A, app::S13]);
        assert_eq!(common_applications(&[Application { id: app::RELAY, vendor: None }], &[7]), vec![7]);
    }
}
