//! The PCRF's Gx behaviour: CCR-Initial/Update/Termination answered sans-IO through `Pcrf::answer`
//! (rules, QoS, usage, refusals, malformed requests, rate limiting, restarts), and the pushes over a
//! loopback connection to a stand-in P-GW (RAR on policy changes, release of blocked SIMs, retries
//! and the fail-safe, DNS-resolved rules).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cmp::Actor;
use common::*;
use diameter::header::flags;
use diameter::result_code as rc;
use diameter::{avp, Command};
use pcrf::ipfilter::FlowFilter;
use pcrf::rules::{PRECEDENCE_ALLOW, PRECEDENCE_DENY, PRECEDENCE_DNS, PRECEDENCE_HOST};
use pcrf::{Pcrf, PcrfConfig};
use store::model::SimStatus;
use store::traffic::OverrideMode;

/// The allowlist entries the enabled allow rules of `m` permit, written back as allowlist text.
fn allowed_entries(m: &diameter::Message) -> Vec<String> {
    let (defs, _) = installed(m);
    defs.iter()
        .map(rule)
        .filter(|(_, precedence, _, _)| *precedence == PRECEDENCE_ALLOW)
        .flat_map(|(_, _, status, flows)| {
            assert_eq!(status, 2, "allow rules are ENABLED");
            flows
        })
        .map(|text| {
            let f: FlowFilter = text.parse().unwrap();
            let (addr, len) = f.remote.net.unwrap();
            let mut s = format!("{addr}/{len}");
            if let Some((lo, hi)) = f.remote.ports {
                s += &if lo == hi { format!(":{lo}") } else { format!(":{lo}-{hi}") };
            }
            if let Some(p) = f.proto {
                s += &format!("/{}", ids::Proto(p));
            }
            s
        })
        .collect()
}

#[tokio::test]
async fn ccr_initial_installs_the_allowlist_qos_and_usage_monitoring() {
    let s = setup().await;
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;1", METER, [10, 45, 0, 1]), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!((a.get_u32(avp::CC_REQUEST_TYPE), a.get_u32(avp::CC_REQUEST_NUMBER)), (Some(1), Some(0)));
    assert_eq!(a.get_u32(avp::AUTH_APPLICATION_ID), Some(16_777_238));
    assert_eq!(allowed_entries(&a), METER_PREFIXES);
    let (defs, predefined) = installed(&a);
    assert!(predefined.is_empty());
    let rules: Vec<_> = defs.iter().map(rule).collect();
    let dns = rules.iter().find(|r| r.1 == PRECEDENCE_DNS).unwrap();
    assert_eq!(
        dns.3,
        ["permit out 17 from 192.0.2.53/32 53 to assigned", "permit out 6 from 192.0.2.53/32 53 to assigned"]
    );
    let deny = rules.iter().find(|r| r.1 == PRECEDENCE_DENY).unwrap();
    assert_eq!((deny.2, deny.3.as_slice()), (3, ["permit out ip from any to assigned".to_string()].as_slice()));
    assert_eq!(rules.len(), 4);
    // QoS: the APN's QCI and AMBR, ARP of a critical SIM.
    let bearer = a.get(avp::DEFAULT_EPS_BEARER_QOS).unwrap();
    assert_eq!(bearer.child(avp::QOS_CLASS_IDENTIFIER).unwrap().as_u32(), Some(7));
    let arp = bearer.child(avp::ALLOCATION_RETENTION_PRIORITY).unwrap();
    let arp: Vec<u32> = arp.as_grouped().unwrap().iter().map(|a| a.as_u32().unwrap()).collect();
    assert_eq!(arp, [1, 0, 1]);
    let ambr = a.get(avp::QOS_INFORMATION).unwrap();
    assert_eq!(ambr.child(avp::APN_AGGREGATE_MAX_BITRATE_UL).unwrap().as_u32(), Some(32000));
    assert_eq!(ambr.child(avp::APN_AGGREGATE_MAX_BITRATE_DL).unwrap().as_u32(), Some(96000));
    let triggers: Vec<u32> = a.get_all(avp::EVENT_TRIGGER).filter_map(|t| t.as_u32()).collect();
    assert!(triggers.contains(&33), "{triggers:?}");
    let umi = a.get(avp::USAGE_MONITORING_INFORMATION).unwrap();
    assert_eq!(umi.child(avp::MONITORING_KEY).unwrap().as_bytes(), Some(&b"warden"[..]));
    let gsu = umi.child(avp::GRANTED_SERVICE_UNIT).unwrap();
    assert_eq!(gsu.child(avp::CC_TOTAL_OCTETS).unwrap().as_u64(), Some(10_000_000));
    assert_eq!(umi.child(avp::USAGE_MONITORING_LEVEL).unwrap().as_u32(), Some(0));
    // A low-priority SIM of the same profile: ARP 14, may be pre-empted.
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;2", LOW, [10, 45, 0, 2]), PGW).await;
    let bearer = a.get(avp::DEFAULT_EPS_BEARER_QOS).unwrap();
    let arp = bearer.child(avp::ALLOCATION_RETENTION_PRIORITY).unwrap();
    let arp: Vec<u32> = arp.as_grouped().unwrap().iter().map(|a| a.as_u32().unwrap()).collect();
    assert_eq!(arp, [14, 1, 0]);
    // The session is stored, with what the CCR said and the rules installed.
    s.pcrf.settle().await;
    let stored = s.temp.store.gx_sessions().await.unwrap();
    let first = stored.iter().find(|g| g.session_id == "pgw1;1").unwrap();
    assert_eq!((first.imsi.as_str(), first.tenant.as_str(), first.pcef_host.as_str()), (METER, "acme", PGW));
    assert_eq!((first.framed_ip.as_deref(), first.apn.as_str()), (Some("10.45.0.1"), "meters.example"));
    assert_eq!((first.rat_type, first.plmn.as_deref()), (Some(1004), Some("00101")));
    assert_eq!(first.rules.len(), 4);
    assert_eq!(s.pcrf.counters().sessions, 2);
    // The DNS firewall finds the SIM by its address.
    let asker = s.pcrf.lookup_ip(ip("10.45.0.1")).unwrap();
    assert_eq!((asker.imsi.as_str(), asker.tenant.as_str(), asker.any_domain), (METER, "acme", false));
    assert_eq!(asker.domains.iter().map(ToString::to_string).collect::<Vec<_>>(), ["api.acme.example"]);
    assert!(s.pcrf.lookup_ip(ip("10.45.0.99")).is_none());
}

