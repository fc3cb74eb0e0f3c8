//! Requests waiting for a second person (SUB-4, SEC-8): terminating a critical SIM or lifting its
//! protection is asked by one person and carried out only when another approves. Every read and
//! decision carries the caller's [`Scope`]; a decision is a conditional update of a pending,
//! unexpired request, so two approvers (or an approver and a rejecter, on two instances) cannot both
//! decide it.

use sqlx::Row;

use crate::access::{random_hex, Scope};
use crate::db::Store;
use crate::error::{Result, StoreError};
use crate::tx::Tx;

const COLUMNS: &str = "id, tenant, action, imsi, reason, requested_by, requester_key, requested_factor, \
                       requested_at, expires_at, status, decided_by, decided_factor, decided_at, decision_note";

/// A request for a second person's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Random id (hex).
    pub id: String,
    /// The SIM's tenant.
    pub tenant: String,
    /// What is asked: `sim.terminate` or `sim.lift_protection`.
    pub action: String,
    /// The SIM.
    pub imsi: String,
    /// Why, in the requester's words.
    pub reason: String,
    /// The requester as the audit trail names it.
    pub requested_by: String,
    /// Who may not approve: the requester's user id, else its audit name.
    pub requester_key: String,
    /// The second factor the requester proved (step-up), when a person asked.
    pub requested_factor: Option<String>,
    /// Unix seconds.
    pub requested_at: i64,
    /// Unix seconds after which a pending request can no longer be decided.
    pub expires_at: i64,
    /// `pending`, `approved`, `rejected` (an expired pending request reads as `expired`).
    pub status: String,
    /// The approver or rejecter as the audit trail names it.
    pub decided_by: Option<String>,
    /// The factor the decider proved.
    pub decided_factor: Option<String>,
    /// Unix seconds of the decision.
    pub decided_at: Option<i64>,
    /// The decider's note (a rejection's reason).
    pub decision_note: Option<String>,
}

/// A new request.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    /// The SIM's tenant.
    pub tenant: &'a str,
    /// `sim.terminate` or `sim.lift_protection`.
    pub action: &'a str,
    /// The SIM.
    pub imsi: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The requester's audit name.
    pub requested_by: &'a str,
    /// Who may not approve.
    pub requester_key: &'a str,
    /// The requester's fresh factor.
    pub requested_factor: Option<&'a str>,
    /// Unix seconds.
    pub at: i64,
    /// Seconds the request stays open.
    pub ttl: i64,
}

/// A decision on a request.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// `approved` or `rejected`.
    pub status: &'a str,
    /// The decider's audit name.
    pub decided_by: &'a str,
    /// The decider's fresh factor.
    pub decided_factor: Option<&'a str>,
    /// A note.
    pub note: &'a str,
    /// Unix seconds.
    pub at: i64,
}

fn from_row(r: &sqlx::any::AnyRow, at: i64) -> Result<Approval> {
    let status: String = r.try_get("status")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    Ok(Approval {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        action: r.try_get("action")?,
        imsi: r.try_get("imsi")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        requester_key: r.try_get("requester_key")?,
        requested_factor: r.try_get("requested_factor")?,
        requested_at: r.try_get("requested_at")?,
        expires_at,
        status: if status == "pending" && expires_at <= at { "expired".into() } else { status },
        decided_by: r.try_get("decided_by")?,
        decided_factor: r.try_get("decided_factor")?,
        decided_at: r.try_get("decided_at")?,
        decision_note: r.try_get("decision_note")?,
    })
}

impl Tx {
    /// Records a new pending request; a pending, unexpired one for the same SIM and action is a
    /// conflict. An expired pending one is closed as `expired` first.
    pub async fn insert_approval(&mut self, new: &NewApproval<'_>) -> Result<Approval> {
        sqlx::query(
            "UPDATE approvals SET status = 'expired' WHERE imsi = $1 AND action = $2 AND status = 'pending' \
             AND expires_at <= $3",
        )
        .bind(new.imsi)
        .bind(new.action)
        .bind(new.at)
        .execute(self.conn())
        .await?;
        let id = random_hex(16)?;
        let inserted = sqlx::query(
            "INSERT INTO approvals (id, tenant, action, imsi, reason, requested_by, requester_key, \
             requested_factor, requested_at, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending') ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(new.tenant)
        .bind(new.action)
        .bind(new.imsi)
        .bind(new.reason)
        .bind(new.requested_by)
        .bind(new.requester_key)
        .bind(new.requested_factor)
        .bind(new.at)
        .bind(new.at + new.ttl)
        .execute(self.conn())
        .await?;
        if inserted.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "a request to {} SIM {} is already waiting for approval",
                new.action, new.imsi
            )));
        }
        Ok(Approval {
            id,
            tenant: new.tenant.into(),
            action: new.action.into(),
            imsi: new.imsi.into(),
            reason: new.reason.into(),
            requested_by: new.requested_by.into(),
            requester_key: new.requester_key.into(),
            requested_factor: new.requested_factor.map(Into::into),
            requested_at: new.at,
            expires_at: new.at + new.ttl,
            status: "pending".into(),
            decided_by: None,
            decided_factor: None,
            decided_at: None,
            decision_note: None,
        })
    }

    /// Decides the pending, unexpired request `id` visible in `scope`; false when it is not (any
    /// more) pending — someone else decided it first, or it expired.
    pub async fn decide_approval(&mut self, scope: &Scope, id: &str, d: &Decision<'_>) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE approvals SET status = $1, decided_by = $2, decided_factor = $3, decided_at = $4, \
             decision_note = $5 WHERE id = $6 AND ($7 = '*' OR tenant = $7) AND status = 'pending' \
             AND expires_at > $4",
        )
        .bind(d.status)
        .bind(d.decided_by)
        .bind(d.decided_factor)
        .bind(d.at)
        .bind(d.note)
        .bind(id)
        .bind(scope.key())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Store {
    /// The request `id` if it is visible in `scope`, as of `at`.
    pub async fn approval_in(&self, scope: &Scope, id: &str, at: i64) -> Result<Option<Approval>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1 AND ($2 = '*' OR tenant = $2)"))
            .bind(id)
            .bind(scope.key())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| from_row(&r, at)).transpose()
    }

    /// Requests visible in `scope`, newest first, after the cursor (a `requested_at:id` key), at most
    /// `limit`. `status` filters (`pending` means pending and open; `expired` also pending requests past
    /// their time).
    pub async fn list_approvals(
        &self,
        scope: &Scope,
        status: Option<&str>,
        cursor: Option<(i64, &str)>,
        limit: i64,
        at: i64,
    ) -> Result<Vec<Approval>> {
        // 0: any; 1: pending and open; -1: expired (closed as such, or pending past its time); 2: `stored`.
        let (stored, mode) = match status {
            None => ("", 0),
            Some("pending") => ("", 1),
            Some("expired") => ("", -1),
            Some(other) => (other, 2),
        };
        let (c_at, c_id) = cursor.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE ($1 = '*' OR tenant = $1) AND ($3 = 0 \
             OR ($3 = 1 AND status = 'pending' AND expires_at > $4) \
             OR ($3 = -1 AND (status = 'expired' OR (status = 'pending' AND expires_at <= $4))) \
             OR ($3 = 2 AND status = $2)) \
             AND (requested_at < $5 OR (requested_at = $5 AND ($6 = '' OR id < $6))) \
             ORDER BY requested_at DESC, id DESC LIMIT $7"
        ))
        .bind(scope.key())
        .bind(stored)
        .bind(mode)
        .bind(at)
        .bind(c_at)
        .bind(c_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| from_row(r, at)).collect()
    }
}
