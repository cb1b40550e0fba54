-- Heartbeat monitors: what the daemon remembers of each team's heartbeats.
-- The configuration (interval, grace) stays in the team files; a row here is
-- created the first time the daemon sees a heartbeat configured, so that one
-- never pinged counts from then rather than paging at once.
--
-- Times are integer unix seconds, UTC.

CREATE TABLE heartbeats (
    team        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_ping   INTEGER,
    -- When the last overdue alert was raised: one alert per silence.
    alerted     INTEGER,
    PRIMARY KEY (team, name)
) STRICT, WITHOUT ROWID;
