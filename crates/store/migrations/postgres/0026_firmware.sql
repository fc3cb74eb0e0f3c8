-- Firmware images and the tenants' signing keys (issue #19, DM-2). Keep in step with the other
-- backend's file.

-- A tenant's firmware signing public key; `fingerprint` is the SHA-256 of its SubjectPublicKeyInfo.
CREATE TABLE firmware_keys (
    tenant      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    public_pem  TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, fingerprint)
);

-- A verified image: its signed manifest, the signature, the key that verified it, and the bytes.
CREATE TABLE firmware_images (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    model      TEXT NOT NULL,
    version    TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    manifest   BYTEA NOT NULL,
    signature  BYTEA NOT NULL,
    signed_by  TEXT NOT NULL,
    image      BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant, model, version)
);
