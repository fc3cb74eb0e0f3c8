//! `warden storage migrate`: a SQLite store filled through the CLI and the store API moves into a fresh
//! PostgreSQL database (one per test) with every row, working SIM keys and webhook secrets, a verifying
//! audit chain and sequences that continue above the copied ids; a second run into the now filled
//! target, a row the target refuses, a tampered audit trail and a wrong KEK each change nothing. The
//! checks made before anything is opened (URLs, a newer schema) run without PostgreSQL too.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::{warden, workspace};
use sqlx::{AnyConnection, Connection, Executor, Row};
use store::seal::{Kek, Keyring};
use store::Store;

const KEK: &str = "ab";

fn keyring() -> Keyring {
    Keyring::new(Kek::from_hex(1, &KEK.repeat(32)).unwrap(), vec![])
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "warden failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/data/warden.db", dir.display())
}

fn migrate(dir: &Path, to: &str) -> Output {
    warden(dir, &["storage", "migrate", "--from", "sqlite://data/warden.db", "--to", to])
}

/// A workspace whose SQLite store holds rows in nearly every table: written by the CLI (profiles,
/// SIMs, EIR, tenants, tokens, a status change with its event, outbox entry and audit entries, a host
/// report) and by the store API (users, jobs, webhooks, rules, ranges, bindings, registrations,
/// kept idempotent answers).
async fn filled_workspace() -> tempfile::TempDir {
    let dir = workspace(KEK);
    let d = dir.path();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for args in [
        vec!["profile", "import", &format!("{examples}/profiles.toml")],
        vec!["sim", "import", &format!("{examples}/sims.csv")],
        vec!["eir", "import", &format!("{examples}/eir.csv")],
        vec!["tenant", "create", "acme"],
        vec!["admin", "init"],
        vec!["token", "issue", "--role", "tenant_admin", "--tenant", "acme", "--name", "ci"],
        vec!["eir", "host-report", "490154203237518", "router-7"],
    ] {
        let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
        ok(&warden(d, &args));
    }
    let store = Store::open(&sqlite_url(d), keyring()).await.unwrap();
    let imsi: ids::Imsi = "001010000000001".parse().unwrap();
    let node = store::model::ServingNode {
        origin_host: "mme1.home.example".into(),
        origin_realm: "home.example".into(),
        plmn: None,
        since: 1,
    };
    store.register(&imsi, &node, None).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let alice = tx.create_user("alice", "$argon2id$not-a-real-hash", "tenant_admin", Some("acme")).await.unwrap();
    tx.put_pending_totp(&alice.id, b"totp-secret-20-bytes", "SHA1", 6).await.unwrap();
    tx.replace_recovery_codes(&alice.id, &["recovery-code-hash".into()]).await.unwrap();
    tx.issue_mfa_ticket(&alice.id, store::mfa::TicketPurpose::Login, "unknown", store::now() + 300).await.unwrap();
    tx.insert_webauthn_credential(&alice.id, "Y3JlZGVudGlhbA", "{}", 0, "laptop").await.unwrap();
    let kind = store::webauthn::CeremonyKind::Login;
    tx.put_webauthn_ceremony(kind, &alice.id, "ticket", "{}", store::now() + 300).await.unwrap();
    let approval = store::approvals::NewApproval {
        tenant: "acme",
        action: "sim.terminate",
        imsi: imsi.as_ref(),
        reason: "end of contract",
        requested_by: "user:alice",
        requester_key: "user:alice",
        requested_factor: Some("totp"),
        at: store::now(),
        ttl: 86_400,
    };
    tx.insert_approval(&approval).await.unwrap();
    tx.put_oidc_flow("state-1", "nonce-1", b"pkce-verifier", "unknown", store::now() + 600).await.unwrap();
    assert!(tx.bind_oidc_subject(&alice.id, "https://idp.example", "subject-1").await.unwrap());
    tx.create_job("acme", "set_status", "{}", "alice", 2).await.unwrap();
    tx.create_webhook("acme", "https://hooks.example/w", b"webhook-secret", 0).await.unwrap();
    tx.create_rule("acme", "quota", "{}").await.unwrap();
    let own = store::traffic::SimPolicy {
        allow_prefixes: vec!["203.0.113.7/32:443/tcp".parse().unwrap()],
        allow_domains: vec!["*.ota.acme.example".parse().unwrap()],
        quarantine: Some(store::traffic::Quarantine { since: 1, reason: "scan".into(), by: "alice".into() }),
        updated_at: 1,
        ..Default::default()
    };
    tx.put_sim_policy(&imsi, "acme", &own).await.unwrap();
    let fdl = store::fixed_dialling::SimFixedDialling {
        mode: store::traffic::OverrideMode::Replace,
        entries: vec!["+4917*".into()],
        updated_at: 1,
    };
    tx.put_sim_fixed_dialling(&imsi, "acme", &fdl).await.unwrap();
    tx.create_range("001010000000000", "001010000000099", "meters", "").await.unwrap();
    tx.put_binding(&imsi, &"490154203237518".parse().unwrap(), store::model::EirStatus::White, "").await.unwrap();
    tx.commit().await.unwrap();
    let answer = store::platform::IdempotentAnswer { request_hash: "h".into(), status: 201, body: "{}".into() };
    store.put_idempotent_answer("acme", "key-1", &answer).await.unwrap();
    let session = store::traffic::GxSession {
        session_id: "pgw.home.example;1;1".into(),
        imsi: imsi.to_string(),
        tenant: "acme".into(),
        pcef_host: "pgw.home.example".into(),
        pcef_realm: "home.example".into(),
        pcef_state: Some(7),
        apn: "iot.example".into(),
        framed_ip: Some("10.45.0.2".into()),
        framed_ipv6: None,
        rat_type: Some(1004),
        plmn: Some("00101".into()),
        rules: vec!["warden-deny-all".into()],
        created_at: 1,
        updated_at: 1,
    };
    store.put_gx_session(&session).await.unwrap();
    store.add_usage(imsi.as_str(), "acme", 1, 100, 200).await.unwrap();
    let query = store::traffic::DnsQuery {
        at_ms: 1,
        tenant: "acme".into(),
        imsi: imsi.to_string(),
        name: "api.acme.example".into(),
        qtype: 1,
        verdict: "allowed".into(),
        rcode: 0,
        answers: vec!["198.51.100.7".into()],
    };
    store.insert_dns_queries(&[query]).await.unwrap();
    // Security analytics: a detection (its score a floating-point column), a policy, a sealed key.
    let mut tx = store.begin().await.unwrap();
    let detection = store::analytics::NewDetection {
        id: "det-1".into(),
        tenant: "acme".into(),
        imsi: imsi.to_string(),
        kind: "scanning".into(),
        score: 0.8125,
        evidence: r#"{"ports":[23]}"#.into(),
        at: 1,
    };
    tx.upsert_detection(&detection).await.unwrap();
    let mut policy = cmp::analytics::without_agreement("acme");
    policy.default_action = store::analytics::DetectionAction::Alert;
    tx.put_analytics_policy(&policy).await.unwrap();
    tx.commit().await.unwrap();
    store.analytics_key("acme").await.unwrap();
    // OTA: a sealed key set, a command in the history, a job with its item, a confirmed file content.
    let keys = store::ota::OtaKeys {
        keyset: 1,
        kic: 0x12,
        kid: 0x12,
        tars: vec![[0xb0, 0x00, 0x11]],
        enc: zeroize::Zeroizing::new(vec![0x20; 16]),
        mac: zeroize::Zeroizing::new(vec![0x21; 16]),
    };
    let mut tx = store.begin().await.unwrap();
    tx.put_ota_keysets(&[store::ota::NewOtaKeyset { imsi: imsi.clone(), keys }]).await.unwrap();
    let item = store::ota::NewOtaItem { imsi: imsi.to_string(), rank: 1, payload: "{}".into() };
    let job = tx.create_ota_job("acme", "update_file", "{}", "alice", &[item]).await.unwrap();
    let psk = store::device_psk::NewDevicePsk {
        endpoint: "meter-1".into(),
        identity: "meter-1@acme".into(),
        key: zeroize::Zeroizing::new(vec![0x22; 16]),
        imsi: Some(imsi.clone()),
    };
    tx.put_device_psk(&psk).await.unwrap();
    let bootstrap = store::device_psk::NewDevicePsk {
        endpoint: "meter-1".into(),
        identity: "meter-1-bs@acme".into(),
        key: zeroize::Zeroizing::new(vec![0x33; 16]),
        imsi: Some(imsi.clone()),
    };
    tx.put_bootstrap_psk(&bootstrap).await.unwrap();
    tx.commit().await.unwrap();
    let cmd = store::ota::NewOtaCommand {
        id: "cmd-1".into(),
        job_id: Some(job.id.clone()),
        imsi: imsi.clone(),
        keyset: 1,
        tar: "b00011".into(),
        summary: "update 3F00/7FFF/6F07 at 0 (1 bytes)".into(),
        attempt: 1,
    };
    store.record_ota_command(&cmd).await.unwrap();
    store
        .finish_ota_item(&job.id, imsi.as_str(), "done", 1, "", &[("3F00/7FFF/6F07".into(), "00".into())])
        .await
        .unwrap();
    // A device CA with a certificate and an enrolment token (EST), a firmware signing key and an image.
    store.put_device_ca("acme", b"ca-certificate-der", b"ca-key-pkcs8").await.unwrap();
    store.create_est_token("acme", "meter-1", Some(imsi.as_str()), None, 3600, "alice").await.unwrap();
    let cert = store::devcerts::NewDeviceCert {
        serial: "0a1b2c".into(),
        ca_scope: "acme".into(),
        tenant: "acme".into(),
        endpoint: "meter-1".into(),
        subject: "CN=meter-1".into(),
        san: vec![format!("urn:imsi:{}", imsi.as_str())],
        imsi: Some(imsi.as_str().into()),
        imei: None,
        not_before: 1,
        not_after: 2_000_000_000,
        replaces: None,
        cert_der: vec![0x30, 0x03, 0x02, 0x01, 0x01],
    };
    store.record_device_cert(&cert, None).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let key = store::firmware::FirmwareKeyRow {
        tenant: "acme".into(),
        fingerprint: "ab".repeat(32),
        algorithm: "ed25519".into(),
        public_pem: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".into(),
        label: "release".into(),
        created_by: "alice".into(),
        created_at: 1,
    };
    tx.add_firmware_key(&key).await.unwrap();
    let image = store::firmware::NewFirmwareImage {
        tenant: "acme".into(),
        model: "meter".into(),
        version: "1.0".into(),
        size: 3,
        sha256: "cd".repeat(32),
        manifest: b"{}".to_vec(),
        signature: vec![1, 2, 3],
        signed_by: "ab".repeat(32),
        image: vec![0, 255, 7],
        created_by: "alice".into(),
        created_at: 1,
    };
    let image_id = tx.add_firmware_image(&image).await.unwrap();
    // A firmware campaign with two devices.
    let campaign = store::campaigns::NewCampaign {
        tenant: "acme".into(),
        name: "rollout".into(),
        image_id,
        settings: store::campaigns::CampaignSettings {
            model: Some("meter".into()),
            canary_permille: 500,
            failure_permille: 100,
            window_days: "0123456".into(),
            window_start_hour: 0,
            window_end_hour: 24,
            max_concurrent: 5,
            allow_downgrade: false,
            allow_reinstall: false,
            include_critical: false,
            delivery: store::campaigns::Delivery::Push,
        },
        created_by: "alice".into(),
        created_at: 1,
        devices: vec![("meter-1".into(), true), ("meter-2".into(), false)],
    };
    tx.insert_campaign(&campaign).await.unwrap();
    tx.commit().await.unwrap();
    // An LwM2M device's snapshot: linked to the SIM, objects 3/4 read.
    let registration = store::device_snapshots::DeviceRegistration {
        endpoint: "meter-1",
        link: Some((imsi.as_str(), "acme")),
        at: 1,
        instance: "hss.home.example",
    };
    store.device_registered(&registration).await.unwrap();
    let objects = store::device_snapshots::DeviceObjects {
        model: Some("meter".into()),
        firmware: Some("1.0".into()),
        battery: Some(87),
        signal_dbm: Some(-71),
        ..Default::default()
    };
    assert!(store.device_objects_read("meter-1", &objects, 2).await.unwrap());
    // Through the CLI last: the status change's CLR goes to the registered MME (outbox).
    ok(&warden(d, &["sim", "set-status", "001010000000001", "suspended"]));
    dir
}

