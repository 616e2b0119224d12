// Command rename-token is a Latchkey server with an update_username RPC that renames the caller and hands
// back a session token whose usn is the new name, so a game client can switch names without logging in
// again. It takes the same flags and subcommands as latchkey.
package main

import "github.com/latchkeyhq/latchkey"

func main() { latchkey.Run(InitModule) }
