//! `warden tls self-signed`: a self-signed certificate for the API's HTTPS listener in a lab — an
//! ECDSA P-256 key and a certificate valid [`VALID_DAYS`] days for the given DNS names and IP
//! addresses, written as `cert.pem` and `key.pem` (mode 0600) into a directory without ever
//! replacing a file, and the `[http.tls]` lines that use them. Production certificates come from the
//! operator's CA.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::TlsCommand;
use crate::Failure;

/// How long the certificate is valid.
pub const VALID_DAYS: u64 = 90;

/// Runs a `warden tls` command; the output is what to paste into the configuration.
pub fn run(cmd: TlsCommand) -> Result<String, Failure> {
    match cmd {
        TlsCommand::SelfSigned { names, ips, out } => self_signed(&names, &ips, &out),
    }
}

/// Why `name` cannot be a DNS name of the certificate (letters, digits, '-' in dot-separated labels
/// of at most 63 characters, 253 in all; a leading `*.` wildcard is allowed).
fn check_dns_name(name: &str) -> Result<(), String> {
    let labels = name.strip_prefix("*.").unwrap_or(name);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.len() <= 253 && labels.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("--name {name:?} is not a DNS name (letters, digits and '-' in dot-separated labels)"))
    }
}

fn self_signed(names: &[String], ips: &[std::net::IpAddr], dir: &Path) -> Result<String, Failure> {
    for name in names {
        check_dns_name(name).map_err(Failure::Usage)?;
    }
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    for path in [&cert_path, &key_path] {
        if path.exists() {
            return Err(Failure::Failed(format!("{} exists; not overwriting it", path.display())));
        }
    }
    let failed = |what: &str, e: rcgen::Error| Failure::Failed(format!("{what}: {e}"));
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| failed("certificate names", e))?;
    params.subject_alt_names.extend(ips.iter().map(|ip| rcgen::SanType::IpAddress(*ip)));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0].as_str());
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_after = params.not_before + Duration::from_secs(VALID_DAYS * 86_400);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| failed("key", e))?;
    let cert = params.self_signed(&key).map_err(|e| failed("certificate", e))?;

    std::fs::create_dir_all(dir).map_err(|e| Failure::Failed(format!("{}: {e}", dir.display())))?;
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    let (cert_file, key_file) = (toml_path(&cert_path)?, toml_path(&key_path)?);
    Ok(format!(
        "# Self-signed for a lab only (expires {}); clients must be told to trust {}.\n\
         [http.tls]\ncert_file = {cert_file}\nkey_file = {key_file}",
        params.not_after.date(),
        cert_path.display(),
    ))
}

/// Writes `bytes` to a file that must not exist yet, created with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::Failed(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(fail)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(fail)
}

/// `path` made absolute, as a TOML string.
fn toml_path(path: &Path) -> Result<String, Failure> {
    let absolute: PathBuf =
        std::path::absolute(path).map_err(|e| Failure::Failed(format!("{}: {e}", path.display())))?;
    let text = absolute
        .to_str()
        .ok_or_else(|| Failure::Failed(format!("{} is not UTF-8; write [http.tls] by hand", absolute.display())))?;
    Ok(toml::Value::String(text.to_string()).to_string())
}

#[cfg(test)]
mod tests {
    use super::check_dns_name;

    #[test]
    fn dns_names_are_checked() {
        for good in ["localhost", "api.example.net", "*.lab.example", "a-1.b2"] {
            assert!(check_dns_name(good).is_ok(), "{good}");
        }
        for bad in ["", "bad name", "-x.example", "x..example", "x.example/", "ünï.example", "a.*.example"] {
            assert!(check_dns_name(bad).is_err(), "{bad}");
        }
    }
}
