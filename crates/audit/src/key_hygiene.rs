//! Key hygiene of imported subscriber data (osmo-hlr, PyHSS, Open5GS): the same K on several IMSIs, the
//! same OPc over different keys, published test keys, K = OPc, and a source with no subscriber at all.
//!
//! Keys are compared in memory as the normalised hex text the source holds; what comes out names IMSIs,
//! counts and the public source of a well-known value, never a key.
//!
//! Why an equal OPc is judged only over different keys: OPc = AES_K(OP) ⊕ OP, so SIMs that share the
//! operator's OP (the normal case) still get different OPc values when their keys differ. An OPc equal
//! over different keys was therefore not derived from them (a placeholder, or OP stored as OPc). An
//! equal OPc over equal keys is only the consequence of the shared K, reported as such.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::{Location, Report};

/// Published test values: (hex, where it is published). K, OPc and OP values alike: a published value
/// is as bad in any role.
pub const WELL_KNOWN: &[(&str, &str)] = &[
    // 3GPP TS 35.208 (MILENAGE design conformance test data), §4.3: K of test sets 1-20.
    ("465b5ce8b199b49faa5f0a2ee238a6bc", "the K of 3GPP TS 35.208 test set 1 (also Open5GS's test subscriber)"),
    ("0396eb317b6d1c36f19c1c84cd6ffd16", "the K of 3GPP TS 35.208 test set 2"),
    ("fec86ba6eb707ed08905757b1bb44b8f", "the K of 3GPP TS 35.208 test set 3"),
    ("9e5944aea94b81165c82fbf9f32db751", "the K of 3GPP TS 35.208 test set 4"),
    ("4ab1deb05ca6ceb051fc98e77d026a84", "the K of 3GPP TS 35.208 test set 5"),
    ("6c38a116ac280c454f59332ee35c8c4f", "the K of 3GPP TS 35.208 test set 6"),
    ("523ace48994925ca0495efd50c7c71e2", "the K of 3GPP TS 35.208 test set 7"),
    ("e4aee4faeeb2f93d43604f5f2e65ff25", "the K of 3GPP TS 35.208 test set 8"),
    ("b2c211ec004d0323022e49ccd363c8ff", "the K of 3GPP TS 35.208 test set 9"),
    ("443c5a6759e04dc2c9c6e465823dd5b6", "the K of 3GPP TS 35.208 test set 10"),
    ("23e5c9b18034df6421f22972c3bd2d93", "the K of 3GPP TS 35.208 test set 11"),
    ("d6856512fd11bf4f91781e3b1ea9d8de", "the K of 3GPP TS 35.208 test set 12"),
    ("e5e436d4593ef7cba221cd071ccadfdf", "the K of 3GPP TS 35.208 test set 13"),
    ("d9c9453e1b858f22dab53e2044e849de", "the K of 3GPP TS 35.208 test set 14"),
    ("38fe9997cbac8d9ac4fc78cc1fcb1e22", "the K of 3GPP TS 35.208 test set 15"),
    ("8d493a28f17cfb7de5be8354333a66f4", "the K of 3GPP TS 35.208 test set 16"),
    ("5d73313916bde011c7c267000bfe2a9c", "the K of 3GPP TS 35.208 test set 17"),
    ("32448511c137459ff1d12c172cdf7262", "the K of 3GPP TS 35.208 test set 18"),
    ("93833efa7bb1316eebb3dbe320a5448d", "the K of 3GPP TS 35.208 test set 19"),
    ("09fa653acbf5acc83e307caa6e18aa67", "the K of 3GPP TS 35.208 test set 20"),
    // TS 35.208 test sets 1-6: OP and OPc (checked against MILENAGE in the tests).
    ("cdc202d5123e20f62b6d676ac72cb318", "the OP of 3GPP TS 35.208 test set 1"),
    ("cd63cb71954a9f4e48a5994e37a02baf", "the OPc of 3GPP TS 35.208 test set 1"),
    ("ff53bade17df5d4e793073ce9d7579fa", "the OP of 3GPP TS 35.208 test set 2"),
    ("53c15671c60a4b731c55b4a441c0bde2", "the OPc of 3GPP TS 35.208 test set 2"),
    ("dbc59adcb6f9a0ef735477b7fadf8374", "the OP of 3GPP TS 35.208 test set 3"),
    ("1006020f0a478bf6b699f15c062e42b3", "the OPc of 3GPP TS 35.208 test set 3"),
    ("223014c5806694c007ca1eeef57f004f", "the OP of 3GPP TS 35.208 test set 4"),
    ("a64a507ae1a2a98bb88eb4210135dc87", "the OPc of 3GPP TS 35.208 test set 4"),
    ("2d16c5cd1fdf6b22383584e3bef2a8d8", "the OP of 3GPP TS 35.208 test set 5"),
    ("dcf07cbd51855290b92a07a9891e523e", "the OPc of 3GPP TS 35.208 test set 5"),
    ("1ba00a1a7c6700ac8c3ff3e96ad08725", "the OP of 3GPP TS 35.208 test set 6"),
    ("3803ef5363b947c6aaa225e58fae3934", "the OPc of 3GPP TS 35.208 test set 6"),
    // Open5GS's test subscriber (tests/attach/auth-test.c and others: K of test set 1 with this OPc).
    ("e8ed289deba952e4283b54e88e6183ca", "the OPc of Open5GS's test subscriber"),
    // PyHSS's test fixture (tests/conftest.py).
    ("3c6e0b8a9c15224a8228b9a98ca1531d", "the K of PyHSS's test fixture"),
    ("762a2206fe0b4151ace403c86a11e479", "the OPc of PyHSS's test fixture"),
    // Sequential example keys of Osmocom test programs and tutorials.
    ("000102030405060708090a0b0c0d0e0f", "the sequential example key of Osmocom tests and tutorials"),
    ("00112233445566778899aabbccddeeff", "a sequential example key"),
    ("0123456789abcdef0123456789abcdef", "a sequential example key"),
];

