//! Importers: read the configuration or subscriber data of open-source cores and raise the same checks
//! as the description, located in the file they came from.
//!
//! - Open5GS YAML: see [`crate::open5gs`] (re-exported here).
//! - Osmocom: VTY configurations of OsmoBSC, OsmoMSC, osmo-sgsn and osmo-hlr ([`crate::osmo_cfg`], with
//!   the program defaults of absent settings) and the osmo-hlr database ([`crate::osmo_hlr`], with the
//!   [`crate::key_hygiene`] of its keys); re-exported here as [`osmo_vty`] and [`osmo_hlr`].
//! - PyHSS subscriber data and `config.yaml`: see [`crate::pyhss`] (re-exported here).
//!
//! Keys are read for their length and compared in memory (key hygiene); they are never reported.

use std::collections::BTreeMap;

use crate::report::{Location, Report};

pub use crate::open5gs::{open5gs, Open5gs};
pub use crate::osmo_cfg::{osmo_vty, Osmo};
pub use crate::osmo_hlr::osmo_hlr;
pub use crate::pyhss::pyhss;

/// Per-check lists of subscribers, raised as one finding per check.
#[derive(Default)]
pub(crate) struct Subscribers(BTreeMap<&'static str, (String, Vec<String>)>);

impl Subscribers {
    pub(crate) fn add(&mut self, id: &'static str, path: &str, who: &str) {
        self.0.entry(id).or_insert_with(|| (path.to_string(), Vec::new())).1.push(who.to_string());
    }

    pub(crate) fn raise(self, report: &mut Report, source: &str, file: &str, what: &BTreeMap<&'static str, String>) {
        for (id, (path, who)) in self.0 {
            let why = what.get(id).map(String::as_str).unwrap_or("");
            let detail = format!("{} subscriber(s){why}: {}", who.len(), crate::key_hygiene::imsi_list(&who));
            report.raise(id, source, Location { file: Some(file.to_string()), line: None, path }, detail);
        }
    }
}
