//! A firewall that falls behind (its CPU taken by something else) reads a backlog of requests at once.
//! Admission must then still serve critical devices first: the backlog is screened in priority order,
//! not in arrival order, so standard requests early in it cannot take the tokens that critical ones
//! later in it need (ROAM-3).
//!
//! Set-up: capacity 2,000/s (a bucket of 100 tokens; critical requests may use a reserve of about 50
//! more, standard ones stop at 51). One write of 40 standard AIRs followed by 130 critical ones
//! (about 26 KB, one read of the firewall's 32 KiB buffer). In arrival order the standard requests
//! take about 40 tokens first and some 20 critical requests are shed; critical first, all 130 pass.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use diameter::Message;

#[tokio::test]
async fn a_backlog_read_at_once_serves_its_critical_requests_first() {
    let hss = start_upstream(None).await;
    let extra = "[overload]\ncapacity_per_sec = 2000\n[priority]\ncritical_imsi_prefixes = [\"0010199\"]";
    let mut config = base_config(hss.addr, extra);
    config.max_in_flight = 4096;
    let fw = start_firewall(config).await;
    let mut partner = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    // A full bucket to start from.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut batch = Vec::new();
    let mut critical = HashSet::new();
    let mut hop = 10_000u32;
    let mut add = |imsi: String, is_critical: bool, batch: &mut Vec<u8>| {
        hop += 1;
        let mut m = air(ALPHA, &imsi, ALPHA_PLMN);
        m.header.hop_by_hop = hop;
        m.header.end_to_end = hop;
        if is_critical {
            critical.insert(hop);
        }
        batch.extend_from_slice(&m.encode());
    };
    for i in 0..40 {
        add(format!("00101880000{i:04}"), false, &mut batch);
    }
    for i in 0..130 {
        add(format!("00101990000{i:04}"), true, &mut batch);
    }
    assert!(batch.len() < 32 * 1024, "the backlog fits one read: {} bytes", batch.len());
    partner.send_raw(&batch).await;

    let (mut critical_ok, mut critical_other, mut standard_ok) = (0, 0, 0);
    for _ in 0..170 {
        let frame = partner.recv_raw(Duration::from_secs(5)).await.expect("every request is answered");
        let m = Message::decode(&frame).unwrap();
        let ok = code(&m) == 2001;
        match (critical.contains(&m.header.hop_by_hop), ok) {
            (true, true) => critical_ok += 1,
            (true, false) => critical_other += 1,
            (false, true) => standard_ok += 1,
            (false, false) => {}
        }
    }
    assert_eq!((critical_ok, critical_other), (130, 0), "standard admitted: {standard_ok}");
    // The capacity bound holds: what critical requests left of the bucket is all standard ones got.
    assert!(standard_ok <= 10, "standard admitted after the critical ones: {standard_ok}");
}
