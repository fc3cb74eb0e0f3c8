//! CCR-Initial, -Update and -Termination (TS 29.212 §4.5.1, §5.6.2) and their CCAs (§5.6.3).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use cmp::traffic::Access;
use diameter::dictionary::app;
use diameter::header::flags;
use diameter::result_code as rc;
use diameter::{avp, validate, Avp, Command, Message};
use ids::Imsi;
use store::traffic::GxChange;

use crate::session::{host_key, Session};
use crate::{bump, lock, qos, Pcrf, Subscriber};

/// DIAMETER_USER_UNKNOWN: a Result-Code of the Credit-Control application (RFC 4006 §9.1, "the
/// specified end user is unknown in the credit-control server"), which Gx inherits. It is an IETF
/// code, so it is sent as Result-Code, not as a 3GPP Experimental-Result (3GPP defines no 5030).
pub const USER_UNKNOWN: u32 = 5030;
/// Subscription-Id-Type END_USER_IMSI (RFC 4006 §8.47).
const END_USER_IMSI: u32 = 1;
/// CC-Request-Type values (RFC 4006 §8.3).
const INITIAL: u32 = 1;
const UPDATE: u32 = 2;
const TERMINATION: u32 = 3;
/// Event-Trigger values (TS 29.212 §5.3.7) the PCRF subscribes to.
const RAT_CHANGE: u32 = 2;
const PLMN_CHANGE: u32 = 4;
const USAGE_REPORT: u32 = 33;
/// Usage-Monitoring-Level SESSION_LEVEL (TS 29.212 §5.3.61).
const SESSION_LEVEL: u32 = 0;
/// PCC-Rule-Status INACTIVE (TS 29.212 §5.3.19).
const INACTIVE: u32 = 1;
/// The Monitoring-Key of the session-level usage monitoring.
pub const MONITORING_KEY: &[u8] = b"warden";

/// An AVP whose value is wrong (DIAMETER_INVALID_AVP_VALUE) or missing (DIAMETER_MISSING_AVP),
/// carried as Failed-AVP.
struct Refusal {
    code: u32,
    failed: Avp,
}

fn invalid(a: &Avp) -> Refusal {
    Refusal { code: rc::INVALID_AVP_VALUE, failed: a.clone() }
}

/// The IMSI of a valid Subscription-Id of type END_USER_IMSI, if there is one.
pub(crate) fn subscription_imsi(req: &Message) -> Option<Imsi> {
    imsi_of(req).ok()
}

/// The IMSI of the Subscription-Id of type END_USER_IMSI.
fn imsi_of(req: &Message) -> Result<Imsi, Refusal> {
    for sid in req.get_all(avp::SUBSCRIPTION_ID) {
        if sid.child(avp::SUBSCRIPTION_ID_TYPE).and_then(Avp::as_u32) != Some(END_USER_IMSI) {
            continue;
        }
        return sid
            .child(avp::SUBSCRIPTION_ID_DATA)
            .and_then(Avp::as_str)
            .and_then(|d| d.parse::<Imsi>().ok())
            .ok_or_else(|| invalid(sid));
    }
    // RFC 6733 §7.5: an example of the missing AVP.
    let example = Avp::new(
        avp::SUBSCRIPTION_ID,
        vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, END_USER_IMSI), Avp::new(avp::SUBSCRIPTION_ID_DATA, "")],
    );
    Err(Refusal { code: rc::MISSING_AVP, failed: example })
}

/// Framed-IP-Address: four octets (RFC 7155 §4.4.10.5.1).
fn framed_ip(req: &Message) -> Result<Option<IpAddr>, Refusal> {
    let Some(a) = req.get(avp::FRAMED_IP_ADDRESS) else { return Ok(None) };
    match a.as_bytes() {
        Some(&[x, y, z, w]) => Ok(Some(IpAddr::V4(Ipv4Addr::new(x, y, z, w)))),
        _ => Err(invalid(a)),
    }
}

/// Framed-IPv6-Prefix: reserved octet, prefix length, prefix (RFC 3162 §2.3).
fn framed_ipv6(req: &Message) -> Result<Option<(Ipv6Addr, u8)>, Refusal> {
    let Some(a) = req.get(avp::FRAMED_IPV6_PREFIX) else { return Ok(None) };
    let b = a.as_bytes().unwrap_or_default();
    let ok = b.len() >= 2 && b[1] <= 128 && b.len() - 2 <= 16 && (b.len() - 2) * 8 >= usize::from(b[1]);
    if !ok {
        return Err(invalid(a));
    }
    let mut octets = [0u8; 16];
    octets[..b.len() - 2].copy_from_slice(&b[2..]);
    let len = b[1];
    let bits = u128::from_be_bytes(octets) & if len == 0 { 0 } else { !0u128 << (128 - u32::from(len)) };
    Ok(Some((Ipv6Addr::from(bits), len)))
}

