package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
)

func TestLoopbackBase(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" when refused
	}{
		{"http://127.0.0.1:7350", "http://127.0.0.1:7350"},
		{"http://127.0.0.1:7350/", "http://127.0.0.1:7350"},
		{"http://127.45.6.7:80", "http://127.45.6.7:80"},
		{"https://127.0.0.1", "https://127.0.0.1"},
		{"http://[::1]:7350", "http://[::1]:7350"},
		{"http://localhost:7350", "http://localhost:7350"},
		{"http://LocalHost:7350", "http://LocalHost:7350"},
		{"http://[::ffff:127.0.0.1]:7350", "http://[::ffff:127.0.0.1]:7350"},
		{"http://128.0.0.1:7350", ""},
		{"http://10.0.0.1:7350", ""},
		{"http://0.0.0.0:7350", ""},
		{"http://[::]:7350", ""},
		{"http://[::2]:7350", ""},
		{"http://example.com", ""},
		{"http://localhost.example.com", ""},
		{"http://127.0.0.1.nip.io", ""},
		{"http://127.1:7350", ""},
		{"http://2130706433", ""},
		{"ftp://127.0.0.1", ""},
		{"127.0.0.1:7350", ""},
		{"http://127.0.0.1:7350/v2", ""},
		{"http://user@127.0.0.1:7350", ""},
		{"http://127.0.0.1:7350?x=1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := loopbackBase(tt.url)
		if tt.want == "" {
			if err == nil {
				t.Errorf("loopbackBase(%q) = %q, want an error", tt.url, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("loopbackBase(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestLoopbackOnlyDial(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7350":      true,
		"127.9.9.9:1":         true,
		"[::1]:7350":          true,
		"10.0.0.1:7350":       false,
		"[2001:db8::1]:7350":  false,
		"[::ffff:10.0.0.1]:1": false,
		"localhost:7350":      false, // the dialer sees resolved addresses only
	} {
		err := loopbackOnly("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}

func TestFlagsRefuseNonLoopback(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--url", "http://192.0.2.1:7350", "--scenario", "auth-new"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "loopback") {
		t.Fatalf("run = %d, stderr %q; want 2 and a loopback error", code, errOut.String())
	}
}

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i + 1)
		}
		return s
	}
	tests := []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{0, 50, 0},
		{1, 50, 1},
		{1, 99, 1},
		{2, 50, 1},
		{2, 51, 2},
		{10, 50, 5},
		{10, 90, 9},
		{10, 99, 10},
		{100, 50, 50},
		{100, 90, 90},
		{100, 99, 99},
		{100, 100, 100},
		{1000, 99, 990},
		{1000, 99.9, 999},
		{20000, 99, 19800},
		{7, 0, 1},
	}
	for _, tt := range tests {
		if got := percentile(seq(tt.n), tt.p); got != tt.want {
			t.Errorf("percentile(1..%d, %v) = %v, want %v", tt.n, tt.p, got, tt.want)
		}
	}
}

// newServer starts a real Latchkey API on a temporary SQLite database.
func newServer(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Auth.BcryptCost = 4
	// The tool drives the server from one address as fast as it answers; the abuse limits would refuse it.
	cfg.Limits.AuthRatePerSec, cfg.Limits.RefreshRatePerSec = 0, 0
	cfg.Tickets.VerifierKeys = config.StringList{testVerifierKey}
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.API)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return hs.URL
}

// testVerifierKey is the verifier key of newServer's servers, which load sends.
const testVerifierKey = "lkload-test-verifier-key"

// load runs the tool with small caps and returns its exit code and parsed result.
func load(t *testing.T, url string, extra ...string) (int, result) {
	t.Helper()
	args := append([]string{"--url", url, "--concurrency", "4", "--requests", "200", "--warmup", "20",
		"--pool", "50", "--duration", "5s", "--verifier-key", testVerifierKey, "--json"}, extra...)
	var res result
	code := runJSON(t, args, &res)
	return code, res
}

// runJSON runs the tool with args (which ask for --json), parses its output into res and returns the exit
// code.
func runJSON(t *testing.T, args []string, res any) int {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), res); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
	}
	if t.Failed() || code != 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return code
}

func TestScenarios(t *testing.T) {
	url := newServer(t)
	for _, name := range scenarioNames {
		t.Run(name, func(t *testing.T) {
			code, res := load(t, url, "--scenario", name)
			if code != 0 {
				t.Fatalf("exit %d, result %+v", code, res)
			}
			if res.Requests != 200 || res.Errors != 0 || res.Warmup != 20 || res.StoppedBy != "requests" {
				t.Errorf("got %+v, want 200 requests, 20 warmup, no errors, stopped by requests", res)
			}
			if res.Status["200"] != 200 || len(res.Status) != 1 {
				t.Errorf("status = %v, want 200: 200", res.Status)
			}
			if res.Throughput <= 0 || res.P50Ms <= 0 || res.P50Ms > res.P90Ms || res.P90Ms > res.P99Ms || res.P99Ms > res.MaxMs {
				t.Errorf("figures out of order: %+v", res)
			}
		})
	}
}

