//! The Osmocom importers on the configurations Debian 12 ships (OsmoBSC/OsmoMSC/osmo-sgsn 1.9.0,
//! osmo-hlr 1.5.0; tests/data/osmocom, origins in tests/data/README.md), on variants derived from them,
//! and on databases built with osmo-hlr's own schema and sample data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use audit::import::{self, Osmo};
use audit::{Finding, Report};
use sqlx::{ConnectOptions, Connection};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/osmocom").join(name)
}

fn set(ids: &[&'static str]) -> BTreeSet<&'static str> {
    ids.iter().copied().collect()
}

fn audit_cfg(name: &str, kind: Osmo) -> Report {
    let mut r = Report::new();
    import::osmo_vty(&data(name), kind, &mut r).unwrap_or_else(|e| panic!("{name}: {e}"));
    r
}

fn find<'a>(r: &'a Report, id: &str) -> &'a Finding {
    r.findings.iter().find(|f| f.check.id == id).unwrap_or_else(|| panic!("{id} not raised: {:#?}", r.findings))
}

/// The text of the line a finding points at.
fn line_of(name: &str, f: &Finding) -> String {
    let text = std::fs::read_to_string(data(name)).unwrap();
    text.lines().nth(f.location.line.expect("a line") as usize - 1).unwrap().to_string()
}

#[test]
fn debian_osmo_bsc_cfg_offers_only_a5_0() {
    let r = audit_cfg("debian-etc-osmo-bsc.cfg", Osmo::Bsc);
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-004"]));
    assert!(r.findings.iter().all(|f| f.location.line == Some(9) && f.source == "osmo-bsc"));
    assert!(r.notes.is_empty());
}

#[test]
fn a_column_0_comment_inside_network_keeps_the_node_open() {
    let name = "variant-bsc-comment-column0.cfg";
    let r = audit_cfg(name, Osmo::Bsc);
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-004"]), "{:?}", r.notes);
    assert_eq!(line_of(name, find(&r, "WA-ALG-001")), " encryption a5 0");
}

#[test]
fn two_space_indentation_is_read_like_one_space() {
    let name = "variant-bsc-two-space.cfg";
    let r = audit_cfg(name, Osmo::Bsc);
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-004"]), "{:?}", r.notes);
    assert_eq!(line_of(name, find(&r, "WA-ALG-001")), "  encryption a5 0");
}

#[test]
fn bsc_without_an_a5_line_is_audited_at_the_osmobsc_default() {
    let r = audit_cfg("variant-bsc-no-a5.cfg", Osmo::Bsc);
    // OsmoBSC 1.9 (net_init.c): A5/1 and A5/3.
    assert_eq!(r.ids(), set(&["WA-ALG-002"]));
    let f = find(&r, "WA-ALG-002");
    assert!(f.detail.contains("[A5/1, A5/3]") && f.detail.contains("implicit"), "{}", f.detail);
    assert_eq!(f.location.path, "network.encryption a5 (default)");
    assert_eq!(line_of("variant-bsc-no-a5.cfg", f), "network");
    // The minimal example Debian ships has no encryption line either.
    assert_eq!(audit_cfg("osmo-bsc-minimal.cfg", Osmo::Bsc).ids(), set(&["WA-ALG-002"]));
}

#[test]
fn debian_osmo_msc_cfg_neither_authenticates_nor_ciphers_2g() {
    // /etc/osmocom/osmo-msc.cfg: `#` comments, a blank line, `encryption a5 0`, no `authentication`.
    let name = "debian-etc-osmo-msc.cfg";
    let r = audit_cfg(name, Osmo::Msc);
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-004", "WA-ALG-009"]));
    let auth = find(&r, "WA-ALG-009");
    assert_eq!(auth.check.severity, audit::Severity::Critical);
    assert!(auth.detail.contains("neither authenticated nor ciphered") && auth.detail.contains("implicit"));
    assert_eq!(line_of(name, find(&r, "WA-ALG-001")), " encryption a5 0");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    // The example under /usr/share/doc says the same.
    assert_eq!(audit_cfg("osmo-msc.cfg", Osmo::Msc).ids(), set(&["WA-ALG-001", "WA-ALG-004", "WA-ALG-009"]));
}

#[test]
fn msc_defaults_and_a_hardened_msc() {
    // No encryption line: A5/1+A5/3 by default, so authentication happens only because ciphering needs it.
    let r = audit_cfg("variant-msc-no-encryption.cfg", Osmo::Msc);
    assert_eq!(r.ids(), set(&["WA-ALG-002", "WA-ALG-060"]));
    assert!(find(&r, "WA-ALG-060").detail.contains("implicit"));
    let r = audit_cfg("variant-msc-hardened.cfg", Osmo::Msc);
    assert_eq!(r.ids(), set(&["WA-ALG-002"]), "A5/1 stays a finding: {:?}", r.findings);
}

