//! TLS for inter-operator links with rustls: TLS 1.2 and 1.3 only, the ring provider's default
//! (AEAD, forward-secret) cipher suites, and client certificates required on the server side when a
//! client CA is configured (mutual authentication of roaming partners).
//!
//! [`TlsConfig`] is the configuration section naming the PEM files (`[diameter.tls]` and
//! `[firewall.tls]` in `warden.toml` share it); [`TlsSettings`] is what they contain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

/// The PEM files of one side of a Diameter TLS link, as configured (`[diameter.tls]`, `[firewall.tls]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA certificates of the other side; when set, peers must present a certificate signed by
    /// one of them (mutual TLS).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Reads the files and builds a server configuration.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let settings = TlsSettings::from_pem_files(&self.cert_file, &self.key_file, self.client_ca_file.as_deref())?;
        server_config(settings).map_err(TlsError::Rustls)
    }
}

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the material (for example a key that does not match the certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// Certificates and keys for one side.
#[derive(Debug)]
pub struct TlsSettings {
    /// Our certificate chain.
    pub chain: Vec<CertificateDer<'static>>,
    /// Our private key.
    pub key: PrivateKeyDer<'static>,
    /// CAs whose certificates the other side must present.
    pub peer_roots: Vec<CertificateDer<'static>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(certs: &[CertificateDer<'static>]) -> Result<RootCertStore, rustls::Error> {
    let mut store = RootCertStore::empty();
    for c in certs {
        store.add(c.clone())?;
    }
    Ok(store)
}

/// A server configuration; when `peer_roots` is not empty, clients must present a certificate
/// signed by one of them.
pub fn server_config(s: TlsSettings) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = if s.peer_roots.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&s.peer_roots)?), provider())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    };
    Ok(Arc::new(builder.with_single_cert(s.chain, s.key)?))
}

fn pem_error(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + '_ {
    move |source| TlsError::Pem { path: path.to_path_buf(), source }
}

fn pem_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(file).map_err(pem_error(file))?.collect::<Result<_, _>>().map_err(pem_error(file))
}

impl TlsSettings {
    /// Reads a PEM certificate chain, a PEM private key and, optionally, PEM CAs of the other side;
    /// errors name the file.
    pub fn from_pem_files(cert_file: &Path, key_file: &Path, peer_ca_file: Option<&Path>) -> Result<Self, TlsError> {
        Ok(TlsSettings {
            chain: pem_certs(cert_file)?,
            key: PrivateKeyDer::from_pem_file(key_file).map_err(pem_error(key_file))?,
            peer_roots: match peer_ca_file {
                Some(f) => pem_certs(f)?,
                None => Vec::new(),
            },
        })
    }
}

/// A client configuration trusting `peer_roots` and presenting our certificate.
pub fn client_config(s: TlsSettings) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(&s.peer_roots)?);
    Ok(Arc::new(builder.with_client_auth_cert(s.chain, s.key)?))
}
