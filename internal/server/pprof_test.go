package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get fetches url and returns the status and body, failing the test on a transport error.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return res.StatusCode, string(b)
}

func TestPprofServesProfiles(t *testing.T) {
	p, err := startPprof("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	base := "http://" + p.Addr().String()
	if status, body := get(t, base+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ = %d %.200q, want 200 and the profile index", status, body)
	}
	if status, body := get(t, base+"/debug/pprof/goroutine?debug=1"); status != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("GET /debug/pprof/goroutine = %d %.200q, want 200 and a goroutine profile", status, body)
	}
	if status, _ := get(t, base+"/healthcheck"); status != http.StatusNotFound {
		t.Errorf("GET /healthcheck on the pprof listener = %d, want 404", status)
	}
	p.Close()
	if c, err := net.DialTimeout("tcp", p.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the pprof listener still accepts connections after Close")
	}
}

func TestPprofOff(t *testing.T) {
	p, err := startPprof("", slog.New(slog.DiscardHandler))
	if p != nil || err != nil {
		t.Fatalf("startPprof(\"\") = %v, %v; want nil, nil", p, err)
	}
	p.Close() // a nil server's Close does nothing
}

// recordSink is a slog handler that passes each record's attributes to a channel, dropping them when it is
// full.
type recordSink chan map[string]string

func (c recordSink) Enabled(context.Context, slog.Level) bool { return true }
func (c recordSink) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c recordSink) WithGroup(string) slog.Handler            { return c }
func (c recordSink) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	select {
	case c <- m:
	default:
	}
	return nil
}

// TestServeStartsPprof: with debug.pprof_address set, Serve serves the profiles on their own listener,
// and the client API does not; both stop when Serve returns.
func TestServeStartsPprof(t *testing.T) {
	cfg := storeConfig(t)
	cfg.Debug.PprofAddress = "127.0.0.1:0"
	logs := make(recordSink, 100)
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-served
		}
	})

	var addr string
	deadline := time.After(10 * time.Second)
	for addr == "" {
		select {
		case m := <-logs:
			if m["msg"] == "serving pprof" {
				addr = m["addr"]
			}
		case err := <-served:
			stopped = true
			t.Fatalf("Serve returned %v before serving pprof", err)
		case <-deadline:
			t.Fatal("no \"serving pprof\" log line within 10 s")
		}
	}
	if status, body := get(t, "http://"+addr+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ = %d %.200q, want 200 and the profile index", status, body)
	}
	if status, _ := get(t, "http://"+ln.Addr().String()+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on the client API = %d, want 404", status)
	}

	cancel()
	stopped = true
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the pprof listener still accepts connections after Serve returned")
	}
}
