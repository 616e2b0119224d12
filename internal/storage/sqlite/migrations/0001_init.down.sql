DROP TABLE session_revocations;
DROP TABLE sessions;
DROP TABLE user_device;
DROP TABLE users;
