//! `warden serve` with a `[devices]` section: the LwM2M server (crate `lwm2m`) on plain CoAP
//! (`coap_listen`, default 127.0.0.1:5683), its registrations recorded in the event feed
//! (`device.registered`, `device.deregistered`, `device.expired`), each device linked to its SIM —
//! by an IMSI or ICCID in its endpoint name (`urn:imsi:…`, `urn:imei-imsi:…-…`, `urn:iccid:…`) or an
//! ICCID reported as its serial number (3/0/2) — and so to the SIM's tenant, what it reports of
//! itself read once after it registers (manufacturer, model, serial, firmware, battery, signal), and
//! a `device.imei_mismatch` event (once per mismatch) when the IMEI it reports (`urn:imei:…` or a serial that is an IMEI)
//! is not the one the HSS saw in the SIM's last Update-Location. The same core also answers the
//! CoAPs (DTLS) listener (`coaps_listen`, [`crate::coaps_run`]), and with `bootstrap_listen` the
//! bootstrap server runs beside it ([`crate::bootstrap_run`]). See docs/devices.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cmp::EventKind;
use lwm2m::content::{self, Value};
use lwm2m::registry::Profile;
use lwm2m::runtime::Service;
use lwm2m::server::{Event, OpError, Operation, ServerConfig};
use lwm2m::Path;
use serde::Deserialize;
use store::device_snapshots::DeviceObjects;
use store::Store;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ServeError;
use crate::platform::Task;

/// Profile reads in flight at once (registration storms do not become read storms).
const PROFILE_READS: usize = 256;

/// A registration update writes the device's `last_seen` to its snapshot at most this often (seconds)
/// when nothing else changed: a million devices updating every minute do not become a million writes
/// a minute.
pub const SEEN_WRITE_SECS: i64 = 60;

