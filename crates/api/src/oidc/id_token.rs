//! ID token verification (OpenID Connect Core 1.0 §3.1.3.7): a compact JWS whose signature is
//! checked with a key of the provider's JWKS (RFC 7517) under an algorithm of a fixed allowlist —
//! RS256, PS256, ES256, EdDSA (Ed25519) — never `none` nor an HMAC (the client secret is no key
//! here), the key's type and curve matching the algorithm; then `iss` exactly, `aud` containing the
//! client id (with several audiences `azp` must be present), `azp` if present equal to the client id,
//! `exp` and `iat` with a small leeway, and `nonce` equal to the flow's. Signatures are verified with
//! `ring`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Seconds of clock difference tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 60;
/// The oldest `iat` accepted (an ID token is used at once).
pub const MAX_AGE_SECS: i64 = 600;

/// A JSON Web Key Set.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One public key (only the members used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// The algorithm the key is for, if stated.
    #[serde(default)]
    pub alg: Option<String>,
    /// `sig` or `enc`, if stated.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
    /// Curve (`P-256`, `Ed25519`).
    #[serde(default)]
    pub crv: Option<String>,
    /// EC x coordinate, or the OKP public key.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default)]
    pub y: Option<String>,
}

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The configured issuer.
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The flow's nonce.
    pub nonce: &'a str,
    /// Unix seconds now.
    pub now: i64,
}

