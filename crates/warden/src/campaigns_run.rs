//! The firmware campaign engine of `warden serve` with `[devices]` (DM-2, docs/firmware.md): drives
//! the running campaigns through this instance's LwM2M server.
//!
//! Each round ([`Engine::step`], once a second) fails devices whose driving instance stopped (expired
//! leases), pauses a campaign whose failure ratio passed its threshold, finishes one with no device
//! left, and — only inside the campaign's maintenance window, canaries first, at most
//! `max_concurrent` devices in flight — claims pending devices that are registered *here* (a
//! conditional update in the store: two instances never offer one device twice) and delivers the
//! image to each ([`deliver`]):
//!
//! 1. checks: the device belongs to the campaign's tenant; a critical SIM's device only when the
//!    campaign includes them and a second person approved; the stored image still matches its
//!    manifest (size, SHA-256); the device's model (3/0/1) is the manifest's; the version policy
//!    against what the device reports in 3/0/3 (no downgrade or reinstall unless allowed);
//! 2. chooses the delivery ([`choose_delivery`]): the campaign's (`pull` by default), unless the
//!    device reports it supports only the other one (5/0/9 Firmware Update Delivery Method), or
//!    cannot pull over this server's protocol (5/0/8 Firmware Update Protocol Support);
//! 3. pull: offers the image at `/fw/{random token}` to that device only, observes State (5/0/3)
//!    and Update Result (5/0/5), writes the Package URI (5/0/1); when the device reports Downloaded
//!    (State 2) *and* every block was served, goes on; Downloaded with blocks missing is a failure
//!    (cut off), so is a stalled transfer.
//!    push: writes the image into Package (5/0/0) with Block1 ([`coap::block1::Block1Sender`]:
//!    1024-byte blocks, or the smaller size the device answers with; a block unanswered for the
//!    stall time is sent again, twice at most, then the transfer is cut off and fails), then waits
//!    for State 2;
//!    either way it then executes Update (5/0/2);
//! 4. succeeds only when the device reports Update Result 1 and, after it registered again or
//!    updated its registration, its firmware version (3/0/3) equals the manifest's. Update Result
//!    2–9 and time-outs are failures, each with its reason.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cmp::campaigns::{past_threshold, Window};
use cmp::EventKind;
use coap::block1::{Block1Sender, Next};
use firmware::{Manifest, UpdatePolicy, Version};
use lwm2m::content::{self, Value};
use lwm2m::runtime::Service;
use lwm2m::server::{OpError, Operation};
use lwm2m::Path;
use sha2::{Digest, Sha256};
use store::access::Scope;
use store::campaigns::{CampaignRow, Claim, Delivery, CRITICAL_REASON};
use store::model::Priority;
use store::Store;
use tokio_util::sync::CancellationToken;

/// Object 5 resources (LwM2M Core, Firmware Update object).
const PACKAGE: Path = Path::resource(5, 0, 0);
const PACKAGE_URI: Path = Path::resource(5, 0, 1);
const UPDATE: Path = Path::resource(5, 0, 2);
const STATE: Path = Path::resource(5, 0, 3);
const UPDATE_RESULT: Path = Path::resource(5, 0, 5);
const PROTOCOL_SUPPORT: Path = Path::resource(5, 0, 8);
const DELIVERY_METHOD: Path = Path::resource(5, 0, 9);
const FIRMWARE_VERSION: Path = Path::resource(3, 0, 3);
const MODEL: Path = Path::resource(3, 0, 1);

/// Push blocks: 1024 bytes to start with (RFC 7959 SZX 6), each sent at most this many times.
const PUSH_SZX: u8 = 6;
const PUSH_ATTEMPTS: u8 = 3;

