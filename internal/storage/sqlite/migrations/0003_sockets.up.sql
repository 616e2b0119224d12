-- The registry of open realtime sockets, the liveness of the nodes that hold them, and the socket command
-- feed, which carries cross-node socket actions (disconnect one socket, keep a single one per user).
--
-- sockets.user_id is not a foreign key: a socket row is the registering node's to remove, on its own, and
-- must not block an account's deletion. Nor is sockets.node a foreign key to socket_nodes: a node may
-- register sockets before its first heartbeat, and RemoveNode and RemoveDeadNodes delete a node's sockets
-- themselves. A socket counts only while its node has a socket_nodes row seen recently enough, which
-- UserSockets checks with a join.

CREATE TABLE socket_nodes (
    node      TEXT    NOT NULL PRIMARY KEY,
    seen_time INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sockets (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    create_time INTEGER NOT NULL
) STRICT;

-- UserSockets reads one user's sockets; RemoveNode and RemoveDeadNodes delete one node's.
CREATE INDEX sockets_user_id_idx ON sockets (user_id);
CREATE INDEX sockets_node_idx ON sockets (node);

-- AUTOINCREMENT guarantees a seq is never reused, even after the newest commands are deleted, which the
-- feed's readers rely on to resume after the last seq they saw; LastSocketCommandSeq reads the highest one
-- from sqlite_sequence. The single writer makes seq order commit order. socket_id and user_id are '' when
-- a command does not name one.
CREATE TABLE socket_commands (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    socket_id    TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT '',
    command_time INTEGER NOT NULL
) STRICT;

-- The retention sweep deletes by time.
CREATE INDEX socket_commands_command_time_idx ON socket_commands (command_time);