/// Why an ID token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS with JSON header and claims.
    #[error("malformed ID token")]
    Malformed,
    /// The algorithm is not allowed (`none`, HMAC, anything outside the allowlist).
    #[error("ID token algorithm not allowed")]
    Algorithm,
    /// No key of the provider fits the header.
    #[error("no matching signing key")]
    Key,
    /// The signature does not verify.
    #[error("bad ID token signature")]
    Signature,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` does not contain the client id, or `azp` is wrong or missing.
    #[error("wrong audience")]
    Audience,
    /// Expired, issued in the future, or too old.
    #[error("ID token expired or not yet valid")]
    Time,
    /// `nonce` is not the flow's.
    #[error("wrong nonce")]
    Nonce,
    /// `sub` missing or empty.
    #[error("no subject")]
    Subject,
}

/// The verified claims.
#[derive(Debug, Clone)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `amr` (empty when absent).
    pub amr: Vec<String>,
    /// `acr`.
    pub acr: Option<String>,
    /// Every claim, for the username claim.
    pub all: Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The algorithms accepted, with the key type (and curve) each needs.
fn key_shape(alg: &str) -> Option<(&'static str, Option<&'static str>)> {
    match alg {
        "RS256" | "PS256" => Some(("RSA", None)),
        "ES256" => Some(("EC", Some("P-256"))),
        "EdDSA" => Some(("OKP", Some("Ed25519"))),
        _ => None,
    }
}

fn b64(text: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| TokenError::Malformed)
}

fn member(v: &Option<String>) -> Result<Vec<u8>, TokenError> {
    v.as_deref().ok_or(TokenError::Key).and_then(|t| b64(t).map_err(|_| TokenError::Key))
}

fn check_signature(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> Result<(), TokenError> {
    let ok = match alg {
        "RS256" | "PS256" => {
            let params = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            let (n, e) = (member(&key.n)?, member(&key.e)?);
            RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message, sig).is_ok()
        }
        "ES256" => {
            let (x, y) = (member(&key.x)?, member(&key.y)?);
            if x.len() != 32 || y.len() != 32 {
                return Err(TokenError::Key);
            }
            let point: Vec<u8> = [&[4u8][..], &x, &y].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig).is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, member(&key.x)?).verify(message, sig).is_ok(),
        _ => return Err(TokenError::Algorithm),
    };
    ok.then_some(()).ok_or(TokenError::Signature)
}

/// The key for `header` in `jwks`: its `kid` if given, else the only key of the right shape.
fn pick_key<'a>(jwks: &'a Jwks, alg: &str, kid: Option<&str>) -> Result<&'a Jwk, TokenError> {
    let (kty, crv) = key_shape(alg).ok_or(TokenError::Algorithm)?;
    let fits = |k: &&Jwk| {
        k.kty == kty
            && crv.is_none_or(|c| k.crv.as_deref() == Some(c))
            && k.alg.as_deref().is_none_or(|a| a == alg)
            && k.use_.as_deref().is_none_or(|u| u == "sig")
    };
    let mut candidates = jwks.keys.iter().filter(fits).filter(|k| kid.is_none() || k.kid.as_deref() == kid);
    match (candidates.next(), candidates.next(), kid) {
        (Some(k), None, _) | (Some(k), Some(_), Some(_)) => Ok(k),
        _ => Err(TokenError::Key),
    }
}

/// Verifies `jwt` against the provider's `jwks` and what `expect` says.
pub fn verify(jwt: &str, jwks: &Jwks, expect: &Expect<'_>) -> Result<Claims, TokenError> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|_| TokenError::Malformed)?;
    if key_shape(&header.alg).is_none() {
        return Err(TokenError::Algorithm);
    }
    let key = pick_key(jwks, &header.alg, header.kid.as_deref())?;
    let message = &jwt.as_bytes()[..h.len() + 1 + p.len()];
    check_signature(&header.alg, key, message, &b64(s)?)?;
    let all: Map<String, Value> = serde_json::from_slice(&b64(p)?).map_err(|_| TokenError::Malformed)?;
    check_claims(all, expect)
}

fn check_claims(all: Map<String, Value>, expect: &Expect<'_>) -> Result<Claims, TokenError> {
    let text = |name: &str| all.get(name).and_then(Value::as_str);
    if text("iss") != Some(expect.issuer) {
        return Err(TokenError::Issuer);
    }
    let audiences: Vec<&str> = match all.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&expect.client_id) {
        return Err(TokenError::Audience);
    }
    match text("azp") {
        Some(azp) if azp != expect.client_id => return Err(TokenError::Audience),
        None if audiences.len() > 1 => return Err(TokenError::Audience),
        _ => {}
    }
    let exp = all.get("exp").and_then(Value::as_i64).ok_or(TokenError::Time)?;
    let iat = all.get("iat").and_then(Value::as_i64).ok_or(TokenError::Time)?;
    if expect.now > exp + LEEWAY_SECS || iat > expect.now + LEEWAY_SECS || iat < expect.now - MAX_AGE_SECS {
        return Err(TokenError::Time);
    }
    if text("nonce") != Some(expect.nonce) {
        return Err(TokenError::Nonce);
    }
    let subject = text("sub").filter(|s| !s.is_empty() && s.len() <= 255).ok_or(TokenError::Subject)?.to_string();
    let amr = match all.get("amr") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    };
    let acr = text("acr").map(str::to_string);
    Ok(Claims { issuer: expect.issuer.to_string(), subject, amr, acr, all })
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const EXPECT: Expect<'static> =
        Expect { issuer: "https://idp.example", client_id: "warden", nonce: "n-0S6_WzA2Mj", now: NOW };

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "sub": "248289761001", "aud": "warden", "nonce": "n-0S6_WzA2Mj",
               "exp": NOW + 300, "iat": NOW - 5, "amr": ["pwd", "otp"], "preferred_username": "alice"})
    }

    struct Ed {
        pair: Ed25519KeyPair,
    }

    impl Ed {
        fn new() -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            Ed { pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap() }
        }
        fn jwks(&self, kid: &str) -> Jwks {
            let x = URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref());
            serde_json::from_value(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}]})).unwrap()
        }
        fn sign(&self, header: &Value, claims: &Value) -> String {
            let input = format!("{}.{}", enc(header), enc(claims));
            let sig = self.pair.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
    }

    fn ed_header() -> Value {
        json!({"alg": "EdDSA", "kid": "k1", "typ": "JWT"})
    }

    #[test]
    fn a_good_eddsa_token_verifies_and_yields_amr() {
        let k = Ed::new();
        let c = verify(&k.sign(&ed_header(), &claims()), &k.jwks("k1"), &EXPECT).unwrap();
        assert_eq!(c.subject, "248289761001");
        assert_eq!(c.amr, ["pwd", "otp"]);
        assert_eq!(c.all["preferred_username"], "alice");
    }

    #[test]
    fn a_good_es256_token_verifies_and_a_tampered_one_does_not() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwks: Jwks = serde_json::from_value(json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])}]}))
        .unwrap();
        let input = format!("{}.{}", enc(&json!({"alg": "ES256"})), enc(&claims()));
        let sig = pair.sign(&rng, input.as_bytes()).unwrap();
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        assert!(verify(&token, &jwks, &EXPECT).is_ok());
        let mut other = claims();
        other["preferred_username"] = json!("mallory");
        let forged = format!("{}.{}.{}", enc(&json!({"alg": "ES256"})), enc(&other), token.rsplit('.').next().unwrap());
        assert_eq!(verify(&forged, &jwks, &EXPECT).unwrap_err(), TokenError::Signature);
    }

    #[test]
    fn wrong_nonce_audience_issuer_and_times_are_refused() {
        let k = Ed::new();
        let jwks = k.jwks("k1");
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c[name] = v;
            verify(&k.sign(&ed_header(), &c), &jwks, &EXPECT).unwrap_err()
        };
        assert_eq!(with("nonce", json!("replayed")), TokenError::Nonce);
        assert_eq!(with("aud", json!("another-client")), TokenError::Audience);
        assert_eq!(
            with("aud", json!(["warden", "another-client"])),
            TokenError::Audience,
            "several audiences need azp"
        );
        assert_eq!(with("azp", json!("another-client")), TokenError::Audience);
        assert_eq!(with("iss", json!("https://evil.example")), TokenError::Issuer);
        assert_eq!(with("exp", json!(NOW - LEEWAY_SECS - 1)), TokenError::Time, "expired");
        assert_eq!(with("iat", json!(NOW + LEEWAY_SECS + 1)), TokenError::Time, "issued in the future");
        assert_eq!(with("iat", json!(NOW - MAX_AGE_SECS - 1)), TokenError::Time, "too old");
        assert_eq!(with("sub", json!("")), TokenError::Subject);
        let mut c = claims();
        c["aud"] = json!(["warden", "another-client"]);
        c["azp"] = json!("warden");
        assert!(verify(&k.sign(&ed_header(), &c), &jwks, &EXPECT).is_ok(), "azp names us");
        let mut c = claims();
        c["exp"] = json!(NOW - 10);
        assert!(verify(&k.sign(&ed_header(), &c), &jwks, &EXPECT).is_ok(), "within the leeway");
    }

    #[test]
    fn alg_none_hmac_and_unknown_keys_are_refused() {
        let k = Ed::new();
        let jwks = k.jwks("k1");
        let unsigned = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&claims()));
        assert_eq!(verify(&unsigned, &jwks, &EXPECT).unwrap_err(), TokenError::Algorithm);
        let hs = k.sign(&json!({"alg": "HS256", "kid": "k1"}), &claims());
        assert_eq!(verify(&hs, &jwks, &EXPECT).unwrap_err(), TokenError::Algorithm);
        let other_kid = k.sign(&json!({"alg": "EdDSA", "kid": "k2"}), &claims());
        assert_eq!(verify(&other_kid, &jwks, &EXPECT).unwrap_err(), TokenError::Key);
        let rs = k.sign(&json!({"alg": "RS256", "kid": "k1"}), &claims());
        assert_eq!(verify(&rs, &jwks, &EXPECT).unwrap_err(), TokenError::Key, "an Ed25519 key is no RSA key");
        let stranger = Ed::new().sign(&ed_header(), &claims());
        assert_eq!(verify(&stranger, &jwks, &EXPECT).unwrap_err(), TokenError::Signature);
        assert_eq!(verify("a.b", &jwks, &EXPECT).unwrap_err(), TokenError::Malformed);
    }
}