/// `[devices]`: the LwM2M server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DevicesConfig {
    /// Plain CoAP (UDP) listener; loopback by default.
    #[serde(default = "default_coap_listen")]
    pub coap_listen: SocketAddr,
    /// Accept registrations without DTLS (a lab setting): such devices are marked unsecured.
    #[serde(default)]
    pub allow_unsecured: bool,
    /// Most devices registered at once.
    #[serde(default = "default_max_devices")]
    pub max_devices: usize,
    /// Plain-CoAP registrations (with `allow_unsecured`) a second per source IP (0: no limit);
    /// beyond, 5.03 with Max-Age.
    #[serde(default = "default_registration_rate")]
    pub registrations_per_source_per_sec: u32,
    /// Plain-CoAP registrations a source may send at once before that rate applies.
    #[serde(default = "default_registration_burst")]
    pub registration_burst_per_source: u32,
    /// Read objects 3 and 4 of each device after it registers.
    #[serde(default = "default_true")]
    pub read_device_objects: bool,
    /// The CoAPs (DTLS) listener (UDP), loopback by default (docs/devices-dtls.md).
    #[serde(default = "default_coaps_listen")]
    pub coaps_listen: SocketAddr,
    /// The server certificate chain (PEM) for the X.509 suites; with `coaps_key` and
    /// `coaps_client_ca`, or none of the three (PSK only).
    pub coaps_cert: Option<PathBuf>,
    /// The server's private key (PEM, EC P-256).
    pub coaps_key: Option<PathBuf>,
    /// The CAs (PEM) that issue device certificates.
    pub coaps_client_ca: Option<PathBuf>,
    /// DTLS sessions at once.
    #[serde(default = "default_max_sessions")]
    pub coaps_max_sessions: usize,
    /// DTLS handshakes in flight at once.
    #[serde(default = "default_max_handshakes")]
    pub coaps_max_handshakes: usize,
    /// Seconds without a datagram after which a DTLS session is dropped.
    #[serde(default = "default_idle_secs")]
    pub coaps_idle_timeout_secs: u64,
    /// Seconds between reloads of the device PSKs from the store.
    #[serde(default = "default_refresh_secs")]
    pub coaps_psk_refresh_secs: u64,
    /// The LwM2M bootstrap server over DTLS-PSK with the bootstrap credentials
    /// (`warden devices bootstrap add`); off unless set (`127.0.0.1:5783` is the usual address).
    pub bootstrap_listen: Option<SocketAddr>,
    /// A plain-CoAP bootstrap listener for a lab: only with `allow_unsecured`, and it provisions
    /// NoSec accounts only (never keys in clear).
    pub bootstrap_coap_listen: Option<SocketAddr>,
    /// The LwM2M server URI written into provisioned PSK accounts; default `coaps://` and the
    /// CoAPs listener's address.
    pub bootstrap_server_uri: Option<String>,
    /// The registration lifetime written into the provisioned Server object, seconds.
    #[serde(default = "default_bootstrap_lifetime")]
    pub bootstrap_lifetime: u32,
    /// Bootstraps in progress at once (5.03 past it).
    #[serde(default = "default_bootstrap_sessions")]
    pub bootstrap_max_sessions: usize,
    /// Firmware campaigns (docs/firmware.md): the Package URI base devices fetch images from over
    /// plain CoAP (default `coap://` + `coap_listen`); DTLS devices get `coaps://` + `coaps_listen`.
    pub firmware_uri: Option<String>,
    /// Seconds a download may stall (no block asked) before the update fails as cut off.
    #[serde(default = "default_download_stall")]
    pub firmware_download_stall_secs: u64,
    /// Seconds a device has from the offer to coming back with the new version.
    #[serde(default = "default_update_timeout")]
    pub firmware_update_timeout_secs: u64,
    /// Run the campaign engine in this instance.
    #[serde(default = "default_true")]
    pub campaigns: bool,
    /// Seconds between reloads of the revoked device certificates (EST) from the store: a revoked
    /// certificate is refused by new handshakes and its sessions closed within this time (plus
    /// [`dtls::server::TICK`]).
    #[serde(default = "default_refresh_secs")]
    pub coaps_revocation_refresh_secs: u64,
    /// New DTLS handshakes a second per source IP address (0: no limit); more are dropped.
    #[serde(default = "default_handshake_rate")]
    pub coaps_handshakes_per_source_per_sec: u32,
    /// Handshakes a source may start at once before that rate applies.
    #[serde(default = "default_handshake_burst")]
    pub coaps_handshake_burst_per_source: u32,
}

fn default_bootstrap_lifetime() -> u32 {
    lwm2m::registration::DEFAULT_LIFETIME
}

fn default_bootstrap_sessions() -> usize {
    lwm2m::bootstrap::BootstrapConfig::default().max_sessions
}

fn default_download_stall() -> u64 {
    60
}

fn default_update_timeout() -> u64 {
    1800
}

fn default_handshake_rate() -> u32 {
    dtls::Limits::default().handshakes_per_source_per_sec
}

fn default_handshake_burst() -> u32 {
    dtls::Limits::default().handshake_burst_per_source
}

fn default_coap_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5683))
}

fn default_max_devices() -> usize {
    1_000_000
}

fn default_registration_rate() -> u32 {
    ServerConfig::default().unsecured_registrations_per_source_per_sec
}

fn default_registration_burst() -> u32 {
    ServerConfig::default().unsecured_registration_burst_per_source
}

fn default_true() -> bool {
    true
}

fn default_coaps_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5684))
}

fn default_max_sessions() -> usize {
    dtls::Limits::default().max_sessions
}

fn default_max_handshakes() -> usize {
    dtls::Limits::default().max_handshakes
}

fn default_idle_secs() -> u64 {
    dtls::Limits::default().idle_timeout.as_secs()
}

fn default_refresh_secs() -> u64 {
    5
}

