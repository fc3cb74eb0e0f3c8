//! Screening one partner request ([`Engine::screen`]), one function per step of the catalogue
//! (docs/firewall.md): sinkhole; reading the AVPs in place; category 1 (application, command matrix,
//! loop); well-formedness (required, repeated and invalid AVPs); category 2 (consistency with the
//! partner and the home network); the per-subscriber checks under one shard lock — category 3
//! (velocity, serving node), steering of roaming and the subscriber's budget; the partner's budget;
//! and admission by priority against the HSS's capacity. The first step that blocks answers.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use diameter::avp::{self, Avp};
use diameter::dictionary::{app, AvpDef};
use diameter::header::Header;
use diameter::{Command, DecodeError, MessageView, Value};

use super::{host_hash, shard_of, Bucket, Ctx, Engine, Meta, Now, Outcome, Subscriber};
use crate::answer::LocalAnswer;
use crate::observe::Action;
use crate::rules::{has_prefix, imsi_key, Answer, ImsiKey, Mode, Plmn, Priority, Rule, SinkholeMode};

/// The (code, vendor id) of the AVPs screening reads, as patterns.
mod id {
    use diameter::avp;

    type Id = (u32, Option<u32>);
    pub const SESSION_ID: Id = avp::SESSION_ID.id();
    pub const ORIGIN_HOST: Id = avp::ORIGIN_HOST.id();
    pub const ORIGIN_REALM: Id = avp::ORIGIN_REALM.id();
    pub const DESTINATION_REALM: Id = avp::DESTINATION_REALM.id();
    pub const USER_NAME: Id = avp::USER_NAME.id();
    pub const VISITED_PLMN_ID: Id = avp::VISITED_PLMN_ID.id();
    pub const OC_SUPPORTED_FEATURES: Id = avp::OC_SUPPORTED_FEATURES.id();
    pub const ROUTE_RECORD: Id = avp::ROUTE_RECORD.id();
}

pub(super) fn eq_ci(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// True when `host` lies in `realm` (equal, or ends with `.realm`), ignoring case.
pub(super) fn host_in_realm(host: &[u8], realm: &[u8]) -> bool {
    host.eq_ignore_ascii_case(realm)
        || (host.len() > realm.len()
            && host[host.len() - realm.len() - 1] == b'.'
            && host[host.len() - realm.len()..].eq_ignore_ascii_case(realm))
}

/// The AVPs screening looks at, borrowed from the message.
#[derive(Default)]
pub(super) struct Fields<'a> {
    session: Option<&'a [u8]>,
    origin_host: Option<&'a [u8]>,
    origin_realm: Option<&'a [u8]>,
    destination_realm: Option<&'a [u8]>,
    user_name: Option<&'a [u8]>,
    plmn: Option<&'a [u8]>,
    doic: bool,
    looped: bool,
    /// The first single-occurrence AVP seen twice, with its second value.
    repeated: Option<(AvpDef, &'a [u8])>,
}

impl<'a> Fields<'a> {
    /// Reads every AVP once, in place. On a malformed AVP, the fields read so far (the Session-Id to
    /// echo) stay filled in.
    fn read(&mut self, view: &MessageView<'a>, own_host: &str) -> Result<(), DecodeError> {
        let f = self;
        for a in view.avps() {
            let a = a?;
            if a.flags & diameter::avp::avp_flags::RESERVED != 0 {
                return Err(DecodeError::InvalidAvpBits { code: a.code, failed: Box::new(Avp::from_raw(&a)) });
            }
            let (slot, def) = match (a.code, a.vendor_id) {
                id::SESSION_ID if std::str::from_utf8(a.data).is_err() => {
                    // Not echoed: the answer would be as undecodable as the request.
                    let reason = "Session-Id is not valid UTF-8";
                    let failed = Box::new(Avp::from_raw(&a));
                    f.session = None;
                    return Err(DecodeError::InvalidAvpValue { code: a.code, reason, failed });
                }
                id::SESSION_ID => (&mut f.session, avp::SESSION_ID.def()),
                id::ORIGIN_HOST => (&mut f.origin_host, avp::ORIGIN_HOST.def()),
                id::ORIGIN_REALM => (&mut f.origin_realm, avp::ORIGIN_REALM.def()),
                id::DESTINATION_REALM => (&mut f.destination_realm, avp::DESTINATION_REALM.def()),
                id::USER_NAME => (&mut f.user_name, avp::USER_NAME.def()),
                id::VISITED_PLMN_ID => {
                    f.plmn.get_or_insert(a.data);
                    continue;
                }
                id::OC_SUPPORTED_FEATURES => {
                    f.doic = true;
                    continue;
                }
                id::ROUTE_RECORD => {
                    f.looped |= eq_ci(a.data, own_host);
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                f.repeated.get_or_insert((def, a.data));
            } else {
                *slot = Some(a.data);
            }
        }
        Ok(())
    }
}

/// A well-formed request: what the checks after category 1 need.
struct Request<'a> {
    origin_host: &'a [u8],
    origin_realm: &'a [u8],
    destination_realm: &'a [u8],
    imsi_digits: &'a [u8],
    imsi: Option<ImsiKey>,
    plmn: Option<Plmn>,
    /// Hash of the Origin-Host, the node that sent the request.
    host: u64,
}

impl Request<'_> {
    /// What events carry.
    fn meta(&self) -> (Option<ImsiKey>, Option<Plmn>) {
        (self.imsi, self.plmn)
    }
}

