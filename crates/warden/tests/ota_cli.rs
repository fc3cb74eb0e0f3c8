//! `warden ota encode|decode|por` driven as scripts drive it: pySim's published vectors through the
//! CLI, the JSON keys of the interface, concatenation, and exit codes with one-line errors
//! naming the argument (2 for impossible parameters, 1 for failed checks). Keys never appear.

use std::process::{Command, Output};

use serde_json::Value;

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().expect("run warden")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "warden failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Exit code and the one-line error.
fn fails(out: &Output) -> (i32, String) {
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(out.stdout.is_empty());
    (out.status.code().unwrap(), err)
}

const KIC: &str = "300102030405060708090a0b0c0d0e0f";
const KID: &str = "301102030405060708090a0b0c0d0e0f";
const AES_KIC: &str = "200102030405060708090a0b0c0d0e0f";
const AES_KID: &str = "201102030405060708090a0b0c0d0e0f";

fn encode(spi: &str, kic: &str, enc: &str, mac: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "ota",
        "encode",
        "--spi",
        spi,
        "--kic",
        kic,
        "--kid",
        kic,
        "--tar",
        "b00011",
        "--cntr",
        "0000000000",
        "--enc-key",
        enc,
        "--mac-key",
        mac,
        "--scts",
        "22705200000000",
    ];
    args.extend_from_slice(extra);
    warden(&args)
}

#[test]
fn encode_reproduces_pysim_vectors() {
    for (spi, kic, enc, mac, packet) in [
        ("0619", "35", KIC, KID, "00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f"),
        ("0609", "35", KIC, KID, "00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc"),
        (
            "0619",
            "22",
            AES_KIC,
            AES_KID,
            "00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058",
        ),
    ] {
        let out = json(&encode(spi, kic, enc, mac, &["--apdu", "00a40004023f00"]));
        let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["command_packet", "user_data", "tpdu"]);
        assert_eq!(out["command_packet"], packet);
        assert_eq!(out["user_data"], format!("027000{packet}"));
        let udl = format!("{:02x}", 3 + packet.len() / 2);
        assert_eq!(out["tpdu"], format!("440881214365877ff622705200000000{udl}027000{packet}"));
        let text = serde_json::to_string(&out).unwrap();
        assert!(!text.contains(&enc[..16]) && !text.contains(&mac[..16]));
    }
}

#[test]
fn decode_opens_what_encode_built_in_both_formats() {
    for format in ["compact", "expanded"] {
        let out = json(&encode(
            "1619",
            "22",
            AES_KIC,
            AES_KID,
            &["--apdu", "00a40004023f00", "--apdu", "00b0000010", "--format", format],
        ));
        let packet = out["command_packet"].as_str().unwrap();
        let d = json(&warden(&[
            "ota",
            "decode",
            "--kic",
            "22",
            "--kid",
            "22",
            "--enc-key",
            AES_KIC,
            "--mac-key",
            AES_KID,
            "--packet",
            packet,
        ]));
        assert_eq!(d["spi"], "1619");
        assert_eq!(d["tar"], "b00011");
        assert_eq!(d["cntr"], "0000000000");
        assert_eq!(d["format"], format);
        assert_eq!(d["apdus"], serde_json::json!(["00a40004023f00", "00b0000010"]));
        assert!(d["pcntr"].as_u64().unwrap() < 16);
    }
}

#[test]
fn long_commands_are_concatenated() {
    let big = format!("00d6000080{}", "11".repeat(128));
    let out = json(&encode("0619", "22", AES_KIC, AES_KID, &["--apdu", &big, "--apdu", &big, "--concat-ref", "9"]));
    let tpdus = out["tpdu"].as_array().expect("several TPDUs");
    let uds = out["user_data"].as_array().unwrap();
    assert_eq!(tpdus.len(), 3);
    assert!(uds[0].as_str().unwrap().starts_with("070003090301700"));
    assert!(uds[2].as_str().unwrap().starts_with("050003090303"));
    assert!(uds.iter().all(|u| u.as_str().unwrap().len() <= 280));
}

/// `warden ota por` with the SJA5 3DES key set, TAR b00011, and `extra` arguments.
fn por(spi: &str, extra: &[&str], response: &str) -> Output {
    let mut args = vec!["ota", "por", "--spi", spi, "--kic", "35", "--kid", "35", "--tar", "b00011"];
    args.extend_from_slice(&["--enc-key", KIC, "--mac-key", KID, "--response", response]);
    args.extend_from_slice(extra);
    warden(&args)
}