impl DevicesConfig {
    /// Checks what the types cannot.
    pub fn check(&self) -> Result<(), String> {
        let files = [&self.coaps_cert, &self.coaps_key, &self.coaps_client_ca];
        let given = files.iter().filter(|f| f.is_some()).count();
        if given != 0 && given != 3 {
            return Err("[devices] coaps_cert, coaps_key and coaps_client_ca go together (all three or none)".into());
        }
        if self.coaps_handshake_burst_per_source == 0 || self.registration_burst_per_source == 0 {
            return Err(
                "[devices] coaps_handshake_burst_per_source and registration_burst_per_source must be at least 1"
                    .into(),
            );
        }
        if self.coaps_max_sessions == 0 || self.coaps_max_handshakes == 0 {
            return Err("[devices] coaps_max_sessions and coaps_max_handshakes must be at least 1".into());
        }
        if self.firmware_download_stall_secs == 0 || self.firmware_update_timeout_secs == 0 {
            return Err(
                "[devices] firmware_download_stall_secs and firmware_update_timeout_secs must be at least 1".into()
            );
        }
        if let Some(u) = &self.firmware_uri {
            if !(u.starts_with("coap://") || u.starts_with("coaps://")) || u.len() > 200 {
                return Err("[devices] firmware_uri: a coap:// or coaps:// URI of at most 200 characters".into());
            }
        }
        if self.coaps_idle_timeout_secs == 0
            || self.coaps_psk_refresh_secs == 0
            || self.coaps_revocation_refresh_secs == 0
        {
            return Err("[devices] coaps_idle_timeout_secs, coaps_psk_refresh_secs and coaps_revocation_refresh_secs \
                        must be at least 1"
                .into());
        }
        if self.bootstrap_coap_listen.is_some() && !self.allow_unsecured {
            return Err("[devices] bootstrap_coap_listen (plain-CoAP bootstrap) needs allow_unsecured = true".into());
        }
        if self.bootstrap_lifetime == 0 || self.bootstrap_max_sessions == 0 {
            return Err("[devices] bootstrap_lifetime and bootstrap_max_sessions must be at least 1".into());
        }
        if let Some(uri) = &self.bootstrap_server_uri {
            if !uri.starts_with("coaps://") || uri.len() <= "coaps://".len() {
                return Err(format!("[devices] bootstrap_server_uri {uri:?}: must be a coaps:// URI"));
            }
        }
        Ok(())
    }

    /// The DTLS listener's limits.
    pub fn coaps_limits(&self) -> dtls::Limits {
        dtls::Limits {
            max_sessions: self.coaps_max_sessions,
            max_handshakes: self.coaps_max_handshakes,
            idle_timeout: std::time::Duration::from_secs(self.coaps_idle_timeout_secs),
            handshakes_per_source_per_sec: self.coaps_handshakes_per_source_per_sec,
            handshake_burst_per_source: self.coaps_handshake_burst_per_source,
            ..dtls::Limits::default()
        }
    }
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            coap_listen: default_coap_listen(),
            allow_unsecured: false,
            max_devices: default_max_devices(),
            registrations_per_source_per_sec: default_registration_rate(),
            registration_burst_per_source: default_registration_burst(),
            read_device_objects: true,
            coaps_listen: default_coaps_listen(),
            coaps_cert: None,
            coaps_key: None,
            coaps_client_ca: None,
            coaps_max_sessions: default_max_sessions(),
            coaps_max_handshakes: default_max_handshakes(),
            coaps_idle_timeout_secs: default_idle_secs(),
            coaps_psk_refresh_secs: default_refresh_secs(),
            bootstrap_listen: None,
            bootstrap_coap_listen: None,
            bootstrap_server_uri: None,
            bootstrap_lifetime: default_bootstrap_lifetime(),
            bootstrap_max_sessions: default_bootstrap_sessions(),
            firmware_uri: None,
            firmware_download_stall_secs: default_download_stall(),
            firmware_update_timeout_secs: default_update_timeout(),
            campaigns: true,
            coaps_revocation_refresh_secs: default_refresh_secs(),
            coaps_handshakes_per_source_per_sec: default_handshake_rate(),
            coaps_handshake_burst_per_source: default_handshake_burst(),
        }
    }
}

