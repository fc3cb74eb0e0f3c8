//! The EST server in `warden serve` (`[devices] est_listen`, docs/est.md): its HTTPS listener (the
//! certificate of `[devices.est_tls]`, else `[http.tls]`) and the plain-HTTP listener of the CRL and
//! OCSP responder, both bound when the application is built.

use std::sync::Arc;

use store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ServeError;

/// The EST server, bound and ready to run.
pub struct EstPart {
    enroller: Arc<est::Enroller>,
    est: TcpListener,
    revocation: TcpListener,
    tls: Arc<rustls::ServerConfig>,
}

impl EstPart {
    /// Builds it when `[devices] est_listen` is set.
    pub async fn build(config: &Config, store: &Store) -> Result<Option<EstPart>, ServeError> {
        let Some(settings) = config.devices.as_ref().map(|d| &d.est) else { return Ok(None) };
        let Some(listen) = settings.est_listen else { return Ok(None) };
        settings.validate().map_err(ServeError::Est)?;
        let files = settings.est_tls.as_ref().or(config.http.tls.as_ref()).ok_or_else(|| {
            ServeError::Est(
                "est_listen needs a certificate: [devices.est_tls] or [http.tls] (cert_file, key_file)".into(),
            )
        })?;
        let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| ServeError::Est(format!("{}: {e}", p.display())));
        let tls = est::tls::server_config(&read(&files.cert_file)?, &read(&files.key_file)?)
            .map_err(|e| ServeError::Est(e.to_string()))?;
        let bind = |key: &'static str, addr| async move {
            TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { key, addr, source })
        };
        let est = bind("devices.est_listen", listen).await?;
        let revocation = bind("devices.revocation_listen", settings.revocation_listen).await?;
        let enroller = Arc::new(est::Enroller::new(store.clone(), settings.policy()));
        if let (Ok(a), Ok(b)) = (est.local_addr(), revocation.local_addr()) {
            eprintln!("warden: EST on https://{a}/.well-known/est/ (CRL and OCSP on http://{b})");
        }
        Ok(Some(EstPart { enroller, est, revocation, tls }))
    }

    /// The two listeners' tasks, until `stop`.
    pub fn start(self, stop: CancellationToken) -> Vec<(&'static str, impl std::future::Future<Output = ()> + Send)> {
        let EstPart { enroller, est, revocation, tls } = self;
        vec![
            ("EST server", est::server::serve(est, est::server::est_routes(enroller.clone()), Some(tls), stop.clone())),
            (
                "CRL and OCSP server",
                est::server::serve(revocation, est::server::revocation_routes(enroller), None, stop),
            ),
        ]
    }
}
