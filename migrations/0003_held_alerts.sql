-- Alerts opened inside a maintenance window are stored held: the end of the
-- window and its reason. NULL: not held. ADD COLUMN keeps the table (and its
-- CHECK constraints) as it is; the timeline says "held" in the detail of the
-- `created` entry, so `alert_events.kind` needs no new value.

ALTER TABLE alerts ADD COLUMN held_until INTEGER;
ALTER TABLE alerts ADD COLUMN held_reason TEXT;
