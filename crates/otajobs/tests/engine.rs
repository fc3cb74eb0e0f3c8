//! The OTA engine against simulated cards: an update-file job writes every SIM and records PoR
//! results in the history; lost PoRs are retried with fresh counters; critical SIMs are sent last;
//! replayed, unknown and late PoRs are refused and counted; a job interrupted by a restart resumes
//! without resending confirmed items; PoRs in the delivery report work as well as MO PoRs.

mod common;

use std::time::Duration;

use common::{imsi, platform, settings};
use otajobs::JobRequest;
use store::access::Scope;
use testkit::uicc::Fault;

fn update(imsis: &[String], data: &str) -> JobRequest {
    JobRequest::UpdateFile { imsis: imsis.to_vec(), path: "3F00/7FFF/6F07".into(), offset: 0, data: data.into() }
}

#[tokio::test]
async fn update_file_reaches_every_card_with_retries_and_critical_last() {
    let p = platform(4, &[0], settings(500.0)).await;
    let sims: Vec<String> = (0..4).map(imsi).collect();
    // SIM 1 loses its first PoR (timeout, retried); SIM 2's first message is refused (retried).
    p.network.fault(&sims[1], vec![Fault::LosePor]);
    p.network.fault(&sims[2], vec![Fault::Refuse { retry: true }]);
    let job = p.engine.submit(&Scope::Operator, "alice", &update(&sims, "091132547698103254")).await.unwrap().unwrap();
    assert_eq!((job.total, job.pending(), job.state.as_str()), (4, 4, "queued"));
    let job = p.engine.run_job(&job.id).await.unwrap();
    assert_eq!((job.done, job.failed, job.state.as_str()), (4, 0, "succeeded"));
    for s in &sims {
        assert_eq!(hex::encode(&p.network.card(s).unwrap().files[&0x6F07]), "091132547698103254", "{s}");
    }
    let sent = p.network.sent();
    assert_eq!(sent.last(), Some(&sims[0]), "the critical SIM is sent last: {sent:?}");
    assert_eq!(sent.iter().filter(|s| **s == sims[1]).count(), 2, "lost PoR: sent again");

    let h = p.store().ota_history(&Scope::Tenant("acme".into()), &sims[1].parse().unwrap(), 10).await.unwrap().unwrap();
    assert_eq!(h.len(), 1, "one command per item, its attempts counted");
    let c = &h[0];
    assert_eq!(
        (c.state.as_str(), c.por_status.as_deref(), c.sw.as_deref(), c.attempts),
        ("por_ok", Some("por_ok"), Some("9000"), 2)
    );
    assert_eq!(c.summary, "update 3F00/7FFF/6F07 at 0 (9 bytes)");
    assert_eq!(c.cntr, Some(2), "the retry used a fresh counter");
    assert_eq!(p.network.card(&sims[1]).unwrap().counter.value(), 2);
    assert!(p
        .store()
        .ota_history(&Scope::Tenant("other".into()), &sims[1].parse().unwrap(), 10)
        .await
        .unwrap()
        .is_none());
    assert_eq!(p.engine.por_stats().matched, 4);
}

#[tokio::test]
async fn a_sim_that_keeps_failing_is_reported_failed_without_blocking_the_others() {
    let p = platform(3, &[], settings(500.0)).await;
    let sims: Vec<String> = (0..3).map(imsi).collect();
    // SIM 0's card answers garbage every time; SIM 2 is refused for good at once.
    p.network.fault(&sims[0], vec![Fault::AnswerWith(vec![0x02, 0x71, 0x00, 0x00, 0x01, 0x00]); 3]);
    p.network.fault(&sims[2], vec![Fault::Refuse { retry: false }]);
    let job = p.engine.submit(&Scope::Operator, "alice", &update(&sims, "00")).await.unwrap().unwrap();
    let job = p.engine.run_job(&job.id).await.unwrap();
    assert_eq!((job.done, job.failed, job.state.as_str()), (1, 2, "completed_with_errors"));
    let failed = p.store().ota_job_items(&Scope::Operator, &job.id, "failed", 10).await.unwrap();
    let by = |i: usize| failed.iter().find(|f| f.imsi == sims[i]).unwrap();
    assert_eq!(by(0).attempts, 3, "retried up to the bound");
    assert!(by(0).detail.contains("no PoR"), "{}", by(0).detail);
    assert_eq!(by(2).attempts, 1, "a permanent refusal is not retried");
    assert_eq!(p.engine.por_stats().invalid, 3, "the garbage PoRs were refused");
}