/// The identities an endpoint name carries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NameIds {
    /// IMSI.
    pub imsi: Option<String>,
    /// ICCID.
    pub iccid: Option<String>,
    /// IMEI.
    pub imei: Option<String>,
}

/// Reads the identities of an endpoint client name (LwM2M Core §7.3.1 URNs `urn:imei:`,
/// `urn:imei-imsi:`, `urn:imei-msisdn:`, and `urn:imsi:` / `urn:iccid:`).
pub fn name_ids(endpoint: &str) -> NameIds {
    let mut ids = NameIds::default();
    let imei = |s: &str| s.parse::<ids::Imei>().ok().map(|i| i.as_str().to_string());
    let imsi = |s: &str| s.parse::<ids::Imsi>().ok().map(|i| i.as_str().to_string());
    if let Some(r) = endpoint.strip_prefix("urn:imei:") {
        ids.imei = imei(r);
    } else if let Some(r) = endpoint.strip_prefix("urn:imei-imsi:") {
        if let Some((a, b)) = r.split_once('-') {
            ids.imei = imei(a);
            ids.imsi = imsi(b);
        }
    } else if let Some(r) = endpoint.strip_prefix("urn:imei-msisdn:") {
        ids.imei = r.split_once('-').and_then(|(a, _)| imei(a));
    } else if let Some(r) = endpoint.strip_prefix("urn:imsi:") {
        ids.imsi = imsi(r);
    } else if let Some(r) = endpoint.strip_prefix("urn:iccid:") {
        ids.iccid = r.parse::<ids::Iccid>().ok().map(|i| i.as_str().to_string());
    }
    ids
}

/// The LwM2M server, built and bound.
pub struct DevicesPart {
    service: Arc<Service>,
    events: tokio::sync::mpsc::Receiver<Event>,
    socket: tokio::net::UdpSocket,
    read_objects: bool,
    /// Links devices to SIMs and keeps their snapshots (shared with the API's refresh).
    linker: Linker,
    /// The CoAPs (DTLS) listener in front of the same core.
    coaps: crate::coaps_run::CoapsPart,
    /// The bootstrap server, when `bootstrap_listen` is set.
    bootstrap: Option<crate::bootstrap_run::BootstrapPart>,
    /// The firmware campaign engine, unless `campaigns = false`.
    campaigns: Option<crate::campaigns_run::Engine>,
}

