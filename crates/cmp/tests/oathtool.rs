//! `cmp::totp` against an implementation nobody here wrote: the OATH Toolkit's `oathtool` (Debian
//! package `oathtool`). Random secrets, the three hashes, 6 and 8 digits, several times. Prints
//! `SKIPPED: …` when `oathtool` is missing, unless `CI` is set (`.ci/run` installs it), then it fails.

use std::process::Command;

use cmp::totp::{self, Algorithm, Params};

fn oathtool() -> Option<&'static str> {
    let found = Command::new("oathtool").arg("--version").output().is_ok_and(|o| o.status.success());
    match found {
        true => Some("oathtool"),
        false if std::env::var_os("CI").is_some() => {
            panic!("oathtool is not installed but CI is set: .ci/run must install the Debian package oathtool")
        }
        false => {
            eprintln!("SKIPPED: oathtool is not installed (Debian package oathtool)");
            None
        }
    }
}

#[test]
fn codes_match_oathtool() {
    let Some(tool) = oathtool() else { return };
    let mut checked = 0;
    for (i, (alg, name, len)) in
        [(Algorithm::Sha1, "sha1", 20), (Algorithm::Sha256, "sha256", 32), (Algorithm::Sha512, "sha512", 64)]
            .into_iter()
            .enumerate()
    {
        let mut secret = vec![0u8; len];
        auc::fill_random(&mut secret).unwrap();
        let b32 = totp::base32_encode(&secret);
        for digits in [6u32, 8] {
            let params = Params::new(alg, digits).unwrap();
            for t in [59i64, 1_111_111_109, 1_700_000_000 + i as i64 * 7, store::now()] {
                let out = Command::new(tool)
                    .args([&format!("--totp={name}"), "-b", "-s", "30", "-d", &digits.to_string()])
                    .args(["-N", &format!("@{t}"), &b32])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "oathtool failed: {}", String::from_utf8_lossy(&out.stderr));
                let theirs = String::from_utf8(out.stdout).unwrap().trim().to_string();
                assert_eq!(totp::totp(params, &secret, t), theirs, "{name}, {digits} digits, t={t}, secret {b32}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 24);
}
