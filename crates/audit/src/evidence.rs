//! Live evidence from Warden's own subscriber store. The `warden` binary reads the rows (read-only,
//! never a key) and hands them over as [`SimFact`]s; the checks here compare them with the
//! description's `[subscriptions]` expectations.

use std::collections::BTreeMap;

use crate::import::Subscribers;
use crate::model::Subscriptions;
use crate::report::Report;

/// One SIM as the audit sees it (`store::Store::audit_sims` hands SIMs over in this shape).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SimFact {
    /// IMSI.
    pub imsi: String,
    /// Tenant.
    pub tenant: String,
    /// Lifecycle status (`inventory`, `active`, `suspended`, `terminated`).
    pub status: String,
    /// Priority class (`critical`, `standard`, `low`).
    pub priority: String,
    /// Service profile name.
    pub profile: Option<String>,
    /// Services the profile grants (`data`, `sms`, `voice`); `None` without a profile.
    pub services: Option<Vec<String>>,
    /// The stored algorithm, as stored (`milenage`, `tuak:mac,res,ck,ik,iterations`, anything else is refused).
    pub algorithm: String,
    /// The SIM has an MSISDN.
    pub has_msisdn: bool,
}

/// Checks the store's SIMs. `origin` names the store (its URL without credentials).
pub fn check_store(sims: &[SimFact], expect: &Subscriptions, origin: &str, report: &mut Report) {
    report.input("store", origin);
    let mut subs = Subscribers::default();
    for s in sims.iter().filter(|s| s.status != "terminated") {
        let imsi = s.imsi.as_str();
        match s.algorithm.as_str() {
            "milenage" => {}
            a => match a
                .strip_prefix("tuak:")
                .map(|p| p.split(',').map(str::parse::<u32>).collect::<Result<Vec<_>, _>>())
            {
                Some(Ok(p)) if p.len() == 5 => {
                    if p[1] == 32 {
                        subs.add("WA-ALG-036", "sims.algorithm", imsi);
                    }
                }
                _ => subs.add("WA-STO-001", "sims.algorithm", imsi),
            },
        }
        let in_list = |profiles: &[String], tenants: &[String]| {
            s.profile.as_ref().is_some_and(|p| profiles.contains(p)) || tenants.contains(&s.tenant)
        };
        if in_list(&expect.critical_profiles, &expect.critical_tenants) && s.priority != "critical" {
            subs.add("WA-STO-002", "sims.priority", imsi);
        }
        let voice_or_sms = s.services.as_ref().is_some_and(|v| v.iter().any(|x| x == "voice" || x == "sms"));
        if voice_or_sms && in_list(&expect.data_only_profiles, &expect.data_only_tenants) {
            subs.add("WA-STO-003", "sims.profile", imsi);
        } else if voice_or_sms && !s.has_msisdn {
            subs.add("WA-STO-004", "sims.profile", imsi);
        }
    }
    let what: BTreeMap<&'static str, String> = [
        ("WA-STO-001", " on an algorithm Warden refuses or does not know"),
        ("WA-ALG-036", " on TUAK with a 32-bit RES"),
        ("WA-STO-002", " of critical services without the critical priority class"),
        ("WA-STO-003", " expected data-only with a profile granting voice or SMS"),
        ("WA-STO-004", " without MSISDN on a voice/SMS profile"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    subs.raise(report, "store", origin, &what);
}

/// Raises WA-STO-005 when the store's key-encryption key (`kek`, a file) lies beside its database.
pub fn check_kek_placement(kek_beside_database: Option<&str>, origin: &str, report: &mut Report) {
    if let Some(kek) = kek_beside_database {
        let location =
            crate::report::Location { file: Some(kek.to_string()), line: None, path: "keys.kek_file".into() };
        report.raise("WA-STO-005", "store", location, format!("the KEK {kek} lies in the directory of {origin}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(imsi: &str, alg: &str, priority: &str, profile: &str, services: &[&str], msisdn: bool) -> SimFact {
        SimFact {
            imsi: imsi.into(),
            tenant: "t".into(),
            status: "active".into(),
            priority: priority.into(),
            profile: Some(profile.into()),
            services: Some(services.iter().map(|s| s.to_string()).collect()),
            algorithm: alg.into(),
            has_msisdn: msisdn,
        }
    }

    #[test]
    fn store_findings() {
        let expect = Subscriptions {
            data_only_profiles: vec!["meter".into()],
            critical_profiles: vec!["alarm".into()],
            ..Default::default()
        };
        let sims = [
            sim("001010000000001", "milenage", "critical", "alarm", &["data"], true),
            sim("001010000000002", "comp128v1", "standard", "meter", &["data"], false),
            sim("001010000000003", "milenage", "standard", "alarm", &["data", "voice"], true),
            sim("001010000000004", "milenage", "standard", "meter", &["data", "sms"], true),
            sim("001010000000005", "tuak:64,32,128,128,1", "standard", "phone", &["voice"], false),
        ];
        let mut r = Report::new();
        check_store(&sims, &expect, "sqlite://x", &mut r);
        let ids: Vec<_> = r.ids().into_iter().collect();
        assert_eq!(ids, ["WA-ALG-036", "WA-STO-001", "WA-STO-002", "WA-STO-003", "WA-STO-004"]);
        let f = r.findings.iter().find(|f| f.check.id == "WA-STO-002").unwrap();
        assert!(f.detail.contains("001010000000003") && !f.detail.contains("001010000000001"));
    }

    #[test]
    fn kek_beside_the_database_is_a_finding() {
        let mut r = Report::new();
        check_kek_placement(None, "sqlite://d/warden.db", &mut r);
        assert!(r.findings.is_empty());
        check_kek_placement(Some("d/kek.hex"), "sqlite://d/warden.db", &mut r);
        assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-STO-005"]);
    }
}
