-- Join tickets: the signing keys every node shares, and the record of redeemed tickets that makes a ticket
-- one-time across nodes.
--
-- A node that finds the newest key too old adds one; keys are deleted once no ticket they signed can still
-- be valid. The private key is PKCS #8 DER and the public key PKIX DER.
CREATE TABLE ticket_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    public_key  BLOB    NOT NULL,
    create_time INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per redeemed ticket (its jti), kept until the ticket's expiry: the primary key is what refuses a
-- second redemption. The retention sweep deletes by expiry.
CREATE TABLE redeemed_tickets (
    id          TEXT    NOT NULL PRIMARY KEY,
    expire_time INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX redeemed_tickets_expire_time_idx ON redeemed_tickets (expire_time);
