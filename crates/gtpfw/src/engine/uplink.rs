//! Partner → P-GW: every check, in order (docs/gtp.md has the table with the Causes).
//!
//! 1. source address is a partner's (else dropped, unanswered);
//! 2. the datagram decodes (else "Invalid message format" to a request, dropped otherwise);
//! 3. message type on the partner interface's allowlist (else dropped);
//! 4. a response answers a request of the P-GW seen and not expired (else dropped);
//! 5. Create Session Request: mandatory IEs, IMSI in the home ranges, Serving Network one of the
//!    partner's PLMNs, S6a registration in that PLMN, APN in the SIM's profile, the partner's tunnel
//!    cap, the partner's and the subscriber's set-up budgets;
//!    any other request but Echo: its TEID names a tunnel this partner created;
//! 6. priority admission at the P-GW's door (every request but Echo);
//! 7. the partner's requests waiting for a response below their maximum (else dropped).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use firewall::rules::{imsi_key, ImsiKey};
use firewall::{Action, Now, Priority};
use gtpc::v2::{IeType, Message, MessageType};

use super::refusal::{self, v1cause};
use super::{Decision, Dir, Engine, PartnerState, Pending, Verdict};
use crate::rules::{Interface, Partner, Rule, Rules};

/// The IEs a Create Session Request must carry on S5/S8 (TS 29.274 Table 7.2.1-1): Sender F-TEID
/// for Control Plane, APN, RAT Type and Bearer Contexts to be created are M; IMSI (C: present for
/// every UE with a UICC) and Serving Network (C: present on S5/S8) are required here too, since the
/// firewall's checks need them. All instance 0.
pub const CREATE_SESSION_MANDATORY: &[IeType] =
    &[IeType::IMSI, IeType::RAT_TYPE, IeType::FTEID, IeType::APN, IeType::BEARER_CONTEXT, IeType::SERVING_NETWORK];

/// Whether a GTPv2-C type is a triggered message (a response, or a failure indication answering a
/// command).
pub(crate) fn is_triggered(t: MessageType) -> bool {
    t.is_response() || matches!(t.0, 65 | 67 | 69)
}

/// The APN's network identifier, lower case: without a trailing operator identifier
/// (`.mncXXX.mccYYY.gprs`, TS 23.003 §9.1).
pub fn network_identifier(apn: &str) -> String {
    let lower = apn.to_ascii_lowercase();
    let labels: Vec<&str> = lower.split('.').collect();
    let n = labels.len();
    if n > 3 && labels[n - 1] == "gprs" && labels[n - 2].starts_with("mcc") && labels[n - 3].starts_with("mnc") {
        labels[..n - 3].join(".")
    } else {
        lower
    }
}

struct Ctx<'a> {
    rules: &'a Rules,
    partner: &'a Partner,
    /// Its counts and budgets.
    ps: &'a Arc<PartnerState>,
    src: SocketAddr,
    now: Now,
    /// A set-up of a subscriber the cache does not hold is parked (not on a resumed datagram).
    may_park: bool,
}

impl Engine {
    /// Screens one datagram from `src` toward the P-GW. With a [`super::SubscriberCache`] set, a
    /// set-up of a home subscriber it does not hold is [`Verdict::Park`]ed, nothing counted.
    pub fn uplink(&self, src: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        self.screen_uplink(src, bytes, now, true)
    }

    /// Screens a datagram parked by [`Engine::uplink`] once its subscriber's view was loaded: the
    /// lookups answer what the cache holds now (nothing if the load failed), it is not parked again.
    pub fn uplink_resumed(&self, src: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        self.screen_uplink(src, bytes, now, false)
    }