func TestDurationCap(t *testing.T) {
	url := newServer(t)
	start := time.Now()
	code, res := load(t, url, "--scenario", "get-account", "--requests", "10000000", "--warmup", "0",
		"--duration", "200ms")
	if code != 0 || res.StoppedBy != "duration" || res.Requests == 0 || res.Requests >= 10000000 {
		t.Fatalf("exit %d, result %+v; want a run stopped by its duration", code, res)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("run took %v with --duration 200ms", d)
	}
}

func TestFailuresExitNonZero(t *testing.T) {
	url := newServer(t)
	t.Run("measured", func(t *testing.T) {
		code, res := load(t, url, "--scenario", "auth-new", "--server-key", "wrongkey", "--warmup", "0", "--requests", "30")
		if code != 1 || res.Errors != 30 || res.Status["401"] != 30 {
			t.Fatalf("exit %d, result %+v; want 1 with 30 errors, all 401", code, res)
		}
		if len(res.ErrorExamples) != 1 || !strings.Contains(res.ErrorExamples[0], "Server key invalid") {
			t.Errorf("error examples = %q", res.ErrorExamples)
		}
	})
	t.Run("setup", func(t *testing.T) {
		code, _ := load(t, url, "--scenario", "get-account", "--server-key", "wrongkey")
		if code != 1 {
			t.Fatalf("exit %d, want 1 when setup fails", code)
		}
	})
	t.Run("flaky server", func(t *testing.T) {
		var n atomic.Int64
		fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthcheck" && n.Add(1)%10 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"code":13,"message":"Internal server error"}`)
				return
			}
			io.WriteString(w, `{}`)
		}))
		t.Cleanup(fake.Close)
		code, res := load(t, fake.URL, "--scenario", "auth-new", "--warmup", "0", "--requests", "100")
		if code != 1 || res.Requests != 100 || res.Errors != 10 || res.Status["500"] != 10 || res.Status["200"] != 90 {
			t.Fatalf("exit %d, result %+v; want 1 with 10 of 100 failed", code, res)
		}
	})
	t.Run("no server", func(t *testing.T) {
		code, _ := load(t, "http://127.0.0.1:1", "--scenario", "auth-new")
		if code != 1 {
			t.Fatalf("exit %d, want 1 when the server is down", code)
		}
	})
}

// TestIntrospectFailures checks that an introspection answered inactive is a failure, not a fast success:
// a wrong verifier key is refused, and a ticket redeemed twice (a run whose requests outnumber its tickets
// would) is inactive the second time.
func TestIntrospectFailures(t *testing.T) {
	url := newServer(t)
	t.Run("wrong verifier key", func(t *testing.T) {
		code, res := load(t, url, "--scenario", "introspect-session", "--verifier-key", "not-the-verifier-key",
			"--warmup", "0", "--requests", "10")
		if code != 1 || res.Errors != 10 || res.Status["401"] != 10 {
			t.Fatalf("exit %d, result %+v; want 1 with 10 errors, all 401", code, res)
		}
	})
	t.Run("redeemed ticket", func(t *testing.T) {
		o, err := parseFlags([]string{"--url", url, "--scenario", "introspect-ticket", "--verifier-key", testVerifierKey,
			"--concurrency", "2", "--pool", "2"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		tg := newTarget(o)
		defer tg.client.CloseIdleConnections()
		sc := newIntrospectTicket(tg, [][]byte{deviceBody("lkload-test-" + runID())}, 3, o)
		if err := sc.setup(context.Background()); err != nil {
			t.Fatal(err)
		}
		for seq := range 3 {
			if status, err := sc.request(context.Background(), seq); status != 200 || err != nil {
				t.Fatalf("first redemption of ticket %d: %d, %v", seq, status, err)
			}
		}
		status, err := sc.request(context.Background(), 1)
		var be *badBodyError
		if status != 200 || !errors.As(err, &be) {
			t.Fatalf("second redemption: %d, %v; want 200 with an inactive answer counted as a failure", status, err)
		}
	})
	t.Run("no verifier key", func(t *testing.T) {
		for _, name := range []string{"introspect-session", "introspect-ticket"} {
			var errOut bytes.Buffer
			if code := run(context.Background(), []string{"--url", url, "--scenario", name}, io.Discard, &errOut); code != 2 ||
				!strings.Contains(errOut.String(), "--verifier-key") {
				t.Errorf("%s without --verifier-key: exit %d, %q; want 2 naming the flag", name, code, errOut.String())
			}
		}
	})
}
