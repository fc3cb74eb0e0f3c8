//! Private keys in a configuration tree (`/etc/open5gs`, `/etc/freeDiameter`, a container's config
//! volume): every file holding private key material is reported, never its contents.
//!
//! What counts as a key file:
//! - a PEM block `-----BEGIN … PRIVATE KEY-----` (PKCS#8, `EC`, `RSA`, `ENCRYPTED`, `OPENSSH` …);
//! - a raw key: a file named `*.key` holding exactly 32 bytes, or 64 hex digits (an X25519 or P-256
//!   scalar, as SUCI home-network keys are kept by some tools).
//!
//! Each key file raises, as they apply: `WA-SEC-061` when it is one of the private keys Open5GS ships in
//! its source tree (`configs/open5gs/hnet/*.key`, `configs/open5gs/tls/*.key`, recognised by the SHA-256
//! of the key's base64 body, so line endings do not matter); `WA-SEC-060` when its name says it is a CA
//! key (`ca.key`, `ca-key.pem`, `cakey.pem`, `*-ca.key`, `rootca.key` …); `WA-SEC-062` when every local
//! user can read it (Unix mode `o+r`); otherwise `WA-SEC-063` (inventory, info). Symbolic links are not
//! followed; files over 1 MiB are skipped.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::report::{Location, Report};
use crate::AuditError;

/// SHA-256 of the base64 body of each private key Open5GS ships (open5gs/open5gs at commit
/// 8f25f3beaf131a5e979534dfda4a27765321dfd0, `configs/open5gs/`), with its name there.
const OPEN5GS_SHIPPED: &[(&str, &str)] = &[
    ("3000ab33b5bf7e89cb1ea74b694b48ae985ec2aa5bfcfcfe48807d7622a1b2ba", "hnet/curve25519-1.key"),
    ("5b0e1c8d1fac8ea73c80db4f25b5b4b334fb0e29139a8eb0aefd73e5017a7513", "hnet/curve25519-3.key"),
    ("1ed364db37c6152a2a55419d972f299d088d21797259c7fb09fdbbc5e0390318", "hnet/curve25519-5.key"),
    ("ccf8ad6c8b93bd9c0a0f5526ca68f2eb4e3ed0498a4574257fe0a1dcb8c76869", "hnet/secp256r1-2.key"),
    ("80e20fea467fc9f59d4617e3a21b0365e9625bfedd0e0e0be39c06237339f78c", "hnet/secp256r1-4.key"),
    ("3106b057d55fefb787e548c75554f5fe24b7aec90b452ae87786664a4630b1d1", "hnet/secp256r1-6.key"),
    ("447e2da83ba3a4f5d06da32e3d16d1c53696a83164533dafe4039c5db7b153a1", "tls/amf.key"),
    ("80549a0f4710aadb71bacc5afd7be875ead9b87d9dbe37d53b2468e8c0f25dad", "tls/ausf.key"),
    ("b5be81150aab266231f28183c952315b69db5ce43d4e88bfe274ebe1ddcede24", "tls/bsf.key"),
    ("74ec63909681762e5921e9f0225e17b4c214141df4268226595aac844928f635", "tls/ca.key"),
    ("fdd1ffb3dc60648ad5bb32269e3aacb99535dcf3008a567f7469187dd7c57a61", "tls/hss.key"),
    ("a9cac2b8b8d9f47fa9bf7d99f2a24f6f8493caac2445255d7599af6076dd43f9", "tls/mme.key"),
    ("8d6922e4ed462b09bed371cb24062868322aff1399108f50958603827ed5aff3", "tls/nrf.key"),
    ("1f61b587b5194813ce243d4edbe896b35722f764032de2e3ad8e500446c8dd28", "tls/nssf.key"),
    ("80103a9d1e06596ed90716fbb85f4c8a6bf6cd1af7c9562d6fdc39a4bebd24cb", "tls/pcf.key"),
    ("8d20b092fa6c3077d47329b1640c3ac86ca11f0e968cc13a7bcc1d21afa0c141", "tls/pcrf.key"),
    ("47f5faa46ecec8d28e632cbca73c6fe7e802afe50861cf8582e90d252e8ec300", "tls/scp.key"),
    ("54338e8deb02c7a66340cddd704532c610cc7ed24141da0f92ecc3e5d5dc935b", "tls/sepp1.key"),
    ("16a40ec5a565980398ca26a28ed3d4ed59c13d98d6da7fa1321d61cd3706a86c", "tls/sepp2.key"),
    ("8a116dcb163c542dc75b21e24b27ee36be397b1a82b39c4d4afc3a6946fd5446", "tls/sepp3.key"),
    ("31442e9b5156bf16a9e787dbc8f64eb48abe81b7832aac1ff36a7a4385612d30", "tls/smf.key"),
    ("944e31c2cd385c8b578ecf0552ef11405c2d9c02da321d720b1045cb69b85d27", "tls/udm.key"),
    ("406a4e92f90779e06793e2fd7515ba6f1d68836e7c385edaffb34bdca8a62bf3", "tls/udr.key"),
];

const MAX_FILE: u64 = 1 << 20;

