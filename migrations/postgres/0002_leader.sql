-- The engine's leader: of several daemons on one database, the one that runs
-- the engine's passes (pages, escalations, the ledger) holds this row's lease.
-- Only a shared database needs it: SQLite has one daemon per file (its lock
-- file), so this table has no SQLite counterpart.
--
-- `expires_at` is in milliseconds of the database server's clock, so the
-- daemons' own clocks never have to agree. `term` counts the hand-overs: a
-- daemon that takes the lease from another gets a new term.
CREATE TABLE leader (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    term       BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
