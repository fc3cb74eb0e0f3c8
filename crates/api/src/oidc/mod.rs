//! OpenID Connect login for the portal (SEC-8): the `[http.oidc]` settings and the relying party's
//! side of the authorization code flow with PKCE S256 (RFC 6749, RFC 7636, OIDC Core 1.0, OIDC
//! Discovery 1.0): the provider's metadata and keys, the authorization request, the token request
//! (client_secret_basic or client_secret_post) and the UserInfo request when the username claim is
//! not in the ID token. Metadata and keys are fetched for each login (a key rotation at the provider
//! needs no restart). The provider must be reached over HTTPS, except on a loopback address.
//! The client secret is read from its file for each token request into a zeroizing buffer, and never
//! logged.

pub mod id_token;

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// `[http.oidc]`: one OpenID Connect provider for portal logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL; metadata at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The name on the login button ("Log in with <name>").
    #[serde(default = "default_name")]
    pub name: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// A file holding the client secret (one line; surrounding white space is ignored).
    pub client_secret_file: PathBuf,
    /// How the secret is sent to the token endpoint: `client_secret_basic` (default) or
    /// `client_secret_post`.
    #[serde(default = "default_token_auth")]
    pub token_auth: TokenAuth,
    /// The redirect URI registered at the provider (default: `<origin>/api/v1/auth/oidc/callback`,
    /// the origin as the browser reached this server).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Scopes asked for (`openid` is always included).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim that names the Warden user.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The tenant this provider's people belong to (absent: the operator's staff).
    #[serde(default)]
    pub tenant: Option<String>,
    /// `amr` values that count as a second factor.
    #[serde(default = "default_mfa_amr")]
    pub mfa_amr: Vec<String>,
    /// `acr_values` asked for in the authorization request.
    #[serde(default)]
    pub acr_values: Option<String>,
    /// When set, the ID token's `acr` must be one of these (else the login is refused), and such a
    /// login counts as a second factor.
    #[serde(default)]
    pub required_acr: Option<Vec<String>>,
}

/// Client authentication at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// HTTP Basic with the URL-encoded id and secret.
    ClientSecretBasic,
    /// Both in the form body.
    ClientSecretPost,
}

fn default_name() -> String {
    "single sign-on".into()
}
fn default_token_auth() -> TokenAuth {
    TokenAuth::ClientSecretBasic
}
fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}
fn default_username_claim() -> String {
    "preferred_username".into()
}
fn default_mfa_amr() -> Vec<String> {
    ["mfa", "otp", "hwk", "swk", "fpt", "face", "pop"].map(String::from).to_vec()
}

impl OidcSettings {
    /// Whether a login with these `amr`/`acr` counts as a second factor.
    pub fn second_factor(&self, amr: &[String], acr: Option<&str>) -> bool {
        amr.iter().any(|a| self.mfa_amr.contains(a)) || self.acr_accepted(acr) && self.required_acr.is_some()
    }

    /// Whether `acr` satisfies `required_acr` (always, when none is required).
    pub fn acr_accepted(&self, acr: Option<&str>) -> bool {
        match &self.required_acr {
            None => true,
            Some(list) => acr.is_some_and(|a| list.iter().any(|r| r == a)),
        }
    }

    /// The scopes asked for, `openid` first.
    pub fn scope(&self) -> String {
        let mut s = vec!["openid"];
        s.extend(self.scopes.iter().map(String::as_str).filter(|x| *x != "openid"));
        s.join(" ")
    }

    fn secret(&self) -> Result<Zeroizing<String>, FlowError> {
        let raw = Zeroizing::new(std::fs::read_to_string(&self.client_secret_file).map_err(|e| {
            tracing::warn!(file = %self.client_secret_file.display(), error = %e.kind(), "oidc client secret unreadable");
            FlowError::Config
        })?);
        Ok(Zeroizing::new(raw.trim().to_string()))
    }