/// Rows per table (all but sqlx's bookkeeping) of the database at `url`.
async fn counts(url: &str) -> BTreeMap<String, i64> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.unwrap();
    let list = if url.starts_with("sqlite:") {
        "SELECT name AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
         AND name <> '_sqlx_migrations'"
    } else {
        "SELECT table_name::text AS n FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations'"
    };
    let names: Vec<String> =
        sqlx::query(list).fetch_all(&mut conn).await.unwrap().iter().map(|r| r.get::<String, _>("n")).collect();
    let mut out = BTreeMap::new();
    for t in names {
        let n: i64 =
            sqlx::query(&format!("SELECT COUNT(*) AS n FROM {t}")).fetch_one(&mut conn).await.unwrap().get("n");
        out.insert(t, n);
    }
    out
}

/// Runs raw SQL on the workspace's SQLite file, foreign keys off (as a damaged or hand-edited file).
async fn tamper(dir: &Path, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&sqlite_url(dir)).await.unwrap();
    conn.execute("PRAGMA foreign_keys = OFF").await.unwrap();
    conn.execute(sql).await.unwrap();
}

/// The migration into `url` fails naming every one of `needles`, and every table of the target is
/// empty.
async fn refused_leaving_target_empty(dir: &Path, url: &str, needles: &[&str]) {
    let out = migrate(dir, url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(err.contains("nothing was copied"), "{err}");
    let target = counts(url).await;
    assert!(target.len() >= 18, "the target's schema is there: {target:?}");
    assert!(target.values().all(|&n| n == 0), "the target stays empty: {target:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_moves_and_a_second_migration_is_refused() {
    testkit::on_fresh_postgres(|url| async move {
        let dir = filled_workspace().await;
        let d = dir.path();
        let source_counts = counts(&sqlite_url(d)).await;
        let empty: Vec<_> = source_counts.iter().filter(|(_, &n)| n == 0).map(|(t, _)| t.as_str()).collect();
        // The cluster registry (not copied) and the firewall's shared state are only written by
        // several instances on PostgreSQL; relay routes only when a node registers through a relay.
        let expected =
            ["cluster_instances", "cluster_peers", "fw_registrations", "fw_risky", "job_items", "relay_routes"];
        assert_eq!(empty, expected, "the test data fills every other table");

        // The cluster registry is the running instances' own: never copied.
        let mut source_counts = source_counts;
        source_counts.retain(|t, _| !t.starts_with("cluster_"));
        let summary = ok(&migrate(d, &url));
        assert!(!summary.contains("cluster_"), "{summary}");
        assert!(summary.contains("audit trail verified"), "{summary}");
        assert!(summary.contains("kek_id = 1"), "the configuration's KEK id is named: {summary}");
        for (table, n) in &source_counts {
            assert!(summary.lines().any(|l| l.split_whitespace().eq([table.as_str(), &n.to_string()])), "{summary}");
        }
        let mut target_counts = counts(&url).await;
        target_counts.retain(|t, _| !t.starts_with("cluster_"));
        assert_eq!(target_counts, source_counts, "every table holds the source's rows");

        let source = Store::open(&sqlite_url(d), keyring()).await.unwrap();
        let target = Store::open(&url, keyring()).await.unwrap();
        let rand = auc::Rand([7; 16]);
        for imsi in ["001010000000001", "001010000000002", "001010000000003"] {
            let imsi: ids::Imsi = imsi.parse().unwrap();
            let (sim, alg) = target.auth_material(&imsi).await.unwrap().expect("SIM copied");
            let (before, source_alg) = source.auth_material(&imsi).await.unwrap().unwrap();
            assert_eq!(sim, before);
            assert_eq!(alg.f5star(&rand).0, source_alg.f5star(&rand).0, "the same K and OPc open on the target");
        }
        let scope = store::access::Scope::Tenant("acme".into());
        let hook = &target.list_webhooks(&scope).await.unwrap()[0];
        assert_eq!(target.webhook_secret(&hook.id).await.unwrap().as_slice(), b"webhook-secret");
        let alice = target.login_records("alice").await.unwrap().remove(0).user.id;
        let totp = target.totp_credential(&alice).await.unwrap().expect("TOTP credential copied");
        assert_eq!(totp.secret.as_slice(), b"totp-secret-20-bytes", "the sealed TOTP secret opens on the target");
        let det = target.detection_in(&scope, "det-1").await.unwrap().expect("detection copied");
        assert_eq!(det.score, 0.8125, "a floating-point column copies exactly");
        assert_eq!(target.analytics_policy("acme").await.unwrap(), source.analytics_policy("acme").await.unwrap());
        let first: ids::Imsi = "001010000000001".parse().unwrap();
        assert_eq!(
            target.sim_fixed_dialling(&first).await.unwrap(),
            source.sim_fixed_dialling(&first).await.unwrap(),
            "a SIM's fixed dialling list copies"
        );
        assert_eq!(*target.analytics_key("acme").await.unwrap(), *source.analytics_key("acme").await.unwrap());
        let entries = source.verify_audit().await.unwrap().unwrap();
        assert_eq!(target.verify_audit().await.unwrap(), Ok(entries));

        // A second run finds the rows and changes nothing.
        let last = target.audit_tail(1).await.unwrap();
        let out = migrate(d, &url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("not empty") && err.contains("sims has 3 rows"), "{err}");
        let mut after = counts(&url).await;
        after.retain(|t, _| !t.starts_with("cluster_"));
        assert_eq!(after, source_counts);
        assert_eq!(target.audit_tail(1).await.unwrap(), last);

        // The sequences continue above the copied ids.
        let entry = store::audit::AuditEntry {
            actor: "test".into(),
            role: "operator_admin".into(),
            tenant: "*".into(),
            source: "local".into(),
            action: "test.after_migration".into(),
            resource: "-".into(),
            before: String::new(),
            after: String::new(),
        };
        assert_eq!(target.append_audit(&entry).await.unwrap().id, last[0].id + 1);
        assert_eq!(target.verify_audit().await.unwrap(), Ok(entries + 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_the_target_refuses_rolls_the_whole_copy_back() {
    testkit::on_fresh_postgres(|url| async move {
        let dir = filled_workspace().await;
        // SQLite accepted it with foreign keys off; PostgreSQL refuses it after many tables are written.
        tamper(dir.path(), "UPDATE sims SET profile = 'ghost' WHERE imsi = '001010000000003'").await;
        refused_leaving_target_empty(dir.path(), &url, &["copying table sims", "foreign key"]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_audit_trail_is_not_migrated() {
    testkit::on_fresh_postgres(|url| async move {
        let dir = filled_workspace().await;
        tamper(dir.path(), "UPDATE audit_log SET actor = 'mallory' WHERE id = 2").await;
        refused_leaving_target_empty(
            dir.path(),
            &url,
            &["audit trail does not verify", "row 2", "source's chain is broken"],
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_that_do_not_open_with_the_configured_kek_are_not_migrated() {
    testkit::on_fresh_postgres(|url| async move {
        let dir = filled_workspace().await;
        std::fs::write(dir.path().join("kek.hex"), "cd".repeat(32)).unwrap();
        refused_leaving_target_empty(dir.path(), &url, &["keys do not open with the configured keyring"]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_written_by_a_newer_warden_is_refused_by_version() {
    let dir = workspace(KEK);
    ok(&warden(dir.path(), &["tenant", "create", "acme"]));
    tamper(
        dir.path(),
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'future', 1, x'00', 0)",
    )
    .await;
    // Refused before any connection to the target is attempted.
    let out = migrate(dir.path(), "postgres://nobody@127.0.0.1:1/none");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let known = store::schema::latest_version(store::Backend::Sqlite);
    assert!(err.contains(&format!("schema is at version 9999, newer than this Warden knows ({known})")), "{err}");
}

#[test]
fn wrong_urls_and_a_missing_file_change_nothing() {
    let dir = workspace(KEK);
    let d = dir.path();
    let run = |from: &str, to: &str| warden(d, &["storage", "migrate", "--from", from, "--to", to]);
    let out = run("postgres://u:secret@h/db", "postgres://h/db");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--from must be sqlite://PATH") && !err.contains("secret"), "{err}");
    let out = run("sqlite://data/warden.db", "sqlite://other.db");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to must be postgres://"));
    let out = run("sqlite://missing.db", "postgres://h/db");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source missing.db: no such file"));
    assert!(!d.join("missing.db").exists(), "no empty database is created in its place");
}