/// An AVP of the dictionary with its value as bytes (Failed-AVP content).
fn failed(def: AvpDef, data: &[u8]) -> Box<Avp> {
    Box::new(Avp {
        code: def.code,
        flags: def.flags(),
        vendor_id: def.vendor_id(),
        value: Value::OctetString(data.to_vec()),
    })
}

/// Required AVPs present (all four inbound S6a commands carry them), single AVPs not repeated, the
/// User-Name an IMSI, the Visited-PLMN-Id 3 bytes.
fn well_formed<'a>(h: &Header, command: Command, f: &Fields<'a>) -> Result<Request<'a>, DecodeError> {
    let s6a = h.app_id == app::S6A;
    let needs_plmn = s6a && matches!(command, Command::ULR | Command::AIR);
    for (present, def) in [
        (f.session.is_some(), avp::SESSION_ID.def()),
        (f.origin_host.is_some(), avp::ORIGIN_HOST.def()),
        (f.origin_realm.is_some(), avp::ORIGIN_REALM.def()),
        (f.destination_realm.is_some(), avp::DESTINATION_REALM.def()),
        (f.user_name.is_some() || !s6a, avp::USER_NAME.def()),
        (f.plmn.is_some() || !needs_plmn, avp::VISITED_PLMN_ID.def()),
    ] {
        if !present {
            // RFC 6733 §7.5: the missing AVP with an empty payload.
            return Err(DecodeError::MissingAvp { name: "required AVP", failed: failed(def, &[]) });
        }
    }
    if let Some((def, data)) = f.repeated {
        return Err(DecodeError::AvpOccursTooManyTimes { name: "single AVP", failed: failed(def, data) });
    }
    let imsi_digits = f.user_name.unwrap_or_default();
    let imsi = match imsi_key(imsi_digits) {
        None if s6a => {
            let reason = "User-Name is not an IMSI";
            let failed = failed(avp::USER_NAME.def(), imsi_digits);
            return Err(DecodeError::InvalidAvpValue { code: avp::USER_NAME.code(), reason, failed });
        }
        k => k,
    };
    let plmn = match f.plmn {
        Some(p) if p.len() != 3 => {
            let failed = failed(avp::VISITED_PLMN_ID.def(), p);
            return Err(DecodeError::InvalidAvpLength { code: avp::VISITED_PLMN_ID.code(), failed });
        }
        Some(p) => match Plmn::from_bcd(p) {
            Ok(p) => Some(p),
            Err(_) => {
                let (reason, failed) = ("Visited-PLMN-Id is not BCD digits", failed(avp::VISITED_PLMN_ID.def(), p));
                return Err(DecodeError::InvalidAvpValue { code: avp::VISITED_PLMN_ID.code(), reason, failed });
            }
        },
        None => None,
    };
    let origin_host = f.origin_host.unwrap_or_default();
    Ok(Request {
        origin_host,
        origin_realm: f.origin_realm.unwrap_or_default(),
        destination_realm: f.destination_realm.unwrap_or_default(),
        imsi_digits,
        imsi,
        plmn,
        host: host_hash(origin_host),
    })
}

