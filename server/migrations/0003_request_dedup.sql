-- 0003: idempotent writes. A client that lost its session (server restart, resume window
-- expired) resends every request that had not completed, with its ORIGINAL request_uuid. Every
-- write that takes a conversation seq records here, in the same transaction as its change,
-- what it answered its initiator; a request whose (user_id, request_uuid) is already here is
-- not executed again: the initiator gets the recorded reply frames (same payload, same seq, its
-- request_uuid) and nobody else gets anything.
--
-- Bounded: the writer deletes rows older than DEDUP_RETENTION_SECS (one hour,
-- server/src/messaging/store.rs), checked at most once a minute. A client resends only while a
-- request is pending (its request timeout is 20 s), so an hour is far more than a resend needs.

CREATE TABLE request_log (
    user_id       INTEGER NOT NULL REFERENCES users (id),
    request_uuid  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,          -- UNIX seconds, for pruning
    conv_id       INTEGER,                   -- the conversation whose seq(s) the request took
    first_seq     INTEGER,                   -- the seq range it took (NULL when none, e.g. an
    last_seq      INTEGER,                   -- existing direct conversation was returned)
    replies       TEXT    NOT NULL,          -- JSON [[event name, payload], …] sent to the initiator
    PRIMARY KEY (user_id, request_uuid)
) STRICT, WITHOUT ROWID;

CREATE INDEX request_log_by_age ON request_log (created_at);