#[test]
fn osmo_sgsn_policies_and_ciphering() {
    // Debian's default: remote + required, but no GEA line (GEA0 only) and no UEA line (UEA0 only in 1.9).
    let r = audit_cfg("debian-etc-osmo-sgsn.cfg", Osmo::Sgsn);
    assert_eq!(r.ids(), set(&["WA-ALG-005", "WA-ALG-010"]));
    assert!(find(&r, "WA-ALG-005").detail.contains("implicit"));
    assert!(find(&r, "WA-ALG-010").detail.contains("unverified"));
    assert_eq!(audit_cfg("osmo-sgsn_custom-sccp.cfg", Osmo::Sgsn).ids(), r.ids());

    let name = "osmo-sgsn-accept-all.cfg";
    let r = audit_cfg(name, Osmo::Sgsn);
    assert_eq!(r.ids(), set(&["WA-ALG-005", "WA-ALG-009", "WA-ALG-010", "WA-ALG-062"]));
    assert_eq!(line_of(name, find(&r, "WA-ALG-062")), " auth-policy accept-all");

    // `authentication optional` under `auth-policy remote`; the deprecated `encryption GEA3` adds to GEA0.
    let name = "variant-sgsn-remote-optional.cfg";
    let r = audit_cfg(name, Osmo::Sgsn);
    assert_eq!(r.ids(), set(&["WA-ALG-005", "WA-ALG-009", "WA-ALG-010"]));
    assert_eq!(line_of(name, find(&r, "WA-ALG-009")), " authentication optional");
    assert!(find(&r, "WA-ALG-005").detail.contains("[GEA0, GEA3]"));

    assert!(audit_cfg("variant-sgsn-hardened.cfg", Osmo::Sgsn).findings.is_empty());
}

#[test]
fn osmo_hlr_gsup_bind_address() {
    assert!(audit_cfg("debian-etc-osmo-hlr.cfg", Osmo::Hlr).findings.is_empty());
    let name = "osmo-hlr-dgsm.cfg";
    let r = audit_cfg(name, Osmo::Hlr);
    assert_eq!(r.ids(), set(&["WA-NET-060"]));
    assert_eq!(line_of(name, find(&r, "WA-NET-060")), "  bind ip 10.9.8.7");
    // No `bind ip`: osmo-hlr passes no address to the socket, so GSUP listens on every interface.
    let r = audit_cfg("variant-hlr-no-gsup-bind.cfg", Osmo::Hlr);
    let f = find(&r, "WA-NET-060");
    assert!(f.detail.contains("every interface") && f.detail.contains("implicit"), "{}", f.detail);
}

#[test]
fn bad_osmocom_input_is_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("x.cfg");
    let err = |text: &str, kind: Osmo| {
        std::fs::write(&cfg, text).unwrap();
        import::osmo_vty(&cfg, kind, &mut Report::new()).unwrap_err().to_string()
    };
    let e = err("network\n  encryption a5 3\n encryption a5 0\n", Osmo::Bsc);
    assert!(e.contains("line 3") && e.contains("between two levels"), "{e}");
    let e = err("sgsn\n auth-policy open\n", Osmo::Sgsn);
    assert!(e.contains("line 2") && e.contains("accept-all|closed|acl-only|remote"), "{e}");
    let e = err("sgsn\n encryption gea 0 9\n", Osmo::Sgsn);
    assert!(e.contains("line 2") && e.contains("\"9\""), "{e}");
    let e = err("hlr\n gsup\n  bind ip hlr.example\n", Osmo::Hlr);
    assert!(e.contains("line 3") && e.contains("IPv4"), "{e}");
    let e = err("network\n encryption a5 0\n", Osmo::Sgsn);
    assert!(e.contains("no `sgsn` node"), "{e}");
}

/// Creates an osmo-hlr database with osmo-hlr 1.5's schema and sample data (tests/data/osmocom), plus `sql`.
async fn hlr_db(path: &Path, sql: &str) -> sqlx::SqliteConnection {
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).connect().await.unwrap();
    for f in ["hlr.sql", "hlr_data.sql"] {
        sqlx::raw_sql(&std::fs::read_to_string(data(f)).unwrap()).execute(&mut conn).await.unwrap();
    }
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn
}

