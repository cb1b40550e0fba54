-- Paging: each alert's escalation, the outbox of notifications, and what
-- the engine needs to resume exactly where it was after a restart.
--
-- Times are integer unix seconds, UTC.

-- Where each alert's escalation stands (see src/domain/paging.rs): the
-- engine handles a row when `due_at` has passed. A row exists while the
-- alert may still page someone; acknowledging or resolving an alert sets
-- its `due_at` to that moment, so the next pass looks at it at once.
CREATE TABLE escalations (
    alert_id INTEGER PRIMARY KEY REFERENCES alerts (id),
    phase    TEXT    NOT NULL CHECK (phase IN ('paging', 'acknowledged')),
    step     INTEGER NOT NULL,
    round    INTEGER NOT NULL,
    due_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX escalations_due ON escalations (due_at);

-- The outbox: one row per notification to one person by one method. A
-- pass claims the due rows (state `sending`, `due_at` moved to the end of a
-- lease), delivers them, then records the outcome; a row still `sending`
-- when its lease ends (the daemon died while delivering) is claimed again:
-- delivery is at least once.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    -- NULL for notices not about an alert (a shift starting).
    alert_id    INTEGER REFERENCES alerts (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('page', 'handoff')),
    person      TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    -- The escalation step and round that asked for it (pages only).
    step        INTEGER,
    round       INTEGER,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER,
    -- What a notice not about an alert says (JSON).
    payload     TEXT
) STRICT;
CREATE INDEX notifications_due ON notifications (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_alert ON notifications (alert_id);

-- When each destination last had a message, for the throttle.
CREATE TABLE destinations (
    method      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    last_sent   INTEGER NOT NULL,
    PRIMARY KEY (method, destination)
) STRICT, WITHOUT ROWID;

-- Round-robin steps: how many alerts each step has paged so far.
CREATE TABLE turns (
    team  TEXT    NOT NULL,
    step  INTEGER NOT NULL,
    taken INTEGER NOT NULL,
    PRIMARY KEY (team, step)
) STRICT, WITHOUT ROWID;

-- The engine's cursors: `alerts`, the last alert id given an escalation;
-- `handoffs`, the instant up to which shift-start notices were written.
CREATE TABLE engine_cursors (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Alerts already in the database when this migration runs are not paged
-- now (they came in before there was paging): the alert cursor starts at
-- the newest.
INSERT INTO engine_cursors (name, value) SELECT 'alerts', coalesce(max(id), 0) FROM alerts;

-- The timeline learns what paging does. SQLite cannot change a CHECK
-- constraint in place: the table is rebuilt with the same rows and ids.
CREATE TABLE alert_events_new (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('created', 'occurrence', 'acknowledged', 'resolved',
                                              'escalated', 'notified', 'notify_failed', 'reopened')),
    detail   TEXT    NOT NULL
) STRICT;
INSERT INTO alert_events_new (id, alert_id, at, kind, detail) SELECT id, alert_id, at, kind, detail FROM alert_events;
DROP TABLE alert_events;
ALTER TABLE alert_events_new RENAME TO alert_events;
CREATE INDEX alert_events_alert ON alert_events (alert_id);
