-- The same constraints on the two tables written most per alert, in a form
-- SQLite checks cheaply.
--
-- A CHECK written `x IN ('a', 'b', 'c', ...)` (three values or more) builds
-- a temporary table of its list each time a row is inserted, or its column
-- updated: measured, it more than doubled the cost of an insert into
-- alert_events (13 us against 5 us). Written as `x = 'a' OR x = 'b' ...` it
-- costs nothing measurable. The accepted values are those of
-- 0006_lead_shadows_announce.sql, unchanged.
--
-- Rebuilt as SQLite's documentation describes (a new table, the rows copied,
-- the old one dropped, the new one renamed): no table references either, so
-- foreign keys are not in the way. `alerts` keeps its `status IN (...)`:
-- rebuilding it would need the foreign keys that point at it turned off.

CREATE TABLE alert_events_new (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind = 'created' OR kind = 'occurrence' OR kind = 'acknowledged'
                                     OR kind = 'resolved' OR kind = 'escalated' OR kind = 'notified'
                                     OR kind = 'notify_failed' OR kind = 'reopened' OR kind = 'lead'),
    detail   TEXT    NOT NULL
) STRICT;
INSERT INTO alert_events_new (id, alert_id, at, kind, detail) SELECT id, alert_id, at, kind, detail FROM alert_events;
DROP TABLE alert_events;
ALTER TABLE alert_events_new RENAME TO alert_events;
CREATE INDEX alert_events_alert ON alert_events (alert_id);

CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    -- NULL for notices not about an alert (a shift starting).
    alert_id    INTEGER REFERENCES alerts (id),
    kind        TEXT    NOT NULL CHECK (kind = 'page' OR kind = 'handoff' OR kind = 'announce'),
    -- The person (for announcements: the team).
    person      TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    -- The escalation step and round that asked for it (pages only).
    step        INTEGER,
    round       INTEGER,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state = 'pending' OR state = 'sending' OR state = 'sent'
                                        OR state = 'failed' OR state = 'cancelled'),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER,
    -- What a notice not about an alert says (JSON).
    payload     TEXT
) STRICT;
INSERT INTO notifications_new
    (id, alert_id, kind, person, method, destination, step, round, due_at, state, attempts, last_error, sent_at, payload)
    SELECT id, alert_id, kind, person, method, destination, step, round, due_at, state, attempts, last_error, sent_at,
           payload
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_alert ON notifications (alert_id);
CREATE INDEX notifications_announce ON notifications (destination, id)
    WHERE kind = 'announce' AND state IN ('pending', 'sending');
