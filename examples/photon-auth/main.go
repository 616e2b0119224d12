// Command photon-auth is a Latchkey server that is a Photon custom-authentication provider: Photon calls
// the photon_auth RPC with the player's Latchkey session token, and the answer tells Photon who the player
// is. It takes the same flags and subcommands as latchkey.
package main

import "github.com/latchkeyhq/latchkey"

func main() { latchkey.Run(InitModule) }
