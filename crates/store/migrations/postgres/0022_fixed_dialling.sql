-- Fixed dialling lists (issue #18, SUB-3). Keep in step with the other backend's file.

-- A SIM's own fixed dialling list: it extends (`extend`) or replaces (`replace`) its profile's
-- `fixed_dialling`. `entries` is the JSON array of entries as written (`+4917*`, `+491711234567`,
-- `1234`).
CREATE TABLE sim_fixed_dialling (
    imsi       TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    mode       TEXT NOT NULL,
    entries    TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sim_fixed_dialling_by_tenant ON sim_fixed_dialling (tenant, imsi);

-- The SMS router finds the sender of an MO message that names only its MSISDN (SMPP).
CREATE INDEX sims_by_msisdn ON sims (msisdn);
