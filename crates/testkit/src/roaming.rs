//! Two roaming partners for firewall tests: `alpha` in Germany (two MMEs) and `bravo` in France, in
//! front of the home network `00101` with a one-hour velocity window between countries, and the
//! requests they send.

use diameter::{avp, Command};

use crate::s6a::{request, Node};

/// Alpha's first MME (Origin-Host, Origin-Realm).
pub const ALPHA: (&str, &str) = ("mme1.alpha.example", "alpha.example");
/// Alpha's second MME.
pub const ALPHA2: (&str, &str) = ("mme2.alpha.example", "alpha.example");
/// Bravo's MME.
pub const BRAVO: (&str, &str) = ("mme1.bravo.example", "bravo.example");
/// Visited-PLMN-Id of alpha (26201).
pub const GERMANY: [u8; 3] = [0x62, 0xf2, 0x10];
/// Visited-PLMN-Id of bravo (20801).
pub const FRANCE: [u8; 3] = [0x02, 0xf8, 0x10];

/// The firewall configuration (TOML) of the two partners; `extra` follows bravo's table (a key
/// there is bravo's, a `[table]` starts a new section).
pub fn two_partners(extra: &str) -> String {
    format!(
        r#"
        [home]
        realms = ["home.example"]
        plmns = ["00101"]
        imsi_prefixes = ["00101"]
        [velocity]
        min_minutes = 60
        [[partners]]
        name = "alpha"
        origin_hosts = ["{}", "{}"]
        realms = ["alpha.example"]
        plmns = ["26201"]
        [[partners]]
        name = "bravo"
        origin_hosts = ["{}"]
        realms = ["bravo.example"]
        plmns = ["20801"]
        {extra}
        "#,
        ALPHA.0, ALPHA2.0, BRAVO.0
    )
}

/// The partner index of a node in [`two_partners`] (0 alpha, 1 bravo).
pub fn partner_of(from: (&str, &str)) -> usize {
    usize::from(from == BRAVO)
}

/// An encoded request from `from` to the home realm for `imsi`, with Visited-PLMN-Id `plmn`.
pub fn request_bytes(command: Command, from: (&str, &str), imsi: &str, plmn: Option<[u8; 3]>) -> Vec<u8> {
    let mut m = request(command, Node::new(from.0, from.1), "home.example", imsi, "s;1");
    if let Some(p) = plmn {
        m.add(avp::VISITED_PLMN_ID, &p);
    }
    m.encode()
}
