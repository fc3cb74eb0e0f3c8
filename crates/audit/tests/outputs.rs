//! The renderings: SARIF validates against the SARIF 2.1.0 schema, the HTML is self-contained with one
//! chart per area, JSON and text carry the same findings.
//!
//! Schema validation runs Python's `jsonschema` on the vendored schema (tests/data). Without it the
//! validation is skipped with a message, except under CI (`CI` set), where it fails: `.ci/run` installs it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use audit::render::{self, Format};
use audit::{Area, Report};
use serde_json::Value;

fn weak_report() -> Report {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (_, mut r) = audit::audit_description_file(&root.join("../../examples/network-weak.toml")).unwrap();
    audit::import::osmo_vty(&root.join("tests/data/osmo-msc.cfg"), audit::import::Osmo::Msc, &mut r).unwrap();
    // Text that needs escaping in HTML and in a URI.
    r.raise(
        "WA-TLS-003",
        "tls-probe",
        audit::Location { file: None, line: None, path: "tls://127.0.0.1:1".into() },
        "<script>alert(1)</script> & \"quotes\"",
    );
    r.note("a note with <angle> brackets");
    // One finding raised at three places: one finding with three locations (one SARIF result each).
    for port in [8443, 8444, 8445] {
        let at = audit::Location { file: None, line: None, path: format!("tls://127.0.0.1:{port}") };
        r.raise("WA-TLS-002", "tls-probe", at, "TLS 1.3 refused; TLS 1.2 accepted");
    }
    audit::contradiction::cross_check(&mut r);
    r
}

fn weak_sha256() -> String {
    use sha2::{Digest, Sha256};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    hex::encode(Sha256::digest(std::fs::read(root.join("../../examples/network-weak.toml")).unwrap()))
}

