-- The CHECK on `alerts.status` in the form SQLite checks cheaply, as 0008
-- did for `alert_events` and `notifications`: written `status IN ('open',
-- 'acknowledged', 'resolved')` it built a temporary table of the list for
-- every alert inserted (a tenth of the store writer's work per alert under
-- load). The accepted values are unchanged.
--
-- Rebuilt as SQLite's documentation describes (a new table, the rows
-- copied, the old one dropped, the new one renamed, its indexes made
-- again). Other tables reference `alerts`, so the store runs its
-- migrations with the foreign keys off and checks them before it commits
-- (`migrate` in src/store/sqlite.rs); the references name the table, and
-- name the new one once it is renamed.

CREATE TABLE alerts_new (
    -- AUTOINCREMENT: ids appear in pages and links, so an id is never
    -- reused, even if the newest alert is deleted (the counter is carried
    -- over below).
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    team            TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    source          TEXT,
    details         TEXT    NOT NULL,
    intake          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status = 'open' OR status = 'acknowledged' OR status = 'resolved'),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    occurrences     INTEGER NOT NULL CHECK (occurrences >= 1),
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    held_until      INTEGER,
    held_reason     TEXT,
    lead            TEXT
) STRICT;
INSERT INTO alerts_new
    (id, team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at, occurrences,
     acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead)
    SELECT id, team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at,
           occurrences, acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead
    FROM alerts;
-- The id counter: the copy set it to the largest id copied; the old one may
-- be higher (the newest alerts deleted).
INSERT INTO sqlite_sequence (name, seq) SELECT 'alerts_new', 0 WHERE NOT EXISTS
    (SELECT 1 FROM sqlite_sequence WHERE name = 'alerts_new');
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alerts'), 0))
    WHERE name = 'alerts_new';
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE UNIQUE INDEX alerts_unresolved_key ON alerts (team, dedup_key) WHERE status != 'resolved';
CREATE INDEX alerts_status ON alerts (status);
