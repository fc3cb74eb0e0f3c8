//! The access model from the command line: no default credentials (the first operator admin token is
//! created explicitly and shown once), tenants, tenant tokens with roles, revocation, all audited.

mod common;

use common::warden;

#[tokio::test]
async fn admin_init_tenants_and_tokens() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("kek.hex"), "33".repeat(32)).unwrap();
    std::fs::write(d.path().join("warden.toml"), "data_dir = \"data\"\n[keys]\nkek_file = \"kek.hex\"\n").unwrap();
    let out = warden(d.path(), &["admin", "init"]);
    assert!(out.status.success());
    let admin = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string();
    assert!(admin.starts_with("wdn_"), "{admin}");
    let again = warden(d.path(), &["admin", "init"]);
    assert_eq!(again.status.code(), Some(1), "no second admin init");

    assert!(warden(d.path(), &["tenant", "create", "acme"]).status.success());
    assert_eq!(
        warden(d.path(), &["token", "issue", "--role", "tenant_viewer", "--name", "x"]).status.code(),
        Some(2),
        "tenant role needs --tenant"
    );
    assert_eq!(
        warden(d.path(), &["token", "issue", "--role", "root", "--tenant", "acme", "--name", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(
        warden(d.path(), &["token", "issue", "--role", "tenant_viewer", "--tenant", "nobody", "--name", "x"])
            .status
            .code(),
        Some(1)
    );
    let out = warden(
        d.path(),
        &[
            "token",
            "issue",
            "--role",
            "tenant_viewer",
            "--tenant",
            "acme",
            "--name",
            "dash",
            "--expires-days",
            "30",
            "--allow-source",
            "127.0.0.1",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let viewer = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string();

    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(1, &"33".repeat(32)).unwrap(), vec![]);
    let store = store::Store::open(&format!("sqlite://{}/data/warden.db", d.path().display()), keys).await.unwrap();
    let lo = Some("127.0.0.1".parse().unwrap());
    let v = store.verify_token(&viewer, lo, store::now()).await.unwrap().unwrap();
    assert_eq!((v.role.as_str(), v.tenant.as_deref()), ("tenant_viewer", Some("acme")));
    assert!(store.verify_token(&admin, None, store::now()).await.unwrap().is_ok());

    let id = viewer.split('_').nth(1).unwrap();
    assert!(warden(d.path(), &["token", "revoke", id]).status.success());
    assert!(store.verify_token(&viewer, lo, store::now()).await.unwrap().is_err());
    let log = String::from_utf8_lossy(&warden(d.path(), &["audit-log", "show"]).stdout).to_string();
    for action in ["admin.init", "tenant.create", "token.issue", "token.revoke"] {
        assert!(log.contains(action), "{action} audited");
    }
    assert!(
        !log.contains(viewer.rsplit('_').next().unwrap()) && !log.contains(admin.rsplit('_').next().unwrap()),
        "no token secrets in the trail"
    );
    assert!(warden(d.path(), &["audit-log", "verify"]).status.success());
}

/// The initial password `admin init` printed for the operator admin person.
fn initial_password(stdout: &str) -> String {
    stdout.lines().find_map(|l| l.strip_prefix("initial password: ")).expect("an initial password line").to_string()
}

#[tokio::test]
async fn admin_init_creates_the_first_operator_person_who_must_enrol_a_second_factor() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("kek.hex"), "33".repeat(32)).unwrap();
    std::fs::write(d.path().join("warden.toml"), "data_dir = \"data\"\n[keys]\nkek_file = \"kek.hex\"\n").unwrap();
    assert_eq!(warden(d.path(), &["admin", "init", "--user", "x"]).status.code(), Some(1), "a bad username");
    let out = warden(d.path(), &["admin", "init", "--user", "root.ops"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let token = stdout.lines().next().unwrap().to_string();
    assert!(token.starts_with("wdn_"), "the token stays on the first line: {stdout}");
    assert!(stdout.contains("operator admin: root.ops") && stdout.contains("http://127.0.0.1:8080/"), "{stdout}");
    let pw = initial_password(&stdout);
    let context = ["root.ops", "warden"];
    assert!(pw.chars().count() >= 20, "{pw}");
    cmp::password::check_new_password(&pw, cmp::password::PasswordPolicy::SINGLE_FACTOR, &context).unwrap();
    let again = warden(d.path(), &["admin", "init"]);
    assert_eq!(again.status.code(), Some(1), "no second admin init");

    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(1, &"33".repeat(32)).unwrap(), vec![]);
    let store = store::Store::open(&format!("sqlite://{}/data/warden.db", d.path().display()), keys).await.unwrap();
    let rules = cmp::access::PasswordRules::default();
    let account = cmp::access::Account { tenant: None, username: "root.ops" };
    let lo = Some("127.0.0.1".parse().unwrap());
    let wrong = cmp::access::login(&store, &rules, account, "not the password at all", lo, 60).await;
    assert!(matches!(wrong, Err(cmp::Error::Unauthorized(_))), "{wrong:?}");
    let outcome = cmp::access::login(&store, &rules, account, &pw, lo, 60).await.unwrap();
    assert!(matches!(outcome, cmp::access::LoginOutcome::Enrol(_)), "the password alone opens no session: {outcome:?}");

    // With its token revoked, the installation still has an operator admin: the person.
    let id = token.split('_').nth(1).unwrap();
    assert!(warden(d.path(), &["token", "revoke", id]).status.success());
    let again = warden(d.path(), &["admin", "init", "--user", "other"]);
    assert_eq!(again.status.code(), Some(1), "no second admin init while an operator person exists");
    assert!(String::from_utf8_lossy(&again.stderr).contains("an operator admin already exists"));
    let log = String::from_utf8_lossy(&warden(d.path(), &["audit-log", "show"]).stdout).to_string();
    assert!(log.contains("admin.init") && log.contains("user.create"), "{log}");
    assert!(!log.contains(&pw), "no password in the trail");
}
