//! What a use case of the platform answers when it does not happen. Each variant names the kind of
//! refusal, so the REST API, the CLI and the portal can map it to their own vocabulary (HTTP status,
//! exit code) without reading the text.

use crate::lifecycle::TransitionError;

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing of that name is visible to the actor.
    #[error("{0}")]
    NotFound(String),
    /// The actor's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request itself is invalid (a bad name, a value out of range).
    #[error("{0}")]
    Invalid(String),
    /// The lifecycle or the protection of critical SIMs refuses the change.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The state of the resource does not allow it (terminated SIM, job already finished, …).
    #[error("{0}")]
    Refused(String),
    /// The resource changed at the same moment; read it again and retry.
    #[error("{0} changed concurrently; retry")]
    Conflict(String),
    /// The action needs a second factor proved within the last five minutes ([`crate::stepup`]).
    #[error("{0}")]
    StepUpRequired(String),
    /// The credentials are wrong (one message for every reason).
    #[error("{0}")]
    Unauthorized(String),
    /// Too many attempts: retry after this many seconds.
    #[error("{reason}")]
    TooMany {
        /// Why.
        reason: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The service is saturated (password hashing is full): retry shortly.
    #[error(transparent)]
    Busy(#[from] crate::hashing::Busy),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Something that should not fail did (hashing a password); the cause is for the log.
    #[error("internal: {0}")]
    Internal(String),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, Error>;
