package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/faultproxy"
)

const (
	// hungStoreScenario replays a database that hangs; see the usage text.
	hungStoreScenario = "hung-store"
	// maxProxyConns bounds the connections the store proxy carries at once; more are closed as accepted.
	maxProxyConns = 1024
	// healthPoll is how often hung-store asks /healthcheck while it waits for the server to start.
	healthPoll = 200 * time.Millisecond
	// refreshPath refreshes a session.
	refreshPath = "/v2/account/session/refresh"
)

// Outcome keys of hung-store's requests that got no answer, besides answerKey's.
const (
	keyEmptyReply    = "empty reply"    // the connection ended (or broke) without an answer
	keyClientTimeout = "client timeout" // no answer within --timeout
)

// checkLoopbackAddr checks that flag's value addr is a literal loopback IP address with a port other than 0.
func checkLoopbackAddr(flag, addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: give a loopback IP address and port, such as 127.0.0.1:6433", flag, addr)
	}
	if !ap.Addr().WithZone("").Unmap().IsLoopback() {
		return fmt.Errorf("%s %q: refusing an address that is not loopback (127.0.0.0/8, ::1)", flag, addr)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("%s %q: give a port other than 0", flag, addr)
	}
	return nil
}

// requestDeadline mirrors the server's rule (internal/server): a request's deadline keeps a fifth of the
// connection's write timeout, between 0.5 s and 2 s, for writing the answer. The tool only reports it; it
// judges answers by the write timeout itself, past which the server cuts the connection.
func requestDeadline(writeTimeout time.Duration) time.Duration {
	margin := min(max(writeTimeout/5, 500*time.Millisecond), 2*time.Second)
	return max(writeTimeout-margin, writeTimeout/2)
}

// proxyStats counts the client connections the store proxy accepted.
type proxyStats struct {
	Accepted     int `json:"accepted"`
	AcceptedHeld int `json:"accepted_while_frozen"`
	Refused      int `json:"refused"` // closed at once: maxProxyConns were open
}

// listenStoreProxy starts a proxy on listen that forwards to upstream; both are loopback addresses. While
// frozen it forwards nothing in either direction and closes nothing, as a database host that stops
// answering.
func listenStoreProxy(listen, upstream string) (*faultproxy.Proxy, error) {
	p, err := faultproxy.Listen(faultproxy.Config{Listen: listen, Upstream: upstream, MaxConns: maxProxyConns})
	if err != nil {
		return nil, fmt.Errorf("store proxy: %w", err)
	}
	return p, nil
}

// hungRequest is one request of hung-store.
type hungRequest struct {
	start, end time.Time
	key        string // answerKey, or keyEmptyReply or keyClientTimeout
	err        error
	retryAfter bool // the answer had a Retry-After header
}

func (r hungRequest) ok() bool { return r.err == nil }

// hungKey names a request's outcome: answerKey for an answer, else whether the connection ended without
// one or the client gave up.
func hungKey(status int, err error) string {
	if answered(err) {
		return answerKey(status, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return keyClientTimeout
	}
	return keyEmptyReply
}

// hungWorker is one worker's account: it logs its device in and refreshes its session, in turn.
type hungWorker struct {
	device  []byte
	refresh string
	sent    int
}

// send sends the worker's next request: a device login, then a refresh, and so on.
func (w *hungWorker) send(ctx context.Context, t *target) hungRequest {
	r := hungRequest{start: time.Now()}
	var p tokenPair
	var status int
	var header http.Header
	if w.sent%2 == 0 {
		status, header, r.err = t.doHeader(ctx, http.MethodPost, authDevicePath, t.basic, w.device, &p)
	} else {
		body, _ := json.Marshal(struct {
			Token string `json:"token"`
		}{w.refresh})
		status, header, r.err = t.doHeader(ctx, http.MethodPost, refreshPath, t.basic, body, &p)
	}
	r.end = time.Now()
	w.sent++
	if r.err == nil && (p.Token == "" || p.RefreshToken == "") {
		r.err = &badBodyError{err: errors.New("a token is missing")}
	}
	if r.err == nil {
		// The next refresh is of the newest session, which the per-account session cap never ends, with its
		// newest refresh token, in case refresh tokens rotate.
		w.refresh = p.RefreshToken
	}
	r.key = hungKey(status, r.err)
	r.retryAfter = header.Get("Retry-After") != ""
	return r
}

// drive runs one goroutine per worker, each sending requests back to back while claim allows (it is asked
// before each request) until end or ctx ends. Requests under way at end are let finish.
func drive(ctx context.Context, t *target, workers []hungWorker, end time.Time, claim func() bool) [][]hungRequest {
	out := make([][]hungRequest, len(workers))
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) && claim() {
				out[i] = append(out[i], workers[i].send(ctx, t))
			}
		})
	}
	wg.Wait()
	return out
}