/// Validates `doc` against the vendored SARIF schema; `None` when the validator is unavailable outside CI.
fn schema_errors(doc: &Value) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import jsonschema"]).output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must provide python3 with the `jsonschema` package");
        eprintln!("SKIPPED: python3 with `jsonschema` not available; SARIF schema validation did not run");
        return None;
    }
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0-rtm.5.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  doc = json.load(sys.stdin)\n\
                  v = jsonschema.validators.validator_for(schema)(schema)\n\
                  errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))\n\
                  print('\\n'.join('%s: %s' % (list(e.path), e.message) for e in errs))\n";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(doc.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "validator failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap().trim().to_string())
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let r = weak_report();
    let doc: Value = serde_json::from_str(&render::render(&r, Format::Sarif)).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), audit::CHECKS.len());
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    for res in results {
        let rule = &rules[res["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], res["ruleId"]);
        assert!(rule["shortDescription"]["text"].is_string() && rule["help"]["text"].is_string());
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
    }
    let a50 =
        results.iter().find(|x| x["ruleId"] == "WA-ALG-001" && x["properties"]["source"] == "description").unwrap();
    let phys = &a50["locations"][0]["physicalLocation"];
    assert!(phys["artifactLocation"]["uri"].as_str().unwrap().ends_with("examples/network-weak.toml"));
    assert!(phys["region"]["startLine"].as_u64().unwrap() > 1);
    assert_eq!(a50["level"], "error");

    // The description is an artifact with its SHA-256; the finding at three places gives three results.
    let artifacts = run["artifacts"].as_array().unwrap();
    assert_eq!(artifacts[0]["hashes"]["sha-256"], weak_sha256());
    assert!(artifacts[0]["location"]["uri"].as_str().unwrap().ends_with("examples/network-weak.toml"));
    assert_eq!(results.iter().filter(|x| x["ruleId"] == "WA-TLS-002").count(), 3);

    let Some(errors) = schema_errors(&doc) else { return };
    assert_eq!(errors, "", "SARIF does not validate");
    // The validator does catch a broken log.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    broken["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "bad".into();
    let errors = schema_errors(&broken).unwrap();
    assert!(errors.contains("'fatal'") && errors.contains("'bad'"), "{errors}");
}

#[test]
fn html_is_self_contained_with_one_chart_per_area() {
    let r = weak_report();
    let html = render::render(&r, Format::Html);
    let lower = html.to_ascii_lowercase();
    for banned in ["http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe"] {
        assert!(!lower.contains(banned), "HTML contains {banned:?}");
    }
    assert_eq!(html.matches("<svg").count(), Area::ALL.len());
    assert_eq!(html.matches("</svg>").count(), Area::ALL.len());
    for a in Area::ALL {
        assert!(html.contains(&format!("id=\"area-{}\"", a.key())));
    }
    for f in &r.findings {
        assert!(html.contains(f.check.id));
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(html.contains("&lt;angle&gt;"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
}

#[test]
fn json_and_text_carry_the_findings_worst_first() {
    let r = weak_report();
    let doc: Value = serde_json::from_str(&render::render(&r, Format::Json)).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), r.groups().len());
    assert!(findings.len() + 2 <= r.findings.len(), "the finding raised three times is one");
    let tls = findings.iter().find(|f| f["id"] == "WA-TLS-002").unwrap();
    assert_eq!(tls["locations"].as_array().unwrap().len(), 3);
    assert_eq!(tls["locations"][2]["path"], "tls://127.0.0.1:8445");
    assert_eq!(tls["locations"][2]["source"], "tls-probe");
    assert_eq!(doc["summary"]["findings"], findings.len());
    assert_eq!(doc["inputs"][0]["sha256"], weak_sha256());
    assert!(doc["generated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(doc["top_actions"][0]["severity"], "critical");
    assert_eq!(doc["summary"]["worst"], "critical");
    assert_eq!(findings[0]["severity"], "critical");
    assert_eq!(findings.last().unwrap()["severity"], "info");
    let crit = findings.iter().filter(|f| f["severity"] == "critical").count();
    assert_eq!(doc["summary"]["counts"]["critical"], crit);
    assert_eq!(doc["areas"].as_array().unwrap().len(), Area::ALL.len());
    let f = findings.iter().find(|f| f["id"] == "WA-ROAM-001").unwrap();
    assert_eq!(f["requirement"], "ROAM-2");
    assert_eq!(f["clause"], "CLP.14 §5.6 Roaming");
    assert!(f["remediation"].as_str().unwrap().contains("signalling firewall"));

    let text = render::render(&r, Format::Text);
    for a in Area::ALL {
        assert!(text.contains(a.title()), "{}", a.title());
    }
    let first_crit = text.find("[CRITICAL]").unwrap();
    let first_info = text.find("[INFO]").unwrap();
    assert!(first_crit < text.find("[HIGH]").unwrap() && text.find("[LOW]").unwrap() < first_info);
    assert!(text.contains("Overall score") && text.contains("a note with <angle> brackets"));
    assert_eq!(text.matches("WA-TLS-002  ").count(), 1, "{text}");
    assert_eq!(text.matches("where: tls://127.0.0.1:844").count(), 3, "{text}");
    assert!(text.contains(&format!("sha256 {}", weak_sha256())));
    assert!(text.find("Top actions\n  1. [CRITICAL]").unwrap() < text.find("Score per area").unwrap());
}

#[test]
fn html_starts_with_provenance_and_top_actions_and_groups_findings_by_area_and_source() {
    let mut r = weak_report();
    r.generated_unix = 1_796_186_096;
    let html = render::render(&r, Format::Html);
    // Provenance: date, Warden version, the description's SHA-256.
    assert!(html.contains("Generated <time>2026-12-02T04:34:56Z</time> by Warden 0.1.0"), "{html}");
    assert!(html.contains(&format!("<code>{}</code>", weak_sha256())));
    // Top actions come before the charts and the findings, worst first.
    let actions = html.find("<h2 id=\"top-actions\">Top actions</h2>").unwrap();
    assert!(actions < html.find("<h2>Score per area</h2>").unwrap());
    assert!(actions < html.find("<h2>Findings</h2>").unwrap());
    let first = &html[actions..html[actions..].find("</li>").unwrap() + actions];
    assert!(first.contains("<span class=\"sev critical\">critical</span>"), "{first}");
    assert_eq!(html[actions..html.find("</ol>").unwrap()].matches("<li>").count(), 5);
    // Sections per area in report order, each with sub-tables per source.
    let radio = html.find("<section id=\"findings-radio\">").unwrap();
    let portal = html.find("<section id=\"findings-portal\">").unwrap();
    assert!(radio < portal);
    let portal_section = &html[portal..portal + html[portal..].find("</section>").unwrap()];
    assert!(portal_section.contains("<h4>Source: description</h4>"));
    assert!(portal_section.contains("<h4>Source: tls-probe</h4>"));
    // One row for the finding raised three times, listing its three places.
    assert_eq!(html.matches("<code>WA-TLS-002</code>").count(), 1);
    let row = &html[html.find("<code>WA-TLS-002</code>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert_eq!(row.matches("<li><code>tls://127.0.0.1:844").count(), 3, "{row}");
    // Not examined areas say so.
    let subs = &html[html.find("id=\"area-subscribers\"").unwrap()..];
    assert!(subs[..subs.find("</div>").unwrap()].contains("not examined"));
}
