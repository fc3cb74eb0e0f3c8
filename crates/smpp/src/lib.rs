//! Warden's SMPP 3.4 client toward the operator's SMSC (issue #18, SUB-6 transport): a sans-IO PDU
//! codec ([`pdu`], [`tlv`], [`status`], [`receipt`]) and a tokio ESME ([`client`]) that binds as a
//! transceiver, keeps the link alive, and implements the SMS router's [`sms::MtSender`]; `deliver_sm`
//! from the SMSC goes to the router's [`sms::MoHandler`] or, for delivery receipts, its
//! [`sms::ReportSink`].

pub mod client;
pub mod config;
pub mod mapping;
pub mod pdu;
pub mod receipt;
pub mod status;
pub mod tlv;

pub use client::{LinkStatus, SmppClient};
pub use config::{ConfigError, SmppConfig, SmppTlsConfig};
pub use pdu::{Bind, BindResp, Body, DecodeError, EncodeError, Header, MessageIdResp, Pdu, ShortMessage};
pub use status::CommandStatus;
