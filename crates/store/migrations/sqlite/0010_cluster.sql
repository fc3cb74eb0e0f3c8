-- Several `warden serve` instances on one database (issue #14). Keep the tables in step with the other
-- backend's 0010_cluster.sql. SQLite serves one instance (a second `warden serve` on the same file is
-- refused while the first heartbeats); the tables give it the same outbox and `warden cluster status`.

CREATE TABLE cluster_instances (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    diameter      TEXT NOT NULL,
    http          TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    stopped_at    BIGINT,
    sqn_allocation TEXT NOT NULL DEFAULT 'exact'
);

CREATE TABLE cluster_peers (
    instance_id TEXT NOT NULL REFERENCES cluster_instances(id) ON DELETE CASCADE,
    host        TEXT NOT NULL,
    via         TEXT NOT NULL DEFAULT '',
    since       BIGINT NOT NULL,
    PRIMARY KEY (instance_id, host)
);
CREATE INDEX cluster_peers_host ON cluster_peers(host);

-- Nodes that reach the HSS through a relay (a roaming firewall, a DEA): the relay a node's last
-- registration came through, shared by every instance and kept across restarts, so a CLR/IDR for
-- the node is claimed by any instance holding a connection to that relay.
CREATE TABLE relay_routes (
    node  TEXT PRIMARY KEY,
    via   TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX relay_routes_via ON relay_routes(via);

ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_host ON outbox(lower(serving_host));
