-- Lifecycle changes made outside the server process (CLI, later the API) that the server must turn
-- into CLR/IDR toward the serving MME.
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    imsi          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    serving_host  TEXT NOT NULL,
    serving_realm TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
