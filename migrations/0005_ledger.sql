-- The on-call ledger: who was on call when, recorded as time passes, so
-- that pay for a past month is what really happened then, whatever the rota
-- files say now. Append-only: rows are never changed or deleted.
--
-- The engine records the stretch from its `ledger` cursor (engine_cursors)
-- to the last whole hour, one row per rota and person-shift piece (pieces
-- are split at those hour marks; readers merge neighbours). A stretch from
-- before the daemon's start (it was down) is filled from the rotas as
-- configured at the start, and marked `reconstructed`.
--
-- Times are integer unix seconds, UTC; `[start_at, end_at)`.

CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY,
    team          TEXT    NOT NULL,
    rota          TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    start_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL CHECK (end_at > start_at),
    reconstructed INTEGER NOT NULL CHECK (reconstructed IN (0, 1)),
    recorded_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_start ON ledger (start_at);

-- Pages received: one row per alert and person, when the first notice of
-- that alert reached them. Whether and when it was acknowledged is the
-- alert's (`alerts.acknowledged_by`, `acknowledged_at`).
CREATE TABLE ledger_pages (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    person   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    severity TEXT    NOT NULL,
    PRIMARY KEY (alert_id, person)
) STRICT, WITHOUT ROWID;
CREATE INDEX ledger_pages_at ON ledger_pages (at);
