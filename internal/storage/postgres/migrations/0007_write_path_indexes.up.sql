-- Indexes that cost logins less, without changing what the constraints allow.
--
-- The identity columns' unique constraints become partial unique indexes of the same names, which hold
-- only the accounts that have the identity. A UNIQUE constraint indexes NULLs too, so every account paid
-- for eight index entries it never uses, one per identity it lacks: creating a device account wrote ten
-- index entries into users where two (its id and username) are needed. NULLs never clash, so uniqueness
-- is unchanged, and PostgreSQL names the index in a unique violation as it named the constraint, which is
-- how the store tells the clashes apart. Lookups by identity (column = $1) imply IS NOT NULL, so they still
-- use the indexes, generic plans included.
ALTER TABLE users
    DROP CONSTRAINT users_email_key,
    DROP CONSTRAINT users_custom_id_key,
    DROP CONSTRAINT users_apple_id_key,
    DROP CONSTRAINT users_google_id_key,
    DROP CONSTRAINT users_gamecenter_id_key,
    DROP CONSTRAINT users_steam_id_key,
    DROP CONSTRAINT users_facebook_id_key,
    DROP CONSTRAINT users_facebook_instant_game_id_key;

CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_custom_id_key ON users (custom_id) WHERE custom_id IS NOT NULL;
CREATE UNIQUE INDEX users_apple_id_key ON users (apple_id) WHERE apple_id IS NOT NULL;
CREATE UNIQUE INDEX users_google_id_key ON users (google_id) WHERE google_id IS NOT NULL;
CREATE UNIQUE INDEX users_gamecenter_id_key ON users (gamecenter_id) WHERE gamecenter_id IS NOT NULL;
CREATE UNIQUE INDEX users_steam_id_key ON users (steam_id) WHERE steam_id IS NOT NULL;
CREATE UNIQUE INDEX users_facebook_id_key ON users (facebook_id) WHERE facebook_id IS NOT NULL;
CREATE UNIQUE INDEX users_facebook_instant_game_id_key ON users (facebook_instant_game_id)
    WHERE facebook_instant_game_id IS NOT NULL;

-- A user's sessions are read by the statements that look at the live ones (a login's session cap, account
-- cuts, the session list), whose conditions are user_id = $1 AND revoke_time IS NULL AND expire_time > $2,
-- and by the deletion of the account (ON DELETE CASCADE: user_id alone). One index on the three columns
-- serves both, and lets the live-session statements read the live sessions alone, where the index on
-- user_id made them visit every revoked and expired session the retention sweep had not yet removed: a
-- user at a session cap of 100 who logs in often has hundreds. It also keeps PostgreSQL from answering
-- expire_time > $2 with sessions_expire_time_idx (a BitmapAnd that reads a large part of that index): the
-- generic plan of a prepared statement cannot tell how many sessions the bound matches, and took it when a
-- user has many sessions.
--
-- The index costs a session insert what the one on user_id did. A refresh moves expire_time, which
-- sessions_expire_time_idx already makes it write to every index; a revocation now does as well, where it
-- could be a heap-only update before. Each index is built from one read of the table.
CREATE INDEX sessions_user_id_live_idx ON sessions (user_id, revoke_time, expire_time);
DROP INDEX sessions_user_id_idx;
