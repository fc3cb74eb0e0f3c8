//! The OpenSSL context every session is made from: DTLS 1.2 only, the cipher suites LwM2M asks for
//! (PSK: `TLS_PSK_WITH_AES_128_CCM_8`, `TLS_PSK_WITH_AES_128_GCM_SHA256`; certificates:
//! `TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8`, `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` on P-256), the
//! PSK callback over a [`PskResolver`], client certificates required and verified against the
//! configured CAs, OpenSSL's cookie exchange agreeing with the stateless front ([`crate::cookie`]),
//! no renegotiation, no session cache, no tickets. After the handshake, [`authenticated_identity`] names the
//! peer: its PSK identity, or its certificate's subject CN (else its first SAN URI or DNS name).

use std::sync::{Arc, OnceLock};

use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{
    Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef, SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::{X509StoreContextRef, X509VerifyResult, X509};
use zeroize::Zeroizing;

use crate::psk::{PskResolver, MAX_IDENTITY_LEN};
use crate::revocation::{serial_of, RevokedSerials};
use crate::DtlsError;

/// The PSK cipher suites, in OpenSSL's names (RFC 6655 and RFC 5487 suites, LwM2M 1.1 §7.1.7).
pub const PSK_CIPHERS: &str = "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256";
/// The certificate cipher suites (RFC 7251 and RFC 5289).
pub const X509_CIPHERS: &str = "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256";

/// The server's certificate, its key and the CAs that issue device certificates, all PEM.
pub struct X509Credentials {
    /// The server certificate followed by its intermediates.
    pub cert_chain_pem: Vec<u8>,
    /// The server's private key (an EC P-256 key for the ECDSA suites).
    pub key_pem: Zeroizing<Vec<u8>>,
    /// The CAs a client certificate must chain to.
    pub client_ca_pem: Vec<u8>,
}

impl std::fmt::Debug for X509Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X509Credentials(key redacted)")
    }
}

/// The per-session cookie the stateless front already checked: OpenSSL's cookie callbacks hand it
/// out and accept exactly it.
fn cookie_index() -> Result<Index<Ssl, Vec<u8>>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, Vec<u8>>> = OnceLock::new();
    if let Some(i) = INDEX.get() {
        return Ok(*i);
    }
    let i = Ssl::new_ex_index()?;
    Ok(*INDEX.get_or_init(|| i))
}

/// A new server session for a peer whose ClientHello carried `cookie`.
pub(crate) fn new_ssl(ctx: &SslContext, cookie: &[u8], mtu: u32) -> Result<Ssl, ErrorStack> {
    let mut ssl = Ssl::new(ctx)?;
    ssl.set_ex_data(cookie_index()?, cookie.to_vec());
    ssl.set_mtu(mtu)?;
    Ok(ssl)
}

fn x509_err(what: &str, e: ErrorStack) -> DtlsError {
    DtlsError::Config(format!("{what}: {e}"))
}

