-- The registry of open realtime sockets, the liveness of the nodes that hold them, and the socket command
-- feed, as in the SQLite schema. Constraints are named explicitly because the store maps a violation to an
-- error by the constraint's name.
--
-- sockets.user_id is not a foreign key: a socket row is the registering node's to remove, on its own, and
-- must not block an account's deletion. Nor is sockets.node a foreign key to socket_nodes: a node may
-- register sockets before its first heartbeat, and RemoveNode and RemoveDeadNodes delete a node's sockets
-- themselves. A socket counts only while its node has a socket_nodes row seen recently enough, which
-- UserSockets checks with a join.

CREATE TABLE socket_nodes (
    node      TEXT        NOT NULL,
    seen_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT socket_nodes_pkey PRIMARY KEY (node)
);

CREATE TABLE sockets (
    id          UUID        NOT NULL,
    user_id     UUID        NOT NULL,
    session_id  UUID        NOT NULL,
    node        TEXT        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT sockets_pkey PRIMARY KEY (id)
);

-- UserSockets reads one user's sockets; RemoveNode and RemoveDeadNodes delete one node's.
CREATE INDEX sockets_user_id_idx ON sockets (user_id);
CREATE INDEX sockets_node_idx ON sockets (node);

-- The socket command feed's sequence, for the reason latchkey_feed_counter is the revocation feed's: a
-- SEQUENCE hands out numbers in call order, not commit order, so a reader resuming after the highest seq it
-- saw could skip a command that commits later with a smaller one. Every append adds to this single row and
-- holds its row lock until it commits, so seq increases in commit order and, as the counter only grows, is
-- never reused. It is a row of its own so that socket commands and revocations do not queue on each other.
CREATE TABLE socket_command_counter (
    id  BOOLEAN NOT NULL DEFAULT TRUE,
    seq BIGINT  NOT NULL,
    CONSTRAINT socket_command_counter_pkey PRIMARY KEY (id),
    CONSTRAINT socket_command_counter_one_row CHECK (id)
);

INSERT INTO socket_command_counter (id, seq) VALUES (TRUE, 0);

-- socket_id and user_id are NULL when a command does not name one (a UUID column has no '').
CREATE TABLE socket_commands (
    seq          BIGINT      NOT NULL,
    kind         TEXT        NOT NULL,
    socket_id    UUID,
    user_id      UUID,
    reason       TEXT        NOT NULL DEFAULT '',
    command_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT socket_commands_pkey PRIMARY KEY (seq)
);

-- The retention sweep deletes by time.
CREATE INDEX socket_commands_command_time_idx ON socket_commands (command_time);
