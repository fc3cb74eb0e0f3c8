//! Where Warden may connect on a tenant's behalf (webhook deliveries): the one deny list of
//! addresses that are not on the public Internet, and the names that mean this host.
//!
//! The list is the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and the RFCs that
//! added to them since; <https://www.iana.org/assignments/iana-ipv4-special-registry> and
//! `iana-ipv6-special-registry`, read in 2025), the multicast blocks (IANA IPv4 Multicast Address
//! Space, RFC 4291 §2.7) and the deprecated IPv6 site-local block (RFC 3879). Every entry of the
//! registries is denied, also the few the registry marks globally reachable (the anycast addresses in
//! 192.0.0.0/24 and 2001::/23, the AS112 blocks): none of them is a webhook receiver. Beyond the
//! table, an IPv6 address outside 2000::/3, the only block IANA allocates for global unicast, is
//! denied as well.
//!
//! Addresses that carry an IPv4 address:
//! - IPv4-mapped `::ffff:0:0/96` is judged by the IPv4 address it carries (a dual-stack socket
//!   connects to that address);
//! - IPv4-compatible `::/96` (deprecated, RFC 4291 §2.5.5.1), NAT64 `64:ff9b::/96` and
//!   `64:ff9b:1::/48`, 6to4 `2002::/16` (deprecated relays, RFC 7526) and Teredo (in 2001::/23) are
//!   denied whole: a translator or relay in the operator's network could reach any IPv4 address,
//!   internal ones included, and no receiver needs them.
//!
//! A webhook's creation checks literal addresses and names with [`check_webhook_url`]; each delivery
//! checks every address its name resolves to with [`denied`] (in `api`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{Error, Result};

/// The block a denied address lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// The block, e.g. `127.0.0.0/8`.
    pub block: &'static str,
    /// What the registry calls it, with its RFC.
    pub name: &'static str,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.block, self.name)
    }
}

struct V4 {
    net: Ipv4Addr,
    len: u32,
    denied: Denied,
}

struct V6 {
    net: Ipv6Addr,
    len: u32,
    denied: Denied,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u32, block: &'static str, name: &'static str) -> V4 {
    V4 { net: Ipv4Addr::new(a, b, c, d), len, denied: Denied { block, name } }
}

const fn v6(segments: [u16; 8], len: u32, block: &'static str, name: &'static str) -> V6 {
    let [a, b, c, d, e, f, g, h] = segments;
    V6 { net: Ipv6Addr::new(a, b, c, d, e, f, g, h), len, denied: Denied { block, name } }
}

