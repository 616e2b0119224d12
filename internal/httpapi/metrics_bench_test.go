package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// BenchmarkGetAccountMetrics is the cost of metrics on the hottest route: GET /v2/account served straight
// to the handler (no network), by two servers built alike but for metrics.prometheus_port, off and on
// (the on one is instrumented as a served node is; nothing scrapes it). The off and on sub-benchmarks
// report each alone, with allocations. The interleaved one measures both in one run, taking turns in rounds
// of 2000 requests in the order ABBA so that a change in the machine's load falls on both alike, and
// reports each one's ns per request and the ratio on/off, the median of the rounds' ratios: 1.05 would
// be metrics costing 5%.
func BenchmarkGetAccountMetrics(b *testing.B) {
	var servers [2]*server.Server
	var tokens [2]string
	for i, port := range []int{0, 1} {
		cfg := servertest.Config(b)
		cfg.Session.TokenExpirySec = 3600
		cfg.Metrics.PrometheusPort = port // instruments the server; only Serve would listen
		srv, _ := servertest.Start(b, cfg, server.Options{})
		servers[i], tokens[i] = srv, servertest.Token(b, srv, "metrics-bench-device")
	}
	var reqs [2]*http.Request
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "/v2/account", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+tokens[i])
	}
	serve := func(b *testing.B, i int) {
		w := httptest.NewRecorder()
		servers[i].API.ServeHTTP(w, reqs[i])
		if w.Code != http.StatusOK {
			b.Fatalf("GET /v2/account = %d", w.Code)
		}
	}
	// get serves n requests of server i and returns how long they took.
	get := func(b *testing.B, i, n int) time.Duration {
		start := time.Now()
		for range n {
			serve(b, i)
		}
		return time.Since(start)
	}
	for i := range servers {
		get(b, i, 1000) // fill the account cache and the route's metric children
	}
	for i, name := range []string{"off", "on"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, i)
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		const round = 2000
		var off, on time.Duration
		var ratios []float64
		for done, r := 0, 0; done < b.N; r++ {
			n := min(round, b.N-done)
			var a, c time.Duration
			if r%2 == 0 {
				a, c = get(b, 0, n), get(b, 1, n)
			} else {
				c, a = get(b, 1, n), get(b, 0, n)
			}
			off, on = off+a, on+c
			ratios = append(ratios, c.Seconds()/a.Seconds())
			done += n
		}
		slices.Sort(ratios)
		b.ReportMetric(float64(off.Nanoseconds())/float64(b.N), "off-ns/req")
		b.ReportMetric(float64(on.Nanoseconds())/float64(b.N), "on-ns/req")
		b.ReportMetric(ratios[len(ratios)/2], "ratio")
	})
}
