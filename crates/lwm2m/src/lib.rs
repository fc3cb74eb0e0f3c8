//! Sans-IO LwM2M 1.1 server core (OMA LwM2M Core TS 1.1) over CoAP ([`coap`]).
//!
//! Transport-independent: the caller feeds [`Server::handle`] each datagram with the peer address
//! and, over DTLS, the authenticated identity (PSK identity or certificate CN; `None` on plain CoAP),
//! and sends the datagrams it gets back; [`Server::tick`] drives lifetimes and retransmissions.
//!
//! - [`registration`]: the registration interface (`POST /rd?ep=…&lt=…&lwm2m=…&b=…`, update
//!   `POST /rd/{loc}`, de-register `DELETE /rd/{loc}`), parsed and checked.
//! - [`link`]: the CoRE link-format payload of a registration (RFC 6690), the objects a device has.
//! - [`registry`]: every registered device, by endpoint and location, with lifetime expiry; sized for
//!   100,000 devices and more (see docs/devices.md for bytes per device).
//! - [`server`]: the state machine — registrations, device-management operations (read, write,
//!   execute, discover) and observe/notify, matched by token, retransmitted, timed out.
//! - [`path`], [`tlv`], [`senml`], [`senml_cbor`], [`content`]: object paths and the content formats
//!   (LwM2M TLV 11542, SenML-JSON 110, SenML-CBOR 112, text/plain 0, opaque 42).
//! - [`bootstrap`]: the bootstrap server (`POST /bs?ep=…`, then Delete, Write of the Security and
//!   Server objects and Bootstrap-Finish), provisioning a fresh PSK account per bootstrap.
//! - [`runtime`] (feature `runtime`): the tokio side — a UDP listener and an async handle that the
//!   API calls.

pub mod bootstrap;
pub mod content;
pub mod link;
pub mod path;
pub mod registration;
pub mod registry;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod senml;
pub mod senml_cbor;
pub mod server;
pub mod tlv;

pub use path::Path;
pub use registry::{Device, Registry};
pub use server::{DownloadProgress, Event, Operation, Output, RequestId, Server, ServerConfig, Transmit};
