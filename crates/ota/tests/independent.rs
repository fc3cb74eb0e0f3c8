//! The crate against an independent implementation (tests/oracle/ota_reference.py, Python
//! `cryptography` + zlib, written from TS 102 225 / TS 31.115) on random inputs: every cipher
//! (DES, 3DES 2/3 keys, AES-128/192/256), RC, CC and none, ciphered or not, random data lengths.
//! Both directions: our command packets opened by the oracle and built bit-identically by it; the
//! oracle's PoRs accepted by our parser, and ours by it.

mod oracle;

use ota::{
    build_command, build_response, parse_response, CommandHeader, CommandPacket, Counter, KeySet, ResponseStatus, Spi,
};
use serde_json::{json, Value};

/// A random valid key set and SPI (no DS), with the JSON the oracle takes.
fn random_case(rng: &mut oracle::Rng) -> (KeySet, Spi, Value) {
    let (kic_low, enc_len) = rng.pick(&[(0x1u8, 8usize), (0x5, 16), (0x9, 24), (0x2, 16), (0x2, 24), (0x2, 32)]);
    // One KID serves the command and the PoR: both use its family (RC or CC) or none.
    let family = rng.below(3) as u8; // none, RC, CC
    let integrity = rng.pick(&[0, family]);
    let por_integrity = rng.pick(&[0, family]);
    let (kid_low, mac_len) = match family {
        1 => (0x5u8, 0usize),
        _ => rng.pick(&[(0x1u8, 8usize), (0x5, 16), (0x9, 24), (0x2, 16), (0x2, 32)]),
    };
    let kic = kic_low | (rng.below(16) as u8) << 4;
    let kid = kid_low | (rng.below(16) as u8) << 4;
    let (enc, mac) = (rng.bytes(enc_len), rng.bytes(mac_len));
    let spi1 = integrity | (rng.below(2) as u8) << 2 | (rng.below(4) as u8) << 3;
    let spi2 = (rng.below(3) as u8) | por_integrity << 2 | (rng.below(2) as u8) << 4 | (rng.below(2) as u8) << 5;
    let spi = Spi::from_bytes([spi1, spi2]).unwrap();
    let keys = KeySet::new(kic, kid, &enc, &mac).unwrap();
    let j = json!({
        "spi": hex::encode([spi1, spi2]), "kic": format!("{kic:02x}"), "kid": format!("{kid:02x}"),
        "enc_key": hex::encode(&enc), "mac_key": hex::encode(&mac),
    });
    (keys, spi, j)
}

fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

#[test]
fn command_packets_agree_with_the_oracle_both_ways() {
    let seed = 0x4f54_415f_0001;
    let mut rng = oracle::Rng(seed);
    let mut cases = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..300 {
        let (keys, spi, j) = random_case(&mut rng);
        let tar: [u8; 3] = rng.bytes(3).try_into().unwrap();
        let cntr = Counter::new(rng.next_u64() & Counter::MAX).unwrap();
        let len = rng.below(180) as usize;
        let data = rng.bytes(len);
        let packet = build_command(&CommandHeader { spi, tar, cntr }, &keys, &data).unwrap();
        let fields = json!({"tar": hex::encode(tar), "cntr": cntr.to_string(), "data": hex::encode(&data)});
        requests.push(with(with(j.clone(), fields.clone()), json!({"op": "build_command"})));
        requests.push(with(j.clone(), json!({"op": "open_command", "packet": hex::encode(&packet)})));
        cases.push((keys, spi, tar, cntr, data, packet, j));
    }
    let Some(answers) = oracle::ask(&requests) else { return };
    for (i, (keys, spi, tar, cntr, data, packet, j)) in cases.iter().enumerate() {
        let ctx = format!("seed {seed:#x}, case {i}: {j}");
        let theirs = &answers[2 * i];
        assert_eq!(theirs["packet"].as_str(), Some(hex::encode(packet).as_str()), "{ctx}");
        let opened = &answers[2 * i + 1];
        assert_eq!(opened["data"].as_str(), Some(hex::encode(data).as_str()), "{ctx}: {opened}");
        assert_eq!(opened["tar"].as_str(), Some(hex::encode(tar).as_str()), "{ctx}");
        assert_eq!(opened["cntr"].as_str(), Some(cntr.to_string().as_str()), "{ctx}");
        assert_eq!(opened["spi"].as_str(), Some(hex::encode(spi.to_bytes()).as_str()), "{ctx}");
        let ours = CommandPacket::parse(packet).unwrap().open(keys).unwrap();
        assert_eq!(u64::from(ours.pcntr), opened["pcntr"].as_u64().unwrap(), "{ctx}");
    }
}

#[test]
fn pors_agree_with_the_oracle_both_ways() {
    let seed = 0x4f54_415f_0002;
    let mut rng = oracle::Rng(seed);
    let mut cases = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..300 {
        let (keys, spi, j) = random_case(&mut rng);
        let tar: [u8; 3] = rng.bytes(3).try_into().unwrap();
        let cntr = Counter::new(rng.next_u64() & Counter::MAX).unwrap();
        let status = rng.pick(&[0u8, 0, 0, 1, 2, 3, 8, 9, 0x0B]);
        let len = rng.below(60) as usize;
        let data = rng.bytes(len);
        let fields =
            json!({"tar": hex::encode(tar), "cntr": cntr.to_string(), "status": status, "data": hex::encode(&data)});
        requests.push(with(with(j.clone(), fields), json!({"op": "build_por"})));
        let ours = build_response(&spi, &keys, tar, cntr, ResponseStatus::from_byte(status), &data).unwrap();
        requests.push(with(j.clone(), json!({"op": "open_por", "response": hex::encode(&ours)})));
        cases.push((keys, spi, tar, cntr, status, data, ours, j));
    }
    let Some(answers) = oracle::ask(&requests) else { return };
    for (i, (keys, spi, tar, cntr, status, data, ours, j)) in cases.iter().enumerate() {
        let ctx = format!("seed {seed:#x}, case {i}: {j}");
        let theirs = hex::decode(answers[2 * i]["response"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(&theirs), hex::encode(ours), "{ctx}");
        let r = parse_response(&theirs, spi, keys).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!((r.tar, r.cntr, r.status.to_byte(), &r.data), (*tar, *cntr, *status, data), "{ctx}");
        assert!(r.protected, "{ctx}");
        let opened = &answers[2 * i + 1];
        assert_eq!(opened["data"].as_str(), Some(hex::encode(data).as_str()), "{ctx}: {opened}");
        assert_eq!(opened["status"].as_u64(), Some(u64::from(*status)), "{ctx}");
    }
}

/// The oracle must reproduce pySim's published vectors before its answers count.
#[test]
fn oracle_reproduces_pysim_vectors() {
    if !oracle::available() {
        return;
    }
    let out = std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(oracle::script())
        .arg("--self-test")
        .arg(oracle::vectors())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "oracle self-test failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("24 passed, 0 failed"), "{text}");
}
