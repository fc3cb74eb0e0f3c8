//! The endpoints, one module per resource, and what they share: pagination and parsing helpers.
//! Handlers only translate: every change is a `cmp` use case made by the caller's `Actor`, which
//! also writes the audit entry in the same transaction.

pub mod access;
pub mod analytics;
pub mod approvals;
pub mod campaigns;
pub mod catalogue;
pub mod certificates;
pub mod devices;
pub mod events;
pub mod fdl;
pub mod firewall;
pub mod firmware;
pub mod jobs;
pub mod mfa;
pub mod oidc;
pub mod ota;
pub mod passkey;
pub mod policy;
pub mod rules;
pub mod sessions;
pub mod sims;
pub mod stats;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::{ApiError, ApiResult};

/// `Idempotency-Key` (makes a retried POST safe: the same key answers what the first request got).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey(
    /// Makes a retried POST safe
    #[param(pattern = "^[!-~]{1,255}$")]
    Option<String>,
);

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// Cursor pagination: pass the `next_cursor` of one page as `cursor` to get the next.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit.unwrap_or(DEFAULT_LIMIT) {
            n @ 1..=MAX_LIMIT => Ok(i64::from(n)),
            n => Err(ApiError::bad_request(format!("limit must be 1..=1000, got {n}"))),
        }
    }

    /// The cursor as text (empty cursor = first page).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }

    /// The cursor as a number (event and audit ids).
    pub fn numeric_cursor(&self) -> ApiResult<i64> {
        match self.cursor() {
            None => Ok(0),
            Some(c) => {
                c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| ApiError::bad_request("malformed cursor"))
            }
        }
    }
}

/// Cursor pagination over numbered records (events, audit): the cursor is a record id.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IdPageQuery {
    /// Cursor (a record id) from the previous page.
    #[param(pattern = "^[0-9]{0,18}$")]
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl IdPageQuery {
    /// As a [`PageQuery`].
    pub fn page(&self) -> PageQuery {
        PageQuery { cursor: self.cursor.clone(), limit: self.limit }
    }
}

/// Normalises a JSON body the way JSON Schema reads it: integral floats (`7.0`) become integers and
/// `null` members are dropped (absent and null optional fields mean the same).
pub fn integral_floats(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(o) = v {
        o.retain(|_, x| !x.is_null());
    }
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15) {
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(integral_floats),
        serde_json::Value::Object(o) => o.values_mut().for_each(integral_floats),
        _ => {}
    }
}

/// The next cursor: the key of the last item when the page is full.
pub fn next_cursor<T>(items: &[T], limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 == limit {
        items.last().map(key)
    } else {
        None
    }
}

/// For optional request fields that may be absent but not `null` (their schema is not nullable).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Parses an IMSI path or body value into a 4xx on error.
pub fn imsi(text: &str) -> ApiResult<ids::Imsi> {
    text.parse().map_err(|e: ids::IdError| ApiError::bad_request(format!("imsi: {e}")))
}
