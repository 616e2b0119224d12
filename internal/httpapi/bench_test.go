package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
)

// The two benchmarks below are meant to run together (-bench Loopback) and be compared as a ratio:
// authenticated GET /v2/account through the full stack (bearer verification, denylist, SQLite read,
// JSON), against a bare net/http handler that only verifies an HS256 token. Both serve on 127.0.0.1
// through a real listener and are driven by the same keep-alive client with the same parallelism.

func loopbackServe(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

func driveLoopback(b *testing.B, url, token string) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	var failed atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			for {
				if _, err := res.Body.Read(buf); err != nil {
					break
				}
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

func BenchmarkLoopbackGetAccount(b *testing.B) {
	cfg := testConfigB(b)
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	url := loopbackServe(b, srv.API)
	tok := benchToken(b, url)
	driveLoopback(b, url+"/v2/account", tok)
}

func BenchmarkLoopbackBareHS256(b *testing.B) {
	cfg := testConfigB(b)
	srv, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	tok := benchToken(b, loopbackServe(b, srv.API))
	key := []byte(cfg.Session.EncryptionKey)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		i := strings.LastIndexByte(t, '.')
		m := hmac.New(sha256.New, key)
		m.Write([]byte(t[:i]))
		want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		if i < 0 || subtle.ConstantTimeCompare([]byte(want), []byte(t[i+1:])) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})
	driveLoopback(b, loopbackServe(b, bare)+"/", tok)
}

func testConfigB(b *testing.B) config.Config {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Auth.BcryptCost = 4
	cfg.Session.TokenExpirySec = 3600
	return cfg
}

// benchToken creates an account through the API and returns a session token for it.
func benchToken(b *testing.B, url string) string {
	b.Helper()
	req, _ := http.NewRequest("POST", url+"/v2/account/authenticate/device?username=bench", strings.NewReader(`{"id":"bench-device-1"}`))
	req.SetBasicAuth("defaultkey", "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var s struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil || s.Token == "" {
		b.Fatalf("authenticate: %v %d", err, res.StatusCode)
	}
	return s.Token
}