/// How to deliver to a device: the campaign's choice, unless the device reports it can only do
/// the other (5/0/9: 0 pull only, 1 push only, 2 both) or lists pull protocols (5/0/8: 0 CoAP,
/// 1 CoAPS, 2 HTTP, 3 HTTPS, 4 CoAP/TCP, 5 CoAP/TLS) without `pull_protocol`, the one this server
/// offers the image over. A device that reports neither resource (LwM2M 1.0) gets the campaign's
/// choice. `Err`: the device can take the image neither way from this server.
pub fn choose_delivery(
    wanted: Delivery,
    method: Option<i64>,
    protocols: Option<&[i64]>,
    pull_protocol: i64,
) -> Result<Delivery, String> {
    let pull = method != Some(1) && protocols.is_none_or(|p| p.contains(&pull_protocol));
    let push = method != Some(0);
    match (wanted, pull, push) {
        (Delivery::Pull, true, _) | (Delivery::Push, true, false) => Ok(Delivery::Pull),
        (Delivery::Push, _, true) | (Delivery::Pull, false, true) => Ok(Delivery::Push),
        _ => Err(format!(
            "the device supports neither delivery: Delivery Method (5/0/9) {}, pull protocols (5/0/8) {:?}, \
             and this server offers the image over protocol {pull_protocol}",
            method.map_or("unknown".into(), |m| m.to_string()),
            protocols.unwrap_or_default()
        )),
    }
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This instance's name in claims.
    pub instance: String,
    /// Package URI base for plain-CoAP devices (`coap://host:port`).
    pub uri_plain: String,
    /// Package URI base for DTLS devices (`coaps://host:port`).
    pub uri_secure: String,
    /// Time between rounds.
    pub tick: Duration,
    /// A download that asks for no block this long is cut off.
    pub stall: Duration,
    /// From the offer to the device's return with the new version, at most.
    pub update_timeout: Duration,
    /// Seconds a claim lasts without renewal.
    pub lease_secs: i64,
}

/// The engine.
#[derive(Clone)]
pub struct Engine {
    service: Arc<Service>,
    store: Store,
    config: Arc<EngineConfig>,
    busy: Arc<Mutex<HashSet<(String, String)>>>,
}

fn unix_now() -> i64 {
    store::now()
}

/// One delivery under way: the campaign, the device, the image's manifest, the version the device
/// had, and when the whole update must be done.
struct Offer<'a> {
    c: &'a CampaignRow,
    endpoint: &'a str,
    device: &'a lwm2m::runtime::DeviceView,
    manifest: &'a Manifest,
    before: Option<&'a str>,
    deadline: Instant,
}

