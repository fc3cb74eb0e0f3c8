//! Update-Location-Request (TS 29.272 §5.2.1.1): registers the serving MME, cancels the previous one,
//! enforces the profile's PLMN and RAT rules and the IMEI lock, and returns Subscription-Data.

use cmp::rules::imei_lock::{check_profile_lock, LockVerdict};
use cmp::{Actor, EventKind};
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Message};
use ids::Imei;
use store::model::{LockAction, ServingNode, SimStatus};

use crate::answer::Outcome;
use crate::rat_type::rat_of;
use crate::subscription::subscription_data;
use crate::{domain, Hss, Sender};

/// ULR-Flags bit 2: Skip-Subscriber-Data.
const SKIP_SUBSCRIBER_DATA: u32 = 1 << 2;

impl Hss {
    pub(crate) async fn ulr(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let (imsi, plmn, sub) = match self.admit(req, from).await? {
            Ok(x) => x,
            Err(a) => return Ok(a),
        };
        let (sim, profile) = (&sub.sim, sub.profile.as_deref());
        if let (Some(rat), Some(p)) = (rat_of(req.get_u32(avp::RAT_TYPE)), profile) {
            if p.forbidden_rats.contains(&rat) {
                return Ok(self.answer(req, Outcome::Experimental(rc::EXP_RAT_NOT_ALLOWED)));
            }
        }
        let imei = req
            .get(avp::TERMINAL_INFORMATION)
            .and_then(|t| t.child(avp::IMEI))
            .and_then(Avp::as_str)
            .and_then(|s| s.parse::<Imei>().ok());
        if let (Some(imei), Some(p)) = (&imei, profile) {
            let by = format!("IMEI lock of profile {}", p.name);
            match check_profile_lock(p.imei_lock, &sim.bound_imeis, imei) {
                LockVerdict::Ok => {}
                LockVerdict::Bind => {
                    cmp::sims::bind_imei(&self.store, self, &Actor::automated(by), &imsi, imei)
                        .await
                        .map_err(domain)?;
                }
                LockVerdict::Violation => {
                    let detail = format!("IMEI {imei} is not bound to this SIM (bound: {})", sim.bound_imeis.join(","));
                    self.store.record_event(Some(&imsi), &EventKind::ImeiLockViolation.name(), &detail).await?;
                    // Automated decisions never cut off critical subscriptions (SUB-4): the event is the alert.
                    if p.imei_lock_action == LockAction::Bar && sim.priority != store::model::Priority::Critical {
                        let actor = Actor::automated(format!("{by}: {detail}"));
                        let suspended =
                            cmp::sims::change_status(&self.store, self, &actor, &imsi, SimStatus::Suspended);
                        if let Err(e) = suspended.await {
                            tracing::warn!(%imsi, error = %e, "IMEI lock could not suspend the SIM");
                        }
                        return Ok(self.answer(req, Outcome::Result(rc::AUTHORIZATION_REJECTED)));
                    }
                }
            }
        }
        let sender = from.node;
        if from.relayed() {
            self.remember_route(sender, from.connection);
        }
        let node = ServingNode {
            origin_host: sender.to_string(),
            origin_realm: req.get_str(avp::ORIGIN_REALM).unwrap_or_default().to_string(),
            plmn: Some(plmn),
            since: store::now(),
        };
        let previous = self.store.register(&imsi, &node, imei.as_ref()).await?;
        self.forget(&imsi);
        if let Some(prev) = previous.filter(|p| !p.origin_host.eq_ignore_ascii_case(sender)) {
            self.cancel_moved(&imsi, &prev).await?;
        }
        let mut a = self.answer(req, Outcome::Result(rc::SUCCESS));
        a.add(avp::ULA_FLAGS, 1u32); // Separation Indication
        if req.get_u32(avp::ULR_FLAGS).unwrap_or(0) & SKIP_SUBSCRIBER_DATA == 0 {
            a.push(subscription_data(sim, profile, &self.config.subscription));
        }
        Ok(a)
    }
}
