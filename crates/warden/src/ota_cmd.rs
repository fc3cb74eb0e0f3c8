//! `warden ota encode|decode|por`: TS 102 225 secured packets for SMS-PP from the command line, for
//! conformance checks. Parameters that cannot work (sizes, algorithms, key lengths) exit 2 naming the
//! argument; received data that fails a check (CC/RC, padding, counter, structure) exits 1. Keys are
//! never printed.

use ota::sms::{deliver_tpdus, user_data_segments, Address, Scts};
use ota::{
    build_command, build_script, parse_response, parse_script, Apdu, CommandHeader, CommandPacket, Counter, KeySet,
    OtaError, RemoteResponse, ScriptFormat, Spi,
};
use serde_json::{json, Value};

use crate::cli::{OtaCommand, OtaDecodeArgs, OtaEncodeArgs, OtaKeyArgs, OtaPorArgs};
use crate::Failure;

/// Exit 2 for impossible parameters (naming the flag), 1 for failed checks of received data.
fn failure(e: OtaError) -> Failure {
    if e.is_parameter_error() {
        let msg = e.to_string();
        let flag = e.field().to_string();
        Failure::Usage(match msg.strip_prefix(&format!("{flag}: ")) {
            Some(rest) => format!("--{flag}: {rest}"),
            None => msg,
        })
    } else {
        Failure::Failed(e.to_string())
    }
}

fn usage(flag: &str, msg: impl core::fmt::Display) -> Failure {
    Failure::Usage(format!("--{flag}: {msg}"))
}

fn fixed<const N: usize>(flag: &str, b: &[u8]) -> Result<[u8; N], Failure> {
    let unit = if N == 1 { "byte" } else { "bytes" };
    b.try_into().map_err(|_| usage(flag, format!("must be {N} {unit}, got {} bytes", b.len())))
}

fn key_set(k: &OtaKeyArgs) -> Result<KeySet, Failure> {
    let [kic] = fixed::<1>("kic", &k.kic)?;
    let [kid] = fixed::<1>("kid", &k.kid)?;
    KeySet::new(kic, kid, k.enc_key.as_deref().unwrap_or_default(), k.mac_key.as_deref().unwrap_or_default())
        .map_err(failure)
}

fn format_of(s: &str) -> ScriptFormat {
    if s == "expanded" {
        ScriptFormat::Expanded
    } else {
        ScriptFormat::Compact
    }
}

/// Runs one `warden ota` subcommand and returns the JSON to print.
pub fn run(cmd: OtaCommand) -> Result<Value, Failure> {
    match cmd {
        OtaCommand::Encode(a) => encode(a),
        OtaCommand::Decode(a) => decode(a),
        OtaCommand::Por(a) => por(a),
        OtaCommand::Keys(_) => unreachable!("needs the store: handled in main"),
    }
}

/// A list of hex strings, or the one string when there is one (single SMS, as the interface).
fn one_or_many(items: &[Vec<u8>]) -> Value {
    match items {
        [one] => Value::String(hex::encode(one)),
        _ => Value::Array(items.iter().map(|i| Value::String(hex::encode(i))).collect()),
    }
}

fn encode(a: OtaEncodeArgs) -> Result<Value, Failure> {
    let spi = Spi::from_slice(&a.spi).map_err(failure)?;
    let keys = key_set(&a.keys)?;
    let tar = fixed::<3>("tar", &a.tar)?;
    let cntr = Counter::from_bytes(fixed::<5>("cntr", &a.cntr)?);
    let apdus = a
        .apdu
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Apdu::parse(b)
                .map_err(|e| usage("apdu", format!("#{}: {}", i + 1, e.to_string().trim_start_matches("apdu: "))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let originator = Address::parse(&a.originator).map_err(failure)?;
    let scts = match &a.scts {
        Some(b) => Scts::from_slice(b).map_err(failure)?,
        None => now_scts()?,
    };
    let data = build_script(format_of(&a.format), &apdus);
    let packet = build_command(&CommandHeader { spi, tar, cntr }, &keys, &data).map_err(failure)?;
    let reference = a.concat_ref.unwrap_or(cntr.to_bytes()[4]);
    let segments = user_data_segments(&packet, reference).map_err(failure)?;
    let tpdus = deliver_tpdus(&originator, &scts, &packet, reference).map_err(failure)?;
    Ok(json!({
        "command_packet": hex::encode(&packet),
        "user_data": one_or_many(&segments),
        "tpdu": one_or_many(&tpdus),
    }))
}

/// The current UTC time as an SCTS.
fn now_scts() -> Result<Scts, Failure> {
    let t = time::OffsetDateTime::now_utc();
    Scts::from_utc(t.year().clamp(0, 9999) as u16, t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
        .map_err(|e| Failure::Failed(e.to_string()))
}

fn decode(a: OtaDecodeArgs) -> Result<Value, Failure> {
    let keys = key_set(&a.keys)?;
    let packet = CommandPacket::parse(&a.packet).map_err(failure)?;
    let opened = packet.open(&keys).map_err(failure)?;
    let (format, apdus) = parse_script(&opened.data).map_err(failure)?;
    Ok(json!({
        "spi": hex::encode(opened.spi.to_bytes()),
        "kic": hex::encode([opened.kic]),
        "kid": hex::encode([opened.kid]),
        "tar": hex::encode(opened.tar),
        "cntr": opened.cntr.to_string(),
        "pcntr": opened.pcntr,
        "format": if format == ScriptFormat::Expanded { "expanded" } else { "compact" },
        "apdus": apdus.iter().map(|x| hex::encode(x.to_bytes())).collect::<Vec<_>>(),
    }))
}

fn por(a: OtaPorArgs) -> Result<Value, Failure> {
    let spi = Spi::from_slice(&a.spi).map_err(failure)?;
    let keys = key_set(&a.keys)?;
    let tar = fixed::<3>("tar", &a.tar)?;
    let cntr = a.cntr.as_deref().map(|c| fixed::<5>("cntr", c).map(Counter::from_bytes)).transpose()?;
    let r = parse_response(&a.response, &spi, &keys).map_err(failure)?;
    if let Some(c) = cntr {
        r.answers(tar, c).map_err(|e| Failure::Failed(format!("cntr: {e}")))?;
    } else if r.tar != tar {
        return Err(Failure::Failed(format!(
            "tar: the PoR comes from {}, not {}",
            hex::encode(r.tar),
            hex::encode(tar)
        )));
    }
    let mut out = json!({
        "status": r.status.name(),
        "tar": hex::encode(r.tar),
        "cntr": r.cntr.to_string(),
        "pcntr": r.pcntr,
        "protected": r.protected,
    });
    if r.status == ota::ResponseStatus::PorOk && !r.data.is_empty() {
        let remote = RemoteResponse::parse(&r.data, format_of(&a.format)).map_err(failure)?;
        let (commands, sw, data) = remote.summary();
        out["commands"] = commands.into();
        out["sw"] = sw.map_or(Value::Null, |s| Value::String(hex::encode(s)));
        out["data"] = hex::encode(data).into();
    } else {
        out["commands"] = 0.into();
        out["sw"] = Value::Null;
        out["data"] = hex::encode(&r.data).into();
    }
    Ok(out)
}
