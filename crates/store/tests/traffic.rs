//! Traffic policy data on both backends: a SIM's own policy round-trips (quarantine included) and is
//! read only within its tenant's scope; Gx sessions are upserted, forgotten, and dropped when their
//! PCEF restarts (another Origin-State-Id); usage adds up per hour; the DNS log is scoped and pruned.

use store::access::Scope;
use store::traffic::{DnsQuery, GxSession, OverrideMode, Quarantine, SimPolicy};
use testkit::on_every_backend;

fn session(id: &str, pcef: &str, state: Option<u32>) -> GxSession {
    GxSession {
        session_id: id.into(),
        imsi: "001010000000001".into(),
        tenant: "acme".into(),
        pcef_host: pcef.into(),
        pcef_realm: "home.example".into(),
        pcef_state: state,
        apn: "iot.example".into(),
        framed_ip: Some("10.45.0.2".into()),
        framed_ipv6: Some("2001:db8:1::/64".into()),
        rat_type: Some(1004),
        plmn: Some("00101".into()),
        rules: vec!["a".into(), "b".into()],
        created_at: 10,
        updated_at: 10,
    }
}

fn query(tenant: &str, imsi: &str, at_ms: i64) -> DnsQuery {
    DnsQuery {
        at_ms,
        tenant: tenant.into(),
        imsi: imsi.into(),
        name: "api.acme.example".into(),
        qtype: 1,
        verdict: "allowed".into(),
        rcode: 0,
        answers: vec!["198.51.100.7".into()],
    }
}

#[tokio::test]
async fn traffic_policy_sessions_usage_and_dns_log() {
    on_every_backend(|store, _url| async move {
        let imsi: ids::Imsi = "001010000000001".parse().unwrap();
        let acme = Scope::Tenant("acme".into());
        let globex = Scope::Tenant("globex".into());

        // A SIM's own policy.
        assert_eq!(store.sim_policy(&imsi).await.unwrap(), None);
        let own = SimPolicy {
            mode: OverrideMode::Replace,
            allow_prefixes: vec!["203.0.113.7/32:443/tcp".parse().unwrap()],
            allow_domains: vec!["*.ota.acme.example".parse().unwrap()],
            quarantine: Some(Quarantine { since: 5, reason: "scan".into(), by: "token:t(1)".into() }),
            updated_at: 5,
        };
        let mut tx = store.begin().await.unwrap();
        tx.put_sim_policy(&imsi, "acme", &own).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.sim_policy(&imsi).await.unwrap().as_ref(), Some(&own));
        assert_eq!(store.sim_policy_in(&acme, &imsi).await.unwrap().as_ref(), Some(&own));
        assert_eq!(store.sim_policy_in(&globex, &imsi).await.unwrap(), None);
        let lifted = SimPolicy { quarantine: None, updated_at: 6, ..own.clone() };
        let mut tx = store.begin().await.unwrap();
        tx.put_sim_policy(&imsi, "acme", &lifted).await.unwrap();
        assert_eq!(tx.sim_policy(&imsi).await.unwrap().as_ref(), Some(&lifted));
        tx.commit().await.unwrap();

        // An allowlist edit and a quarantine write only their own columns.
        let q = Quarantine { since: 7, reason: "scan".into(), by: "x".into() };
        let mut tx = store.begin().await.unwrap();
        tx.set_sim_quarantine(&imsi, "acme", Some(&q), 7).await.unwrap();
        let lists =
            SimPolicy { allow_prefixes: vec!["192.0.2.0/24".parse().unwrap()], updated_at: 8, ..SimPolicy::default() };
        tx.set_sim_lists(&imsi, "acme", &lists).await.unwrap();
        tx.commit().await.unwrap();
        let both = store.sim_policy(&imsi).await.unwrap().unwrap();
        assert_eq!((both.quarantine, both.allow_prefixes.len()), (Some(q), 1), "neither undid the other");
        let other: ids::Imsi = "001010000000009".parse().unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.set_sim_quarantine(&other, "acme", None, 9).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.sim_policy(&other).await.unwrap().unwrap().allow_prefixes, vec![]);

        // Gx sessions.
        store.put_gx_session(&session("s1", "pgw1.home.example", Some(1))).await.unwrap();
        store.put_gx_session(&session("s2", "pgw1.home.example", Some(2))).await.unwrap();
        store.put_gx_session(&session("s3", "pgw2.home.example", Some(1))).await.unwrap();
        let mut updated = session("s1", "pgw1.home.example", Some(1));
        updated.rules = vec!["c".into()];
        updated.updated_at = 11;
        store.put_gx_session(&updated).await.unwrap();
        let all = store.gx_sessions().await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().find(|s| s.session_id == "s1"), Some(&updated));
        assert_eq!(store.gx_sessions_in(&acme, &imsi).await.unwrap().len(), 3);
        assert!(store.gx_sessions_in(&globex, &imsi).await.unwrap().is_empty());
        // PCEF 1 restarted with state 2: the session begun under state 1 goes, the others stay.
        assert_eq!(store.delete_stale_gx_sessions("PGW1.home.example", 2).await.unwrap(), vec!["s1".to_string()]);
        assert!(store.delete_gx_session("s2").await.unwrap());
        assert!(!store.delete_gx_session("s2").await.unwrap());
        let left: Vec<String> = store.gx_sessions().await.unwrap().into_iter().map(|s| s.session_id).collect();
        assert_eq!(left, ["s3"]);

        // Usage adds up per hour.
        store.add_usage(imsi.as_str(), "acme", 100, 10, 20).await.unwrap();
        store.add_usage(imsi.as_str(), "acme", 100, 1, 2).await.unwrap();
        store.add_usage(imsi.as_str(), "acme", 101, 5, 0).await.unwrap();
        let u = store.usage_in(&acme, &imsi, 100).await.unwrap();
        assert_eq!(
            u.iter().map(|x| (x.hour, x.octets_up, x.octets_down)).collect::<Vec<_>>(),
            [(100, 11, 22), (101, 5, 0)]
        );
        assert_eq!(store.usage_in(&acme, &imsi, 101).await.unwrap().len(), 1);
        assert!(store.usage_in(&globex, &imsi, 0).await.unwrap().is_empty());

        // The DNS log.
        let batch = [
            query("acme", imsi.as_str(), 1_000),
            query("acme", "001010000000002", 2_000),
            query("globex", "999990000000001", 3_000),
        ];
        store.insert_dns_queries(&batch).await.unwrap();
        let mine = store.dns_queries_in(&acme, None, 10).await.unwrap();
        assert_eq!(mine.iter().map(|q| q.at_ms).collect::<Vec<_>>(), [2_000, 1_000], "newest first, acme's only");
        assert_eq!(mine[1], batch[0]);
        assert_eq!(store.dns_queries_in(&acme, Some(&imsi), 10).await.unwrap().len(), 1);
        assert_eq!(store.dns_queries_in(&Scope::Operator, None, 10).await.unwrap().len(), 3);
        assert_eq!(store.prune_dns_queries(Some("acme"), 1_500).await.unwrap(), 1);
        assert_eq!(store.prune_dns_queries(None, 2_500).await.unwrap(), 1);
        let left = store.dns_queries_in(&Scope::Operator, None, 10).await.unwrap();
        assert_eq!(left.iter().map(|q| q.tenant.as_str()).collect::<Vec<_>>(), ["globex"]);
    })
    .await;
}