/// `warden ota decode` with the 3DES KIc/KID bytes and the given keys.
fn decode(enc: &str, mac: &str, packet: &str) -> Output {
    warden(&["ota", "decode", "--kic", "35", "--kid", "35", "--enc-key", enc, "--mac-key", mac, "--packet", packet])
}

#[test]
fn por_reports_status_commands_sw_and_data() {
    let ok = json(&por("0619", &[], "027100001c12b000118bb989492c632529326a2f4681feb37c825bc9021c9f6d0b"));
    assert_eq!(ok["status"], "por_ok");
    assert_eq!(ok["cntr"], "0000000000");
    assert_eq!(ok["commands"], 1);
    assert_eq!(ok["sw"], "6132");
    assert_eq!(ok["data"], "");
    let plain = json(&warden(&[
        "ota",
        "por",
        "--spi",
        "0601",
        "--kic",
        "35",
        "--kid",
        "35",
        "--tar",
        "b00011",
        "--response",
        "027100000e0ab0001100000000000000016132",
    ]));
    assert_eq!(plain["sw"], "6132");
    // A counter check: the PoR answers counter 0, not 1.
    let wrong = por("0601", &["--cntr", "0000000001"], "027100000e0ab0001100000000000000016132");
    let (code, err) = fails(&wrong);
    assert_eq!(code, 1);
    assert!(err.contains("cntr") && err.contains("does not answer"), "{err}");
}

#[test]
fn failed_checks_exit_1() {
    let (code, err) = fails(&por("0609", &[], "027100001612b0001100000000000000b5bcd6353a421fae026132"));
    assert_eq!(code, 1);
    assert!(err.contains("CC check failed"), "{err}");
    let packet = "00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f";
    assert_eq!(fails(&decode(KIC, KIC, packet)).0, 1);
    let (code, err) = fails(&decode(KIC, KID, &packet[..40]));
    assert_eq!(code, 1);
    assert!(err.contains("CPL"), "{err}");
}

#[test]
fn impossible_parameters_exit_2_naming_the_argument() {
    let apdu = ["--apdu", "00a40004023f00"];
    for (args, want) in [
        (encode("0619", "35", "3001zz", KID, &apdu), "--enc-key"),
        (
            encode("0619", "35", &KIC[..16], KID, &apdu),
            "--enc-key: 3DES with 2 keys takes a key of 16 bytes, got 8 bytes",
        ),
        (
            encode("0619", "22", AES_KIC, &AES_KID[..20], &apdu),
            "--mac-key: AES takes a key of 16, 24 or 32 bytes, got 10 bytes",
        ),
        (encode("0619", "26", AES_KIC, AES_KID, &apdu), "--kic: 0x26: reserved AES mode"),
        (encode("0619", "23", AES_KIC, AES_KID, &apdu), "--kic: 0x23: proprietary algorithm"),
        (encode("0619", "3535", AES_KIC, AES_KID, &apdu), "--kic: must be 1 byte, got 2 bytes"),
        (encode("0719", "35", KIC, KID, &apdu), "--spi: digital signature (DS) is not supported"),
        (encode("06", "35", KIC, KID, &apdu), "--spi: must be 2 bytes"),
        (encode("0619", "35", KIC, KID, &["--apdu", "00a40004023f"]), "--apdu: #1: Lc 2 but 1 bytes follow it"),
        (encode("0619", "35", KIC, KID, &[]), "--apdu"),
    ] {
        let (code, err) = fails(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert!(!err.contains(&KID[4..]) && !err.contains(&AES_KID[4..]), "key bytes in {err}");
    }
}

#[test]
fn without_scts_the_time_stamp_is_now() {
    let out = json(&warden(&[
        "ota",
        "encode",
        "--spi",
        "0000",
        "--kic",
        "00",
        "--kid",
        "00",
        "--tar",
        "b00011",
        "--cntr",
        "0000000001",
        "--apdu",
        "00a40004023f00",
    ]));
    let tpdu = hex::decode(out["tpdu"].as_str().unwrap()).unwrap();
    let scts = &tpdu[9..16]; // after MTI, OA (08 81 + 4 octets), PID and DCS
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let year = 1970 + secs / 31_556_952; // within a day of the new year this may be one off
    let semi = |v: u64| (((v % 10) << 4) | (v / 10)) as u8;
    assert!([semi(year % 100), semi((year - 1) % 100), semi((year + 1) % 100)].contains(&scts[0]), "{scts:02x?}");
    let month = (scts[1] & 0xF) * 10 + (scts[1] >> 4);
    assert!((1..=12).contains(&month), "month {scts:02x?}");
    assert_eq!(scts[6], 0, "zone");
}
