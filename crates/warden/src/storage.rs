//! Opening the subscriber store the configuration names: the keyring from `[keys]` (with nothing
//! configured and the embedded SQLite default, a random KEK is created once in
//! `<data_dir>/kek.hex`, mode 0600), then the database at `[storage] url`. Used by `serve` and by
//! every command that reads or writes the store.

use std::path::{Path, PathBuf};

use store::seal::{Kek, Keyring, SealError};
use store::Store;

use crate::config::Config;

/// Why the store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A KEK file could not be read.
    #[error("KEK file {}: {source}", path.display())]
    KekFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A KEK file does not hold a key.
    #[error("KEK file {}: {source}", path.display())]
    KekValue {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SealError,
    },
    /// `keys.kek_env` names a variable that is not set.
    #[error("keys.kek_env: environment variable {0} is not set")]
    KekEnvMissing(String),
    /// The variable `keys.kek_env` names does not hold a key (its value is never shown).
    #[error("{var}: {source}")]
    KekEnvValue {
        /// The variable.
        var: String,
        /// Why.
        source: SealError,
    },
    /// External storage without a configured KEK.
    #[error("a key-encryption key is required with external storage: set keys.kek_file or keys.kek_env")]
    KekRequired,
    /// The data directory or the generated KEK file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The OS random generator failed while making a KEK.
    #[error("making a key-encryption key: {0}")]
    Random(auc::AucError),
    /// The database could not be opened or migrated.
    #[error("storage {url}: {source}")]
    Open {
        /// The storage URL.
        url: String,
        /// Why.
        source: store::StoreError,
    },
}

fn read_kek(id: u32, path: &Path) -> Result<Kek, StorageError> {
    let text = std::fs::read_to_string(path).map_err(|source| StorageError::KekFile { path: path.into(), source })?;
    Kek::from_hex(id, &text).map_err(|source| StorageError::KekValue { path: path.into(), source })
}

/// The keyring from the configuration. With nothing configured and the embedded SQLite default, a
/// random KEK is created once in `<data_dir>/kek.hex` (mode 0600); any other storage requires a KEK.
pub fn keyring(config: &Config) -> Result<Keyring, StorageError> {
    let k = &config.keys;
    let current = if let Some(path) = &k.kek_file {
        read_kek(k.kek_id, path)?
    } else if let Some(var) = &k.kek_env {
        let text = std::env::var(var).map_err(|_| StorageError::KekEnvMissing(var.clone()))?;
        Kek::from_hex(k.kek_id, &text).map_err(|source| StorageError::KekEnvValue { var: var.clone(), source })?
    } else if config.storage.url.is_none() {
        let path = config.data_dir.join("kek.hex");
        if !path.exists() {
            private_dir(&config.data_dir)
                .map_err(|source| StorageError::Write { path: config.data_dir.clone(), source })?;
            let mut raw = [0u8; 32];
            auc::fill_random(&mut raw).map_err(StorageError::Random)?;
            write_secret_file(&path, &hex::encode(raw))?;
            tracing::warn!(path = %path.display(), "created a key-encryption key for the embedded database; keep it apart from the database in production (keys.kek_file)");
        }
        read_kek(k.kek_id, &path)?
    } else {
        return Err(StorageError::KekRequired);
    };
    let older = k.previous.iter().map(|p| read_kek(p.id, &p.file)).collect::<Result<_, _>>()?;
    Ok(Keyring::new(current, older))
}

/// Creates `dir` and its missing parents with mode 0700 (only the service user may list the data).
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn write_secret_file(path: &Path, text: &str) -> Result<(), StorageError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(path).and_then(|mut f| f.write_all(text.as_bytes()));
    written.map_err(|source| StorageError::Write { path: path.into(), source })
}

/// The KEK file, when it lies in the same directory as the SQLite database (the embedded default
/// writes `<data_dir>/kek.hex` beside `warden.db`): whoever copies that directory, a backup for
/// instance, has the sealed subscriber keys and the key that opens them. `None` when the KEK comes
/// from the environment, lives elsewhere, or the database is not a local file.
pub fn kek_beside_database(config: &Config) -> Option<PathBuf> {
    let keys = &config.keys;
    let kek = match (&keys.kek_file, &keys.kek_env) {
        (Some(file), _) => file.clone(),
        (None, Some(_)) => return None,
        (None, None) if config.storage.url.is_none() => config.data_dir.join("kek.hex"),
        (None, None) => return None,
    };
    let url = config.storage_url();
    let db = Path::new(url.strip_prefix("sqlite://")?);
    let dir = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf())
    };
    (dir(&kek) == dir(db)).then_some(kek)
}

/// Opens the store the configuration names.
pub async fn open_store(config: &Config) -> Result<Store, StorageError> {
    let keys = keyring(config)?;
    let url = config.storage_url();
    Store::open(&url, keys).await.map_err(|source| StorageError::Open { url, source })
}