#[tokio::test]
async fn open_and_predefined_profiles() {
    let s = setup().await;
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;o", PHONE, [10, 45, 0, 3]), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let (defs, _) = installed(&a);
    let flows: Vec<(u32, u32, Vec<String>)> = defs.iter().map(rule).map(|r| (r.1, r.2, r.3)).collect();
    assert!(flows.contains(&(3000, 2, vec!["permit out ip from any to assigned".into()])), "{flows:?}");
    assert!(s.pcrf.lookup_ip(ip("10.45.0.3")).unwrap().any_domain);
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;p", PREDEFINED, [10, 45, 0, 4]), PGW).await;
    let (defs, names) = installed(&a);
    assert_eq!(names, ["gold-iot"]);
    assert!(allowed_entries(&a).is_empty(), "predefined rules replace the dynamic allow rules");
    assert_eq!(defs.len(), 2, "DNS and deny-all stay dynamic");
}

#[tokio::test]
async fn refusals_and_malformed_requests() {
    let s = setup().await;
    // Unknown IMSI, and an IMSI this PCEF may not ask about: Result-Code 5030 DIAMETER_USER_UNKNOWN
    // (RFC 4006 §9.1).
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;u", "001019999999999", [10, 0, 0, 1]), PGW).await;
    assert_eq!((a.get_u32(avp::RESULT_CODE), experimental(&a)), (Some(5030), None));
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;f", "999990000000001", [10, 0, 0, 1]), PGW).await;
    assert_eq!((a.get_u32(avp::RESULT_CODE), experimental(&a)), (Some(5030), None));
    assert_eq!(s.pcrf.counters().refused_imsi, 1);
    // A suspended SIM: 5003.
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;s", SUSPENDED, [10, 0, 0, 1]), PGW).await;
    assert_eq!(a.result_code(), Some(rc::AUTHORIZATION_REJECTED));
    // No IMSI: 5005 with an example Subscription-Id.
    let mut m = ccr_i(PGW, "pgw1;n", METER, [10, 0, 0, 1]);
    m.avps.retain(|a| !a.is(avp::SUBSCRIPTION_ID));
    let a = s.pcrf.answer(m, PGW).await;
    assert_eq!(a.result_code(), Some(rc::MISSING_AVP));
    let failed = a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap();
    assert!(failed[0].is(avp::SUBSCRIPTION_ID));
    // No CC-Request-Number: 5005 naming it.
    let mut m = ccr_i(PGW, "pgw1;n2", METER, [10, 0, 0, 1]);
    m.avps.retain(|a| !a.is(avp::CC_REQUEST_NUMBER));
    let a = s.pcrf.answer(m, PGW).await;
    assert_eq!(a.result_code(), Some(rc::MISSING_AVP));
    assert!(a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap()[0].is(avp::CC_REQUEST_NUMBER));
    // A Framed-IP-Address of 3 octets, an IMSI that is not one, a CC-Request-Type of 7: 5004 with
    // the AVP as received.
    let mut m = ccr_i(PGW, "pgw1;b", METER, [10, 0, 0, 1]);
    m.avps.retain(|a| !a.is(avp::FRAMED_IP_ADDRESS));
    m.add(avp::FRAMED_IP_ADDRESS, &[1u8, 2, 3]);
    let a = s.pcrf.answer(m, PGW).await;
    assert_eq!(a.result_code(), Some(rc::INVALID_AVP_VALUE));
    assert_eq!(a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap()[0].as_bytes(), Some(&[1u8, 2, 3][..]));
    let a = s.pcrf.answer(ccr_i(PGW, "pgw1;x", "00101abc", [10, 0, 0, 1]), PGW).await;
    assert_eq!(a.result_code(), Some(rc::INVALID_AVP_VALUE));
    assert!(a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap()[0].is(avp::SUBSCRIPTION_ID));
    let a = s.pcrf.answer(ccr(PGW, "pgw1;t", 7, 0), PGW).await;
    assert_eq!(a.result_code(), Some(rc::INVALID_AVP_VALUE));
    // Nothing was stored for any of them.
    s.pcrf.settle().await;
    assert_eq!(s.pcrf.counters().sessions, 0);
    assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
    // Not a CCR: 3001 with the E bit.
    let a = s.pcrf.answer(diameter::Message::request(Command::AIR), PGW).await;
    assert_eq!(a.result_code(), Some(rc::COMMAND_UNSUPPORTED));
    assert_ne!(a.header.flags & flags::E, 0);
}

#[tokio::test]
async fn updates_report_usage_and_termination_ends_the_session() {
    let s = setup().await;
    let a = s.pcrf.answer(ccr(PGW, "pgw1;none", 2, 1), PGW).await;
    assert_eq!(a.result_code(), Some(rc::UNKNOWN_SESSION_ID));
    assert_eq!(s.pcrf.answer(ccr_i(PGW, "pgw1;1", METER, [10, 45, 0, 1]), PGW).await.result_code(), Some(rc::SUCCESS));
    let a = s.pcrf.answer(ccr_u_usage(PGW, "pgw1;1", 1, 1000, 5000), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert!(a.get(avp::USAGE_MONITORING_INFORMATION).is_some(), "quota granted again");
    // Another PCEF cannot touch the session.
    assert_eq!(s.pcrf.answer(ccr("pgw2", "pgw1;1", 3, 2), "pgw2").await.result_code(), Some(rc::UNKNOWN_SESSION_ID));
    let mut t = ccr_u_usage(PGW, "pgw1;1", 2, 10, 20);
    t.avps.retain(|a| !a.is(avp::CC_REQUEST_TYPE));
    t.add(avp::CC_REQUEST_TYPE, 3u32);
    assert_eq!(s.pcrf.answer(t, PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.answer(ccr(PGW, "pgw1;1", 3, 3), PGW).await.result_code(), Some(rc::UNKNOWN_SESSION_ID));
    s.pcrf.settle().await;
    assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
    let usage = s.temp.store.usage_in(&store::access::Scope::Operator, &imsi(METER), 0).await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].octets_up, usage[0].octets_down), (1010, 5020));
    let c = s.pcrf.counters();
    assert_eq!((c.ccr_initial, c.ccr_update, c.ccr_termination, c.sessions), (1, 2, 3, 0));
}