impl DevicesPart {
    /// Binds the CoAP listener; `None` without `[devices]`.
    pub async fn build(config: &Config, store: &Store) -> Result<Option<DevicesPart>, ServeError> {
        let Some(dc) = config.devices.as_ref().map(|d| d.lwm2m.clone()) else { return Ok(None) };
        dc.check().map_err(ServeError::Devices)?;
        let socket = tokio::net::UdpSocket::bind(dc.coap_listen).await.map_err(|source| ServeError::Bind {
            key: "devices.coap_listen",
            addr: dc.coap_listen,
            source,
        })?;
        let (service, events) = Service::new(ServerConfig {
            allow_unsecured: dc.allow_unsecured,
            max_devices: dc.max_devices,
            unsecured_registrations_per_source_per_sec: dc.registrations_per_source_per_sec,
            unsecured_registration_burst_per_source: dc.registration_burst_per_source,
            ..ServerConfig::default()
        });
        let addr = socket.local_addr().unwrap_or(dc.coap_listen);
        eprintln!(
            "warden: LwM2M server listening on {addr} (CoAP/UDP){}",
            if dc.allow_unsecured { ", unsecured registrations ALLOWED (lab)" } else { ", DTLS registrations only" }
        );
        if dc.allow_unsecured && !addr.ip().is_loopback() {
            tracing::warn!(%addr, "[devices] allow_unsecured on a non-loopback listener: anyone reaching it can register");
        }
        let core = crate::coaps_run::Lwm2mOverDtls::new(service.clone());
        let server_psks = core.psks();
        let coaps = crate::coaps_run::CoapsPart::build(&dc, store, core).await?;
        let bootstrap = crate::bootstrap_run::BootstrapPart::build(
            &dc,
            store,
            crate::bootstrap_run::Servers {
                coap: addr,
                coaps: coaps.local_addr().unwrap_or(dc.coaps_listen),
                server_psks,
            },
        )
        .await?;
        let campaigns = dc.campaigns.then(|| {
            let config = crate::campaigns_run::EngineConfig {
                instance: format!("warden-{}-{:08x}", std::process::id(), rand_u32()),
                uri_plain: dc.firmware_uri.clone().unwrap_or_else(|| format!("coap://{addr}")),
                uri_secure: format!("coaps://{}", coaps.local_addr().unwrap_or(dc.coaps_listen)),
                tick: std::time::Duration::from_secs(1),
                stall: std::time::Duration::from_secs(dc.firmware_download_stall_secs),
                update_timeout: std::time::Duration::from_secs(dc.firmware_update_timeout_secs),
                lease_secs: 120,
            };
            crate::campaigns_run::Engine::new(service.clone(), store.clone(), config)
        });
        let instance: Arc<str> = config.diameter.origin_host.as_str().into();
        // Registrations live in memory: what this instance held before it started is gone.
        match store.release_devices_of(&instance).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "device snapshots of a previous run marked not registered"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "device snapshots of a previous run not released"),
        }
        let linker = Linker { service: service.clone(), store: store.clone(), linked: Default::default(), instance };
        Ok(Some(DevicesPart {
            service,
            events,
            socket,
            read_objects: dc.read_device_objects,
            linker,
            coaps,
            bootstrap,
            campaigns,
        }))
    }

    /// The server, for the API (and the DTLS transport).
    pub fn service(&self) -> Arc<Service> {
        self.service.clone()
    }

    /// What re-reads a device's objects 3/4 into its snapshot, for the API.
    pub fn refresher(&self) -> Arc<dyn api::routes::devices::DeviceRefresh> {
        Arc::new(self.linker.clone())
    }

    /// The CoAP and CoAPs listeners and the event recorder; all stop on `stop`.
    pub fn start(self, stop: CancellationToken) -> Vec<Task> {
        let DevicesPart { service, events, socket, read_objects, linker, coaps, bootstrap, campaigns } = self;
        let s2 = stop.clone();
        let udp = service.clone().serve_udp(socket, async move { s2.cancelled().await });
        let dtls = coaps.run(stop.clone());
        let bootstrap = bootstrap.map(|b| b.start(stop.clone())).unwrap_or_default();
        let engine = campaigns.map(|e| e.run(stop.clone()));
        let recorder = record(linker, events, read_objects, stop);
        let mut tasks: Vec<Task> = vec![
            ("LwM2M server (CoAP)", Box::pin(udp)),
            ("CoAPs (DTLS) listener", Box::pin(dtls)),
            ("LwM2M event recorder", Box::pin(recorder)),
        ];
        tasks.extend(bootstrap);
        if let Some(e) = engine {
            tasks.push(("firmware campaign engine", Box::pin(e)));
        }
        tasks
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_be_bytes(b) ^ std::process::id().rotate_left(16)
}

/// Whether a device's object list (`/3`, `/3/0`, …) names `object`.
fn lists_object(objects: &[String], object: &str) -> bool {
    objects.iter().any(|p| p == object || p.starts_with(&format!("{object}/")))
}