impl Engine {
    /// Screens one request from a partner at `now`. A local answer (or nothing, for a sinkhole) is
    /// written into `out`; `Forward` means the request goes to the HSS unchanged.
    pub fn screen(&self, ctx: &Ctx<'_>, bytes: &[u8], now: Now, out: &mut Vec<u8>) -> Outcome {
        let view = match MessageView::parse(bytes) {
            Ok(v) => v,
            Err(e) => {
                let Ok(header) = Header::parse(bytes) else { return Outcome::Dropped };
                return self.malformed(ctx, header, &Fields::default(), &e, now, out);
            }
        };
        let h = view.header;
        if ctx.rules.partners[ctx.partner].sinkhole {
            return self.sinkhole(ctx, &view, now, out);
        }
        let mut f = Fields::default();
        if let Err(e) = f.read(&view, &ctx.rules.origin_host) {
            return self.malformed(ctx, h, &f, &e, now, out);
        }
        let command = match self.category1(ctx, &h, &f, now.wall) {
            Ok(c) => c,
            Err((rule, text)) => return self.answer(ctx, h, &f, rule, None, Some(text), now, out),
        };
        let req = match well_formed(&h, command, &f) {
            Ok(r) => r,
            Err(e) => return self.malformed(ctx, h, &f, &e, now, out),
        };
        if let Some(rule) = self.category2(ctx, &req, now.wall) {
            return self.answer(ctx, h, &f, rule, None, None, now, out);
        }
        let priority = self.priority_of(ctx, &req);
        let blocked = self
            .subscriber_checks(ctx, command, &req, priority, now)
            .or_else(|| self.partner_budget(ctx, &req, priority, now))
            .or_else(|| self.admission(ctx, &req, priority, now));
        if let Some(rule) = blocked {
            return self.answer(ctx, h, &f, rule, None, None, now, out);
        }
        ctx.stats.count(Rule::Pass, Action::Passed);
        self.upstream_in_flight.fetch_add(1, Ordering::Relaxed);
        Outcome::Forward(Meta { command, imsi: req.imsi, plmn: req.plmn, host: req.host, doic: f.doic, priority })
    }

    /// A sinkholed partner: every request dropped, or given one uniform answer whatever it was (no
    /// Session-Id parsing beyond the first one).
    fn sinkhole(&self, ctx: &Ctx<'_>, view: &MessageView<'_>, now: Now, out: &mut Vec<u8>) -> Outcome {
        let drop = ctx.rules.sinkhole_mode == SinkholeMode::Drop;
        ctx.stats.count(Rule::Sinkhole, if drop { Action::Dropped } else { Action::Blocked });
        if drop {
            return Outcome::Dropped;
        }
        let f = Fields {
            session: view.find(avp::SESSION_ID).map(|a| a.data).filter(|d| std::str::from_utf8(d).is_ok()),
            ..Fields::default()
        };
        self.answer(ctx, view.header, &f, Rule::Sinkhole, None, None, now, out)
    }

    /// Category 1: what may come in at all — an allowed application, a command of the inbound
    /// matrix, no loop. The command, or the rule that refuses with its Error-Message.
    fn category1(
        &self,
        ctx: &Ctx<'_>,
        h: &Header,
        f: &Fields<'_>,
        wall: SystemTime,
    ) -> Result<Command, (Rule, &'static str)> {
        let rules = ctx.rules;
        let refuse = |rule: Rule, reason: &'static str, text: &'static str| {
            self.record(ctx, rule, Action::Blocked, (None, None), rules.answer(rule).code(), reason, wall);
            Err((rule, text))
        };
        if !rules.applications.contains(&h.app_id) {
            return refuse(Rule::Application, "application not allowed from partners", "application not allowed");
        }
        let Some(command) = rules.inbound.iter().copied().find(|c| c.app() == h.app_id && c.code() == h.code) else {
            return refuse(Rule::Command, "command never allowed toward the HSS", "command not allowed");
        };
        if f.looped {
            return refuse(Rule::Loop, "own identity in Route-Record", "loop detected");
        }
        Ok(command)
    }

