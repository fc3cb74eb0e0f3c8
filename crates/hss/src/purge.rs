//! Purge-UE-Request (TS 29.272 §5.2.1.3) and Notify-Request (§5.2.5.1).

use cmp::EventKind;
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Message};
use ids::{Imei, Imsi};

use crate::answer::Outcome;
use crate::{Hss, Sender};

impl Hss {
    /// The IMSI, when it is one and the peer may ask about it; else the answer that refuses it.
    fn requested_imsi(&self, req: &Message, from: Sender<'_>) -> Result<Imsi, Message> {
        let imsi = self.imsi_of(req, from)?;
        if !self.may_query(from, &imsi) {
            return Err(self.answer(req, Outcome::Result(rc::AUTHORIZATION_REJECTED)));
        }
        Ok(imsi)
    }

    pub(crate) async fn pur(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let imsi = match self.requested_imsi(req, from) {
            Ok(i) => i,
            Err(a) => return Ok(a),
        };
        if self.store.sim(&imsi).await?.is_none() {
            return Ok(self.answer(req, Outcome::Experimental(rc::EXP_USER_UNKNOWN)));
        }
        // Only the serving MME's purge clears the registration (PUA-Flags bit 0: freeze M-TMSI).
        let purged = self.store.purge(&imsi, from.node).await?;
        self.forget(&imsi);
        let mut a = self.answer(req, Outcome::Result(rc::SUCCESS));
        a.add(avp::PUA_FLAGS, u32::from(purged));
        Ok(a)
    }

    pub(crate) async fn nor(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let imsi = match self.requested_imsi(req, from) {
            Ok(i) => i,
            Err(a) => return Ok(a),
        };
        if self.store.sim(&imsi).await?.is_none() {
            return Ok(self.answer(req, Outcome::Experimental(rc::EXP_USER_UNKNOWN)));
        }
        if let Some(imei) = req
            .get(avp::TERMINAL_INFORMATION)
            .and_then(|t| t.child(avp::IMEI))
            .and_then(Avp::as_str)
            .and_then(|s| s.parse::<Imei>().ok())
        {
            self.store.record_event(Some(&imsi), &EventKind::ImeiReported.name(), &format!("IMEI {imei}")).await?;
        }
        Ok(self.answer(req, Outcome::Result(rc::SUCCESS)))
    }
}
