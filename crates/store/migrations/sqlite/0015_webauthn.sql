-- Passkeys (WebAuthn) as a second login factor (issue #15, SEC-8). Keep in step with the other
-- backend's 0015_webauthn.sql. (0014 is the step-up migration.)
-- A person's registered passkeys: the authenticator's credential id (base64url, unique across
-- everyone), the webauthn-rs `Passkey` as JSON (public key, signature counter, flags; no secret), the
-- signature counter kept apart so a use is recorded only over the counter it was checked against,
-- and a name the person chose. Deleting the person deletes their passkeys.
CREATE TABLE webauthn_credentials (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    passkey         TEXT NOT NULL,
    sign_count      BIGINT NOT NULL DEFAULT 0,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- Ceremonies under way (registration, login, step-up): the webauthn-rs state as JSON (its challenge),
-- keyed by a random id, bound to the person and to the login ticket or session that started it,
-- living five minutes and usable once. In the database, not in memory, so any instance in front of
-- the same database can finish a ceremony another one started.
CREATE TABLE webauthn_ceremonies (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    binding     TEXT NOT NULL,
    state       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies(expires_at);