/// Uplink and downlink octets of every Used-Service-Unit in the request's usage reports; `None`
/// when it has none.
fn usage_of(req: &Message) -> Option<(i64, i64)> {
    let mut found = false;
    let (mut up, mut down) = (0u64, 0u64);
    for umi in req.get_all(avp::USAGE_MONITORING_INFORMATION) {
        for usu in umi.as_grouped().unwrap_or_default().iter().filter(|a| a.is(avp::USED_SERVICE_UNIT)) {
            found = true;
            up = up.saturating_add(usu.child(avp::CC_INPUT_OCTETS).and_then(Avp::as_u64).unwrap_or(0));
            down = down.saturating_add(usu.child(avp::CC_OUTPUT_OCTETS).and_then(Avp::as_u64).unwrap_or(0));
        }
    }
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    found.then(|| (clamp(up), clamp(down)))
}

impl Pcrf {
    /// The CCA skeleton (TS 29.212 §5.6.3): Session-Id, Auth-Application-Id, Origin-Host,
    /// Origin-Realm, the Result-Code, and the request's CC-Request-Type and CC-Request-Number; the E bit
    /// for protocol errors.
    pub(crate) fn cca(&self, req: &Message, code: u32) -> Message {
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::AUTH_APPLICATION_ID, app::GX);
        a.add(avp::ORIGIN_HOST, self.origin_host.as_str());
        a.add(avp::ORIGIN_REALM, self.origin_realm.as_str());
        if rc::is_protocol_error(code) {
            a.header.flags |= flags::E;
        }
        a.add(avp::RESULT_CODE, code);
        if let Some(t) = req.get_u32(avp::CC_REQUEST_TYPE) {
            a.add(avp::CC_REQUEST_TYPE, t);
        }
        if let Some(n) = req.get_u32(avp::CC_REQUEST_NUMBER) {
            a.add(avp::CC_REQUEST_NUMBER, n);
        }
        a
    }

    fn refuse(&self, req: &Message, r: Refusal) -> Message {
        let mut a = self.cca(req, r.code);
        a.add(avp::FAILED_AVP, vec![r.failed]);
        a
    }

    /// Usage-Monitoring-Information granting the configured quota at session level.
    fn usage_grant(&self) -> Avp {
        Avp::new(
            avp::USAGE_MONITORING_INFORMATION,
            vec![
                Avp::new(avp::MONITORING_KEY, MONITORING_KEY),
                Avp::new(
                    avp::GRANTED_SERVICE_UNIT,
                    vec![Avp::new(avp::CC_TOTAL_OCTETS, self.config.usage_quota_octets)],
                ),
                Avp::new(avp::USAGE_MONITORING_LEVEL, SESSION_LEVEL),
            ],
        )
    }

    /// Answers a Gx request from the PCEF connected as `peer_host` (the sans-IO entry point that
    /// [`Pcrf::dispatch`] calls). Never panics: malformed requests get the RFC 6733 answers
    /// (DIAMETER_MISSING_AVP, DIAMETER_INVALID_AVP_VALUE with Failed-AVP), store failures
    /// DIAMETER_UNABLE_TO_COMPLY.
    pub async fn answer(&self, req: Message, peer_host: &str) -> Message {
        if req.command() != Some(Command::CCR) || !req.is_request() {
            return self.cca(&req, rc::COMMAND_UNSUPPORTED);
        }
        if let Err(e) = validate::check(&req, Command::CCR.def()) {
            let mut a = self.cca(&req, e.result_code());
            if let Some(f) = e.failed_avp() {
                a.add(avp::FAILED_AVP, vec![f.clone()]);
            }
            return a;
        }
        if let Some(a) = req.get(avp::AUTH_APPLICATION_ID).filter(|a| a.as_u32() != Some(app::GX)) {
            return self.refuse(&req, invalid(a));
        }
        // An empty Session-Id or Origin-Host names no session and no PCEF.
        let empty = |a: &&Avp| a.as_str().is_none_or(str::is_empty);
        if let Some(a) = req.get(avp::SESSION_ID).filter(empty).or_else(|| req.get(avp::ORIGIN_HOST).filter(empty)) {
            return self.refuse(&req, invalid(a));
        }
        let origin = req.get_str(avp::ORIGIN_HOST).unwrap_or(peer_host);
        // A PCEF speaks for itself only: another PCEF's name could end its sessions (CCR-T) or wipe
        // them all (a new Origin-State-Id). Relays (a DRA) are not supported on Gx.
        if !origin.eq_ignore_ascii_case(peer_host) {
            let mut a = self.cca(&req, rc::UNABLE_TO_COMPLY);
            a.add(avp::ERROR_MESSAGE, "Origin-Host is not this connection's peer");
            return a;
        }
        if let Some(state) = req.get_u32(avp::ORIGIN_STATE_ID) {
            self.pcef_restarted(origin, state);
        }
        match req.get_u32(avp::CC_REQUEST_TYPE) {
            Some(INITIAL) => {
                bump(&self.counters.ccr_initial);
                self.initial(&req, peer_host, origin).await
            }
            Some(UPDATE) => {
                bump(&self.counters.ccr_update);
                self.update(&req, origin)
            }
            Some(TERMINATION) => {
                bump(&self.counters.ccr_termination);
                self.termination(&req, origin)
            }
            _ => match req.get(avp::CC_REQUEST_TYPE) {
                Some(t) => self.refuse(&req, invalid(t)),
                None => self.cca(&req, rc::MISSING_AVP),
            },
        }
    }

    async fn initial(&self, req: &Message, peer_host: &str, origin: &str) -> Message {
        let backlog = self.pending.load(std::sync::atomic::Ordering::Acquire) >= crate::MAX_PENDING_WRITES;
        if backlog || !self.limiter.admit(peer_host, Instant::now()) {
            bump(&self.counters.rate_limited);
            return self.cca(req, rc::TOO_BUSY);
        }
        let imsi = match imsi_of(req) {
            Ok(i) => i,
            Err(r) => return self.refuse(req, r),
        };
        if !(self.may_query)(peer_host, &imsi) {
            bump(&self.counters.refused_imsi);
            return self.cca(req, USER_UNKNOWN);
        }
        let sub = match self.subscriber(&imsi, false).await {
            Ok(Some(s)) => s,
            Ok(None) => return self.cca(req, USER_UNKNOWN),
            Err(e) => {
                tracing::warn!(error = %e, "CCR-I: policy could not be read");
                return self.cca(req, rc::UNABLE_TO_COMPLY);
            }
        };
        self.open(req, origin, imsi, &sub)
    }

    /// The second half of CCR-Initial: the session under `sub`, the SIM's policy as read (possibly
    /// before a change was announced: then the session is re-evaluated once it is in place).
    pub(crate) fn open(&self, req: &Message, origin: &str, imsi: Imsi, sub: &Arc<Subscriber>) -> Message {
        if sub.policy.traffic == Access::Blocked {
            return self.cca(req, rc::AUTHORIZATION_REJECTED);
        }
        let (framed_ip, framed_ipv6) = match (framed_ip(req), framed_ipv6(req)) {
            (Ok(v4), Ok(v6)) => (v4, v6),
            (Err(r), _) | (_, Err(r)) => return self.refuse(req, r),
        };
        let id = req.session_id().unwrap_or_default();
        if lock(&self.sessions).get(id).is_some_and(|s| !s.pcef_host.eq_ignore_ascii_case(origin)) {
            // Another PCEF's session: a CCR-I may renew a session of its own, never take over one.
            let mut a = self.cca(req, rc::UNABLE_TO_COMPLY);
            a.add(avp::ERROR_MESSAGE, "the Session-Id belongs to another PCEF");
            return a;
        }
        let apn = req.get_str(avp::CALLED_STATION_ID).unwrap_or_default().to_string();
        let qos = qos::bearer_qos(sub.priority, sub.profile.as_deref(), &apn);
        let pcc = sub.session_rules(&qos, &self.config.dns_servers);
        let now = store::now();
        let session = Session {
            id: Arc::from(id),
            imsi: imsi.clone(),
            tenant: sub.tenant.clone(),
            pcef_host: origin.to_string(),
            pcef_realm: req.get_str(avp::ORIGIN_REALM).unwrap_or_default().to_string(),
            pcef_state: req
                .get_u32(avp::ORIGIN_STATE_ID)
                .or_else(|| lock(&self.sessions).pcef_states.get(host_key(origin).as_ref()).copied()),
            apn,
            framed_ip,
            framed_ipv6,
            rat_type: req.get_u32(avp::RAT_TYPE),
            plmn: req.get_str(avp::THREE_GPP_SGSN_MCC_MNC).map(str::to_string),
            rules: pcc.names.clone(),
            created_at: now,
            updated_at: now,
            hosts: Vec::new(),
            releasing: false,
        };
        let row = session.row();
        {
            let mut sessions = lock(&self.sessions);
            // A CCR-I renewing a session of its own replaces it and counts once.
            let renewed = sessions.get(id);
            let of_imsi = sessions.count_of_imsi(&imsi) - usize::from(renewed.is_some_and(|s| s.imsi == imsi));
            let of_pcef = sessions.count_of_pcef(origin) - usize::from(renewed.is_some());
            let cap = if of_imsi >= self.config.max_sessions_per_imsi {
                Some("the SIM has max_sessions_per_imsi sessions")
            } else if of_pcef >= self.config.max_sessions_per_pcef {
                Some("the PCEF has max_sessions_per_pcef sessions")
            } else {
                None
            };
            if let Some(why) = cap {
                drop(sessions);
                bump(&self.counters.session_cap_refused);
                tracing::info!(%imsi, pcef = %origin, "CCR-I refused: {why}");
                // RFC 6733 §7.1.5 DIAMETER_RESOURCES_EXCEEDED (5006): "cannot be authorized because
                // the user has already expended allowed resources", its example being a second PPP
                // session of a user allowed one: exactly a session cap. A permanent failure, so the
                // PCEF does not try the same request again elsewhere (3004 would invite that), and
                // an IETF code, so a Result-Code; TS 29.212 §5.5 defines no Experimental-Result for
                // it.
                let mut a = self.cca(req, rc::RESOURCES_EXCEEDED);
                a.add(avp::ERROR_MESSAGE, why);
                return a;
            }
            sessions.insert(session);
        }
        self.write(GxChange::Put(row));
        // A change announced after the policy was read (its push may have run before the session was
        // here) is brought to the session now: RAR with the difference, or the release.
        if self.epoch() != sub.epoch {
            self.spawn_push(imsi.clone(), true);
        }
        let mut a = self.cca(req, rc::SUCCESS);
        for trigger in [RAT_CHANGE, PLMN_CHANGE, USAGE_REPORT] {
            a.add(avp::EVENT_TRIGGER, trigger);
        }
        if let Some(install) = &pcc.install {
            a.push(install.clone());
        }
        if let Some(ambr) = qos.apn_ambr() {
            a.push(ambr);
        }
        a.push(qos.default_eps_bearer_qos());
        a.push(self.usage_grant());
        a
    }

    fn update(&self, req: &Message, origin: &str) -> Message {
        let id = req.session_id().unwrap_or_default();
        let usage = usage_of(req);
        let (imsi, tenant, row) = {
            let mut sessions = lock(&self.sessions);
            let Some(s) = sessions.get_mut(id).filter(|s| s.pcef_host.eq_ignore_ascii_case(origin)) else {
                return self.cca(req, rc::UNKNOWN_SESSION_ID);
            };
            let rat = req.get_u32(avp::RAT_TYPE).or(s.rat_type);
            let plmn = req.get_str(avp::THREE_GPP_SGSN_MCC_MNC).map(str::to_string).or_else(|| s.plmn.clone());
            let changed = rat != s.rat_type || plmn != s.plmn;
            s.rat_type = rat;
            s.plmn = plmn;
            if changed {
                s.updated_at = store::now();
            }
            (s.imsi.clone(), s.tenant.clone(), changed.then(|| s.row()))
        };
        if let Some(row) = row {
            self.write(GxChange::Put(row));
        }
        self.record_usage(&imsi, &tenant, usage);
        for report in req.get_all(avp::CHARGING_RULE_REPORT) {
            if report.child(avp::PCC_RULE_STATUS).and_then(Avp::as_u32) == Some(INACTIVE) {
                bump(&self.counters.rule_failures);
                let names: Vec<String> = report
                    .as_grouped()
                    .unwrap_or_default()
                    .iter()
                    .filter(|a| a.is(avp::CHARGING_RULE_NAME))
                    .map(|a| String::from_utf8_lossy(a.as_bytes().unwrap_or_default()).into_owned())
                    .collect();
                let code = report.child(avp::RULE_FAILURE_CODE).and_then(Avp::as_u32);
                tracing::warn!(session = %id, ?names, ?code, "PCEF reports PCC rules not installed");
            }
        }
        let mut a = self.cca(req, rc::SUCCESS);
        if usage.is_some() {
            a.push(self.usage_grant());
        }
        a
    }

    fn termination(&self, req: &Message, origin: &str) -> Message {
        let id = req.session_id().unwrap_or_default();
        let removed = {
            let mut sessions = lock(&self.sessions);
            match sessions.get(id) {
                Some(s) if s.pcef_host.eq_ignore_ascii_case(origin) => sessions.remove(id),
                _ => None,
            }
        };
        let Some(s) = removed else { return self.cca(req, rc::UNKNOWN_SESSION_ID) };
        self.record_usage(&s.imsi, &s.tenant, usage_of(req));
        self.settled(&s.id);
        // Also a released one: its row stays until the PCEF confirms the release.
        self.write(GxChange::Delete(s.id.to_string()));
        self.cca(req, rc::SUCCESS)
    }

    fn record_usage(&self, imsi: &Imsi, tenant: &str, usage: Option<(i64, i64)>) {
        if let Some((up, down)) = usage.filter(|(u, d)| *u > 0 || *d > 0) {
            let hour = store::now().div_euclid(3600);
            self.add_usage(imsi, tenant, hour, up, down);
        }
    }
}