#[tokio::test]
async fn a_ccr_initial_flood_is_limited_per_pcef_without_hurting_sessions() {
    // Forty sessions of one SIM: beyond max_sessions_per_imsi, which is not what this tests.
    let s = setup_with(PcrfConfig { ccr_initial_per_sec: 5, max_sessions_per_imsi: 64, ..fast() }).await;
    assert_eq!(
        s.pcrf.answer(ccr_i(PGW, "pgw1;keep", METER, [10, 45, 0, 1]), PGW).await.result_code(),
        Some(rc::SUCCESS)
    );
    let mut busy = 0;
    for i in 0..40 {
        let a = s.pcrf.answer(ccr_i(PGW, &format!("pgw1;f{i}"), LOW, [10, 46, 0, i as u8]), PGW).await;
        if a.result_code() == Some(rc::TOO_BUSY) {
            assert_ne!(a.header.flags & flags::E, 0, "3004 is a protocol error");
            busy += 1;
        }
    }
    assert!(busy >= 25, "{busy} of 40 refused");
    assert_eq!(s.pcrf.counters().rate_limited, busy);
    // Another PCEF is not affected; the existing session keeps working.
    assert_eq!(
        s.pcrf.answer(ccr_i("pgw2", "pgw2;1", LOW, [10, 47, 0, 1]), "pgw2").await.result_code(),
        Some(rc::SUCCESS)
    );
    assert_eq!(s.pcrf.answer(ccr_u_usage(PGW, "pgw1;keep", 1, 1, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.answer(ccr(PGW, "pgw1;keep", 3, 2), PGW).await.result_code(), Some(rc::SUCCESS));
}

#[tokio::test]
async fn sessions_survive_a_restart_and_go_when_the_pcef_restarts() {
    let s = setup().await;
    let mut m = ccr_i(PGW, "pgw1;a", METER, [10, 45, 0, 1]);
    m.add(avp::ORIGIN_STATE_ID, 7u32);
    assert_eq!(s.pcrf.answer(m, PGW).await.result_code(), Some(rc::SUCCESS));
    let mut m = ccr_i("pgw2", "pgw2;a", LOW, [10, 45, 0, 2]);
    m.add(avp::ORIGIN_STATE_ID, 1u32);
    assert_eq!(s.pcrf.answer(m, "pgw2").await.result_code(), Some(rc::SUCCESS));
    s.pcrf.settle().await;
    // A new PCRF on the same store has both.
    let again = Pcrf::new(fast(), s.temp.store.clone(), PCRF, REALM, home_only()).await.unwrap();
    assert_eq!(again.counters().sessions, 2);
    assert_eq!(again.lookup_ip(ip("10.45.0.1")).unwrap().imsi.as_str(), METER);
    assert_eq!(again.answer(ccr_u_usage(PGW, "pgw1;a", 1, 1, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    // pgw1 restarted (Origin-State-Id 8): its session is gone, pgw2's stays.
    let mut m = ccr_i(PGW, "pgw1;b", LOW, [10, 45, 0, 3]);
    m.add(avp::ORIGIN_STATE_ID, 8u32);
    assert_eq!(again.answer(m, PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(again.answer(ccr(PGW, "pgw1;a", 2, 2), PGW).await.result_code(), Some(rc::UNKNOWN_SESSION_ID));
    again.settle().await;
    let mut ids: Vec<String> = s.temp.store.gx_sessions().await.unwrap().into_iter().map(|g| g.session_id).collect();
    ids.sort();
    assert_eq!(ids, ["pgw1;b", "pgw2;a"]);
}

/// Starts a served PCRF, connects pgw1 and opens a session for `who`.
async fn live(config: PcrfConfig, who: &str) -> (Setup, PgwLink, tokio_util::sync::CancellationToken) {
    let s = setup_with(config).await;
    let (addr, stop) = serve_pcrf(s.pcrf.clone()).await;
    let link = connect_pgw(addr, PGW, 1).await;
    let a = link.ask(ccr_i(PGW, "pgw1;live", who, [10, 45, 0, 9])).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    (s, link, stop)
}

#[tokio::test]
async fn policy_edits_and_quarantine_are_pushed_by_rar() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    let before: Vec<String> =
        s.temp.store.gx_sessions().await.unwrap().first().map(|g| g.rules.clone()).unwrap_or_default();
    let notifier = Notifier(s.pcrf.clone());
    let overrides = cmp::traffic::Overrides {
        mode: OverrideMode::Extend,
        allow_prefixes: vec!["192.0.2.0/24:5683/udp".parse().unwrap()],
        allow_domains: vec![],
    };
    cmp::traffic::put_policy(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), overrides).await.unwrap();
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR after the edit");
    assert_eq!(rar.command(), Some(Command::RAR));
    assert_eq!(rar.header.app_id, 16_777_238);
    assert_eq!(rar.session_id(), Some("pgw1;live"));
    assert_eq!(rar.get_u32(avp::RE_AUTH_REQUEST_TYPE), Some(0));
    assert_eq!(rar.get_str(avp::DESTINATION_HOST), Some(PGW));
    assert!(removed(&rar).is_empty(), "an addition removes nothing");
    assert_eq!(allowed_entries(&rar), ["192.0.2.0/24:5683/udp"]);
    s.pcrf.settle().await;
    let stored = s.temp.store.gx_sessions().await.unwrap();
    assert_eq!(stored[0].rules.len(), 5);
    let _ = before;
    // Quarantine: the allow rules go, the management platform's comes.
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "scanning").await.unwrap();
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR after quarantine");
    assert_eq!(removed(&rar).iter().filter(|n| n.starts_with("warden-allow-")).count(), 3);
    assert_eq!(allowed_entries(&rar), [MGMT]);
    assert!(installed(&rar).0.iter().all(|d| rule(d).1 == PRECEDENCE_ALLOW), "DNS and deny-all stay");
    // Lifting it brings the allowlist back.
    cmp::traffic::lift_quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW)).await.unwrap();
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR after lifting");
    let mut back = allowed_entries(&rar);
    back.sort();
    let mut want =
        vec![METER_PREFIXES[0].to_string(), METER_PREFIXES[1].to_string(), "192.0.2.0/24:5683/udp".to_string()];
    want.sort();
    assert_eq!(back, want);
    // Same policy again: nothing to push.
    s.pcrf.policy_changed(&imsi(LOW));
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(200)).await.is_none());
    assert_eq!(s.pcrf.counters().rar_sent, 3);
}

