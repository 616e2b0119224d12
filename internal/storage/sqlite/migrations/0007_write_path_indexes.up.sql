-- The platform identity indexes hold only the accounts that have that identity. A full index has an entry
-- for every account, NULL or not, so creating a device account inserted into six indexes it has nothing
-- in. Uniqueness is the same (NULLs never clash), and a lookup by value (apple_id = ?) can use a partial
-- index whose condition is apple_id IS NOT NULL. A violation still reads "UNIQUE constraint failed:
-- users.apple_id".

DROP INDEX users_apple_id_key;
DROP INDEX users_google_id_key;
DROP INDEX users_gamecenter_id_key;
DROP INDEX users_steam_id_key;
DROP INDEX users_facebook_id_key;
DROP INDEX users_facebook_instant_game_id_key;

CREATE UNIQUE INDEX users_apple_id_key ON users (apple_id) WHERE apple_id IS NOT NULL;
CREATE UNIQUE INDEX users_google_id_key ON users (google_id) WHERE google_id IS NOT NULL;
CREATE UNIQUE INDEX users_gamecenter_id_key ON users (gamecenter_id) WHERE gamecenter_id IS NOT NULL;
CREATE UNIQUE INDEX users_steam_id_key ON users (steam_id) WHERE steam_id IS NOT NULL;
CREATE UNIQUE INDEX users_facebook_id_key ON users (facebook_id) WHERE facebook_id IS NOT NULL;
CREATE UNIQUE INDEX users_facebook_instant_game_id_key ON users (facebook_instant_game_id) WHERE facebook_instant_game_id IS NOT NULL;

-- One index of an account's sessions, newest first, with what the session cap, the cut state and the live
-- list need, in place of the plain account-id index (which the account's deletion also uses): every login
-- counts the account's live sessions to enforce the cap, and this index answers it without reading the
-- sessions' rows, and a login maintains one index on the account id instead of two.
DROP INDEX sessions_user_id_idx;
CREATE INDEX sessions_user_idx ON sessions (user_id, create_time DESC, id DESC, revoke_time, expire_time, generation);
