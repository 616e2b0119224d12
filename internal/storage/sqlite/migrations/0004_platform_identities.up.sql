-- The platform identities an account can be linked to, with Nakama's column names. Like email and
-- custom_id, each is NULL when unset, so that many accounts can lack it, and unique, so that an identity
-- names one account. SQLite cannot add a column with a UNIQUE constraint, so a unique index stands in for
-- it; a violation reads the same ("UNIQUE constraint failed: users.apple_id").

ALTER TABLE users ADD COLUMN apple_id TEXT;
ALTER TABLE users ADD COLUMN google_id TEXT;
ALTER TABLE users ADD COLUMN gamecenter_id TEXT;
ALTER TABLE users ADD COLUMN steam_id TEXT;
ALTER TABLE users ADD COLUMN facebook_id TEXT;
ALTER TABLE users ADD COLUMN facebook_instant_game_id TEXT;

CREATE UNIQUE INDEX users_apple_id_key ON users (apple_id);
CREATE UNIQUE INDEX users_google_id_key ON users (google_id);
CREATE UNIQUE INDEX users_gamecenter_id_key ON users (gamecenter_id);
CREATE UNIQUE INDEX users_steam_id_key ON users (steam_id);
CREATE UNIQUE INDEX users_facebook_id_key ON users (facebook_id);
CREATE UNIQUE INDEX users_facebook_instant_game_id_key ON users (facebook_instant_game_id);
