-- Times are INTEGER unix milliseconds; optional times are NULL when unset. Optional text columns that take
-- part in a UNIQUE constraint (email, custom_id) are NULL when unset so that many accounts can lack them;
-- the other optional text columns are '' when unset so that rows scan without NULL handling.
-- STRICT makes SQLite reject a value of the wrong type instead of silently storing it.

CREATE TABLE users (
    id           TEXT    NOT NULL PRIMARY KEY,
    username     TEXT    NOT NULL UNIQUE, -- BINARY collation: exact, case-sensitive
    display_name TEXT    NOT NULL DEFAULT '',
    avatar_url   TEXT    NOT NULL DEFAULT '',
    lang_tag     TEXT    NOT NULL DEFAULT 'en',
    location     TEXT    NOT NULL DEFAULT '',
    timezone     TEXT    NOT NULL DEFAULT '',
    metadata     TEXT    NOT NULL DEFAULT '{}',
    wallet       TEXT    NOT NULL DEFAULT '{}',
    email        TEXT    UNIQUE,
    password     BLOB,
    custom_id    TEXT    UNIQUE,
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    verify_time  INTEGER,
    disable_time INTEGER
) STRICT;

-- Devices are few and small per account, so the table is clustered on the device id.
CREATE TABLE user_device (
    id      TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX user_device_user_id_idx ON user_device (user_id);

CREATE TABLE sessions (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    create_time   INTEGER NOT NULL,
    refresh_time  INTEGER NOT NULL,
    expire_time   INTEGER NOT NULL,
    revoke_time   INTEGER,
    revoke_reason TEXT    NOT NULL DEFAULT '',
    refresh_seq   INTEGER NOT NULL DEFAULT 0,
    vars          TEXT, -- JSON object of strings; NULL when there are none
    user_agent    TEXT    NOT NULL DEFAULT '',
    client_ip     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expire_time_idx ON sessions (expire_time);

-- AUTOINCREMENT guarantees a seq is never reused, even after the newest entries are deleted, which the
-- feed's readers rely on to resume after the last seq they saw.
CREATE TABLE session_revocations (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    expire_time INTEGER NOT NULL,
    revoke_time INTEGER NOT NULL
) STRICT;

CREATE INDEX session_revocations_expire_time_idx ON session_revocations (expire_time);
