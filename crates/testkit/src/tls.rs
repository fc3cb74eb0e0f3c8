//! Certificates for TLS tests: a CA and leaf certificates it signs, as the DER values rustls takes
//! and as PEM files for configuration sections.

use std::path::{Path, PathBuf};

use diameter::transport::TlsSettings;

/// A test certificate authority.
pub struct Ca {
    /// Its certificate.
    pub cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A certificate and its key.
pub struct Leaf {
    /// The certificate.
    pub cert: rcgen::Certificate,
    /// Its key.
    pub key: rcgen::KeyPair,
}

impl Ca {
    /// A new self-signed CA.
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, issuer: rcgen::Issuer::new(params, key) }
    }

    /// A certificate for `name` signed by this CA.
    pub fn leaf(&self, name: &str) -> Leaf {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .expect("params")
            .signed_by(&key, &self.issuer)
            .expect("sign");
        Leaf { cert, key }
    }

    /// Writes the CA certificate as `<dir>/<name>.pem`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, self.cert.pem()).expect("write CA");
        path
    }
}

impl Default for Ca {
    fn default() -> Self {
        Self::new()
    }
}

impl Leaf {
    /// Settings presenting this certificate and trusting `peers` (mutual TLS).
    pub fn settings(&self, peers: &Ca) -> TlsSettings {
        TlsSettings {
            chain: vec![self.cert.der().clone()],
            key: rustls::pki_types::PrivateKeyDer::try_from(self.key.serialize_der()).expect("key DER"),
            peer_roots: vec![peers.cert.der().clone()],
        }
    }

    /// Writes `<dir>/<name>.pem` and `<dir>/<name>.key`; returns both paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&cert, self.cert.pem()).expect("write certificate");
        std::fs::write(&key, self.key.serialize_pem()).expect("write key");
        (cert, key)
    }
}
