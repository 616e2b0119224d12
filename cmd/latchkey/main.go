// Command latchkey runs the Latchkey server; see 'latchkey help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/latchkeyhq/latchkey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := latchkey.New(latchkey.Options{}).Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