/// Builds the context. At least one of PSK and X.509 must be given. A client certificate whose
/// serial is in `revoked` fails verification, so its handshake ends with an alert.
pub fn build(
    psk: Option<Arc<dyn PskResolver>>,
    x509: Option<&X509Credentials>,
    revoked: Option<Arc<RevokedSerials>>,
) -> Result<SslContext, DtlsError> {
    if psk.is_none() && x509.is_none() {
        return Err(DtlsError::Config("neither PSK nor X.509 credentials are configured".into()));
    }
    let mut b = SslContextBuilder::new(SslMethod::dtls_server())?;
    b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_options(
        SslOptions::COOKIE_EXCHANGE | SslOptions::NO_QUERY_MTU | SslOptions::NO_RENEGOTIATION | SslOptions::NO_TICKET,
    );
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    let mut ciphers = Vec::new();
    if let Some(resolver) = psk {
        ciphers.push(PSK_CIPHERS);
        b.set_psk_server_callback(move |_ssl, identity, out| Ok(psk_lookup(resolver.as_ref(), identity, out)));
    }
    if let Some(c) = x509 {
        ciphers.push(X509_CIPHERS);
        let chain = X509::stack_from_pem(&c.cert_chain_pem).map_err(|e| x509_err("server certificate", e))?;
        let mut chain = chain.into_iter();
        let leaf = chain.next().ok_or_else(|| DtlsError::Config("server certificate: no certificate".into()))?;
        b.set_certificate(&leaf).map_err(|e| x509_err("server certificate", e))?;
        for extra in chain {
            b.add_extra_chain_cert(extra).map_err(|e| x509_err("server certificate chain", e))?;
        }
        let key = PKey::private_key_from_pem(&c.key_pem).map_err(|e| x509_err("server key", e))?;
        b.set_private_key(&key).map_err(|e| x509_err("server key", e))?;
        b.check_private_key().map_err(|e| x509_err("server key does not match the certificate", e))?;
        let cas = X509::stack_from_pem(&c.client_ca_pem).map_err(|e| x509_err("client CA", e))?;
        if cas.is_empty() {
            return Err(DtlsError::Config("client CA: no certificate".into()));
        }
        for ca in &cas {
            b.cert_store_mut().add_cert(ca.clone()).map_err(|e| x509_err("client CA", e))?;
            b.add_client_ca(ca).map_err(|e| x509_err("client CA", e))?;
        }
        let mode = SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT;
        match revoked {
            Some(revoked) => b.set_verify_callback(mode, move |ok, ctx| ok && !leaf_revoked(&revoked, ctx)),
            None => b.set_verify(mode),
        }
        b.set_groups_list("P-256")?;
    }
    b.set_cipher_list(&ciphers.join(":"))?;
    b.set_cookie_generate_cb(|ssl, out| {
        let cookie = ssl.ex_data(cookie_index()?).cloned().unwrap_or_default();
        let n = cookie.len().min(out.len());
        out[..n].copy_from_slice(&cookie[..n]);
        Ok(n)
    });
    b.set_cookie_verify_cb(|ssl, cookie| {
        let Ok(i) = cookie_index() else { return false };
        ssl.ex_data(i).is_some_and(|c| !c.is_empty() && c.as_slice() == cookie)
    });
    Ok(b.build())
}

/// Whether the certificate being verified is the client's own (depth 0) and revoked; if so the
/// verification error is set, so OpenSSL's alert and log say the application refused it.
fn leaf_revoked(revoked: &RevokedSerials, ctx: &mut X509StoreContextRef) -> bool {
    if ctx.error_depth() != 0 {
        return false;
    }
    let Some(serial) = ctx.current_cert().and_then(serial_of) else { return false };
    if !revoked.contains(&serial) {
        return false;
    }
    tracing::debug!(serial, "DTLS client certificate revoked; handshake refused");
    ctx.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
    true
}

/// The PSK callback: the key's length written into `out`, 0 (handshake refused) for an unknown or
/// malformed identity or a key that does not fit.
fn psk_lookup(resolver: &dyn PskResolver, identity: Option<&[u8]>, out: &mut [u8]) -> usize {
    let Some(identity) = identity.filter(|i| i.len() <= MAX_IDENTITY_LEN) else { return 0 };
    let Ok(identity) = std::str::from_utf8(identity) else { return 0 };
    let Some(key) = resolver.key(identity) else {
        tracing::debug!(identity, "DTLS PSK identity unknown");
        return 0;
    };
    if key.is_empty() || key.len() > out.len() {
        return 0;
    }
    out[..key.len()].copy_from_slice(&key);
    key.len()
}

/// The authenticated name of the peer of a finished handshake.
pub(crate) fn authenticated_identity(ssl: &SslRef) -> Option<String> {
    if let Some(id) = ssl.psk_identity() {
        return std::str::from_utf8(id).ok().map(str::to_string);
    }
    let cert = ssl.peer_certificate()?;
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .filter(|s| !s.is_empty());
    cn.or_else(|| cert.subject_alt_names()?.iter().find_map(|n| n.uri().or_else(|| n.dnsname()).map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psk::PskTable;

    #[test]
    fn the_psk_callback_refuses_what_it_cannot_answer() {
        let t = PskTable::new([("dev".to_string(), Zeroizing::new(vec![0xaa; 16]))]);
        let mut out = [0u8; 64];
        assert_eq!(psk_lookup(&t, Some(b"dev"), &mut out), 16);
        assert_eq!(&out[..16], &[0xaa; 16]);
        assert_eq!(psk_lookup(&t, Some(b"other"), &mut out), 0);
        assert_eq!(psk_lookup(&t, None, &mut out), 0);
        assert_eq!(psk_lookup(&t, Some(&[0xff, 0xfe]), &mut out), 0, "not UTF-8");
        assert_eq!(psk_lookup(&t, Some(b"dev"), &mut out[..8]), 0, "does not fit");
    }

    #[test]
    fn needs_some_credentials() {
        assert!(matches!(build(None, None, None), Err(DtlsError::Config(_))));
    }
}
