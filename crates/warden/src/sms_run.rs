//! The SMS transports in `warden serve` (`[sms]`, docs/sms.md), put together with their users:
//!
//! - SGd (`sgd = true`): MO-Forward-Short-Message from the MMEs through the router (PoRs to the OTA
//!   engine, other messages screened against the fixed dialling list and forwarded to the SMSC), and
//!   MT-Forward-Short-Message to the serving MME;
//! - SMPP (`[sms.smpp]`): the operator's SMSC, for MT messages SGd cannot deliver (or all of them when
//!   SGd is off), for screened MO messages, and for PoRs and delivery receipts coming back from it.
//!
//! MT messages go over SGd first and over SMPP when SGd does not deliver ([`sms::Fallback`]). The OTA
//! engine needs the transport and the transports need the engine (PoRs, receipts): [`sms::Late`]
//! breaks that cycle and [`SmsPart::attach`] closes it once the engine exists.

use std::sync::Arc;

use hss::Hss;
use smpp::SmppClient;
use sms::{Fallback, Forward, Late, MoForwarder, MoHandler, MtSender, ReportSink};

use crate::config::{Config, ConfigError};
use crate::error::ServeError;
use crate::sgd_front::SgdFront;

/// The transports that `[sms]` configures.
pub struct SmsPart {
    late: Arc<Late>,
    smpp: Option<Arc<SmppClient>>,
    sgd: Option<Arc<SgdFront>>,
}

impl SmsPart {
    /// Starts the SMPP client when configured and builds the SGd side when `sgd = true`. PoRs are
    /// recognised by `[sms] ota_address`, or `[ota] originator` when that is not set.
    pub fn build(config: &Config, hss: &Arc<Hss>) -> Result<SmsPart, ServeError> {
        let late = Late::new();
        let smpp = match &config.sms.smpp {
            Some(c) => {
                let mo: Arc<dyn MoHandler> = late.clone();
                let reports: Arc<dyn ReportSink> = late.clone();
                let client = SmppClient::start(c.clone(), mo, reports).map_err(|e| ConfigError::Sms(e.to_string()))?;
                Some(Arc::new(client))
            }
            None => None,
        };
        let mut core = config.sms.core();
        if core.ota_address.is_none() {
            core.ota_address = config.ota.as_ref().map(|o| o.originator.clone());
        }
        let forwarder = smpp.clone().map(|c| Arc::new(Forward(c)) as Arc<dyn MoForwarder>);
        let sgd = SgdFront::build(&core, hss, late.clone(), forwarder);
        Ok(SmsPart { late, smpp, sgd })
    }

    /// The SGd side, when `sgd = true`.
    pub fn sgd(&self) -> Option<Arc<SgdFront>> {
        self.sgd.clone()
    }

    /// How MT messages go out: SGd then SMPP, either alone, or `None` when neither is configured.
    pub fn mt_sender(&self) -> Option<Arc<dyn MtSender>> {
        let sgd = self.sgd.as_ref().map(|s| s.mt_sender() as Arc<dyn MtSender>);
        let smpp = self.smpp.clone().map(|c| c as Arc<dyn MtSender>);
        match (sgd, smpp) {
            (Some(first), Some(then)) => Some(Arc::new(Fallback::new(first, then))),
            (one, other) => one.or(other),
        }
    }

    /// Hands PoRs (from the SGd router and the SMSC) and SMSC delivery receipts to the OTA engine.
    pub fn attach(&self, engine: &otajobs::Engine) {
        self.late.set_mo(Arc::new(engine.clone()));
        self.late.set_reports(Arc::new(engine.clone()));
    }
}
