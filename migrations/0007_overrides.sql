-- Overrides made at run time (POST /v1/overrides, `oncall override add`):
-- the 2 a.m. "can you cover me" that cannot wait for a merged pull request.
-- They apply after the rota files' own overrides (so they win where both
-- cover the same time). Deleting one marks it deleted: the rows are the
-- audit trail of who changed the rota when.
--
-- Times are integer unix seconds, UTC; `[start_at, end_at)`.

CREATE TABLE overrides (
    id         INTEGER PRIMARY KEY,
    team       TEXT    NOT NULL,
    rota       TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    start_at   INTEGER NOT NULL,
    end_at     INTEGER NOT NULL CHECK (end_at > start_at),
    instead_of TEXT,
    reason     TEXT,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    deleted_by TEXT,
    deleted_at INTEGER
) STRICT;
CREATE INDEX overrides_live ON overrides (end_at) WHERE deleted_at IS NULL;
