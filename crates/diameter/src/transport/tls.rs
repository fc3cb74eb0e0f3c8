//! TLS for inter-operator links with rustls: TLS 1.2 and 1.3 only, the ring provider's default
//! (AEAD, forward-secret) cipher suites, and client certificates required on the server side when a
//! client CA is configured (mutual authentication of roaming partners).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

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

fn pem_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", file.display()))
}

impl TlsSettings {
    /// Reads a PEM certificate chain, a PEM private key and, optionally, PEM CAs of the other side;
    /// errors name the file.
    pub fn from_pem_files(cert_file: &Path, key_file: &Path, peer_ca_file: Option<&Path>) -> Result<Self, String> {
        Ok(TlsSettings {
            chain: pem_certs(cert_file)?,
            key: PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("{}: {e}", key_file.display()))?,
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
