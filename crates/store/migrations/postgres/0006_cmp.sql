-- Connectivity management platform (issue #5): users, bulk jobs, idempotency, webhooks, rules,
-- SIM ranges, critical-SIM protection and tenant-scoped events. Keep in step with sqlite/0006_cmp.sql.
ALTER TABLE sims ADD COLUMN protection_lifted BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sims_tenant_imsi ON sims(tenant, imsi);

ALTER TABLE events ADD COLUMN tenant TEXT;
UPDATE events SET tenant = (SELECT tenant FROM sims WHERE sims.imsi = events.imsi);
CREATE INDEX events_tenant ON events(tenant, id);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    tenant          TEXT,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users(tenant);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    action      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       BIGINT NOT NULL DEFAULT 0,
    succeeded   BIGINT NOT NULL DEFAULT 0,
    unchanged   BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    cursor      TEXT NOT NULL DEFAULT '',
    cancel      BIGINT NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX jobs_tenant ON jobs(tenant, id);

CREATE TABLE job_items (
    job_id  TEXT NOT NULL,
    imsi    TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL,
    PRIMARY KEY (job_id, imsi)
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    url           TEXT NOT NULL,
    secret_sealed BYTEA NOT NULL,
    cursor        BIGINT NOT NULL DEFAULT 0,
    failures      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks(tenant);

CREATE TABLE rules (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX rules_tenant ON rules(tenant);

CREATE TABLE sim_ranges (
    id          TEXT PRIMARY KEY,
    imsi_from   TEXT NOT NULL,
    imsi_to     TEXT NOT NULL,
    segment     TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
