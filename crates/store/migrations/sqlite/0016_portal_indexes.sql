-- The portal's dashboard and SIM list (issue #15) at a million SIMs: counts by status and priority
-- per tenant from the index alone, the priority filter, and the event feed's recent window.
-- Keep in step with the other backend's 0016_portal_indexes.sql.
CREATE INDEX sims_tenant_status_priority ON sims(tenant, status, priority);
CREATE INDEX sims_priority_imsi ON sims(priority, imsi);
CREATE INDEX events_tenant_at ON events(tenant, at);