    /// Category 2: consistency with the partner on this connection and the home network —
    /// Origin-Host/Realm, Destination-Realm, home IMSI ranges, Visited-PLMN-Id.
    fn category2(&self, ctx: &Ctx<'_>, req: &Request<'_>, wall: SystemTime) -> Option<Rule> {
        let rules = ctx.rules;
        let partner = &rules.partners[ctx.partner];
        if rules.mode(Rule::Origin) != Mode::Off {
            let ok = partner.hosts.iter().any(|x| eq_ci(req.origin_host, x))
                && partner.realms.iter().any(|r| eq_ci(req.origin_realm, r))
                && (!rules.host_in_realm || host_in_realm(req.origin_host, req.origin_realm));
            let reason = "Origin-Host/Origin-Realm not the partner's or inconsistent";
            if !ok && self.hit(ctx, Rule::Origin, req.meta(), reason, wall) {
                return Some(Rule::Origin);
            }
        }
        if rules.mode(Rule::DestinationRealm) != Mode::Off
            && !rules.home_realms.iter().any(|r| eq_ci(req.destination_realm, r))
            && self.hit(ctx, Rule::DestinationRealm, req.meta(), "Destination-Realm is not a home realm", wall)
        {
            return Some(Rule::DestinationRealm);
        }
        if rules.mode(Rule::HomeImsi) != Mode::Off
            && req.imsi.is_some()
            && !has_prefix(&rules.home_prefixes, req.imsi_digits)
            && self.hit(ctx, Rule::HomeImsi, req.meta(), "IMSI outside the home ranges", wall)
        {
            return Some(Rule::HomeImsi);
        }
        if rules.mode(Rule::VisitedPlmn) != Mode::Off {
            if let Some(p) = &req.plmn {
                let reason = "Visited-PLMN-Id is not one of the partner's";
                if !partner.plmns.contains(p) && self.hit(ctx, Rule::VisitedPlmn, req.meta(), reason, wall) {
                    return Some(Rule::VisitedPlmn);
                }
            }
        }
        None
    }

    /// The device's priority: the lookup (the subscriber store) first, then the configured lists.
    fn priority_of(&self, ctx: &Ctx<'_>, req: &Request<'_>) -> Priority {
        let Some(k) = req.imsi else { return Priority::Standard };
        self.priority_by_imsi(ctx, k, req.imsi_digits)
    }

    fn priority_by_imsi(&self, ctx: &Ctx<'_>, k: ImsiKey, digits: &[u8]) -> Priority {
        let looked = self
            .lookup
            .read()
            .expect("lookup")
            .as_ref()
            .and_then(|l| std::str::from_utf8(digits).ok().and_then(|s| l.priority(s)));
        looked.unwrap_or_else(|| ctx.rules.priority(k, digits))
    }

    /// The priority [`Engine::screen`] will give a request, read cheaply from its User-Name alone, so
    /// that a backlog read at once can be screened critical first. What cannot be read this way is
    /// Standard here; `screen` still judges every request in full.
    pub fn backlog_priority(&self, ctx: &Ctx<'_>, bytes: &[u8]) -> Priority {
        let Ok(view) = MessageView::parse(bytes) else { return Priority::Standard };
        let (code, vendor) = id::USER_NAME;
        let Some(user) = view.find_code(code, vendor.unwrap_or(0)) else { return Priority::Standard };
        match imsi_key(user.data) {
            Some(k) => self.priority_by_imsi(ctx, k, user.data),
            None => Priority::Standard,
        }
    }

