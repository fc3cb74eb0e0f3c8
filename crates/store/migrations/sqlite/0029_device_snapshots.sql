-- What each LwM2M device last showed of itself (issue #19, DM-1), kept so that the SIM page and the
-- API answer after a restart and on any instance. Keep in step with the other backend's
-- 0029_device_snapshots.sql.

-- One row per endpoint name: the SIM it is linked to and that SIM's tenant (`*` while unlinked: the
-- operator's), what objects 3 and 4 said (NULL until read), when it registered and was last heard
-- from (unix seconds; `last_seen` is written at most once a minute while nothing else changes), the
-- instance (its Diameter origin host) that holds the registration, whether it is registered now
-- (0/1), and the IMEI it reports with, when it differs, the one the HSS last saw (`hss_imei`, NULL
-- when they agree or nothing was compared). Written by the LwM2M server only; read through the
-- tenant-scoped queries in store/src/device_snapshots.rs.
CREATE TABLE device_snapshots (
    endpoint      TEXT PRIMARY KEY,
    imsi          TEXT,
    tenant        TEXT NOT NULL,
    manufacturer  TEXT,
    model         TEXT,
    serial        TEXT,
    firmware      TEXT,
    battery       BIGINT,
    signal_dbm    BIGINT,
    objects_read_at BIGINT,
    reported_imei TEXT,
    hss_imei      TEXT,
    registered_at BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    instance      TEXT NOT NULL,
    registered    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX device_snapshots_imsi ON device_snapshots (imsi, endpoint);
CREATE INDEX device_snapshots_tenant ON device_snapshots (tenant, endpoint);
CREATE INDEX device_snapshots_instance ON device_snapshots (instance, registered);
