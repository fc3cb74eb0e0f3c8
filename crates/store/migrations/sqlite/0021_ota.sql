-- SIM over-the-air management (issue #18, SUB-6, ROAM-5). Keep in step with the other backend's 0021_ota.sql.

-- OTA key sets per SIM (TS 102 225): the key-set number, the KIc and KID bytes, the TARs the key set
-- may address (comma-separated hex), the ciphering and RC/CC keys sealed like K/OPc (bound to the IMSI
-- and to `ota_enc:<keyset>` / `ota_mac:<keyset>`), and the last replay counter (CNTR) reserved. The
-- counter only grows: a re-import of the key set keeps it.
CREATE TABLE ota_keysets (
    imsi        TEXT NOT NULL REFERENCES sims(imsi),
    keyset      BIGINT NOT NULL,
    kic         BIGINT NOT NULL,
    kid         BIGINT NOT NULL,
    tars        TEXT NOT NULL,
    enc_sealed  BLOB NOT NULL,
    mac_sealed  BLOB NOT NULL,
    counter     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (imsi, keyset)
);

-- Every OTA command sent to a SIM: what was sent (a summary, never keys), the TAR and counter, its
-- state (queued, sent, delivered, por_ok, por_error, failed, timeout), the PoR's status name and SW.
CREATE TABLE ota_history (
    id          TEXT PRIMARY KEY,
    job_id      TEXT,
    imsi        TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    keyset      BIGINT NOT NULL,
    tar         TEXT NOT NULL,
    cntr        BIGINT,
    summary     TEXT NOT NULL,
    state       TEXT NOT NULL,
    por_status  TEXT,
    sw          TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX ota_history_imsi ON ota_history(imsi, created_at);
CREATE INDEX ota_history_job ON ota_history(job_id);
CREATE INDEX ota_history_pending ON ota_history(imsi, keyset, state);

-- OTA jobs (update a file, steering of roaming) with their progress, and their per-SIM items. An
-- item's `payload` is what that SIM gets (JSON); `rank` orders the sending (critical SIMs last).
CREATE TABLE ota_jobs (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       BIGINT NOT NULL DEFAULT 0,
    done        BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX ota_jobs_state ON ota_jobs(state);

CREATE TABLE ota_job_items (
    job_id      TEXT NOT NULL REFERENCES ota_jobs(id),
    imsi        TEXT NOT NULL,
    rank        BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (job_id, imsi)
);
CREATE INDEX ota_job_items_order ON ota_job_items(job_id, state, rank, imsi);

-- Per SIM and elementary file, the content last confirmed on the card by a PoR without error (hex),
-- so that steering sends nothing that is already there.
CREATE TABLE ota_sim_files (
    imsi        TEXT NOT NULL,
    fid         TEXT NOT NULL,
    content     TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    PRIMARY KEY (imsi, fid)
);
