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

use super::refusal;
use super::uplink::is_triggered;
use super::{Decision, Dir, Engine, Pending, State, Tunnel, Verdict};
use crate::rules::{Rule, Rules, GP_DOWNLINK, S8_DOWNLINK};

/// GTPv1 Cause "Request accepted" (TS 29.060 Table 38).
const V1_ACCEPTED: u8 = 128;

impl Engine {
    /// Screens one datagram of the P-GW toward the partner node at `peer` (the node whose requests
    /// the P-GW answers on this path).
    pub fn downlink(&self, peer: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        let rules = self.rules();
        let Some(&pi) = rules.by_address.get(&peer.ip()) else {
            return Decision::drop(Rule::UnknownSource);
        };
        let partner = &rules.partners[pi];
        let d = match gtpc::version(bytes) {
            Some(2) => self.downlink_v2(&rules, pi, peer, bytes, now),
            Some(1) => self.downlink_v1(&rules, pi, peer, bytes, now),
            _ => Decision::drop(Rule::Malformed),
        };
        if d.rule != Rule::Relay {
            self.observer.record(&partner.name, d.rule, Action::Dropped, None, now.wall);
        }
        d
    }

    fn downlink_v2(&self, rules: &Rules, pi: usize, peer: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        let partner = &rules.partners[pi];
        let Ok(msg) = Message::decode(bytes) else { return Decision::drop(Rule::Malformed) };
        let t = msg.header.message_type;
        if !S8_DOWNLINK.contains(&t.0) {
            return Decision::drop(Rule::MessageType);
        }
        let mut st = self.state.lock().expect("state");
        let seq = msg.header.sequence;
        if !is_triggered(t) {
            return pgw_request(&mut st, rules, peer, &partner.name, t.0, seq, now.instant);
        }
        let Some(req) =
            st.take_pending((peer, Dir::Up, seq), now.instant).filter(|p| p.message_type.wrapping_add(1) == t.0)
        else {
            return Decision::drop(Rule::UnexpectedResponse);
        };
        let accepted = matches!(msg.cause(), Some(Ok(c)) if c.is_accepted());
        if t == MessageType::CREATE_SESSION_RESPONSE && accepted {
            if let Some(teid) = pgw_control_teid(&msg) {
                st.add_tunnel(
                    teid,
                    Tunnel { partner: req.partner.clone(), peer, imsi: req.imsi, priority: req.priority },
                );
            }
        }
        if t == MessageType::DELETE_SESSION_RESPONSE
            && (accepted || matches!(msg.cause(), Some(Ok(c)) if c.value == cause::CONTEXT_NOT_FOUND))
        {
            st.remove_tunnel(req.teid);
        }
        let with_oci = partner.overload_control
            && st.reduction > 0
            && matches!(t.0, 33 | 35 | 37)
            && msg.find(IeType::OVERLOAD_CONTROL_INFORMATION, 0).is_none();
        if with_oci {
            let oc = OverloadControl {
                sequence: st.oci_sequence,
                reduction_metric: st.reduction,
                validity: refusal::epc_timer(rules.validity),
                apns: vec![],
            };
            drop(st);
            if let Ok(ie) = Ie::overload_control(0, &oc) {
                let mut m = msg;
                m.ies.push(ie);
                return Decision { verdict: Verdict::Relay(Some(m.encode())), rule: Rule::Relay };
            }
        }
        Decision::relay()
    }

    fn downlink_v1(&self, rules: &Rules, pi: usize, peer: SocketAddr, bytes: &[u8], now: Now) -> Decision {
        use gtpc::v1::{IeType as T1, Message as M1};
        let partner = &rules.partners[pi];
        let Ok(msg) = M1::decode(bytes) else { return Decision::drop(Rule::Malformed) };
        let t = msg.header.message_type.0;
        if !GP_DOWNLINK.contains(&t) {
            return Decision::drop(Rule::MessageType);
        }
        let seq = u32::from(msg.header.sequence);
        let mut st = self.state.lock().expect("state");
        if matches!(t, 1 | 18 | 20) {
            return pgw_request(&mut st, rules, peer, &partner.name, t, seq, now.instant);
        }
        let Some(req) =
            st.take_pending((peer, Dir::Up, seq), now.instant).filter(|p| p.message_type.wrapping_add(1) == t)
        else {
            return Decision::drop(Rule::UnexpectedResponse);
        };
        let accepted = msg.find(T1::CAUSE).and_then(|i| i.as_u8().ok()) == Some(V1_ACCEPTED);
        if t == 17 && accepted {
            if let Some(teid) = msg.find(T1::TEID_CONTROL_PLANE).and_then(|i| i.as_u32().ok()) {
                st.add_tunnel(
                    teid,
                    Tunnel { partner: req.partner.clone(), peer, imsi: req.imsi, priority: req.priority },
                );
            }
        }
        if t == 21 && accepted {
            st.remove_tunnel(req.teid);
        }
        Decision::relay()
    }
}

/// A request of the P-GW: remembered so that the partner's response is expected, and relayed.
fn pgw_request(
    st: &mut State,
    rules: &Rules,
    peer: SocketAddr,
    partner: &Arc<str>,
    t: u8,
    seq: u32,
    now: Instant,
) -> Decision {
    let p = Pending {
        message_type: t,
        expires: now + rules.request_timeout,
        partner: partner.clone(),
        imsi: None,
        priority: Priority::Critical,
        teid: 0,
    };
    if st.add_pending(rules, (peer, Dir::Down, seq), p, now) {
        Decision::relay()
    } else {
        Decision::drop(Rule::PendingFull)
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
