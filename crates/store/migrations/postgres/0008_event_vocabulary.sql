-- One event vocabulary (docs/events.md): kinds recorded before it get their new names.
-- Keep in step with the other backend's 0008_event_vocabulary.sql.
UPDATE events SET kind = 'imei.lock_violation' WHERE kind = 'imei_lock_violation';
UPDATE events SET kind = 'imei.reported' WHERE kind = 'notify_terminal';
UPDATE events SET kind = 'eir.critical_blacklisted' WHERE kind = 'critical_device_blacklisted';
UPDATE events SET kind = 'auth.auts_rejected' WHERE kind = 'auts_rejected';
UPDATE events SET kind = 'roaming.rejected' WHERE kind = 'roaming_rejected';
UPDATE events SET kind = 'firewall.' || substr(kind, 9) WHERE kind LIKE 'roaming.%' AND kind <> 'roaming.rejected';
