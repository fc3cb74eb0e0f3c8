//! `warden`: the single binary of the Warden security core. Each capability is a subcommand:
//! `auc` (authentication centre), `ota` (SIM over-the-air packets), `serve` (the HSS over Diameter),
//! `sim`/`profile`/`eir` (provisioning from files), `bench` (load generation) and `tls` (a lab
//! certificate for the API).
//!
//! Exit codes: 0 success, 1 the operation failed (for example an AUTS whose MAC-S does not verify, or
//! an import with bad rows), 2 the command line was wrong (missing argument, bad hex, wrong length);
//! errors are one line where they can be.

mod access_cmd;
mod analytics_cmd;
mod analytics_dpi_run;
mod analytics_run;
mod analytics_state;
mod app;
mod auc_cmd;
mod audit_cmd;
mod bench;
mod bootstrap_run;
mod campaigns_run;
mod cli;
mod cluster_cmd;
mod coaps_run;
mod config;
mod detection_record;
mod devices_cmd;
mod devices_metrics;
mod devices_run;
mod dpi_bench;
mod edge_runtime;
mod error;
mod est_cmd;
mod est_run;
mod firewall_replication;
mod firewall_run;
mod firewall_view;
mod gtp_events;
mod gtp_run;
mod hexarg;
mod hss_front;
mod hss_import;
mod ipfix_bench;
mod metrics;
mod network_audit;
mod ota_cmd;
mod ota_keys;
mod ota_run;
mod platform;
mod provision;
mod section_reload;
mod serve;
mod sgd_front;
mod sms_run;
mod storage;
mod storage_migrate;
mod tls_cmd;
mod traffic_run;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use store::device_psk::PskRole;

use clap::Parser;

use cli::{
    AdminCommand, AuditLogCommand, BenchCommand, Command, EirCommand, KeysCommand, ProfileCommand, SimCommand,
    StorageCommand, TenantCommand,
};

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// The command line was wrong (exit 2).
    Usage(String),
    /// The operation itself failed (exit 1).
    Failed(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Failed(s)
    }
}

impl From<error::ServeError> for Failure {
    fn from(e: error::ServeError) -> Self {
        Failure::Failed(e.to_string())
    }
}

impl From<storage::StorageError> for Failure {
    fn from(e: storage::StorageError) -> Self {
        Failure::Failed(e.to_string())
    }
}

impl From<cmp::Error> for Failure {
    fn from(e: cmp::Error) -> Self {
        Failure::Failed(e.to_string())
    }
}

