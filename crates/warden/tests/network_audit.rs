//! `warden audit` end to end through the binary: exit codes per worst finding and `--fail-on`, every
//! output format, the importers, live evidence from the store, the loopback-only TLS probe, and the
//! AppKey fingerprint helper.

mod common;

use std::path::{Path, PathBuf};

use common::{warden, workspace};
use serde_json::Value;

fn repo(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(p).display().to_string()
}

fn audit_data(name: &str) -> String {
    repo(&format!("crates/audit/tests/data/{name}"))
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_ids(o: &std::process::Output) -> Vec<String> {
    let doc: Value = serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)));
    doc["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn exit_status_follows_the_worst_finding() {
    let d = workspace("11");
    let weak = repo("examples/network-weak.toml");
    let strong = repo("examples/network-strong.toml");
    let o = warden(d.path(), &["audit", "run", "--description", &weak]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("[CRITICAL] WA-ALG-001") && text.contains("Score per area"), "{text}");
    assert_eq!(code(&warden(d.path(), &["audit", "run", "--description", &weak, "--fail-on", "never"])), 0);
    let o = warden(d.path(), &["audit", "run", "--description", &strong, "--fail-on", "info"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("Findings (worst first)\n  none"));

    // A description whose worst finding is medium: gates at medium (5), passes at the default (high).
    let text = std::fs::read_to_string(&strong).unwrap().replacen("sinkhole = true", "sinkhole = false", 1).replacen(
        "hss_overload_protection = true",
        "hss_overload_protection = false",
        1,
    );
    let medium = d.path().join("medium.toml");
    std::fs::write(&medium, text).unwrap();
    let m = medium.to_str().unwrap();
    assert_eq!(code(&warden(d.path(), &["audit", "run", "--description", m])), 0);
    assert_eq!(code(&warden(d.path(), &["audit", "run", "--description", m, "--fail-on", "medium"])), 5);
    assert_eq!(code(&warden(d.path(), &["audit", "run", "--description", m, "--fail-on", "low"])), 5);
    assert_eq!(code(&warden(d.path(), &["audit", "run", "--description", m, "--fail-on", "critical"])), 0);
}

#[test]
fn bad_input_and_bad_command_lines() {
    let d = workspace("12");
    let bad = d.path().join("bad.toml");
    let text = std::fs::read_to_string(repo("examples/network-strong.toml")).unwrap();
    std::fs::write(&bad, text.replacen("[qos]\n", "[qos]\ntypo = true\n", 1)).unwrap();
    let o = warden(d.path(), &["audit", "run", "--description", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("at `qos.typo`") && stderr(&o).contains("unknown field"), "{}", stderr(&o));
    let o = warden(d.path(), &["audit", "run", "--description", "missing.toml"]);
    assert_eq!(code(&o), 1);
    assert_eq!(code(&warden(d.path(), &["audit", "run"])), 2);
    let strong = repo("examples/network-strong.toml");
    let o = warden(d.path(), &["audit", "run", "--description", &strong, "--fail-on", "severe"]);
    assert_eq!(code(&o), 2);
    let o = warden(d.path(), &["audit", "run", "--description", &strong, "--format", "pdf"]);
    assert_eq!(code(&o), 2);
    // An Osmocom file libosmocore would refuse is refused with its line.
    let cfg = d.path().join("osmo-sgsn.cfg");
    std::fs::write(
        &cfg,
        "sgsn
  auth-policy remote
 authentication required
",
    )
    .unwrap();
    let o = warden(d.path(), &["audit", "run", "--description", &strong, "--osmo-sgsn", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("line 3") && stderr(&o).contains("between two levels"), "{}", stderr(&o));
    // The TLS probe refuses anything but loopback, before reading any input.
    let o = warden(d.path(), &["audit", "run", "--description", "missing.toml", "--probe-tls", "192.0.2.10:443"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("only loopback"), "{}", stderr(&o));
}

#[test]
fn formats_and_output_files() {
    let d = workspace("13");
    let weak = repo("examples/network-weak.toml");
    let sarif = d.path().join("audit.sarif");
    let o = warden(
        d.path(),
        &["audit", "run", "--description", &weak, "--format", "sarif", "--output", sarif.to_str().unwrap()],
    );
    assert_eq!(code(&o), 7);
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("report written to") && stderr(&o).contains("worst critical"), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["runs"][0]["results"].as_array().unwrap().iter().any(|r| r["ruleId"] == "WA-ROAM-001"));

    let html = d.path().join("audit.html");
    let o = warden(
        d.path(),
        &["audit", "run", "--description", &weak, "--format", "html", "--output", html.to_str().unwrap()],
    );
    assert_eq!(code(&o), 7);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && !page.contains("https://") && !page.contains("http://"));

    let o = warden(d.path(), &["audit", "run", "--description", &weak, "--format", "json"]);
    assert!(json_ids(&o).contains(&"WA-SEC-001".to_string()));

    let o = warden(d.path(), &["audit", "checks"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).lines().any(|l| l.starts_with("WA-ALG-013") && l.contains("ALG-3") && l.contains("critical")));
}

#[test]
fn importers_from_the_command_line() {
    let d = workspace("14");
    let strong = repo("examples/network-strong.toml");
    // Build the osmo-hlr database from its SQL with the sqlite3 the store links.
    let hlr = d.path().join("hlr.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut c =
            sqlx::sqlite::SqliteConnectOptions::new().filename(&hlr).create_if_missing(true).connect().await.unwrap();
        sqlx::raw_sql(&std::fs::read_to_string(audit_data("osmo-hlr.sql")).unwrap()).execute(&mut c).await.unwrap();
    });
    let o = warden(
        d.path(),
        &[
            "audit",
            "run",
            "--description",
            &strong,
            "--format",
            "json",
            "--open5gs-mme",
            &audit_data("open5gs-mme.yaml"),
            "--open5gs-amf",
            &audit_data("open5gs-amf.yaml"),
            "--osmo-bsc",
            &audit_data("osmo-bsc.cfg"),
            "--osmo-msc",
            &audit_data("osmo-msc.cfg"),
            "--osmo-sgsn",
            &audit_data("osmocom/osmo-sgsn-accept-all.cfg"),
            "--osmo-hlr-cfg",
            &audit_data("osmocom/osmo-hlr-dgsm.cfg"),
            "--osmo-hlr-db",
            hlr.to_str().unwrap(),
            "--pyhss",
            &audit_data("pyhss-auc.json"),
        ],
    );
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    let mut ids = json_ids(&o);
    ids.sort();
    ids.dedup();
    let want = [
        "WA-ALG-001",
        "WA-ALG-002",
        "WA-ALG-005",
        "WA-ALG-009",
        "WA-ALG-010",
        "WA-ALG-011",
        "WA-ALG-013",
        "WA-ALG-016",
        "WA-ALG-017",
        "WA-ALG-020",
        "WA-ALG-030",
        "WA-ALG-031",
        "WA-ALG-032",
        "WA-ALG-033",
        "WA-ALG-034",
        "WA-ALG-060",
        "WA-ALG-062",
        // Issue #13: PyHSS USIMs with a COMP128 `algo`, published test keys in the samples.
        "WA-ALG-070",
        "WA-ALG-073",
        // The strong description states none of these: each is a contradiction (2G, 3G-5G, key length, AuC).
        "WA-AUD-001",
        "WA-AUD-002",
        "WA-AUD-003",
        "WA-AUD-004",
        // The AMF sample's plain-HTTP SBI.
        "WA-NET-041",
        "WA-NET-060",
    ];
    assert_eq!(ids, want);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let kinds: Vec<&str> = doc["inputs"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "description",
            "open5gs-mme",
            "open5gs-amf",
            "osmo-bsc",
            "osmo-msc",
            "osmo-sgsn",
            "osmo-hlr-cfg",
            "osmo-hlr",
            "pyhss"
        ]
    );
    // OsmoMSC `authentication optional` beside A5/3 is WA-ALG-060; WA-ALG-009 comes from osmo-sgsn.
    let auth: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "WA-ALG-009")
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert_eq!(auth, ["osmo-sgsn"]);
    // Every input is identified by the SHA-256 of its bytes, and seven-plus critical findings cap the score.
    for (input, file) in doc["inputs"].as_array().unwrap().iter().zip([
        strong.clone(),
        audit_data("open5gs-mme.yaml"),
        audit_data("open5gs-amf.yaml"),
        audit_data("osmo-bsc.cfg"),
        audit_data("osmo-msc.cfg"),
        audit_data("osmocom/osmo-sgsn-accept-all.cfg"),
        audit_data("osmocom/osmo-hlr-dgsm.cfg"),
        hlr.to_str().unwrap().to_string(),
        audit_data("pyhss-auc.json"),
    ]) {
        // Checked against coreutils' sha256sum, an implementation nobody on the project wrote.
        let sum = std::process::Command::new("sha256sum").arg(&file).output().expect("sha256sum");
        let want = String::from_utf8(sum.stdout).unwrap().split_whitespace().next().unwrap().to_string();
        assert_eq!(input["sha256"], want.as_str(), "{file}");
    }
    assert_eq!(doc["summary"]["overall_score"], 40);
    assert_eq!(doc["warden_version"], env!("CARGO_PKG_VERSION"));
}

