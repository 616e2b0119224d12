package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/testclock"
	"github.com/latchkeyhq/latchkey/runtime"
)

// newServed starts a server as `latchkey serve` runs it (server.Serve on a loopback listener), with the
// metrics listener on, and returns an env talking to its client port, the metrics listener's base URL and
// the function that tells Serve to stop (it is also called when the test ends).
func newServed(t *testing.T, cfg config.Config, opts server.Options) (*env, string, context.CancelFunc) {
	t.Helper()
	cfg.Metrics.Address, cfg.Metrics.PrometheusPort = "127.0.0.1", servertest.FreePort(t)
	clock := testclock.New(time.Now().UTC().Truncate(time.Second))
	opts.Clock = clock.Now
	srv, err := server.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	base, stop := servertest.Run(t, srv)
	ops := "http://127.0.0.1:" + strconv.Itoa(cfg.Metrics.PrometheusPort)
	for i := 0; ; i++ { // Serve starts the metrics listener in its own time
		res, err := http.Get(ops + "/livez")
		if err == nil {
			res.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("the metrics listener does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &env{t: t, srv: srv, http: &httptest.Server{URL: base}, clock: clock, cfg: cfg}, ops, stop
}

// scrape reads the metrics listener's /metrics with a real GET and parses Prometheus's text format.
func scrape(t *testing.T, ops string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metric returns the value of the series of family name whose labels include want (the count of a
// histogram), and whether there is one.
func metric(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == want[i] && l.GetValue() == want[i+1]
			}) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsCountRequests drives logins, a failed login, a 429, refreshes, a refresh-token reuse, a
// logout and an unknown path through a served node and reads the counters back from its /metrics.
func TestMetricsCountRequests(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.AuthRatePerSec, cfg.Limits.AuthBurst = 1, 4 // the clock stands still: the fifth is refused
	cfg.Session.RefreshRotation, cfg.Session.RefreshReuseGraceSec = true, 1
	e, ops, _ := newServed(t, cfg, server.Options{Version: "v9.8.7-test"})

	e.authDevice("metrics-device-01", "", "")
	dev := e.authDevice("metrics-device-01", "", "")
	e.do("POST", "/v2/account/authenticate/email", "basic", `{"email":"metrics@example.com","password":"password-1"}`).wantOK(t)
	e.do("POST", "/v2/account/authenticate/email", "basic", `{"email":"metrics@example.com","password":"password-2"}`).
		wantError(t, 401, 16, "Invalid credentials.")
	e.do("POST", "/v2/account/authenticate/device", "basic", `{"id":"metrics-device-02"}`).
		wantError(t, 429, 8, "Too many requests, try again later.")

	e.do("GET", "/v2/account", "bearer:"+dev.Token, "").wantOK(t)
	next, r := e.refresh(dev, "")
	r.wantOK(t)
	e.clock.Advance(2 * time.Second) // past the reuse grace: the superseded token is now a theft
	_, r = e.refresh(dev, "")
	r.wantError(t, 401, 16, "Refresh token invalid or expired.")
	other := e.authDevice("metrics-device-03", "", "")
	e.do("POST", "/v2/session/logout", "bearer:"+other.Token, `{"token":"`+other.Token+`"}`).wantOK(t)
	e.do("GET", "/v2/account", "bearer:"+other.Token, "").wantError(t, 401, 16, "Auth token invalid")
	e.do("GET", "/v2/no-such-route-xyzzy", "", "").wantError(t, 404, 5, "")
	e.do("PATCH", "/v2/account", "bearer:"+next.Token, "").wantError(t, 501, 12, "")

	fams := scrape(t, ops)
	for _, c := range []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool // want or more
	}{
		{"latchkey_authentications_total", []string{"kind", "device", "outcome", "created"}, 2, false},
		{"latchkey_authentications_total", []string{"kind", "device", "outcome", "ok"}, 1, false},
		{"latchkey_authentications_total", []string{"kind", "device", "outcome", "limited"}, 1, false},
		{"latchkey_authentications_total", []string{"kind", "email", "outcome", "created"}, 1, false},
		{"latchkey_authentications_total", []string{"kind", "email", "outcome", "bad_credentials"}, 1, false},
		{"latchkey_limit_refusals_total", []string{"limit", "auth"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "POST /v2/account/authenticate/device", "status", "429"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "POST /v2/account/authenticate/device", "status", "200"}, 3, false},
		{"latchkey_http_requests_total", []string{"route", "POST /v2/account/authenticate/email", "status", "401"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "GET /v2/account", "status", "200"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "GET /v2/account", "status", "401"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "POST /v2/session/logout", "status", "200"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "unmatched", "status", "404"}, 1, false},
		{"latchkey_http_requests_total", []string{"route", "unmatched", "status", "501"}, 1, false},
		{"latchkey_http_request_duration_seconds", []string{"route", "GET /v2/account", "status", "200"}, 1, false},
		{"latchkey_session_refreshes_total", []string{"outcome", "ok"}, 1, false},
		{"latchkey_session_refreshes_total", []string{"outcome", "reused"}, 1, false},
		{"latchkey_refresh_token_reuse_detected_total", nil, 1, false},
		{"latchkey_session_revocations_total", []string{"reason", "refresh_reuse"}, 1, false},
		{"latchkey_session_revocations_total", []string{"reason", "logout"}, 1, false},
		{"latchkey_denylist_entries", nil, 2, false},
		{"latchkey_realtime_sockets", nil, 0, false},
		{"latchkey_store_call_errors_total", []string{"operation", "UserByIdentity"}, 0, false},
		{"latchkey_build_info", []string{"version", "v9.8.7-test"}, 1, false},
		{"latchkey_store_call_duration_seconds", []string{"operation", "StartSession"}, 3, true},
		{"latchkey_store_call_duration_seconds", []string{"operation", "UserByIdentity"}, 3, true},
		{"latchkey_password_hash_queue_wait_seconds", nil, 2, true},
		{"go_goroutines", nil, 1, true},
		{"process_start_time_seconds", nil, 1, true},
	} {
		got, ok := metric(fams, c.name, c.labels...)
		if !ok || got != c.want && !(c.atLeast && got > c.want) {
			t.Errorf("%s%v = %v (present %v), want %v (or more: %v)", c.name, c.labels, got, ok, c.want, c.atLeast)
		}
	}
	// Label values come from fixed sets: no path a client sent becomes one.
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "xyzzy") || strings.Contains(l.GetValue(), "PATCH") {
					t.Errorf("%s has the label %s=%q, taken from a request", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// readyz reads the metrics listener's /readyz.
func readyz(t *testing.T, ops string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(ops + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	return res.StatusCode, body
}

// waitReady polls /readyz until its status is want, for at most 15 seconds, advancing the clock past the
// store probe's one-second cache each time; it returns the last body.
func waitReady(t *testing.T, e *env, ops string, want int) map[string]any {
	t.Helper()
	var status int
	var body map[string]any
	for range 150 {
		e.clock.Advance(1100 * time.Millisecond)
		if status, body = readyz(t, ops); status == want {
			return body
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/readyz stayed %d %v, want %d", status, body, want)
	return nil
}

// TestReadyzStore: the metrics listener's /livez answers 200 while the process runs, and its /readyz goes
// 503 naming the store while the SQLite write lock is held elsewhere, and back to 200 when it is released;
// the client port's /healthcheck stays 200 throughout.
func TestReadyzStore(t *testing.T) {
	e, ops, _ := newServed(t, testConfig(t), server.Options{})
	if status, body := readyz(t, ops); status != 200 || body["status"] != "ready" || body["store"] != "ok" || body["feed"] != "ok" {
		t.Fatalf("/readyz = %d %v, want 200 ready", status, body)
	}
	release := holdWriteLock(t, e)
	body := waitReady(t, e, ops, 503)
	if got := body["failed"]; !slices.Equal(toStrings(got), []string{"store"}) || body["status"] != "not ready" {
		t.Errorf("/readyz with the store locked = %v, want failed [store]", body)
	}
	res, err := http.Get(ops + "/livez")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("/livez with the store locked = %v %v, want 200", res, err)
	}
	e.do("GET", "/healthcheck", "", "").wantOK(t)
	release()
	waitReady(t, e, ops, 200)
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestReadyzFeedStale: on PostgreSQL, a node whose revocation feed reads hang (the feed's table locked by
// another session) reports not ready within a few seconds, naming the feed and not the store, which still
// takes writes, and ready again once the feed can be read.
func TestReadyzFeedStale(t *testing.T) {
	cfg := testConfig(t)
	cfg.Database.Address = config.StringList{pgtest.NewDatabase(t)}
	e, ops, _ := newServed(t, cfg, server.Options{})
	waitReady(t, e, ops, 200)

	conn, err := pgx.Connect(t.Context(), cfg.Database.Address[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE session_revocations IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	body := waitReady(t, e, ops, 503)
	if got := toStrings(body["failed"]); !slices.Equal(got, []string{"feed"}) || body["feed"] != "stale" || body["store"] != "ok" {
		t.Errorf("/readyz with the feed locked = %v, want failed [feed] only", body)
	}
	if age, _ := body["feed_age_seconds"].(float64); age <= 3 {
		t.Errorf("feed_age_seconds = %v, want more than the 3 s bound", body["feed_age_seconds"])
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, ops, 200)
}

// TestReadyzDuringShutdown: once the node has been told to stop, /readyz answers 503 naming the shutdown
// while in-flight requests drain, so that a load balancer stops sending new ones.
func TestReadyzDuringShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return init.RegisterRpc("slow", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
			close(entered)
			<-release
			return "", nil
		})
	}
	cfg := testConfig(t)
	e, ops, stop := newServed(t, cfg, server.Options{Modules: []runtime.InitModule{slow}})
	answered := make(chan int, 1)
	go func() {
		res, err := http.Get(e.http.URL + "/v2/rpc/slow?http_key=" + cfg.Runtime.HTTPKey)
		if err != nil {
			answered <- 0
			return
		}
		res.Body.Close()
		answered <- res.StatusCode
	}()
	<-entered
	stop()
	status, body := readyz(t, ops)
	if got := toStrings(body["failed"]); status != 503 || !slices.Equal(got, []string{"shutdown"}) {
		t.Errorf("/readyz while draining = %d %v, want 503 failed [shutdown]", status, body)
	}
	close(release)
	if got := <-answered; got != 200 {
		t.Errorf("the in-flight RPC was answered %d, want 200", got)
	}
}

// requestLines returns the request log lines in a JSON log.
func requestLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestRequestLog: each request is logged once at logger.request_level, with its method, route pattern,
// status, latency, client address and, when a session authenticated it, the user id; never a token or a
// key, whether sent in the Authorization header, the query (GET /ws?token=, the RPC's http_key) or the
// body. request_level off logs no request, and a level below the logger's is not logged either.
func TestRequestLog(t *testing.T) {
	const httpKey = "http-key-that-must-not-be-logged"
	for _, c := range []struct {
		name, requestLevel string
		loggerLevel        slog.Level
		want               bool
	}{
		{"info", "INFO", slog.LevelInfo, true},
		{"debug-hidden", "debug", slog.LevelInfo, false},
		{"off", "off", slog.LevelDebug, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf servertest.LogBuffer
			cfg := testConfig(t)
			cfg.Logger.RequestLevel = c.requestLevel
			cfg.Runtime.HTTPKey = httpKey
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: c.loggerLevel}))
			e := newEnv(t, cfg, func(o *server.Options) { o.Logger = log })

			s := e.authDevice("request-log-device", "", "")
			e.do("GET", "/v2/account?token="+s.Token, "bearer:"+s.Token, "").wantOK(t)
			if r := e.do("GET", "/ws?token="+s.Token, "", ""); r.Status != 400 { // not an upgrade
				t.Errorf("GET /ws = %d %s", r.Status, r.Raw)
			}
			_, r := e.refresh(s, "")
			r.wantOK(t)
			e.do("POST", "/v2/rpc/nothing?http_key="+httpKey, "", `""`)

			out := buf.String()
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Socket.ServerKey+":"))
			for what, secret := range map[string]string{
				"session token": s.Token, "refresh token": s.Refresh, "HTTP key": httpKey, "server key": basic,
				"token's signature": s.Token[strings.LastIndexByte(s.Token, '.')+1:],
			} {
				if strings.Contains(out, secret) {
					t.Errorf("the log holds the %s", what)
				}
			}
			lines := requestLines(t, out)
			if !c.want {
				if len(lines) > 0 {
					t.Errorf("request_level %s under a %v logger logged %d requests: %v", c.requestLevel, c.loggerLevel, len(lines), lines)
				}
				return
			}
			var routes []string
			for _, l := range lines {
				routes = append(routes, l["route"].(string))
				if l["level"] != "INFO" || l["client_ip"] != "127.0.0.1" || l["method"] == nil || l["status"] == nil || l["latency"] == nil {
					t.Errorf("request line %v lacks a field or has the wrong level", l)
				}
				if _, ok := l["path"]; ok {
					t.Errorf("request line %v has the path", l)
				}
			}
			want := []string{"POST /v2/account/authenticate/device", "GET /v2/account", "GET /ws",
				"POST /v2/account/session/refresh", "POST /v2/rpc/{id}"}
			if !slices.Equal(routes, want) {
				t.Errorf("logged routes = %q, want %q", routes, want)
			}
			if uid := claims(t, s.Token)["uid"]; lines[1]["user_id"] != uid || lines[1]["status"] != float64(200) {
				t.Errorf("GET /v2/account line = %v, want user_id %v and status 200", lines[1], uid)
			}
			if _, ok := lines[0]["user_id"]; ok {
				t.Errorf("the authenticate line names a user: %v", lines[0])
			}
		})
	}
}