    /// A parked datagram whose subscriber's view could not be read in time (or for which no room
    /// was left to wait): refused with "No resources available" (`lookup-timeout`, GTPv1: 199) when
    /// that rule is enforced, otherwise screened with what the lookups know now.
    pub fn lookup_failed(&self, src: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        let loaded = self.loaded();
        let Some(&pi) = loaded.rules.by_address.get(&src.ip()) else { return self.uplink_resumed(src, bytes, now) };
        let rules = &loaded.rules;
        let ps = &loaded.partners[pi];
        let answer = match gtpc::version(bytes) {
            Some(2) => Message::decode(bytes).ok().map(|m| {
                let key = m.imsi().and_then(Result::ok).and_then(|i| imsi_key(i.as_bytes()));
                (
                    refusal::v2(&m, reply_teid(&m), gtpc::v2::values::cause::NO_RESOURCES_AVAILABLE, None, None, None),
                    key,
                )
            }),
            Some(1) => gtpc::v1::Message::decode(bytes).ok().map(|m| {
                use gtpc::v1::IeType as T1;
                let teid = m.find(T1::TEID_CONTROL_PLANE).and_then(|i| i.as_u32().ok()).unwrap_or(0);
                let key = m.find(T1::IMSI).and_then(|i| i.as_imsi().ok()).and_then(|i| imsi_key(i.as_bytes()));
                (refusal::v1(&m, teid, v1cause::NO_RESOURCES), key)
            }),
            _ => None,
        };
        match answer {
            Some((a, key)) if rules.mode(Rule::LookupTimeout) == firewall::rules::Mode::Enforce => {
                self.observer.record_in(&ps.decisions, Rule::LookupTimeout, Action::Blocked, key, now.wall);
                Decision { verdict: Verdict::Answer(a), rule: Rule::LookupTimeout }
            }
            Some((_, key)) => {
                if rules.mode(Rule::LookupTimeout) == firewall::rules::Mode::Detect {
                    self.observer.record_in(&ps.decisions, Rule::LookupTimeout, Action::Detected, key, now.wall);
                }
                self.uplink_resumed(src, bytes, now)
            }
            None => self.uplink_resumed(src, bytes, now),
        }
    }

    fn screen_uplink(&self, src: SocketAddr, bytes: &[u8], now: Now, may_park: bool) -> Decision {
        let loaded = self.loaded();
        let rules = &loaded.rules;
        let Some(&pi) = rules.by_address.get(&src.ip()) else {
            self.observer.record_in(&self.unknown, Rule::UnknownSource, Action::Dropped, None, now.wall);
            return Decision::drop(Rule::UnknownSource);
        };
        let partner = &rules.partners[pi];
        let ps = &loaded.partners[pi];
        let cx = Ctx { rules, partner, ps, src, now, may_park };
        let (d, imsi) = match (gtpc::version(bytes), partner.interface) {
            (Some(2), Interface::S8) => self.uplink_v2(&cx, bytes),
            (Some(1), Interface::Gp) => self.uplink_v1(&cx, bytes),
            _ => (self.malformed(&cx, bytes), None),
        };
        let action = match d.verdict {
            Verdict::Relay(_) => Action::Passed,
            Verdict::Answer(_) => Action::Blocked,
            Verdict::Drop => Action::Dropped,
            Verdict::Park(_) => return d,
        };
        self.observer.record_in(&ps.decisions, d.rule, action, imsi, now.wall);
        d
    }

    /// A datagram that does not decode (or has the other interface's version): a request whose
    /// header can be read gets "Invalid message format"; anything else is dropped.
    fn malformed(&self, cx: &Ctx<'_>, bytes: &[u8]) -> Decision {
        if !self.enforced(cx.rules, cx.ps, Rule::Malformed, None, cx.now) {
            return Decision::relay();
        }
        let answer = match (gtpc::version(bytes), cx.partner.interface) {
            (Some(2), Interface::S8) if bytes.len() >= 8 => {
                let t = MessageType(bytes[1]);
                let seq_at = if bytes[0] & 0x08 != 0 { 8 } else { 4 };
                (!is_triggered(t) && t != MessageType::ECHO_REQUEST && bytes.len() >= seq_at + 3).then(|| {
                    let seq = u32::from_be_bytes([0, bytes[seq_at], bytes[seq_at + 1], bytes[seq_at + 2]]);
                    let req =
                        Message { header: gtpc::v2::Header::new(t, Some(0), seq), ies: vec![], piggybacked: None };
                    refusal::v2(&req, 0, gtpc::v2::values::cause::INVALID_MESSAGE_FORMAT, None, None, None)
                })
            }
            (Some(1), Interface::Gp)
                if bytes.len() >= 12 && bytes[0] & 0x02 != 0 && matches!(bytes[1], 16 | 18 | 20) =>
            {
                let req = gtpc::v1::Message::new(
                    gtpc::v1::MessageType(bytes[1]),
                    0,
                    u16::from_be_bytes([bytes[8], bytes[9]]),
                    vec![],
                );
                Some(refusal::v1(&req, 0, v1cause::INVALID_MESSAGE_FORMAT))
            }
            _ => None,
        };
        match answer {
            Some(a) => Decision { verdict: Verdict::Answer(a), rule: Rule::Malformed },
            None => Decision::drop(Rule::Malformed),
        }
    }

