-- 0001: accounts, applications, users, tokens, one-time login keys.
--
-- Applied by SqliteStore::open inside one transaction, which also sets PRAGMA user_version = 1.
-- Migrations are append-only: never edit a released file, add 0002_….sql instead.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    parent_id   INTEGER REFERENCES accounts (id),
    created_at  INTEGER NOT NULL            -- UNIX seconds
) STRICT;

CREATE TABLE apps (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
) STRICT;

-- id is the IM (messaging) user id. AUTOINCREMENT: an id is never handed out twice, and rows are
-- never removed anyway (deleted users stay, flagged, because the protocol reports them).
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id               INTEGER NOT NULL REFERENCES apps (id),
    name                 TEXT    NOT NULL,            -- the short name, before the '@'
    display_name         TEXT    NOT NULL,
    md5_digest           TEXT    NOT NULL,            -- password-equivalent, see store/mod.rs
    sha256_digest        TEXT    NOT NULL,            -- password-equivalent
    custom_data          TEXT    NOT NULL DEFAULT '{}',   -- JSON object
    private_custom_data  TEXT    NOT NULL DEFAULT '{}',   -- JSON object
    deleted              INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    UNIQUE (app_id, name)
) STRICT;

-- The first user gets id 1001, like the examples in the protocol documentation.
INSERT INTO sqlite_sequence (name, seq) VALUES ('users', 1000);

-- Access and refresh tokens, by the SHA-256 hex hash of the secret value.
CREATE TABLE tokens (
    hash          TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at    INTEGER NOT NULL,           -- UNIX seconds
    device_token  TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX tokens_by_user ON tokens (user_id);

-- At most one live one-time login key per user: a newer key replaces the older one.
CREATE TABLE one_time_keys (
    user_id     INTEGER PRIMARY KEY REFERENCES users (id),
    key         TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
