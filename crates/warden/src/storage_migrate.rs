//! `warden storage migrate --from sqlite://PATH --to postgres://…`: moving from the embedded SQLite
//! store to PostgreSQL. The URLs and both schema versions are checked before anything is opened for
//! writing (a database written by a newer Warden is refused by version); both stores are then opened
//! with the configured keyring and [`store::copy::sqlite_to_postgres`] copies everything in one
//! checked transaction, with a progress bar on a terminal and one line per table otherwise. Prints
//! a summary: rows per table, SIMs whose keys opened, audit entries verified.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use store::copy::{CopyReport, Progress};
use store::{Backend, Store};

use crate::config::Config;
use crate::network_audit::redact;
use crate::{storage, Failure};

/// Runs the command.
pub async fn run(config: &Config, from: &str, to: &str) -> Result<String, Failure> {
    let Some(path) = from.strip_prefix("sqlite://") else {
        return Err(Failure::Usage(format!("--from must be sqlite://PATH, not {}", redact(from))));
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(Failure::Usage(format!("--to must be postgres://…, not {}", redact(to))));
    }
    if !Path::new(path).is_file() {
        return Err(Failure::Failed(format!("source {path}: no such file")));
    }
    let shown_to = redact(to);
    check_version(from, path, Backend::Sqlite).await?;
    check_version(to, &shown_to, Backend::Postgres).await?;

    let source = open(config, from, &format!("source {path}")).await?;
    let target = open(config, to, &format!("target {shown_to}")).await?;

    let bar = progress_bar();
    let report = store::copy::sqlite_to_postgres(&source, &target, &|p| show(&bar, p)).await;
    bar.finish_and_clear();
    let report = report.map_err(|e| Failure::Failed(format!("nothing was copied: {e}")))?;
    Ok(summary(&report, &shown_to, config.keys.kek_id))
}

/// Opens (and migrates) the store at `url` with the configured keyring.
async fn open(config: &Config, url: &str, shown: &str) -> Result<Store, Failure> {
    let keys = storage::keyring(config)?;
    Store::open(url, keys).await.map_err(|e| Failure::Failed(format!("{shown}: {e}")))
}

/// Refuses a database whose schema is newer than this binary's migrations (or, for the source, one
/// without a Warden schema at all).
async fn check_version(url: &str, shown: &str, backend: Backend) -> Result<(), Failure> {
    let known = store::schema::latest_version(backend);
    match store::schema::version_at(url).await.map_err(|e| Failure::Failed(format!("{shown}: {e}")))? {
        Some(v) if v > known => Err(Failure::Failed(format!(
            "{shown}: its schema is at version {v}, newer than this Warden knows ({known}): migrate with the \
             Warden release that wrote it"
        ))),
        None if backend == Backend::Sqlite => {
            Err(Failure::Failed(format!("{shown} holds no Warden store (it has no _sqlx_migrations table)")))
        }
        _ => Ok(()),
    }
}

fn progress_bar() -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg:20} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Shows one step: on the bar when there is one, else as a line on standard error.
fn show(bar: &ProgressBar, p: Progress<'_>) {
    match p {
        Progress::Counted(n) => bar.set_length(n),
        Progress::Table(name) if bar.is_hidden() => eprintln!("copying {name}"),
        Progress::Table(name) => bar.set_message(name.to_string()),
        Progress::Copied(n) => bar.inc(n),
        Progress::Verifying if bar.is_hidden() => eprintln!("verifying"),
        Progress::Verifying => bar.set_message("verifying"),
    }
}

/// The rows per table and what was checked; `kek_id` is the id of the KEK that sealed the keys, which the
/// new configuration must keep.
fn summary(report: &CopyReport, target: &str, kek_id: u32) -> String {
    let width = report.tables.iter().map(|(t, _)| t.len()).max().unwrap_or(0).max("table".len());
    let mut out = format!("{:<width$}  {:>10}\n", "table", "rows");
    for (table, rows) in &report.tables {
        out.push_str(&format!("{table:<width$}  {rows:>10}\n"));
    }
    let total: u64 = report.tables.iter().map(|(_, n)| n).sum();
    out.push_str(&format!("{:<width$}  {total:>10}\n\n", "total"));
    out.push_str(&format!(
        "copied into {target} in one transaction; SIM keys opened with the configured keyring: {} (sample); \
         audit trail verified: {} entries.\nNext: set [storage] url to it, keep this KEK in [keys] (kek_file or \
         kek_env, with kek_id = {kek_id}) and start warden serve (docs/operations.md).",
        report.sims_opened, report.audit_entries
    ));
    out
}
