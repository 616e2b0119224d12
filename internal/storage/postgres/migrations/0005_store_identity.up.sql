-- The store's identity: a random id made once, when this migration first runs. Every token the store's
-- sessions issue carries it as its sid claim, so that tokens minted against another store, or against this
-- database before it was wiped and created afresh, are refused. check_time is the last readiness write
-- probe; the CHECK keeps the table to one row.
CREATE TABLE store_identity (
    singleton   BOOLEAN     NOT NULL DEFAULT TRUE PRIMARY KEY CHECK (singleton),
    id          UUID        NOT NULL DEFAULT gen_random_uuid(),
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    check_time  TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO store_identity DEFAULT VALUES;
