//! A mixed payload corpus for measuring DPI, generated deterministically from a seed: HTTP
//! requests, JSON telemetry (timestamps, readings), MQTT-like topic/value text and random binary, in
//! payloads of 64–1460 bytes, with personal data in clear in about one payload in fifty (a
//! Luhn-valid card number first, then an IBAN, an e-mail address, an NMEA sentence, a JSON position
//! and a US SSN, in turn). `cargo bench -p analytics --bench dpi` and `warden bench dpi` scan the
//! same corpus, so their numbers compare.

/// The seed of the benchmark corpus.
pub const SEED: u64 = 0x5eed_1234_abcd_0001;
/// The size of the benchmark corpus: 4 MiB of payloads.
pub const BENCH_BYTES: usize = 4 << 20;

/// xorshift64*: a fixed sequence, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The personal data inserted, in turn.
const SECRETS: [&str; 6] = [
    "card=4111 1111 1111 1111",
    "\"iban\":\"DE89370400440532013000\"",
    "contact: jane.doe@example.org",
    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
    "\"lat\":48.85837,\"lon\":2.29448",
    "ssn 123-45-6789",
];

fn payload(rng: &mut Rng, i: usize) -> Vec<u8> {
    let mut p = match i % 4 {
        0 => format!(
            "POST /api/v2/devices/{}/telemetry HTTP/1.1\r\nHost: iot.example.net\r\nUser-Agent: meter-fw/3.{}.{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {:016x}\r\nAccept: */*\r\n\r\n",
            rng.below(1_000_000), rng.below(10), rng.below(100), rng.below(2000), rng.next()
        )
        .into_bytes(),
        1 => {
            let mut s = String::from("{\"device\":\"");
            s += &format!("{:x}", rng.next());
            s += "\",\"readings\":[";
            for k in 0..(4 + rng.below(20)) {
                if k > 0 {
                    s.push(',');
                }
                s += &format!(
                    "{{\"ts\":{},\"temp\":{}.{},\"hum\":{}.{},\"v\":{},\"status\":\"ok\"}}",
                    1_764_000_000_000u64 + rng.below(1_000_000_000),
                    rng.below(40),
                    rng.below(10),
                    rng.below(100),
                    rng.below(100),
                    rng.below(5000)
                );
            }
            s += "],\"fw\":\"2.4.17\",\"seq\":";
            s += &rng.below(100_000_000).to_string();
            s.push('}');
            s.into_bytes()
        }
        2 => {
            let mut s = String::new();
            for _ in 0..(3 + rng.below(12)) {
                s += &format!(
                    "tenant/{}/site-{}/sensor/{}/state {} qos=1 retain=0 t={}\n",
                    rng.below(50),
                    rng.below(300),
                    rng.below(10_000),
                    ["on", "off", "idle", "alarm"][rng.below(4) as usize],
                    rng.below(1_000_000)
                );
            }
            s.into_bytes()
        }
        _ => (0..(64 + rng.below(1396))).map(|_| rng.next() as u8).collect(),
    };
    if i % 50 == 7 {
        let secret = SECRETS[(i / 50) % SECRETS.len()].as_bytes();
        let at = rng.below(p.len() as u64) as usize;
        p.splice(at..at, [b" ", secret, b" "].concat());
    }
    p.truncate(1460);
    p
}

/// Payloads from `seed` until they hold at least `bytes` bytes (one payload at least). The same
/// seed and size give the same corpus on every machine.
pub fn mixed(seed: u64, bytes: usize) -> Vec<Vec<u8>> {
    // xorshift never leaves 0: a zero seed takes the default one.
    let mut rng = Rng(if seed == 0 { SEED } else { seed });
    let mut out = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while total < bytes || out.is_empty() {
        let p = payload(&mut rng, i);
        total += p.len();
        out.push(p);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::{DpiConfig, Scanner};

    #[test]
    fn the_corpus_is_seeded_sized_and_holds_each_kind_in_turn() {
        let a = mixed(SEED, 200_000);
        assert_eq!(a, mixed(SEED, 200_000), "the same seed, the same corpus");
        assert_ne!(a, mixed(SEED + 1, 200_000));
        let bytes: usize = a.iter().map(Vec::len).sum();
        assert!((200_000..200_000 + 1460).contains(&bytes));
        assert!(a.iter().all(|p| !p.is_empty() && p.len() <= 1460));
        assert_eq!(mixed(SEED, 0).len(), 1, "one payload at least");
        assert_eq!(mixed(0, 1000), mixed(SEED, 1000), "a zero seed takes the default");
        let scanner = Scanner::new(DpiConfig::default()).unwrap();
        let kinds: std::collections::BTreeSet<String> =
            a.iter().flat_map(|p| scanner.scan_to_vec(p)).map(|f| f.kind.to_string()).collect();
        for k in ["card", "iban", "email", "gps"] {
            assert!(kinds.contains(k), "{k}: {kinds:?}");
        }
    }
}
