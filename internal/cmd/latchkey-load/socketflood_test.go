package main

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// serveWith runs a server as `latchkey serve` does (its realtime hub registered as a live node, which
// the per-user socket cap needs to see the node's sockets) and returns its base URL.
func serveWith(t *testing.T, set func(*config.Config)) string {
	t.Helper()
	cfg := servertest.Config(t)
	set(&cfg)
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url, _ := servertest.Run(t, srv)
	return url
}

// TestSocketFlood floods a server whose handshake limit is a burst of 20 and whose per-user cap is 4:
// about 20 handshakes are upgraded, the rest refused 429, the server closes every upgraded socket but the
// newest 4 ("1000 socket cap"), and 4 are open at the end.
func TestSocketFlood(t *testing.T) {
	url := serveWith(t, func(cfg *config.Config) {
		cfg.Socket.MaxSocketsPerUser = 4
		cfg.Limits.SocketRatePerSec, cfg.Limits.SocketBurst = 1, 20
	})
	args := []string{"--url", url, "--scenario", "socket-flood", "--requests", "40", "--concurrency", "4",
		"--max-user-sockets", "4", "--json"}
	if runtime.GOOS == "linux" { // the server runs in this process
		args = append(args, "--server-pid", strconv.Itoa(os.Getpid()))
	}
	var res socketFloodResult
	if code := runJSON(t, args, &res); code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Handshakes != 40 || res.Upgraded < 20 || res.Upgraded > 25 || res.Refused != 40-res.Upgraded ||
		res.Status["429"] != res.Refused || res.Dropped != 0 {
		t.Errorf("got %+v, want 40 handshakes: about 20 upgraded, the rest 429", res)
	}
	if res.OpenAtEnd != 4 || res.ClosedByServer["1000 socket cap"] != res.Upgraded-4 || len(res.ClosedByServer) != 1 {
		t.Errorf("%d open at the end, closed by the server %v; want 4 open and the other %d closed for the cap",
			res.OpenAtEnd, res.ClosedByServer, res.Upgraded-4)
	}
	if res.Source != "127.0.0.2" || res.PeakOpen < 4 || res.CloseErrors != 0 {
		t.Errorf("source %q, peak %d, close errors %d", res.Source, res.PeakOpen, res.CloseErrors)
	}
	if runtime.GOOS == "linux" && (res.ServerRSS == nil || res.ServerRSS.BeforeKiB <= 0 || res.ServerRSS.EndKiB <= 0) {
		t.Errorf("server memory: %+v", res.ServerRSS)
	}
}

// TestSocketFloodNodeCap: with the per-address limit and the per-user cap off, the node's cap refuses
// every handshake beyond it with 503.
func TestSocketFloodNodeCap(t *testing.T) {
	url := serveWith(t, func(cfg *config.Config) {
		cfg.Socket.MaxSockets, cfg.Socket.MaxSocketsPerUser, cfg.Limits.SocketRatePerSec = 5, 0, 0
	})
	var res socketFloodResult
	code := runJSON(t, []string{"--url", url, "--scenario", "socket-flood", "--requests", "20", "--concurrency", "4",
		"--max-user-sockets", "0", "--json"}, &res)
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.Upgraded != 5 || res.Status["503"] != 15 || res.OpenAtEnd != 5 || len(res.ClosedByServer) != 0 {
		t.Errorf("got %+v, want 5 upgraded and open, 15 refused 503", res)
	}
}

// TestSocketFloodAboveCapFails: more sockets open at the end than --max-user-sockets fails the run.
func TestSocketFloodAboveCapFails(t *testing.T) {
	url := serveWith(t, func(cfg *config.Config) { cfg.Socket.MaxSocketsPerUser = 0 })
	var res socketFloodResult
	code := runJSON(t, []string{"--url", url, "--scenario", "socket-flood", "--requests", "10", "--concurrency", "2",
		"--max-user-sockets", "3", "--json"}, &res)
	if code != 1 || res.OpenAtEnd != 10 {
		t.Fatalf("exit %d with %d open; want 1 with 10 open above --max-user-sockets 3", code, res.OpenAtEnd)
	}
}

func TestSocketFloodFlags(t *testing.T) {
	runFlagCases(t, "socket-flood", "--requests", []flagCase{
		{"negative cap", []string{"--max-user-sockets", "-1"}, "--max-user-sockets must not be negative"},
		{"too many sockets", []string{"--requests", "2000000"}, "--requests must be at most"},
	})
}
