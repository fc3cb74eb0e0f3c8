-- Security hardening (issue #12). Keep in step with the other backend's 0009_security.sql.
-- Every credential derived from a person names that person's user id: the login sessions, and the
-- tokens issued with those sessions. Deleting the user revokes them, and a token whose user no longer
-- exists is refused at verification.
ALTER TABLE api_tokens ADD COLUMN user_id TEXT;
UPDATE api_tokens SET user_id = (SELECT u.id FROM users u WHERE 'session:' || u.username = api_tokens.name)
 WHERE name LIKE 'session:%';
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Usernames are unique within a tenant (and among the operator's staff), no longer across tenants:
-- a tenant creating a user must not learn which names other tenants use. SQLite cannot drop a column
-- constraint, so the table is rebuilt.
CREATE TABLE users_new (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    tenant          TEXT,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
INSERT INTO users_new (id, username, password_hash, role, tenant, failed_logins, locked_until, created_at)
    SELECT id, username, password_hash, role, tenant, failed_logins, locked_until, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_tenant ON users(tenant);
CREATE UNIQUE INDEX users_tenant_username ON users(COALESCE(tenant, ''), username);

-- Answers kept for Idempotency-Key replays may hold a secret shown once (a new token, a webhook's
-- signing secret): they are sealed from now on, and the ones kept in clear are dropped.
DELETE FROM idempotency_keys;
