//! Whatever a tenant uploads, verification answers with an error or a verified image, never a panic.

use firmware::{verify_image, Manifest, PublicKey, Version};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_keys_manifests_and_versions_never_panic(
        key in proptest::collection::vec(any::<u8>(), 0..200),
        manifest in proptest::collection::vec(any::<u8>(), 0..300),
        sig in proptest::collection::vec(any::<u8>(), 0..80),
        version in "\\PC{0,20}",
    ) {
        let _ = PublicKey::parse(&key);
        let _ = PublicKey::from_der(&key);
        let _ = Manifest::parse(&manifest);
        let _ = Version::parse(&version);
        // Ed25519 key of RFC 8032 test 1 (public key only), as SPKI DER.
        let spki = [
            &[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00][..],
            &hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap(),
        ].concat();
        let k = PublicKey::from_der(&spki).unwrap();
        prop_assert!(verify_image(&manifest, &manifest, &sig, &[k]).is_err());
    }
}

/// RFC 8032 §7.1 TEST 2: a one-byte message signed by a known key verifies, and a changed byte does not.
#[test]
fn rfc8032_test_2_verifies() {
    let spki = [
        &[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00][..],
        &hex::decode("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c").unwrap(),
    ]
    .concat();
    let key = PublicKey::from_der(&spki).unwrap();
    let sig = hex::decode(concat!(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ))
    .unwrap();
    assert!(key.verifies(&[0x72], &sig));
    assert!(!key.verifies(&[0x73], &sig));
}
