-- Device pre-shared keys for DTLS (CoAPs, LwM2M; issue #19, SEC-7, DM-1). Keep in step with the other
-- backend's 0023_device_psk.sql.

-- One PSK credential per LwM2M endpoint: the PSK identity the device sends in its handshake (unique),
-- the key sealed like K/OPc (bound to the endpoint and to `psk:<identity>`), the SIM the device
-- carries when known, and the tenant that owns it (the SIM's tenant; `*` for the operator's own).
CREATE TABLE device_psks (
    endpoint    TEXT PRIMARY KEY,
    identity    TEXT NOT NULL UNIQUE,
    key_sealed  BLOB NOT NULL,
    imsi        TEXT REFERENCES sims(imsi),
    tenant      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX device_psks_tenant ON device_psks(tenant, endpoint);
