-- The store's identity: a random id (a version 4 UUID) made once, when this migration first runs. Every
-- token the store's sessions issue carries it as its sid claim, so that tokens minted against another store,
-- or against this file before it was lost and created afresh, are refused. The data directory keeps a copy
-- in latchkey.db.id, which is how a start notices that the database it finds is not the one it had.
-- check_time is the last readiness write probe; the CHECK keeps the table to one row.
CREATE TABLE store_identity (
    singleton   INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    id          TEXT    NOT NULL,
    create_time INTEGER NOT NULL,
    check_time  INTEGER NOT NULL
) STRICT;

INSERT INTO store_identity (singleton, id, create_time, check_time)
SELECT 1,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' ||
           substr('89ab', 1 + (unicode(substr(h, 17, 1)) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12),
       ms, ms
FROM (SELECT lower(hex(randomblob(16))) AS h, CAST(unixepoch('subsec') * 1000 AS INTEGER) AS ms);