    /// Checks what can be checked without the network: the issuer's scheme and the secret file.
    pub fn validate(&self) -> Result<(), String> {
        let url = Url::parse(&self.issuer).map_err(|e| format!("http.oidc.issuer: {e}"))?;
        if !reachable(&url) {
            return Err("http.oidc.issuer: must be https (plain http only on a loopback address)".into());
        }
        if let Some(r) = &self.redirect_uri {
            Url::parse(r).map_err(|e| format!("http.oidc.redirect_uri: {e}"))?;
        }
        self.secret()
            .map_err(|_| format!("http.oidc.client_secret_file {}: unreadable", self.client_secret_file.display()))?;
        Ok(())
    }
}

/// Why a flow failed, as the portal's short code (details are audited or logged, never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// The provider cannot be reached or answered nonsense.
    Unavailable,
    /// Our configuration is broken (the secret file).
    Config,
    /// The token request failed (a bad or reused code, a wrong verifier).
    Token,
    /// The ID token did not verify.
    IdToken(id_token::TokenError),
    /// The username claim is missing.
    Claims,
}

impl FlowError {
    /// The short code shown by the portal.
    pub fn code(self) -> &'static str {
        match self {
            FlowError::Unavailable => "unavailable",
            FlowError::Config => "unavailable",
            FlowError::Token => "token",
            FlowError::IdToken(_) => "id_token",
            FlowError::Claims => "claims",
        }
    }
}

/// https, or plain http to a loopback address.
fn reachable(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

/// The provider's metadata (the members used).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
    /// Claims of the user.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// Largest answer read from the provider.
const MAX_ANSWER: usize = 1 << 20;

fn client() -> Result<reqwest::Client, FlowError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|_| FlowError::Unavailable)
}

fn endpoint(text: &str) -> Result<Url, FlowError> {
    Url::parse(text).ok().filter(reachable).ok_or(FlowError::Unavailable)
}

async fn read_json<T: serde::de::DeserializeOwned>(mut r: reqwest::Response, err: FlowError) -> Result<T, FlowError> {
    if !r.status().is_success() {
        tracing::warn!(status = r.status().as_u16(), url = %r.url(), "oidc provider refused a request");
        return Err(err);
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|_| FlowError::Unavailable)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(FlowError::Unavailable);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| err)
}

async fn get_json<T: serde::de::DeserializeOwned>(url: Url) -> Result<T, FlowError> {
    let r = client()?.get(url).header("accept", "application/json").send().await.map_err(|e| {
        tracing::warn!(error = %e, "oidc provider unreachable");
        FlowError::Unavailable
    })?;
    read_json(r, FlowError::Unavailable).await
}

