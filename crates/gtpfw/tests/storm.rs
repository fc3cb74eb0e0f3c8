//! A data-roaming storm, engine-level with a simulated clock (deterministic): one partner offers
//! ten times the P-GW's capacity in Create Session Requests for 10 s. The P-GW never sees more than
//! its capacity in any second (sliding), uses at least 90 % of it, critical devices get ≥ 99.9 %
//! success, and the same holds when the storm is made of low-priority devices only. Partners that
//! support overload control get Overload Control Information.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use firewall::Now;
use gtpc::v2::values::cause;
use gtpc::v2::{IeType, Message};
use gtpc::Plmn;
mod common;
use common::{csr, csresp};
use gtpfw::{Engine, GtpConfig, RegistrationLookup, Rules, Verdict};

const CAPACITY: usize = 1000;

struct Everyone;
impl RegistrationLookup for Everyone {
    fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
        Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

const PARTNER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 2123);

struct Outcome {
    relayed: usize,
    max_per_second: usize,
    critical_offered: usize,
    critical_relayed: usize,
    oci_seen: Option<u8>,
}

/// Offers 10 × capacity for 10 s; every `critical_every`-th request is of a critical device
/// (0: none), the others low-priority when `low`, else standard. The P-GW answers at once.
fn storm(critical_every: u32, low: bool) -> Outcome {
    let config = format!(
        r#"
[home]
imsi_prefixes = ["00101"]
[[partners]]
overload_control = true
setup_rate_per_sec = 1000000
max_tunnels = 10000000
name = "storm"
plmns = ["26201"]
addresses = ["127.0.0.2"]
[overload]
capacity_per_sec = {CAPACITY}
[priority]
critical = ["001019"]
low = ["001015"]
"#
    );
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&GtpConfig::from_toml(&config).unwrap()).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Everyone));
    let step = Duration::from_secs(1) / (10 * CAPACITY as u32);
    let mut window: VecDeque<Duration> = VecDeque::new();
    let mut out = Outcome { relayed: 0, max_per_second: 0, critical_offered: 0, critical_relayed: 0, oci_seen: None };
    for i in 0..(100 * CAPACITY as u32) {
        let at = step * i;
        let now = Now { instant: t0 + at, wall: SystemTime::now() };
        let critical = critical_every > 0 && i % critical_every == 0;
        let class = if critical {
            '9'
        } else if low {
            '5'
        } else {
            '0'
        };
        let imsi = format!("00101{class}{i:09}");
        out.critical_offered += usize::from(critical);
        match e.uplink(PARTNER, &csr(&imsi, ("262", "01"), i, i), now).verdict {
            Verdict::Relay(None) => {
                out.relayed += 1;
                out.critical_relayed += usize::from(critical);
                window.push_back(at);
                while window.front().is_some_and(|&f| at - f >= Duration::from_secs(1)) {
                    window.pop_front();
                }
                out.max_per_second = out.max_per_second.max(window.len());
                // The P-GW accepts; the response toward an overload-control partner gains the OCI.
                if let Verdict::Relay(Some(changed)) = e.downlink(PARTNER, &csresp(i, i, i), now).verdict {
                    let m = Message::decode(&changed).unwrap();
                    let oc = m.find(IeType::OVERLOAD_CONTROL_INFORMATION, 0).unwrap().as_overload_control().unwrap();
                    out.oci_seen = Some(oc.reduction_metric);
                }
            }
            Verdict::Answer(a) => {
                let m = Message::decode(&a).unwrap();
                assert_eq!(m.cause().unwrap().unwrap().value, cause::APN_CONGESTION);
                assert!(m.find(IeType::EPC_TIMER, 0).is_some(), "PGW Back-Off Time");
            }
            other => panic!("a storm request was dropped or changed: {other:?}"),
        }
    }
    out
}

#[test]
fn a_storm_of_ten_times_capacity_keeps_the_pgw_at_capacity_and_serves_critical_devices() {
    // 2 % of the offered load (20 % of the capacity) are critical devices.
    let o = storm(50, false);
    assert!(o.max_per_second <= CAPACITY, "P-GW saw {} in a second", o.max_per_second);
    assert!(o.relayed >= 9 * CAPACITY, "capacity used: {} of {}", o.relayed, 10 * CAPACITY);
    let success = o.critical_relayed as f64 / o.critical_offered as f64;
    assert!(success >= 0.999, "critical success {success}");
    // Overload Control Information reached the partner, asking to shed about 90 %.
    let metric = o.oci_seen.expect("OCI added");
    assert!((85..=95).contains(&metric), "reduction {metric}");
}

#[test]
fn a_storm_of_low_priority_devices_alone_still_uses_the_capacity() {
    let o = storm(0, true);
    assert!(o.max_per_second <= CAPACITY, "P-GW saw {} in a second", o.max_per_second);
    assert!(o.relayed >= 9 * CAPACITY, "capacity used: {} of {}", o.relayed, 10 * CAPACITY);
}