// hungPhase is the figures of some of hung-store's requests.
type hungPhase struct {
	Requests  int     `json:"requests"`
	Succeeded int     `json:"succeeded"`
	Refused   int     `json:"refused"` // answered with a status other than 2xx
	Dropped   int     `json:"dropped"` // no answer: an empty reply or a client timeout
	ElapsedS  float64 `json:"elapsed_s"`
	StoppedBy string  `json:"stopped_by,omitempty"` // "requests", "duration" or "interrupt"
	latency
	Status map[string]int `json:"status"`
}

// phaseOf sums rs; the latency is of every request, answered or not.
func phaseOf(rs []hungRequest) hungPhase {
	p := hungPhase{Requests: len(rs), Status: map[string]int{}}
	lat := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		p.Status[r.key]++
		lat = append(lat, r.end.Sub(r.start))
		switch {
		case r.ok():
			p.Succeeded++
		case answered(r.err):
			p.Refused++
		default:
			p.Dropped++
		}
	}
	p.latency = latencyOf(lat)
	return p
}

// stoppedBy names what ended a drive that was to last until end with at most limit requests.
func stoppedBy(ctx context.Context, n, limit int, end time.Time) string {
	switch {
	case n >= limit:
		return "requests"
	case ctx.Err() != nil && time.Now().Before(end):
		return "interrupt"
	}
	return "duration"
}

// hungStoreResult is what a hung-store run reports.
type hungStoreResult struct {
	Scenario      string `json:"scenario"`
	URL           string `json:"url"`
	Concurrency   int    `json:"concurrency"`
	ProxyListen   string `json:"store_proxy_listen"`
	ProxyUpstream string `json:"store_proxy_upstream"`
	// WriteTimeoutS is the server's socket.write_timeout_ms as given by --write-timeout; DeadlineS is the
	// request deadline the server derives from it.
	WriteTimeoutS float64   `json:"write_timeout_s"`
	DeadlineS     float64   `json:"request_deadline_s"`
	Baseline      hungPhase `json:"baseline"`
	// Freeze is the requests sent while the store was frozen, FreezeS long; AnsweredAfterThaw of them were
	// answered after the thaw. Late counts answers (or failures) at or after the write timeout; NoRetryAfter
	// counts 503 answers without a Retry-After header.
	FreezeS           float64   `json:"freeze_s"`
	Freeze            hungPhase `json:"freeze"`
	Unavailable       int       `json:"unavailable"` // 503/14 answers
	AnsweredAfterThaw int       `json:"answered_after_thaw"`
	Late              int       `json:"late"`
	NoRetryAfter      int       `json:"no_retry_after"`
	// After is the requests sent after the thaw, for up to RecoverS. FirstSuccessMs is how long after the
	// thaw the first 2xx answer (of any request) arrived, if Recovered; FailedAfterFirstSuccess counts the
	// requests sent after that answer that failed.
	RecoverS                float64    `json:"recover_s"`
	Recovered               bool       `json:"recovered"`
	FirstSuccessMs          float64    `json:"first_success_ms"`
	After                   hungPhase  `json:"after"`
	SuccessRateAfter        float64    `json:"success_rate_after"`
	FailedAfterFirstSuccess int        `json:"failed_after_first_success"`
	Proxy                   proxyStats `json:"proxy"`
	ErrorExamples           []string   `json:"error_examples,omitempty"`
}

// failures lists what makes the run fail: a failed baseline request; during the freeze a request with no
// answer, an answer other than 2xx or 503/14, one at or after the write timeout, a 503 without Retry-After,
// or nothing but successes (the server's database is not behind the proxy); no success after the thaw, or
// a failure after the first one.
func (r hungStoreResult) failures() []string {
	var f []string
	if n := r.Baseline.Requests - r.Baseline.Succeeded; n > 0 {
		f = append(f, fmt.Sprintf("%d of %d baseline requests failed", n, r.Baseline.Requests))
	}
	if r.Freeze.Dropped > 0 {
		f = append(f, fmt.Sprintf("%d of %d requests during the freeze got no answer", r.Freeze.Dropped, r.Freeze.Requests))
	}
	if n := r.Freeze.Refused - r.Unavailable; n > 0 {
		f = append(f, fmt.Sprintf("%d requests during the freeze were answered other than 2xx or 503/14", n))
	}
	if r.Late > 0 {
		f = append(f, fmt.Sprintf("%d requests during the freeze ended at or after the %.1fs write timeout", r.Late, r.WriteTimeoutS))
	}
	if r.NoRetryAfter > 0 {
		f = append(f, fmt.Sprintf("%d 503 answers without Retry-After", r.NoRetryAfter))
	}
	if r.Freeze.Requests > 0 && r.Freeze.Succeeded == r.Freeze.Requests {
		f = append(f, "every request sent during the freeze succeeded: does the server reach its database through the store proxy?")
	}
	if !r.Recovered {
		f = append(f, fmt.Sprintf("no request succeeded within %.1fs of the thaw", r.RecoverS))
	} else if r.FailedAfterFirstSuccess > 0 {
		f = append(f, fmt.Sprintf("%d requests sent after the first success failed", r.FailedAfterFirstSuccess))
	}
	return f
}

