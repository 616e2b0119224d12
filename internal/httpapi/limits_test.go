package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// limitedEnv is an env whose API has cfg's abuse limits (limits.*, auth.max_hash_*) wired in, the way
// the composition root wires them, over the same store and session manager.
type limitedEnv struct {
	*env
	api      *httpapi.API
	accounts *accounts.Service
}

func newLimitedEnv(t testing.TB, cfg config.Config, hooks httpapi.Hooks) *limitedEnv {
	t.Helper()
	e := newEnv(t, cfg)
	acc, api := wireLimits(t, cfg, e, hooks, e.clock.Now)
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	le := *e
	le.http = hs
	return &limitedEnv{env: &le, api: api, accounts: acc}
}

// wireLimits builds the accounts service and the API from cfg as internal/server does, with clock timing
// the limits.
func wireLimits(t testing.TB, cfg config.Config, e *env, hooks httpapi.Hooks, clock func() time.Time) (*accounts.Service, *httpapi.API) {
	t.Helper()
	l := cfg.Limits
	proxies, err := limits.ParseProxies(l.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	sec := func(v int) time.Duration { return time.Duration(v) * time.Second }
	acc := accounts.New(accounts.Deps{
		Users: e.srv.Store(), Clock: clock, BcryptCost: cfg.Auth.BcryptCost,
		MaxConcurrentHashes: cfg.Auth.MaxConcurrentHashes, MaxHashQueue: cfg.Auth.MaxHashQueue,
		MaxHashWait: time.Duration(cfg.Auth.MaxHashWaitMs) * time.Millisecond,
		Lockout: limits.LockoutConfig{
			Failures: l.LockoutFailures, Window: sec(l.LockoutWindowSec), Min: sec(l.LockoutMinSec),
			Max: sec(l.LockoutMaxSec), MaxKeys: l.MaxTrackedAccounts,
		},
		Events: e.srv.Store(),
	})
	api := httpapi.New(httpapi.Deps{
		Accounts: acc, Sessions: e.srv.Sessions, ServerKey: cfg.Socket.ServerKey,
		MaxBodyBytes: cfg.Socket.MaxRequestSizeBytes, Hooks: hooks,
		Limits: httpapi.Limits{
			Auth:           limits.Config{Rate: float64(l.AuthRatePerSec), Burst: l.AuthBurst, MaxKeys: l.MaxTrackedIPs, Clock: clock},
			Refresh:        limits.Config{Rate: float64(l.RefreshRatePerSec), Burst: l.RefreshBurst, MaxKeys: l.MaxTrackedIPs, Clock: clock},
			TrustedProxies: proxies,
		},
	})
	return acc, api
}

// from sends a request to the handler as if from the peer remote ("ip:port"), with the server key and
// any extra headers given as name, value pairs.
func (le *limitedEnv) from(remote, method, path, body string, header ...string) response {
	le.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	req.SetBasicAuth(le.cfg.Socket.ServerKey, "")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	le.api.ServeHTTP(w, req)
	out := response{Status: w.Code, Header: w.Header(), Raw: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(w.Body.Bytes(), &out.Body); err != nil {
			le.t.Fatalf("%s %s: response is not JSON: %q", method, path, out.Raw)
		}
	}
	return out
}

// wantRetry checks a refusal with a Retry-After of at least one second and returns it.
func (r response) wantRetry(t testing.TB, status int, code float64) int {
	t.Helper()
	r.wantError(t, status, code, "")
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds, at least 1", r.Header.Get("Retry-After"))
	}
	return n
}

// limitsOff turns every limit off, so that a test can turn on the one it is about.
func limitsOff(cfg *config.Config) {
	cfg.Limits.AuthRatePerSec, cfg.Limits.RefreshRatePerSec, cfg.Limits.SocketRatePerSec, cfg.Limits.LockoutFailures = 0, 0, 0, 0
}

