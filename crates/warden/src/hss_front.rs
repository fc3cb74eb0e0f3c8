//! The Diameter front end in `warden serve`: the handler that sends Gx requests to the PCRF, SGd
//! requests to the SMS router ([`crate::sgd_front`], with `[sms] sgd = true`) and everything else to
//! the HSS, and meters every answer through the metrics facade; who may connect
//! (the configured peers, or loopback peers only without any) and which applications each may use
//! (`applications`: a request of another one is answered 3007); and the server settings read from
//! `[diameter]` ([`hss::DiameterConfig`]), which advertise S6a, S13 and Gx in the CEA (and SGd when
//! it is enabled).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diameter::peer::{Application, CloseReason, PeerAuthorizer, PeerIdentity};
use diameter::transport::{ConnectionLimits, Handler, PeerHandle, ServerConfig};
use diameter::Message;
use hss::{ConfiguredPeers, Hss};

use crate::error::ServeError;
use crate::metrics;

/// On shutdown, how long a connection may take to answer what it is handling before DPR.
pub const DRAIN_TIMEOUT: Duration = Duration::from_millis(400);

/// The HSS and the PCRF with metrics around them.
pub struct Metered {
    /// The HSS (S6a, S13).
    pub hss: Arc<Hss>,
    /// The PCRF (Gx).
    pub pcrf: Arc<pcrf::Pcrf>,
    /// The security analytics' tap on S6a/S13 requests, with `[analytics]`.
    pub analytics: Option<crate::analytics_run::SignallingTap>,
    /// SGd, with `[sms] sgd = true`.
    pub sgd: Option<Arc<crate::sgd_front::SgdFront>>,
}

impl Metered {
    async fn dispatch(&self, request: Message, peer: &PeerHandle) -> Message {
        if request.header.app_id == diameter::dictionary::app::SGD {
            if let Some(sgd) = &self.sgd {
                return sgd.dispatch(request, peer).await;
            }
            let d = &self.hss.config().diameter;
            let mut a = Message::answer_to(&request.header, request.session_id());
            a.add(diameter::avp::RESULT_CODE, diameter::result_code::APPLICATION_UNSUPPORTED);
            a.add(diameter::avp::ORIGIN_HOST, d.origin_host.as_str());
            a.add(diameter::avp::ORIGIN_REALM, d.origin_realm.as_str());
            a.add(diameter::avp::ERROR_MESSAGE, "SGd is not enabled ([sms] sgd)");
            return a;
        }
        if request.header.app_id != hss::GX_APPLICATION_ID {
            return self.hss.dispatch(request, peer).await;
        }
        let connection = peer.remote().origin_host.as_str();
        if !self.hss.config().may_use(connection, hss::GX_APPLICATION_ID) {
            self.hss.refusals().count(connection, hss::Refusal::Application);
            let d = &self.hss.config().diameter;
            let mut a = Message::answer_to(&request.header, request.session_id());
            a.add(diameter::avp::RESULT_CODE, diameter::result_code::APPLICATION_UNSUPPORTED);
            a.add(diameter::avp::ORIGIN_HOST, d.origin_host.as_str());
            a.add(diameter::avp::ORIGIN_REALM, d.origin_realm.as_str());
            a.add(diameter::avp::ERROR_MESSAGE, "this peer is not configured for Gx");
            return a;
        }
        self.pcrf.dispatch(request, peer).await
    }
}

impl Handler for Metered {
    async fn handle(&self, request: Message, peer: PeerHandle) -> Option<Message> {
        let start = Instant::now();
        let command = request.abbrev().unwrap_or("unknown");
        let tapped = self.analytics.as_ref().and_then(|t| Some((t, t.seen(command, &request)?)));
        let answer = self.dispatch(request, &peer).await;
        let result_code = answer.result_code().unwrap_or(0);
        metrics::answered(command, result_code, start.elapsed());
        if let Some((tap, seen)) = tapped {
            tap.answered(seen, result_code);
        }
        Some(answer)
    }

    fn peer_open(&self, peer: PeerHandle) {
        metrics::peer_opened();
        self.pcrf.peer_open(peer.clone());
        self.hss.peer_open(peer);
    }

    fn peer_closed(&self, remote: Option<&diameter::peer::Capabilities>, reason: &CloseReason) {
        if remote.is_some() {
            metrics::peer_closed();
        }
        self.pcrf.peer_closed(remote);
        self.hss.peer_closed(remote, reason);
    }
}

/// Without configured peers: any identity, but only from loopback, may ask about any subscriber.
struct LoopbackOnly;
impl PeerAuthorizer for LoopbackOnly {
    fn authorize(&self, p: &PeerIdentity) -> bool {
        p.address.is_some_and(|a: IpAddr| a.is_loopback())
    }
}

/// The transport settings of the HSS's listener; `sgd` adds SGd to the applications of the CEA.
pub fn server_config(d: &hss::DiameterConfig, sgd: bool) -> Result<ServerConfig, ServeError> {
    let authorizer: Arc<dyn PeerAuthorizer> = if d.peers.is_empty() {
        tracing::warn!("no [[diameter.peers]] configured: accepting loopback peers only, for any subscriber");
        Arc::new(LoopbackOnly)
    } else {
        Arc::new(ConfiguredPeers(d.peers.clone()))
    };
    let mut applications = vec![Application::S6A, Application::S13, Application::GX];
    if sgd {
        applications.push(Application::SGD);
    }
    let mut peer = diameter::peer::PeerConfig::new(&d.origin_host, &d.origin_realm, applications);
    peer.watchdog_interval = Duration::from_secs(d.watchdog_secs);
    peer.max_message_size = d.max_message_size;
    peer.origin_state_id = store::now() as u32;
    peer.clock_low12 = (store::now() & 0xfff) as u32;
    Ok(ServerConfig {
        peer,
        authorizer,
        limits: ConnectionLimits {
            max_in_flight: d.max_in_flight,
            drain_timeout: DRAIN_TIMEOUT,
            ..ConnectionLimits::default()
        },
        tls: d.tls.as_ref().map(diameter::transport::TlsConfig::server_config).transpose()?,
    })
}
