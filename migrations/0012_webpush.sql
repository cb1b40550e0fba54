-- Web Push subscriptions (issue 20): each browser or phone a person turned
-- push on for, as its push service gave it (RFC 8030 endpoint, RFC 8291
-- keys). A person may have several. The endpoint is unique: the same
-- device subscribing again replaces its row. A row is removed when the
-- person turns it off or the push service answers 404/410 for it.
--
-- `p256dh` and `auth` are base64url (no padding), as browsers give them.
-- Times are integer unix seconds, UTC.

CREATE TABLE webpush_subscriptions (
    id         INTEGER PRIMARY KEY,
    person     TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL UNIQUE,
    p256dh     TEXT    NOT NULL,
    auth       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webpush_subscriptions_person ON webpush_subscriptions (person);
