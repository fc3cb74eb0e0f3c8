-- Step-up and second approval (issue #15, SEC-8, SUB-4). Keep in step with the other backend's file.

-- The last second factor a login session proved, and when: set by a login completed with a second
-- factor and by each step-up. Sensitive actions need it within the last five minutes.
ALTER TABLE api_tokens ADD COLUMN fresh_factor TEXT;
ALTER TABLE api_tokens ADD COLUMN factor_at BIGINT;

-- Requests to terminate or unprotect a critical SIM, waiting for a second person. `requester_key`
-- is who asked (the person's user id, else the token's audit name): that key may not approve.
CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    tenant           TEXT NOT NULL,
    action           TEXT NOT NULL,
    imsi             TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    requested_by     TEXT NOT NULL,
    requester_key    TEXT NOT NULL,
    requested_factor TEXT,
    requested_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    status           TEXT NOT NULL,
    decided_by       TEXT,
    decided_factor   TEXT,
    decided_at       BIGINT,
    decision_note    TEXT
);
-- One open request per SIM and action.
CREATE UNIQUE INDEX approvals_one_pending ON approvals (imsi, action) WHERE status = 'pending';
CREATE INDEX approvals_by_tenant ON approvals (tenant, status, requested_at);
