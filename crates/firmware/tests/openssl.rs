//! Images signed with OpenSSL, a signer nobody on the project wrote: the tenant's keys made by
//! `openssl genpkey`/`ecparam`, manifests signed with `openssl pkeyutl -sign -rawin` (Ed25519) and
//! `openssl dgst -sha256 -sign` (ECDSA P-256, DER signatures), key fingerprints compared with
//! `openssl pkey -outform DER | openssl dgst -sha256`. Skipped with a `SKIPPED` line when openssl is
//! missing; with `CI` set that fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use firmware::{verify_image, KeyError, ManifestError, PublicKey, VerifyError};
use sha2::{Digest, Sha256};

fn openssl() -> bool {
    let ok = Command::new("openssl").arg("version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "openssl is not installed but CI is set (Debian package openssl)");
        println!("SKIPPED: openssl not found; the OpenSSL signatures are not checked");
    }
    ok
}

fn run(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A tenant key pair made by OpenSSL: `(private key path, public key PEM)`.
fn keypair(dir: &Path, name: &str, kind: &str) -> (PathBuf, Vec<u8>) {
    let private = format!("{name}.key");
    match kind {
        "ed25519" => run(dir, &["genpkey", "-algorithm", "ed25519", "-out", &private]),
        "p256" => run(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &private]),
        "p384" => run(dir, &["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", &private]),
        "rsa" => run(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &private]),
        _ => unreachable!(),
    };
    let public = run(dir, &["pkey", "-in", &private, "-pubout"]);
    (dir.join(private), public)
}

/// Signs `file` in `dir` with `key` as a tenant would.
fn sign(dir: &Path, key: &Path, kind: &str, file: &str) -> Vec<u8> {
    let key = key.to_str().unwrap();
    match kind {
        "ed25519" => run(dir, &["pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", file]),
        _ => run(dir, &["dgst", "-sha256", "-sign", key, file]),
    }
}

fn manifest(image: &[u8], version: &str) -> Vec<u8> {
    format!(
        "{{\n  \"format\": 1,\n  \"model\": \"acme-meter-3\",\n  \"vendor\": \"Acme\",\n  \"version\": \"{version}\",\n  \"size\": {},\n  \"sha256\": \"{}\"\n}}\n",
        image.len(),
        hex::encode(Sha256::digest(image))
    )
    .into_bytes()
}

