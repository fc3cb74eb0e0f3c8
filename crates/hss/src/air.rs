//! Authentication-Information-Request (TS 29.272 §5.2.3.1): E-UTRAN vectors, UTRAN quintets or GERAN
//! triplets, resynchronisation from Re-Synchronization-Info, IND per serving node.

use cmp::EventKind;
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Command, Message};
use ids::{Imsi, Plmn};
use store::model::{Rat, SimStatus};

use std::sync::Arc;

use crate::answer::Outcome;
use crate::cache::Subscriber;
use crate::{Hss, Sender};

/// RAT-Type GERAN (TS 29.212 §5.3.31).
const RAT_GERAN: u32 = 1020;

/// The answer that refuses a request before any vector is made.
pub(crate) type Refusal = Message;

impl Hss {
    /// Resolves the subscriber, the peer's right to ask, the SIM status and the visited PLMN: the
    /// checks AIR and ULR share. The request counts for the signalling rules only once the peer may
    /// ask about the IMSI and the IMSI names a SIM: refused and junk requests leave no per-IMSI state.
    pub(crate) async fn admit(
        &self,
        req: &Message,
        from: Sender<'_>,
    ) -> store::Result<Result<(Imsi, Plmn, Arc<Subscriber>), Refusal>> {
        let imsi = match self.imsi_of(req, from) {
            Ok(i) => i,
            Err(a) => return Ok(Err(a)),
        };
        let Some(plmn) = req.get(avp::VISITED_PLMN_ID).and_then(Avp::as_bytes).and_then(|b| Plmn::from_bcd(b).ok())
        else {
            return Ok(Err(self.answer(req, Outcome::Result(rc::INVALID_AVP_VALUE))));
        };
        if !self.may_query(from, &imsi) {
            return Ok(Err(self.answer(req, Outcome::Result(rc::AUTHORIZATION_REJECTED))));
        }
        let Some(sub) = self.subscriber(&imsi).await? else {
            return Ok(Err(self.answer(req, Outcome::Experimental(rc::EXP_USER_UNKNOWN))));
        };
        self.signalling.count(&imsi, store::now());
        if sub.sim.status != SimStatus::Active {
            return Ok(Err(self.answer(req, Outcome::Result(rc::AUTHORIZATION_REJECTED))));
        }
        if let Some(p) = &sub.profile {
            if !p.allowed_plmns.is_empty() && !p.allowed_plmns.contains(&plmn) {
                // Registrations (not every AIR retry) become a `roaming.rejected` event for the tenant.
                if req.command() == Some(Command::ULR) {
                    let detail = format!("visited PLMN {plmn} not allowed by profile {}", p.name);
                    self.store.record_event(Some(&imsi), &EventKind::RoamingRejected.name(), &detail).await?;
                }
                return Ok(Err(self.answer(req, Outcome::Experimental(rc::EXP_ROAMING_NOT_ALLOWED))));
            }
        }
        Ok(Ok((imsi, plmn, sub)))
    }

