//! Partners over mutual TLS (RFC 6733 §13, TLS from the first byte): a partner with a certificate
//! from the configured CA is screened and relayed as over TCP; one whose certificate chains to another
//! CA never reaches CER.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{client_config, connect, ConnectionLimits, TlsSettings};
use firewall::config::TlsConfig;

fn ca() -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert, rcgen::Issuer::new(params, key))
}

fn leaf(name: &str, issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, issuer).unwrap();
    (cert, key)
}

fn client(
    cert: &rcgen::Certificate,
    key: &rcgen::KeyPair,
    server_ca: &rcgen::Certificate,
) -> Arc<rustls::ClientConfig> {
    client_config(TlsSettings {
        chain: vec![cert.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        peer_roots: vec![server_ca.der().clone()],
    })
    .unwrap()
}

#[tokio::test]
async fn partners_over_mutual_tls() {
    let dir = std::env::temp_dir().join(format!("warden-fw-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_cert, issuer) = ca();
    let (server_cert, server_key) = leaf(FW_HOST, &issuer);
    let (client_cert, client_key) = leaf(ALPHA.0, &issuer);
    let (other_ca, other_issuer) = ca();
    let (rogue_cert, rogue_key) = leaf(ALPHA.0, &other_issuer);
    for (name, pem) in
        [("fw.pem", server_cert.pem()), ("fw.key", server_key.serialize_pem()), ("ca.pem", ca_cert.pem())]
    {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let hss = start_upstream(None).await;
    let mut config = base_config(hss.addr, "");
    config.tls = Some(TlsConfig {
        cert_file: dir.join("fw.pem"),
        key_file: dir.join("fw.key"),
        client_ca_file: Some(dir.join("ca.pem")),
    });
    let fw = start_firewall(config).await;
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let name = rustls::pki_types::ServerName::try_from(FW_HOST.to_string()).unwrap();
    let cfg = PeerConfig::new(ALPHA.0, ALPHA.1, vec![Application::S6A]);
    let tls = Some((client(&client_cert, &client_key, &ca_cert), name.clone()));
    let (p, _) = connect(fw.addr, cfg.clone(), allow.clone(), ConnectionLimits::default(), tls).await.unwrap();
    let a = tokio::time::timeout(Duration::from_secs(5), p.request(air(ALPHA, "001010000000800", ALPHA_PLMN)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.result_code(), Some(2001));
    assert_eq!(hss.seen.lock().unwrap().requests.len(), 1);
    let _ = other_ca;
    let rogue = Some((client(&rogue_cert, &rogue_key, &ca_cert), name));
    let refused =
        tokio::time::timeout(Duration::from_secs(5), connect(fw.addr, cfg, allow, ConnectionLimits::default(), rogue))
            .await
            .unwrap();
    assert!(refused.is_err(), "a certificate from another CA must not get through");
    std::fs::remove_dir_all(&dir).unwrap();
}
