-- A lead for every alert, shadows in the ledger, announcements in the
-- outbox.
--
-- Times are integer unix seconds, UTC.

-- Whoever acknowledged first (or was handed the alert since): NULL while
-- nobody has. Alerts acknowledged before this migration get their
-- acknowledger.
ALTER TABLE alerts ADD COLUMN lead TEXT;
UPDATE alerts SET lead = acknowledged_by WHERE acknowledged_by IS NOT NULL;

-- A ledger piece of someone shadowing (learning the rota, not on call): the
-- person they shadowed. NULL: on call. Pay and burden report shadow hours
-- apart from on-call hours.
ALTER TABLE ledger ADD COLUMN shadow_of TEXT;

-- The outbox learns announcements (a team's shared space is told when an
-- alert opens, is acknowledged and is resolved). `person` holds the team,
-- `payload` what the announcement says. SQLite cannot change a CHECK
-- constraint in place: the table is rebuilt with the same rows and ids.
CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER REFERENCES alerts (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('page', 'handoff', 'announce')),
    person      TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    step        INTEGER,
    round       INTEGER,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER,
    payload     TEXT
) STRICT;
INSERT INTO notifications_new SELECT id, alert_id, kind, person, method, destination, step, round, due_at, state,
    attempts, last_error, sent_at, payload FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_alert ON notifications (alert_id);

-- The timeline learns lead hand-overs.
CREATE TABLE alert_events_new (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('created', 'occurrence', 'acknowledged', 'resolved',
                                              'escalated', 'notified', 'notify_failed', 'reopened', 'lead')),
    detail   TEXT    NOT NULL
) STRICT;
INSERT INTO alert_events_new (id, alert_id, at, kind, detail) SELECT id, alert_id, at, kind, detail FROM alert_events;
DROP TABLE alert_events;
ALTER TABLE alert_events_new RENAME TO alert_events;
CREATE INDEX alert_events_alert ON alert_events (alert_id);

-- The engine's `announce` cursor: the last timeline entry looked at for
-- announcements. What happened before this migration is not announced.
INSERT INTO engine_cursors (name, value) SELECT 'announce', coalesce(max(id), 0) FROM alert_events;

-- A destination's announcements go out one at a time, oldest first: the
-- claim looks for an earlier one still pending (few rows: announcements
-- only, while undelivered).
CREATE INDEX notifications_announce ON notifications (destination, id)
    WHERE kind = 'announce' AND state IN ('pending', 'sending');
