package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
)

// BenchmarkLoginBurst is a guessing burst: 200 concurrent email logins with wrong passwords from one
// address, against the real handler over loopback with the default config (bcrypt cost 13, one bcrypt
// slot per two CPUs) and the server's request deadline (socket.write_timeout_ms, 10 s), while a player
// logs in to their own account from another address (127.0.0.2). It reports the share of the burst
// answered at all (answered/op) and within 2 s (answered_2s/op), the 99th percentile answer time
// (p99_ms), how many of the burst got a 401, 429 or 503 (s401/op, ...), and whether the player got in
// (player_ok/op) and how fast (player_ms).
//
// "unbounded" is the server without the abuse limits: no rate limit, no lockout, and a bcrypt queue and
// wait as long as the deadline allows, as before admission control (bcrypt slots are still shared fairly
// between addresses, which the server before did not do).
func BenchmarkLoginBurst(b *testing.B) {
	b.Run("default", func(b *testing.B) { loginBurst(b, config.Default()) })
	b.Run("unbounded", func(b *testing.B) {
		cfg := config.Default()
		limitsOff(&cfg)
		cfg.Auth.MaxHashQueue, cfg.Auth.MaxHashWaitMs = 1<<20, int(time.Hour/time.Millisecond)
		loginBurst(b, cfg)
	})
}

func loginBurst(b *testing.B, cfg config.Config) {
	const burst = 200
	cfg.DataDir = b.TempDir()
	e := newEnv(b, cfg)
	setup := &limitedEnv{env: e}
	_, setup.api = wireLimits(b, cfg, e, nil, time.Now)
	setup.createEmail("target@example.com", "target-password")
	setup.createEmail("player@example.com", "player-password")

	deadline := time.Duration(cfg.Socket.WriteTimeoutMs) * time.Millisecond
	player := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
	}).DialContext}}
	guesser := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: burst}, Timeout: deadline + 5*time.Second}

	var answered, within2s, playerOK float64
	statuses := map[int]float64{}
	var times []time.Duration
	var playerTime time.Duration
	for range b.N {
		b.StopTimer()
		// Fresh limits each round, as after a restart.
		acc, api := wireLimits(b, cfg, e, nil, time.Now)
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), deadline) // as internal/server serves
			defer cancel()
			api.ServeHTTP(w, r.WithContext(ctx))
		}))
		ts.Config.WriteTimeout, ts.Config.ReadTimeout = deadline, deadline
		ts.Start()
		b.StartTimer()

		var wg sync.WaitGroup
		var mu sync.Mutex
		start := make(chan struct{})
		for i := range burst {
			wg.Go(func() {
				<-start
				body := fmt.Sprintf(`{"email":"target@example.com","password":"guess-%04d"}`, i)
				t0 := time.Now()
				status, err := post(guesser, ts.URL, cfg.Socket.ServerKey, body)
				d := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				if err == nil && status != 0 {
					answered++
					statuses[status]++
					times = append(times, d)
					if d <= 2*time.Second {
						within2s++
					}
				}
			})
		}
		close(start)
		for acc.HashesInFlight() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the burst is queued by now
		t0 := time.Now()
		status, err := post(player, ts.URL, cfg.Socket.ServerKey, `{"email":"player@example.com","password":"player-password"}`)
		if err != nil && strings.Contains(err.Error(), "bind") {
			b.Skip("cannot connect from 127.0.0.2 on this system")
		}
		if err == nil && status == http.StatusOK {
			playerOK++
			playerTime += time.Since(t0)
		}
		wg.Wait()

		b.StopTimer()
		ts.Close()
		b.StartTimer()
	}
	slices.Sort(times)
	p99 := time.Duration(0)
	if len(times) > 0 {
		p99 = times[min(len(times)-1, len(times)*99/100)]
	}
	n := float64(b.N)
	b.ReportMetric(answered/(burst*n), "answered/op")
	b.ReportMetric(within2s/(burst*n), "answered_2s/op")
	b.ReportMetric(float64(p99.Milliseconds()), "p99_ms")
	b.ReportMetric(playerOK/n, "player_ok/op")
	if playerOK > 0 {
		b.ReportMetric(float64(playerTime.Milliseconds())/playerOK, "player_ms")
	}
	for _, s := range []int{401, 429, 503} {
		b.ReportMetric(statuses[s]/n, fmt.Sprintf("s%d/op", s))
	}
}

// post sends an email login and returns the status, or an error when no answer came.
func post(c *http.Client, url, serverKey, body string) (int, error) {
	req, err := http.NewRequest("POST", url+"/v2/account/authenticate/email", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(serverKey, "")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}
