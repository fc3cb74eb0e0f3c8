//! TLS of the EST listener: the API's protocol versions, suites and groups ([`api::tls`]), and a
//! client certificate that is asked for but optional (token enrolment has none). rustls checks that
//! the client holds the key of the certificate it presents (the handshake signature); whether Warden
//! issued that certificate, and whether it is still good, is decided per request against the store
//! ([`crate::Enroller::current_certificate`]), so a CA created after start-up is covered and a
//! refusal can say why.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Accepts any well-formed client certificate whose key signed the handshake.
///
/// The signature methods repeat `audit::tls_probe::RecordOnly`'s (a server-certificate verifier):
/// each is one call into `rustls::crypto` with the provider's algorithms, the rest is the trait's
/// signature, and est and audit share no crate that could hold a helper (audit has no api or est
/// dependency), so they stay as they are.
#[derive(Debug)]
pub struct DeviceCertificates {
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for DeviceCertificates {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        x509_parser::parse_x509_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Why the EST listener's TLS material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PEM files hold nothing usable.
    #[error("devices.est_tls: {0}")]
    Pem(#[from] api::tls::TlsError),
    /// rustls refused.
    #[error("devices.est_tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The server configuration from PEM certificate chain and key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (certs, key) = api::tls::parse_pem(cert_pem, key_pem)?;
    let provider = Arc::new(api::tls::crypto_provider());
    let verifier = DeviceCertificates { algs: provider.signature_verification_algorithms };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(api::tls::VERSIONS)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