/// Records registration events, links devices to SIMs and keeps their snapshots until `stop`.
async fn record(
    linker: Linker,
    mut events: tokio::sync::mpsc::Receiver<Event>,
    read_objects: bool,
    stop: CancellationToken,
) {
    let reads = Arc::new(Semaphore::new(PROFILE_READS));
    // When each registered device's last_seen was last written (coalescing, SEEN_WRITE_SECS).
    let mut seen_written: HashMap<String, i64> = HashMap::new();
    loop {
        let e = tokio::select! {
            _ = stop.cancelled() => break,
            e = events.recv() => match e { Some(e) => e, None => break },
        };
        match e {
            Event::Registered { endpoint, peer, unsecured, objects, replaced, lifetime } => {
                let ctx = linker.clone();
                let objects: Vec<String> = objects.iter().map(|o| o.path().to_string()).collect();
                let detail = serde_json::json!({
                    "endpoint": endpoint, "peer": peer.to_string(), "unsecured": unsecured,
                    "lifetime": lifetime, "objects": objects, "replaced": replaced,
                });
                let link = ctx.link_by_name(&endpoint).await;
                let imsi = link.as_ref().map(|(i, _)| i.clone());
                ctx.event(imsi.as_deref(), EventKind::DeviceRegistered, &detail.to_string()).await;
                let now = store::now();
                let registration = store::device_snapshots::DeviceRegistration {
                    endpoint: &endpoint,
                    link: link.as_ref().map(|(i, t)| (i.as_str(), t.as_str())),
                    at: now,
                    instance: &ctx.instance,
                };
                if let Err(e) = ctx.store.device_registered(&registration).await {
                    tracing::warn!(error = %e, "device snapshot not written");
                }
                seen_written.insert(endpoint.clone(), now);
                let (has3, has4) = (lists_object(&objects, "/3"), lists_object(&objects, "/4"));
                let permit = reads.clone();
                if read_objects {
                    tokio::spawn(async move {
                        let Ok(_permit) = permit.acquire_owned().await else { return };
                        if let Err(e) = ctx.read_profile(&endpoint, imsi, has3, has4).await {
                            tracing::debug!(%endpoint, error = %e, "objects 3/4 of a device not read");
                        }
                    });
                }
            }
            Event::Updated { endpoint, .. } => {
                let now = store::now();
                let due = seen_written.get(endpoint.as_str()).is_none_or(|t| now - t >= SEEN_WRITE_SECS);
                if due {
                    if let Err(e) = linker.store.device_seen(&endpoint, &linker.instance, now).await {
                        tracing::warn!(error = %e, "device snapshot not written");
                    }
                    seen_written.insert(endpoint, now);
                }
            }
            Event::Deregistered { endpoint } => {
                seen_written.remove(endpoint.as_str());
                linker.gone(&endpoint, EventKind::DeviceDeregistered).await;
            }
            Event::Expired { endpoint } => {
                seen_written.remove(endpoint.as_str());
                linker.gone(&endpoint, EventKind::DeviceExpired).await;
            }
            Event::Refused { peer, endpoint, code, reason } => {
                tracing::debug!(%peer, ?endpoint, %code, reason, "LwM2M request refused");
            }
            Event::Malformed { peer, reason } => tracing::debug!(%peer, reason, "malformed CoAP datagram"),
            _ => {}
        }
    }
}

/// Links devices to SIMs, reads their objects 3/4, and writes their snapshots.
#[derive(Clone)]
struct Linker {
    service: Arc<Service>,
    store: Store,
    /// The IMSI each linked, registered device belongs to.
    linked: Arc<std::sync::Mutex<HashMap<String, String>>>,
    /// This instance's name in the snapshots (its Diameter origin host).
    instance: Arc<str>,
}

impl api::routes::devices::DeviceRefresh for Linker {
    fn refresh<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), OpError>> + Send + 'a>> {
        Box::pin(async move {
            let view =
                self.service.device(None, endpoint).ok_or_else(|| OpError::UnknownDevice(endpoint.to_string()))?;
            let (has3, has4) = (lists_object(&view.objects, "/3"), lists_object(&view.objects, "/4"));
            self.read_profile(endpoint, view.profile.imsi, has3, has4).await
        })
    }
}

