//! Warden's SMS router for IoT SIMs (issue #18): what the SMS transports — SGd toward the serving MME
//! (3GPP TS 29.338) and SMPP 3.4 toward the operator's SMSC — and their users — the OTA engine, the
//! screening of MO messages against fixed dialling lists — agree on ([`route`]).

pub mod route;

pub use route::{
    BoxFuture, DeliveryReport, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink, Via,
};