const MORE_SUBSCRIBERS: &str = "
    INSERT INTO subscriber (id, imsi) VALUES (4, '901990000000004'), (5, '901990000000005'),
        (6, '901990000000006'), (7, '901990000000007'), (8, '901990000000008');
    -- 4: 3G XOR (libosmocore 4), 5: 2G XOR (6), 6: COMP128v3 (3), 7: no authentication data,
    -- 8: MILENAGE with OP.
    INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, opc) VALUES (4, 4, '000102030405060708090a0b0c0d0e0f', NULL);
    INSERT INTO auc_2g (subscriber_id, algo_id_2g, ki) VALUES (5, 6, '0001020304050607');
    INSERT INTO auc_2g (subscriber_id, algo_id_2g, ki) VALUES (6, 3, '000102030405060708090a0b0c0d0e0f');
    INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, op) VALUES (8, 5, '000102030405060708090a0b0c0d0e0f',
        '101112131415161718191a1b1c1d1e1f');";

#[tokio::test]
async fn osmo_hlr_findings_name_their_own_subscribers_and_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hlr.db");
    drop(hlr_db(&db, MORE_SUBSCRIBERS).await);
    let mut r = Report::new();
    import::osmo_hlr(&db, &mut r).await.unwrap();
    let details: Vec<(&str, &str)> = r.findings.iter().map(|f| (f.check.id, f.detail.as_str())).collect();
    let only = |id: &str, needle: &str| -> &str {
        let hits: Vec<&str> = details.iter().filter(|(i, d)| *i == id && d.contains(needle)).map(|x| x.1).collect();
        assert_eq!(hits.len(), 1, "{id} {needle}: {details:#?}");
        hits[0]
    };
    // COMP128v1: subscribers 1 and 3 of osmo-hlr's sample data; COMP128v3 separately.
    let v1 = only("WA-ALG-030", "COMP128v1");
    assert!(v1.starts_with("2 subscriber(s) with 2G algorithm COMP128v1"), "{v1}");
    assert!(v1.contains("901990000000001") && v1.contains("901990000000003") && !v1.contains("901990000000006"));
    let v3 = only("WA-ALG-030", "COMP128v3");
    assert!(v3.contains("901990000000006") && !v3.contains("901990000000001"), "{v3}");
    // XOR: the 3G one is XOR-3G, the 2G one XOR-2G, each with its own subscriber.
    let x3 = only("WA-ALG-031", "XOR-3G");
    assert!(x3.contains("3G algorithm XOR-3G (auc_3g.algo_id_3g = 4)") && x3.contains("901990000000004"), "{x3}");
    assert!(!x3.contains("901990000000005"));
    let x2 = only("WA-ALG-031", "XOR-2G");
    assert!(x2.contains("2G algorithm XOR-2G") && x2.contains("901990000000005") && !x2.contains("901990000000004"));
    // No authentication data is not "2G only".
    let none = only("WA-ALG-061", "901990000000007");
    assert!(none.contains("without any authentication data"), "{none}");
    let two_g = only("WA-ALG-032", "2G authentication only");
    assert!(
        !two_g.contains("901990000000007") && two_g.contains("901990000000001") && two_g.contains("901990000000005")
    );
    assert!(!two_g.contains("901990000000003"), "subscriber 3 has MILENAGE: {two_g}");
    assert!(only("WA-ALG-033", "Ki").contains("901990000000005"));
    assert!(only("WA-ALG-034", "OP").contains("901990000000008"));
    assert!(r.findings.iter().all(|f| !f.detail.contains("000102030405")), "no key is reported");
}

fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_wal_mode_database_is_read_without_changing_its_directory() {
    // Checkpointed and closed: only hlr.db is left; the audit must not create -wal/-shm beside it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hlr.db");
    let mut conn = hlr_db(&db, "PRAGMA journal_mode = WAL;").await;
    sqlx::raw_sql("INSERT INTO subscriber (id, imsi) VALUES (9, '901990000000009');").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let before = listing(dir.path());
    assert_eq!(before.len(), 1, "{before:?}");
    let mut r = Report::new();
    import::osmo_hlr(&db, &mut r).await.unwrap();
    assert!(find(&r, "WA-ALG-061").detail.contains("901990000000009"));
    assert_eq!(listing(dir.path()), before);

    // Live, with rows only in the un-checkpointed write-ahead log: they are read, nothing changes.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hlr.db");
    let mut live = hlr_db(&db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;").await;
    sqlx::raw_sql("INSERT INTO subscriber (id, imsi) VALUES (9, '901990000000009');").execute(&mut live).await.unwrap();
    let before = listing(dir.path());
    assert!(before.iter().any(|(n, len)| n == "hlr.db-wal" && *len > 0), "{before:?}");
    let mut r = Report::new();
    import::osmo_hlr(&db, &mut r).await.unwrap();
    assert!(find(&r, "WA-ALG-061").detail.contains("901990000000009"), "the WAL's row was missed");
    assert!(r.notes.iter().any(|n| n.contains("write-ahead log")), "{:?}", r.notes);
    assert_eq!(listing(dir.path()), before);
    live.close().await.unwrap();
}
