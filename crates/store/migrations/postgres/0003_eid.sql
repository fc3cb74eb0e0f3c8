-- The EID of the eUICC a subscription lives on (GSMA SGP.02), when known.
ALTER TABLE sims ADD COLUMN eid TEXT;
