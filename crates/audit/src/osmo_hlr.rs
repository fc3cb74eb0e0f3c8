//! The osmo-hlr database importer: the authentication data of every subscriber (`auc_2g`, `auc_3g`), read
//! without changing the database or its directory ([`crate::foreign::open_sqlite`]).
//!
//! Algorithm numbers are libosmocore's `enum osmo_auth_algo` (1.7 in Debian 12 knows 0-5; later versions
//! add 6 and 7): 0 none, 1-3 COMP128v1-v3, 4 XOR-3G (called plain XOR before XOR-2G existed),
//! 5 MILENAGE, 6 XOR-2G, 7 TUAK. Findings are grouped per check *and* per algorithm and table, so each
//! names exactly the subscribers it is about; a subscriber with neither an `auc_2g` nor an `auc_3g` row
//! has no authentication data at all and is reported as such. Keys are read only for their length.

use std::collections::BTreeMap;
use std::path::Path;

use crate::foreign::{self, osmocom_algorithm};
use crate::model::AuthAlgorithm;
use crate::report::{Location, Report};
use crate::AuditError;

/// The libosmocore name of an `enum osmo_auth_algo` value.
pub fn algorithm_name(id: i64) -> String {
    match id {
        0 => "none".into(),
        1 => "COMP128v1".into(),
        2 => "COMP128v2".into(),
        3 => "COMP128v3".into(),
        4 => "XOR-3G".into(),
        5 => "MILENAGE".into(),
        6 => "XOR-2G".into(),
        7 => "TUAK".into(),
        n => format!("algorithm {n}"),
    }
}

/// Subscribers per (check, what, location path), raised as one finding each.
#[derive(Default)]
struct Groups(BTreeMap<(&'static str, String, String), Vec<String>>);

impl Groups {
    fn add(&mut self, id: &'static str, what: String, path: &str, imsi: &str) {
        self.0.entry((id, what, path.to_string())).or_default().push(imsi.to_string());
    }
}

fn key_bits(hex: &str) -> usize {
    hex.trim().len() * 4
}

/// Reads an osmo-hlr database (read-only).
pub async fn osmo_hlr(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let file = path.display().to_string();
    report.input("osmo-hlr", &file);
    let read = foreign::osmo_hlr_read(path).await?;
    if read.wal_bytes > 0 {
        report.note(format!(
            "{file}: its write-ahead log ({} bytes, not yet checkpointed) was read from a private copy, so rows \
             written since the last checkpoint are included; the database directory was not changed",
            read.wal_bytes
        ));
    }
    let bad = |imsi: &str, table: &str, e: String| AuditError::Import {
        origin: file.clone(),
        message: format!("IMSI {imsi}: {table}: {e}"),
    };
    let mut groups = Groups::default();
    for r in &read.subscribers {
        let imsi = r.imsi.as_str();
        let a2 = r.algo_2g.filter(|a| *a != 0);
        let a3 = r.algo_3g.filter(|a| *a != 0);
        if a2.is_none() && a3.is_none() {
            groups.add(
                "WA-ALG-061",
                " without any authentication data (no auc_2g or auc_3g row)".into(),
                "auc_2g, auc_3g",
                imsi,
            );
            continue;
        }
        for (gen, table, id, key, key_name) in
            [("2G", "auc_2g", a2, r.ki.as_deref(), "Ki"), ("3G", "auc_3g", a3, r.k.as_deref(), "K")]
        {
            let Some(id) = id else { continue };
            let alg = osmocom_algorithm(id).map_err(|e| bad(imsi, table, e))?;
            let column = format!("{table}.algo_id_{}", gen.to_lowercase());
            let what = format!(" with {gen} algorithm {} ({column} = {id})", algorithm_name(id));
            if alg.is_comp128() {
                groups.add("WA-ALG-030", what, &column, imsi);
            } else if alg == AuthAlgorithm::Xor {
                groups.add("WA-ALG-031", what, &column, imsi);
            }
            if key.is_some_and(|k| key_bits(k) < 128) {
                groups.add(
                    "WA-ALG-033",
                    format!(" with a {gen} {key_name} shorter than 128 bits"),
                    &format!("{table}.{}", key_name.to_lowercase()),
                    imsi,
                );
            }
        }
        match a3 {
            None => groups.add("WA-ALG-032", " with 2G authentication only (no auc_3g row)".into(), "auc_3g", imsi),
            Some(5) if r.opc.is_none() && r.op.is_some() => {
                groups.add("WA-ALG-034", " with MILENAGE OP stored instead of OPc".into(), "auc_3g.op", imsi)
            }
            Some(_) => {}
        }
    }
    for ((id, what, path), who) in groups.0 {
        let detail = format!("{} subscriber(s){what}: {}", who.len(), crate::key_hygiene::imsi_list(&who));
        report.raise(id, "osmo-hlr", Location { file: Some(file.clone()), line: None, path }, detail);
    }
    crate::key_hygiene::examine(read.subscribers.iter().map(|r| crate::key_hygiene::KeyRecord {
        imsi: &r.imsi,
        k: r.k.as_deref(),
        ki: r.ki.as_deref(),
        opc: r.opc.as_deref(),
        op: r.op.as_deref(),
    }))
    .raise(report, "osmo-hlr", &file, "auc_3g.k", "auc_3g.opc");
    Ok(())
}