#[tokio::test]
async fn a_suspended_sim_loses_its_session() {
    for release in [pcrf::Release::Rar, pcrf::Release::Asr] {
        let (s, mut link, _stop) = live(PcrfConfig { release, ..fast() }, LOW).await;
        let notifier = Notifier(s.pcrf.clone());
        cmp::sims::change_status(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), SimStatus::Suspended)
            .await
            .unwrap();
        let m = link.next(Duration::from_secs(2)).await.expect("release");
        match release {
            pcrf::Release::Rar => {
                assert_eq!(m.command(), Some(Command::RAR));
                assert_eq!(m.get_u32(avp::SESSION_RELEASE_CAUSE), Some(1));
            }
            pcrf::Release::Asr => assert_eq!(m.command(), Some(Command::ASR)),
        }
        assert_eq!(m.header.app_id, 16_777_238);
        s.pcrf.settle().await;
        assert!(s.pcrf.lookup_ip(ip("10.45.0.9")).is_none());
        // The PCEF ends it with CCR-T.
        assert_eq!(link.ask(ccr(PGW, "pgw1;live", 3, 1)).await.result_code(), Some(rc::SUCCESS));
        assert_eq!(s.pcrf.counters().sessions, 0);
        let events = s
            .temp
            .store
            .list_events(
                &store::access::Scope::Operator,
                &store::events::EventFilter { kind: Some("gx.session_released".into()), imsi: None },
                0,
                10,
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "one event per session");
        assert_eq!(events[0].imsi.as_deref(), Some(LOW));
        assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_pcef_that_does_not_answer_loses_the_session_unless_critical_fail_open() {
    // Standard behaviour: after rar_attempts without answer, the session is released.
    let (s, mut link, _stop) = live(fast(), LOW).await;
    link.mode.store(ANSWER_NOTHING, Ordering::SeqCst);
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    let mut seen = Vec::new();
    while let Some(m) = link.next(Duration::from_millis(100)).await {
        seen.push((m.command(), m.get(avp::SESSION_RELEASE_CAUSE).is_some()));
    }
    assert_eq!(
        seen,
        [
            (Some(Command::RAR), false),
            (Some(Command::RAR), false),
            (Some(Command::RAR), true),
            (Some(Command::RAR), true)
        ]
    );
    let c = s.pcrf.counters();
    // The release was not confirmed either: the session stays, pending (no address, its row kept),
    // and is tried again (test an_unconfirmed_release_is_tried_again_until_the_pcef_confirms).
    assert_eq!((c.rar_failed, c.asr, c.fail_open, c.sessions, c.unconfirmed), (1, 1, 0, 1, 1));
    assert!(s.pcrf.lookup_ip(ip("10.45.0.9")).is_none());
    assert_eq!(s.temp.store.gx_sessions().await.unwrap().len(), 1);
    // A critical SIM with critical_fail_open keeps its session and last rules through an allowlist
    // change that cannot be delivered...
    let (s, mut link, _stop) = live(PcrfConfig { critical_fail_open: true, ..fast() }, METER).await;
    link.mode.store(ANSWER_NOTHING, Ordering::SeqCst);
    let notifier = Notifier(s.pcrf.clone());
    let narrower = cmp::traffic::Overrides {
        mode: OverrideMode::Replace,
        allow_prefixes: vec!["198.51.100.0/25".parse().unwrap()],
        allow_domains: vec![],
    };
    cmp::traffic::put_policy(&s.temp.store, &notifier, &Actor::cli(), &imsi(METER), narrower).await.unwrap();
    s.pcrf.settle().await;
    let c = s.pcrf.counters();
    assert_eq!((c.rar_failed, c.asr, c.fail_open, c.sessions, c.unconfirmed), (1, 0, 1, 1, 1));
    // ...but never through a quarantine: that session is released.
    {
        let (q, qlink, _qstop) = live(PcrfConfig { critical_fail_open: true, ..fast() }, METER).await;
        qlink.mode.store(ANSWER_NOTHING, Ordering::SeqCst);
        let notifier = Notifier(q.pcrf.clone());
        cmp::traffic::quarantine(&q.temp.store, &notifier, &Actor::cli(), &imsi(METER), "test").await.unwrap();
        q.pcrf.settle().await;
        let c = q.pcrf.counters();
        assert_eq!((c.fail_open, c.asr, c.unconfirmed), (0, 1, 1), "no fail-open through a quarantine");
        assert!(q.pcrf.lookup_ip(ip("10.45.0.9")).is_none());
    }
    let mut n = 0;
    while link.next(Duration::from_millis(100)).await.is_some() {
        n += 1;
    }
    assert_eq!(n, 2, "two attempts, no release");
}

#[tokio::test]
async fn an_raa_unknown_session_forgets_it() {
    let (s, link, _stop) = live(fast(), LOW).await;
    link.mode.store(ANSWER_UNKNOWN_SESSION, Ordering::SeqCst);
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    let c = s.pcrf.counters();
    assert_eq!((c.sessions, c.asr, c.rar_failed), (0, 0, 0));
    assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn dns_resolved_addresses_become_rules_for_their_ttl() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    let t = Instant::now();
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("203.0.113.80"), ip("198.51.100.7")], Duration::from_secs(1));
    let rar = link.next(Duration::from_secs(1)).await.expect("RAR with the host rule");
    assert!(t.elapsed() < Duration::from_millis(100), "RAR after {:?}", t.elapsed());
    let (defs, _) = installed(&rar);
    let hosts: Vec<_> = defs.iter().map(rule).filter(|r| r.1 == PRECEDENCE_HOST).collect();
    // 198.51.100.7 is in the allowlisted /24 already.
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].3, ["permit out ip from 203.0.113.80/32 to assigned"]);
    // The same answer again changes nothing.
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("203.0.113.80")], Duration::from_secs(1));
    assert!(link.next(Duration::from_millis(200)).await.is_none());
    // After the TTL (at least 5 s: the floor) the rule is removed.
    let rar = link.next(Duration::from_secs(8)).await.expect("RAR removing the host rule");
    assert_eq!(removed(&rar), [hosts[0].0.clone()]);
    assert!(installed(&rar).0.is_empty());
    assert_eq!(s.pcrf.counters().expiry_pushes, 1, "the sweep pushed the expiry once");
}