/// Private key material found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The file.
    pub path: PathBuf,
    /// What it holds: `PEM EC PRIVATE KEY`, `raw 32-byte key` ….
    pub kind: String,
    /// The Open5GS sample it is (`hnet/curve25519-1.key`), if any.
    pub published: Option<&'static str>,
    /// Its name says it is a CA key.
    pub ca: bool,
    /// Every local user can read it.
    pub world_readable: bool,
}

/// The private key in `bytes`, if any: (kind, fingerprints of its PEM bodies).
fn key_material(name: &str, bytes: &[u8]) -> Option<(String, Vec<String>)> {
    let text = String::from_utf8_lossy(bytes);
    let mut kinds = Vec::new();
    let mut prints = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else { break };
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end = body_start.find("-----END ").unwrap_or(body_start.len());
        if label.ends_with("PRIVATE KEY") {
            kinds.push(format!("PEM {label}"));
            let body: String = body_start[..end].split_whitespace().collect();
            prints.push(hex::encode(Sha256::digest(body.as_bytes())));
        }
        rest = &body_start[end..];
        if rest.len() >= 9 {
            rest = &rest[9..];
        }
    }
    if !kinds.is_empty() {
        return Some((kinds.join(" + "), prints));
    }
    if name.ends_with(".key") {
        let t = text.trim();
        if bytes.len() == 32 {
            return Some(("raw 32-byte key".into(), vec![]));
        }
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(("raw 256-bit key in hex".into(), vec![]));
        }
    }
    None
}

fn is_ca_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    matches!(stem, "ca" | "cakey" | "ca-key" | "ca_key" | "rootca" | "root-ca" | "root_ca" | "cacert-key")
        || stem.ends_with("-ca")
        || stem.ends_with("_ca")
        || stem.ends_with("-ca-key")
        || stem.ends_with("_ca_key")
}

#[cfg(unix)]
fn world_readable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o004 != 0
}

#[cfg(not(unix))]
fn world_readable(_: &std::fs::Metadata) -> bool {
    false
}

/// Walks `dir` (not following symbolic links) and returns every key file, sorted by path.
pub fn scan(dir: &Path) -> Result<Vec<KeyFile>, AuditError> {
    let io = |p: &Path, e| AuditError::Io(p.display().to_string(), e);
    if !dir.is_dir() {
        return Err(AuditError::Import { origin: dir.display().to_string(), message: "not a directory".into() });
    }
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            if meta.is_dir() {
                todo.push(path);
                continue;
            }
            if !meta.is_file() || meta.len() > MAX_FILE {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let Some((kind, prints)) = key_material(&name, &bytes) else { continue };
            let published = OPEN5GS_SHIPPED.iter().find(|(h, _)| prints.iter().any(|p| p == h)).map(|(_, n)| *n);
            found.push(KeyFile { kind, published, ca: is_ca_name(&name), world_readable: world_readable(&meta), path });
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Audits a configuration tree for private keys.
pub fn config_tree(dir: &Path, report: &mut Report) -> Result<(), AuditError> {
    let keys = scan(dir)?;
    let root = dir.display().to_string();
    report.input("config-tree", &root);
    for k in &keys {
        let file = k.path.display().to_string();
        let rel = k.path.strip_prefix(dir).unwrap_or(&k.path).display().to_string();
        let at = || Location { file: Some(file.clone()), line: None, path: rel.clone() };
        let mut raised = false;
        if let Some(sample) = k.published {
            report.raise(
                "WA-SEC-061",
                "config-tree",
                at(),
                format!("{rel} ({}) is Open5GS's published sample key configs/open5gs/{sample}", k.kind),
            );
            raised = true;
        }
        if k.ca {
            report.raise("WA-SEC-060", "config-tree", at(), format!("{rel} ({}) is named as a CA private key", k.kind));
            raised = true;
        }
        if k.world_readable {
            report.raise("WA-SEC-062", "config-tree", at(), format!("{rel} ({}) is readable by every user", k.kind));
            raised = true;
        }
        if !raised {
            report.raise("WA-SEC-063", "config-tree", at(), format!("{rel} holds a private key ({})", k.kind));
        }
    }
    if keys.is_empty() {
        report.note(format!("{root}: no private key material found"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_pem_raw_and_ca_names() {
        let pem = b"-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHcC\nAQEE\n-----END EC PRIVATE KEY-----\n";
        let (kind, prints) = key_material("x.pem", pem).unwrap();
        assert_eq!(kind, "PEM EC PRIVATE KEY");
        assert_eq!(prints, vec![hex::encode(Sha256::digest(b"MHcCAQEE"))]);
        assert!(key_material("x.crt", b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").is_none());
        assert_eq!(key_material("h.key", &[7u8; 32]).unwrap().0, "raw 32-byte key");
        assert_eq!(key_material("h.key", "ab".repeat(32).as_bytes()).unwrap().0, "raw 256-bit key in hex");
        assert!(key_material("notes.txt", &[7u8; 32]).is_none());
        assert!(is_ca_name("ca.key") && is_ca_name("CA-key.pem") && is_ca_name("issuing-ca.key"));
        assert!(!is_ca_name("cache.key") && !is_ca_name("amf.key"));
    }
}
