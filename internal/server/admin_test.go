package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const adminTestKey = "admin-key-for-server-tests-42"

// served is a Serve running in a test.
type served struct {
	records    []map[string]string // the log records up to the awaited one
	clientAddr string
	stop       func() error // stops Serve and returns what it returned
}

// serveUntil runs Serve on a loopback listener until the log says last (or Serve returns, whose error it
// returns); Serve is stopped at the latest when the test ends.
func serveUntil(t *testing.T, srv *Server, logs recordSink, last string) (*served, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	s := &served{clientAddr: ln.Addr().String(), stop: sync.OnceValue(func() error {
		cancel()
		return <-done
	})}
	t.Cleanup(func() { s.stop() })
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-logs:
			s.records = append(s.records, m)
			if m["msg"] == last {
				return s, nil
			}
		case err := <-done:
			done <- err // for stop
			return nil, err
		case <-deadline:
			t.Fatalf("no %q log line within 10 s", last)
		}
	}
}

func adminGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeStartsAdmin: with admin.key set, Serve serves the admin API on its own listener, says where
// (never the key), and the client API does not serve it; the listener stops when Serve returns.
func TestServeStartsAdmin(t *testing.T) {
	cfg := storeConfig(t)
	cfg.Admin.Key, cfg.Admin.Port = adminTestKey, 0 // any free port (validation admits 1-65535 in files)
	logs := make(recordSink, 100)
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, err := serveUntil(t, srv, logs, "admin API listening")
	if err != nil {
		t.Fatalf("Serve returned %v before the admin API listened", err)
	}
	addr := s.records[len(s.records)-1]["addr"]
	const unknown = "/v1/users/0190a0a0-0000-7000-8000-000000000001"
	if status, body := adminGet(t, "http://"+addr+unknown, adminTestKey); status != http.StatusNotFound || !strings.Contains(body, `"code":5`) {
		t.Errorf("admin lookup of an unknown user = %d %s, want 404 code 5", status, body)
	}
	if status, _ := adminGet(t, "http://"+addr+unknown, ""); status != http.StatusUnauthorized {
		t.Errorf("admin lookup without the key = %d, want 401", status)
	}
	if status, _ := adminGet(t, "http://"+s.clientAddr+unknown, adminTestKey); status != http.StatusNotFound {
		t.Errorf("the admin route on the client API = %d, want 404", status)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the admin listener still accepts connections after Serve returned")
	}
	for len(logs) > 0 {
		s.records = append(s.records, <-logs)
	}
	for _, m := range s.records {
		for k, v := range m {
			if strings.Contains(v, adminTestKey) {
				t.Errorf("log record %q carries the admin key in %s", m["msg"], k)
			}
		}
	}
}

// TestServeAdminOffWithoutKey: without admin.key, nothing listens for the admin API.
func TestServeAdminOffWithoutKey(t *testing.T) {
	cfg := storeConfig(t)
	logs := make(recordSink, 100)
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, err := serveUntil(t, srv, logs, "listening")
	if err != nil {
		t.Fatalf("Serve = %v", err)
	}
	for _, m := range s.records {
		if strings.Contains(m["msg"], "admin") {
			t.Errorf("admin API started without a key: %v", m)
		}
	}
}

// TestServeAdminPortTaken: an admin port that cannot be bound stops the start with an error naming the
// setting.
func TestServeAdminPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := storeConfig(t)
	cfg.Admin.Key, cfg.Admin.Port = adminTestKey, taken.Addr().(*net.TCPAddr).Port
	logs := make(recordSink, 100)
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, err = serveUntil(t, srv, logs, "listening")
	if err == nil || !strings.Contains(err.Error(), "admin.port") {
		t.Fatalf("Serve = %v, want an error naming admin.port", err)
	}
}
