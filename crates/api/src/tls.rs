//! TLS for the API with rustls: TLS 1.3 and 1.2 only, with the suites of Mozilla's "intermediate"
//! profile that rustls implements ([`CIPHER_SUITES`]: AEAD with ECDHE key exchange) and the key
//! exchange groups X25519, P-256 and P-384 ([`KX_GROUPS`]). Both lists are given to rustls
//! explicitly, so a change of rustls's defaults cannot widen them. [`TlsFiles`] is the `[http.tls]`
//! configuration section; the handshake runs in each connection's own task, within the header-read
//! timeout (`crate::server`), so a slow client cannot stall others.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

/// `[http.tls]`: the API's certificate chain and key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

impl TlsFiles {
    /// Reads both files and builds the server configuration.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let read = |key: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|source| TlsError::Read { key, path: path.clone(), source })
        };
        server_config(&read("http.tls.cert_file", &self.cert_file)?, &read("http.tls.key_file", &self.key_file)?)
    }
}

/// Why the API's TLS material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key} {}: {source}", path.display())]
    Read {
        /// The configuration key naming it.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate PEM holds nothing usable.
    #[error("http.tls: certificate: {0}")]
    Certificate(String),
    /// The private key PEM holds nothing usable.
    #[error("http.tls: private key: {0}")]
    Key(rustls::pki_types::pem::Error),
    /// rustls refused the pair.
    #[error("http.tls: certificate/key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The cipher suites the API offers, in Mozilla's "intermediate" order (the client's preference
/// decides among them): the three TLS 1.3 suites, then TLS 1.2 with ECDHE and AES-GCM or
/// ChaCha20-Poly1305 only — no CBC, no static RSA key exchange, no SHA-1 MAC.
pub const CIPHER_SUITES: &[rustls::SupportedCipherSuite] = {
    use rustls::crypto::ring::cipher_suite as cs;
    &[
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
};

/// The key exchange groups the API offers (Mozilla "intermediate": X25519, P-256, P-384).
pub const KX_GROUPS: &[&dyn rustls::crypto::SupportedKxGroup] = {
    use rustls::crypto::ring::kx_group;
    &[kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1]
};

/// The protocol versions the API offers.
pub const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The ring crypto provider restricted to [`CIPHER_SUITES`] and [`KX_GROUPS`].
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::CryptoProvider {
        cipher_suites: CIPHER_SUITES.to_vec(),
        kx_groups: KX_GROUPS.to_vec(),
        ..rustls::crypto::ring::default_provider()
    }
}

/// A certificate chain (at least one certificate) and a private key from PEM.
pub fn parse_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<(Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>), TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Certificate("no PEM certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(TlsError::Key)?;
    Ok((certs, key))
}

/// A server configuration from PEM files: [`VERSIONS`] with [`crypto_provider`], HTTP/1.1 via ALPN
/// (the server speaks HTTP/1.1 only, so it does not offer h2).
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (certs, key) = parse_pem(cert_pem, key_pem)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_intermediate_suites_and_groups_are_offered() {
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>()
        };
        let provider = crypto_provider();
        assert_eq!(
            names(&provider),
            [
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ]
        );
        let groups: Vec<_> = provider.kx_groups.iter().map(|g| format!("{:?}", g.name())).collect();
        assert_eq!(groups, ["X25519", "secp256r1", "secp384r1"]);
    }
}
