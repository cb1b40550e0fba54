-- Alerts and their timelines.
--
-- Times are integer unix seconds, UTC. JSON columns hold text written by
-- serde_json. Every index here is paid for on every insert of the hottest
-- path (a new alert), so there are only those the daemon's questions need.

CREATE TABLE alerts (
    -- AUTOINCREMENT: ids appear in pages and links ("acknowledge alert 42"),
    -- so an id must never be reused, even if the newest alert is deleted.
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    team            TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    source          TEXT,
    details         TEXT    NOT NULL,
    intake          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    occurrences     INTEGER NOT NULL CHECK (occurrences >= 1),
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT
) STRICT;

-- Every event looks up the team's unresolved alert with its key; and there
-- may be at most one such alert. Resolved alerts leave the index, so it stays
-- as small as the set of live alerts.
CREATE UNIQUE INDEX alerts_unresolved_key ON alerts (team, dedup_key) WHERE status != 'resolved';

-- Listing by status, newest first: the rowid is the index's implicit last
-- column, so each status's entries are in id order.
CREATE INDEX alerts_status ON alerts (status);

-- The timeline: what happened to each alert, in order.
CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('created', 'occurrence', 'acknowledged', 'resolved')),
    detail   TEXT    NOT NULL
) STRICT;

-- An alert's timeline, oldest first (rowid order within an alert).
CREATE INDEX alert_events_alert ON alert_events (alert_id);