/// The last ten events of a subscriber, newest last, as `kind: detail`.
async fn recent_events(store: &store::Store, imsi: &ids::Imsi) -> Result<Vec<String>, Failure> {
    let events = store.events(imsi).await.map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(events.iter().rev().take(10).rev().map(|(k, d)| format!("{k}: {d}")).collect())
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}", cli::one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Auc(cmd) => auc_cmd::run(cmd).map(|json| json.to_string()),
        Command::Ota(cli::OtaCommand::Keys(_)) => run_async(cli.config.as_deref(), cli.command),
        Command::Ota(cmd) => ota_cmd::run(cmd).map(|json| json.to_string()),
        Command::Audit(cmd) => return network_audit::main(cli.config.as_deref(), cmd),
        Command::Analytics(cmd) => return analytics_cmd::main(cmd),
        Command::Tls(cmd) => tls_cmd::run(cmd),
        Command::Bench(BenchCommand::Dpi(a)) => {
            let spec = dpi_bench::Spec { pcap: a.pcap, bytes: a.bytes, seed: a.seed, seconds: a.seconds };
            dpi_bench::run(&spec)
                .map(|r| if a.json { r.to_json().to_string() } else { r.to_text() })
                .map_err(Failure::Failed)
        }
        other => run_async(cli.config.as_deref(), other),
    };
    match result {
        Ok(out) => {
            if !out.is_empty() {
                // A closed pipe (`| head`) is not an error of ours.
                let _ = writeln!(std::io::stdout(), "{out}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Colour in the logs only when they go to a terminal, and not when `NO_COLOR` is set to a non-empty
/// value (<https://no-color.org>): a file or a pipe gets plain text.
fn log_colour(to_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    to_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn run_async(config_path: Option<&std::path::Path>, command: Command) -> Result<String, Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = log_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
    let config = config::Config::load(config_path).map_err(|e| Failure::Usage(e.to_string()))?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure::Failed(e.to_string()))?;
    runtime.block_on(async move {
        match command {
            Command::Auc(_) => unreachable!("handled synchronously"),
            Command::Ota(cli::OtaCommand::Keys(cli::OtaKeysCommand::Import { file })) => {
                let store = storage::open_store(&config).await?;
                ota_keys::import(&store, &file).await
            }
            Command::Ota(_) => unreachable!("handled synchronously"),
            Command::Audit(_) => unreachable!("handled in main"),
            Command::Analytics(_) => unreachable!("handled in main"),
            Command::Tls(_) => unreachable!("handled synchronously"),
            Command::Bench(BenchCommand::Dpi(_)) => unreachable!("handled synchronously"),
            Command::Est(cmd) => est_cmd::run(&config, cmd).await,
            Command::Serve => serve::run(config).await.map(|_| String::new()).map_err(Failure::from),
            Command::Cluster(cli::ClusterCommand::Status { json }) => cluster_cmd::status(&config, json).await,
            Command::Bench(BenchCommand::S6a(args)) => {
                let report = bench::run(&args, bench::Load::Air).await.map_err(Failure::Failed)?;
                Ok(if args.json { report.to_json().to_string() } else { report.to_text() })
            }
            Command::Bench(BenchCommand::Dns(a)) => {
                let mut spec = dnsfw::load::LoadSpec::new(a.target, a.sources.clone(), a.queries, a.names.clone());
                spec.window = a.window.max(1);
                let r = dnsfw::load::run(&spec).await.map_err(|e| Failure::Failed(e.to_string()))?;
                Ok(if a.json {
                    serde_json::json!({"sent": r.sent, "answered": r.answered, "noerror": r.noerror, "lost": r.lost,
                        "elapsed_ms": r.elapsed.as_millis() as u64, "qps": r.qps,
                        "p50_us": r.p50.as_micros() as u64, "p90_us": r.p90.as_micros() as u64,
                        "p99_us": r.p99.as_micros() as u64, "max_us": r.max.as_micros() as u64})
                    .to_string()
                } else {
                    r.to_string()
                })
            }
            Command::Bench(BenchCommand::Ipfix(a)) => {
                let r = ipfix_bench::run(a.target, a.records, a.rate, a.metrics).await.map_err(Failure::Failed)?;
                Ok(if a.json { r.to_json().to_string() } else { r.to_text() })
            }
            Command::Bench(BenchCommand::Gtp(a)) => {
                let spec = gtpfw::loadgen::LoadSpec {
                    target: a.target,
                    pgw: a.pgw,
                    direct: a.direct,
                    source: a.source,
                    sockets: a.sockets,
                    sessions: a.sessions,
                    rate: a.rate,
                    duration: a.duration,
                };
                let r = gtpfw::loadgen::run(&spec).await.map_err(Failure::Failed)?;
                Ok(if a.json { r.to_json().to_string() } else { r.to_text() })
            }
            Command::Bench(BenchCommand::Gx(args)) => {
                let report = bench::run(&args, bench::Load::CcrInitial).await.map_err(Failure::Failed)?;
                Ok(if args.json { report.to_json().to_string() } else { report.to_text() })
            }
            Command::Sim(cmd) => sim(&config, cmd).await,
            Command::Profile(ProfileCommand::Import { file }) => {
                let store = storage::open_store(&config).await?;
                provision::import_profiles(&store, &file).await
            }
            Command::Eir(EirCommand::Import { file, source }) => {
                let store = storage::open_store(&config).await?;
                provision::import_eir(&store, &file, &source).await
            }
            Command::Eir(EirCommand::HostReport { imei, host }) => {
                let imei: ids::Imei = imei.parse().map_err(|e: ids::IdError| Failure::Usage(e.to_string()))?;
                let store = storage::open_store(&config).await?;
                cmp::catalogue::report_host(&store, &cmp::Actor::cli(), &imei, &host).await?;
                Ok(format!("recorded host of {imei}"))
            }
            Command::Keys(KeysCommand::Reseal { batch }) => {
                let store = storage::open_store(&config).await?;
                let n = store.reseal_all(batch.max(1)).await.map_err(|e| Failure::Failed(e.to_string()))?;
                let out = format!("re-sealed {n} SIMs with KEK {}", config.keys.kek_id);
                let entry = cmp::Actor::cli().audit_entry("*", "keys.reseal", "sims", (), &out);
                store
                    .append_audit(&entry)
                    .await
                    .map_err(|e| Failure::Failed(format!("the SIMs were re-sealed but the audit trail failed: {e}")))?;
                Ok(out)
            }
            Command::Devices(cli::DevicesCommand::Psk(cmd)) => {
                let store = storage::open_store(&config).await?;
                devices_cmd::psk(&store, PskRole::Server, cmd).await
            }
            Command::Devices(cli::DevicesCommand::Bootstrap(cmd)) => {
                let store = storage::open_store(&config).await?;
                devices_cmd::psk(&store, PskRole::Bootstrap, cmd).await
            }
            Command::Storage(StorageCommand::Migrate { from, to }) => storage_migrate::run(&config, &from, &to).await,
            Command::Admin(AdminCommand::Init { name, user }) => access_cmd::admin_init(&config, &name, &user).await,
            Command::Tenant(TenantCommand::Create { name }) => access_cmd::tenant_create(&config, &name).await,
            Command::Token(cmd) => access_cmd::token(&config, cmd).await,
            Command::AuditLog(cmd) => {
                let store = storage::open_store(&config).await?;
                match cmd {
                    AuditLogCommand::Verify => audit_cmd::verify(&store).await,
                    AuditLogCommand::Show { limit } => audit_cmd::show(&store, limit).await,
                }
            }
        }
    })
}

async fn sim(config: &config::Config, cmd: SimCommand) -> Result<String, Failure> {
    let parse_imsi = |s: &str| s.parse::<ids::Imsi>().map_err(|e| Failure::Usage(e.to_string()));
    match cmd {
        SimCommand::Import { file } => {
            let store = storage::open_store(config).await?;
            provision::import_sims(&store, &file).await
        }
        SimCommand::ImportFrom { source, file, profile, tenant, skip_refused, allow_test_keys } => {
            let store = storage::open_store(config).await?;
            let defaults = hss_import::Defaults { profile, tenant, skip_refused, allow_test_keys };
            hss_import::import(&store, source, &file, &defaults).await
        }
        // The command line acts as an operator admin through the same use cases as the API: the
        // lifecycle applies, the change is audited and in the event feed, and the running server
        // sends the CLR/IDR it queued.
        SimCommand::SetStatus { imsi, status } => {
            let imsi = parse_imsi(&imsi)?;
            let status: store::model::SimStatus = status.parse().map_err(Failure::Usage)?;
            let store = storage::open_store(config).await?;
            cmp::sims::change_status(&store, &cmp::NoHss, &cmp::Actor::cli(), &imsi, status).await?;
            Ok(format!("{imsi}: {status}"))
        }
        SimCommand::SetProfile { imsi, profile } => {
            let imsi = parse_imsi(&imsi)?;
            let store = storage::open_store(config).await?;
            if store.profile(&profile).await.map_err(|e| Failure::Failed(e.to_string()))?.is_none() {
                return Err(Failure::Usage(format!("profile {profile:?} does not exist")));
            }
            cmp::sims::change_profile(&store, &cmp::NoHss, &cmp::Actor::cli(), &imsi, &profile).await?;
            Ok(format!("{imsi}: profile {profile}"))
        }
        SimCommand::Show { imsi } => {
            let imsi = parse_imsi(&imsi)?;
            let store = storage::open_store(config).await?;
            let sim = store
                .sim(&imsi)
                .await
                .map_err(|e| Failure::Failed(e.to_string()))?
                .ok_or_else(|| Failure::Failed(format!("IMSI {imsi} not found")))?;
            Ok(serde_json::json!({
                "imsi": sim.imsi.to_string(), "iccid": sim.iccid, "msisdn": sim.msisdn, "eid": sim.eid, "tenant": sim.tenant,
                "status": sim.status.as_str(), "priority": sim.priority.as_str(), "profile": sim.profile,
                "algorithm": sim.algorithm.to_db(), "bound_imeis": sim.bound_imeis,
                "serving_mme": sim.serving.map(|s| s.origin_host),
                "recent_events": recent_events(&store, &imsi).await?,
            })
            .to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_colour;
    use std::ffi::OsStr;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(log_colour(true, None));
        assert!(log_colour(true, Some(OsStr::new(""))), "an empty NO_COLOR does not count");
        assert!(!log_colour(true, Some(OsStr::new("1"))));
        assert!(!log_colour(false, None), "a file or a pipe");
        assert!(!log_colour(false, Some(OsStr::new("1"))));
    }
}
