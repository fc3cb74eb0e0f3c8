-- Security hardening (issue #12). Keep in step with the other backend's 0009_security.sql.
-- Every credential derived from a person names that person's user id: the login sessions, and the
-- tokens issued with those sessions. Deleting the user revokes them, and a token whose user no longer
-- exists is refused at verification.
ALTER TABLE api_tokens ADD COLUMN user_id TEXT;
UPDATE api_tokens SET user_id = (SELECT u.id FROM users u WHERE 'session:' || u.username = api_tokens.name)
 WHERE name LIKE 'session:%';
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Usernames are unique within a tenant (and among the operator's staff), no longer across tenants:
-- a tenant creating a user must not learn which names other tenants use.
ALTER TABLE users DROP CONSTRAINT users_username_key;
CREATE UNIQUE INDEX users_tenant_username ON users(COALESCE(tenant, ''), username);

-- Answers kept for Idempotency-Key replays may hold a secret shown once (a new token, a webhook's
-- signing secret): they are sealed from now on, and the ones kept in clear are dropped.
DELETE FROM idempotency_keys;
