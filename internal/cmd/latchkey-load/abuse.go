package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// abuseScenarios replay the attacks of issue 12 against a running server; see the usage text.
var abuseScenarios = []string{"session-flood", "login-burst", "logout-all", hungStoreScenario, socketFloodScenario}

const (
	// legitDelay is how long into the login burst the legitimate login is sent.
	legitDelay = 200 * time.Millisecond
	// answerWindow is the answer time the login burst is judged by, besides --timeout.
	answerWindow = 2 * time.Second
	// maxSessionPages bounds the pages of GET /v2/account/sessions read to count an account's sessions.
	maxSessionPages = 1000
	// maxTokenTries bounds the tokens tried, newest first, to find one still live after a flood.
	maxTokenTries = 32
	// baselineTime is how long logout-all's other logins run before the logout is sent.
	baselineTime = 200 * time.Millisecond
)

var (
	burstSource = net.IPv4(127, 0, 0, 2)
	legitSource = net.IPv4(127, 0, 0, 3)
)

// abuseOptions are the flags of the abuse scenarios.
type abuseOptions struct {
	burst          int
	maxSessions    int
	maxUserSockets int
	proxyListen    string
	proxyUpstream  string
	freeze         time.Duration
	recover        time.Duration
	writeTimeout   time.Duration
}

func (a *abuseOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&a.burst, "burst", 200, "(login-burst) wrong-password logins sent at once")
	fs.IntVar(&a.maxSessions, "max-sessions", 100, "(session-flood) the server's session.max_sessions_per_user: more live sessions than this after the flood is a failure (0: no check)")
	fs.IntVar(&a.maxUserSockets, "max-user-sockets", 16, "(socket-flood) the server's socket.max_sockets_per_user: more sockets open at the end of the flood than this is a failure (0: no check)")
	fs.StringVar(&a.proxyListen, "store-proxy-listen", "", "(hung-store) loopback address:port the store proxy listens on; the server's --database.address must point at it")
	fs.StringVar(&a.proxyUpstream, "store-proxy-upstream", "", "(hung-store) loopback address:port of the PostgreSQL server the store proxy forwards to")
	fs.DurationVar(&a.freeze, "freeze", 20*time.Second, "(hung-store) how long the store proxy forwards nothing")
	fs.DurationVar(&a.recover, "recover", 10*time.Second, "(hung-store) how long the load goes on after the thaw")
	fs.DurationVar(&a.writeTimeout, "write-timeout", 10*time.Second, "(hung-store) the server's socket.write_timeout_ms: an answer during the freeze must come before it")
}

// validate reports every problem with the abuse flags; base is the checked --url ("" if it was refused) and
// timeout is --timeout.
func (a *abuseOptions) validate(scenario, base string, timeout time.Duration) []error {
	var errs []error
	if a.burst < 1 || a.burst > 4096 {
		errs = append(errs, errors.New("--burst must be between 1 and 4096"))
	}
	if a.maxSessions < 0 {
		errs = append(errs, errors.New("--max-sessions must not be negative"))
	}
	if a.maxUserSockets < 0 {
		errs = append(errs, errors.New("--max-user-sockets must not be negative"))
	}
	if scenario == "login-burst" && isIPv6Base(base) {
		errs = append(errs, errors.New("login-burst sends from the source addresses 127.0.0.2 and 127.0.0.3; give an IPv4 --url"))
	}
	if scenario == hungStoreScenario {
		for _, f := range []struct{ name, addr string }{{"--store-proxy-listen", a.proxyListen}, {"--store-proxy-upstream", a.proxyUpstream}} {
			if err := checkLoopbackAddr(f.name, f.addr); err != nil {
				errs = append(errs, err)
			}
		}
		if a.proxyListen != "" && a.proxyListen == a.proxyUpstream {
			errs = append(errs, errors.New("--store-proxy-listen and --store-proxy-upstream must differ"))
		}
		if a.freeze <= 0 || a.recover <= 0 || a.writeTimeout <= 0 {
			errs = append(errs, errors.New("--freeze, --recover and --write-timeout must be positive"))
		}
		// A reply the server cuts at its write timeout must show as such, not as the client giving up first.
		if timeout <= a.writeTimeout {
			errs = append(errs, fmt.Errorf("--timeout (%v) must exceed --write-timeout (%v) for hung-store; try --timeout %v",
				timeout, a.writeTimeout, a.writeTimeout+5*time.Second))
		}
	}
	return errs
}

