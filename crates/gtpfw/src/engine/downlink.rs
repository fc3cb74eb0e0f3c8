//! P-GW → partner: only the interface's downlink types; a response must answer a request the
//! partner sent through the firewall (its tunnel learnt from an accepted Create Session / Create
//! PDP Context Response, forgotten with an accepted Delete); a request of the P-GW is remembered so
//! that the partner's response is expected. Responses toward a partner that supports overload
//! control carry the P-GW's Overload Control Information while the firewall sheds (the one change
//! made to a relayed message).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use firewall::{Action, Now, Priority};
use gtpc::v2::values::{cause, interface, OverloadControl};
use gtpc::v2::{Ie, IeType, Message, MessageType};

use super::uplink::is_triggered;
use super::{Decision, Dir, Engine, PartnerState, Pending, Verdict};
use crate::rules::{Rule, Rules, GP_DOWNLINK, S8_DOWNLINK};

/// GTPv1 Cause "Request accepted" (TS 29.060 Table 38).
const V1_ACCEPTED: u8 = 128;

impl Engine {
    /// Screens one datagram of the P-GW toward the partner node at `peer` (the node whose requests
    /// the P-GW answers on this path).
    pub fn downlink(&self, peer: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        let loaded = self.loaded();
        let rules = &loaded.rules;
        let Some(&pi) = rules.by_address.get(&peer.ip()) else {
            return Decision::drop(Rule::UnknownSource);
        };
        let ps = &loaded.partners[pi];
        let d = match gtpc::version(bytes) {
            Some(2) => self.downlink_v2(rules, pi, ps, peer, bytes, now),
            Some(1) => self.downlink_v1(rules, ps, peer, bytes, now),
            _ => Decision::drop(Rule::Malformed),
        };
        if d.rule != Rule::Relay {
            self.observer.record_in(&ps.decisions, d.rule, Action::Dropped, None, now.wall);
        }
        d
    }

    fn downlink_v2(
        &self,
        rules: &Rules,
        pi: usize,
        ps: &Arc<PartnerState>,
        peer: SocketAddr,
        bytes: &[u8],
        now: Now,
    ) -> Decision {
        let partner = &rules.partners[pi];
        let Ok(msg) = Message::decode(bytes) else { return Decision::drop(Rule::Malformed) };
        let t = msg.header.message_type;
        if !S8_DOWNLINK.contains(&t.0) {
            return Decision::drop(Rule::MessageType);
        }
        let seq = msg.header.sequence;
        if !is_triggered(t) {
            let teid = if t == MessageType::DELETE_BEARER_REQUEST { self.default_bearer_tunnel(peer, &msg) } else { 0 };
            return self.pgw_request(rules, peer, ps, t.0, seq, teid, now.instant);
        }
        let Some(req) =
            self.take_pending((peer, Dir::Up, seq), now.instant).filter(|p| p.message_type.wrapping_add(1) == t.0)
        else {
            return Decision::drop(Rule::UnexpectedResponse);
        };
        let accepted = matches!(msg.cause(), Some(Ok(c)) if c.is_accepted());
        if t == MessageType::CREATE_SESSION_RESPONSE && accepted {
            if let Some(teid) = pgw_control_teid(&msg) {
                self.add_tunnel(teid, req.tunnel(peer));
            }
        }
        if t == MessageType::DELETE_SESSION_RESPONSE
            && (accepted || matches!(msg.cause(), Some(Ok(c)) if c.value == cause::CONTEXT_NOT_FOUND))
        {
            self.remove_tunnel(req.teid);
        }
        if !matches!(t.0, 33 | 35 | 37) {
            return Decision::relay();
        }
        // The P-GW's own node-level OCI: relayed, its sequence number raised if an older one would
        // hide it (APN-level ones, with an APN list, are relayed as they are).
        let node_level = msg.ies.iter().position(|i| {
            i.ie_type == IeType::OVERLOAD_CONTROL_INFORMATION
                && i.instance == 0
                && i.as_overload_control().is_ok_and(|o| o.apns.is_empty())
        });
        if let Some(i) = node_level {
            let Ok(oc) = msg.ies[i].as_overload_control() else { return Decision::relay() };
            let relayed = ps.oci.lock().expect("oci").relay_pgw_oci(oc.sequence, oc.reduction_metric, now.instant);
            let Some(sequence) = relayed else {
                return Decision::relay();
            };
            let mut m = msg;
            if let Ok(ie) = Ie::overload_control(0, &OverloadControl { sequence, ..oc }) {
                m.ies[i] = ie;
                return Decision { verdict: Verdict::Relay(Some(m.encode())), rule: Rule::Relay };
            }
            return Decision::relay();
        }
        if !partner.overload_control {
            return Decision::relay();
        }
        let Some(oc) = self.oci_now(rules, partner, ps, now) else { return Decision::relay() };
        if let Ok(ie) = Ie::overload_control(0, &oc) {
            let mut m = msg;
            m.ies.push(ie);
            return Decision { verdict: Verdict::Relay(Some(m.encode())), rule: Rule::Relay };
        }
        Decision::relay()
    }

