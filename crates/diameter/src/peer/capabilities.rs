//! Capabilities exchange (RFC 6733 §5.3): building CER/CEA from the local configuration and finding
//! the applications both sides support.

use std::net::IpAddr;

use crate::avp::{self, Address, Avp};
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
    /// Gx (vendor 10415).
    pub const GX: Application = Application { id: app::GX, vendor: Some(crate::dictionary::VENDOR_3GPP) };
    /// SGd (vendor 10415).
    pub const SGD: Application = Application { id: app::SGD, vendor: Some(crate::dictionary::VENDOR_3GPP) };
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
        let is_application = |a: &Avp| a.is(avp::AUTH_APPLICATION_ID) || a.is(avp::ACCT_APPLICATION_ID);
        for a in &m.avps {
            if is_application(a) {
                applications.extend(a.as_u32());
            } else if a.is(avp::VENDOR_SPECIFIC_APPLICATION_ID) {
                for inner in a.as_grouped().unwrap_or_default() {
                    if is_application(inner) {
                        applications.extend(inner.as_u32());
                    }
                }
            }
        }
        Self {
            origin_host: m.get_str(avp::ORIGIN_HOST).unwrap_or_default().to_string(),
            origin_realm: m.get_str(avp::ORIGIN_REALM).unwrap_or_default().to_string(),
            host_ip_addresses: m
                .get_all(avp::HOST_IP_ADDRESS)
                .filter_map(|a| match a.as_address() {
                    Some(Address::Ip(ip)) => Some(*ip),
                    _ => None,
                })
                .collect(),
            vendor_id: m.get_u32(avp::VENDOR_ID).unwrap_or(0),
            product_name: m.get_str(avp::PRODUCT_NAME).unwrap_or_default().to_string(),
            origin_state_id: m.get_u32(avp::ORIGIN_STATE_ID),
            supported_vendors: m.get_all(avp::SUPPORTED_VENDOR_ID).filter_map(Avp::as_u32).collect(),
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
    m.add(avp::ORIGIN_HOST, c.origin_host.as_str());
    m.add(avp::ORIGIN_REALM, c.origin_realm.as_str());
    for ip in &c.host_ip_addresses {
        m.add(avp::HOST_IP_ADDRESS, *ip);
    }
    m.add(avp::VENDOR_ID, c.vendor_id);
    m.add(avp::PRODUCT_NAME, c.product_name.as_str());
    m.add(avp::ORIGIN_STATE_ID, c.origin_state_id);
    let mut vendors: Vec<u32> = c.applications.iter().filter_map(|a| a.vendor).collect();
    vendors.sort_unstable();
    vendors.dedup();
    for v in vendors {
        m.add(avp::SUPPORTED_VENDOR_ID, v);
    }
    for a in &c.applications {
        match a.vendor {
            None => m.add(avp::AUTH_APPLICATION_ID, a.id),
            Some(v) => m.add(
                avp::VENDOR_SPECIFIC_APPLICATION_ID,
                vec![Avp::new(avp::VENDOR_ID, v), Avp::new(avp::AUTH_APPLICATION_ID, a.id)],
            ),
        };
    }
    m.add(avp::FIRMWARE_REVISION, c.firmware_revision);
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