// answerKey names an outcome by HTTP status and, for an error answer, the code of its body: "200",
// "429/8", "401/16"; "transport error" when no answer arrived.
func answerKey(status int, err error) string {
	var se *statusError
	if errors.As(err, &se) {
		var body struct {
			Code *int `json:"code"`
		}
		if json.Unmarshal([]byte(se.msg), &body) == nil && body.Code != nil {
			return strconv.Itoa(se.status) + "/" + strconv.Itoa(*body.Code)
		}
		return strconv.Itoa(se.status)
	}
	return statusKey(status, err)
}

// answered reports whether err still means an HTTP answer arrived (any status).
func answered(err error) bool {
	var se *statusError
	var be *badBodyError
	return err == nil || errors.As(err, &se) || errors.As(err, &be)
}

// histogram is a status histogram shared by goroutines.
type histogram struct {
	mu       sync.Mutex
	status   map[string]int
	examples []string
}

func newHistogram() *histogram { return &histogram{status: map[string]int{}} }

// add counts one outcome; an error counts as an example when failure is set.
func (h *histogram) add(status int, err error, failure bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status[answerKey(status, err)]++
	if failure && err != nil {
		h.examples = appendExamples(h.examples, err.Error())
	}
}

func runAbuse(ctx context.Context, o options, stdout, stderr io.Writer) int {
	var (
		res      any
		print    func(io.Writer)
		failures []string
		err      error
	)
	switch o.scenario {
	case "session-flood":
		var r floodResult
		r, err = sessionFlood(ctx, o)
		res, print, failures = r, func(w io.Writer) { printFlood(w, r) }, r.failures()
	case "login-burst":
		var r burstResult
		r, err = loginBurst(ctx, o)
		res, print, failures = r, func(w io.Writer) { printBurst(w, r) }, r.failures()
	case "logout-all":
		var r logoutAllResult
		r, err = logoutAll(ctx, o)
		res, print, failures = r, func(w io.Writer) { printLogoutAll(w, r) }, r.failures()
	case hungStoreScenario:
		var r hungStoreResult
		r, err = hungStore(ctx, o, stderr)
		res, print, failures = r, func(w io.Writer) { printHungStore(w, r) }, r.failures()
	case socketFloodScenario:
		var r socketFloodResult
		r, err = socketFlood(ctx, o)
		res, print, failures = r, func(w io.Writer) { printSocketFlood(w, r) }, r.failures()
	}
	if err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %s: %v\n", o.scenario, err)
		return 1
	}
	if err := writeResult(stdout, o.json, res, print); err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %v\n", err)
		return 1
	}
	if ctx.Err() != nil {
		failures = append(failures, "interrupted")
	}
	if len(failures) > 0 {
		fmt.Fprintf(stderr, "latchkey-load: %s: %s\n", o.scenario, strings.Join(failures, "; "))
		return 1
	}
	return 0
}