    fn refuse_v2(&self, cx: &Ctx<'_>, req: &Message, teid: u32, rule: Rule, offending: Option<IeType>) -> Decision {
        let Some(mut cause) = rule.cause() else { return Decision::drop(rule) };
        if rule == Rule::Overload && req.header.message_type != MessageType::CREATE_SESSION_REQUEST {
            // "APN congestion" belongs to session set-up; other requests get "No resources available".
            cause = gtpc::v2::values::cause::NO_RESOURCES_AVAILABLE;
        }
        let backoff = (cause == gtpc::v2::values::cause::APN_CONGESTION).then_some(cx.rules.backoff);
        let oci = if cx.partner.overload_control { self.oci_now(cx.rules, cx.partner, cx.ps, cx.now) } else { None };
        Decision { verdict: Verdict::Answer(refusal::v2(req, teid, cause, offending, backoff, oci.as_ref())), rule }
    }

    fn uplink_v2(&self, cx: &Ctx<'_>, bytes: &[u8]) -> (Decision, Option<ImsiKey>) {
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(_) => return (self.malformed(cx, bytes), None),
        };
        let t = msg.header.message_type;
        let seq = msg.header.sequence;
        let name = &cx.partner.name;
        if !cx.partner.allow.contains(&t.0) && self.enforced(cx.rules, cx.ps, Rule::MessageType, None, cx.now) {
            return (Decision::drop(Rule::MessageType), None);
        }
        let now = cx.now.instant;
        if is_triggered(t) {
            if t == MessageType::ECHO_RESPONSE {
                if let Some(Ok(r)) = msg.recovery() {
                    self.restart_counter(cx.src, r);
                }
            }
            let answered =
                self.take_pending((cx.src, Dir::Down, seq), now).filter(|p| p.message_type.wrapping_add(1) == t.0);
            if let Some(p) = &answered {
                // The partner deleted the default bearer the P-GW asked it to: the tunnel is gone.
                let done = matches!(msg.cause(), Some(Ok(c)) if c.is_accepted()
                    || c.value == gtpc::v2::values::cause::CONTEXT_NOT_FOUND);
                if t == MessageType::DELETE_BEARER_RESPONSE && p.teid != 0 && done {
                    self.remove_tunnel(p.teid);
                }
            }
            if answered.is_none() && self.enforced(cx.rules, cx.ps, Rule::UnexpectedResponse, None, cx.now) {
                return (Decision::drop(Rule::UnexpectedResponse), None);
            }
            return (Decision::relay(), None);
        }
        if t == MessageType::ECHO_REQUEST {
            if let Some(Ok(r)) = msg.recovery() {
                self.restart_counter(cx.src, r);
            }
            let p = Pending {
                message_type: t.0,
                expires: now + cx.rules.request_timeout,
                state: Arc::clone(cx.ps),
                imsi: None,
                priority: Priority::Critical,
                teid: 0,
                sgw: (0, 0),
            };
            if !self.add_pending(cx.rules, (cx.src, Dir::Up, seq), p, now) {
                return (Decision::drop(Rule::PendingFull), None);
            }
            return (Decision::relay(), None);
        }
        if t == MessageType::CREATE_SESSION_REQUEST {
            return self.create_session(cx, &msg);
        }
        // Any other request acts on a tunnel: it must be one this partner created.
        let teid = msg.header.teid.unwrap_or(0);
        let tunnel = self.tunnel_shard(teid).tunnels.get(&teid).map(|tn| (tn.partner == *name, tn.imsi, tn.priority));
        let (imsi, priority) = match tunnel {
            Some((true, imsi, priority)) => (imsi, priority),
            other => {
                let imsi = other.and_then(|(_, imsi, _)| imsi);
                if self.enforced(cx.rules, cx.ps, Rule::ForeignTunnel, imsi, cx.now) {
                    return (self.refuse_v2(cx, &msg, 0, Rule::ForeignTunnel, None), imsi);
                }
                (imsi, Priority::Standard)
            }
        };
        // Deleting frees the P-GW: it passes the door first.
        let priority = if t == MessageType::DELETE_SESSION_REQUEST { Priority::Critical } else { priority };
        (self.admit_and_track(cx, &msg, imsi, priority, teid, (0, 0)), imsi)
    }

    /// Priority admission, then the request is remembered for its response and relayed.
    fn admit_and_track(
        &self,
        cx: &Ctx<'_>,
        msg: &Message,
        imsi: Option<ImsiKey>,
        priority: Priority,
        teid: u32,
        sgw: (u32, u8),
    ) -> Decision {
        let now = cx.now.instant;
        if !self.admit(cx.rules, priority, now) && self.enforced(cx.rules, cx.ps, Rule::Overload, imsi, cx.now) {
            return self.refuse_v2(cx, msg, reply_teid(msg), Rule::Overload, None);
        }
        let p = Pending {
            message_type: msg.header.message_type.0,
            expires: now + cx.rules.request_timeout,
            state: Arc::clone(cx.ps),
            imsi,
            priority,
            teid,
            sgw,
        };
        if !self.add_pending(cx.rules, (cx.src, Dir::Up, msg.header.sequence), p, now) {
            return Decision::drop(Rule::PendingFull);
        }
        Decision::relay()
    }

    /// Whether a set-up of these IMSI digits waits for the subscriber's view (home subscribers only:
    /// a foreign IMSI is refused without a store read).
    fn park(&self, cx: &Ctx<'_>, imsi: &str) -> Option<Decision> {
        (cx.may_park && firewall::rules::has_prefix(&cx.rules.imsi_prefixes, imsi.as_bytes()) && self.must_park(imsi))
            .then(|| Decision { verdict: Verdict::Park(imsi.to_owned()), rule: Rule::Relay })
    }

    fn create_session(&self, cx: &Ctx<'_>, msg: &Message) -> (Decision, Option<ImsiKey>) {
        let teid = reply_teid(msg);
        // Before any check counts anything: a subscriber not in memory waits for its view.
        if let Some(Ok(imsi)) = msg.imsi() {
            if let Some(d) = self.park(cx, &imsi) {
                return (d, None);
            }
        }
        // Mandatory IEs: present, and the ones the checks read readable.
        for &ie in CREATE_SESSION_MANDATORY {
            if msg.find(ie, 0).is_none() && self.enforced(cx.rules, cx.ps, Rule::MandatoryIe, None, cx.now) {
                return (self.refuse_v2(cx, msg, teid, Rule::MandatoryIe, Some(ie)), None);
            }
        }
        let imsi = msg.imsi().and_then(Result::ok);
        let plmn = msg.serving_network().and_then(Result::ok);
        let apn = msg.apn().and_then(Result::ok);
        let incorrect = if imsi.is_none() {
            Some(IeType::IMSI)
        } else if plmn.is_none() {
            Some(IeType::SERVING_NETWORK)
        } else if apn.is_none() {
            Some(IeType::APN)
        } else if !matches!(msg.sender_fteid(), Some(Ok(_))) {
            Some(IeType::FTEID)
        } else {
            None
        };
        if let Some(ie) = incorrect {
            if self.enforced(cx.rules, cx.ps, Rule::MandatoryIe, None, cx.now) {
                let d = refusal::v2(msg, teid, gtpc::v2::values::cause::MANDATORY_IE_INCORRECT, Some(ie), None, None);
                return (Decision { verdict: Verdict::Answer(d), rule: Rule::MandatoryIe }, None);
            }
        }
        let imsi = imsi.unwrap_or_default();
        let key = imsi_key(imsi.as_bytes());
        let refuse = |rule: Rule| (self.refuse_v2(cx, msg, teid, rule, None), key);
        if !firewall::rules::has_prefix(&cx.rules.imsi_prefixes, imsi.as_bytes())
            && self.enforced(cx.rules, cx.ps, Rule::ImsiRange, key, cx.now)
        {
            return refuse(Rule::ImsiRange);
        }
        if let Some(p) = plmn {
            if !cx.partner.plmns.contains(&p) && self.enforced(cx.rules, cx.ps, Rule::ServingNetwork, key, cx.now) {
                return refuse(Rule::ServingNetwork);
            }
            if !self.registered_in(cx, &imsi, p) && self.enforced(cx.rules, cx.ps, Rule::NotRegistered, key, cx.now) {
                return refuse(Rule::NotRegistered);
            }
        }
        if let Some(apn) = &apn {
            let lookup = self.apns.read().expect("lookup").clone();
            let allowed = lookup.and_then(|l| l.apn_allowed(&imsi, &network_identifier(apn)));
            if allowed == Some(false) && self.enforced(cx.rules, cx.ps, Rule::Apn, key, cx.now) {
                return refuse(Rule::Apn);
            }
        }
        let priority = self.priority_of(cx.rules, &imsi);
        let now = cx.now.instant;
        {
            if let Some(Ok(r)) = msg.recovery() {
                self.restart_counter(cx.src, r);
            }
            cx.ps.oci.lock().expect("oci").note_setup(now);
            let over_cap = cx.ps.tunnels.load(Ordering::Acquire) >= cx.partner.max_tunnels;
            let partner_ok = priority == Priority::Critical || self.spend_partner(cx.partner, cx.ps, now);
            let imsi_ok = priority == Priority::Critical || key.is_none_or(|k| self.spend_imsi(cx.rules, k, now));
            if over_cap && self.enforced(cx.rules, cx.ps, Rule::TunnelCap, key, cx.now) {
                return refuse(Rule::TunnelCap);
            }
            if !partner_ok && self.enforced(cx.rules, cx.ps, Rule::PartnerRate, key, cx.now) {
                return refuse(Rule::PartnerRate);
            }
            if !imsi_ok && self.enforced(cx.rules, cx.ps, Rule::ImsiRate, key, cx.now) {
                return refuse(Rule::ImsiRate);
            }
        }
        // The default bearer: the EBI of the (first) Bearer Context to be created.
        let ebi = msg.bearer_contexts().find_map(|b| b.as_bearer_context().ok()?.ebi).unwrap_or(0);
        (self.admit_and_track(cx, msg, key, priority, 0, (teid, ebi)), key)
    }

    /// The S6a cross-check: registered in `plmn`, or registered elsewhere less than the grace window
    /// ago (the move races the session set-up). Without a lookup the check passes.
    fn registered_in(&self, cx: &Ctx<'_>, imsi: &str, plmn: gtpc::Plmn) -> bool {
        let Some(lookup) = self.registrations.read().expect("lookup").clone() else { return true };
        match lookup.registration(imsi) {
            Some((p, _)) if p == plmn => true,
            Some((_, since)) => cx.now.wall.duration_since(since).unwrap_or_default() < cx.rules.grace,
            None => false,
        }
    }

    fn uplink_v1(&self, cx: &Ctx<'_>, bytes: &[u8]) -> (Decision, Option<ImsiKey>) {
        use gtpc::v1::{IeType as T1, Message as M1, MessageType as MT1};
        let msg = match M1::decode(bytes) {
            Ok(m) => m,
            Err(_) => return (self.malformed(cx, bytes), None),
        };
        let t = msg.header.message_type;
        let seq = u32::from(msg.header.sequence);
        let name = &cx.partner.name;
        let now = cx.now.instant;
        if !cx.partner.allow.contains(&t.0) && self.enforced(cx.rules, cx.ps, Rule::MessageType, None, cx.now) {
            return (Decision::drop(Rule::MessageType), None);
        }
        let answer = |rule: Rule, cause: u8, teid: u32| {
            (Decision { verdict: Verdict::Answer(refusal::v1(&msg, teid, cause)), rule }, None)
        };
        let recovery = msg.find(T1::RECOVERY).and_then(|i| i.as_u8().ok());
        if let Some(r) = recovery {
            self.restart_counter(cx.src, r);
        }
        if matches!(t.0, 2 | 19 | 21) {
            let answered =
                self.take_pending((cx.src, Dir::Down, seq), now).is_some_and(|p| p.message_type.wrapping_add(1) == t.0);
            if !answered && self.enforced(cx.rules, cx.ps, Rule::UnexpectedResponse, None, cx.now) {
                return (Decision::drop(Rule::UnexpectedResponse), None);
            }
            return (Decision::relay(), None);
        }
        let sgsn_teid = msg.find(T1::TEID_CONTROL_PLANE).and_then(|i| i.as_u32().ok()).unwrap_or(0);
        let mut imsi = None;
        let mut priority = Priority::Critical;
        let mut teid = 0;
        if t == MT1::CREATE_PDP_CONTEXT_REQUEST {
            let Some(digits) = msg.find(T1::IMSI).and_then(|i| i.as_imsi().ok()) else {
                return answer(Rule::MandatoryIe, v1cause::MANDATORY_IE_MISSING, sgsn_teid);
            };
            if let Some(d) = self.park(cx, &digits) {
                return (d, None);
            }
            imsi = imsi_key(digits.as_bytes());
            if !firewall::rules::has_prefix(&cx.rules.imsi_prefixes, digits.as_bytes())
                && self.enforced(cx.rules, cx.ps, Rule::ImsiRange, imsi, cx.now)
            {
                let (d, _) = answer(Rule::ImsiRange, v1cause::IMSI_NOT_KNOWN, sgsn_teid);
                return (d, imsi);
            }
            priority = self.priority_of(cx.rules, &digits);
            cx.ps.oci.lock().expect("oci").note_setup(now);
            let ok = priority == Priority::Critical || self.spend_partner(cx.partner, cx.ps, now);
            let over_cap = cx.ps.tunnels.load(Ordering::Acquire) >= cx.partner.max_tunnels;
            for (bad, rule) in [(!ok, Rule::PartnerRate), (over_cap, Rule::TunnelCap)] {
                if bad && self.enforced(cx.rules, cx.ps, rule, imsi, cx.now) {
                    return (answer(rule, v1cause::NO_RESOURCES, sgsn_teid).0, imsi);
                }
            }
        } else if t != MT1::ECHO_REQUEST {
            teid = msg.header.teid;
            let tunnel =
                self.tunnel_shard(teid).tunnels.get(&teid).map(|tn| (tn.partner == *name, tn.imsi, tn.priority));
            match tunnel {
                Some((true, i, p)) => {
                    imsi = i;
                    priority = p;
                }
                _ => {
                    if self.enforced(cx.rules, cx.ps, Rule::ForeignTunnel, None, cx.now) {
                        return answer(Rule::ForeignTunnel, v1cause::CONTEXT_NOT_FOUND, 0);
                    }
                }
            }
            if t == MT1::DELETE_PDP_CONTEXT_REQUEST {
                priority = Priority::Critical;
            }
        }
        if t != MT1::ECHO_REQUEST
            && !self.admit(cx.rules, priority, now)
            && self.enforced(cx.rules, cx.ps, Rule::Overload, imsi, cx.now)
        {
            return (answer(Rule::Overload, v1cause::NO_RESOURCES, sgsn_teid).0, imsi);
        }
        let p = Pending {
            message_type: t.0,
            expires: now + cx.rules.request_timeout,
            state: Arc::clone(cx.ps),
            imsi,
            priority,
            teid,
            sgw: (sgsn_teid, 0),
        };
        if !self.add_pending(cx.rules, (cx.src, Dir::Up, seq), p, now) {
            return (Decision::drop(Rule::PendingFull), imsi);
        }
        (Decision::relay(), imsi)
    }
}

/// The TEID a response to `msg` goes to: the sender's control-plane TEID when the request carries
/// it (Create Session), else 0 (TS 29.274 §5.5.2).
fn reply_teid(msg: &Message) -> u32 {
    match msg.sender_fteid() {
        Some(Ok(f)) => f.teid,
        _ => 0,
    }
}
