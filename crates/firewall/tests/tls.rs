//! Partners over mutual TLS (RFC 6733 §13, TLS from the first byte): a partner with a certificate
//! from the configured CA is screened and relayed as over TCP; one whose certificate chains to another
//! CA never reaches CER.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{client_config, connect, ConnectionLimits};
use firewall::config::TlsConfig;
use testkit::tls::{Ca, Leaf};

fn client(leaf: &Leaf, server_ca: &Ca) -> Arc<rustls::ClientConfig> {
    client_config(leaf.settings(server_ca)).unwrap()
}

#[tokio::test]
async fn partners_over_mutual_tls() {
    let dir = std::env::temp_dir().join(format!("warden-fw-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Ca::new();
    let (cert_file, key_file) = ca.leaf(FW_HOST).write(&dir, "fw");
    let client_ca_file = ca.write(&dir, "ca");
    let partner = ca.leaf(ALPHA.0);
    let other_ca = Ca::new();
    let rogue_cert = other_ca.leaf(ALPHA.0);
    let hss = start_upstream(None).await;
    let mut config = base_config(hss.addr, "");
    config.tls = Some(TlsConfig { cert_file, key_file, client_ca_file: Some(client_ca_file) });
    let fw = start_firewall(config).await;
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let name = rustls::pki_types::ServerName::try_from(FW_HOST.to_string()).unwrap();
    let cfg = PeerConfig::new(ALPHA.0, ALPHA.1, vec![Application::S6A]);
    let tls = Some((client(&partner, &ca), name.clone()));
    let (p, _) = connect(fw.addr, cfg.clone(), allow.clone(), ConnectionLimits::default(), tls).await.unwrap();
    let a = tokio::time::timeout(Duration::from_secs(5), p.request(air(ALPHA, "001010000000800", ALPHA_PLMN)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.result_code(), Some(2001));
    assert_eq!(hss.seen.lock().unwrap().requests.len(), 1);
    let rogue = Some((client(&rogue_cert, &ca), name));
    let refused =
        tokio::time::timeout(Duration::from_secs(5), connect(fw.addr, cfg, allow, ConnectionLimits::default(), rogue))
            .await
            .unwrap();
    assert!(refused.is_err(), "a certificate from another CA must not get through");
    std::fs::remove_dir_all(&dir).unwrap();
}