// setup runs fn with --setup-timeout after checking the server's health.
func setup(ctx context.Context, o options, t *target, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	if err := t.healthy(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := fn(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// sessionCount is what listing an account's sessions found.
type sessionCount struct {
	all, others    int // sessions listed, and those that are not the caller's own
	pages          int
	firstPageBytes int
}

// countSessions reads every page of GET /v2/account/sessions (at most maxSessionPages) with bearer.
func (t *target) countSessions(ctx context.Context, bearer string) (sessionCount, error) {
	var c sessionCount
	cursor := ""
	seen := map[string]bool{}
	for c.pages < maxSessionPages {
		path := "/v2/account/sessions"
		if cursor != "" {
			path += "?cursor=" + cursor
		}
		body, err := t.getRaw(ctx, path, bearer)
		if err != nil {
			return c, fmt.Errorf("GET %s: %w", path, err)
		}
		if c.pages == 0 {
			c.firstPageBytes = len(body)
		}
		c.pages++
		var page struct {
			Sessions []struct {
				Current bool `json:"current"`
			} `json:"sessions"`
			Cursor string `json:"cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return c, fmt.Errorf("GET %s: %w", path, &badBodyError{err: err})
		}
		for _, s := range page.Sessions {
			c.all++
			if !s.Current {
				c.others++
			}
		}
		if page.Cursor == "" || seen[page.Cursor] {
			return c, nil
		}
		seen[page.Cursor] = true
		cursor = page.Cursor
	}
	return c, fmt.Errorf("more than %d pages of sessions", maxSessionPages)
}

// getRaw sends a GET and returns the whole body of a 2xx answer.
func (t *target) getRaw(ctx context.Context, path, auth string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	res, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, &statusError{status: res.StatusCode, msg: strings.TrimSpace(string(body[:min(len(body), 256)]))}
	}
	return body, nil
}

// countWithAny counts the sessions with the newest of tokens that is still live (newest last), trying at
// most maxTokenTries of them: a flood beyond the cap ends the oldest sessions.
func (t *target) countWithAny(ctx context.Context, tokens []string) (sessionCount, error) {
	err := errors.New("no session token to list sessions with")
	for i := len(tokens) - 1; i >= 0 && i >= len(tokens)-maxTokenTries; i-- {
		var c sessionCount
		c, err = t.countSessions(ctx, "Bearer "+tokens[i])
		if err == nil {
			return c, nil
		}
		var se *statusError
		if !errors.As(err, &se) || se.status != http.StatusUnauthorized {
			return c, err
		}
	}
	return sessionCount{}, err
}

// floodResult is what a session-flood run reports.
type floodResult struct {
	Scenario     string  `json:"scenario"`
	URL          string  `json:"url"`
	Concurrency  int     `json:"concurrency"`
	Logins       int     `json:"logins"`
	StoppedBy    string  `json:"stopped_by"`
	ElapsedSec   float64 `json:"elapsed_s"`
	LoginsPerSec float64 `json:"logins_per_s"`
	Succeeded    int     `json:"succeeded"`
	Refused      int     `json:"refused"` // answered with a status other than 2xx
	Dropped      int     `json:"dropped"` // no answer
	latency
	Status map[string]int `json:"status"`
	// LiveSessions is the account's sessions after the flood, counted over SessionPages pages of
	// GET /v2/account/sessions; FirstPageBytes is the size of the first page's body.
	LiveSessions   int      `json:"live_sessions"`
	SessionPages   int      `json:"session_pages"`
	FirstPageBytes int      `json:"first_page_bytes"`
	MaxSessions    int      `json:"max_sessions"`
	CountError     string   `json:"count_error,omitempty"`
	ErrorExamples  []string `json:"error_examples,omitempty"`
}

// failures lists what makes the run fail: a login with no answer or with an answer other than 2xx or 429,
// sessions that could not be counted, or more of them than --max-sessions.
func (r floodResult) failures() []string {
	var f []string
	unexpected := 0
	for k, n := range r.Status {
		if !strings.HasPrefix(k, "2") && !strings.HasPrefix(k, "429") {
			unexpected += n
		}
	}
	if unexpected > 0 {
		f = append(f, fmt.Sprintf("%d logins got no answer or an answer other than 2xx or 429", unexpected))
	}
	if r.CountError != "" {
		f = append(f, "counting sessions: "+r.CountError)
	} else if r.MaxSessions > 0 && r.LiveSessions > r.MaxSessions {
		f = append(f, fmt.Sprintf("%d live sessions, above the cap of %d", r.LiveSessions, r.MaxSessions))
	}
	return f
}

// sessionFlood logs one device in --requests times and counts its sessions afterwards.
func sessionFlood(ctx context.Context, o options) (floodResult, error) {
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	body := deviceBody("lkload-" + runID() + "-flood")
	if err := setup(ctx, o, t, func(context.Context) error { return nil }); err != nil {
		return floodResult{}, err
	}
	h := newHistogram()
	var mu sync.Mutex
	var tokens []string // of successful logins, in the order they were answered
	var succeeded, refused, dropped atomic.Int64
	phase := runPhase(ctx, o.concurrency, o.requests, o.duration, 0, func(ctx context.Context, _ int) (int, error) {
		var p tokenPair
		status, err := t.do(ctx, http.MethodPost, authDevicePath, t.basic, body, &p)
		key := answerKey(status, err)
		h.add(status, err, !strings.HasPrefix(key, "2") && !strings.HasPrefix(key, "429"))
		switch {
		case err == nil:
			succeeded.Add(1)
			mu.Lock()
			tokens = append(tokens, p.Token)
			mu.Unlock()
		case answered(err):
			refused.Add(1)
		default:
			dropped.Add(1)
		}
		return status, err
	})
	r := floodResult{
		Scenario: o.scenario, URL: o.url, Concurrency: o.concurrency, Logins: len(phase.lat),
		StoppedBy: phase.stoppedBy, ElapsedSec: phase.elapsed.Seconds(), latency: latencyOf(phase.lat),
		Succeeded: int(succeeded.Load()), Refused: int(refused.Load()), Dropped: int(dropped.Load()),
		Status: h.status, ErrorExamples: h.examples, MaxSessions: o.abuse.maxSessions,
	}
	if phase.elapsed > 0 {
		r.LoginsPerSec = float64(r.Logins) / phase.elapsed.Seconds()
	}
	cctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	c, err := t.countWithAny(cctx, tokens)
	if err != nil {
		r.CountError = err.Error()
	}
	r.LiveSessions, r.SessionPages, r.FirstPageBytes = c.all, c.pages, c.firstPageBytes
	return r, nil
}

func printFlood(w io.Writer, r floodResult) {
	fmt.Fprintf(w, "scenario     %s against %s, concurrency %d, one device id\n", r.Scenario, r.URL, r.Concurrency)
	fmt.Fprintf(w, "logins       %d (stopped by %s): %d succeeded, %d refused, %d dropped\n",
		r.Logins, r.StoppedBy, r.Succeeded, r.Refused, r.Dropped)
	fmt.Fprintf(w, "elapsed      %.3fs\n", r.ElapsedSec)
	fmt.Fprintf(w, "throughput   %.1f logins/s\n", r.LoginsPerSec)
	fmt.Fprintf(w, "latency      %s\n", r.latency.text())
	fmt.Fprintf(w, "status       %s\n", formatStatus(r.Status))
	if r.CountError != "" {
		fmt.Fprintf(w, "sessions     not counted: %s\n", r.CountError)
	} else {
		capText := "no cap checked"
		if r.MaxSessions > 0 {
			capText = fmt.Sprintf("cap %d", r.MaxSessions)
		}
		fmt.Fprintf(w, "sessions     %d live (%s), %d pages, first page %d bytes\n",
			r.LiveSessions, capText, r.SessionPages, r.FirstPageBytes)
	}
	printExamples(w, r.ErrorExamples)
}

// burstResult is what a login-burst run reports.
type burstResult struct {
	Scenario    string  `json:"scenario"`
	URL         string  `json:"url"`
	Burst       int     `json:"burst"`
	BurstSource string  `json:"burst_source"`
	DeadlineSec float64 `json:"deadline_s"`
	// Answered2s and AnsweredDeadline count burst requests answered (any HTTP status) within 2 s and within
	// the deadline (--timeout); Dropped got no answer.
	Answered2s       int            `json:"answered_within_2s"`
	AnsweredDeadline int            `json:"answered_within_deadline"`
	Dropped          int            `json:"dropped"`
	Status           map[string]int `json:"status"`
	AnswerP50Ms      float64        `json:"answer_p50_ms"`
	AnswerP99Ms      float64        `json:"answer_p99_ms"`
	AnswerMaxMs      float64        `json:"answer_max_ms"`
	ElapsedSec       float64        `json:"elapsed_s"`
	// The legitimate login of another account, from LegitSource, sent LegitSentAfterMs into the burst.
	LegitSource      string   `json:"legit_source"`
	LegitSentAfterMs float64  `json:"legit_sent_after_ms"`
	LegitStatus      string   `json:"legit_status"`
	LegitMs          float64  `json:"legit_ms"`
	ErrorExamples    []string `json:"error_examples,omitempty"`
}

func (r burstResult) failures() []string {
	var f []string
	if r.Dropped > 0 {
		f = append(f, fmt.Sprintf("%d of %d burst logins got no answer", r.Dropped, r.Burst))
	}
	if !strings.HasPrefix(r.LegitStatus, "2") {
		f = append(f, "the legitimate login failed: "+r.LegitStatus)
	}
	return f
}

// emailBody is the authenticate request body for an email account.
func emailBody(email, password string) []byte {
	b, _ := json.Marshal(struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password})
	return b
}

const emailPath = "/v2/account/authenticate/email"

// loginBurst sends --burst wrong-password logins of one account at once from burstSource and one right
// login of another account from legitSource legitDelay into the burst.
func loginBurst(ctx context.Context, o options) (burstResult, error) {
	n := o.abuse.burst
	bt := newTargetFrom(o, burstSource, n)
	lt := newTargetFrom(o, legitSource, 1)
	defer bt.client.CloseIdleConnections()
	defer lt.client.CloseIdleConnections()
	prefix := "lkload-" + runID()
	password := prefix + "-Password"
	victim, legit := prefix+"-victim@example.com", prefix+"-legit@example.com"
	wrong := emailBody(victim, "wrong-"+password)
	legitBody := emailBody(legit, password)
	// The accounts are created from the legitimate source, so the burst's address starts with a full bucket.
	err := setup(ctx, o, lt, func(ctx context.Context) error {
		for _, email := range []string{victim, legit} {
			var p tokenPair
			if _, err := lt.do(ctx, http.MethodPost, emailPath+"?create=true", lt.basic, emailBody(email, password), &p); err != nil {
				return fmt.Errorf("creating %s: %w", email, err)
			}
		}
		return nil
	})
	if err != nil {
		return burstResult{}, err
	}

	r := burstResult{Scenario: o.scenario, URL: o.url, Burst: n, BurstSource: burstSource.String(),
		DeadlineSec: o.timeout.Seconds(), LegitSource: legitSource.String(), LegitStatus: "not sent"}
	h := newHistogram()
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	go0 := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-go0
			t0 := time.Now()
			status, err := bt.do(ctx, http.MethodPost, emailPath+"?create=false", bt.basic, wrong, nil)
			lat[i] = time.Since(t0)
			ok[i] = answered(err)
			h.add(status, err, !ok[i])
		})
	}
	start := time.Now()
	wg.Go(func() {
		select {
		case <-time.After(legitDelay):
		case <-ctx.Done():
			return
		}
		sent := time.Now()
		status, err := lt.do(ctx, http.MethodPost, emailPath+"?create=false", lt.basic, legitBody, nil)
		r.LegitMs = float64(time.Since(sent).Microseconds()) / 1000
		r.LegitSentAfterMs = float64(sent.Sub(start).Microseconds()) / 1000
		r.LegitStatus = answerKey(status, err)
		if err != nil {
			r.LegitStatus += ": " + err.Error()
		}
	})
	close(go0)
	wg.Wait()
	r.ElapsedSec = time.Since(start).Seconds()

	var answeredLat []time.Duration
	for i := range n {
		if !ok[i] {
			r.Dropped++
			continue
		}
		answeredLat = append(answeredLat, lat[i])
		r.AnsweredDeadline++
		if lat[i] <= answerWindow {
			r.Answered2s++
		}
	}
	l := latencyOf(answeredLat)
	r.AnswerP50Ms, r.AnswerP99Ms, r.AnswerMaxMs = l.P50Ms, l.P99Ms, l.MaxMs
	r.Status, r.ErrorExamples = h.status, h.examples
	return r, nil
}

func printBurst(w io.Writer, r burstResult) {
	fmt.Fprintf(w, "scenario     %s against %s, %d wrong-password logins at once from %s\n",
		r.Scenario, r.URL, r.Burst, r.BurstSource)
	fmt.Fprintf(w, "answered     %d within 2s, %d within the deadline of %.0fs, %d dropped\n",
		r.Answered2s, r.AnsweredDeadline, r.DeadlineSec, r.Dropped)
	fmt.Fprintf(w, "elapsed      %.3fs\n", r.ElapsedSec)
	fmt.Fprintf(w, "answer time  p50 %.3fms  p99 %.3fms  max %.3fms\n", r.AnswerP50Ms, r.AnswerP99Ms, r.AnswerMaxMs)
	fmt.Fprintf(w, "status       %s\n", formatStatus(r.Status))
	fmt.Fprintf(w, "legitimate   from %s, sent %.1fms into the burst: %s in %.3fms\n",
		r.LegitSource, r.LegitSentAfterMs, r.LegitStatus, r.LegitMs)
	printExamples(w, r.ErrorExamples)
}

// logoutAllResult is what a logout-all run reports.
type logoutAllResult struct {
	Scenario string `json:"scenario"`
	URL      string `json:"url"`
	// Pool sessions of one account were logged in during setup; LiveBefore of them were live when the
	// logout was sent (the server's cap ends the oldest).
	Pool         int     `json:"pool"`
	LiveBefore   int     `json:"live_before"`
	LogoutStatus string  `json:"logout_status"`
	LogoutMs     float64 `json:"logout_ms"`
	// LiveAfter is the account's sessions after the logout besides the one logged in to count them;
	// OldTokensAccepted is how many of the setup's tokens GET /v2/account still accepted.
	LiveAfter         int `json:"live_after"`
	OldTokensAccepted int `json:"old_tokens_accepted"`
	// Concurrency other accounts log in over and over from baselineTime before the logout until it is
	// answered. During counts their logins whose time overlaps the logout's; Before those that ended
	// before it was sent.
	Concurrency   int            `json:"concurrency"`
	OtherLogins   int            `json:"other_logins"`
	OtherErrors   int            `json:"other_errors"`
	Before        loginFigures   `json:"before"`
	During        loginFigures   `json:"during"`
	Status        map[string]int `json:"status"`
	CountError    string         `json:"count_error,omitempty"`
	ErrorExamples []string       `json:"error_examples,omitempty"`
}

func (r logoutAllResult) failures() []string {
	var f []string
	if !strings.HasPrefix(r.LogoutStatus, "2") {
		f = append(f, "the logout failed: "+r.LogoutStatus)
	}
	if r.CountError != "" {
		f = append(f, "counting sessions: "+r.CountError)
	}
	if r.LiveAfter > 0 || r.OldTokensAccepted > 0 {
		f = append(f, fmt.Sprintf("%d sessions live after the logout, %d old tokens still accepted", r.LiveAfter, r.OldTokensAccepted))
	}
	if r.OtherErrors > 0 {
		f = append(f, fmt.Sprintf("%d of %d other logins failed", r.OtherErrors, r.OtherLogins))
	}
	return f
}

// logoutAll logs one account in --pool times, then logs all its sessions out with one empty-body logout
// while --concurrency other accounts keep logging in.
func logoutAll(ctx context.Context, o options) (logoutAllResult, error) {
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	prefix := "lkload-" + runID() + "-"
	victim := deviceBody(prefix + "victim")
	others := make([][]byte, o.concurrency)
	for i := range others {
		others[i] = deviceBody(prefix + "other-" + strconv.Itoa(i))
	}
	tokens := make([]string, o.pool)
	var answeredOrder atomic.Int64
	order := make([]int64, o.pool)
	r := logoutAllResult{Scenario: o.scenario, URL: o.url, Pool: o.pool, Concurrency: o.concurrency}
	err := setup(ctx, o, t, func(ctx context.Context) error {
		if err := parallel(ctx, o.concurrency, o.pool, func(ctx context.Context, i int) error {
			p, err := t.authDevice(ctx, victim)
			tokens[i], order[i] = p.Token, answeredOrder.Add(1)
			return err
		}); err != nil {
			return err
		}
		if err := parallel(ctx, o.concurrency, len(others), func(ctx context.Context, i int) error {
			_, err := t.authDevice(ctx, others[i])
			return err
		}); err != nil {
			return err
		}
		// Newest last, for countWithAny.
		byOrder := make([]string, o.pool)
		for i, n := range order {
			byOrder[n-1] = tokens[i]
		}
		c, err := t.countWithAny(ctx, byOrder)
		r.LiveBefore = c.all
		return err
	})
	if err != nil {
		return r, err
	}

	type login struct {
		start, end time.Time
		err        error
	}
	h := newHistogram()
	logins := make([][]login, o.concurrency)
	stop := make(chan struct{})
	limit := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	for w := range logins {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(limit) {
				select {
				case <-stop:
					return
				default:
				}
				l := login{start: time.Now()}
				var status int
				status, l.err = t.do(ctx, http.MethodPost, authDevicePath, t.basic, others[w], nil)
				l.end = time.Now()
				h.add(status, l.err, true)
				logins[w] = append(logins[w], l)
			}
		})
	}
	select {
	case <-time.After(min(baselineTime, o.duration)):
	case <-ctx.Done():
	}
	// Any live session of the account authorizes the logout; one the cap ended would be refused, so the
	// newest is used.
	live := ""
	for i, n := range order {
		if n == int64(o.pool) {
			live = tokens[i]
		}
	}
	logoutStart := time.Now()
	status, lerr := t.do(ctx, http.MethodPost, "/v2/session/logout", "Bearer "+live, []byte{}, nil)
	logoutEnd := time.Now()
	close(stop)
	wg.Wait()
	r.LogoutMs = float64(logoutEnd.Sub(logoutStart).Microseconds()) / 1000
	r.LogoutStatus = answerKey(status, lerr)
	if lerr != nil {
		r.LogoutStatus += ": " + lerr.Error()
	}

	var before, during []time.Duration
	for _, ls := range logins {
		for _, l := range ls {
			r.OtherLogins++
			if l.err != nil {
				r.OtherErrors++
			}
			d := l.end.Sub(l.start)
			switch {
			case l.end.Before(logoutStart):
				before = append(before, d)
			case l.start.Before(logoutEnd):
				during = append(during, d)
			}
		}
	}
	r.Before = loginFigures{Count: len(before), latency: latencyOf(before)}
	r.During = loginFigures{Count: len(during), latency: latencyOf(during)}
	r.Status, r.ErrorExamples = h.status, h.examples

	// Count what is left: a new session of the account lists the others, and every old token is tried.
	cctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	p, err := t.authDevice(cctx, victim)
	var c sessionCount
	if err == nil {
		c, err = t.countSessions(cctx, "Bearer "+p.Token)
	}
	if err != nil {
		r.CountError = err.Error()
	}
	r.LiveAfter = c.others
	var accepted atomic.Int64
	err = parallel(cctx, o.concurrency, len(tokens), func(ctx context.Context, i int) error {
		_, err := t.do(ctx, http.MethodGet, "/v2/account", "Bearer "+tokens[i], nil, nil)
		var se *statusError
		switch {
		case err == nil:
			accepted.Add(1)
		case errors.As(err, &se) && se.status == http.StatusUnauthorized:
		default:
			return err
		}
		return nil
	})
	if err != nil && r.CountError == "" {
		r.CountError = "trying the old tokens: " + err.Error()
	}
	r.OldTokensAccepted = int(accepted.Load())
	return r, nil
}

// loginFigures are the count and latency of some of logout-all's other logins.
type loginFigures struct {
	Count int `json:"count"`
	latency
}

func printLogoutAll(w io.Writer, r logoutAllResult) {
	fmt.Fprintf(w, "scenario     %s against %s, %d sessions of one account logged in (%d live), %d other accounts logging in\n",
		r.Scenario, r.URL, r.Pool, r.LiveBefore, r.Concurrency)
	fmt.Fprintf(w, "logout       %s in %.3fms\n", r.LogoutStatus, r.LogoutMs)
	if r.CountError != "" {
		fmt.Fprintf(w, "after        not counted: %s\n", r.CountError)
	} else {
		fmt.Fprintf(w, "after        %d sessions live, %d old tokens accepted\n", r.LiveAfter, r.OldTokensAccepted)
	}
	fmt.Fprintf(w, "other logins %d (%d failed)\n", r.OtherLogins, r.OtherErrors)
	fmt.Fprintf(w, "  before     %d: p50 %.3fms  p99 %.3fms  max %.3fms\n", r.Before.Count, r.Before.P50Ms, r.Before.P99Ms, r.Before.MaxMs)
	fmt.Fprintf(w, "  during     %d: p50 %.3fms  p99 %.3fms  max %.3fms\n", r.During.Count, r.During.P50Ms, r.During.P99Ms, r.During.MaxMs)
	fmt.Fprintf(w, "status       %s\n", formatStatus(r.Status))
	printExamples(w, r.ErrorExamples)
}