    /// The checks on the subscriber's state, under one shard lock: category 3, steering, and the
    /// subscriber's budget.
    fn subscriber_checks(
        &self,
        ctx: &Ctx<'_>,
        command: Command,
        req: &Request<'_>,
        priority: Priority,
        now: Now,
    ) -> Option<Rule> {
        let k = req.imsi?;
        let rules = ctx.rules;
        let risky = command == Command::ULR
            && rules.mode(Rule::RiskyPlmn) != Mode::Off
            && req.plmn.is_some_and(|p| !rules.is_home_plmn(&p) && self.is_risky(rules, &p, now.instant));
        let mut shard = self.subscribers[shard_of(k)].lock().expect("subscribers");
        // One lookup; events are recorded with the shard locked (the event ring is another lock).
        let s = self.subscriber_entry(&mut shard, rules, k, now.instant);
        self.category3(ctx, command, req, s, now)
            .or_else(|| self.steering(ctx, req, s, priority, risky, now))
            .or_else(|| self.imsi_budget(ctx, req, s, priority, now))
    }

    /// Category 3: location plausibility — a ULR from another country too soon after the last
    /// registration (velocity), a PUR/NOR from a node that is not the serving MME.
    fn category3(&self, ctx: &Ctx<'_>, command: Command, req: &Request<'_>, s: &Subscriber, now: Now) -> Option<Rule> {
        let rules = ctx.rules;
        let reg = s.registration?;
        if command == Command::ULR && rules.mode(Rule::Velocity) != Mode::Off {
            if let Some(p) = req.plmn {
                let (a, b) = (reg.plmn.mcc(), p.mcc());
                let reason = "registered in another country too recently";
                if a != b
                    && now.instant.saturating_duration_since(reg.at) < rules.velocity(a, b)
                    && self.hit(ctx, Rule::Velocity, req.meta(), reason, now.wall)
                {
                    return Some(Rule::Velocity);
                }
            }
        }
        if matches!(command, Command::PUR | Command::NOR) && rules.mode(Rule::ServingNode) != Mode::Off {
            let reason = "PUR/NOR from a node that is not the serving MME";
            if reg.host != req.host && self.hit(ctx, Rule::ServingNode, req.meta(), reason, now.wall) {
                return Some(Rule::ServingNode);
            }
        }
        None
    }

    /// Steering of roaming: an outbound roamer registering in a risky visited network is refused,
    /// unless it is a critical device refused often enough already (the critical rescue).
    fn steering(
        &self,
        ctx: &Ctx<'_>,
        req: &Request<'_>,
        s: &mut Subscriber,
        priority: Priority,
        risky: bool,
        now: Now,
    ) -> Option<Rule> {
        if !risky {
            return None;
        }
        let steering = &ctx.rules.steering;
        if now.instant.saturating_duration_since(s.rejections_since)
            > Duration::from_secs(steering.critical_rescue_window_secs)
        {
            s.rejections = 0;
            s.rejections_since = now.instant;
        }
        if priority == Priority::Critical && s.rejections >= steering.critical_rescue_after {
            s.rejections = 0;
            let reason = "critical device admitted in a risky network after repeated rejections";
            self.record(ctx, Rule::CriticalRescue, Action::Passed, req.meta(), 0, reason, now.wall);
            return None;
        }
        if priority == Priority::Critical {
            s.rejections += 1;
        }
        let reason = "outbound roamer registering in a risky visited network";
        self.hit(ctx, Rule::RiskyPlmn, req.meta(), reason, now.wall).then_some(Rule::RiskyPlmn)
    }

