-- Imports from another server (Nakama): per source (a hash of its address, without the password), the id of
-- the last account fully imported, which an interrupted import resumes after.
CREATE TABLE imports (
    source      TEXT    NOT NULL PRIMARY KEY,
    last_id     TEXT    NOT NULL,
    update_time INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
