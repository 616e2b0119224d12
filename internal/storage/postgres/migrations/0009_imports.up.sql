-- Imports from another server (Nakama): per source (a hash of its address, without the password), the id of
-- the last account fully imported, which an interrupted import resumes after, as in the SQLite schema.
CREATE TABLE imports (
    source      TEXT        NOT NULL,
    last_id     TEXT        NOT NULL,
    update_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT imports_pkey PRIMARY KEY (source)
);
