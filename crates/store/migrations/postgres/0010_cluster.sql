-- Several `warden serve` instances on one database (issue #14). Keep the tables in step with the other
-- backend's 0010_cluster.sql; the triggers are PostgreSQL's only (SQLite serves one instance).

-- Every instance registers at start and heartbeats (unix milliseconds); `warden cluster status` reads it.
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

-- The Diameter nodes each instance can reach now: its peers' identities, and nodes behind a relay
-- (`via` names the relay). CLR/IDR for a node are claimed only by an instance that reaches it.
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

-- The outbox is claimed by the instance holding the serving node's connection, retried with back-off
-- (`not_before`, unix ms) and expired when no instance holds it.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_host ON outbox(lower(serving_host));

-- Cache coherence: every committed change that an HSS caches is announced on channel `warden_cache`,
-- whoever made it (any instance, the command line, an operator's SQL). SQN reservations and serving
-- node updates are not announced: no cache depends on them, and they happen on every AIR/ULR.
CREATE FUNCTION warden_announce_sim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('warden_cache', 'sim:' || OLD.imsi);
    ELSE
        PERFORM pg_notify('warden_cache', 'sim:' || NEW.imsi);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sims_announce_update AFTER UPDATE ON sims FOR EACH ROW
    WHEN ((OLD.imsi, OLD.iccid, OLD.msisdn, OLD.eid, OLD.tenant, OLD.status, OLD.priority, OLD.profile,
           OLD.algorithm, OLD.amf, OLD.k_sealed, OLD.opc_sealed, OLD.bound_imeis, OLD.data_barred,
           OLD.protection_lifted)
          IS DISTINCT FROM
          (NEW.imsi, NEW.iccid, NEW.msisdn, NEW.eid, NEW.tenant, NEW.status, NEW.priority, NEW.profile,
           NEW.algorithm, NEW.amf, NEW.k_sealed, NEW.opc_sealed, NEW.bound_imeis, NEW.data_barred,
           NEW.protection_lifted))
    EXECUTE FUNCTION warden_announce_sim();
CREATE TRIGGER sims_announce_delete AFTER DELETE ON sims FOR EACH ROW EXECUTE FUNCTION warden_announce_sim();

-- New SIMs need no cache drop (an unknown SIM is read from the database), but caches of whole sets
-- (the firewall's device priorities) reload: one announcement per statement, not per row, so an
-- import of a million SIMs is one notification.
CREATE FUNCTION warden_announce_sims_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('warden_cache', 'sims:inserted');
    RETURN NULL;
END $$;
CREATE TRIGGER sims_announce_insert AFTER INSERT ON sims FOR EACH STATEMENT
    EXECUTE FUNCTION warden_announce_sims_inserted();

CREATE FUNCTION warden_announce_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('warden_cache', 'profile:' || OLD.name);
    ELSE
        PERFORM pg_notify('warden_cache', 'profile:' || NEW.name);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER profiles_announce AFTER INSERT OR UPDATE OR DELETE ON profiles FOR EACH ROW
    EXECUTE FUNCTION warden_announce_profile();

-- A notification queued for a serving node wakes the instances (the one holding the node claims it).
CREATE FUNCTION warden_announce_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('warden_outbox', lower(NEW.serving_host));
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_announce AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION warden_announce_outbox();
