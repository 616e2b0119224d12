DROP TABLE session_revocations;
DROP TABLE latchkey_feed_counter;
DROP TABLE sessions;
DROP TABLE user_device;
DROP TABLE users;
