-- Traffic policy (issue #16, SUB-2, AV-1). Keep in step with the other backend's file (this one adds a
-- trigger at the end).

-- Per-SIM overrides of the profile's allowlists, and the quarantine (only the tenant's management
-- platform stays reachable). JSON arrays of allowlist entries as text.
CREATE TABLE sim_policies (
    imsi              TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    allow_prefixes    TEXT NOT NULL,
    allow_domains     TEXT NOT NULL,
    quarantined_at    BIGINT,
    quarantine_reason TEXT,
    quarantined_by    TEXT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX sim_policies_by_tenant ON sim_policies (tenant, imsi);

-- Gx sessions of the PCEFs (TS 29.212), kept so that a restart can still push changes (RAR) and
-- release them (ASR). `rules` is the JSON list of the PCC rule names installed.
CREATE TABLE gx_sessions (
    session_id  TEXT PRIMARY KEY,
    imsi        TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    pcef_host   TEXT NOT NULL,
    pcef_realm  TEXT NOT NULL,
    pcef_state  BIGINT,
    apn         TEXT NOT NULL,
    framed_ip   TEXT,
    framed_ipv6 TEXT,
    rat_type    BIGINT,
    plmn        TEXT,
    rules       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX gx_sessions_by_imsi ON gx_sessions (imsi);
CREATE INDEX gx_sessions_by_pcef ON gx_sessions (pcef_host);

-- Octets per SIM and hour, from the PCEF's usage monitoring reports (analytics input).
CREATE TABLE sim_usage (
    imsi        TEXT NOT NULL,
    hour        BIGINT NOT NULL,
    tenant      TEXT NOT NULL,
    octets_up   BIGINT NOT NULL,
    octets_down BIGINT NOT NULL,
    PRIMARY KEY (imsi, hour)
);
CREATE INDEX sim_usage_by_tenant ON sim_usage (tenant, hour);

-- The DNS firewall's query log (bounded by per-tenant retention; analytics input).
CREATE TABLE dns_queries (
    at       BIGINT NOT NULL,
    tenant   TEXT NOT NULL,
    imsi     TEXT NOT NULL,
    name     TEXT NOT NULL,
    qtype    BIGINT NOT NULL,
    verdict  TEXT NOT NULL,
    rcode    BIGINT NOT NULL,
    answers  TEXT NOT NULL
);
CREATE INDEX dns_queries_by_tenant ON dns_queries (tenant, at);
CREATE INDEX dns_queries_by_imsi ON dns_queries (imsi, at);

-- PostgreSQL only: a SIM's own policy changing is announced like a change of the SIM itself
-- (migration 0010), so the PCRF of every instance re-evaluates that SIM's sessions.
CREATE TRIGGER sim_policies_announce AFTER INSERT OR UPDATE OR DELETE ON sim_policies FOR EACH ROW
    EXECUTE FUNCTION warden_announce_sim();
