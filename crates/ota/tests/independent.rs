//! The crate against an independent implementation (tests/oracle/ota_reference.py, Python
//! `cryptography` + zlib, written from TS 102 225 / TS 31.115) on random inputs: every cipher
//! (DES, 3DES 2/3 keys, AES-128/192/256), RC, CC and none, ciphered or not, random data lengths.
//! Both directions: our command packets opened by the oracle and built bit-identically by it; the
//! oracle's PoRs accepted by our parser, and ours by it.

/// The SplitMix64 generator of the `auc` oracle tests (only its `Rng` is used here).
#[path = "../../auc/tests/oracle/mod.rs"]
mod auc_oracle;
mod oracle;

use auc_oracle::Rng;

use ota::{
    build_command, build_response, parse_response, CommandHeader, CommandPacket, Counter, KeySet, ResponseStatus, Spi,
};
use serde_json::{json, Value};

/// A number below `n`.
fn below(rng: &mut Rng, n: u64) -> u64 {
    rng.next_u64() % n
}

/// `n` random bytes.
fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    hex::decode(rng.hex(n)).unwrap()
}

/// One random input: key set, SPI, TAR, counter and data, with the JSON the oracle takes.
struct Case {
    keys: KeySet,
    spi: Spi,
    tar: [u8; 3],
    cntr: Counter,
    data: Vec<u8>,
    json: Value,
}

/// A random valid key set and SPI (no DS), TAR, counter and up to `max_len` bytes of data.
fn random_case(rng: &mut Rng, max_len: u64) -> Case {
    let (kic_low, enc_len) = rng.pick(&[(0x1u8, 8usize), (0x5, 16), (0x9, 24), (0x2, 16), (0x2, 24), (0x2, 32)]);
    // One KID serves the command and the PoR: both use its family (RC or CC) or none.
    let family = below(rng, 3) as u8; // none, RC, CC
    let integrity = rng.pick(&[0, family]);
    let por_integrity = rng.pick(&[0, family]);
    let (kid_low, mac_len) = match family {
        1 => (0x5u8, 0usize),
        _ => rng.pick(&[(0x1u8, 8usize), (0x5, 16), (0x9, 24), (0x2, 16), (0x2, 32)]),
    };
    let kic = kic_low | (below(rng, 16) as u8) << 4;
    let kid = kid_low | (below(rng, 16) as u8) << 4;
    let (enc, mac) = (bytes(rng, enc_len), bytes(rng, mac_len));
    let spi1 = integrity | (below(rng, 2) as u8) << 2 | (below(rng, 4) as u8) << 3;
    let spi2 = (below(rng, 3) as u8) | por_integrity << 2 | (below(rng, 2) as u8) << 4 | (below(rng, 2) as u8) << 5;
    let spi = Spi::from_bytes([spi1, spi2]).unwrap();
    let keys = KeySet::new(kic, kid, &enc, &mac).unwrap();
    let tar: [u8; 3] = bytes(rng, 3).try_into().unwrap();
    let cntr = Counter::new(rng.next_u64() & Counter::MAX).unwrap();
    let len = below(rng, max_len) as usize;
    let data = bytes(rng, len);
    let json = json!({
        "spi": hex::encode([spi1, spi2]), "kic": format!("{kic:02x}"), "kid": format!("{kid:02x}"),
        "enc_key": hex::encode(&enc), "mac_key": hex::encode(&mac),
        "tar": hex::encode(tar), "cntr": cntr.to_string(), "data": hex::encode(&data),
    });
    Case { keys, spi, tar, cntr, data, json }
}

fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

#[test]
fn command_packets_agree_with_the_oracle_both_ways() {
    let seed = 0x4f54_415f_0001;
    let mut rng = Rng(seed);
    let cases: Vec<Case> = (0..300).map(|_| random_case(&mut rng, 180)).collect();
    let mut packets = Vec::new();
    let mut requests = Vec::new();
    for c in &cases {
        let packet = build_command(&CommandHeader { spi: c.spi, tar: c.tar, cntr: c.cntr }, &c.keys, &c.data).unwrap();
        requests.push(with(c.json.clone(), json!({"op": "build_command"})));
        requests.push(with(c.json.clone(), json!({"op": "open_command", "packet": hex::encode(&packet)})));
        packets.push(packet);
    }
    let Some(answers) = oracle::ask(&requests) else { return };
    for (i, (c, packet)) in cases.iter().zip(&packets).enumerate() {
        let ctx = format!("seed {seed:#x}, case {i}: {}", c.json);
        assert_eq!(answers[2 * i]["packet"].as_str(), Some(hex::encode(packet).as_str()), "{ctx}");
        let opened = &answers[2 * i + 1];
        assert_eq!(opened["data"].as_str(), Some(hex::encode(&c.data).as_str()), "{ctx}: {opened}");
        assert_eq!(opened["tar"].as_str(), Some(hex::encode(c.tar).as_str()), "{ctx}");
        assert_eq!(opened["cntr"].as_str(), Some(c.cntr.to_string().as_str()), "{ctx}");
        assert_eq!(opened["spi"].as_str(), Some(hex::encode(c.spi.to_bytes()).as_str()), "{ctx}");
        let ours = CommandPacket::parse(packet).unwrap().open(&c.keys).unwrap();
        assert_eq!(u64::from(ours.pcntr), opened["pcntr"].as_u64().unwrap(), "{ctx}");
    }
}

#[test]
fn pors_agree_with_the_oracle_both_ways() {
    let seed = 0x4f54_415f_0002;
    let mut rng = Rng(seed);
    let cases: Vec<(Case, u8)> =
        (0..300).map(|_| (random_case(&mut rng, 60), rng.pick(&[0u8, 0, 0, 1, 2, 3, 8, 9, 0x0B]))).collect();
    let mut ours = Vec::new();
    let mut requests = Vec::new();
    for (c, status) in &cases {
        requests.push(with(c.json.clone(), json!({"op": "build_por", "status": status})));
        let por = build_response(&c.spi, &c.keys, c.tar, c.cntr, ResponseStatus::from_byte(*status), &c.data).unwrap();
        requests.push(with(c.json.clone(), json!({"op": "open_por", "response": hex::encode(&por)})));
        ours.push(por);
    }
    let Some(answers) = oracle::ask(&requests) else { return };
    for (i, ((c, status), ours)) in cases.iter().zip(&ours).enumerate() {
        let ctx = format!("seed {seed:#x}, case {i}: {}", c.json);
        let theirs = hex::decode(answers[2 * i]["response"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(&theirs), hex::encode(ours), "{ctx}");
        let r = parse_response(&theirs, &c.spi, &c.keys).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!((r.tar, r.cntr, r.status.to_byte(), &r.data), (c.tar, c.cntr, *status, &c.data), "{ctx}");
        assert!(r.protected, "{ctx}");
        let opened = &answers[2 * i + 1];
        assert_eq!(opened["data"].as_str(), Some(hex::encode(&c.data).as_str()), "{ctx}: {opened}");
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
