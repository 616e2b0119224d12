-- SQLite refuses to drop an indexed column, so the indexes go first.
DROP INDEX users_apple_id_key;
DROP INDEX users_google_id_key;
DROP INDEX users_gamecenter_id_key;
DROP INDEX users_steam_id_key;
DROP INDEX users_facebook_id_key;
DROP INDEX users_facebook_instant_game_id_key;

ALTER TABLE users DROP COLUMN apple_id;
ALTER TABLE users DROP COLUMN google_id;
ALTER TABLE users DROP COLUMN gamecenter_id;
ALTER TABLE users DROP COLUMN steam_id;
ALTER TABLE users DROP COLUMN facebook_id;
ALTER TABLE users DROP COLUMN facebook_instant_game_id;