/// Fetches the provider's metadata; its `issuer` must be the configured one (OIDC Discovery §4.3).
pub async fn discover(cfg: &OidcSettings) -> Result<Metadata, FlowError> {
    let base = cfg.issuer.trim_end_matches('/');
    let meta: Metadata = get_json(endpoint(&format!("{base}/.well-known/openid-configuration"))?).await?;
    if meta.issuer != cfg.issuer {
        tracing::warn!("oidc provider metadata names another issuer");
        return Err(FlowError::Unavailable);
    }
    Ok(meta)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorization request URL.
pub fn authorization_url(
    cfg: &OidcSettings,
    meta: &Metadata,
    redirect_uri: &str,
    started: &cmp::oidc::Started,
) -> Result<Url, FlowError> {
    let mut url = endpoint(&meta.authorization_endpoint)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &cfg.scope())
            .append_pair("state", &started.state)
            .append_pair("nonce", &started.nonce)
            .append_pair("code_challenge", &pkce_challenge(&started.verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(acr) = &cfg.acr_values {
            q.append_pair("acr_values", acr);
        }
    }
    Ok(url)
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

/// The form encoding of RFC 6749 Appendix B, as HTTP Basic credentials need it (§2.3.1).
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Exchanges the code, verifies the ID token, and gets the username claim (from the ID token, or
/// else from UserInfo, whose `sub` must be the ID token's).
pub async fn redeem(
    cfg: &OidcSettings,
    code: &str,
    redirect_uri: &str,
    pending: &cmp::oidc::Pending,
) -> Result<(id_token::Claims, String), FlowError> {
    let meta = discover(cfg).await?;
    let secret = cfg.secret()?;
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", &pending.verifier),
    ];
    let mut req = client()?.post(endpoint(&meta.token_endpoint)?).header("accept", "application/json");
    match cfg.token_auth {
        TokenAuth::ClientSecretBasic => {
            req = req.basic_auth(form_encode(&cfg.client_id), Some(Zeroizing::new(form_encode(&secret)).as_str()));
        }
        TokenAuth::ClientSecretPost => {
            form.push(("client_id", &cfg.client_id));
            form.push(("client_secret", &secret));
        }
    }
    let r = req.form(&form).send().await.map_err(|_| FlowError::Unavailable)?;
    let answer: TokenAnswer = read_json(r, FlowError::Token).await?;
    let id_token = answer.id_token.ok_or(FlowError::Token)?;
    let jwks: id_token::Jwks = get_json(endpoint(&meta.jwks_uri)?).await?;
    let expect =
        id_token::Expect { issuer: &cfg.issuer, client_id: &cfg.client_id, nonce: &pending.nonce, now: store::now() };
    let claims = id_token::verify(&id_token, &jwks, &expect).map_err(FlowError::IdToken)?;
    let username = match username_in(&claims.all, &cfg.username_claim) {
        Some(u) => u,
        None => {
            let (Some(ui), Some(at)) = (&meta.userinfo_endpoint, answer.access_token) else {
                return Err(FlowError::Claims);
            };
            let at = Zeroizing::new(at);
            let r = client()?
                .get(endpoint(ui)?)
                .bearer_auth(at.as_str())
                .send()
                .await
                .map_err(|_| FlowError::Unavailable)?;
            let info: Map<String, Value> = read_json(r, FlowError::Claims).await?;
            if info.get("sub").and_then(Value::as_str) != Some(claims.subject.as_str()) {
                return Err(FlowError::Claims);
            }
            username_in(&info, &cfg.username_claim).ok_or(FlowError::Claims)?
        }
    };
    Ok((claims, username))
}

fn username_in(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= 128)
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OidcSettings {
        toml_like(r#"{"issuer": "https://idp.example", "client_id": "warden", "client_secret_file": "/x"}"#)
    }

    fn toml_like(json: &str) -> OidcSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        // RFC 7636 Appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn amr_and_acr_decide_the_second_factor() {
        let s = settings();
        assert!(s.second_factor(&["pwd".into(), "otp".into()], None));
        assert!(!s.second_factor(&["pwd".into()], None));
        assert!(!s.second_factor(&[], Some("urn:any")), "an acr counts only when required_acr names it");
        let mut s = settings();
        s.required_acr = Some(vec!["phr".into()]);
        assert!(s.second_factor(&[], Some("phr")));
        assert!(!s.acr_accepted(Some("pwd")));
        assert!(!s.acr_accepted(None));
        assert_eq!(s.scope(), "openid profile email");
    }

    #[test]
    fn the_issuer_must_be_https_or_loopback() {
        for (issuer, ok) in [
            ("https://idp.example", true),
            ("http://127.0.0.1:9000", true),
            ("http://[::1]:9000", true),
            ("http://localhost:9000", true),
            ("http://idp.example", false),
            ("http://10.0.0.1", false),
            ("file:///etc/passwd", false),
        ] {
            assert_eq!(reachable(&Url::parse(issuer).unwrap()), ok, "{issuer}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<OidcSettings, _> = serde_json::from_str(
            r#"{"issuer": "https://idp.example", "client_id": "w", "client_secret_file": "/x", "client_secret": "s"}"#,
        );
        assert!(r.is_err(), "a secret inline in the config is not accepted");
    }
}
