-- The platform identities an account can be linked to, with Nakama's column and constraint names. Like
-- email and custom_id, each is NULL when unset, so that many accounts can lack it, and UNIQUE, so that an
-- identity names one account: the store maps a violation of users_<column>_key to ErrIdentityTaken.
--
-- A NULL default adds the columns without rewriting the table; building the unique indexes reads it once.
ALTER TABLE users
    ADD COLUMN apple_id                 TEXT,
    ADD COLUMN google_id                TEXT,
    ADD COLUMN gamecenter_id            TEXT,
    ADD COLUMN steam_id                 TEXT,
    ADD COLUMN facebook_id              TEXT,
    ADD COLUMN facebook_instant_game_id TEXT,
    ADD CONSTRAINT users_apple_id_key UNIQUE (apple_id),
    ADD CONSTRAINT users_google_id_key UNIQUE (google_id),
    ADD CONSTRAINT users_gamecenter_id_key UNIQUE (gamecenter_id),
    ADD CONSTRAINT users_steam_id_key UNIQUE (steam_id),
    ADD CONSTRAINT users_facebook_id_key UNIQUE (facebook_id),
    ADD CONSTRAINT users_facebook_instant_game_id_key UNIQUE (facebook_instant_game_id);