#[tokio::test]
async fn replayed_unknown_and_late_pors_are_refused_and_counted() {
    use sms::MoHandler;
    let mut s = settings(500.0);
    s.max_attempts = 2;
    let p = platform(1, &[], s).await;
    let sim = imsi(0);
    p.network.fault(&sim, vec![Fault::HoldPor]);
    let job =
        p.engine.submit(&Scope::Operator, "alice", &update(std::slice::from_ref(&sim), "01")).await.unwrap().unwrap();
    let job = p.engine.run_job(&job.id).await.unwrap();
    assert_eq!(job.done, 1);
    let held = p.network.take_held(&sim);
    assert_eq!(held.len(), 1, "the first PoR was held back past its timeout");
    let mo = |ud: Vec<u8>| sms::MoMessage {
        imsi: Some(sim.parse().unwrap()),
        msisdn: None,
        destination: "4912345".into(),
        pid: 0x7F,
        dcs: 0xF6,
        udhi: true,
        user_data: ud,
        via: sms::Via::Smpp,
    };
    let late = p.engine.received(&mo(held[0].clone())).await;
    assert!(matches!(late, sms::MoVerdict::Failed { ref reason, .. } if reason.contains("late")), "{late:?}");
    // The second attempt's PoR (counter 2), replayed: the card simulator answers it again as a fresh
    // PoR would be built, so take it from a card copy that accepts counter 2 once more.
    let mut card = p.network.card(&sim).unwrap();
    card.counter = ota::Counter::new(1).unwrap();
    let ks = ota::KeySet::new(0x12, 0x12, &common::ENC, &common::MAC).unwrap();
    let spi = p.engine.settings().spi;
    let header = ota::CommandHeader { spi, tar: ota::rfm::tar::USIM_RFM, cntr: ota::Counter::new(2).unwrap() };
    let packet = ota::build_command(&header, &ks, &[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00]).unwrap();
    let por = card.receive(&ota::sms::user_data_segments(&packet, 2).unwrap());
    let replay = p.engine.received(&mo(por)).await;
    assert!(matches!(replay, sms::MoVerdict::Failed { ref reason, .. } if reason.contains("replayed")), "{replay:?}");
    // A counter never sent.
    let header = ota::CommandHeader { cntr: ota::Counter::new(9).unwrap(), ..header };
    let packet = ota::build_command(&header, &ks, &[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00]).unwrap();
    let por = card.receive(&ota::sms::user_data_segments(&packet, 9).unwrap());
    let unknown = p.engine.received(&mo(por)).await;
    assert!(
        matches!(unknown, sms::MoVerdict::Failed { ref reason, .. } if reason.contains("never sent")),
        "{unknown:?}"
    );
    // Not addressed to the OTA originator.
    let other = p.engine.received(&sms::MoMessage { destination: "999".into(), ..mo(vec![0x02, 0x71, 0]) }).await;
    assert!(matches!(other, sms::MoVerdict::Failed { .. }));
    let st = p.engine.por_stats();
    assert_eq!((st.matched, st.late, st.replayed, st.unknown), (1, 1, 1, 1));
}

