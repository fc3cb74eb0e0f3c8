//! OTA job requests as the API takes them ([`JobRequest`]), checked whole before anything is written,
//! and turned into jobs in the caller's scope: a tenant targets only its own SIMs (a SIM of another
//! tenant is reported exactly like one that does not exist), steering is the operator's.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use store::access::Scope;
use store::ota::{NewOtaItem, OtaJobRow};

use crate::engine::{rank, Engine, EngineError};
use crate::payload::{FileWrite, ItemPayload};

/// Most SIMs one update-file request may name.
pub const MAX_SIMS: usize = 100_000;

/// A job request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobRequest {
    /// Write `data` at `offset` of the transparent file at `path` on each SIM (RFM UPDATE BINARY).
    UpdateFile {
        /// The SIMs.
        imsis: Vec<String>,
        /// The file's path from the MF (`3F00/7FFF/6F61`).
        path: String,
        /// Offset in the file.
        #[serde(default)]
        offset: u16,
        /// The bytes, hex.
        data: String,
    },
    /// Mark networks risky for steering (and clear marks): the SIMs whose preferred lists change get
    /// them rewritten. Operator only.
    Steering {
        /// Networks to mark risky (`"26201"`).
        #[serde(default)]
        mark: Vec<String>,
        /// Manual marks to clear.
        #[serde(default)]
        clear: Vec<String>,
        /// How long the marks last (seconds); absent: until cleared.
        #[serde(default)]
        for_secs: Option<u64>,
    },
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request is malformed; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A SIM named is not visible to the caller or has no OTA key set.
    #[error("IMSI {0} is not an OTA-capable SIM of yours")]
    UnknownSim(String),
    /// Only the operator may do this.
    #[error("steering is the operator's: a tenant may not request it")]
    Forbidden,
    /// The engine or store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<store::StoreError> for RequestError {
    fn from(e: store::StoreError) -> Self {
        RequestError::Engine(e.into())
    }
}

fn plmns(field: &str, list: &[String]) -> Result<Vec<ids::Plmn>, RequestError> {
    list.iter()
        .map(|p| p.parse::<ids::Plmn>().map_err(|e| RequestError::Invalid(format!("{field}: {p:?}: {e}"))))
        .collect()
}

impl Engine {
    /// Checks a request and creates its job in `scope` (steering: `None` when no SIM's list changes).
    pub async fn submit(
        &self,
        scope: &Scope,
        created_by: &str,
        request: &JobRequest,
    ) -> Result<Option<OtaJobRow>, RequestError> {
        match request {
            JobRequest::UpdateFile { imsis, path, offset, data } => {
                if imsis.is_empty() || imsis.len() > MAX_SIMS {
                    return Err(RequestError::Invalid(format!("imsis: 1 to {MAX_SIMS} SIMs, got {}", imsis.len())));
                }
                let unique: BTreeSet<&String> = imsis.iter().collect();
                if unique.len() != imsis.len() {
                    return Err(RequestError::Invalid("imsis: an IMSI is named twice".into()));
                }
                let payload =
                    ItemPayload { writes: vec![FileWrite { path: path.clone(), offset: *offset, data: data.clone() }] };
                payload.apdus().map_err(|e| RequestError::Invalid(format!("path/offset/data: {e}")))?;
                let targets: HashMap<String, store::model::Priority> =
                    self.store().ota_targets(scope).await?.into_iter().map(|t| (t.imsi, t.priority)).collect();
                let json = serde_json::to_string(&payload).expect("payload serialises");
                let items = imsis
                    .iter()
                    .map(|i| match targets.get(i) {
                        Some(p) => Ok(NewOtaItem { imsi: i.clone(), rank: rank(*p), payload: json.clone() }),
                        None => Err(RequestError::UnknownSim(i.clone())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let spec = serde_json::json!({"path": path, "offset": offset, "bytes": data.len() / 2}).to_string();
                let mut tx = self.store().begin().await?;
                let job = tx.create_ota_job(scope.key(), "update_file", &spec, created_by, &items).await?;
                tx.commit().await?;
                self.wake();
                Ok(Some(job))
            }
            JobRequest::Steering { mark, clear, for_secs } => {
                if *scope != Scope::Operator {
                    return Err(RequestError::Forbidden);
                }
                let (mark, clear) = (plmns("mark", mark)?, plmns("clear", clear)?);
                if mark.is_empty() && clear.is_empty() {
                    return Err(RequestError::Invalid("mark/clear: name at least one network".into()));
                }
                let d = for_secs.map(std::time::Duration::from_secs);
                Ok(self.mark_risky(&mark, &clear, d, created_by).await?)
            }
        }
    }
}
