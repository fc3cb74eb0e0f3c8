-- Tenants and API tokens (issue #5). Tokens are stored as SHA-256 of their secret part only.
CREATE TABLE tenants (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    secret_hash     TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    tenant          TEXT,
    expires_at      BIGINT,
    allowed_sources TEXT NOT NULL DEFAULT '',
    revoked_at      BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX api_tokens_tenant ON api_tokens(tenant);