#[tokio::test]
async fn a_restarted_engine_resumes_without_resending_confirmed_items() {
    let mut s = settings(500.0);
    s.por_timeout = Duration::from_secs(30);
    let p = platform(3, &[], s.clone()).await;
    let sims: Vec<String> = (0..3).map(imsi).collect();
    // SIM 2's PoR never comes while the first engine runs.
    p.network.fault(&sims[2], vec![Fault::LosePor]);
    let job = p.engine.submit(&Scope::Operator, "alice", &update(&sims, "0a0b")).await.unwrap().unwrap();
    let runner = {
        let (e, id) = (p.engine.clone(), job.id.clone());
        tokio::spawn(async move { e.run_job(&id).await })
    };
    // Wait until SIMs 0 and 1 are confirmed and SIM 2's command is out (waiting for its PoR), then
    // "crash".
    let third: ids::Imsi = sims[2].parse().unwrap();
    for _ in 0..500 {
        let j = p.store().ota_job(&Scope::Operator, &job.id).await.unwrap().unwrap();
        let sent = !p.store().ota_history(&Scope::Operator, &third, 10).await.unwrap().unwrap().is_empty();
        if j.done == 2 && sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    runner.abort();
    let j = p.store().ota_job(&Scope::Operator, &job.id).await.unwrap().unwrap();
    assert_eq!((j.done, j.pending(), j.state.as_str()), (2, 1, "running"));

    let network = testkit::uicc::SimNetwork::new();
    for s in &sims {
        network.insert(s, p.network.card(s).unwrap());
    }
    let engine = p.engine_again(network.clone(), settings(500.0));
    let _supervisor = engine.start().await.unwrap();
    let h = p.store().ota_history(&Scope::Operator, &sims[2].parse().unwrap(), 10).await.unwrap().unwrap();
    assert_eq!(h[0].state, "timeout", "the command left waiting by the crashed engine");
    let mut done = None;
    for _ in 0..300 {
        let j = p.store().ota_job(&Scope::Operator, &job.id).await.unwrap().unwrap();
        if j.state == "succeeded" {
            done = Some(j);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let j = done.expect("the job finishes after the restart");
    assert_eq!((j.done, j.failed), (3, 0));
    assert_eq!(network.sent(), vec![sims[2].clone()], "only the unconfirmed SIM is sent again");
    assert_eq!(network.card(&sims[2]).unwrap().counter.value(), 2, "with a fresh counter");
}

#[tokio::test]
async fn pors_in_the_delivery_report_are_taken_too() {
    let p = platform(2, &[], settings(500.0)).await;
    let network = testkit::uicc::SimNetwork::answering_in_report();
    for i in 0..2 {
        network.insert(&imsi(i), p.network.card(&imsi(i)).unwrap());
    }
    let engine = p.engine_again(network.clone(), settings(500.0));
    let sims: Vec<String> = (0..2).map(imsi).collect();
    let job = engine.submit(&Scope::Operator, "alice", &update(&sims, "ff")).await.unwrap().unwrap();
    let job = engine.run_job(&job.id).await.unwrap();
    assert_eq!((job.done, job.failed), (2, 0));
    assert_eq!(network.card(&sims[1]).unwrap().files[&0x6F07][0], 0xff);
}

#[tokio::test]
async fn requests_are_checked_whole_and_scoped_to_the_tenant() {
    let p = platform(2, &[], settings(500.0)).await;
    let e = &p.engine;
    let other = Scope::Tenant("other".into());
    let err = e.submit(&other, "bob", &update(&[imsi(0)], "00")).await.unwrap_err();
    assert!(matches!(err, otajobs::RequestError::UnknownSim(ref i) if *i == imsi(0)), "another tenant's SIM: {err}");
    let acme = Scope::Tenant("acme".into());
    let err = e.submit(&acme, "bob", &update(&[imsi(0), "001019999999999".into()], "00")).await.unwrap_err();
    assert!(matches!(err, otajobs::RequestError::UnknownSim(_)));
    assert!(matches!(e.submit(&acme, "bob", &update(&[imsi(0)], "0")).await, Err(otajobs::RequestError::Invalid(_))));
    assert!(matches!(
        e.submit(&acme, "bob", &update(&[imsi(0), imsi(0)], "00")).await,
        Err(otajobs::RequestError::Invalid(_))
    ));
    let steer = JobRequest::Steering { mark: vec!["26201".into()], clear: vec![], for_secs: None };
    assert!(matches!(e.submit(&acme, "bob", &steer).await, Err(otajobs::RequestError::Forbidden)));
    assert!(p.store().unfinished_ota_jobs().await.unwrap().is_empty(), "nothing was created");
    let job = e.submit(&acme, "bob", &update(&[imsi(1)], "00")).await.unwrap().unwrap();
    assert_eq!(job.tenant, "acme");
    assert!(p.store().ota_job(&other, &job.id).await.unwrap().is_none());
}
