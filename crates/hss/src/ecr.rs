//! ME-Identity-Check-Request on S13 (TS 29.272 §6.2): Equipment-Status from the EIR lists (DM-3,
//! DM-4), with critical subscriptions exempt from blacklisting by default (DM-5).
//!
//! The IMSI (User-Name, optional in ECR) is used only when the peer may ask about it, as on S6a:
//! otherwise the request is answered as if it carried none — from the IMEI lists alone, without the
//! IMSI–IMEI bindings, the critical-SIM exemption or an event in the tenant's feed — so a peer learns
//! nothing about subscribers outside its ranges (the refusal is counted against the peer).

use cmp::EventKind;
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Message};
use ids::{Imei, Imsi};
use store::model::{EirStatus, Priority};

use crate::answer::Outcome;
use crate::config::{CriticalBlacklist, UnknownImei};
use crate::{Hss, Sender};

/// Equipment-Status values (TS 29.272 §7.3.51).
fn equipment_status(s: EirStatus) -> u32 {
    match s {
        EirStatus::White => 0,
        EirStatus::Black => 1,
        EirStatus::Grey => 2,
    }
}

impl Hss {
    pub(crate) async fn ecr(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let raw = req.get(avp::TERMINAL_INFORMATION).and_then(|t| t.child(avp::IMEI)).and_then(Avp::as_str);
        let Some(imei) = raw.and_then(|s| s.parse::<Imei>().ok()) else {
            let mut a = self.answer(req, Outcome::Result(rc::INVALID_AVP_VALUE));
            if let Some(t) = req.get(avp::TERMINAL_INFORMATION) {
                a.add(avp::FAILED_AVP, vec![t.clone()]);
            }
            return Ok(a);
        };
        let imsi =
            req.get_str(avp::USER_NAME).and_then(|s| s.parse::<Imsi>().ok()).filter(|imsi| self.may_query(from, imsi));
        let status = match self.store.eir_lookup(imsi.as_ref(), &imei).await? {
            Some((s, _)) => s,
            None if self.config.eir.unknown == UnknownImei::White => EirStatus::White,
            None => return Ok(self.answer(req, Outcome::Experimental(rc::EXP_EQUIPMENT_UNKNOWN))),
        };
        let mut status = status;
        if status == EirStatus::Black && self.config.eir.critical_blacklisted == CriticalBlacklist::Greylist {
            if let Some(i) = &imsi {
                if self.store.sim(i).await?.is_some_and(|s| s.priority == Priority::Critical) {
                    status = EirStatus::Grey;
                    self.store
                        .record_event(
                            Some(i),
                            &EventKind::EirCriticalBlacklisted.name(),
                            &format!("IMEI {imei} is blacklisted; answered GREYLISTED"),
                        )
                        .await?;
                }
            }
        }
        let mut a = self.answer(req, Outcome::Result(rc::SUCCESS));
        a.add(avp::EQUIPMENT_STATUS, equipment_status(status));
        Ok(a)
    }
}