#[tokio::test]
async fn a_new_origin_state_id_in_cer_drops_the_old_sessions() {
    let s = setup().await;
    let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
    let link = connect_pgw(addr, PGW, 1).await;
    let mut m = ccr_i(PGW, "pgw1;old", LOW, [10, 45, 0, 1]);
    m.add(avp::ORIGIN_STATE_ID, 1u32);
    assert_eq!(link.ask(m).await.result_code(), Some(rc::SUCCESS));
    link.peer.disconnect(0).await;
    let _again = connect_pgw(addr, PGW, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.pcrf.counters().sessions, 0);
}

/// Every AVP of a valid CCR-I (and of each grouped AVP) removed, emptied or replaced by bytes of
/// the wrong size, one at a time: each request gets an answer to it (same identifiers, a Result-Code
/// or Experimental-Result), never a panic, and only intact requests create sessions.
#[tokio::test]
async fn mutated_requests_always_get_an_answer() {
    let s = setup().await;
    let base = ccr_i(PGW, "pgw1;m", METER, [10, 45, 0, 1]);
    let garbage: [&[u8]; 4] = [&[], &[0xff], &[0, 0, 0, 0, 0, 0, 0, 0, 0], &[0xc3, 0x28, 0xa0, 0xa1]];
    let mut answered = 0;
    for i in 0..base.avps.len() {
        let mut variants = Vec::new();
        let mut removed = base.clone();
        removed.avps.remove(i);
        variants.push(removed);
        for bytes in garbage {
            let mut m = base.clone();
            m.avps[i].value = diameter::Value::OctetString(bytes.to_vec());
            variants.push(m);
            if let Some(inner) = base.avps[i].as_grouped() {
                for j in 0..inner.len() {
                    let mut m = base.clone();
                    let mut children = inner.to_vec();
                    children[j].value = diameter::Value::OctetString(bytes.to_vec());
                    m.avps[i].value = diameter::Value::Grouped(children);
                    variants.push(m);
                }
            }
        }
        for (k, mut m) in variants.into_iter().enumerate() {
            m.header.hop_by_hop = (i * 100 + k) as u32;
            // What the transport would hand over: the bytes decoded (some variants do not decode,
            // and are answered by the peer state machine instead).
            let Ok(decoded) = diameter::Message::decode(&m.encode()) else { continue };
            let origin = decoded.get_str(avp::ORIGIN_HOST).unwrap_or(PGW).to_string();
            let a = s.pcrf.answer(decoded, PGW).await;
            assert_eq!(a.header.hop_by_hop, m.header.hop_by_hop);
            assert!(!a.is_request());
            assert!(a.result_code().is_some(), "{a:?}");
            answered += 1;
            if a.result_code() == Some(rc::SUCCESS) {
                // Only changes to AVPs the PCRF does not need leave a valid request.
                let t = s.pcrf.answer(ccr(&origin, a.session_id().unwrap(), 3, 1), PGW).await;
                assert_eq!(t.result_code(), Some(rc::SUCCESS), "{m:?}");
            }
        }
    }
    assert!(answered > 40, "{answered}");
    assert_eq!(s.pcrf.counters().sessions, 0);
}

/// Two instances on one database: the session is held by the instance its PCEF is connected to.
/// The other one (which loaded the session from the store when it started) hears of the same SIM
/// change and must leave the session alone — not release it, not delete its row, not record an
/// event — while the holder releases it once.
#[tokio::test]
async fn a_second_instance_without_the_pcef_leaves_its_sessions_to_the_holder() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    s.pcrf.settle().await;
    for _ in 0..50 {
        if !s.temp.store.gx_sessions().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other = Pcrf::new(fast(), s.temp.store.clone(), "pcrf2.home.example", REALM, home_only()).await.unwrap();
    assert!(other.lookup_ip(ip("10.45.0.9")).is_some(), "the second instance loaded the session");
    let tell_other = Notifier(other.clone());
    cmp::sims::change_status(&s.temp.store, &tell_other, &Actor::cli(), &imsi(LOW), SimStatus::Suspended)
        .await
        .unwrap();
    other.settle().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.temp.store.gx_sessions().await.unwrap().len(), 1, "the row of the holder's session stays");
    assert!(link.next(Duration::from_millis(300)).await.is_none(), "nothing reached the PCEF from the other");
    // The holder hears of it too (the database's announcement) and releases the session.
    s.pcrf.sim_changed(&imsi(LOW));
    let m = link.next(Duration::from_secs(2)).await.expect("release from the holder");
    assert!(matches!(m.command(), Some(Command::RAR | Command::ASR)));
    s.pcrf.settle().await;
    let filter = store::events::EventFilter { kind: Some("gx.session_released".into()), imsi: None };
    for _ in 0..50 {
        if s.temp.store.gx_sessions().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = s.temp.store.list_events(&store::access::Scope::Operator, &filter, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1, "one release, by the holder");
    assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
}

