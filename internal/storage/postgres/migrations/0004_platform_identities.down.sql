-- Dropping a column drops its unique constraint with it.
ALTER TABLE users
    DROP COLUMN apple_id,
    DROP COLUMN google_id,
    DROP COLUMN gamecenter_id,
    DROP COLUMN steam_id,
    DROP COLUMN facebook_id,
    DROP COLUMN facebook_instant_game_id;