/// IANA IPv4 Special-Purpose Address Registry, plus multicast (IANA IPv4 Multicast Address Space).
const IPV4: &[V4] = &[
    v4(0, 0, 0, 0, 8, "0.0.0.0/8", "\"this network\" (RFC 791)"),
    v4(10, 0, 0, 0, 8, "10.0.0.0/8", "private use (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"),
    v4(127, 0, 0, 0, 8, "127.0.0.0/8", "loopback (RFC 1122)"),
    v4(169, 254, 0, 0, 16, "169.254.0.0/16", "link local (RFC 3927)"),
    v4(172, 16, 0, 0, 12, "172.16.0.0/12", "private use (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    v4(192, 0, 2, 0, 24, "192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
    v4(192, 31, 196, 0, 24, "192.31.196.0/24", "AS112-v4 (RFC 7535)"),
    v4(192, 52, 193, 0, 24, "192.52.193.0/24", "AMT (RFC 7450)"),
    v4(192, 88, 99, 0, 24, "192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
    v4(192, 168, 0, 0, 16, "192.168.0.0/16", "private use (RFC 1918)"),
    v4(192, 175, 48, 0, 24, "192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
    v4(198, 18, 0, 0, 15, "198.18.0.0/15", "benchmarking (RFC 2544)"),
    v4(198, 51, 100, 0, 24, "198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
    v4(203, 0, 113, 0, 24, "203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
    v4(224, 0, 0, 0, 4, "224.0.0.0/4", "multicast (RFC 5771)"),
    v4(255, 255, 255, 255, 32, "255.255.255.255/32", "limited broadcast (RFC 919)"),
    v4(240, 0, 0, 0, 4, "240.0.0.0/4", "reserved (RFC 1112)"),
];

/// IANA IPv6 Special-Purpose Address Registry, plus multicast and the deprecated site-local block.
/// More specific blocks come before the blocks that contain them, so the name is the precise one.
const IPV6: &[V6] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "::/128", "unspecified address (RFC 4291)"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "::1/128", "loopback (RFC 4291)"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "::/96", "deprecated IPv4-compatible address (RFC 4291)"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "64:ff9b::/96", "IPv4/IPv6 translation, NAT64 (RFC 6052)"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "100::/64", "discard-only (RFC 6666)"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "2001::/32", "Teredo (RFC 4380)"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "2001::/23", "IETF protocol assignments (RFC 2928)"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "2001:db8::/32", "documentation (RFC 3849)"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "2002::/16", "6to4 (RFC 3056)"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "3fff::/20", "documentation (RFC 9637)"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "5f00::/16", "segment routing (SRv6) SIDs (RFC 9602)"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "fc00::/7", "unique local (RFC 4193)"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "fe80::/10", "link-local unicast (RFC 4291)"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "fec0::/10", "deprecated site-local (RFC 3879)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "ff00::/8", "multicast (RFC 4291)"),
];

const NOT_GLOBAL_UNICAST: Denied =
    Denied { block: "outside 2000::/3", name: "not global unicast (IANA IPv6 Address Space, RFC 4291)" };

/// The block `ip` lies in if Warden must not connect to it for a tenant; `None` for a public address.
pub fn denied(ip: IpAddr) -> Option<Denied> {
    match ip {
        IpAddr::V4(a) => denied_v4(a),
        IpAddr::V6(a) => denied_v6(a),
    }
}

fn denied_v4(a: Ipv4Addr) -> Option<Denied> {
    let bits = a.to_bits();
    IPV4.iter().find(|r| prefix_matches(u128::from(bits), u128::from(r.net.to_bits()), r.len, 32)).map(|r| r.denied)
}

fn denied_v6(a: Ipv6Addr) -> Option<Denied> {
    // IPv4-mapped: a dual-stack socket connects to the IPv4 address it carries.
    if let Some(v4) = a.to_ipv4_mapped() {
        return denied_v4(v4);
    }
    let bits = a.to_bits();
    if let Some(r) = IPV6.iter().find(|r| prefix_matches(bits, r.net.to_bits(), r.len, 128)) {
        return Some(r.denied);
    }
    // Only 2000::/3 is allocated for global unicast.
    (bits >> 125 != 0b001).then_some(NOT_GLOBAL_UNICAST)
}

/// Whether the first `len` of `width` bits of `a` and `net` agree.
fn prefix_matches(a: u128, net: u128, len: u32, width: u32) -> bool {
    let shift = width - len;
    len == 0 || (a >> shift) == (net >> shift)
}

/// Whether `host` is a name of this host: `localhost` and every name under it (RFC 6761 §6.3),
/// with or without the trailing dot of a fully qualified name, in any case.
pub fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h.is_empty() || h == "localhost" || h.ends_with(".localhost")
}

/// Where webhooks may point: `https` to a public address or a name that is not this host's; with
/// `allow_private` (an operator's lab) also `http` and any address. Names are not resolved here:
/// every delivery checks the addresses a name resolves to.
pub fn check_webhook_url(url: &str, allow_private: bool) -> Result<()> {
    let parsed = Url::parse(url).map_err(|e| Error::Invalid(format!("url: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        s => return Err(Error::Invalid(format!("url: scheme {s} is not allowed (use https)"))),
    }
    let refused = match parsed.host() {
        None => Some("it has no host".to_string()),
        Some(_) if allow_private => None,
        Some(Host::Ipv4(a)) => denied(IpAddr::V4(a)).map(|d| format!("{a} is not a public address ({d})")),
        Some(Host::Ipv6(a)) => denied(IpAddr::V6(a)).map(|d| format!("{a} is not a public address ({d})")),
        Some(Host::Domain(d)) => is_local_name(d).then(|| format!("{d} names this host")),
    };
    match refused {
        Some(why) => Err(Error::Invalid(format!("url: {why}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ip: &str) -> Option<&'static str> {
        denied(ip.parse().unwrap()).map(|d| d.block)
    }

    #[test]
    fn every_ipv4_registry_block_is_denied_at_both_ends() {
        for (first, last, want) in [
            ("0.0.0.0", "0.255.255.255", "0.0.0.0/8"),
            ("10.0.0.0", "10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.0", "100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.0", "127.255.255.255", "127.0.0.0/8"),
            ("169.254.0.0", "169.254.255.255", "169.254.0.0/16"),
            ("172.16.0.0", "172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.0", "192.0.0.255", "192.0.0.0/24"),
            ("192.0.2.0", "192.0.2.255", "192.0.2.0/24"),
            ("192.31.196.0", "192.31.196.255", "192.31.196.0/24"),
            ("192.52.193.0", "192.52.193.255", "192.52.193.0/24"),
            ("192.88.99.0", "192.88.99.255", "192.88.99.0/24"),
            ("192.168.0.0", "192.168.255.255", "192.168.0.0/16"),
            ("192.175.48.0", "192.175.48.255", "192.175.48.0/24"),
            ("198.18.0.0", "198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.0", "198.51.100.255", "198.51.100.0/24"),
            ("203.0.113.0", "203.0.113.255", "203.0.113.0/24"),
            ("224.0.0.0", "239.255.255.255", "224.0.0.0/4"),
            ("240.0.0.0", "255.255.255.254", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255", "255.255.255.255/32"),
        ] {
            assert_eq!(block(first), Some(want), "{first}");
            assert_eq!(block(last), Some(want), "{last}");
        }
    }

    #[test]
    fn ipv4_neighbours_of_the_blocks_are_public() {
        for ip in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "8.8.8.8",
        ] {
            assert_eq!(block(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_ipv6_registry_block_is_denied() {
        for (ip, want) in [
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::2", "::/96"),
            ("fe80::1", "fe80::/10"),
            ("febf:ffff::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("fc00::1", "fc00::/7"),
            ("fdff:ffff::1", "fc00::/7"),
            ("ff02::1", "ff00::/8"),
            ("ff0e::1", "ff00::/8"),
            ("64:ff9b::1.2.3.4", "64:ff9b::/96"),
            ("64:ff9b::7f00:1", "64:ff9b::/96"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("64:ff9b:1:ffff::1", "64:ff9b:1::/48"),
            ("100::1", "100::/64"),
            ("100:0:0:1::1", "100:0:0:1::/64"),
            ("2001::1", "2001::/32"),
            ("2001:0:4136:e378::1", "2001::/32"),
            ("2001:1::1", "2001::/23"),
            ("2001:2::1", "2001::/23"),
            ("2001:3::1", "2001::/23"),
            ("2001:4:112::1", "2001::/23"),
            ("2001:20::1", "2001::/23"),
            ("2001:1ff:ffff::1", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("2001:db8:ffff::1", "2001:db8::/32"),
            ("2002::1", "2002::/16"),
            ("2002:808:808::1", "2002::/16"),
            ("2620:4f:8000::1", "2620:4f:8000::/48"),
            ("3fff::1", "3fff::/20"),
            ("3fff:fff::1", "3fff::/20"),
            ("5f00::1", "5f00::/16"),
            // Outside 2000::/3: nothing there is global unicast.
            ("4000::1", "outside 2000::/3"),
            ("1::1", "outside 2000::/3"),
            ("e000::1", "outside 2000::/3"),
        ] {
            assert_eq!(block(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn ipv6_global_unicast_outside_the_blocks_is_public() {
        for ip in ["2a00:1450:4001:80e::200e", "2001:200::1", "2001:dc8::1", "2003::1", "2620:4f:8001::1", "3ffe::1"] {
            assert_eq!(block(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_judged_by_the_ipv4_they_carry() {
        assert_eq!(block("::ffff:127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(block("::ffff:a9fe:a9fe"), Some("169.254.0.0/16"));
        assert_eq!(block("::ffff:10.1.2.3"), Some("10.0.0.0/8"));
        assert_eq!(block("::ffff:0.0.0.0"), Some("0.0.0.0/8"));
        assert_eq!(block("::ffff:8.8.8.8"), None, "a mapped public address is that public address");
    }

    #[test]
    fn ipv4_compatible_addresses_are_denied_whatever_they_carry() {
        assert_eq!(block("::127.0.0.1"), Some("::/96"));
        assert_eq!(block("::169.254.169.254"), Some("::/96"));
        assert_eq!(block("::8.8.8.8"), Some("::/96"));
    }

    #[test]
    fn names_of_this_host() {
        for name in ["localhost", "localhost.", "LocalHost", "a.localhost", "a.b.localhost.", "", "."] {
            assert!(is_local_name(name), "{name:?}");
        }
        for name in ["localhost.example.com", "notlocalhost", "hooks.example.com", "127.0.0.1.nip.io"] {
            assert!(!is_local_name(name), "{name:?}");
        }
    }

    #[test]
    fn webhook_targets() {
        assert!(check_webhook_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_webhook_url("https://8.8.8.8/x", false).is_ok());
        assert!(check_webhook_url("https://[2a00:1450:4001:80e::200e]/x", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://127.0.0.1./x",
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://10.1.2.3/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[::127.0.0.1]/",
            "https://[fe80::1]/",
            "https://[64:ff9b::7f00:1]/",
            "https://100.64.0.1/",
            "https://198.18.0.1/",
            "https://255.255.255.255/",
            "https://224.0.0.251/",
            "https://[ff02::fb]/",
            "https://localhost/",
            "https://localhost./",
            "https://x.localhost/",
            "file:///etc/passwd",
            "ftp://example.com/",
            "nonsense",
        ] {
            assert!(matches!(check_webhook_url(bad, false), Err(Error::Invalid(_))), "{bad}");
        }
        assert!(check_webhook_url("http://127.0.0.1:9000/x", true).is_ok());
        assert!(check_webhook_url("http://[::1]:9000/x", true).is_ok());
        assert!(check_webhook_url("ftp://example.com/", true).is_err());
    }

    #[test]
    fn refusals_name_the_block() {
        let Err(Error::Invalid(why)) = check_webhook_url("https://[::ffff:a9fe:a9fe]/", false) else {
            panic!("refused")
        };
        assert!(why.contains("169.254.0.0/16"), "{why}");
    }
}