func TestAuthRateLimitPerClientAddress(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Limits.AuthRatePerSec, cfg.Limits.AuthBurst = 1, 3
	le := newLimitedEnv(t, cfg, nil)
	const a, b = "192.0.2.1:4000", "192.0.2.2:4000"
	for i := range 3 {
		le.from(a, "POST", "/v2/account/authenticate/device", fmt.Sprintf(`{"id":"device-rate-%04d"}`, i)).wantOK(t)
	}
	r := le.from(a, "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`)
	r.wantError(t, 429, 8, "Too many requests, try again later.")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (one token a second)", got)
	}
	if got := r.Header.Get("Access-Control-Expose-Headers"); got != "Retry-After" {
		t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After", got)
	}
	// Every kind of authentication shares the address's bucket, a bad request included.
	le.from(a, "POST", "/v2/account/authenticate/email", `{"email":"rate@example.com","password":"password1"}`).wantRetry(t, 429, 8)
	le.from(a, "POST", "/v2/account/authenticate/custom", `{"id":"custom-rate"}`).wantRetry(t, 429, 8)
	le.from(a, "POST", "/v2/account/authenticate/apple", `{}`).wantRetry(t, 429, 8)
	// A wrong server key is refused before the limit, and takes nothing from it.
	r = le.from(a, "POST", "/v2/account/authenticate/device", `{}`, "Authorization", "Basic Zm9vOg==")
	if r.Status == 429 {
		t.Error("a request without the server key was rate limited")
	}
	// Another address is served; IPv6 addresses in one /64 share a bucket.
	le.from(b, "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantOK(t)
	for i := range 3 {
		le.from(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantOK(t)
	}
	le.from("[2001:db8:1:2::99]:4000", "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantRetry(t, 429, 8)
	le.from("[2001:db8:1:3::1]:4000", "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantOK(t)
	// Other routes are not limited.
	le.from(a, "GET", "/healthcheck", "").wantOK(t)
	// A second later there is a token again.
	le.clock.Advance(time.Second)
	le.from(a, "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantOK(t)
	le.from(a, "POST", "/v2/account/authenticate/device", `{"id":"device-rate-0000"}`).wantRetry(t, 429, 8)
}

func TestRefreshRateLimit(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Limits.RefreshRatePerSec, cfg.Limits.RefreshBurst = 2, 2
	le := newLimitedEnv(t, cfg, nil)
	const a = "198.51.100.7:4000"
	r := le.from(a, "POST", "/v2/account/authenticate/device", `{"id":"device-refresh-limit"}`)
	r.wantOK(t)
	body := fmt.Sprintf(`{"token":%q}`, r.Body["refresh_token"])
	le.from(a, "POST", "/v2/account/session/refresh", body).wantOK(t)
	le.from(a, "POST", "/v2/session/refresh", body).wantOK(t) // the alias shares the bucket
	r = le.from(a, "POST", "/v2/account/session/refresh", body)
	if n := r.wantRetry(t, 429, 8); n != 1 {
		t.Errorf("Retry-After %d, want 1 (a token every half second)", n)
	}
	// Authentication has its own limit (off here).
	le.from(a, "POST", "/v2/account/authenticate/device", `{"id":"device-refresh-limit"}`).wantOK(t)
	le.from("198.51.100.8:4000", "POST", "/v2/account/session/refresh", body).wantOK(t)
}

// addrHooks records the client address server code sees.
type addrHooks struct {
	mu  sync.Mutex
	ips []string
}

func (h *addrHooks) Before(ctx context.Context, name string, req any) (any, error) {
	ip, _, ok := httpapi.ClientAddr(ctx)
	if !ok {
		ip = "(none)"
	}
	h.mu.Lock()
	h.ips = append(h.ips, ip)
	h.mu.Unlock()
	return req, nil
}

func (h *addrHooks) After(context.Context, string, any, any) error { return nil }

func (h *addrHooks) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ips[len(h.ips)-1]
}

func TestTrustedProxy(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Limits.AuthRatePerSec, cfg.Limits.AuthBurst = 1, 2
	cfg.Limits.TrustedProxies = config.StringList{"10.0.0.0/8"}
	hooks := &addrHooks{}
	le := newLimitedEnv(t, cfg, hooks)
	const proxy = "10.0.0.5:40000"

	// Through the trusted proxy, each client is its own: the right-most untrusted entry, not the
	// spoofable left-most one.
	r := le.from(proxy, "POST", "/v2/account/authenticate/device", `{"id":"device-proxied-1"}`, "X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.1.1")
	r.wantOK(t)
	if got := hooks.last(); got != "203.0.113.7" {
		t.Errorf("server code sees client_ip %q, want 203.0.113.7", got)
	}
	uid := claims(t, r.Body["token"].(string))["uid"].(string)
	ss, _, err := le.srv.Sessions.List(context.Background(), uid, "", 100)
	if err != nil || len(ss) != 1 || ss[0].ClientIP != "203.0.113.7" {
		t.Errorf("session client_ip: %+v %v, want 203.0.113.7", ss, err)
	}
	le.from(proxy, "POST", "/v2/account/authenticate/device", `{"id":"device-proxied-1"}`, "X-Forwarded-For", "203.0.113.7").wantOK(t)
	le.from(proxy, "POST", "/v2/account/authenticate/device", `{"id":"device-proxied-1"}`, "X-Forwarded-For", "203.0.113.7").wantRetry(t, 429, 8)
	// ...while another client behind the same proxy is served.
	le.from(proxy, "POST", "/v2/account/authenticate/device", `{"id":"device-proxied-1"}`, "X-Forwarded-For", "203.0.113.8").wantOK(t)

	// From an untrusted peer the header is ignored: spoofing a new address per request does not escape
	// the peer's bucket, and the peer's address is what server code and the session see.
	const direct = "198.51.100.20:5000"
	for i, want := range []int{200, 200, 429, 429} {
		r := le.from(direct, "POST", "/v2/account/authenticate/device", `{"id":"device-direct-1"}`, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", 100+i))
		if r.Status != want {
			t.Errorf("spoofed request %d: status %d, want %d", i+1, r.Status, want)
		}
		if i == 0 {
			if got := hooks.last(); got != "198.51.100.20" {
				t.Errorf("server code sees client_ip %q from an untrusted peer, want the peer", got)
			}
		}
	}
}

// createEmail makes an email account through the API and returns its user id.
func (le *limitedEnv) createEmail(email, password string) string {
	le.t.Helper()
	r := le.from("192.0.2.200:1", "POST", "/v2/account/authenticate/email?create=true", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	r.wantOK(le.t)
	u, err := le.srv.Store().UserByIdentity(context.Background(), storage.IdentityEmail, email)
	if err != nil {
		le.t.Fatal(err)
	}
	return u.ID
}

func TestLoginLockout(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Limits.LockoutFailures = 5
	le := newLimitedEnv(t, cfg, nil)
	uid := le.createEmail("victim@example.com", "right-password")
	wrong := `{"email":"victim@example.com","password":"wrong-password"}`
	right := `{"email":"victim@example.com","password":"right-password"}`
	const attacker = "203.0.113.66:1234"

	for range 5 {
		le.from(attacker, "POST", "/v2/account/authenticate/email", wrong).wantError(t, 401, 16, "Invalid credentials.")
	}
	// Locked: wrong and right passwords alike are refused, from any address, without bcrypt.
	before := le.accounts.HashesRun()
	for i := range 80 {
		r := le.from(fmt.Sprintf("203.0.113.%d:1", i), "POST", "/v2/account/authenticate/email", wrong)
		r.wantError(t, 429, 8, "Too many failed login attempts, try again later.")
		if got := r.Header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After = %q, want 1 (the first lockout)", got)
		}
	}
	le.from(attacker, "POST", "/v2/account/authenticate/email", right).wantRetry(t, 429, 8)
	if n := le.accounts.HashesRun() - before; n != 0 {
		t.Errorf("%d bcrypt operations while locked, want 0", n)
	}
	if kinds := le.eventKinds(uid); !slices.Contains(kinds, storage.EventLoginLocked) {
		t.Errorf("events %v, want a login_locked", kinds)
	}
	evs, _ := le.srv.Sessions.Events(context.Background(), uid, 0, 100)
	for _, ev := range evs {
		if ev.Kind == storage.EventLoginLocked && ev.ClientIP != "203.0.113.66" {
			t.Errorf("login_locked event from %q, want the address of the failure that started it", ev.ClientIP)
		}
	}

	// Once the lockout has run out, the right password logs in and clears the count: four wrong
	// passwords do not lock again, the fifth does.
	le.clock.Advance(time.Second)
	le.from("192.0.2.9:1", "POST", "/v2/account/authenticate/email", right).wantOK(t)
	for range 4 {
		le.from(attacker, "POST", "/v2/account/authenticate/email", wrong).wantError(t, 401, 16, "")
	}
	le.from("192.0.2.9:1", "POST", "/v2/account/authenticate/email", right).wantOK(t)
	for range 5 {
		le.from(attacker, "POST", "/v2/account/authenticate/email", wrong).wantError(t, 401, 16, "")
	}
	le.from("192.0.2.9:1", "POST", "/v2/account/authenticate/email", right).wantRetry(t, 429, 8)
	// Username login is the same account's login.
	r := le.from("192.0.2.9:1", "POST", "/v2/account/authenticate/email?username=x", `{"password":"right-password"}`)
	if r.Status == 200 {
		t.Error("username login got past the lockout")
	}
}

// TestHashAdmissionAnswersEveryone: with one bcrypt slot and a small queue, a burst of email logins is
// answered at once, each with a session or a retryable 503, and none waits for its deadline.
func TestHashAdmissionAnswersEveryone(t *testing.T) {
	cfg := testConfig(t)
	limitsOff(&cfg)
	cfg.Auth.BcryptCost = 8
	cfg.Auth.MaxConcurrentHashes, cfg.Auth.MaxHashQueue, cfg.Auth.MaxHashWaitMs = 1, 4, 200
	le := newLimitedEnv(t, cfg, nil)
	le.createEmail("crowd@example.com", "password1")

	const n = 50
	client := &http.Client{Timeout: 30 * time.Second}
	statuses := make([]int, n)
	retry := make([]string, n)
	codes := make([]float64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", le.http.URL+"/v2/account/authenticate/email", strings.NewReader(`{"email":"crowd@example.com","password":"password1"}`))
			req.SetBasicAuth(cfg.Socket.ServerKey, "")
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("login %d got no answer: %v", i, err)
				return
			}
			defer res.Body.Close()
			var body struct{ Code float64 }
			json.NewDecoder(res.Body).Decode(&body)
			statuses[i], retry[i], codes[i] = res.StatusCode, res.Header.Get("Retry-After"), body.Code
		})
	}
	wg.Wait()
	var ok, busy int
	for i, s := range statuses {
		switch {
		case s == 200:
			ok++
		case s == 503 && codes[i] == 14 && retry[i] != "":
			busy++
		case s != 0:
			t.Errorf("login %d: status %d, code %v, Retry-After %q; want 200, or 503 with code 14 and Retry-After", i, s, codes[i], retry[i])
		}
	}
	if ok == 0 || busy == 0 {
		t.Errorf("%d logged in, %d refused as busy; want some of each", ok, busy)
	}
	t.Logf("%d logged in, %d refused as busy", ok, busy)
}

// TestLoginDuringGuessingBurst: while one address hammers an account with wrong passwords, a player on
// another address logs in to their own account. With the default limits the burst is answered by
// admission control (503 at once beyond the queue) and the account's lockout (429 without bcrypt), and
// the player's password check does not wait behind the burst's.
func TestLoginDuringGuessingBurst(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.BcryptCost = 8 // slow enough that the burst queues, fast enough under the race detector
	cfg.Auth.MaxConcurrentHashes = 1
	// The player waits for one password check of the burst's: a second is plenty, but not on a machine
	// loaded with other race-detector tests.
	cfg.Auth.MaxHashWaitMs = 5000
	le := newLimitedEnv(t, cfg, nil)
	le.createEmail("target@example.com", "target-password")
	le.createEmail("player@example.com", "player-password")
	start := le.accounts.HashesRun()

	const n = 200
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := le.from("203.0.113.66:1234", "POST", "/v2/account/authenticate/email", fmt.Sprintf(`{"email":"target@example.com","password":"guess-%04d"}`, i))
			statuses[i] = r.Status
		})
	}
	for le.accounts.HashesInFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	r := le.from("192.0.2.77:5555", "POST", "/v2/account/authenticate/email", `{"email":"player@example.com","password":"player-password"}`)
	r.wantOK(t)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[401]+count[429]+count[503] != n {
		t.Errorf("burst statuses %v, want only 401, 429 and 503", count)
	}
	// The account locks after limits.lockout_failures wrong passwords: the rest of the burst costs no
	// bcrypt.
	if hashes, most := le.accounts.HashesRun()-start, uint64(cfg.Limits.LockoutFailures+1); hashes > most {
		t.Errorf("%d bcrypt operations, want at most %d (the guesses before the lockout, one login)", hashes, most)
	}
	t.Logf("burst statuses %v", count)
}

// TestSocketClientAddrBehindProxy: the realtime socket, which reads the client address from RemoteAddr,
// gets the client's behind a trusted proxy, and the peer's otherwise.
func TestSocketClientAddrBehindProxy(t *testing.T) {
	proxies, err := limits.ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	socket := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr })
	api := httpapi.New(httpapi.Deps{Realtime: socket, Limits: httpapi.Limits{TrustedProxies: proxies}})
	for _, tt := range []struct{ peer, xff, want string }{
		{"10.0.0.5:40000", "203.0.113.7", "203.0.113.7:"},
		{"198.51.100.1:40000", "203.0.113.7", "198.51.100.1:40000"},
		{"10.0.0.5:40000", "", "10.0.0.5:40000"},
	} {
		req := httptest.NewRequest("GET", "/ws?token=x", nil)
		req.RemoteAddr = tt.peer
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		api.ServeHTTP(httptest.NewRecorder(), req)
		if got != tt.want {
			t.Errorf("peer %s, X-Forwarded-For %q: the socket sees %q, want %q", tt.peer, tt.xff, got, tt.want)
		}
	}
}
