//! Steering of roaming end to end against simulated cards (ROAM-5): a network marked risky is moved
//! to the end of every affected card's EF_OPLMNwAcT; critical SIMs are written last; a SIM whose PoR
//! keeps failing is retried, then reported failed without holding the others back; when the mark
//! expires the lists are written back (the failed SIM too, since its content is unknown); nothing is
//! resent when nothing changed; a newer mark supersedes the pending items of an older job.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{imsi, oplmn_entries, platform, settings};
use ota::plmn::{decode_list, demote, Plmn, PlmnEntry};
use store::access::Scope;
use testkit::uicc::Fault;

fn risky_id() -> ids::Plmn {
    "26201".parse().unwrap()
}

fn oplmn_on(p: &common::Platform, i: u32) -> Vec<PlmnEntry> {
    decode_list(&p.network.card(&imsi(i)).unwrap().files[&0x6F61]).unwrap()
}

#[tokio::test]
async fn mark_risky_steers_the_cards_and_expiry_restores_them() {
    let p = platform(5, &[0], settings(1000.0)).await;
    // SIM 3's PoRs come back garbled three times: the card applies the update, the server cannot tell.
    p.network.fault(&imsi(3), vec![Fault::AnswerWith(vec![0x02, 0x71, 0x00, 0x00, 0x01, 0x00]); 3]);
    let risky: Plmn = Plmn::parse("26201").unwrap();
    let steered = demote(&oplmn_entries(), risky).unwrap();

    let marked = std::time::Instant::now();
    let job = p
        .engine
        .mark_risky(&["26201".parse().unwrap()], &[], Some(Duration::from_millis(2500)), "operator")
        .await
        .unwrap()
        .expect("a steering job");
    assert_eq!((job.kind.as_str(), job.total), ("steering", 5));
    let job = p.engine.run_job(&job.id).await.unwrap();
    assert_eq!((job.done, job.failed, job.state.as_str()), (4, 1, "completed_with_errors"));
    for i in [0, 1, 2, 4] {
        let list = oplmn_on(&p, i);
        assert_eq!(list, steered, "SIM {i}");
        assert_eq!(list[2].plmn, Some(risky), "26201 is no longer preferred");
    }
    let failed = p.store().ota_job_items(&Scope::Operator, &job.id, "failed", 10).await.unwrap();
    assert_eq!((failed[0].imsi.clone(), failed[0].attempts), (imsi(3), 3));
    let sent = p.network.sent();
    assert_eq!(sent.last(), Some(&imsi(0)), "the critical SIM is written last: {sent:?}");
    assert_eq!(sent.iter().filter(|s| **s == imsi(3)).count(), 3);
    assert_eq!(p.engine.por_stats().invalid, 3);
    // EF_PLMNwAcT is not the profile's to rewrite.
    assert_eq!(p.network.card(&imsi(1)).unwrap().files[&0x6F60], vec![0xFF; 20]);

    // Nothing changed: nothing is planned or sent; a plan for the same networks would only write the
    // SIM whose content is unknown.
    assert!(p.engine.follow_risky("firewall").await.unwrap().is_none());
    let again = p.engine.plan_steering(&[risky_id()].into()).await.unwrap();
    assert_eq!(again.items.iter().map(|i| i.imsi.clone()).collect::<Vec<_>>(), vec![imsi(3)]);
    assert_eq!(p.network.sent().len(), sent.len());

    // The mark expires: every SIM gets its list back, SIM 3 included (its content is unknown).
    tokio::time::sleep(Duration::from_millis(2600).saturating_sub(marked.elapsed())).await;
    assert!(p.engine.risky_now().is_empty());
    let undo = p.engine.follow_risky("firewall").await.unwrap().expect("an undo job");
    assert_eq!(undo.total, 5);
    let undo = p.engine.run_job(&undo.id).await.unwrap();
    assert_eq!((undo.done, undo.failed), (5, 0));
    for i in 0..5 {
        assert_eq!(oplmn_on(&p, i), oplmn_entries(), "SIM {i} restored");
    }
    // And planning again finds every card as it should be.
    assert!(p.engine.plan_steering(&BTreeSet::new()).await.unwrap().items.is_empty());
    let h = p.store().ota_history(&Scope::Operator, &imsi(1).parse().unwrap(), 10).await.unwrap().unwrap();
    assert_eq!(h.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(), vec!["por_ok", "por_ok"]);
}

#[tokio::test]
async fn a_newer_mark_supersedes_pending_items_and_the_firewall_source_is_followed() {
    let p = platform(2, &[], settings(1000.0)).await;
    let first = p.engine.mark_risky(&["26201".parse().unwrap()], &[], None, "op").await.unwrap().unwrap();
    // Before the first job runs, the firewall marks 26202 too.
    p.engine.set_risky_source(std::sync::Arc::new(|| ["26202".parse().unwrap()].into()));
    let second = p.engine.follow_risky("firewall").await.unwrap().expect("a second job");
    let first = p.engine.run_job(&first.id).await.unwrap();
    assert_eq!((first.total, first.done, first.state.as_str()), (0, 0, "succeeded"), "superseded");
    let second = p.engine.run_job(&second.id).await.unwrap();
    assert_eq!((second.done, second.failed), (2, 0));
    let names: Vec<String> = oplmn_on(&p, 1).iter().filter_map(|e| e.plmn).map(|p| p.to_string()).collect();
    assert_eq!(names, vec!["20801", "26201", "26202"], "both risky networks demoted");
    // Clearing the manual mark leaves the firewall's: 26201 comes back first, 26202 stays last.
    let third = p.engine.mark_risky(&[], &["26201".parse().unwrap()], None, "op").await.unwrap().unwrap();
    p.engine.run_job(&third.id).await.unwrap();
    let names: Vec<String> = oplmn_on(&p, 0).iter().filter_map(|e| e.plmn).map(|p| p.to_string()).collect();
    assert_eq!(names, vec!["26201", "20801", "26202"]);
}

#[tokio::test]
async fn the_running_engine_follows_the_firewall_marks_and_their_expiry() {
    let mut s = settings(1000.0);
    s.steering_poll = Duration::from_millis(50);
    let p = platform(3, &[2], s).await;
    let config = firewall::FirewallConfig::from_toml(&testkit::roaming::two_partners("")).unwrap();
    let fw = firewall::Firewall::new(config).unwrap();
    let source = fw.clone();
    p.engine.set_risky_source(std::sync::Arc::new(move || {
        source.engine().risky_plmns(std::time::Instant::now()).iter().filter_map(|s| s.parse().ok()).collect()
    }));
    let supervisor = p.engine.start().await.unwrap();
    fw.mark_risky("26201", Some(Duration::from_millis(1500))).unwrap();
    let steered = demote(&oplmn_entries(), Plmn::parse("26201").unwrap()).unwrap();
    let wait_for = |want: Vec<PlmnEntry>| {
        let p = &p;
        async move {
            for _ in 0..300 {
                if (0..3).all(|i| oplmn_on(p, i) == want) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    assert!(wait_for(steered).await, "the firewall's mark reached every card");
    assert_eq!(p.network.sent().last(), Some(&imsi(2)), "critical last");
    assert!(wait_for(oplmn_entries()).await, "the expired mark was undone on every card");
    assert_eq!(p.network.sent().len(), 6, "one write each way per SIM, nothing more");
    supervisor.abort();
}
