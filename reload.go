package latchkey

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/latchkeyhq/latchkey/internal/server"
)

// hangups returns the process's SIGHUPs, which from then on no longer end it: Run hands them to serve,
// which reloads the TLS certificate on each (systemd's ExecReload sends one).
func hangups() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c
}

// reloadOnSignal reloads srv's TLS certificate on each signal from sig (ReloadTLS logs the outcome), until
// the function it returns is called.
func reloadOnSignal(sig <-chan os.Signal, srv *server.Server) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sig:
				srv.ReloadTLS()
			}
		}
	}()
	return func() { close(done) }
}
