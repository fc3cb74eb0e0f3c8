//! Firmware signing keys and images through the API (DM-2), with keys and signatures made by
//! OpenSSL (a signer nobody on the project wrote): a verified image is stored and listed in its
//! tenant only; a tampered image, a stranger's signature or a tenant without keys is refused with
//! 422 and nothing is stored; adding a key needs a fresh second factor from a person; every change
//! is audited. Skipped with a `SKIPPED` line when openssl is missing; with `CI` set that fails.

mod common;

use common::{keypair, openssl, signed, totp_code, upload, Api};
use serde_json::json;
use sha2::{Digest, Sha256};

const STEP_UP: &str = "urn:warden:problem:step-up-required";

#[tokio::test]
async fn verified_images_are_stored_in_their_tenant_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = keypair(dir.path(), "acme") else { return };
    let (stranger_key, _) = keypair(dir.path(), "stranger").unwrap();
    let api = Api::new().await;
    let (admin, op, viewer) = api.tenant("acme").await;
    let (other_admin, other_op, _) = api.tenant("other").await;

    // Keys: a viewer may not add one; the admin may, once.
    let body = json!({"public_key": public, "label": "release 2026"});
    assert_eq!(api.call("POST", "/api/v1/firmware/keys", &viewer, Some(body.clone())).await.status, 403);
    let r = api.call("POST", "/api/v1/firmware/keys", &admin, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let fingerprint = r.json()["fingerprint"].as_str().unwrap().to_string();
    let der = openssl(dir.path(), &["pkey", "-in", &key, "-pubout", "-outform", "DER"]).unwrap();
    assert_eq!(fingerprint, hex::encode(Sha256::digest(&der)), "fingerprint as OpenSSL's DER hashes");
    assert_eq!(r.json()["algorithm"], "ed25519");
    assert_eq!(api.call("POST", "/api/v1/firmware/keys", &admin, Some(body)).await.status, 409);
    let bad = json!({"public_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "label": "x"});
    let r = api.call("POST", "/api/v1/firmware/keys", &admin, Some(bad)).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("PUBLIC KEY"), "{}", r.text);

    // A verified image is stored and listed in acme only.
    let image: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (m, sig) = signed(dir.path(), &key, &image, "1.2.0");
    let r = api.call("POST", "/api/v1/firmware", &op, Some(upload(&m, &sig, &image))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let stored = r.json();
    assert_eq!((stored["model"].as_str(), stored["version"].as_str()), (Some("acme-meter-3"), Some("1.2.0")));
    assert_eq!(stored["signed_by"].as_str(), Some(fingerprint.as_str()));
    let id = stored["id"].as_str().unwrap().to_string();
    let r = api.call("GET", &format!("/api/v1/firmware/{id}"), &viewer, None).await;
    assert_eq!((r.status.as_u16(), r.json()["sha256"].clone()), (200, json!(hex::encode(Sha256::digest(&image)))));
    assert_eq!(api.call("GET", &format!("/api/v1/firmware/{id}"), &other_op, None).await.status, 404);
    assert_eq!(api.call("GET", "/api/v1/firmware", &other_op, None).await.json()["items"], json!([]));

    // Refused, each naming its check, and nothing stored.
    let mut tampered = image.clone();
    tampered[100] ^= 0x80;
    let refusals = [
        (upload(&m, &sig, &tampered), "SHA-256"),
        (upload(&m, &signed(dir.path(), &stranger_key, &image, "1.3.0").1, &image), "signature"),
        (json!({"manifest": "!!", "signature": "", "image": ""}), "manifest: not base64"),
    ];
    for (body, expected) in refusals {
        let r = api.call("POST", "/api/v1/firmware", &op, Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains(expected), "{expected}: {}", r.text);
    }
    // The same version again is a conflict; another tenant (no keys) cannot use acme's signature.
    assert_eq!(api.call("POST", "/api/v1/firmware", &op, Some(upload(&m, &sig, &image))).await.status, 409);
    let r = api.call("POST", "/api/v1/firmware", &other_op, Some(upload(&m, &sig, &image))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("no firmware signing key"), "{}", r.text);
    assert_eq!(api.call("GET", "/api/v1/firmware", &op, None).await.json()["items"].as_array().unwrap().len(), 1);

    // Another tenant cannot remove acme's key; once acme removes it, new uploads are refused.
    let path = format!("/api/v1/firmware/keys/{fingerprint}");
    assert_eq!(api.call("DELETE", &path, &other_admin, None).await.status, 404);
    assert_eq!(api.call("DELETE", &path, &admin, None).await.status, 204);
    let (m2, sig2) = signed(dir.path(), &key, &image, "1.4.0");
    let r = api.call("POST", "/api/v1/firmware", &op, Some(upload(&m2, &sig2, &image))).await;
    assert_eq!(r.status, 422, "{}", r.text);

    let audit = api.call("GET", "/api/v1/audit", &api.operator.clone(), None).await.json();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["firmware.key.add", "firmware.upload", "firmware.key.remove"] {
        assert_eq!(actions.iter().filter(|x| **x == a).count(), 1, "{a}: {actions:?}");
    }
}

#[tokio::test]
async fn adding_a_signing_key_needs_a_fresh_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, public)) = keypair(dir.path(), "acme") else { return };
    let api = Api::with_settings(api::Settings { login_per_minute: 1000.0, ..Default::default() }).await;
    let (admin, _, _) = api.tenant("acme").await;
    let (secret, alice) = api.stale_tenant_admin(&admin, "acme", "alice").await;
    let body = json!({"public_key": public, "label": "k"});
    let r = api.call("POST", "/api/v1/firmware/keys", &alice, Some(body.clone())).await;
    assert_eq!((r.status.as_u16(), r.json()["type"].as_str()), (403, Some(STEP_UP)), "{}", r.text);
    assert_eq!(api.call("GET", "/api/v1/firmware/keys", &admin, None).await.json()["items"], json!([]));
    let step = json!({"method": "totp", "code": totp_code(&secret, 30)});
    assert_eq!(api.call("POST", "/api/v1/me/step-up", &alice, Some(step)).await.status, 200);
    let r = api.call("POST", "/api/v1/firmware/keys", &alice, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}