/// Why an update ended without success.
type Failure = (&'static str, String);

fn failed(reason: impl Into<String>) -> Failure {
    ("failed", reason.into())
}

fn skipped(reason: impl Into<String>) -> Failure {
    ("skipped", reason.into())
}

/// The meaning of Update Result values 2–9 (LwM2M Core, object 5 resource 5).
pub fn update_result_text(r: i64) -> String {
    let what = match r {
        2 => "not enough flash memory for the new package",
        3 => "out of RAM during the download",
        4 => "connection lost during the download",
        5 => "integrity check failure of the new package",
        6 => "unsupported package type",
        7 => "invalid URI",
        8 => "firmware update failed",
        9 => "unsupported protocol",
        _ => "unknown result",
    };
    format!("the device reports Update Result {r}: {what}")
}

impl Engine {
    /// An engine over `service` and `store`.
    pub fn new(service: Arc<Service>, store: Store, config: EngineConfig) -> Engine {
        Engine { service, store, config: Arc::new(config), busy: Default::default() }
    }

    /// Runs rounds until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {
                    if let Err(e) = self.step(unix_now()).await {
                        tracing::warn!(error = %e, "firmware campaign round failed");
                    }
                }
            }
        }
    }

    async fn event(&self, tenant: &str, imsi: Option<&str>, kind: EventKind, detail: serde_json::Value) {
        if let Err(e) = self.store.record_tenant_event(tenant, imsi, &kind.name(), &detail.to_string()).await {
            tracing::warn!(error = %e, "campaign event not recorded");
        }
    }

    /// One round at `now` (unix seconds, UTC): the devices it started delivering to.
    pub async fn step(&self, now: i64) -> store::Result<Vec<String>> {
        self.store.expire_campaign_leases(now).await?;
        let mut started = Vec::new();
        for c in self.store.running_campaigns().await? {
            let counts = self.store.campaign_counts(&c.id).await?;
            let (failures, successes) = counts.finished();
            if past_threshold(failures, successes, c.settings.failure_permille) {
                let reason = format!(
                    "failure ratio {failures}/{} passed the threshold {}",
                    failures + successes,
                    c.settings.failure_permille as f64 / 1000.0
                );
                if self.store.pause_campaign_if_running(&c.id, &reason).await? {
                    let d = serde_json::json!({"campaign": c.id, "reason": reason, "automatic": true});
                    self.event(&c.tenant, None, EventKind::FirmwareCampaignPaused, d).await;
                }
                continue;
            }
            if counts.open() == 0 {
                if self.store.finish_campaign(&c.id).await? {
                    let d = serde_json::json!({"campaign": c.id, "failed": failures, "succeeded": successes});
                    self.event(&c.tenant, None, EventKind::FirmwareCampaignFinished, d).await;
                }
                continue;
            }
            if !Window::of(&c.settings).allows(now) {
                continue;
            }
            let mut slots = c.settings.max_concurrent - counts.in_flight();
            if slots <= 0 {
                continue;
            }
            let canary_only = counts.canary_open() > 0;
            for d in self.store.pending_campaign_devices(&c.id, canary_only, 500).await? {
                if slots <= 0 {
                    break;
                }
                if self.service.device(None, &d.endpoint).is_none() {
                    continue;
                }
                let lease = now + self.config.lease_secs;
                if !self.store.claim_campaign_device(&c.id, &d.endpoint, &self.config.instance, lease).await? {
                    continue;
                }
                slots -= 1;
                started.push(d.endpoint.clone());
                self.busy.lock().expect("busy").insert((c.id.clone(), d.endpoint.clone()));
                let (engine, campaign, endpoint) = (self.clone(), c.clone(), d.endpoint);
                tokio::spawn(async move {
                    engine.drive(&campaign, &endpoint).await;
                    engine.busy.lock().expect("busy").remove(&(campaign.id.clone(), endpoint));
                });
            }
        }
        // Renew the leases of what this instance drives.
        let busy: Vec<(String, String)> = self.busy.lock().expect("busy").iter().cloned().collect();
        for (id, ep) in busy {
            self.store.renew_campaign_lease(&id, &ep, &self.config.instance, now + self.config.lease_secs).await?;
        }
        Ok(started)
    }

    async fn set_state(&self, c: &CampaignRow, endpoint: &str, state: &str, reason: &str, before: Option<&str>) {
        let lease = unix_now() + self.config.lease_secs;
        let claim = Claim { campaign: &c.id, endpoint, instance: &self.config.instance };
        let r = self.store.advance_campaign_device(&claim, state, reason, before, lease).await;
        if let Err(e) = r {
            tracing::warn!(error = %e, campaign = c.id, endpoint, state, "campaign device state not stored");
        }
    }

    /// Delivers the campaign's image to `endpoint` and records how it ended.
    async fn drive(&self, c: &CampaignRow, endpoint: &str) {
        let imsi = self.service.device(None, endpoint).and_then(|d| d.profile.imsi);
        let outcome = self.deliver(c, endpoint).await;
        let (state, reason, kind) = match &outcome {
            Ok(_) => ("succeeded", String::new(), EventKind::DeviceFirmwareUpdated),
            Err((state, reason)) => (*state, reason.clone(), EventKind::DeviceFirmwareFailed),
        };
        self.set_state(c, endpoint, state, &reason, None).await;
        crate::devices_metrics::firmware(state);
        if state == "skipped" {
            return;
        }
        let mut d = serde_json::json!({"campaign": c.id, "endpoint": endpoint, "image": c.image_id});
        match outcome {
            Ok(v) => d["version"] = v.into(),
            Err((_, r)) => d["reason"] = r.into(),
        }
        self.event(&c.tenant, imsi.as_deref(), kind, d).await;
    }

    async fn read(&self, endpoint: &str, path: Path) -> Option<Value> {
        let op = Operation::Read { path, accept: Some(content::TEXT) };
        let r = self.service.execute(endpoint, op).await.ok()?;
        if !r.code.is_success() {
            return None;
        }
        content::decode(r.content_format, &path, &r.payload).ok()?.into_iter().next().map(|(_, v)| v)
    }

    async fn read_int(&self, endpoint: &str, path: Path) -> Option<i64> {
        as_int(self.read(endpoint, path).await)
    }

    /// The instances of a multiple-instance integer resource (read in SenML JSON).
    async fn read_ints(&self, endpoint: &str, path: Path) -> Option<Vec<i64>> {
        let op = Operation::Read { path, accept: Some(content::SENML_JSON) };
        let r = self.service.execute(endpoint, op).await.ok()?;
        if !r.code.is_success() {
            return None;
        }
        let values = content::decode(r.content_format, &path, &r.payload).ok()?;
        Some(values.into_iter().filter_map(|(_, v)| as_int(Some(v))).collect())
    }

    fn observed_int(&self, endpoint: &str, path: Path) -> Option<(u64, i64)> {
        let (n, values) = self.service.observed(endpoint, path)?;
        as_int(values.into_iter().next().map(|v| v.value)).map(|i| (n, i))
    }

    /// Pre-offer checks, offer, download, update, confirmation: the new version, or why not.
    async fn deliver(&self, c: &CampaignRow, endpoint: &str) -> Result<String, Failure> {
        let device = self.service.device(None, endpoint).ok_or_else(|| failed("the device de-registered"))?;
        if device.profile.tenant.as_deref() != Some(c.tenant.as_str()) {
            return Err(skipped(format!("not a device of tenant {} (its SIM is not the tenant's)", c.tenant)));
        }
        if let Some(imsi) = device.profile.imsi.as_deref().and_then(|i| i.parse::<ids::Imsi>().ok()) {
            let sim = self.store.sim(&imsi).await.map_err(|e| failed(format!("SIM not read: {e}")))?;
            if sim.is_some_and(|s| s.priority == Priority::Critical) {
                if !c.settings.include_critical {
                    return Err(skipped("critical SIM: the campaign does not include critical SIMs' devices"));
                }
                // Read again: the approval may have come since the round started.
                let now = self.store.campaign(&Scope::Operator, &c.id).await.ok().flatten();
                if !now.is_some_and(|n| n.critical_approved) {
                    return Err(skipped(CRITICAL_REASON));
                }
            }
        }
        let (manifest, image) = self.image(c).await?;
        let model = match device.profile.model.clone() {
            Some(m) => Some(m),
            None => as_text(self.read(endpoint, MODEL).await),
        };
        if model.as_deref() != Some(manifest.model.as_str()) {
            return Err(skipped(format!(
                "the device's model is {}, the image is for {}",
                model.as_deref().unwrap_or("unknown"),
                manifest.model
            )));
        }
        let current = as_text(self.read(endpoint, FIRMWARE_VERSION).await);
        let current_v = current.as_deref().and_then(|v| Version::parse(v.trim()).ok());
        let policy =
            UpdatePolicy { allow_downgrade: c.settings.allow_downgrade, allow_reinstall: c.settings.allow_reinstall };
        policy.check(current_v.as_ref(), &manifest.version).map_err(|e| skipped(e.to_string()))?;
        let pull_protocol = if device.unsecured { 0 } else { 1 };
        // Bounded: some LwM2M 1.0 clients never answer a read of a resource they lack.
        let probe = self.config.stall.min(Duration::from_secs(5));
        let method = tokio::time::timeout(probe, self.read_int(endpoint, DELIVERY_METHOD)).await.ok().flatten();
        let protocols = tokio::time::timeout(probe, self.read_ints(endpoint, PROTOCOL_SUPPORT)).await.ok().flatten();
        let delivery =
            choose_delivery(c.settings.delivery, method, protocols.as_deref(), pull_protocol).map_err(skipped)?;
        let deadline = Instant::now() + self.config.update_timeout;
        for path in [STATE, UPDATE_RESULT] {
            let _ = self.service.execute(endpoint, Operation::Observe { path, accept: Some(content::TEXT) }).await;
        }
        let offer = Offer { c, endpoint, device: &device, manifest: &manifest, before: current.as_deref(), deadline };
        let image: Arc<[u8]> = image.into();
        match delivery {
            Delivery::Pull => {
                let token = random_token();
                if !self.service.offer_download(&token, endpoint, image) {
                    return Err(failed("the device de-registered before the offer"));
                }
                let result = self.pull(&offer, &token).await;
                self.service.withdraw_download(&token);
                result?;
            }
            Delivery::Push => self.push(&offer, &image).await?,
        }
        self.update(c, endpoint, &manifest, deadline).await
    }

    /// The stored image, checked again against its manifest.
    async fn image(&self, c: &CampaignRow) -> Result<(Manifest, Vec<u8>), Failure> {
        let parts = self
            .store
            .firmware_image_parts(&Scope::Tenant(c.tenant.clone()), &c.image_id)
            .await
            .map_err(|e| failed(format!("image not read: {e}")))?
            .ok_or_else(|| failed(format!("firmware image {} no longer exists", c.image_id)))?;
        let (manifest, _signature, image) = parts;
        let manifest = Manifest::parse(&manifest).map_err(|e| failed(format!("stored manifest refused: {e}")))?;
        let digest: [u8; 32] = Sha256::digest(&image).into();
        if image.len() as u64 != manifest.size || digest != manifest.sha256 {
            return Err(failed("the stored image no longer matches its manifest (size or SHA-256): not offered"));
        }
        Ok((manifest, image))
    }

    /// Records the offer: state `offered`, the event with the delivery.
    async fn offered(&self, o: &Offer<'_>, delivery: Delivery) {
        self.set_state(o.c, o.endpoint, "offered", "", o.before).await;
        let d = serde_json::json!({"campaign": o.c.id, "endpoint": o.endpoint,
            "version": o.manifest.version.to_string(), "delivery": delivery.as_str()});
        self.event(&o.c.tenant, o.device.profile.imsi.as_deref(), EventKind::DeviceFirmwareOffered, d).await;
    }

    /// Pull: writes the Package URI, waits until the device downloaded every block.
    async fn pull(&self, o: &Offer<'_>, token: &str) -> Result<(), Failure> {
        let (c, endpoint) = (o.c, o.endpoint);
        let base = if o.device.unsecured { &self.config.uri_plain } else { &self.config.uri_secure };
        let uri = format!("{}/fw/{token}", base.trim_end_matches('/'));
        let write = Operation::Write {
            path: PACKAGE_URI,
            format: content::TEXT,
            payload: uri.clone().into_bytes(),
            replace: true,
        };
        let r =
            self.service.execute(endpoint, write).await.map_err(|e| failed(format!("Package URI not written: {e}")))?;
        if !r.code.is_success() {
            return Err(failed(format!("the device refused the Package URI ({})", r.code)));
        }
        self.offered(o, Delivery::Pull).await;

        // Download: until the device reports Downloaded, fails, or stalls.
        let mut state_name = "offered";
        let mut last_served = 0u64;
        let mut last_move = Instant::now();
        let mut next_read = Instant::now() + Duration::from_secs(3);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let p = self.service.download(token).unwrap_or_default();
            if p.blocks > 0 && state_name == "offered" {
                state_name = "downloading";
                self.set_state(c, endpoint, "downloading", "", None).await;
            }
            if p.served != last_served {
                last_served = p.served;
                last_move = Instant::now();
            }
            let mut state = self.observed_int(endpoint, STATE).map(|(_, v)| v);
            let mut result = self.observed_int(endpoint, UPDATE_RESULT).map(|(_, v)| v);
            if Instant::now() >= next_read {
                next_read = Instant::now() + Duration::from_secs(3);
                state = self.read_int(endpoint, STATE).await.or(state);
                result = self.read_int(endpoint, UPDATE_RESULT).await.or(result);
            }
            if let Some(r @ 2..=9) = result {
                return Err(failed(update_result_text(r)));
            }
            if state == Some(2) {
                if !p.complete() {
                    return Err(failed(format!(
                        "transfer cut off: {} of {} bytes served, yet the device reports Downloaded",
                        p.served, p.total
                    )));
                }
                return Ok(());
            }
            if self.service.device(None, endpoint).is_none() {
                return Err(failed(format!(
                    "the device went away during the download ({} of {} bytes)",
                    p.served, p.total
                )));
            }
            if !p.complete() && last_move.elapsed() >= self.config.stall {
                return Err(failed(format!(
                    "transfer cut off: {} of {} bytes served, then nothing for {} s",
                    p.served,
                    p.total,
                    self.config.stall.as_secs()
                )));
            }
            if Instant::now() >= o.deadline {
                return Err(failed("time-out: the device did not report Downloaded in time"));
            }
        }
    }

    /// Push: writes the image into Package (5/0/0) block by block, then waits for Downloaded.
    async fn push(&self, o: &Offer<'_>, image: &[u8]) -> Result<(), Failure> {
        let (c, endpoint) = (o.c, o.endpoint);
        self.offered(o, Delivery::Push).await;
        let mut sender = Block1Sender::new(image.len(), PUSH_SZX, PUSH_ATTEMPTS);
        if let Some(e) = sender.failed() {
            return Err(failed(e.to_string()));
        }
        let size1 = u32::try_from(image.len()).ok();
        let mut downloading = false;
        loop {
            if Instant::now() >= o.deadline {
                return Err(failed(format!(
                    "time-out: {} of {} bytes written when the update time ran out",
                    sender.acked(),
                    sender.total()
                )));
            }
            let (block, range) = sender.current();
            let write = Operation::WriteBlock {
                path: PACKAGE,
                format: content::OPAQUE,
                block,
                size1: size1.filter(|_| block.num == 0),
                payload: image[range].to_vec(),
                replace: true,
            };
            let answer = tokio::time::timeout(self.config.stall, self.service.execute(endpoint, write)).await;
            let next = match answer {
                Ok(Ok(r)) => sender.on_response(r.code, r.block1),
                Ok(Err(OpError::Timeout)) | Err(_) => sender.on_timeout(),
                Ok(Err(e @ (OpError::Gone | OpError::UnknownDevice(_)))) => {
                    return Err(failed(format!(
                        "the device went away during the transfer ({} of {} bytes written): {e}",
                        sender.acked(),
                        sender.total()
                    )));
                }
                Ok(Err(e)) => return Err(failed(format!("Package block not written: {e}"))),
            };
            match next.map_err(|e| failed(e.to_string()))? {
                Next::Send => {
                    if !downloading && sender.acked() > 0 {
                        downloading = true;
                        self.set_state(c, endpoint, "downloading", "", None).await;
                    }
                }
                Next::Done(_) => break,
            }
        }
        // The device checks and stores the package: wait for Downloaded (or a failure).
        loop {
            let mut state = self.observed_int(endpoint, STATE).map(|(_, v)| v);
            let mut result = self.observed_int(endpoint, UPDATE_RESULT).map(|(_, v)| v);
            if state != Some(2) {
                state = self.read_int(endpoint, STATE).await.or(state);
                result = self.read_int(endpoint, UPDATE_RESULT).await.or(result);
            }
            if let Some(r @ 2..=9) = result {
                return Err(failed(update_result_text(r)));
            }
            if state == Some(2) {
                return Ok(());
            }
            if self.service.device(None, endpoint).is_none() {
                return Err(failed("the device went away after the transfer, before reporting Downloaded"));
            }
            if Instant::now() >= o.deadline {
                return Err(failed("time-out: the device took the package but did not report Downloaded in time"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Executes Update and waits for the device to come back with the manifest's version.
    async fn update(
        &self,
        c: &CampaignRow,
        endpoint: &str,
        manifest: &Manifest,
        deadline: Instant,
    ) -> Result<String, Failure> {
        self.set_state(c, endpoint, "downloaded", "", None).await;

        // Update: execute, then wait for the device to come back with the new version.
        let seen = self.service.registrations(endpoint);
        let r = self
            .service
            .execute(endpoint, Operation::Execute { path: UPDATE, args: None })
            .await
            .map_err(|e| failed(format!("Update not executed: {e}")))?;
        if !r.code.is_success() {
            return Err(failed(format!("the device refused Update ({})", r.code)));
        }
        self.set_state(c, endpoint, "updating", "", None).await;
        let mut reported_ok = false;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Some((_, r)) = self.observed_int(endpoint, UPDATE_RESULT) {
                if (2..=9).contains(&r) {
                    return Err(failed(update_result_text(r)));
                }
                reported_ok |= r == 1;
            }
            if self.service.registrations(endpoint) > seen {
                let result = self.read_int(endpoint, UPDATE_RESULT).await;
                if let Some(r @ 2..=9) = result {
                    return Err(failed(update_result_text(r)));
                }
                if result == Some(1) || (result.is_none() && reported_ok) {
                    let version = as_text(self.read(endpoint, FIRMWARE_VERSION).await);
                    let v = version.as_deref().and_then(|v| Version::parse(v.trim()).ok());
                    if v.as_ref() == Some(&manifest.version) {
                        let text = manifest.version.to_string();
                        self.service.set_profile(endpoint, |p| p.firmware = Some(text.clone()));
                        return Ok(text);
                    }
                    return Err(failed(format!(
                        "the device reports Update Result 1 but firmware version {}, not {}",
                        version.as_deref().unwrap_or("unknown"),
                        manifest.version
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(failed("time-out: the device did not come back with the new version in time"));
            }
        }
    }
}

fn as_int(v: Option<Value>) -> Option<i64> {
    match v? {
        Value::Integer(i) => Some(i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// 128 random bits, hex: the unguessable part of a Package URI.
fn random_token() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: the offer is still bound to its device, only less unguessable.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..16].copy_from_slice(&t.as_nanos().to_be_bytes());
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap::{Code, Message, MessageType, OptionNumber};
    use lwm2m::server::ServerConfig;
    use store::campaigns::NewCampaign;

    /// 2026-12-07 00:00:00 UTC, a Monday.
    const MONDAY: i64 = 1_796_601_600;

    fn config(instance: &str) -> EngineConfig {
        EngineConfig {
            instance: instance.into(),
            uri_plain: "coap://127.0.0.1:5683".into(),
            uri_secure: "coaps://127.0.0.1:5684".into(),
            tick: Duration::from_secs(1),
            stall: Duration::from_secs(5),
            update_timeout: Duration::from_secs(30),
            lease_secs: 120,
        }
    }

    /// A service with `endpoint` registered over plain CoAP.
    fn service_with(endpoint: &str) -> Arc<Service> {
        let (svc, _events) = Service::new(ServerConfig { allow_unsecured: true, ..ServerConfig::default() });
        let mut m = Message::new(MessageType::Con, Code::POST, 7, vec![1, 2]);
        m.set_uri_path("/rd");
        m.push_option(OptionNumber::URI_QUERY, format!("ep={endpoint}").into_bytes());
        m.payload = b"</3/0>,</5/0>".to_vec();
        let out = svc.handle_datagram("127.0.0.1:40000".parse().unwrap(), None, &m.encode());
        assert_eq!(Message::decode(&out[0].datagram).unwrap().code, Code::CREATED);
        svc
    }

    async fn campaign(store: &Store, endpoints: &[&str], days: &str, start: i64, end: i64) -> String {
        let c = NewCampaign {
            tenant: "acme".into(),
            name: "c".into(),
            image_id: "fw_x".into(),
            settings: store::campaigns::CampaignSettings {
                model: None,
                canary_permille: 0,
                failure_permille: 500,
                window_days: days.into(),
                window_start_hour: start,
                window_end_hour: end,
                max_concurrent: 10,
                allow_downgrade: false,
                allow_reinstall: false,
                include_critical: false,
                delivery: store::campaigns::Delivery::Pull,
            },
            created_by: "t".into(),
            created_at: 1,
            devices: endpoints.iter().map(|e| (e.to_string(), false)).collect(),
        };
        let mut tx = store.begin().await.unwrap();
        let id = tx.insert_campaign(&c).await.unwrap();
        tx.commit().await.unwrap();
        id
    }

    #[test]
    fn delivery_follows_what_the_device_supports() {
        use Delivery::{Pull, Push};
        // Both supported, or nothing reported (LwM2M 1.0): the campaign's choice.
        for wanted in [Pull, Push] {
            assert_eq!(choose_delivery(wanted, Some(2), Some(&[0, 1]), 0), Ok(wanted));
            assert_eq!(choose_delivery(wanted, None, None, 1), Ok(wanted));
        }
        // 5/0/9: only pull, only push.
        assert_eq!(choose_delivery(Push, Some(0), None, 0), Ok(Pull));
        assert_eq!(choose_delivery(Pull, Some(1), None, 0), Ok(Push));
        // 5/0/8 without the protocol this server offers the image over: no pull.
        assert_eq!(choose_delivery(Pull, Some(2), Some(&[2, 3]), 1), Ok(Push));
        assert_eq!(choose_delivery(Pull, None, Some(&[1]), 1), Ok(Pull));
        // Pull only, over HTTP only: neither way.
        let e = choose_delivery(Push, Some(0), Some(&[2]), 0).unwrap_err();
        assert!(e.contains("neither"), "{e}");
    }

    #[tokio::test]
    async fn no_offer_starts_outside_the_maintenance_window() {
        let t = testkit::TempStore::sqlite().await;
        let engine = Engine::new(service_with("dev-1"), t.store.clone(), config("i1"));
        // Tuesdays and Thursdays, 02:00 to 04:00 UTC.
        let id = campaign(&t.store, &["dev-1", "not-here"], "13", 2, 4).await;
        let at = |day: i64, h: i64| MONDAY + day * 86_400 + h * 3600;
        for now in [at(0, 3), at(1, 1), at(1, 4), at(2, 3), at(3, 5)] {
            assert!(engine.step(now).await.unwrap().is_empty(), "offered at {now}");
        }
        assert_eq!(t.store.campaign_counts(&id).await.unwrap().all.get("pending"), Some(&2));
        // Inside the window the registered device is claimed; the other is not registered here.
        assert_eq!(engine.step(at(1, 3)).await.unwrap(), ["dev-1"]);
        let counts = t.store.campaign_counts(&id).await.unwrap();
        assert_eq!(counts.all.get("pending"), Some(&1));
    }

    #[tokio::test]
    async fn two_engines_never_offer_one_device_twice() {
        async fn race(store: Store, other: Store) {
            let devices: Vec<String> = (0..20).map(|i| format!("dev-{i}")).collect();
            let refs: Vec<&str> = devices.iter().map(String::as_str).collect();
            campaign(&store, &refs, "0123456", 0, 24).await;
            // Both instances see every device registered (the worst case).
            let svc = |n: &str| {
                let (svc, _events) = Service::new(ServerConfig { allow_unsecured: true, ..ServerConfig::default() });
                for (i, d) in devices.iter().enumerate() {
                    let mut m = Message::new(MessageType::Con, Code::POST, i as u16, vec![i as u8]);
                    m.set_uri_path("/rd");
                    m.push_option(OptionNumber::URI_QUERY, format!("ep={d}").into_bytes());
                    m.payload = b"</5/0>".to_vec();
                    svc.handle_datagram(format!("127.0.0.1:{}", 41000 + i).parse().unwrap(), None, &m.encode());
                }
                let mut c = config(n);
                c.lease_secs = 600;
                Engine::new(svc, store.clone(), c)
            };
            let (a, b) = (svc("a"), {
                let mut e = svc("b");
                e.store = other.clone();
                e
            });
            let mut taken = Vec::new();
            for _ in 0..3 {
                let (x, y) = tokio::join!(a.step(MONDAY), b.step(MONDAY));
                taken.extend(x.unwrap());
                taken.extend(y.unwrap());
            }
            taken.sort();
            let mut unique = taken.clone();
            unique.dedup();
            assert_eq!(taken, unique, "a device was offered twice");
            assert!(taken.len() >= 10, "both engines worked: {taken:?}");
        }
        let t = testkit::TempStore::sqlite().await;
        let other = Store::open(&t.sqlite_url(), testkit::keyring()).await.unwrap();
        race(t.store.clone(), other).await;
        testkit::on_fresh_postgres(|url| async move {
            let a = Store::open(&url, testkit::keyring()).await.unwrap();
            let b = Store::open(&url, testkit::keyring()).await.unwrap();
            race(a, b).await;
        })
        .await;
    }
}
