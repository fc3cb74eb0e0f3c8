-- Operator-determined barring of packet data per SIM (a rule's `bar_data` action, or an operator or
-- tenant after investigation). Sent to the MME as Operator-Determined-Barring in Subscription-Data.
ALTER TABLE sims ADD COLUMN data_barred BIGINT NOT NULL DEFAULT 0;
