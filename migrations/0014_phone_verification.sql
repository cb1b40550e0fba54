-- Phone numbers proven (issue 20): each (person, number) from people.yaml
-- that was sent a verification code. Only a keyed digest of the pending
-- code is kept (HMAC-SHA256 under the link secret, over the person, the
-- number and the code), never the code: a copy of the database alone
-- cannot be tried against a million codes offline.
--
-- `sent_at` is when the last code went (at most one an hour per number);
-- `expires_at` when the pending code stops counting; `wrong` the wrong
-- entries since the last lock, by the web page and by SMS together;
-- `locked_until` the end of a lock after three wrong entries (pages to the
-- number still go out); `verified_at` when the right code came back. Times
-- are integer unix seconds, UTC.
--
-- Numbered 0014: 0012 and 0013 are taken by work merged beside this.

CREATE TABLE phone_verifications (
    person       TEXT    NOT NULL,
    phone        TEXT    NOT NULL,
    code_digest  TEXT,
    sent_at      INTEGER,
    expires_at   INTEGER,
    wrong        INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    verified_at  INTEGER,
    PRIMARY KEY (person, phone)
) STRICT;
