DROP TABLE socket_commands;
DROP TABLE socket_command_counter;
DROP TABLE sockets;
DROP TABLE socket_nodes;