/// A restarted PCRF does not remember DNS-resolved addresses: when the PCEF reconnects, the host
/// rules its sessions still carry are removed (and nothing else changes).
#[tokio::test]
async fn after_a_restart_a_reconnecting_pcef_loses_the_forgotten_host_rules() {
    let (s, mut link, stop) = live(fast(), LOW).await;
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("203.0.113.80")], Duration::from_secs(600));
    let rar = link.next(Duration::from_secs(1)).await.expect("RAR with the host rule");
    let host_rule = installed(&rar).0.iter().map(rule).find(|r| r.1 == PRECEDENCE_HOST).unwrap().0;
    s.pcrf.settle().await;
    stop.cancel();
    link.peer.disconnect(0).await;
    let again = Pcrf::new(fast(), s.temp.store.clone(), PCRF, REALM, home_only()).await.unwrap();
    let (addr, _stop) = serve_pcrf(again.clone()).await;
    let mut link = connect_pgw(addr, PGW, 1).await;
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR removing the forgotten host rule");
    assert_eq!(removed(&rar), [host_rule]);
    assert!(installed(&rar).0.is_empty());
    again.settle().await;
    assert!(link.next(Duration::from_millis(200)).await.is_none(), "one RAR only");
    assert_eq!(again.counters().sessions, 1);
}

/// A PCEF that reconnects gets what changed while it had no connection here, and nothing else: of
/// many sessions (of two SIMs, several each) only those of the SIM quarantined meanwhile get a RAR,
/// and a second reconnect with nothing changed sends none. (The check runs in the background and
/// compiles nothing for a session whose rules are already its policy's: `Pcrf::resync_host`.)
#[tokio::test]
async fn a_reconnecting_pcef_gets_what_changed_while_it_was_away_and_nothing_else() {
    let (s, link, _stop) = live(PcrfConfig { max_sessions_per_imsi: 100, ..fast() }, LOW).await;
    for n in 0..40u8 {
        let (who, id) = if n % 2 == 0 { (METER, format!("pgw1;m{n}")) } else { (LOW, format!("pgw1;l{n}")) };
        let a = link.ask(ccr_i(PGW, &id, who, [10, 46, 0, n])).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS), "{a:?}");
    }
    s.pcrf.settle().await;
    link.peer.disconnect(0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Quarantined while the P-GW has no connection: nothing can be pushed now.
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    assert_eq!(s.pcrf.counters().rar_sent, 0);
    let resyncs = s.pcrf.counters().resyncs;
    let addr = link.peer.address().unwrap();
    let mut link = connect_pgw(addr, PGW, 1).await;
    let mut rars = Vec::new();
    while let Some(r) = link.next(Duration::from_millis(500)).await {
        rars.push(r);
    }
    s.pcrf.settle().await;
    let mut ids: Vec<String> = rars.iter().map(|r| r.session_id().unwrap().to_string()).collect();
    ids.sort();
    let mut want: Vec<String> = (0..40).filter(|n| n % 2 == 1).map(|n| format!("pgw1;l{n}")).collect();
    want.push("pgw1;live".into());
    want.sort();
    assert_eq!(ids, want, "the quarantined SIM's sessions, each once");
    assert!(rars.iter().all(|r| allowed_entries(r) == [MGMT]));
    assert_eq!(s.pcrf.counters().sessions, 41);
    assert_eq!(s.pcrf.counters().resyncs, resyncs + 1, "a change was announced while it was away");
    // Nothing changed since: reconnecting again pushes nothing, and re-checks nothing; nor does a
    // second connection of the connected host.
    link.peer.disconnect(0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut link = connect_pgw(addr, PGW, 1).await;
    let mut second = connect_pgw(addr, PGW, 1).await;
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(300)).await.is_none(), "no RAR for unchanged sessions");
    assert!(second.next(Duration::from_millis(50)).await.is_none(), "no RAR for unchanged sessions");
    assert_eq!(s.pcrf.counters().resyncs, resyncs + 1, "nothing was missed: no re-check");
}

/// A change that no announcement carries — a DNS-resolved host rule expiring — while the PCEF has
/// no connection marks the host as having missed it: when it connects again, the expired rule is
/// removed by RAR (a reconnect after nothing happened re-checks nothing: the test above).
#[tokio::test]
async fn a_host_rule_that_expired_while_the_pcef_was_away_is_removed_when_it_reconnects() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    // 5 s is the shortest time a resolved host is kept.
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("203.0.113.80")], Duration::from_secs(5));
    let rar = link.next(Duration::from_secs(1)).await.expect("RAR with the host rule");
    let host_rule = installed(&rar).0.iter().map(rule).find(|r| r.1 == PRECEDENCE_HOST).unwrap().0;
    s.pcrf.settle().await;
    let addr = link.peer.address().unwrap();
    link.peer.disconnect(0).await;
    // Expired, and the sweep (every 500 ms) has found the P-GW unreachable: it marked the host as
    // having missed a change, and pushed nothing (a push could not be delivered, and it would be
    // started again every sweep while the P-GW is away).
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    s.pcrf.settle().await;
    assert_eq!(s.pcrf.counters().expiry_pushes, 0, "no push toward a PCEF without a connection");
    let resyncs = s.pcrf.counters().resyncs;
    let mut link = connect_pgw(addr, PGW, 1).await;
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR removing the expired host rule");
    assert_eq!(removed(&rar), [host_rule]);
    assert_eq!(s.pcrf.counters().resyncs, resyncs + 1);
}

