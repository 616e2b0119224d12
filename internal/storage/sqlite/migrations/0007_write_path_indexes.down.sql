DROP INDEX sessions_user_idx;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

DROP INDEX users_apple_id_key;
DROP INDEX users_google_id_key;
DROP INDEX users_gamecenter_id_key;
DROP INDEX users_steam_id_key;
DROP INDEX users_facebook_id_key;
DROP INDEX users_facebook_instant_game_id_key;

CREATE UNIQUE INDEX users_apple_id_key ON users (apple_id);
CREATE UNIQUE INDEX users_google_id_key ON users (google_id);
CREATE UNIQUE INDEX users_gamecenter_id_key ON users (gamecenter_id);
CREATE UNIQUE INDEX users_steam_id_key ON users (steam_id);
CREATE UNIQUE INDEX users_facebook_id_key ON users (facebook_id);
CREATE UNIQUE INDEX users_facebook_instant_game_id_key ON users (facebook_instant_game_id);
