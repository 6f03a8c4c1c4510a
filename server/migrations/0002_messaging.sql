-- 0002: the Messenger — conversations, participants, the per-conversation event log, messages,
-- subscriptions and notification settings. User custom data and private custom data live in the
-- `users` table (0001).
--
-- Invariants (kept by the single messaging writer, server/src/messaging/store.rs):
-- * conversations.last_seq is the highest seq in `events` for that conversation; seqs are
--   1, 2, 3, … with no gaps (a rejected request rolls back its savepoint, so it takes no seq).
-- * a participant row exists for everyone who ever was a participant; `active` = 1 while they are
--   one. Rows with active = 0 of conversations that are not removed are the user's
--   `leave_conversations`.

CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT    NOT NULL UNIQUE,
    creator_id      INTEGER NOT NULL REFERENCES users (id),
    account_id      INTEGER NOT NULL REFERENCES accounts (id),   -- the creator's account
    root_account_id INTEGER NOT NULL REFERENCES accounts (id),   -- top of that account's tree
    title           TEXT    NOT NULL,
    direct          INTEGER NOT NULL,
    public_join     INTEGER NOT NULL,
    uber            INTEGER NOT NULL,
    custom_data     TEXT    NOT NULL,                            -- JSON object
    created_at      INTEGER NOT NULL,                            -- UNIX seconds
    last_update     INTEGER NOT NULL,
    last_seq        INTEGER NOT NULL,
    removed         INTEGER NOT NULL DEFAULT 0,
    direct_key      TEXT    UNIQUE                               -- "<min id>:<max id>" for direct ones
) STRICT;

CREATE INDEX conversations_public ON conversations (public_join, removed, root_account_id);

CREATE TABLE participants (
    conv_id    INTEGER NOT NULL REFERENCES conversations (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    flags      INTEGER NOT NULL,
    last_read  INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL,
    joined_at  INTEGER NOT NULL,      -- order of the participants list
    PRIMARY KEY (conv_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX participants_by_user ON participants (user_id, active);

-- Participation periods, for uber conversations: a user sees events with
-- from_seq <= seq <= to_seq (to_seq NULL while still a participant).
CREATE TABLE participation (
    conv_id   INTEGER NOT NULL REFERENCES conversations (id),
    user_id   INTEGER NOT NULL REFERENCES users (id),
    from_seq  INTEGER NOT NULL,
    to_seq    INTEGER
) STRICT;

CREATE INDEX participation_by_conv_user ON participation (conv_id, user_id);

-- Every event that took a seq, exactly as it was sent live (event name + payload JSON without
-- the envelope), so retransmission replays history byte for byte.
CREATE TABLE events (
    conv_id  INTEGER NOT NULL REFERENCES conversations (id),
    seq      INTEGER NOT NULL,
    event    TEXT    NOT NULL,
    payload  TEXT    NOT NULL,
    PRIMARY KEY (conv_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE messages (
    uuid        TEXT    PRIMARY KEY,
    conv_id     INTEGER NOT NULL REFERENCES conversations (id),
    seq         INTEGER NOT NULL,          -- seq of the onSendMessage event
    sender_id   INTEGER NOT NULL REFERENCES users (id),
    text        TEXT,
    payload     TEXT    NOT NULL,          -- JSON array of objects
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    removed     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE subscriptions (
    subscriber_id  INTEGER NOT NULL REFERENCES users (id),
    target_id      INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (subscriber_id, target_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX subscriptions_by_target ON subscriptions (target_id, subscriber_id);

-- Push notification events a user asked for (MsgEvent names, JSON array).
CREATE TABLE notification_settings (
    user_id  INTEGER PRIMARY KEY REFERENCES users (id),
    events   TEXT    NOT NULL
) STRICT;