/// The writer's batches (which linger a few milliseconds for more rows) reach the store by
/// themselves, without a flush: sessions opened one by one and in a burst are all stored, and a PCRF
/// started on the store afterwards has every one of them.
#[tokio::test]
async fn the_lingering_writer_stores_every_session_without_a_flush() {
    let s = setup_with(PcrfConfig { max_sessions_per_imsi: 1000, ..fast() }).await;
    for n in 0..5u8 {
        let a = s.pcrf.answer(ccr_i(PGW, &format!("pgw1;one{n}"), METER, [10, 47, 0, n]), PGW).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for n in 0..250u8 {
        let a = s.pcrf.answer(ccr_i(PGW, &format!("pgw1;burst{n}"), LOW, [10, 48, 0, n]), PGW).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.temp.store.gx_sessions().await.unwrap().len() < 255 || s.pcrf.counters().pending_writes > 0 {
        assert!(Instant::now() < deadline, "the writer stored everything on its own");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = Pcrf::new(fast(), s.temp.store.clone(), PCRF, REALM, home_only()).await.unwrap();
    assert_eq!(again.counters().sessions, 255);
    assert!(again.lookup_ip(ip("10.48.0.249")).is_some());
}

/// A PCEF too busy once (3004) gets the same RAR again, and the change sticks.
#[tokio::test]
async fn a_busy_pcef_gets_the_rar_again() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    link.mode.store(ANSWER_BUSY_ONCE, Ordering::SeqCst);
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    let first = link.next(Duration::from_millis(100)).await.expect("RAR");
    let second = link.next(Duration::from_millis(100)).await.expect("RAR again");
    assert_eq!(first.avps, second.avps);
    assert!(link.next(Duration::from_millis(100)).await.is_none());
    let c = s.pcrf.counters();
    assert_eq!((c.rar_sent, c.rar_failed, c.asr, c.sessions), (2, 0, 0, 1));
    assert_eq!(allowed_entries(&second), [MGMT]);
    let stored = s.temp.store.gx_sessions().await.unwrap();
    assert_eq!(stored[0].rules.len(), 3, "DNS, the management platform, deny-all");
}

/// A PCEF speaks for itself only: a CCR naming another PCEF as Origin-Host (to end its session, or
/// to wipe its sessions with a new Origin-State-Id) is refused, and a CCR-I cannot take over another
/// PCEF's Session-Id.
#[tokio::test]
async fn a_pcef_cannot_act_for_another() {
    let (s, _link, _stop) = live(fast(), LOW).await;
    let (addr, _stop2) = serve_pcrf(s.pcrf.clone()).await;
    let other = connect_pgw(addr, "pgw2.home.example", 1).await;
    let forged = other.ask(ccr(PGW, "pgw1;live", 3, 1)).await;
    assert_eq!(forged.result_code(), Some(rc::UNABLE_TO_COMPLY), "{forged:?}");
    let mut wipe = ccr(PGW, "pgw2;x", 2, 1);
    wipe.add(avp::ORIGIN_STATE_ID, 99u32);
    assert_eq!(other.ask(wipe).await.result_code(), Some(rc::UNABLE_TO_COMPLY));
    let takeover = other.ask(ccr_i("pgw2.home.example", "pgw1;live", LOW, [10, 45, 0, 66])).await;
    assert_eq!(takeover.result_code(), Some(rc::UNABLE_TO_COMPLY), "{takeover:?}");
    assert_eq!(s.pcrf.counters().sessions, 1, "pgw1's session is still there");
    assert!(s.pcrf.lookup_ip(ip("10.45.0.9")).is_some());
    assert!(s.pcrf.lookup_ip(ip("10.45.0.66")).is_none());
}

/// A name resolved under an older policy opens nothing once the SIM is quarantined.
#[tokio::test]
async fn resolved_names_are_checked_against_the_policy_of_now() {
    let (s, _link, _stop) = live(fast(), LOW).await;
    assert!(s.pcrf.may_resolve(&imsi(LOW), "api.acme.example"));
    assert!(!s.pcrf.may_resolve(&imsi(LOW), "evil.example"));
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    assert!(!s.pcrf.may_resolve(&imsi(LOW), "api.acme.example"), "quarantine has no such name");
}

/// Resolved hosts follow the names the policy allows: a name outside it adds nothing; an
/// announcement that changes nothing (the same change heard twice: from the use case, then from the
/// database's feed) keeps them; a quarantine, whose allowlist has no such name, removes them.
#[tokio::test]
async fn resolved_hosts_stay_while_the_policy_allows_their_name() {
    let (s, mut link, _stop) = live(fast(), LOW).await;
    s.pcrf.allow_resolved(&imsi(LOW), "evil.example", &[ip("192.0.2.66")], Duration::from_secs(600));
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(200)).await.is_none(), "a name outside the allowlist opens nothing");
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("203.0.113.80")], Duration::from_secs(600));
    let rar = link.next(Duration::from_secs(1)).await.expect("RAR with the host rule");
    let host = installed(&rar).0.iter().map(rule).find(|r| r.1 == PRECEDENCE_HOST).expect("host rule");
    s.pcrf.settle().await;
    // Announced again (twice), nothing changed: the host rule stays, nothing is pushed.
    s.pcrf.sim_changed(&imsi(LOW));
    s.pcrf.sim_announced(&imsi(LOW));
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(300)).await.is_none(), "an unchanged policy keeps the host");
    // Quarantined: the host rule goes with the allowlist.
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR for the quarantine");
    assert!(removed(&rar).contains(&host.0), "the host rule is removed: {:?}", removed(&rar));
}