    /// The subscriber's signalling budget (a device retrying in a loop); not applied to critical
    /// devices.
    fn imsi_budget(
        &self,
        ctx: &Ctx<'_>,
        req: &Request<'_>,
        s: &mut Subscriber,
        priority: Priority,
        now: Now,
    ) -> Option<Rule> {
        if priority == Priority::Critical || ctx.rules.mode(Rule::ImsiRate) == Mode::Off {
            return None;
        }
        let (rate, burst) = self.split(ctx.rules.imsi_budget);
        let dt = now.instant.saturating_duration_since(s.refilled).as_secs_f32();
        s.tokens = (s.tokens + dt * rate as f32).min(burst as f32);
        s.refilled = now.instant;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            return None;
        }
        let reason = "subscriber over its signalling budget";
        self.hit(ctx, Rule::ImsiRate, req.meta(), reason, now.wall).then_some(Rule::ImsiRate)
    }

    /// The partner's signalling budget; not applied to critical devices.
    fn partner_budget(&self, ctx: &Ctx<'_>, req: &Request<'_>, priority: Priority, now: Now) -> Option<Rule> {
        let partner = &ctx.rules.partners[ctx.partner];
        if priority == Priority::Critical || ctx.rules.mode(Rule::PartnerRate) == Mode::Off {
            return None;
        }
        let (rate, burst) = self.split(partner.budget?);
        let mut buckets = self.partner_buckets.lock().expect("partner buckets");
        let b = buckets.entry(partner.name.clone()).or_insert(Bucket { tokens: burst, refilled: now.instant });
        b.refill(rate, burst, now.instant);
        let ok = b.tokens >= 1.0;
        if ok {
            b.tokens -= 1.0;
        }
        drop(buckets);
        let reason = "partner over its signalling budget";
        (!ok && self.hit(ctx, Rule::PartnerRate, req.meta(), reason, now.wall)).then_some(Rule::PartnerRate)
    }

    /// Admission by priority against the HSS's capacity; a refusal is `overload-shed`.
    fn admission(&self, ctx: &Ctx<'_>, req: &Request<'_>, priority: Priority, now: Now) -> Option<Rule> {
        let admitted = self.admit(ctx.rules, priority, now.instant);
        self.observer.admission(priority, admitted);
        if admitted {
            return None;
        }
        ctx.stats.count(Rule::OverloadShed, Action::Blocked);
        self.record_shed(ctx, req.meta(), priority, now.wall);
        Some(Rule::OverloadShed)
    }

    /// Applies a matched rule in its mode: `true` when the request must be answered (enforce).
    fn hit(
        &self,
        ctx: &Ctx<'_>,
        rule: Rule,
        meta: (Option<ImsiKey>, Option<Plmn>),
        reason: &'static str,
        wall: SystemTime,
    ) -> bool {
        match ctx.rules.mode(rule) {
            Mode::Off => false,
            Mode::Detect => {
                self.record(ctx, rule, Action::Detected, meta, 0, reason, wall);
                false
            }
            Mode::Enforce => {
                self.record(ctx, rule, Action::Blocked, meta, ctx.rules.answer(rule).code(), reason, wall);
                true
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        ctx: &Ctx<'_>,
        header: Header,
        f: &Fields<'_>,
        rule: Rule,
        failed: Option<Avp>,
        message: Option<&str>,
        now: Now,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.answer_with(ctx, header, f, ctx.rules.answer(rule), failed, message, now, out);
        Outcome::Answered(rule)
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_with(
        &self,
        ctx: &Ctx<'_>,
        header: Header,
        f: &Fields<'_>,
        answer: Answer,
        failed: Option<Avp>,
        message: Option<&str>,
        now: Now,
        out: &mut Vec<u8>,
    ) {
        LocalAnswer {
            request: header,
            session_id: f.session,
            origin_host: &ctx.rules.origin_host,
            origin_realm: &ctx.rules.origin_realm,
            answer,
            message,
            failed,
            doic: f.doic.then(|| self.overload_report(ctx.rules, now.instant)),
        }
        .encode_into(out);
    }

    fn malformed(
        &self,
        ctx: &Ctx<'_>,
        header: Header,
        f: &Fields<'_>,
        e: &DecodeError,
        now: Now,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.record(
            ctx,
            Rule::Malformed,
            Action::Blocked,
            (None, None),
            e.result_code(),
            "malformed request",
            now.wall,
        );
        let text = e.to_string();
        let answer = Answer::Result(e.result_code());
        self.answer_with(ctx, header, f, answer, e.failed_avp().cloned(), Some(&text), now, out);
        Outcome::Answered(Rule::Malformed)
    }
}
