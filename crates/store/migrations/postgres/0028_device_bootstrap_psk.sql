-- Bootstrap-server credentials of LwM2M devices (issue #19, DM-1, SEC-7). Keep in step with the other
-- backend's 0028_device_bootstrap_psk.sql.

-- The DTLS PSK a device uses towards the bootstrap server (`[devices] bootstrap_listen`), one per
-- endpoint: its identity (unique), the key sealed like K/OPc (bound to the endpoint and to
-- `bspsk:<identity>`), the SIM the device carries when known, and the owning tenant (the SIM's;
-- `*` for the operator's own). The LwM2M-server PSK the bootstrap provisions goes to device_psks.
CREATE TABLE device_bootstrap_psks (
    endpoint    TEXT PRIMARY KEY,
    identity    TEXT NOT NULL UNIQUE,
    key_sealed  BYTEA NOT NULL,
    imsi        TEXT REFERENCES sims(imsi),
    tenant      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX device_bootstrap_psks_tenant ON device_bootstrap_psks(tenant, endpoint);
