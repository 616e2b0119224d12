-- Join tickets: the signing keys every node shares, and the record of redeemed tickets that makes a ticket
-- one-time across nodes, as in the SQLite schema.
--
-- A node that finds the newest key too old adds one; keys are deleted once no ticket they signed can still
-- be valid. The private key is PKCS #8 DER and the public key PKIX DER. Ids are TEXT, not UUID: a key id is
-- any text, and a ticket's id is whatever its (verified) jti claim says.
CREATE TABLE ticket_keys (
    id          TEXT        NOT NULL,
    algorithm   TEXT        NOT NULL,
    private_key BYTEA       NOT NULL,
    public_key  BYTEA       NOT NULL,
    create_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT ticket_keys_pkey PRIMARY KEY (id)
);

-- One row per redeemed ticket, kept until the ticket's expiry: the primary key is what refuses a second
-- redemption, on any node. The retention sweep deletes by expiry.
CREATE TABLE redeemed_tickets (
    id          TEXT        NOT NULL,
    expire_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT redeemed_tickets_pkey PRIMARY KEY (id)
);

CREATE INDEX redeemed_tickets_expire_time_idx ON redeemed_tickets (expire_time);