/// A PCEF that refuses the change and then the release (an error answer) keeps the session pending:
/// it is not forgotten while the P-GW still enforces the old rules. When the P-GW's connection comes
/// back, the release is sent at once, and once confirmed and ended (CCR-T) nothing is owed.
#[tokio::test]
async fn an_unconfirmed_release_is_retried_when_the_pcef_reconnects() {
    let s = setup().await;
    let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
    let pgw = testkit::gx::Pgw::connect_with_state(addr, PGW, REALM, REALM, 1).await.unwrap();
    pgw.set_auto_terminate(false);
    let spec = testkit::gx::SessionSpec::new(LOW, "meters.example", std::net::Ipv4Addr::new(10, 45, 0, 9));
    let cca = pgw.ccr_initial(&spec).await;
    assert!(cca.is_success(), "{:?}", cca.message);
    let sid = cca.session_id.clone();
    pgw.refuse_with(Some(rc::UNABLE_TO_COMPLY));
    let notifier = Notifier(s.pcrf.clone());
    cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "test").await.unwrap();
    s.pcrf.settle().await;
    let c = s.pcrf.counters();
    assert_eq!((c.rar_failed, c.asr, c.sessions, c.unconfirmed), (1, 1, 1, 1));
    assert!(pgw.session(&sid).unwrap().allows(ip("198.51.100.1"), 443, 6), "the P-GW still has the old rules");
    assert!(s.pcrf.lookup_ip(ip("10.45.0.9")).is_none(), "released here: no address");
    assert_eq!(s.temp.store.gx_sessions().await.unwrap().len(), 1, "the row stays until confirmed");
    // The connection is lost and comes back; the P-GW answers again.
    pgw.refuse_with(None);
    pgw.reconnect().await.unwrap();
    let r = pgw.next_release(Duration::from_secs(2)).await.expect("release sent again on reconnect");
    assert_eq!(r.session_id, sid);
    assert!(pgw.ccr_terminate(&sid).await.is_success());
    s.pcrf.settle().await;
    let c = s.pcrf.counters();
    assert_eq!((c.sessions, c.unconfirmed, c.asr), (0, 0, 1));
    assert!(s.temp.store.gx_sessions().await.unwrap().is_empty());
}

/// Without a reconnect, an unconfirmed release is tried again after `retry_min_ms` (doubling) until
/// the PCEF takes it.
#[tokio::test]
async fn an_unconfirmed_release_is_tried_again_until_the_pcef_confirms() {
    let s = setup_with(PcrfConfig { retry_min_ms: 100, retry_max_ms: 400, ..fast() }).await;
    let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
    let pgw = testkit::gx::Pgw::connect_with_state(addr, PGW, REALM, REALM, 1).await.unwrap();
    let spec = testkit::gx::SessionSpec::new(LOW, "meters.example", std::net::Ipv4Addr::new(10, 45, 0, 9));
    let sid = pgw.ccr_initial(&spec).await.session_id;
    pgw.refuse_with(Some(rc::UNABLE_TO_COMPLY));
    let notifier = Notifier(s.pcrf.clone());
    cmp::sims::change_status(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), SimStatus::Suspended).await.unwrap();
    s.pcrf.settle().await;
    assert_eq!(s.pcrf.counters().unconfirmed, 1);
    // The release, then two retries, each refused.
    for n in 0..3 {
        let m = pgw.next_rar(Duration::from_secs(5)).await.unwrap_or_else(|| panic!("release attempt {n}"));
        assert_eq!(m.get_u32(avp::SESSION_RELEASE_CAUSE), Some(1));
    }
    assert_eq!(s.pcrf.counters().unconfirmed, 1);
    pgw.refuse_with(None);
    let r = pgw.next_release(Duration::from_secs(5)).await.expect("a retry is taken");
    assert_eq!(r.session_id, sid);
}

/// `max_sessions_per_imsi` and `max_sessions_per_pcef`: a CCR-I beyond either is refused with 5006
/// DIAMETER_RESOURCES_EXCEEDED and counted; existing sessions stay, renewing one is not a new one,
/// and another PCEF is not affected.
#[tokio::test]
async fn session_caps_refuse_new_sessions_only() {
    let s = setup_with(PcrfConfig { max_sessions_per_imsi: 2, max_sessions_per_pcef: 3, ..fast() }).await;
    let open = |id: &str, who: &str, ip: u8| ccr_i(PGW, id, who, [10, 45, 0, ip]);
    assert_eq!(s.pcrf.answer(open("pgw1;1", LOW, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.answer(open("pgw1;2", LOW, 2), PGW).await.result_code(), Some(rc::SUCCESS));
    let a = s.pcrf.answer(open("pgw1;3", LOW, 3), PGW).await;
    assert_eq!(a.result_code(), Some(rc::RESOURCES_EXCEEDED));
    assert_eq!(a.header.flags & flags::E, 0, "5006 is not a protocol error");
    assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("max_sessions_per_imsi"));
    assert_eq!(s.pcrf.answer(open("pgw1;1", LOW, 1), PGW).await.result_code(), Some(rc::SUCCESS), "renewal");
    assert_eq!(s.pcrf.answer(open("pgw1;4", METER, 4), PGW).await.result_code(), Some(rc::SUCCESS));
    let a = s.pcrf.answer(open("pgw1;5", METER, 5), PGW).await;
    assert_eq!(a.result_code(), Some(rc::RESOURCES_EXCEEDED));
    assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("max_sessions_per_pcef"));
    assert_eq!(
        s.pcrf.answer(ccr_i("pgw2", "pgw2;1", METER, [10, 45, 1, 1]), "pgw2").await.result_code(),
        Some(rc::SUCCESS)
    );
    let c = s.pcrf.counters();
    assert_eq!((c.session_cap_refused, c.sessions), (2, 4));
    assert!(s.pcrf.lookup_ip(ip("10.45.0.3")).is_none());
    assert_eq!(s.pcrf.answer(ccr_u_usage(PGW, "pgw1;2", 1, 1, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    // A session that ends makes room.
    assert_eq!(s.pcrf.answer(ccr(PGW, "pgw1;2", 3, 2), PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.answer(open("pgw1;3", LOW, 3), PGW).await.result_code(), Some(rc::SUCCESS));
}