/// Open5GS's combined sample.yaml, its freeDiameter conf, its shipped key tree and PyHSS's config.yaml.
#[test]
fn open5gs_freediameter_key_tree_and_pyhss_config() {
    use std::os::unix::fs::PermissionsExt;
    let d = workspace("16");
    let strong = repo("examples/network-strong.toml");
    let tree = d.path().join("etc-open5gs");
    for sub in ["hnet", "tls"] {
        let from = Path::new(&audit_data("open5gs/etc-open5gs")).join(sub);
        std::fs::create_dir_all(tree.join(sub)).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let to = tree.join(sub).join(e.file_name());
            std::fs::copy(e.path(), &to).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let sample = audit_data("open5gs/sample.yaml");
    let o = warden(
        d.path(),
        &[
            "audit",
            "run",
            "--description",
            &strong,
            "--format",
            "json",
            "--open5gs",
            &sample,
            "--freediameter",
            &audit_data("freediameter/mme.conf"),
            "--config-tree",
            tree.to_str().unwrap(),
            "--pyhss-config",
            &audit_data("pyhss/config.yaml"),
        ],
    );
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    for id in ["WA-NET-040", "WA-NET-041", "WA-SEC-060", "WA-SEC-061", "WA-SEC-064", "WA-SEC-065", "WA-ALG-017"] {
        assert!(ids.contains(id), "{id} in {ids:?}");
    }
    // The AMF's NEA0 finding is located on the AMF's line of the combined file.
    let nea0 = findings.iter().find(|f| f["id"] == "WA-ALG-017").unwrap();
    let line = nea0["location"]["line"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(&sample).unwrap();
    assert!(text.lines().nth(line - 1).unwrap().contains("NEA0"), "line {line}");
    let kinds: Vec<&str> = doc["inputs"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["description", "open5gs", "freediameter", "config-tree", "pyhss-config"]);
    let out = stdout(&o);
    assert!(!out.contains("-----BEGIN") && !out.contains("MC4CAQAw"), "no key content in the report");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn store_evidence() {
    let d = workspace("15");
    let p = d.path();
    write(
        p,
        "profiles.toml",
        "[[profile]]\nname = \"meter-data\"\nservices = [\"data\", \"sms\"]\n\n\
         [[profile]]\nname = \"alarm\"\nservices = [\"data\"]\n",
    );
    let k = "465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,,8000";
    write(
        p,
        "sims.csv",
        &format!(
            "imsi,iccid,msisdn,k,opc,op,amf,algorithm,profile,priority,tenant\n\
             001010000000001,,491700000001,{k},milenage,alarm,critical,acme\n\
             001010000000002,,491700000002,{k},milenage,alarm,standard,acme\n\
             001010000000003,,491700000003,{k},milenage,meter-data,standard,acme\n\
             001010000000004,,491700000004,{k},milenage,alarm,critical,acme\n"
        ),
    );
    assert!(warden(p, &["profile", "import", "profiles.toml"]).status.success());
    let o = warden(p, &["sim", "import", "sims.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A row no Warden check would have written: a refused algorithm set behind the store's back.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut c =
            sqlx::sqlite::SqliteConnectOptions::new().filename(p.join("data/warden.db")).connect().await.unwrap();
        sqlx::query("UPDATE sims SET algorithm = 'comp128v1' WHERE imsi = '001010000000004'")
            .execute(&mut c)
            .await
            .unwrap();
    });
    let strong = repo("examples/network-strong.toml");
    let o = warden(p, &["audit", "run", "--description", &strong, "--store", "--format", "json"]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    let detail = |id: &str| findings.iter().find(|f| f["id"] == id).map(|f| f["detail"].as_str().unwrap().to_string());
    assert!(detail("WA-STO-001").unwrap().contains("001010000000004"));
    let unprotected = detail("WA-STO-002").unwrap();
    assert!(unprotected.contains("001010000000002") && !unprotected.contains("001010000000001"), "{unprotected}");
    assert!(detail("WA-STO-003").unwrap().contains("001010000000003"));
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(doc["inputs"][1]["file"].as_str().unwrap().starts_with("sqlite://"));
}

#[test]
fn fingerprint_helper_finds_shared_keys_without_keys() {
    let d = workspace("16");
    let p = d.path();
    let salt = "00112233445566778899aabbccddeeff";
    write(
        p,
        "keys.csv",
        "70b3d57ed0000001,000102030405060708090a0b0c0d0e0f\n\
         70b3d57ed0000002,000102030405060708090a0b0c0d0e0f\n\
         70b3d57ed0000003,ffeeddccbbaa99887766554433221100,abp\n",
    );
    let o = warden(p, &["audit", "fingerprint", "--salt", salt, "--input", "keys.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let devices = stdout(&o);
    assert!(!devices.contains("000102030405060708090a0b0c0d0e0f") && devices.matches("v1:").count() == 3);
    // Put them in a description: the shared key and the ABP device are found.
    let strong = std::fs::read_to_string(repo("examples/network-strong.toml")).unwrap();
    let start = strong.find("[[lpwa.lorawan.devices]]").unwrap();
    let end = strong.find("[lpwa.sigfox]").unwrap();
    let text = format!("{}{devices}{}", &strong[..start], &strong[end..]).replacen(
        "fingerprint_salt = \"5f0c2a7e91d34b6c8a1e0f2d3c4b5a69\"",
        &format!("fingerprint_salt = \"{salt}\""),
        1,
    );
    write(p, "net.toml", &text);
    let o = warden(p, &["audit", "run", "--description", "net.toml", "--format", "json"]);
    assert_eq!(json_ids(&o), ["WA-ALG-041", "WA-ALG-040"]);
    // Without --salt a new one is made and printed for the description.
    let o = warden(p, &["audit", "fingerprint", "--input", "keys.csv"]);
    assert!(stdout(&o).starts_with("# put this salt in [lpwa.lorawan]:\n# fingerprint_salt = \""));
}

#[test]
fn the_embedded_kek_beside_the_database_is_flagged_by_serve_and_the_audit() {
    // The embedded default as the README starts it: no [keys], so kek.hex is made beside warden.db.
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let port = common::free_port();
    write(
        p,
        "warden.toml",
        &format!("data_dir = \"data\"\n[diameter]\nlisten = \"127.0.0.1:{port}\"\n[http]\nenabled = false\n"),
    );
    assert!(warden(p, &["profile", "import", &repo("examples/profiles.toml")]).status.success());
    assert!(p.join("data/kek.hex").exists() && p.join("data/warden.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(p.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("data"), mode("data/warden.db"), mode("data/kek.hex")), (0o700, 0o600, 0o600));
    }
    let strong = repo("examples/network-strong.toml");
    let o = warden(p, &["audit", "run", "--description", &strong, "--store", "--format", "json"]);
    assert_eq!(json_ids(&o), ["WA-STO-005"], "{}", stderr(&o));

    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(p)
        .args(["--config", "warden.toml", "serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = serve.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(err)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut found = false;
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(10)) {
        seen += &line;
        if line.contains("warning: the key-encryption key") {
            found = true;
            break;
        }
    }
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(found, "serve warns at start: {seen}");
}
