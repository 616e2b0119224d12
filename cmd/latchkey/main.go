// Command latchkey runs the Latchkey server; see 'latchkey help'.
package main

import "github.com/latchkeyhq/latchkey"

func main() { latchkey.Run() }
