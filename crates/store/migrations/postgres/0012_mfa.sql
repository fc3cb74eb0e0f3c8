-- Second login factor (issue #15, SEC-8). Keep in step with the other backend's 0012_mfa.sql.
-- A person's TOTP credential: the secret sealed like K/OPc (AES-256-GCM under the KEK, bound to the
-- user id and the column name), pending until a first code confirms it, and the step of the last code
-- accepted (a code of that step or an earlier one is a replay).
CREATE TABLE mfa_totp (
    user_id         TEXT PRIMARY KEY,
    secret_sealed   BYTEA NOT NULL,
    algorithm       TEXT NOT NULL,
    digits          BIGINT NOT NULL,
    state           TEXT NOT NULL,
    last_step       BIGINT NOT NULL DEFAULT -1,
    created_at      BIGINT NOT NULL,
    confirmed_at    BIGINT
);

-- Recovery codes: shown once, kept as SHA-256 (80 random bits each), each usable once.
CREATE TABLE mfa_recovery_codes (
    user_id     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Tickets between the password and the second factor: short-lived, single-use, bound to the login's
-- source address, stored as SHA-256 of their secret part. `purpose` is `login` (a second factor
-- follows) or `enrol` (the person must enrol one first and may call only the enrolment endpoints).
CREATE TABLE mfa_tickets (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX mfa_tickets_user ON mfa_tickets(user_id);

-- Operators require a second factor per tenant (default: required). The operator's staff always need one.
ALTER TABLE tenants ADD COLUMN mfa_required BIGINT NOT NULL DEFAULT 1;

-- The factor a login session was opened with: password, totp or recovery.
ALTER TABLE api_tokens ADD COLUMN factor TEXT;
