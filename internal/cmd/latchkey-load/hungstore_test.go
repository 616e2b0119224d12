package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// TestHungStore freezes the server's database for 4 s under a login and refresh load: every request sent
// meanwhile gets an answer, 503/14 with Retry-After before the 2 s write timeout (or 200 once thawed), and
// the server serves again by itself after the thaw.
func TestHungStore(t *testing.T) {
	db := pgtest.NewDatabase(t)
	proxyAddr := freeAddr(t)
	ln := listenLoopback(t)
	base := "http://" + ln.Addr().String()

	var res hungStoreResult
	code, out, errOut := runBeside(t, []string{"--url", base, "--scenario", "hung-store", "--concurrency", "4",
		"--requests", "200", "--store-proxy-listen", proxyAddr, "--store-proxy-upstream", hostOf(t, db),
		"--freeze", "4s", "--recover", "3s", "--write-timeout", "2s", "--timeout", "5s", "--json"},
		func() { serveOn(t, ln, viaProxy(t, db, proxyAddr), 2000) })
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\nstderr: %s", code, err, out, errOut)
	}
	if code != 0 {
		t.Fatalf("exit %d, result %+v, stderr %s", code, res, errOut)
	}
	if res.Baseline.Requests != 200 || res.Baseline.Succeeded != 200 || res.Baseline.StoppedBy != "requests" {
		t.Errorf("baseline %+v, want 200 requests, all succeeded", res.Baseline)
	}
	// Each of the 4 workers sends at once when the freeze begins, and again after each 503 at 1.5 s (the
	// request deadline for a 2 s write timeout); the requests under way at the thaw succeed.
	f := res.Freeze
	if f.Dropped != 0 || res.Unavailable < 4 || res.Unavailable+f.Status["200"] != f.Requests {
		t.Errorf("freeze %+v with %d 503/14; want every request answered, at least 4 with 503/14, the rest 200", f, res.Unavailable)
	}
	if res.Late != 0 || f.MaxMs >= 2000 || res.NoRetryAfter != 0 {
		t.Errorf("freeze: %d late, max %.1f ms, %d 503 without Retry-After; want all before the 2 s write timeout, with Retry-After",
			res.Late, f.MaxMs, res.NoRetryAfter)
	}
	if res.DeadlineS != 1.5 || f.ElapsedS < 4 {
		t.Errorf("freeze of %.3fs, request deadline %.1fs; want 4 s and 1.5 s", f.ElapsedS, res.DeadlineS)
	}
	if !res.Recovered || res.FirstSuccessMs > 2000 || res.After.Requests == 0 || res.FailedAfterFirstSuccess != 0 || res.SuccessRateAfter <= 0 {
		t.Errorf("after the thaw: recovered %v in %.1f ms, %+v, %d failed after the first success", res.Recovered,
			res.FirstSuccessMs, res.After, res.FailedAfterFirstSuccess)
	}
	if res.Proxy.Accepted == 0 || res.Proxy.Refused != 0 {
		t.Errorf("proxy %+v", res.Proxy)
	}
}

// TestHungStoreNeedsTheProxy: a server that reaches its database directly is found out before the freeze.
func TestHungStoreNeedsTheProxy(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ln := listenLoopback(t)
	serveOn(t, ln, db, 2000)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--url", "http://" + ln.Addr().String(), "--scenario", "hung-store",
		"--concurrency", "2", "--store-proxy-listen", freeAddr(t), "--store-proxy-upstream", hostOf(t, db),
		"--write-timeout", "2s", "--timeout", "5s", "--setup-timeout", "10s"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "not connected through the store proxy") {
		t.Fatalf("run = %d, stderr %q; want 1 and a store proxy error", code, errOut.String())
	}
}

func TestHungStoreFlags(t *testing.T) {
	ok := []string{"--scenario", "hung-store", "--store-proxy-listen", "127.0.0.1:6433", "--store-proxy-upstream",
		"127.0.0.1:5432", "--timeout", "15s"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--store-proxy-listen", "10.0.0.1:6433"}, "--store-proxy-listen"},
		{[]string{"--store-proxy-listen", "localhost:6433"}, "--store-proxy-listen"},
		{[]string{"--store-proxy-upstream", "192.0.2.1:5432"}, "not loopback"},
		{[]string{"--store-proxy-upstream", "[::1]:0"}, "port other than 0"},
		{[]string{"--store-proxy-upstream", "127.0.0.1:6433"}, "must differ"},
		{[]string{"--timeout", "10s"}, "must exceed --write-timeout"},
		{[]string{"--freeze", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		// Later flags win, so each case overrides one of ok.
		code := run(context.Background(), append(append([]string{}, ok...), tt.args...), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: run = %d, stderr %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

// runBeside runs the tool with args and, once it has written its first line to stderr (its store proxy
// then listens), calls start; it returns the exit code, stdout and stderr.
func runBeside(t *testing.T, args []string, start func()) (int, []byte, string) {
	t.Helper()
	var out bytes.Buffer
	errOut := &signalWriter{ready: make(chan struct{})}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), args, &out, errOut) }()
	select {
	case <-errOut.ready:
		start()
	case code := <-done:
		t.Fatalf("exit %d before the server started: %s", code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the tool wrote nothing within 10 s")
	}
	code := <-done
	return code, out.Bytes(), errOut.String()
}

// signalWriter is a buffer safe for concurrent use that closes ready at its first write.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.ready) })
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// serveOn serves a server on PostgreSQL at dbURL on ln, with the request deadline and write timeout of
// writeTimeoutMs, the per-address rate limits off, until the test ends.
func serveOn(t *testing.T, ln net.Listener, dbURL string, writeTimeoutMs int) {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Database.Address = config.StringList{dbURL}
	cfg.Socket.WriteTimeoutMs = writeTimeoutMs
	cfg.Limits.AuthRatePerSec, cfg.Limits.RefreshRatePerSec = 0, 0
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Logf("serve: %v", err)
		}
		srv.Close()
	})
}

// listenLoopback listens on a free loopback port until the test ends.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// hostOf returns the host:port of a postgres:// URL.
func hostOf(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// viaProxy returns dbURL with its host:port replaced by proxy.
func viaProxy(t *testing.T, dbURL, proxy string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy
	return u.String()
}
