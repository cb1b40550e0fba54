-- The PostgreSQL schema: the same tables and columns as the SQLite schema
-- after its migration 0008 (migrations/0001..0008), written at once (no
-- PostgreSQL database predates it). `tests/it/store.rs` checks that the two
-- list the same tables and columns; a later change to the schema is a
-- new file in each folder.
--
-- Times are unix seconds, UTC (BIGINT, as SQLite's INTEGER). JSON columns hold
-- text written by serde_json. Ids are identities that are never reused
-- (SQLite's AUTOINCREMENT on `alerts`): they appear in pages and links.
--
-- Differences from SQLite, each for PostgreSQL's sake:
-- - `overrides.user` is quoted: USER is a reserved word here.
-- - `ledger.reconstructed` is a BOOLEAN (SQLite: INTEGER 0 or 1).
-- - The CHECKs keep the `IN (...)` form: PostgreSQL checks it cheaply.

CREATE TABLE alerts (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team            TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    source          TEXT,
    details         TEXT    NOT NULL,
    intake          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_at      BIGINT  NOT NULL,
    last_seen_at    BIGINT  NOT NULL,
    occurrences     BIGINT  NOT NULL CHECK (occurrences >= 1),
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at     BIGINT,
    resolved_by     TEXT,
    -- Opened inside a maintenance window: the end of the window, and why.
    held_until      BIGINT,
    held_reason     TEXT,
    -- Whoever acknowledged first (or was handed the alert since).
    lead            TEXT
);
-- At most one unresolved alert per team and key; every event looks it up.
CREATE UNIQUE INDEX alerts_unresolved_key ON alerts (team, dedup_key) WHERE status != 'resolved';
CREATE INDEX alerts_status ON alerts (status, id);

-- The timeline: what happened to each alert, in order.
CREATE TABLE alert_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    at       BIGINT NOT NULL,
    kind     TEXT   NOT NULL CHECK (kind IN ('created', 'occurrence', 'acknowledged', 'resolved', 'escalated',
                                             'notified', 'notify_failed', 'reopened', 'lead')),
    detail   TEXT   NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Heartbeat monitors: what the daemon remembers of each team's heartbeats.
CREATE TABLE heartbeats (
    team        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_ping   BIGINT,
    alerted     BIGINT,
    PRIMARY KEY (team, name)
);

-- Where each alert's escalation stands (see migrations/0004_paging.sql).
CREATE TABLE escalations (
    alert_id BIGINT PRIMARY KEY REFERENCES alerts (id),
    phase    TEXT   NOT NULL CHECK (phase IN ('paging', 'acknowledged')),
    step     BIGINT NOT NULL,
    round    BIGINT NOT NULL,
    due_at   BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (due_at);

-- The outbox (see migrations/0004_paging.sql): a pass claims due rows
-- (`sending`, `due_at` moved to the end of a lease); a claim whose lease
-- ends undelivered is claimed again.
CREATE TABLE notifications (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    BIGINT REFERENCES alerts (id),
    kind        TEXT   NOT NULL CHECK (kind IN ('page', 'handoff', 'announce')),
    person      TEXT   NOT NULL,
    method      TEXT   NOT NULL,
    destination TEXT   NOT NULL,
    step        BIGINT,
    round       BIGINT,
    due_at      BIGINT NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     BIGINT,
    payload     TEXT
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_alert ON notifications (alert_id);
CREATE INDEX notifications_announce ON notifications (destination, id)
    WHERE kind = 'announce' AND state IN ('pending', 'sending');

-- When each destination last had a message, for the throttle.
CREATE TABLE destinations (
    method      TEXT   NOT NULL,
    destination TEXT   NOT NULL,
    last_sent   BIGINT NOT NULL,
    PRIMARY KEY (method, destination)
);

-- Round-robin steps: how many alerts each step has paged so far.
CREATE TABLE turns (
    team  TEXT   NOT NULL,
    step  BIGINT NOT NULL,
    taken BIGINT NOT NULL,
    PRIMARY KEY (team, step)
);

-- The engine's cursors (`alerts`, `handoffs`, `ledger`, `announce`, and
-- named marks such as the last pay export).
CREATE TABLE engine_cursors (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO engine_cursors (name, value) VALUES ('alerts', 0), ('announce', 0);

-- The on-call ledger (see migrations/0005_ledger.sql). Append-only.
CREATE TABLE ledger (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team          TEXT    NOT NULL,
    rota          TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    start_at      BIGINT  NOT NULL,
    end_at        BIGINT  NOT NULL CHECK (end_at > start_at),
    reconstructed BOOLEAN NOT NULL,
    recorded_at   BIGINT  NOT NULL,
    shadow_of     TEXT
);
CREATE INDEX ledger_start ON ledger (start_at);

-- Pages received: one row per alert and person.
CREATE TABLE ledger_pages (
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    person   TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    severity TEXT   NOT NULL,
    PRIMARY KEY (alert_id, person)
);
CREATE INDEX ledger_pages_at ON ledger_pages (at);

-- Overrides made at run time (see migrations/0007_overrides.sql).
CREATE TABLE overrides (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team       TEXT   NOT NULL,
    rota       TEXT   NOT NULL,
    "user"     TEXT   NOT NULL,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL CHECK (end_at > start_at),
    instead_of TEXT,
    reason     TEXT,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_by TEXT,
    deleted_at BIGINT
);
CREATE INDEX overrides_live ON overrides (end_at) WHERE deleted_at IS NULL;