/// The public source of a well-known key value, or `None`. A value made of one repeated byte
/// (all zeros, all `ff`, …) counts as well-known too.
pub fn well_known(hex: &str) -> Option<&'static str> {
    let v = normalise(hex)?;
    if let Some((_, what)) = WELL_KNOWN.iter().find(|(k, _)| *k == v) {
        return Some(what);
    }
    let b = v.as_bytes();
    (b.len() >= 8 && b.len() % 2 == 0 && b.chunks(2).all(|c| c == &b[..2]))
        .then_some("a trivial key (one repeated byte)")
}

fn normalise(hex: &str) -> Option<String> {
    let t = hex.trim();
    (!t.is_empty()).then(|| t.to_ascii_lowercase())
}

/// The key fields of one subscriber, as hex text (absent or empty: none).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyRecord<'a> {
    /// IMSI.
    pub imsi: &'a str,
    /// K (MILENAGE/TUAK).
    pub k: Option<&'a str>,
    /// The 2G Ki, when the source keeps it apart from K (osmo-hlr `auc_2g.ki`).
    pub ki: Option<&'a str>,
    /// OPc.
    pub opc: Option<&'a str>,
    /// OP.
    pub op: Option<&'a str>,
}

/// What [`examine`] found: IMSIs and public sources, never keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hygiene {
    /// Subscribers examined.
    pub subscribers: usize,
    /// Groups of IMSIs that share one K (or Ki).
    pub shared_k: Vec<Vec<String>>,
    /// Groups of IMSIs that share one OPc while their keys differ.
    pub shared_opc: Vec<Vec<String>>,
    /// (IMSI, what is well-known: "K is the K of 3GPP TS 35.208 test set 1").
    pub well_known: Vec<(String, String)>,
    /// IMSIs whose K (or Ki) equals their OPc.
    pub k_is_opc: Vec<String>,
}

