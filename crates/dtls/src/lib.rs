//! DTLS 1.2 (RFC 6347) server over UDP for CoAPs, as LwM2M uses it: pre-shared keys
//! (`TLS_PSK_WITH_AES_128_CCM_8`, `TLS_PSK_WITH_AES_128_GCM_SHA256`) and X.509 client certificates
//! (`TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8`, `…_GCM_SHA256`).
//!
//! The cryptography and the handshake are OpenSSL's (the `openssl` crate, driven over an in-memory
//! datagram pipe per peer, see [`pipe`]); this crate adds what a server on a public UDP port needs
//! around it: stateless cookies before any state ([`cookie`], [`record`]), per-peer sessions with
//! bounds and timeouts ([`server`]), and the authenticated identity (PSK identity or certificate
//! name) handed with every decrypted datagram to a [`DatagramHandler`] — the LwM2M/CoAP core — and
//! revoked client certificates refused in the handshake and cut off afterwards ([`revocation`]).
//! docs/devices-dtls.md explains the choices.

pub mod context;
pub mod cookie;
pub mod pipe;
pub mod psk;
pub mod record;
pub mod revocation;
pub mod server;
pub mod session;

pub use context::X509Credentials;
pub use psk::{PskResolver, PskTable};
pub use revocation::RevokedSerials;
pub use server::{DatagramHandler, DtlsConfig, DtlsServer, Limits, Outbound, Stats};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DtlsError {
    /// The credentials or settings are unusable.
    #[error("{0}")]
    Config(String),
    /// OpenSSL refused a setting.
    #[error("OpenSSL: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    /// The socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}
