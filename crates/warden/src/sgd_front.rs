//! SGd in `warden serve` (`[sms] sgd = true`, docs/sms.md): MO-Forward-Short-Message requests from
//! MMEs authorised for `"sgd"` go through the SMS router ([`sms::Router`]: PoRs to the OTA engine,
//! other messages screened against the SIM's fixed dialling list and forwarded toward the SMSC);
//! MT-Forward-Short-Message requests go out over the HSS's connection to the SIM's serving MME
//! ([`sms::SgdSender`], through [`HssDirectory`]).
//!
//! Who may send OFR: the connection's peer must be configured with `applications` including `sgd`
//! (else DIAMETER_APPLICATION_UNSUPPORTED, counted like Gx refusals), the Origin-Host must be the
//! connection's, and the SIM must be in the peer's `imsi_prefixes` (else
//! DIAMETER_AUTHORIZATION_REJECTED, as for S6a).

use std::sync::Arc;

use diameter::result_code as rc;
use diameter::transport::PeerHandle;
use diameter::{avp, Command, Message};
use hss::Hss;
use ids::Imsi;
use sms::sgd::{mo_request, ofa, Node, OfaOutcome};
use sms::{
    BoxFuture, MmeDirectory, MoForwarder, MoHandler, RefusalKind, Router, Serving, SgdSender, SmsConfig, Subscribers,
};

/// The HSS as the SGd sender's directory of serving MMEs and their connections.
pub struct HssDirectory(pub Arc<Hss>);

impl MmeDirectory for HssDirectory {
    fn serving<'a>(&'a self, imsi: &'a Imsi) -> BoxFuture<'a, Result<Serving, String>> {
        Box::pin(async move {
            Ok(match self.0.store().sim(imsi).await.map_err(|e| e.to_string())? {
                None => Serving::Unknown,
                Some(sim) => match sim.serving {
                    Some(n) => Serving::At { host: n.origin_host, realm: n.origin_realm },
                    None => Serving::Detached,
                },
            })
        })
    }

    fn connections(&self, host: &str) -> Vec<PeerHandle> {
        self.0.open_connections(host)
    }
}

/// The SGd side of `warden serve`.
pub struct SgdFront {
    hss: Arc<Hss>,
    node: Node,
    router: Arc<Router>,
    mt: Arc<SgdSender>,
}

impl SgdFront {
    /// The router (screening with the store; PoRs to `ota`, accepted messages to `forwarder`) and the
    /// MT sender for `config`; `None` unless `sgd = true`.
    pub fn build(
        config: &SmsConfig,
        hss: &Arc<Hss>,
        ota: Arc<dyn MoHandler>,
        forwarder: Option<Arc<dyn MoForwarder>>,
    ) -> Option<Arc<SgdFront>> {
        if !config.sgd {
            return None;
        }
        let d = &hss.config().diameter;
        let node = Node { origin_host: d.origin_host.clone(), origin_realm: d.origin_realm.clone() };
        let subscribers: Arc<dyn Subscribers> = Arc::new(cmp::fdl::StoreSubscribers(hss.store().clone()));
        let mut router = Router::new(subscribers, config.ota_address.as_deref()).with_ota(ota);
        if let Some(f) = forwarder {
            router = router.with_forwarder(f);
        }
        let router = Arc::new(router);
        let sc = config.sc_address.as_deref().unwrap_or_default();
        let mt = Arc::new(SgdSender::new(node.clone(), sc, Arc::new(HssDirectory(hss.clone()))));
        Some(Arc::new(SgdFront { hss: hss.clone(), node, router, mt }))
    }

    /// The MO router.
    #[allow(dead_code)]
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The MT sender over SGd, for the OTA engine.
    pub fn mt_sender(&self) -> Arc<SgdSender> {
        self.mt.clone()
    }

    fn refuse(&self, req: &Message, code: u32, why: &str) -> Message {
        ofa(req, &self.node, &OfaOutcome::Result { code, failed: None, message: Some(why.to_string()) })
    }

    /// Answers one SGd request from `peer`.
    pub async fn dispatch(&self, req: Message, peer: &PeerHandle) -> Message {
        let connection = peer.remote().origin_host.as_str();
        let config = self.hss.config();
        if !config.may_use(connection, diameter::dictionary::app::SGD) {
            self.hss.refusals().count(connection, hss::Refusal::Application);
            let mut a = Message::answer_to(&req.header, req.session_id());
            a.add(avp::RESULT_CODE, rc::APPLICATION_UNSUPPORTED);
            a.add(avp::ORIGIN_HOST, self.node.origin_host.as_str());
            a.add(avp::ORIGIN_REALM, self.node.origin_realm.as_str());
            a.add(avp::ERROR_MESSAGE, "this peer is not configured for SGd");
            return a;
        }
        if req.command() != Some(Command::OFR) || !req.is_request() {
            return self.refuse(&req, rc::COMMAND_UNSUPPORTED, "Warden answers MO-Forward-Short-Message only");
        }
        if !req.get_str(avp::ORIGIN_HOST).is_some_and(|o| o.eq_ignore_ascii_case(connection)) {
            self.hss.refusals().count(connection, hss::Refusal::OriginHost);
            return self.refuse(&req, rc::UNABLE_TO_COMPLY, "Origin-Host is not this connection's peer");
        }
        let message = match mo_request(&req, connection) {
            Ok(m) => m,
            Err((outcome, imsi)) => {
                if let (
                    Some(imsi),
                    OfaOutcome::Result { message: Some(why), .. } | OfaOutcome::Experimental { message: Some(why), .. },
                ) = (&imsi, &outcome)
                {
                    if config.may_query(connection, imsi.as_str()) {
                        self.router.subscribers().refused(imsi, RefusalKind::Malformed, why).await;
                    }
                }
                return ofa(&req, &self.node, &outcome);
            }
        };
        if let Some(imsi) = &message.imsi {
            if !config.may_query(connection, imsi.as_str()) {
                self.hss.refusals().count(connection, hss::Refusal::ImsiRange);
                return self.refuse(&req, rc::AUTHORIZATION_REJECTED, "this peer may not send for that IMSI");
            }
        }
        let verdict = self.router.received(&message).await;
        ofa(&req, &self.node, &OfaOutcome::of(&verdict))
    }
}
