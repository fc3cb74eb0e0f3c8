-- Firmware update campaigns (issue #19, DM-2, SEC-8). Keep in step with the other backend's file.

-- A campaign: which verified image goes to which devices of one tenant, how fast and when.
-- Ratios are stored in per mille, flags as 0/1.
CREATE TABLE firmware_campaigns (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    name              TEXT NOT NULL,
    image_id          TEXT NOT NULL,
    model             TEXT,
    canary_permille   BIGINT NOT NULL,
    failure_permille  BIGINT NOT NULL,
    window_days       TEXT NOT NULL,
    window_start_hour BIGINT NOT NULL,
    window_end_hour   BIGINT NOT NULL,
    max_concurrent    BIGINT NOT NULL,
    allow_downgrade   BIGINT NOT NULL,
    allow_reinstall   BIGINT NOT NULL,
    include_critical  BIGINT NOT NULL,
    approval_id       TEXT,
    critical_approved BIGINT NOT NULL,
    status            TEXT NOT NULL,
    status_reason     TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX firmware_campaigns_tenant ON firmware_campaigns (tenant, created_at);

-- One device of a campaign and where its update stands. An instance claims a pending row with a
-- conditional update (state = 'pending'), so two instances never offer the image to one device twice;
-- `lease_until` (unix seconds) is renewed while the instance drives the update.
CREATE TABLE firmware_campaign_devices (
    campaign_id    TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    canary         BIGINT NOT NULL,
    state          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    claimed_by     TEXT,
    lease_until    BIGINT NOT NULL,
    version_before TEXT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, endpoint)
);
CREATE INDEX firmware_campaign_devices_state ON firmware_campaign_devices (campaign_id, state, seq);
