DROP TABLE socket_commands;
DROP TABLE sockets;
DROP TABLE socket_nodes;
