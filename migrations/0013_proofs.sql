-- Contact methods proven (issue 20): test pages, and what became of each.
--
-- A test page (`oncall test-page`, "Test my pages") sends one notification
-- of kind `test` through the outbox to each of a person's destinations; a
-- proof row follows that notification: sent (the notification's own
-- `state` and `sent_at`), delivered (the provider's status callback, or
-- the acceptance itself where that is all a provider says), and confirmed
-- by the person (the signed link, key 1 on the test call, a reply to the
-- test SMS). The last confirmed proof per person, method and destination
-- is what `oncall check` and the person's page show.
--
-- Times are integer unix seconds, UTC.

-- The outbox learns test pages. SQLite cannot change a CHECK constraint in
-- place: the table is rebuilt with the same rows and ids, the checks in
-- 0008's cheap form; first, while no table references it.
CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER REFERENCES alerts (id),
    kind        TEXT    NOT NULL CHECK (kind = 'page' OR kind = 'handoff' OR kind = 'announce'
                                       OR kind = 'test'),
    person      TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    step        INTEGER,
    round       INTEGER,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state = 'pending' OR state = 'sending' OR state = 'sent'
                                        OR state = 'failed' OR state = 'cancelled'),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER,
    payload     TEXT
) STRICT;
INSERT INTO notifications_new
    (id, alert_id, kind, person, method, destination, step, round, due_at, state, attempts, last_error, sent_at, payload)
    SELECT id, alert_id, kind, person, method, destination, step, round, due_at, state,
    attempts, last_error, sent_at, payload FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_alert ON notifications (alert_id);
CREATE INDEX notifications_announce ON notifications (destination, id)
    WHERE kind = 'announce' AND state IN ('pending', 'sending');

CREATE TABLE test_pages (
    id           INTEGER PRIMARY KEY,
    person       TEXT    NOT NULL,
    -- Who asked: `api` (the shared token), or a person's id.
    requested_by TEXT    NOT NULL,
    requested_at INTEGER NOT NULL
) STRICT;

CREATE TABLE proofs (
    id              INTEGER PRIMARY KEY,
    test_id         INTEGER NOT NULL REFERENCES test_pages (id),
    -- Set in the transaction that makes the proof (the notification's
    -- payload names the proof, so the proof is written first).
    notification_id INTEGER REFERENCES notifications (id),
    person          TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    delivered_at    INTEGER,
    -- The provider's last word on it (`delivered`, `undelivered`,
    -- `completed`, `no-answer`, ...), if it sends one.
    status          TEXT,
    confirmed_at    INTEGER,
    -- How: `link`, `key` (pressed on the call) or `reply` (an SMS).
    confirmed_by    TEXT
) STRICT;
CREATE INDEX proofs_test ON proofs (test_id);
CREATE INDEX proofs_confirmed ON proofs (person, method, destination, confirmed_at)
    WHERE confirmed_at IS NOT NULL;

