//! Authentication-Information-Request (TS 29.272 §5.2.3.1): E-UTRAN vectors, UTRAN quintets or GERAN
//! triplets — both kinds at once for a combined MME/SGSN —, resynchronisation from
//! Re-Synchronization-Info, IND per serving node.

use cmp::EventKind;
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Command, Message};
use ids::{Imsi, Plmn};
use store::model::{Rat, SimStatus};

use std::sync::Arc;

use crate::answer::Outcome;
use crate::cache::Subscriber;
use crate::rat_type::rat_of;
use crate::{Hss, Sender};

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

    /// AIR: vectors for every part the request asks for and the profile allows. A combined MME/SGSN
    /// (TS 29.272 §5.2.3.1.3) asks for E-UTRAN and UTRAN/GERAN vectors at once; each part gets its own
    /// Number-Of-Requested-Vectors (capped by `max_vectors`) and its own Item-Numbers, the E-UTRAN
    /// vectors first. Immediate-Response-Preferred marks the part wanted at once and *may* shorten the
    /// other (TS 29.272 §7.3.16); the AuC makes vectors on demand, so no part is made shorter. A part
    /// whose RAT the profile forbids is left out; when every requested part is forbidden the answer
    /// is DIAMETER_ERROR_RAT_NOT_ALLOWED. The UTRAN/GERAN part gives GERAN
    /// triplets when RAT-Type is GERAN (1001), UTRAN quintets otherwise. Re-Synchronization-Info, in
    /// either part, resynchronises the one SQN of the USIM before any vector is made.
    pub(crate) async fn air(&self, req: &Message, from: Sender<'_>) -> store::Result<Message> {
        let (imsi, plmn, sub) = match self.admit(req, from).await? {
            Ok(x) => x,
            Err(a) => return Ok(a),
        };
        let forbidden = |r: Rat| sub.profile.as_ref().is_some_and(|p| p.forbidden_rats.contains(&r));
        let utran_geran_kind =
            if rat_of(req.get_u32(avp::RAT_TYPE)) == Some(Rat::Geran) { Rat::Geran } else { Rat::Utran };
        let requested: Vec<(Rat, &Avp)> = [
            req.get(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO).map(|r| (Rat::Eutran, r)),
            req.get(avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO).map(|r| (utran_geran_kind, r)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if requested.is_empty() {
            return Ok(self.answer(req, Outcome::Result(rc::MISSING_AVP)));
        }
        let parts: Vec<(Rat, &Avp)> = requested.into_iter().filter(|(kind, _)| !forbidden(*kind)).collect();
        if parts.is_empty() {
            return Ok(self.answer(req, Outcome::Experimental(rc::EXP_RAT_NOT_ALLOWED)));
        }
        let mut resyncs: Vec<&[u8]> =
            parts.iter().filter_map(|(_, r)| r.child(avp::RE_SYNCHRONIZATION_INFO).and_then(Avp::as_bytes)).collect();
        resyncs.dedup();
        for resync in resyncs {
            if !self.resync(&imsi, &sub.alg, resync).await? {
                return Ok(self.answer(req, Outcome::Experimental(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE)));
            }
        }
        let mut vectors = Vec::new();
        for (kind, request) in parts {
            let n = request
                .child(avp::NUMBER_OF_REQUESTED_VECTORS)
                .and_then(Avp::as_u32)
                .unwrap_or(1)
                .clamp(1, self.config.diameter.max_vectors);
            match self.vectors(&imsi, &sub, plmn, from, kind, n).await? {
                Some(v) => vectors.extend(v),
                None => return Ok(self.answer(req, Outcome::Experimental(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE))),
            }
        }
        let mut a = self.answer(req, Outcome::Result(rc::SUCCESS));
        a.add(avp::AUTHENTICATION_INFO, vectors);
        Ok(a)
    }

    /// `n` vectors of `kind` (E-UTRAN-Vector, UTRAN-Vector or GERAN-Vector), Item-Numbers from 1;
    /// E-UTRAN and UTRAN vectors take fresh SQNs with the serving node's IND. None when the SIM's
    /// algorithm cannot make GERAN triplets.
    async fn vectors(
        &self,
        imsi: &Imsi,
        sub: &Subscriber,
        plmn: Plmn,
        from: Sender<'_>,
        kind: Rat,
        n: u32,
    ) -> store::Result<Option<Vec<Avp>>> {
        let (sim, alg) = (&sub.sim, &sub.alg);
        let rands = auc::random_rands(n as usize).map_err(|e| store::StoreError::Conflict(e.to_string()))?;
        let item = |i: usize| Avp::new(avp::ITEM_NUMBER, i as u32 + 1);
        if kind == Rat::Geran {
            let mut out = Vec::with_capacity(n as usize);
            for (i, rand) in rands.into_iter().enumerate() {
                let Ok(t) = alg.gsm_triplet(rand) else { return Ok(None) };
                out.push(Avp::new(
                    avp::GERAN_VECTOR,
                    vec![
                        item(i),
                        Avp::new(avp::RAND, &t.rand.0),
                        Avp::new(avp::SRES, &t.sres),
                        Avp::new(avp::KC, t.kc.expose()),
                    ],
                ));
            }
            return Ok(Some(out));
        }
        let scheme = self.config.sqn.scheme();
        let ind = scheme.ind_for_node(from.connection);
        let first = self.sqn.next(&self.store, imsi, i64::from(n)).await?;
        let amf = auc::Amf(sim.amf);
        let sn = auc::ServingNetwork(plmn.to_bcd());
        let mut out = Vec::with_capacity(n as usize);
        for (i, rand) in rands.into_iter().enumerate() {
            let sqn =
                scheme.join(first as u64 + i as u64, ind).map_err(|e| store::StoreError::Conflict(e.to_string()))?;
            out.push(if kind == Rat::Eutran {
                let v = alg.eutran_vector(rand, sqn, amf, &sn);
                Avp::new(
                    avp::E_UTRAN_VECTOR,
                    vec![
                        item(i),
                        Avp::new(avp::RAND, &v.rand.0),
                        Avp::new(avp::XRES, v.xres.as_slice()),
                        Avp::new(avp::AUTN, v.autn.as_slice()),
                        Avp::new(avp::KASME, v.kasme.expose()),
                    ],
                )
            } else {
                let v = alg.umts_vector(rand, sqn, amf);
                Avp::new(
                    avp::UTRAN_VECTOR,
                    vec![
                        item(i),
                        Avp::new(avp::RAND, &v.rand.0),
                        Avp::new(avp::XRES, v.xres.as_slice()),
                        Avp::new(avp::AUTN, v.autn.as_slice()),
                        Avp::new(avp::CONFIDENTIALITY_KEY, v.ck.expose()),
                        Avp::new(avp::INTEGRITY_KEY, v.ik.expose()),
                    ],
                )
            });
        }
        Ok(Some(out))
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
        // With exact allocation another instance may move SEQ_HE between the read and the reset:
        // the reset is then refused and decided again on the new value (a few rounds at most).
        for _ in 0..4 {
            let seq_he = self.sqn.seq_he(&self.store, imsi).await?;
            let mut counter = auc::SqnCounter::new(seq_he as u64);
            match counter.resync(self.config.sqn.scheme(), sqn_ms) {
                auc::ResyncOutcome::Kept => break,
                auc::ResyncOutcome::Reset { .. } => {
                    if self.sqn.reset_from(&self.store, imsi, seq_he, counter.seq_he() as i64).await? {
                        break;
                    }
                }
            }
        }
        Ok(true)
    }
}