    pub(crate) async fn air(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let (imsi, plmn, sub) = match self.admit(req, from).await? {
            Ok(x) => x,
            Err(a) => return Ok(a),
        };
        let forbidden = |r: Rat| sub.profile.as_ref().is_some_and(|p| p.forbidden_rats.contains(&r));
        let eutran = req.get(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO);
        let utran_geran = req.get(avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO);
        let geran = req.get_u32(avp::RAT_TYPE) == Some(RAT_GERAN);
        let (request, kind) = match (eutran, utran_geran) {
            (Some(r), _) => (r, Rat::Eutran),
            (None, Some(r)) if geran => (r, Rat::Geran),
            (None, Some(r)) => (r, Rat::Utran),
            (None, None) => return Ok(self.answer(req, Outcome::Result(rc::MISSING_AVP))),
        };
        if forbidden(kind) {
            return Ok(self.answer(req, Outcome::Experimental(rc::EXP_RAT_NOT_ALLOWED)));
        }
        let (sim, alg) = (&sub.sim, &sub.alg);
        if let Some(resync) = request.child(avp::RE_SYNCHRONIZATION_INFO).and_then(Avp::as_bytes) {
            if !self.resync(&imsi, alg, resync).await? {
                return Ok(self.answer(req, Outcome::Experimental(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE)));
            }
        }
        let n = request
            .child(avp::NUMBER_OF_REQUESTED_VECTORS)
            .and_then(Avp::as_u32)
            .unwrap_or(1)
            .clamp(1, self.config.diameter.max_vectors);
        let ind = self.config.sqn.scheme().ind_for_node(from.connection);
        let first = self.sqn.next(&self.store, &imsi, i64::from(n)).await?;
        let rands = auc::random_rands(n as usize).map_err(|e| store::StoreError::Conflict(e.to_string()))?;
        let amf = auc::Amf(sim.amf);
        let sn = auc::ServingNetwork(plmn.to_bcd());
        let mut vectors = Vec::with_capacity(n as usize);
        for (i, rand) in rands.into_iter().enumerate() {
            let sqn = self
                .config
                .sqn
                .scheme()
                .join(first as u64 + i as u64, ind)
                .map_err(|e| store::StoreError::Conflict(e.to_string()))?;
            let item = Avp::new(avp::ITEM_NUMBER, i as u32 + 1);
            vectors.push(match kind {
                Rat::Eutran => {
                    let v = alg.eutran_vector(rand, sqn, amf, &sn);
                    Avp::new(
                        avp::E_UTRAN_VECTOR,
                        vec![
                            item,
                            Avp::new(avp::RAND, &v.rand.0),
                            Avp::new(avp::XRES, v.xres.as_slice()),
                            Avp::new(avp::AUTN, v.autn.as_slice()),
                            Avp::new(avp::KASME, v.kasme.expose()),
                        ],
                    )
                }
                Rat::Geran => {
                    let Ok(t) = alg.gsm_triplet(rand) else {
                        return Ok(self.answer(req, Outcome::Experimental(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE)));
                    };
                    Avp::new(
                        avp::GERAN_VECTOR,
                        vec![
                            item,
                            Avp::new(avp::RAND, &t.rand.0),
                            Avp::new(avp::SRES, &t.sres),
                            Avp::new(avp::KC, t.kc.expose()),
                        ],
                    )
                }
                _ => {
                    let v = alg.umts_vector(rand, sqn, amf);
                    Avp::new(
                        avp::UTRAN_VECTOR,
                        vec![
                            item,
                            Avp::new(avp::RAND, &v.rand.0),
                            Avp::new(avp::XRES, v.xres.as_slice()),
                            Avp::new(avp::AUTN, v.autn.as_slice()),
                            Avp::new(avp::CONFIDENTIALITY_KEY, v.ck.expose()),
                            Avp::new(avp::INTEGRITY_KEY, v.ik.expose()),
                        ],
                    )
                }
            });
        }
        let mut a = self.answer(req, Outcome::Result(rc::SUCCESS));
        a.add(avp::AUTHENTICATION_INFO, vectors);
        Ok(a)
    }

    /// Verifies RAND ‖ AUTS and moves SEQ_HE when TS 33.102 §6.3.5 says so. False when MAC-S fails.
    async fn resync(&self, imsi: &Imsi, alg: &auc::AuthAlgorithm, info: &[u8]) -> store::Result<bool> {
        if info.len() < 16 + 14 {
            return Ok(false);
        }
        let (Ok(rand), Ok(auts)) = (auc::Rand::from_slice(&info[..16]), auc::Auts::from_slice(&info[16..])) else {
            return Ok(false);
        };
        let Ok(sqn_ms) = auc::verify_auts(alg, &rand, &auts) else {
            let detail = "Re-Synchronization-Info with a MAC-S that does not verify";
            self.store.record_event(Some(imsi), &EventKind::AuthAutsRejected.name(), detail).await?;
            return Ok(false);
        };
        let seq_he = match self.sqn.last(imsi).await {
            Some(s) => s,
            None => self.store.sqn_reserved(imsi).await?.unwrap_or(0),
        };
        let mut counter = auc::SqnCounter::new(seq_he as u64);
        if let auc::ResyncOutcome::Reset { .. } = counter.resync(self.config.sqn.scheme(), sqn_ms) {
            self.sqn.reset(&self.store, imsi, counter.seq_he() as i64).await?;
        }
        Ok(true)
    }
}
