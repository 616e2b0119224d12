package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// BenchmarkHotPathGetAccount compares, in one run, the authenticated GET /v2/account of a real server
// (bearer token, denylist, account read, JSON) with a bare net/http handler that only checks the same
// token's HS256 signature. Both listen on 127.0.0.1 and are driven alike: 4×GOMAXPROCS clients, each on
// its own keep-alive connection, sending the same token. The two take turns in rounds of 200 requests,
// in the order ABBA, so that a change in the machine's load during the run falls on both alike.
//
// An op is one request to each server. It reports each server's requests per second over the whole run,
// and the ratio account/bare (1 would mean the full stack costs nothing over the bare signature check) as
// the median of the rounds' ratios, so that a burst of load from outside that hits one round of a pair
// does not decide it.
func BenchmarkHotPathGetAccount(b *testing.B) {
	cfg := servertest.Config(b)
	cfg.Session.TokenExpirySec = 3600
	srv, base := servertest.Start(b, cfg, server.Options{})
	token := servertest.Token(b, srv, "hotpath-device")
	bare := httptest.NewServer(bareHS256([]byte(cfg.Session.EncryptionKey)))
	b.Cleanup(bare.Close)

	clients := 4 * runtime.GOMAXPROCS(0)
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	account, check := base+"/v2/account", bare.URL+"/"
	for _, url := range []string{account, check} {
		drive(b, hc, url, token, clients, 20*clients) // open the connections, fill the caches
	}

	const round = 200
	var tAccount, tBare time.Duration
	var ratios []float64
	b.ResetTimer()
	for done, i := 0, 0; done < b.N; i++ {
		n := min(round, b.N-done)
		var a, c time.Duration
		if i%2 == 0 {
			a = drive(b, hc, account, token, clients, n)
			c = drive(b, hc, check, token, clients, n)
		} else {
			c = drive(b, hc, check, token, clients, n)
			a = drive(b, hc, account, token, clients, n)
		}
		tAccount, tBare = tAccount+a, tBare+c
		ratios = append(ratios, c.Seconds()/a.Seconds())
		done += n
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(b.N)/tAccount.Seconds(), "account-req/s")
	b.ReportMetric(float64(b.N)/tBare.Seconds(), "bare-req/s")
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}

// bareHS256 answers 200 with an empty JSON object when the request's bearer token has a good HS256
// signature under key, and 401 otherwise: the least a handler can do to authenticate a request.
func bareHS256(key []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if i < 0 || err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		m := hmac.New(sha256.New, key)
		io.WriteString(m, tok[:i])
		if !hmac.Equal(m.Sum(nil), sig) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	})
}

// drive sends n GET requests to url with token as bearer, from clients goroutines at once, reads every
// answer whole, and returns how long they all took. Any answer but 200 fails the benchmark.
func drive(b *testing.B, hc *http.Client, url, token string, clients, n int) time.Duration {
	b.Helper()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%s: %d of %d requests failed", url, f, n)
	}
	return elapsed
}