impl Linker {
    async fn event(&self, imsi: Option<&str>, kind: EventKind, detail: &str) {
        let imsi = imsi.and_then(|i| i.parse::<ids::Imsi>().ok());
        if let Err(e) = self.store.record_event(imsi.as_ref(), &kind.name(), detail).await {
            tracing::warn!(error = %e, %kind, "device event not recorded");
        }
    }

    /// A de-registration or expiry: the event, and the snapshot no longer registered.
    async fn gone(&self, endpoint: &str, kind: EventKind) {
        let imsi = self.linked.lock().expect("links").remove(endpoint);
        self.event(imsi.as_deref(), kind, &serde_json::json!({ "endpoint": endpoint }).to_string()).await;
        if let Err(e) = self.store.device_gone(endpoint, &self.instance, store::now()).await {
            tracing::warn!(error = %e, "device snapshot not written");
        }
    }

    /// Links the device to the SIM `imsi` (if it exists): tenant and IMSI on its profile; the
    /// tenant when linked.
    async fn link(&self, endpoint: &str, imsi: &str) -> Option<String> {
        let key = imsi.parse::<ids::Imsi>().ok()?;
        let tenant = match self.store.sim(&key).await {
            Ok(Some(sim)) => sim.tenant,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "SIM of a device not read");
                return None;
            }
        };
        let imsi = imsi.to_string();
        let set = self.service.set_profile(endpoint, |p| {
            p.imsi = Some(imsi.clone());
            p.tenant = Some(tenant.clone());
        });
        if set {
            self.linked.lock().expect("links").insert(endpoint.to_string(), imsi);
        }
        set.then_some(tenant)
    }

    async fn imsi_of_iccid(&self, iccid: &str) -> Option<String> {
        match self.store.sim_by_iccid(iccid).await {
            Ok(r) => r.map(|(imsi, _)| imsi),
            Err(e) => {
                tracing::warn!(error = %e, "SIM of an ICCID not read");
                None
            }
        }
    }

    /// Links by the identities in the endpoint name; the IMSI and tenant when linked.
    async fn link_by_name(&self, endpoint: &str) -> Option<(String, String)> {
        let ids = name_ids(endpoint);
        let imsi = match (ids.imsi, ids.iccid) {
            (Some(i), _) => Some(i),
            (None, Some(c)) => self.imsi_of_iccid(&c).await,
            _ => None,
        }?;
        let tenant = self.link(endpoint, &imsi).await?;
        Some((imsi, tenant))
    }

    /// Reads one resource as text: `None` when the device answers with an error code or a value
    /// that does not decode; an error when it does not answer.
    async fn read_text(&self, endpoint: &str, path: Path) -> Result<Option<Value>, OpError> {
        let r = self.service.execute(endpoint, Operation::Read { path, accept: Some(content::TEXT) }).await?;
        if !r.code.is_success() {
            return Ok(None);
        }
        Ok(content::decode(r.content_format, &path, &r.payload).ok().and_then(|v| v.into_iter().next()).map(|(_, v)| v))
    }

    /// Reads objects 3 and 4 into the profile and the snapshot, links by an ICCID serial, and
    /// compares the reported IMEI with the HSS's. Nothing is written when the device does not
    /// answer.
    async fn read_profile(
        &self,
        endpoint: &str,
        mut imsi: Option<String>,
        has3: bool,
        has4: bool,
    ) -> Result<(), OpError> {
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            Some(Value::Integer(i)) => Some(i.to_string()),
            _ => None,
        };
        let int = |v: Option<Value>| match v {
            Some(Value::Integer(i)) => Some(i),
            _ => None,
        };
        let mut objects = DeviceObjects::default();
        if has3 {
            objects.manufacturer = text(self.read_text(endpoint, Path::resource(3, 0, 0)).await?);
            objects.model = text(self.read_text(endpoint, Path::resource(3, 0, 1)).await?);
            objects.serial = text(self.read_text(endpoint, Path::resource(3, 0, 2)).await?);
            objects.firmware = text(self.read_text(endpoint, Path::resource(3, 0, 3)).await?);
            objects.battery = int(self.read_text(endpoint, Path::resource(3, 0, 9)).await?);
        }
        if has4 {
            objects.signal_dbm = int(self.read_text(endpoint, Path::resource(4, 0, 2)).await?);
        }
        if !self.service.set_profile(endpoint, |q| set_objects(q, &objects)) {
            return Err(OpError::Gone);
        }
        if let Err(e) = self.store.device_objects_read(endpoint, &objects, store::now()).await {
            tracing::warn!(error = %e, "device snapshot not written");
        }
        let serial = objects.serial.as_deref().map(str::trim).unwrap_or("");
        if imsi.is_none() && serial.parse::<ids::Iccid>().is_ok() {
            if let Some(i) = self.imsi_of_iccid(serial).await {
                if let Some(tenant) = self.link(endpoint, &i).await {
                    if let Err(e) = self.store.link_device(endpoint, &i, &tenant).await {
                        tracing::warn!(error = %e, "device snapshot not written");
                    }
                    imsi = Some(i);
                }
            }
        }
        let Some(imsi) = imsi else { return Ok(()) };
        let reported =
            name_ids(endpoint).imei.or_else(|| serial.parse::<ids::Imei>().ok().map(|i| i.as_str().to_string()));
        let Some(reported) = reported.and_then(|r| r.parse::<ids::Imei>().ok()) else { return Ok(()) };
        let seen = match self.store.last_ulr_imei(&imsi).await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "last IMEI of a SIM not read");
                return Ok(());
            }
        };
        // ULR carries an IMEI (14/15 digits) or an IMEISV (16): the first 14 digits name the device.
        let seen_body: String = seen.chars().take(14).collect();
        let differs = seen_body != reported.body();
        // One event per mismatch: the snapshot is written only when it does not hold this pair yet,
        // and only the write that changed it records the event, so a refresh or a re-registration
        // that finds the same mismatch again adds none, nor does a second instance finding it at the
        // same moment. A failed write records it (better twice than never).
        let changed = self
            .store
            .device_imei_checked(endpoint, reported.as_str(), differs.then_some(seen.as_str()))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "device snapshot not written");
                true
            });
        if differs && changed {
            let detail = serde_json::json!({
                "endpoint": endpoint, "reported_imei": reported.as_str(), "hss_imei": seen,
            });
            self.event(Some(&imsi), EventKind::DeviceImeiMismatch, &detail.to_string()).await;
        }
        Ok(())
    }
}

/// Copies what a read of objects 3 and 4 gave into the device's registry profile (its SIM link
/// stays): the one place where the two shapes meet.
fn set_objects(profile: &mut Profile, objects: &DeviceObjects) {
    let DeviceObjects { manufacturer, model, serial, firmware, battery, signal_dbm } = objects.clone();
    *profile =
        Profile { manufacturer, model, serial, firmware, battery, signal: signal_dbm, ..std::mem::take(profile) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_in_endpoint_names() {
        assert_eq!(name_ids("urn:imei:490154203237518").imei.as_deref(), Some("490154203237518"));
        let both = name_ids("urn:imei-imsi:490154203237518-001010123456789");
        assert_eq!((both.imei.as_deref(), both.imsi.as_deref()), (Some("490154203237518"), Some("001010123456789")));
        assert_eq!(name_ids("urn:imsi:001010123456789").imsi.as_deref(), Some("001010123456789"));
        assert_eq!(name_ids("urn:iccid:89882806660004909182").iccid.as_deref(), Some("89882806660004909182"));
        // A wrong Luhn digit is no IMEI.
        assert_eq!(name_ids("urn:imei:490154203237519"), NameIds::default());
        assert_eq!(name_ids("sensor-17"), NameIds::default());
    }
}
