CREATE INDEX sessions_user_id_idx ON sessions (user_id);
DROP INDEX sessions_user_id_live_idx;

-- Back to the unique constraints, whose indexes hold every account.
DROP INDEX users_email_key, users_custom_id_key, users_apple_id_key, users_google_id_key, users_gamecenter_id_key,
    users_steam_id_key, users_facebook_id_key, users_facebook_instant_game_id_key;

ALTER TABLE users
    ADD CONSTRAINT users_email_key UNIQUE (email),
    ADD CONSTRAINT users_custom_id_key UNIQUE (custom_id),
    ADD CONSTRAINT users_apple_id_key UNIQUE (apple_id),
    ADD CONSTRAINT users_google_id_key UNIQUE (google_id),
    ADD CONSTRAINT users_gamecenter_id_key UNIQUE (gamecenter_id),
    ADD CONSTRAINT users_steam_id_key UNIQUE (steam_id),
    ADD CONSTRAINT users_facebook_id_key UNIQUE (facebook_id),
    ADD CONSTRAINT users_facebook_instant_game_id_key UNIQUE (facebook_instant_game_id);
