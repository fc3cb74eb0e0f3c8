-- Device certificates over EST (issue #19, SEC-7). Keep in step with the other backend's 0024_device_certs.sql.

-- Issuing CAs: one per tenant, or one for the operator (scope '*'), as `[devices] est_ca` says. The
-- private key (PKCS#8, ECDSA P-256) is sealed like K/OPc, bound to `ca:<scope>` and `device_ca_key`.
CREATE TABLE device_cas (
    scope       TEXT PRIMARY KEY,
    cert_der    BLOB NOT NULL,
    key_sealed  BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Every certificate issued: serial (hex), the CA that signed it, the tenant it belongs to, the
-- endpoint name and bound IMSI/IMEI, its subject and subject alternative names (comma-separated
-- URIs), validity, status ('good' or 'revoked') with the revocation time and reason, and the
-- certificate itself (DER). `replaces`: the serial it re-enrolled from.
CREATE TABLE device_certs (
    serial      TEXT PRIMARY KEY,
    ca_scope    TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    san         TEXT NOT NULL,
    imsi        TEXT,
    imei        TEXT,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    status      TEXT NOT NULL,
    revoked_at  BIGINT,
    revocation_reason TEXT,
    replaces    TEXT,
    cert_der    BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX device_certs_tenant ON device_certs(tenant, endpoint);
CREATE INDEX device_certs_ca_status ON device_certs(ca_scope, status);

-- One-time enrolment tokens: only the SHA-256 of the token is kept; used once (`used_at`), and
-- worthless after `expires_at`.
CREATE TABLE est_tokens (
    hash        TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    imsi        TEXT,
    imei        TEXT,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX est_tokens_endpoint ON est_tokens(endpoint);