/// Compares the keys of all records in memory.
pub fn examine<'a>(records: impl IntoIterator<Item = KeyRecord<'a>>) -> Hygiene {
    let mut h = Hygiene::default();
    let mut by_k: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut by_opc: BTreeMap<String, Vec<(&str, Option<String>)>> = BTreeMap::new();
    for r in records {
        h.subscribers += 1;
        let (k, ki, opc, op) =
            (r.k.and_then(normalise), r.ki.and_then(normalise), r.opc.and_then(normalise), r.op.and_then(normalise));
        for key in [&k, &ki].into_iter().flatten() {
            by_k.entry(key.clone()).or_default().insert(r.imsi);
        }
        if let Some(o) = &opc {
            by_opc.entry(o.clone()).or_default().push((r.imsi, k.clone().or_else(|| ki.clone())));
            if [&k, &ki].into_iter().flatten().any(|key| key == o) {
                h.k_is_opc.push(r.imsi.to_string());
            }
        }
        let known: Vec<String> = [("K", &k), ("Ki", &ki), ("OPc", &opc), ("OP", &op)]
            .into_iter()
            .filter_map(|(role, v)| v.as_deref().and_then(well_known).map(|what| format!("{role} is {what}")))
            .collect();
        // A 2G Ki equal to K is one key: say it once.
        let mut known_dedup: Vec<String> = Vec::new();
        for s in known {
            let same_as_k = s.starts_with("Ki ") && ki == k;
            if !same_as_k {
                known_dedup.push(s);
            }
        }
        if !known_dedup.is_empty() {
            h.well_known.push((r.imsi.to_string(), known_dedup.join(", ")));
        }
    }
    h.shared_k =
        by_k.into_values().filter(|g| g.len() > 1).map(|g| g.into_iter().map(str::to_string).collect()).collect();
    for members in by_opc.into_values() {
        let keys: BTreeSet<&Option<String>> = members.iter().map(|(_, k)| k).collect();
        if members.len() > 1 && keys.len() > 1 {
            let mut imsis: Vec<String> = members.iter().map(|(i, _)| i.to_string()).collect();
            imsis.dedup();
            h.shared_opc.push(imsis);
        }
    }
    // In IMSI order, not in key order.
    h.shared_k.sort();
    h.shared_opc.sort();
    h
}

/// "IMSI a, b, c and N more" (at most ten shown).
pub(crate) fn imsi_list<S: AsRef<str>>(who: &[S]) -> String {
    let shown: Vec<&str> = who.iter().take(10).map(AsRef::as_ref).collect();
    let more = if who.len() > 10 { format!(" and {} more", who.len() - 10) } else { String::new() };
    format!("IMSI {}{more}", shown.join(", "))
}

