-- Firewall state shared by several instances on one database (issue #14). Keep in step with the
-- other backend's 0011_firewall_state.sql. Times are unix milliseconds; newer rows win.

-- The serving node of each subscriber, as learned from ULR/PUR answers: plmn NULL once purged (a
-- tombstone, so a registration older than the purge cannot come back).
CREATE TABLE fw_registrations (
    imsi TEXT PRIMARY KEY,
    plmn TEXT,
    host BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX fw_registrations_at ON fw_registrations(at_ms);

-- Risky visited networks, one row per reason ('auto', 'manual'): until_ms NULL while indefinite; a
-- cleared mark ends at the time it was cleared (until_ms = at_ms).
CREATE TABLE fw_risky (
    plmn TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('auto', 'manual')),
    until_ms BIGINT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (plmn, reason)
);
