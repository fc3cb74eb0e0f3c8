-- Security analytics (issue #17, AV-1, PR-1, SUB-7). Keep in step with the other backend's file.

-- What the detection engine found, one row per stable detection id; a repeat adds to `count`, moves
-- `last_seen` and keeps the highest score. `evidence` is JSON of what was seen (counts, ports,
-- destinations, positions), never payload values. `action` is what the tenant's policy did
-- (`none`, `alert`, `quarantine`, `suspend`, `firmware_update`); `action_before` is what undoing it
-- needs (JSON).
CREATE TABLE detections (
    id               TEXT PRIMARY KEY,
    tenant           TEXT NOT NULL,
    imsi             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    score            REAL NOT NULL,
    evidence         TEXT NOT NULL,
    first_seen       BIGINT NOT NULL,
    last_seen        BIGINT NOT NULL,
    count            BIGINT NOT NULL,
    status           TEXT NOT NULL,
    status_at        BIGINT,
    status_by        TEXT,
    action           TEXT NOT NULL,
    action_at        BIGINT,
    action_by        TEXT,
    action_before    TEXT,
    action_undone_at BIGINT,
    action_undone_by TEXT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX detections_by_tenant ON detections (tenant, last_seen);
CREATE INDEX detections_by_imsi ON detections (imsi);

-- What a tenant agreed to (PR-1): the action per detection kind (JSON object kind → action), the
-- action of other kinds, the least score that acts, pseudonymised exports, retention per data kind
-- (days) and which inputs the engine may use. A tenant without a row gets detections recorded, no
-- automatic action, and pseudonymised exports.
CREATE TABLE analytics_policies (
    tenant            TEXT PRIMARY KEY,
    actions           TEXT NOT NULL,
    default_action    TEXT NOT NULL,
    min_score         REAL NOT NULL,
    pseudonymise      BIGINT NOT NULL,
    detections_days   BIGINT NOT NULL,
    flows_days        BIGINT NOT NULL,
    dns_days          BIGINT NOT NULL,
    use_flows         BIGINT NOT NULL,
    use_dns           BIGINT NOT NULL,
    use_signalling    BIGINT NOT NULL,
    use_payload       BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    updated_by        TEXT NOT NULL
);

-- The key of each tenant's pseudonyms (HMAC-SHA-256), random, sealed under the store's KEK like K
-- and OPc (associated data: the tenant).
CREATE TABLE analytics_keys (
    tenant     TEXT PRIMARY KEY,
    key_sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
