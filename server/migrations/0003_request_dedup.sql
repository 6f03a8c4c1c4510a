-- 0003: idempotent writes. A client that lost its session (server restart, resume window
-- expired) resends every request that had not completed, with its ORIGINAL request_uuid. Every
-- write that takes a conversation seq records here, in the same transaction as its change,
-- which seqs it took; a request whose (user_id, request_uuid) is already here is not executed
-- again: the initiator is answered with the stored events of those seqs (same payload, same
-- seq, its request_uuid) and nobody else gets anything.
--
-- Kept small on purpose (one short row appended per write; the events themselves
-- are already in `events`), because every message pays for it on the writer thread.
--
-- Bounded: the writer deletes rows older than DEDUP_RETENTION_SECS (ten minutes,
-- server/src/messaging/store.rs), checked at most once a minute. Rows are appended in time
-- order, so the expired ones are a prefix of the rowid order. A client resends only while a
-- request is pending (its request timeout is 20 s), so that is far more than a resend needs.
-- No secondary index: the writer keeps (user, request_uuid) -> seqs in memory and reads this
-- table back when the server starts.

CREATE TABLE request_log (
    id            INTEGER PRIMARY KEY,       -- append order (= time order)
    user_id       INTEGER NOT NULL REFERENCES users (id),
    request_uuid  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,          -- UNIX seconds, for pruning
    conv_id       INTEGER NOT NULL,          -- the conversation whose seqs the request took
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL
) STRICT;
