-- The SIM list and one SIM's event timeline at a million SIMs (issue #15): `list_sims` and
-- `list_events` name only the conditions that apply, and each common combination has an index that
-- yields its rows already in IMSI (or event id) order, so a page stops after `limit` rows.
-- Keep in step with the other backend's 0017_list_indexes.sql.
CREATE INDEX sims_status_imsi ON sims(status, imsi);
CREATE INDEX sims_tenant_status_imsi ON sims(tenant, status, imsi);
CREATE INDEX sims_tenant_priority_imsi ON sims(tenant, priority, imsi);
CREATE INDEX sims_profile_imsi ON sims(profile, imsi);
CREATE INDEX events_imsi_id ON events(imsi, id);
-- The operator's dashboard counts every SIM by status and priority: read in that order from this
-- index, without sorting a million rows.
CREATE INDEX sims_status_priority ON sims(status, priority);
