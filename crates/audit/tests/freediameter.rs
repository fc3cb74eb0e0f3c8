//! freeDiameter configurations as Open5GS ships them (configs/freeDiameter/*.conf, see
//! tests/data/README.md): `No_TLS` in a `ConnectPeer` block is Diameter in clear.

use std::path::PathBuf;

use audit::Report;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/freediameter").join(name)
}

#[test]
fn shipped_peers_without_tls() {
    for (conf, identity, peer, to) in [
        ("mme.conf", "mme.localdomain", "hss.localdomain", "127.0.0.8"),
        ("hss.conf", "hss.localdomain", "mme.localdomain", "127.0.0.2"),
    ] {
        let path = data(conf);
        let mut r = Report::new();
        audit::freediameter::freediameter(&path, &mut r).unwrap();
        // Exactly one: the commented-out `No_TLS` examples above it do not count.
        assert_eq!(r.findings.len(), 1, "{conf}: {:?}", r.findings);
        let f = &r.findings[0];
        assert_eq!(f.check.id, "WA-NET-040");
        assert_eq!(f.location.path, format!("ConnectPeer \"{peer}\""));
        assert!(f.detail.starts_with(identity) && f.detail.contains(to), "{}", f.detail);
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text.lines().nth(f.location.line.unwrap() as usize - 1).unwrap();
        assert!(line.starts_with(&format!("ConnectPeer = \"{peer}\"")), "{line}");
        assert_eq!(r.inputs, [("freediameter".to_string(), path.display().to_string())]);
    }
}

#[test]
fn tls_peers_multi_line_blocks_and_errors() {
    let upstream = std::fs::read_to_string(data("mme.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mme.conf");
    // TLS to the peer (the default): nothing to report.
    std::fs::write(&f, upstream.replace(" No_TLS; }", " }")).unwrap();
    let mut r = Report::new();
    audit::freediameter::freediameter(&f, &mut r).unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // A peer block over several lines, with comments inside it.
    let multi = upstream.replace(
        "ConnectPeer = \"hss.localdomain\" { ConnectTo = \"127.0.0.8\"; No_TLS; };",
        "ConnectPeer = \"hss.localdomain\" {\n  # the HSS\n  ConnectTo = \"127.0.0.8\";\n  No_TLS; # for now\n};",
    );
    assert_ne!(multi, upstream);
    std::fs::write(&f, multi).unwrap();
    let mut r = Report::new();
    audit::freediameter::freediameter(&f, &mut r).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert!(r.findings[0].detail.contains("(line "), "{}", r.findings[0].detail);

    std::fs::write(&f, upstream.replace("No_TLS; };", "No_TLS;")).unwrap();
    let e = audit::freediameter::freediameter(&f, &mut r).unwrap_err().to_string();
    assert!(e.contains("line 264") && e.contains("not closed"), "{e}");
    // No Identity (freeDiameter then uses the host name): still audited.
    std::fs::write(&f, "ListenOn = \"127.0.0.1\";\nConnectPeer = \"p\" { No_TLS; };\n").unwrap();
    let mut r = Report::new();
    audit::freediameter::freediameter(&f, &mut r).unwrap();
    assert!(r.findings[0].detail.contains("host name"), "{}", r.findings[0].detail);
    std::fs::write(&f, "Identity = \"x;\n").unwrap();
    let e = audit::freediameter::freediameter(&f, &mut r).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("quoted string"), "{e}");
}
