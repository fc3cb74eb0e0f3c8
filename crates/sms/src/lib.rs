//! Warden's SMS router for IoT SIMs (issue #18): what the SMS transports — SGd toward the serving MME
//! (3GPP TS 29.338) and SMPP 3.4 toward the operator's SMSC — and their users — the OTA engine, the
//! screening of MO messages against fixed dialling lists — agree on ([`route`]); the TS 23.040
//! TPDUs ([`tpdu`]); the SGd codec and MT sender ([`sgd`]); fixed dialling lists (SUB-3, [`fdl`]);
//! the MO router that screens and forwards ([`router`]); and how `warden serve` puts them together
//! ([`compose`]).

pub mod compose;
pub mod config;
pub mod fdl;
pub mod route;
pub mod router;
pub mod sgd;
pub mod tpdu;

pub use compose::{Fallback, Forward, Late};
pub use config::SmsConfig;
pub use route::{
    BoxFuture, DeliveryReport, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink, Via,
};
pub use router::{MoForwarder, RefusalKind, Router, Screening, Subscribers};
pub use sgd::{MmeDirectory, Serving, SgdSender};