fn image() -> Vec<u8> {
    (0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[test]
fn images_signed_by_openssl_verify_and_tampering_is_refused() {
    if !openssl() {
        return;
    }
    for kind in ["ed25519", "p256"] {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = keypair(dir.path(), "tenant", kind);
        let public = PublicKey::parse(&public).unwrap();
        assert_eq!(public.algorithm().name(), kind);
        let der = run(dir.path(), &["pkey", "-in", key.to_str().unwrap(), "-pubout", "-outform", "DER"]);
        assert_eq!(public.fingerprint(), hex::encode(Sha256::digest(&der)), "{kind}: fingerprint");
        assert_eq!(PublicKey::from_der(&der).unwrap(), public);

        let image = image();
        let m = manifest(&image, "2.4.1");
        std::fs::write(dir.path().join("manifest.json"), &m).unwrap();
        let sig = sign(dir.path(), &key, kind, "manifest.json");
        let keys = [public.clone()];

        let ok = verify_image(&image, &m, &sig, &keys).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ok.manifest.version.as_str(), "2.4.1");
        assert_eq!(ok.manifest.model, "acme-meter-3");
        assert_eq!(ok.signed_by, public.fingerprint());

        // One bit of the image changed: the hash gives it away.
        let mut tampered = image.clone();
        tampered[1234] ^= 0x01;
        assert!(matches!(verify_image(&tampered, &m, &sig, &keys), Err(VerifyError::Hash { .. })), "{kind}");
        // Cut short: the size does.
        assert!(matches!(
            verify_image(&image[..image.len() - 1], &m, &sig, &keys),
            Err(VerifyError::Size { expected: 40_000, actual: 39_999 })
        ));
        // The manifest edited after signing (a newer version claimed): the signature fails.
        let edited = manifest(&image, "9.0.0");
        assert_eq!(verify_image(&image, &edited, &sig, &keys), Err(VerifyError::BadSignature(1)));
        // A signature cut short or of another message.
        assert_eq!(verify_image(&image, &m, &sig[..sig.len() - 1], &keys), Err(VerifyError::BadSignature(1)));
        std::fs::write(dir.path().join("other.json"), &edited).unwrap();
        let other = sign(dir.path(), &key, kind, "other.json");
        assert_eq!(verify_image(&image, &m, &other, &keys), Err(VerifyError::BadSignature(1)));
        // A key of someone else: refused; the tenant's key among others: accepted.
        let (_, stranger) = keypair(dir.path(), "stranger", kind);
        let stranger = PublicKey::parse(&stranger).unwrap();
        assert_eq!(verify_image(&image, &m, &sig, std::slice::from_ref(&stranger)), Err(VerifyError::BadSignature(1)));
        assert!(verify_image(&image, &m, &sig, &[stranger, public]).is_ok());
        assert_eq!(verify_image(&image, &m, &sig, &[]), Err(VerifyError::NoKeys));
    }
}

#[test]
fn a_signed_manifest_that_is_malformed_is_still_refused() {
    if !openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "tenant", "ed25519");
    let keys = [PublicKey::parse(&public).unwrap()];
    let image = image();
    let digest = hex::encode(Sha256::digest(&image));
    type Expect = fn(&VerifyError) -> bool;
    let cases: [(String, Expect); 4] = [
        (
            format!(r#"{{"format":1,"model":"m","version":"1.0","size":40000,"sha256":"{digest}","url":"http://x"}}"#),
            |e| matches!(e, VerifyError::Manifest(ManifestError::Json(m)) if m.contains("url")),
        ),
        (format!(r#"{{"format":2,"model":"m","version":"1.0","size":40000,"sha256":"{digest}"}}"#), |e| {
            matches!(e, VerifyError::Manifest(ManifestError::Format(2)))
        }),
        (format!(r#"{{"format":1,"model":"m","version":"one","size":40000,"sha256":"{digest}"}}"#), |e| {
            matches!(e, VerifyError::Manifest(ManifestError::Version(_)))
        }),
        (
            format!(r#"{{"format":1,"model":"m","version":"1.0","size":40000,"sha256":"{}"}}"#, digest.to_uppercase()),
            |e| matches!(e, VerifyError::Manifest(ManifestError::Field { field: "sha256", .. })),
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let name = format!("m{i}.json");
        std::fs::write(dir.path().join(&name), text).unwrap();
        let sig = sign(dir.path(), &key, "ed25519", &name);
        let err = verify_image(&image, text.as_bytes(), &sig, &keys).unwrap_err();
        assert!(expected(&err), "case {i}: {err}");
    }
}

#[test]
fn keys_other_than_ed25519_and_p256_are_refused_by_name() {
    if !openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "rsa", "rsa");
    assert_eq!(PublicKey::parse(&public), Err(KeyError::Algorithm("1.2.840.113549.1.1.1".into())));
    let (_, p384) = keypair(dir.path(), "p384", "p384");
    assert_eq!(PublicKey::parse(&p384), Err(KeyError::Algorithm("EC curve 1.3.132.0.34".into())));
    // The private key given by mistake is named as such, not parsed.
    let private = std::fs::read(&key).unwrap();
    assert_eq!(PublicKey::parse(&private), Err(KeyError::Label("PRIVATE KEY".into())));
    assert!(matches!(PublicKey::parse(b"-----BEGIN PUBLIC KEY-----\nAAA\n"), Err(KeyError::Pem(_))));
    assert!(matches!(PublicKey::parse(b"\x30\x03\x02\x01\x00"), Err(KeyError::Der(_))));
}