fn groups(gs: &[Vec<String>]) -> String {
    let shown: Vec<String> = gs.iter().take(10).map(|g| format!("[{}]", imsi_list(g))).collect();
    let more = if gs.len() > 10 { format!(" and {} more group(s)", gs.len() - 10) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

impl Hygiene {
    /// True when nothing was found (an empty source is not clean).
    pub fn is_clean(&self) -> bool {
        self.subscribers > 0
            && self.shared_k.is_empty()
            && self.shared_opc.is_empty()
            && self.well_known.is_empty()
            && self.k_is_opc.is_empty()
    }

    /// One line per problem, for `warden sim import-from` (IMSIs only).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !self.well_known.is_empty() {
            let shown: Vec<String> =
                self.well_known.iter().take(10).map(|(imsi, what)| format!("IMSI {imsi} ({what})")).collect();
            let more = if self.well_known.len() > 10 {
                format!(" and {} more", self.well_known.len() - 10)
            } else {
                String::new()
            };
            out.push((
                "WA-ALG-073",
                format!(
                    "{} subscriber(s) with a published test key: {}{more}",
                    self.well_known.len(),
                    shown.join("; ")
                ),
            ));
        }
        if !self.shared_k.is_empty() {
            out.push((
                "WA-ALG-071",
                format!("{} group(s) of subscribers share one K: {}", self.shared_k.len(), groups(&self.shared_k)),
            ));
        }
        if !self.shared_opc.is_empty() {
            out.push((
                "WA-ALG-072",
                format!(
                    "{} group(s) of subscribers share one OPc over different keys: {}",
                    self.shared_opc.len(),
                    groups(&self.shared_opc)
                ),
            ));
        }
        if !self.k_is_opc.is_empty() {
            out.push((
                "WA-ALG-074",
                format!("{} subscriber(s) with K equal to OPc: {}", self.k_is_opc.len(), imsi_list(&self.k_is_opc)),
            ));
        }
        out
    }

    /// Raises the findings in `report`; `k_path`/`opc_path` name the columns (`auc.ki`, `auc.opc`).
    pub fn raise(&self, report: &mut Report, source: &str, file: &str, k_path: &str, opc_path: &str) {
        let at = |path: &str| Location { file: Some(file.to_string()), line: None, path: path.to_string() };
        if self.subscribers == 0 {
            report.raise(
                "WA-ALG-075",
                source,
                at(k_path),
                "no subscriber in the database: nothing was audited (a live SQLite file copied without its -wal \
                 file looks like this)",
            );
        }
        for (id, detail) in self.problems() {
            let path = if id == "WA-ALG-072" { opc_path } else { k_path };
            report.raise(id, source, at(path), detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(imsi: &'a str, k: &'a str, opc: &'a str) -> KeyRecord<'a> {
        KeyRecord { imsi, k: Some(k), opc: Some(opc), ..Default::default() }
    }

    #[test]
    fn finds_each_problem_and_names_no_key() {
        let (k1, k2, k3) = (
            "8f3e1a0c2b4d6e7f8091a2b3c4d5e6f7",
            "1e2d3c4b5a69788796a5b4c3d2e1f0ff",
            "77aa77bb77cc77dd77ee77ff7700a1b2",
        );
        let (o1, o2) = ("a1b2c3d4e5f60718293a4b5c6d7e8f90", "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        let h = examine([
            rec("1", k1, o1),
            rec("2", &k1.to_ascii_uppercase(), o1), // same K (case differs): shared K, OPc equal by consequence
            rec("3", k2, o2),
            rec("4", k3, o2), // same OPc over a different K
            rec("5", "465B5CE8B199B49FAA5F0A2EE238A6BC", "e8ed289deba952e4283b54e88e6183ca"),
            rec("6", k3.trim(), k3), // also shares K with 4
            rec("7", "00000000000000000000000000000000", "1b2c3d4e5f60718293a4b5c6d7e8f901"),
        ]);
        assert_eq!(h.subscribers, 7);
        assert_eq!(h.shared_k, vec![vec!["1".to_string(), "2".into()], vec!["4".into(), "6".into()]]);
        assert_eq!(h.shared_opc, vec![vec!["3".to_string(), "4".into()]]);
        assert_eq!(h.k_is_opc, vec!["6".to_string()]);
        assert_eq!(h.well_known.len(), 2);
        assert!(h.well_known[0].1.contains("test set 1") && h.well_known[0].1.contains("Open5GS"));
        assert!(h.well_known[1].1.contains("one repeated byte"));
        let text = format!("{:?}", h.problems());
        for key in [k1, k2, k3, o1, o2] {
            assert!(!text.to_ascii_lowercase().contains(key), "a key was printed");
        }
        assert!(!h.is_clean());
        assert!(!examine([]).is_clean(), "an empty source is not clean");
        assert!(examine([rec("1", k1, o1), rec("2", k2, o2)]).is_clean());
    }
}
