//! `warden cluster status`: the `warden serve` instances registered on the configured database,
//! whether each is live (heartbeat within 5 s), the Diameter peers each holds, and the CLR/IDR
//! waiting in the outbox per serving node — with the nodes no live instance reaches flagged, since
//! what waits for them expires unsent.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::json;
use store::cluster::{now_ms, Backlog, Instance};

use crate::config::Config;
use crate::{storage, Failure};

use hss::LIVE_WITHIN_MS;

fn state(i: &Instance, now: i64) -> &'static str {
    match (i.stopped_at, i.is_live(now, LIVE_WITHIN_MS)) {
        (Some(_), _) => "stopped",
        (None, true) => "live",
        (None, false) => "silent",
    }
}

/// Who reaches `host` among the live instances: a peer of theirs, or behind a relay that is.
fn reached_by<'a>(instances: &'a [Instance], routes: &HashMap<String, String>, host: &str, now: i64) -> Vec<&'a str> {
    let via = routes.get(host);
    instances
        .iter()
        .filter(|i| i.is_live(now, LIVE_WITHIN_MS) && i.peers.iter().any(|(h, _)| h == host || Some(h) == via))
        .map(|i| i.info.id.as_str())
        .collect()
}

/// The report as text.
fn text(instances: &[Instance], routes: &HashMap<String, String>, backlog: &[Backlog], now: i64, now_s: i64) -> String {
    let mut out = String::new();
    let live = instances.iter().filter(|i| i.is_live(now, LIVE_WITHIN_MS)).count();
    let _ = writeln!(out, "{live} live instance(s) of {} registered", instances.len());
    let _ = writeln!(
        out,
        "{:<16}  {:<24}  {:<21}  {:<7}  {:>10}  {:>5}",
        "INSTANCE", "NAME", "DIAMETER", "STATE", "HEARTBEAT", "PEERS"
    );
    for i in instances {
        let age = format!("{:.1} s ago", (now - i.heartbeat_at) as f64 / 1000.0);
        let _ = writeln!(
            out,
            "{:<16}  {:<24}  {:<21}  {:<7}  {:>10}  {:>5}",
            i.info.id,
            i.info.name,
            i.info.diameter,
            state(i, now),
            age,
            i.peers.len()
        );
        for (host, via) in &i.peers {
            let how = if via.is_empty() { "direct".to_string() } else { format!("via {via}") };
            let _ = writeln!(out, "    {host} ({how})");
        }
    }
    if backlog.is_empty() {
        let _ = writeln!(out, "outbox: empty");
    } else {
        let _ = writeln!(out, "outbox (CLR/IDR waiting):");
        for b in backlog {
            let by = reached_by(instances, routes, &b.host, now);
            let who = if by.is_empty() {
                "reached by no live instance".to_string()
            } else {
                format!("reached by {}", by.join(", "))
            };
            let _ = writeln!(out, "    {}: {} pending, oldest {} s — {who}", b.host, b.pending, now_s - b.oldest);
        }
    }
    out
}

/// The report as JSON.
fn machine(
    instances: &[Instance],
    routes: &HashMap<String, String>,
    backlog: &[Backlog],
    now: i64,
    now_s: i64,
) -> serde_json::Value {
    json!({
        "instances": instances.iter().map(|i| json!({
            "id": i.info.id,
            "name": i.info.name,
            "diameter": i.info.diameter,
            "http": i.info.http,
            "version": i.info.version,
            "sqn_allocation": i.info.sqn_allocation,
            "state": state(i, now),
            "started_at_ms": i.started_at,
            "heartbeat_age_ms": now - i.heartbeat_at,
            "peers": i.peers.iter().map(|(h, v)| json!({"host": h, "via": v})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outbox": backlog.iter().map(|b| json!({
            "host": b.host,
            "pending": b.pending,
            "oldest_age_s": now_s - b.oldest,
            "reached_by": reached_by(instances, routes, &b.host, now),
        })).collect::<Vec<_>>(),
    })
}

/// `warden cluster status [--json]`.
pub async fn status(config: &Config, as_json: bool) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    let failed = |e: store::StoreError| Failure::Failed(e.to_string());
    let instances = store.instances().await.map_err(failed)?;
    let backlog = store.outbox_backlog().await.map_err(failed)?;
    let routes: HashMap<String, String> = store.relay_routes().await.map_err(failed)?.into_iter().collect();
    let (now, now_s) = (now_ms(), store::now());
    Ok(if as_json {
        machine(&instances, &routes, &backlog, now, now_s).to_string()
    } else {
        text(&instances, &routes, &backlog, now, now_s)
    })
}