// hungStore measures a healthy baseline, then freezes the store proxy for --freeze while the workers keep
// sending, then thaws it and goes on for --recover.
func hungStore(ctx context.Context, o options, stderr io.Writer) (hungStoreResult, error) {
	a := o.abuse
	r := hungStoreResult{Scenario: o.scenario, URL: o.url, Concurrency: o.concurrency, ProxyListen: a.proxyListen,
		ProxyUpstream: a.proxyUpstream, WriteTimeoutS: a.writeTimeout.Seconds(),
		DeadlineS: requestDeadline(a.writeTimeout).Seconds(), FreezeS: a.freeze.Seconds(), RecoverS: a.recover.Seconds()}
	proxy, err := listenStoreProxy(a.proxyListen, a.proxyUpstream)
	if err != nil {
		return r, err
	}
	defer proxy.Close()
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	fmt.Fprintf(stderr, "latchkey-load: %s: store proxy on %s forwards to %s; waiting up to %v for the server at %s\n",
		o.scenario, a.proxyListen, a.proxyUpstream, o.setupTimeout, o.url)

	prefix := "lkload-" + runID() + "-hung-"
	workers := make([]hungWorker, o.concurrency)
	err = func() error {
		ctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
		defer cancel()
		if err := waitHealthy(ctx, t); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		err := parallel(ctx, o.concurrency, len(workers), func(ctx context.Context, i int) error {
			w := &workers[i]
			w.device = deviceBody(fmt.Sprintf("%s%d", prefix, i))
			p, err := t.authDevice(ctx, w.device)
			w.refresh = p.RefreshToken
			return err
		})
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if proxy.Counts().Accepted == 0 {
			return fmt.Errorf("setup: the server has not connected through the store proxy; start it after this tool, with --database.address pointing at %s", a.proxyListen)
		}
		return nil
	}()
	if err != nil {
		return r, err
	}

	// examples keeps the messages of failures other than expected.
	examples := func(rs []hungRequest, expected string) {
		for _, q := range rs {
			if q.err != nil && q.key != expected {
				r.ErrorExamples = appendExamples(r.ErrorExamples, q.key+": "+q.err.Error())
			}
		}
	}

	// The healthy baseline.
	var sent atomic.Int64
	start := time.Now()
	end := start.Add(o.duration)
	claim := func() bool { return sent.Add(1) <= int64(o.requests) }
	var base []hungRequest
	for _, rs := range drive(ctx, t, workers, end, claim) {
		base = append(base, rs...)
	}
	r.Baseline = phaseOf(base)
	r.Baseline.ElapsedS = time.Since(start).Seconds()
	r.Baseline.StoppedBy = stoppedBy(ctx, len(base), o.requests, end)
	examples(base, "")
	if ctx.Err() != nil {
		return r, nil
	}

	// The freeze, the thaw and the recovery, without a pause: the workers go on sending throughout, and a
	// request is counted by when it was sent. The requests sent while frozen and those sent after the thaw
	// are capped by --requests each; a worker that meets the first cap waits for the thaw.
	var frozenSent, afterSent atomic.Int64
	var thawOnce sync.Once
	var thawedAt time.Time
	thawed := make(chan struct{})
	thaw := func() {
		thawOnce.Do(func() {
			proxy.Thaw()
			thawedAt = time.Now()
			close(thawed)
		})
	}
	claim = func() bool {
		select {
		case <-thawed:
		default:
			if frozenSent.Add(1) <= int64(o.requests) {
				return true
			}
			select {
			case <-thawed:
			case <-ctx.Done():
				return false
			}
		}
		return afterSent.Add(1) <= int64(o.requests)
	}
	proxy.Freeze()
	frozenAt := time.Now()
	before := proxy.Counts()
	timer := time.AfterFunc(a.freeze, thaw)
	end = frozenAt.Add(a.freeze + a.recover)
	all := drive(ctx, t, workers, end, claim)
	timer.Stop()
	thaw() // if the run ended early
	stopped := stoppedBy(ctx, int(min(afterSent.Load(), int64(o.requests))), o.requests, end)
	finished := time.Now()
	after := proxy.Counts()
	r.Proxy = proxyStats{Accepted: after.Accepted, AcceptedHeld: after.AcceptedWhileFrozen - before.AcceptedWhileFrozen,
		Refused: after.Refused}

	var sentFrozen, sentAfter []hungRequest
	var firstSuccess time.Time
	for _, rs := range all {
		for _, q := range rs {
			if q.start.Before(thawedAt) {
				sentFrozen = append(sentFrozen, q)
			} else {
				sentAfter = append(sentAfter, q)
			}
			if q.ok() && !q.end.Before(thawedAt) && (firstSuccess.IsZero() || q.end.Before(firstSuccess)) {
				firstSuccess = q.end
			}
		}
	}
	r.Freeze = phaseOf(sentFrozen)
	r.Freeze.ElapsedS = thawedAt.Sub(frozenAt).Seconds()
	for _, q := range sentFrozen {
		if q.key == "503/14" {
			r.Unavailable++
		}
		if !q.end.Before(thawedAt) {
			r.AnsweredAfterThaw++
		}
		if q.end.Sub(q.start) >= a.writeTimeout {
			r.Late++
		}
		if answered(q.err) && strings.HasPrefix(q.key, "503") && !q.retryAfter {
			r.NoRetryAfter++
		}
	}
	examples(sentFrozen, "503/14")
	r.After = phaseOf(sentAfter)
	r.After.ElapsedS = finished.Sub(thawedAt).Seconds()
	r.After.StoppedBy = stopped
	if len(sentAfter) > 0 {
		r.SuccessRateAfter = float64(r.After.Succeeded) / float64(len(sentAfter))
	}
	if !firstSuccess.IsZero() && firstSuccess.Sub(thawedAt) <= a.recover {
		r.Recovered = true
		r.FirstSuccessMs = float64(firstSuccess.Sub(thawedAt).Microseconds()) / 1000
		for _, q := range sentAfter {
			if !q.ok() && q.start.After(firstSuccess) {
				r.FailedAfterFirstSuccess++
			}
		}
	}
	examples(sentAfter, "")
	return r, nil
}

