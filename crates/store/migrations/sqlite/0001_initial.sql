-- Warden store, schema version 1 (SQLite). Keep in step with migrations/postgres/0001_initial.sql.
CREATE TABLE profiles (
    name        TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE sims (
    imsi            TEXT PRIMARY KEY,
    iccid           TEXT UNIQUE,
    msisdn          TEXT,
    tenant          TEXT NOT NULL,
    status          TEXT NOT NULL,
    priority        TEXT NOT NULL,
    profile         TEXT REFERENCES profiles(name),
    algorithm       TEXT NOT NULL,
    amf             BLOB NOT NULL,
    k_sealed        BLOB NOT NULL,
    opc_sealed      BLOB NOT NULL,
    sqn_reserved    BIGINT NOT NULL DEFAULT 0,
    bound_imeis     TEXT NOT NULL DEFAULT '',
    serving_host    TEXT,
    serving_realm   TEXT,
    serving_plmn    TEXT,
    serving_since   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX sims_tenant ON sims(tenant);

CREATE TABLE registrations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    imsi         TEXT NOT NULL,
    origin_host  TEXT NOT NULL,
    origin_realm TEXT NOT NULL,
    plmn         TEXT,
    imei         TEXT,
    at           BIGINT NOT NULL
);
CREATE INDEX registrations_imsi ON registrations(imsi, at);

CREATE TABLE eir_entries (
    kind        TEXT NOT NULL,
    key_from    TEXT NOT NULL,
    key_to      TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (kind, key_from, key_to)
);

CREATE TABLE imsi_imei_bindings (
    imsi    TEXT NOT NULL,
    imei    TEXT NOT NULL,
    status  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (imsi, imei)
);

CREATE TABLE host_identities (
    imei        TEXT NOT NULL,
    host        TEXT NOT NULL,
    reported_at BIGINT NOT NULL
);
CREATE INDEX host_identities_imei ON host_identities(imei);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    imsi    TEXT,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL,
    at      BIGINT NOT NULL
);