/// The PCRF's one-read load of a subscriber: the SIM with its own policy when it has one, the SIM
/// alone when not, nothing for an unknown IMSI — on both backends.
#[tokio::test]
async fn a_sim_is_read_with_its_policy_in_one_query() {
    on_every_backend(|store, _url| async move {
        let with: ids::Imsi = "001010000000011".parse().unwrap();
        let without: ids::Imsi = "001010000000012".parse().unwrap();
        let mut tx = store.begin().await.unwrap();
        let sims: Vec<_> = [&with, &without]
            .iter()
            .map(|i| testkit::provision::sim(i.as_str(), None, store::model::Priority::Critical, "acme"))
            .collect();
        tx.insert_sims(&sims).await.unwrap();
        let own = SimPolicy {
            mode: OverrideMode::Extend,
            allow_prefixes: vec!["198.51.100.0/24".parse().unwrap()],
            allow_domains: vec!["api.acme.example".parse().unwrap()],
            quarantine: Some(Quarantine { since: 7, reason: "beacon".into(), by: "analytics".into() }),
            updated_at: 9,
        };
        tx.put_sim_policy(&with, "acme", &own).await.unwrap();
        tx.commit().await.unwrap();

        let (sim, policy) = store.sim_with_policy(&with).await.unwrap().unwrap();
        assert_eq!(sim, store.sim(&with).await.unwrap().unwrap());
        assert_eq!(policy.as_ref(), Some(&own));
        let (sim, policy) = store.sim_with_policy(&without).await.unwrap().unwrap();
        assert_eq!(sim.imsi, without);
        assert_eq!(sim.priority, store::model::Priority::Critical);
        assert_eq!(policy, None);
        assert!(store.sim_with_policy(&"001010000000099".parse().unwrap()).await.unwrap().is_none());
    })
    .await;
}