    fn downlink_v1(&self, rules: &Rules, ps: &Arc<PartnerState>, peer: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        use gtpc::v1::{IeType as T1, Message as M1};
        let Ok(msg) = M1::decode(bytes) else { return Decision::drop(Rule::Malformed) };
        let t = msg.header.message_type.0;
        if !GP_DOWNLINK.contains(&t) {
            return Decision::drop(Rule::MessageType);
        }
        let seq = u32::from(msg.header.sequence);
        if matches!(t, 1 | 18 | 20) {
            return self.pgw_request(rules, peer, ps, t, seq, 0, now.instant);
        }
        let Some(req) =
            self.take_pending((peer, Dir::Up, seq), now.instant).filter(|p| p.message_type.wrapping_add(1) == t)
        else {
            return Decision::drop(Rule::UnexpectedResponse);
        };
        let accepted = msg.find(T1::CAUSE).and_then(|i| i.as_u8().ok()) == Some(V1_ACCEPTED);
        if t == 17 && accepted {
            if let Some(teid) = msg.find(T1::TEID_CONTROL_PLANE).and_then(|i| i.as_u32().ok()) {
                self.add_tunnel(teid, req.tunnel(peer));
            }
        }
        if t == 21 && accepted {
            self.remove_tunnel(req.teid);
        }
        Decision::relay()
    }
}

impl Engine {
    /// The tunnel a P-GW's Delete Bearer Request removes as a whole: its header TEID names the
    /// S-GW's side of a tunnel of this node, and it deletes the default bearer — the Linked EPS
    /// Bearer ID (EBI instance 0: "all bearers belonging to a PDN connection", TS 29.274 Table
    /// 7.2.9.2-1), or the default bearer's EBI among the EPS Bearer IDs (instance 1). 0 when it
    /// deletes only dedicated bearers (the tunnel stays).
    fn default_bearer_tunnel(&self, peer: SocketAddr, msg: &Message) -> u32 {
        let Some((pgw, default)) = self.by_sgw(peer, msg.header.teid.unwrap_or(0)) else { return 0 };
        let lbi = msg.find(IeType::EBI, 0).and_then(|i| i.as_ebi().ok());
        let mut ebis = msg.find_all(IeType::EBI).filter(|i| i.instance == 1).filter_map(|i| i.as_ebi().ok());
        let whole = match lbi {
            Some(l) => default == 0 || l == default,
            None => default != 0 && ebis.any(|e| e == default),
        };
        if whole {
            pgw
        } else {
            0
        }
    }

    /// A request of the P-GW: remembered so that the partner's response is expected (with the
    /// tunnel it removes when accepted, `teid`, 0 for none), and relayed.
    #[allow(clippy::too_many_arguments)]
    fn pgw_request(
        &self,
        rules: &Rules,
        peer: SocketAddr,
        partner: &Arc<PartnerState>,
        t: u8,
        seq: u32,
        teid: u32,
        now: Instant,
    ) -> Decision {
        let p = Pending {
            message_type: t,
            expires: now + rules.request_timeout,
            state: partner.clone(),
            imsi: None,
            priority: Priority::Critical,
            teid,
            sgw: (0, 0),
        };
        if self.add_pending(rules, (peer, Dir::Down, seq), p, now) {
            Decision::relay()
        } else {
            Decision::drop(Rule::PendingFull)
        }
    }
}

/// The P-GW's control-plane TEID in a Create Session Response: the F-TEID of interface type S5/S8
/// P-GW GTP-C (7) at the top level (TS 29.274 Table 7.2.2-1: Sender F-TEID, instance 0, or PGW
/// S5/S8 F-TEID, instance 1), else the Sender F-TEID.
fn pgw_control_teid(msg: &Message) -> Option<u32> {
    let fteids = || msg.find_all(IeType::FTEID).filter_map(|i| i.as_fteid().ok());
    fteids()
        .find(|f| f.interface_type == interface::S5S8_PGW_GTPC)
        .or_else(|| msg.sender_fteid().and_then(Result::ok))
        .map(|f| f.teid)
}
