-- The same tables and semantics as the SQLite schema, in PostgreSQL types. Times are TIMESTAMPTZ, written
-- at millisecond precision by the store; optional times are NULL when unset. Optional text columns that take
-- part in a UNIQUE constraint (email, custom_id) are NULL when unset so that many accounts can lack them;
-- the other optional text columns are '' when unset. Constraints are named explicitly because the store
-- maps a violation to an error by the constraint's name.
--
-- metadata and wallet are TEXT rather than JSONB: the contract hands them back byte for byte, and JSONB
-- would reformat them (key order, spacing). Callers validate them as JSON objects.

CREATE TABLE users (
    id           UUID        NOT NULL,
    username     TEXT        NOT NULL, -- deterministic collation: exact, case-sensitive equality
    display_name TEXT        NOT NULL DEFAULT '',
    avatar_url   TEXT        NOT NULL DEFAULT '',
    lang_tag     TEXT        NOT NULL DEFAULT 'en',
    location     TEXT        NOT NULL DEFAULT '',
    timezone     TEXT        NOT NULL DEFAULT '',
    metadata     TEXT        NOT NULL DEFAULT '{}',
    wallet       TEXT        NOT NULL DEFAULT '{}',
    email        TEXT,
    password     BYTEA,
    custom_id    TEXT,
    create_time  TIMESTAMPTZ NOT NULL,
    update_time  TIMESTAMPTZ NOT NULL,
    verify_time  TIMESTAMPTZ,
    disable_time TIMESTAMPTZ,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_custom_id_key UNIQUE (custom_id)
);

CREATE TABLE user_device (
    id      TEXT NOT NULL,
    user_id UUID NOT NULL,
    CONSTRAINT user_device_pkey PRIMARY KEY (id),
    CONSTRAINT user_device_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX user_device_user_id_idx ON user_device (user_id);

CREATE TABLE sessions (
    id            UUID        NOT NULL,
    user_id       UUID        NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL,
    refresh_time  TIMESTAMPTZ NOT NULL,
    expire_time   TIMESTAMPTZ NOT NULL,
    revoke_time   TIMESTAMPTZ,
    revoke_reason TEXT        NOT NULL DEFAULT '',
    refresh_seq   BIGINT      NOT NULL DEFAULT 0,
    vars          JSONB, -- object of strings; NULL when there are none
    user_agent    TEXT        NOT NULL DEFAULT '',
    client_ip     TEXT        NOT NULL DEFAULT '',
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expire_time_idx ON sessions (expire_time);

-- The revocation feed's sequence. A SEQUENCE or identity column hands out numbers in call order, not commit
-- order, so a reader resuming after the highest seq it saw could skip an entry that commits later with a
-- smaller one. Every transaction that appends to the feed instead adds to this single row, whose row lock it
-- then holds until it commits: appends are serialized, and seq increases in commit order. The counter only
-- grows, so a seq is never reused, even after the newest entries are deleted.
CREATE TABLE latchkey_feed_counter (
    id  BOOLEAN NOT NULL DEFAULT TRUE,
    seq BIGINT  NOT NULL,
    CONSTRAINT latchkey_feed_counter_pkey PRIMARY KEY (id),
    CONSTRAINT latchkey_feed_counter_one_row CHECK (id)
);

INSERT INTO latchkey_feed_counter (id, seq) VALUES (TRUE, 0);

CREATE TABLE session_revocations (
    seq         BIGINT      NOT NULL,
    session_id  UUID        NOT NULL,
    user_id     UUID        NOT NULL,
    expire_time TIMESTAMPTZ NOT NULL,
    revoke_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT session_revocations_pkey PRIMARY KEY (seq)
);

CREATE INDEX session_revocations_expire_time_idx ON session_revocations (expire_time);
