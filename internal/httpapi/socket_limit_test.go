package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
)

// TestSocketHandshakeRateLimit drives realtime socket handshakes through a served node: each client
// address (behind a trusted proxy, the forwarded one) has a bucket of limits.socket_burst handshakes
// refilled at limits.socket_rate_per_sec, spent before the token is read; beyond it the handshake is
// refused before the upgrade with 429, Retry-After and a plain-text body, and counted as a refusal of the
// "socket" limit.
func TestSocketHandshakeRateLimit(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Limits.SocketRatePerSec, cfg.Limits.SocketBurst = 1, 3 // the clock stands still: the fourth is refused
	cfg.Limits.TrustedProxies = config.StringList{"127.0.0.1/32"}
	e, ops, _ := newServed(t, cfg, server.Options{})
	token := e.authDevice("socket-limit-device-1", "", "").Token
	wsURL := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws?token="

	type answer struct {
		status            int
		retryAfter, ctype string
		body              string
	}
	dial := func(token, client string) answer {
		t.Helper()
		ws, res, err := websocket.DefaultDialer.Dial(wsURL+url.QueryEscape(token), http.Header{"X-Forwarded-For": {client}})
		if err == nil {
			ws.Close()
			return answer{status: http.StatusSwitchingProtocols}
		}
		if res == nil {
			t.Fatalf("handshake from %s: %v", client, err)
		}
		b, _ := io.ReadAll(res.Body)
		return answer{res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), strings.TrimSpace(string(b))}
	}
	const client, neighbour = "203.0.113.7", "203.0.113.8"
	if a := dial("not-a-token", client); a.status != http.StatusUnauthorized {
		t.Errorf("a bad token: %+v, want 401", a)
	}
	for i := range 2 {
		if a := dial(token, client); a.status != http.StatusSwitchingProtocols {
			t.Fatalf("handshake %d within the burst: %+v, want 101", i+2, a)
		}
	}
	a := dial(token, client)
	if a.status != http.StatusTooManyRequests || a.retryAfter != "1" || !strings.HasPrefix(a.ctype, "text/plain") ||
		a.body != "Too many socket connections, try again later" {
		t.Errorf("beyond the burst: %+v, want 429 with Retry-After 1 and the plain-text refusal", a)
	}
	if a := dial(token, neighbour); a.status != http.StatusSwitchingProtocols {
		t.Errorf("another client behind the same proxy: %+v, want 101", a)
	}
	e.clock.Advance(time.Second)
	if a := dial(token, client); a.status != http.StatusSwitchingProtocols {
		t.Errorf("a second later: %+v, want 101", a)
	}
	if a := dial(token, client); a.status != http.StatusTooManyRequests {
		t.Errorf("the refilled token spent: %+v, want 429", a)
	}

	// An upgraded request is counted when its handler returns, which may come just after the client has
	// read the 101: the counts are read again, for a bounded while, until they are all there.
	want := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"latchkey_limit_refusals_total", []string{"limit", "socket"}, 2},
		{"latchkey_http_requests_total", []string{"route", "GET /ws", "status", "429"}, 2},
		{"latchkey_http_requests_total", []string{"route", "GET /ws", "status", "101"}, 4},
	}
	var wrong []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		fams := scrape(t, ops)
		wrong = wrong[:0]
		for _, c := range want {
			if got, _ := metric(fams, c.name, c.labels...); got != c.want {
				wrong = append(wrong, fmt.Sprintf("%s%v = %v, want %v", c.name, c.labels, got, c.want))
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wrong {
		t.Error(w)
	}
}
