// Command session-vars is a Latchkey server whose module puts session variables into every device login
// and acts on them later: a before-authenticate hook sets the player's region and tier, and a
// before-get-account hook refuses players whose region is blocked. It takes the same flags and
// subcommands as latchkey.
package main

import "github.com/latchkeyhq/latchkey"

func main() { latchkey.Run(InitModule) }
