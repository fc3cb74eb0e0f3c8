//! A TLS probe of a portal/API endpoint on loopback: one handshake per protocol version and cipher
//! suite that rustls (ring provider) implements, reporting what the server accepted.
//!
//! Limits, stated in every report: rustls implements only TLS 1.2 and 1.3 with AEAD suites and ECDHE, so
//! the probe cannot tell whether the server also accepts SSL 3.0, TLS 1.0/1.1 or legacy suites (CBC,
//! RC4, 3DES, static RSA); the certificate is recorded as presented, not validated against a trust store.
//! Only loopback targets are probed: anything else is refused before a socket is opened.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, SupportedCipherSuite};
use serde::Serialize;

use crate::report::{Location, Report};
use crate::AuditError;

/// One handshake attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// IANA-style suite name.
    pub suite: String,
    /// Whether the handshake completed with this suite.
    pub accepted: bool,
    /// Why not, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// The address probed.
    pub target: SocketAddr,
    /// Every attempt, TLS 1.3 suites first.
    pub attempts: Vec<Attempt>,
}

impl ProbeResult {
    /// Accepted (version, suite) pairs.
    pub fn accepted(&self) -> Vec<(&str, &str)> {
        self.attempts.iter().filter(|a| a.accepted).map(|a| (a.version.as_str(), a.suite.as_str())).collect()
    }

    /// Whether any suite of `version` (`TLSv1.3`, `TLSv1.2`) was accepted.
    pub fn accepts(&self, version: &str) -> bool {
        self.attempts.iter().any(|a| a.accepted && a.version == version)
    }

    /// Raises the probe's findings.
    pub fn raise(&self, report: &mut Report) {
        let target = self.target.to_string();
        report.input("tls-probe", &target);
        let at = || Location { file: None, line: None, path: format!("tls://{target}") };
        let accepted = self.accepted();
        if accepted.is_empty() {
            let why = self.attempts.first().and_then(|a| a.error.clone()).unwrap_or_default();
            report.raise("WA-TLS-001", "tls-probe", at(), format!("no TLS 1.2/1.3 handshake completed ({why})"));
            return;
        }
        if !self.accepts("TLSv1.3") {
            report.raise("WA-TLS-002", "tls-probe", at(), "TLS 1.3 refused; TLS 1.2 accepted");
        }
        let list: Vec<String> = accepted.iter().map(|(v, s)| format!("{v} {s}")).collect();
        report.raise(
            "WA-TLS-003",
            "tls-probe",
            at(),
            format!(
                "accepted: {}. Not testable with rustls: SSL 3.0, TLS 1.0/1.1, non-AEAD and non-ECDHE suites",
                list.join(", ")
            ),
        );
    }
}

/// Accepts any certificate (the probe measures protocol support, not trust) but still checks the
/// handshake signatures, so a completed handshake means the server holds the key it presented.
/// (The signature methods repeat `est::tls::DeviceCertificates`'s; why they stay: see there.)
#[derive(Debug)]
struct RecordOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for RecordOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Parses `HOST:PORT` and refuses anything but loopback (`localhost` means 127.0.0.1).
pub fn loopback_target(target: &str) -> Result<SocketAddr, AuditError> {
    let addr: SocketAddr = match target.strip_prefix("localhost:") {
        Some(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.parse().map_err(|_| bad_target(target))?),
        None => target.parse().map_err(|_| bad_target(target))?,
    };
    if !addr.ip().is_loopback() {
        return Err(AuditError::Probe(format!(
            "refusing to probe {addr}: only loopback addresses (127.0.0.0/8, ::1) may be probed"
        )));
    }
    Ok(addr)
}

fn bad_target(target: &str) -> AuditError {
    AuditError::Probe(format!("{target:?} is not an address HOST:PORT (for example 127.0.0.1:8443)"))
}

fn version_name(s: &SupportedCipherSuite) -> &'static str {
    match s {
        SupportedCipherSuite::Tls13(_) => "TLSv1.3",
        SupportedCipherSuite::Tls12(_) => "TLSv1.2",
    }
}

fn handshake(addr: SocketAddr, suite: SupportedCipherSuite, timeout: Duration) -> Result<(), String> {
    let base = Arc::new(ring::default_provider());
    let provider = CryptoProvider { cipher_suites: vec![suite], ..ring::default_provider() };
    let version = match suite {
        SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
        SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
    };
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordOnly(base)))
        .with_no_client_auth();
    let mut conn =
        ClientConnection::new(Arc::new(config), ServerName::IpAddress(addr.ip().into())).map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    sock.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    let _ = sock.flush();
    Ok(())
}

/// Probes `target` (loopback only) with every suite rustls's ring provider implements.
pub fn probe(target: &str, timeout: Duration) -> Result<ProbeResult, AuditError> {
    let addr = loopback_target(target)?;
    TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| AuditError::Probe(format!("cannot connect to {addr}: {e}")))?;
    let mut suites: Vec<SupportedCipherSuite> = ring::ALL_CIPHER_SUITES.to_vec();
    suites.sort_by_key(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
    let attempts = suites
        .into_iter()
        .map(|suite| {
            let r = handshake(addr, suite, timeout);
            Attempt {
                version: version_name(&suite).to_string(),
                // IANA names (rustls spells the TLS 1.3 ones `TLS13_…`).
                suite: format!("{:?}", suite.suite()).replacen("TLS13_", "TLS_", 1),
                accepted: r.is_ok(),
                error: r.err(),
            }
        })
        .collect();
    Ok(ProbeResult { target: addr, attempts })
}
