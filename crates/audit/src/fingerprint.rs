//! Salted fingerprints of LoRaWAN AppKeys: equal keys give equal fingerprints under one salt, so the
//! audit finds keys shared between devices without the description ever holding a key.
//!
//! `fingerprint = "v1:" ‖ hex(SHA-256("warden-lorawan-appkey-v1" ‖ salt ‖ AppKey))`. The salt (at least
//! 16 random bytes, stored in the description as `lpwa.lorawan.fingerprint_salt`) stops a precomputed
//! table from being reused across descriptions; AppKeys are 128-bit random values, so a fingerprint
//! cannot be searched back to its key.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"warden-lorawan-appkey-v1";

/// Fingerprint of one AppKey (16 bytes) under `salt` (at least 16 bytes).
pub fn app_key(salt: &[u8], app_key: &[u8]) -> Result<String, String> {
    if salt.len() < 16 {
        return Err(format!("the salt must be at least 16 bytes, not {}", salt.len()));
    }
    if app_key.len() != 16 {
        return Err(format!("a LoRaWAN AppKey is 16 bytes, not {}", app_key.len()));
    }
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(salt);
    h.update(app_key);
    Ok(format!("v1:{}", hex::encode(h.finalize())))
}

/// Checks the written form of a fingerprint.
pub fn check_format(f: &str) -> Result<(), String> {
    match f.strip_prefix("v1:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(format!("{f:?} is not a fingerprint (`v1:` and 64 hex digits, from `warden audit fingerprint`)")),
    }
}

/// A new random salt (32 bytes, hex), from the system's secure random source.
pub fn new_salt() -> Result<String, String> {
    let mut b = [0u8; 32];
    rustls::crypto::ring::default_provider().secure_random.fill(&mut b).map_err(|_| "no secure random source")?;
    Ok(hex::encode(b))
}

/// Reads `dev_eui,app_key[,activation]` lines (hex; `#` comments and blank lines skipped) and writes the
/// matching `[[lpwa.lorawan.devices]]` tables with fingerprints instead of keys.
pub fn devices_toml(salt_hex: &str, input: &str) -> Result<String, String> {
    let salt = hex::decode(salt_hex.trim()).map_err(|e| format!("salt: {e}"))?;
    let mut out = String::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |m: String| format!("line {}: {m}", n + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (eui, key, act) = match fields[..] {
            [eui, key] => (eui, key, "otaa"),
            [eui, key, act] => (eui, key, act),
            _ => return Err(at("expected dev_eui,app_key[,activation]".into())),
        };
        if eui.len() != 16 || !eui.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(at(format!("DevEUI {eui:?} is not 16 hex digits")));
        }
        let act: crate::model::Activation = act.parse().map_err(at)?;
        let key = hex::decode(key).map_err(|e| at(format!("AppKey: {e}")))?;
        let fp = app_key(&salt, &key).map_err(at)?;
        out.push_str(&format!(
            "[[lpwa.lorawan.devices]]\ndev_eui = \"{}\"\nactivation = \"{act}\"\napp_key_fingerprint = \"{fp}\"\n\n",
            eui.to_ascii_lowercase()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_equal_fingerprints_salt_matters() {
        let salt = [7u8; 16];
        let a = app_key(&salt, &[1; 16]).unwrap();
        assert_eq!(a, app_key(&salt, &[1; 16]).unwrap());
        assert_ne!(a, app_key(&salt, &[2; 16]).unwrap());
        assert_ne!(a, app_key(&[8u8; 16], &[1; 16]).unwrap());
        check_format(&a).unwrap();
        assert!(!a.contains(&hex::encode([1u8; 16])));
        assert!(app_key(&[0; 8], &[1; 16]).is_err());
        let toml =
            devices_toml(&hex::encode(salt), "# eui,key\n0011223344556677,01010101010101010101010101010101\n").unwrap();
        assert!(toml.contains(&a) && toml.contains("activation = \"otaa\""));
        assert!(devices_toml(&hex::encode(salt), "0011,00").unwrap_err().starts_with("line 1"));
    }
}
