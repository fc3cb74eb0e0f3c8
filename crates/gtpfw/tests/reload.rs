//! `Gtp::reload`: what changes live and what is kept until a restart.

use firewall::rules::Mode;
use gtpfw::{Gtp, GtpConfig, Rule};

fn config(listen: &str, upstream: &str, rate: u32, extra: &str) -> GtpConfig {
    GtpConfig::from_toml(&format!(
        "listen = \"{listen}\"\nupstream = \"{upstream}\"\nworkers = 2\n\
         [home]\nimsi_prefixes = [\"00101\"]\n\
         [[partners]]\nname = \"alpha\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\nsetup_rate_per_sec = {rate}\n\
         {extra}"
    ))
    .unwrap()
}

/// Partners, rule modes, `[gtp.overload]` and `[gtp.offenders]` change; `listen`, `upstream`,
/// `workers` keep the value in force, each refusal named with its reason; a configuration that does
/// not compile changes nothing (and does not count as a reload).
#[test]
fn reload_changes_rules_and_keeps_what_is_bound_at_start() {
    let gtp = Gtp::new(config("127.0.0.1:2123", "127.0.0.1:2124", 10, "")).unwrap();
    assert_eq!(gtp.generation(), 0);
    let new = config(
        "127.0.0.1:3123",
        "127.0.0.1:3124",
        500,
        "[rules]\nserving-network = \"detect\"\n[overload]\ncapacity_per_sec = 77\n\
         [offenders]\naction = \"bar-data\"\n",
    );
    let mut new = new;
    new.workers = 4;
    let kept = gtp.reload(new).unwrap();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept[0].starts_with("gtp.listen = 127.0.0.1:3123 refused: it cannot change while running"), "{kept:?}");
    assert!(kept[0].ends_with("127.0.0.1:2123 kept until the next restart"), "{kept:?}");
    assert!(kept[1].starts_with("gtp.upstream = 127.0.0.1:3124 refused"), "{kept:?}");
    assert!(kept[2].starts_with("gtp.workers = 4 refused"), "{kept:?}");
    let c = gtp.config();
    assert_eq!((c.listen.port(), c.upstream.port(), c.workers), (2123, 2124, 2));
    assert_eq!(c.offenders.action, "bar-data");
    let rules = gtp.engine().rules();
    assert_eq!(rules.mode(Rule::ServingNetwork), Mode::Detect);
    assert_eq!(rules.partners[0].setup_rate, 500.0);
    assert_eq!(rules.capacity, 77.0);
    assert_eq!(gtp.generation(), 1);
    // Does not compile: refused whole.
    let mut bad = config("127.0.0.1:2123", "127.0.0.1:2124", 10, "[rules]\nserving-network = \"sometimes\"\n");
    bad.partners[0].setup_rate_per_sec = 1.0;
    let err = gtp.reload(bad).unwrap_err();
    assert_eq!(err.to_string(), "gtp.rules.serving-network: \"sometimes\": use enforce, detect or off");
    assert_eq!(gtp.engine().rules().mode(Rule::ServingNetwork), Mode::Detect);
    assert_eq!(gtp.engine().rules().partners[0].setup_rate, 500.0);
    assert_eq!(gtp.generation(), 1);
}
