//! TLS for the API with rustls: TLS 1.3 and 1.2 only, AEAD suites with forward secrecy (rustls
//! offers nothing weaker). [`TlsFiles`] is the `[http.tls]` configuration section; the handshake
//! runs in each connection's own task, within the header-read timeout (`crate::server`), so a slow
//! client cannot stall others.

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

/// A server configuration from PEM files: TLS 1.3 and 1.2, HTTP/1.1 via ALPN.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Certificate("no PEM certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(TlsError::Key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