// waitHealthy asks /healthcheck every healthPoll until it answers 200 or ctx ends, so that the server may
// be started after the tool (whose store proxy it needs).
func waitHealthy(ctx context.Context, t *target) error {
	for {
		err := t.healthy(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(healthPoll):
		}
	}
}

func printHungStore(w io.Writer, r hungStoreResult) {
	fmt.Fprintf(w, "scenario     %s against %s, concurrency %d, store proxy %s -> %s\n",
		r.Scenario, r.URL, r.Concurrency, r.ProxyListen, r.ProxyUpstream)
	fmt.Fprintf(w, "timeouts     write %.3gs, request deadline %.3gs\n", r.WriteTimeoutS, r.DeadlineS)
	printHungPhase(w, "baseline", fmt.Sprintf("%d requests (stopped by %s) in %.3fs", r.Baseline.Requests, r.Baseline.StoppedBy, r.Baseline.ElapsedS), r.Baseline)
	printHungPhase(w, "freeze", fmt.Sprintf("%.3fs, %d requests sent", r.Freeze.ElapsedS, r.Freeze.Requests), r.Freeze)
	fmt.Fprintf(w, "  answers    %d 503/14 (%d of them without Retry-After), %d after the thaw, %d at or after the write timeout\n",
		r.Unavailable, r.NoRetryAfter, r.AnsweredAfterThaw, r.Late)
	printHungPhase(w, "after thaw", fmt.Sprintf("%d requests (stopped by %s) in %.3fs", r.After.Requests, r.After.StoppedBy, r.After.ElapsedS), r.After)
	if r.Recovered {
		fmt.Fprintf(w, "  recovery   first success %.3fms after the thaw; %.1f%% of the requests sent after the thaw succeeded, %d failed after the first success\n",
			r.FirstSuccessMs, 100*r.SuccessRateAfter, r.FailedAfterFirstSuccess)
	} else {
		fmt.Fprintf(w, "  recovery   no success within %.3gs of the thaw\n", r.RecoverS)
	}
	fmt.Fprintf(w, "proxy        %d connections accepted, %d of them while frozen, %d refused\n",
		r.Proxy.Accepted, r.Proxy.AcceptedHeld, r.Proxy.Refused)
	printExamples(w, r.ErrorExamples)
}

// printHungPhase prints a phase's head, outcome counts, latency and status histogram.
func printHungPhase(w io.Writer, name, head string, p hungPhase) {
	fmt.Fprintf(w, "%-12s %s: %d succeeded, %d refused, %d dropped\n", name, head, p.Succeeded, p.Refused, p.Dropped)
	fmt.Fprintf(w, "  latency    %s\n", p.latency.text())
	fmt.Fprintf(w, "  status     %s\n", formatStatus(p.Status))
}
