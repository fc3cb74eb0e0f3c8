-- OpenID Connect login for the portal (issue #15, SEC-8). Keep in step with the other backend's 0018_oidc.sql.
-- Authorization requests in flight: keyed by SHA-256 of the `state` parameter, with the nonce and
-- the PKCE code verifier (sealed under the KEK, bound to the state hash) kept here and never given to
-- the browser. Single use (deleted when the callback takes it), 10 minutes, bound to the address
-- that started it; any instance on the same database can complete a flow another one started.
CREATE TABLE oidc_flows (
    state_hash      TEXT PRIMARY KEY,
    nonce           TEXT NOT NULL,
    verifier_sealed BYTEA NOT NULL,
    source          TEXT NOT NULL DEFAULT '',
    expires_at      BIGINT NOT NULL
);
CREATE INDEX oidc_flows_expiry ON oidc_flows(expires_at);

-- The identity provider's subject (`sub`) a Warden user logged in with first: bound on first use,
-- and a later login of that user with another subject of the same issuer is refused. One subject
-- stands for at most one user per issuer.
CREATE TABLE oidc_subjects (
    user_id     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bound_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, issuer)
);
CREATE UNIQUE INDEX oidc_subjects_subject ON oidc_subjects(issuer, subject);
