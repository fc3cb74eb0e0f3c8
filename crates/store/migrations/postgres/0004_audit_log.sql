-- Append-only, hash-chained audit trail of mutating actions (ID-2). Each row's hash covers its fields
-- and the previous row's hash, so editing or deleting a row breaks every later link.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    source      TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    before      TEXT NOT NULL,
    after       TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
