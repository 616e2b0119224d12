// Command latchkey-load sends a bounded HTTP load to a Latchkey server on a loopback address and reports
// throughput, latency percentiles and every failed request; see 'latchkey-load -h'.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: latchkey-load [flags]

Sends a bounded load to a Latchkey (or Nakama) server on a loopback address. Setup (creating the accounts
and sessions a scenario needs) and warmup are not measured. The measured phase stops at --requests or
--duration, whichever comes first. The exit status is 1 if any warmup or measured request failed (a
transport error or a non-2xx status), so a broken server is never reported as fast; 2 for bad flags.
The sockets scenario has phases of its own, described below.

The HTTP scenarios also report the CPU time (user and system, from /proc) per measured request of this
tool and of the machine as a whole, and, given --server-pid, --db-pids or --db-match, of the server and of
the database processes. The exit status is 1 if reading the server's or the database's failed.

Scenarios:
  auth-new        each request authenticates a device id never seen before (creates an account)
  auth-existing   each request logs in again one of --pool devices created in setup
  refresh         each request refreshes one of --pool sessions, always with that session's newest
                  refresh token
  logout          each request logs out one of (--warmup + --requests) sessions created in setup
  get-account     each request reads the account of one of --pool sessions created in setup
  introspect-session
                  each request checks one of --pool session tokens created in setup with POST
                  /latchkey/v1/introspect (a read-only check); an answer that is not active fails
  introspect-ticket
                  each request redeems, with POST /latchkey/v1/introspect, one of (--warmup + --requests)
                  join tickets that setup mints (POST /v2/session/ticket, ttl_sec 300, from --pool
                  sessions in turn): a store write per request; an answer that is not active fails. The
                  server's ticket rate limit is per client address: run it with
                  --limits.refresh_rate_per_sec 0 (or a --limits.refresh_burst above the ticket count),
                  tickets.max_ttl_sec at least 300 (its default) and session tokens that outlive the run.
                  Both introspect scenarios need --verifier-key, one of the server's tickets.verifier_keys.
  sockets         how many authenticated realtime sockets the server holds. Setup creates one device
                  account and session per socket (--concurrency at once; its rate is reported). Then
                  --sockets websockets are opened on /ws?format=json, --dial-concurrency handshakes at
                  once, spread over --source-ips source addresses. Once all are open, --ping-bursts
                  bursts go out: each sends --burst-size {"cid":"n","ping":{}} envelopes at once, each
                  on a different socket, and waits for every pong. Every socket stays open for --hold
                  more and is then closed with a normal close frame. Reports handshakes/s, handshake
                  latency, ping round trips, the peak of open sockets and, with --server-pid, the
                  server's resident memory per socket. --duration caps the handshake phase and the ping
                  phase each; --timeout bounds one handshake, one ping and the close. The exit status is
                  1 if any handshake, ping or close failed, the server closed a socket before the tool
                  did, or a reading of its memory failed. Start the server with
                  --session.token_expiry_sec longer than setup and the handshake phase together (a token
                  must still be valid at its handshake; its default is 60 s, and it may not exceed
                  --session.refresh_token_expiry_sec, 3600 by default). Both this tool and the server
                  need an open file per socket; the tool raises its soft limit to the hard one and
                  refuses a --sockets above it. --requests, --warmup and --pool do not apply.

Abuse scenarios (issue 12), run against a server with its default limits unless noted; --warmup does not
apply and each prints a report of its own:
  session-flood   logs one device id in --requests times (--concurrency at once, capped by --duration)
                  and reports logins/s, how many succeeded, were refused (by status and code, such as
                  429/8 from the per-address rate limit) or got no answer, then the account's live
                  sessions, counted over every page of GET /v2/account/sessions (following its cursor,
                  at most 1000 pages), and the byte size of the first page. The exit status is 1 if any
                  login got no answer or an answer other than 2xx or 429, or more sessions than
                  --max-sessions (the server's session.max_sessions_per_user) are live.
  login-burst     creates two email accounts in setup (from 127.0.0.3), then sends --burst wrong-password
                  logins of the first at once from 127.0.0.2 and, 200 ms in, one right login of the second
                  from 127.0.0.3. Reports how many burst logins were answered (any HTTP status) within
                  2 s and within --timeout, how many got no answer, their status and code, p50/p99
                  answer time, and the legitimate login's status and time. The exit status is 1 if any
                  burst login got no answer or the legitimate login failed. Needs an IPv4 --url.
  logout-all      logs one device account in --pool times in setup (the server's cap ends the oldest;
                  the live count is reported), then, while --concurrency other accounts log in over and
                  over, logs all its sessions out with one empty-body POST /v2/session/logout. Reports
                  the logout's latency, the sessions and old tokens still live after it, and the other
                  logins' p50/p99/max before and during the logout. The exit status is 1 if the logout
                  failed, anything stayed live or another login failed. Run it with the per-address rate
                  limits off (--limits.auth_rate_per_sec 0), since setup logs in from one address.
  hung-store      replays a database that hangs. The tool runs a TCP proxy on --store-proxy-listen that
                  forwards to the PostgreSQL server at --store-proxy-upstream (both loopback addresses);
                  start the tool first, then the server with its --database.address pointing at the proxy
                  (the tool waits up to --setup-timeout for /healthcheck). Setup logs one device in per
                  worker; then --concurrency workers each log their device in and refresh the newest
                  session in turn, back to back: a healthy baseline of --requests (capped by --duration),
                  then --freeze during which the proxy forwards nothing in either direction, on open or new
                  connections, and closes nothing, then --recover after the thaw, without a pause between.
                  A request counts in the phase it was sent in (at most --requests during the freeze and
                  as many after). Reports for each phase the answers by status and code, p50/p99/max and
                  the requests that got no answer (an empty reply, or none within --timeout); for the
                  freeze, the 503/14 answers, those without Retry-After and those at or after
                  --write-timeout (the server's socket.write_timeout_ms; --timeout must exceed it); after
                  the thaw, the time to the first success and the share of requests that succeeded. The
                  exit status is 1 if a baseline request failed; if a request sent during the freeze got
                  no answer, an answer other than 2xx or 503/14, a 503 without Retry-After or an answer
                  at or after --write-timeout, or if all of them succeeded (the database is not behind the
                  proxy); or if nothing succeeded within --recover of the thaw or a request sent after the
                  first success failed. Run the server with the per-address rate limits off. When the
                  tool exits its proxy closes, and the server loses its database.
  socket-flood    logs one device in during setup, then opens --requests realtime sockets with its token
                  (--concurrency handshakes at once, capped by --duration) from one source address,
                  127.0.0.2 (the kernel's choice with an IPv6 --url), each held open by a reader. Reports
                  handshakes/s, how many were upgraded (101), refused (by status: 429 from the
                  per-address handshake limit, 503 from the node's socket cap) or got no answer; the
                  sockets the server closed, by close code and reason (1000 "socket cap": the user's
                  oldest beyond the per-user cap); the sockets still open once their count has held
                  still for 500 ms (at most --timeout after the handshakes), and the peak; and, with
                  --server-pid, the server's resident memory before the flood and at its end. Then
                  every socket is closed. The exit status is 1 if a handshake got no answer or an answer
                  other than 101, 429 or 503, more sockets than --max-user-sockets (the server's
                  socket.max_sockets_per_user) are open at the end, a socket failed to close or a
                  reading of the server's memory failed. The tool needs an open file per socket it
                  holds: it refuses a --requests above its open-file limit.

Flags:
`

// scenarioNames lists the scenarios in the order scripts/bench-backends runs them.
var scenarioNames = []string{"auth-new", "auth-existing", "refresh", "logout", "get-account", "introspect-session",
	"introspect-ticket"}

// options are the parsed flags.
type options struct {
	url          string
	serverKey    string
	verifierKey  string
	scenario     string
	concurrency  int
	requests     int
	duration     time.Duration
	warmup       int
	pool         int
	timeout      time.Duration
	setupTimeout time.Duration
	json         bool
	sock         socketOptions
	abuse        abuseOptions
	cpu          cpuOptions
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("latchkey-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:7350", "server base URL; the host must be a loopback address (127.0.0.0/8, ::1, localhost)")
	fs.StringVar(&o.serverKey, "server-key", "defaultkey", "server key, sent as the HTTP Basic user name")
	fs.StringVar(&o.verifierKey, "verifier-key", "", "one of the server's tickets.verifier_keys, for introspect-session and introspect-ticket")
	fs.StringVar(&o.scenario, "scenario", "", "one of "+strings.Join(scenarioNames, ", ")+", "+socketsScenario+", "+strings.Join(abuseScenarios, ", "))
	fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight at once (one keep-alive connection each); for sockets, authentications in flight in setup")
	fs.IntVar(&o.requests, "requests", 20000, "cap on measured requests")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "cap on the wall time of the measured phase (and, separately, of the warmup); for sockets, of the handshake phase and of the ping phase each")
	fs.IntVar(&o.warmup, "warmup", 1000, "requests sent before the measured phase, not measured")
	fs.IntVar(&o.pool, "pool", 1000, "devices or sessions created in setup for auth-existing, refresh, get-account, logout and the introspect scenarios")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one request; for sockets, of one handshake, of one ping's answer and of closing all sockets")
	fs.DurationVar(&o.setupTimeout, "setup-timeout", 2*time.Minute, "cap on the wall time of setup")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	o.sock.register(fs)
	o.abuse.register(fs)
	o.cpu.register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, o.validate()
}

// validate reports every problem with the flags at once.
func (o *options) validate() error {
	var errs []error
	base, err := loopbackBase(o.url)
	if err != nil {
		errs = append(errs, err)
	}
	o.url = base
	errs = append(errs, o.cpu.validate(base)...)
	if !slices.Contains(scenarioNames, o.scenario) && o.scenario != socketsScenario && !slices.Contains(abuseScenarios, o.scenario) {
		errs = append(errs, fmt.Errorf("--scenario must be one of %s, %s, %s", strings.Join(scenarioNames, ", "), socketsScenario,
			strings.Join(abuseScenarios, ", ")))
	}
	if o.scenario == socketsScenario {
		errs = append(errs, o.sock.validate(base)...)
	}
	if slices.Contains(abuseScenarios, o.scenario) {
		errs = append(errs, o.abuse.validate(o.scenario, base, o.timeout)...)
	}
	// Every socket of a flood may be accepted (a server without caps), each holding an open file here.
	if o.scenario == socketFloodScenario {
		if o.requests > maxSockets {
			errs = append(errs, fmt.Errorf("--requests must be at most %d for socket-flood", maxSockets))
		} else if err := checkFileLimit(max(o.requests, 1)); err != nil {
			errs = append(errs, fmt.Errorf("socket-flood: %w", err))
		}
	}
	if strings.HasPrefix(o.scenario, "introspect-") && o.verifierKey == "" {
		errs = append(errs, fmt.Errorf("--scenario %s needs --verifier-key", o.scenario))
	}
	if o.concurrency < 1 || o.concurrency > 4096 {
		errs = append(errs, errors.New("--concurrency must be between 1 and 4096"))
	}
	if o.requests < 1 {
		errs = append(errs, errors.New("--requests must be at least 1"))
	}
	if o.duration <= 0 || o.timeout <= 0 || o.setupTimeout <= 0 {
		errs = append(errs, errors.New("--duration, --timeout and --setup-timeout must be positive"))
	}
	if o.warmup < 0 {
		errs = append(errs, errors.New("--warmup must not be negative"))
	}
	if o.pool < 1 {
		errs = append(errs, errors.New("--pool must be at least 1"))
	}
	// A refresh slot is held by one request at a time, so that a rotated refresh token is never used twice;
	// fewer slots than workers would measure waiting for a slot, not the server.
	if o.scenario == "refresh" && o.pool < o.concurrency {
		errs = append(errs, errors.New("--pool must be at least --concurrency for refresh"))
	}
	return errors.Join(errs...)
}

// loopbackBase checks that raw is an http(s) URL with nothing but a scheme and a loopback host (and port),
// and returns it without a trailing slash. Host names other than "localhost" are refused rather than
// resolved, and the dialer checks the address it connects to as well (see loopbackOnly).
func loopbackBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--url %q: the scheme must be http or https", raw)
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("--url %q: give only scheme://host:port", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("--url %q: refusing a host that is not a loopback address (127.0.0.0/8, ::1, localhost)", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// isLoopbackHost reports whether h is "localhost" or a literal loopback IP address.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	return ip.WithZone("").Unmap().IsLoopback()
}

// result is what one run reports; its JSON form is what --json prints.
type result struct {
	Scenario     string  `json:"scenario"`
	URL          string  `json:"url"`
	Concurrency  int     `json:"concurrency"`
	Warmup       int     `json:"warmup"`
	WarmupErrors int     `json:"warmup_errors"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	StoppedBy    string  `json:"stopped_by"`
	ElapsedSec   float64 `json:"elapsed_s"`
	Throughput   float64 `json:"throughput_rps"`
	latency
	Status        map[string]int `json:"status"`
	ErrorExamples []string       `json:"error_examples,omitempty"`
	cpuFigures
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %v\n", err)
		return 2
	}
	if o.scenario == socketsScenario {
		return runSockets(ctx, o, stdout, stderr)
	}
	if slices.Contains(abuseScenarios, o.scenario) {
		return runAbuse(ctx, o, stdout, stderr)
	}
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	sc := newScenario(o.scenario, t, o)

	setupCtx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	err = t.healthy(setupCtx)
	if err == nil {
		err = sc.setup(setupCtx)
	}
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %s setup: %v\n", o.scenario, err)
		return 1
	}

	var warm phaseResult
	if o.warmup > 0 {
		warm = runPhase(ctx, o.concurrency, o.warmup, o.duration, 0, sc.request)
	}
	cpu := newCPUProbe(o.cpu)
	before := cpu.sample()
	measured := runPhase(ctx, o.concurrency, o.requests, o.duration, o.warmup, sc.request)
	after := cpu.sample()
	res := summarize(o, warm, measured)
	var cpuErrs []string
	res.cpuFigures, cpuErrs = cpu.figures(before, after, res.Requests)
	res.ErrorExamples = appendExamples(res.ErrorExamples, cpuErrs...)

	if err := writeResult(stdout, o.json, res, func(w io.Writer) { printResult(w, res) }); err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %v\n", err)
		return 1
	}
	switch {
	case len(cpuErrs) > 0:
		fmt.Fprintf(stderr, "latchkey-load: %s: %s\n", o.scenario, strings.Join(cpuErrs, "; "))
		return 1
	case res.Errors > 0 || res.WarmupErrors > 0:
		fmt.Fprintf(stderr, "latchkey-load: %s: %d of %d measured requests and %d warmup requests failed\n",
			o.scenario, res.Errors, res.Requests, res.WarmupErrors)
		return 1
	case res.StoppedBy == "interrupt":
		fmt.Fprintf(stderr, "latchkey-load: %s: interrupted\n", o.scenario)
		return 1
	}
	return 0
}

// writeResult prints a run's result: as one JSON object if asJSON, else with print.
func writeResult(w io.Writer, asJSON bool, res any, print func(io.Writer)) error {
	if asJSON {
		return json.NewEncoder(w).Encode(res)
	}
	print(w)
	return nil
}

// latency is a phase's nearest-rank latency figures in milliseconds; its fields are part of the JSON of
// the result that embeds it.
type latency struct {
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// latencyOf sorts lat in place and returns its figures.
func latencyOf(lat []time.Duration) latency {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latency{
		P50Ms: ms(percentile(lat, 50)),
		P90Ms: ms(percentile(lat, 90)),
		P99Ms: ms(percentile(lat, 99)),
		MaxMs: ms(percentile(lat, 100)),
	}
}

// text formats the figures for the text report. It is not String: result embeds latency, and a promoted
// String method would make %v of a result print nothing else.
func (l latency) text() string {
	return fmt.Sprintf("p50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms", l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
}

// summarize turns the phases into the reported result; it sorts measured.lat in place.
func summarize(o options, warm, measured phaseResult) result {
	res := result{
		Scenario:      o.scenario,
		URL:           o.url,
		Concurrency:   o.concurrency,
		Warmup:        len(warm.lat),
		WarmupErrors:  warm.failed,
		Requests:      len(measured.lat),
		Errors:        measured.failed,
		StoppedBy:     measured.stoppedBy,
		ElapsedSec:    measured.elapsed.Seconds(),
		latency:       latencyOf(measured.lat),
		Status:        measured.status,
		ErrorExamples: appendExamples(slices.Clone(measured.examples), warm.examples...),
	}
	if measured.elapsed > 0 {
		res.Throughput = float64(len(measured.lat)) / measured.elapsed.Seconds()
	}
	return res
}

func printResult(w io.Writer, r result) {
	fmt.Fprintf(w, "scenario     %s against %s, concurrency %d, warmup %d (%d failed)\n",
		r.Scenario, r.URL, r.Concurrency, r.Warmup, r.WarmupErrors)
	fmt.Fprintf(w, "requests     %d (stopped by %s)\n", r.Requests, r.StoppedBy)
	fmt.Fprintf(w, "errors       %d\n", r.Errors)
	fmt.Fprintf(w, "elapsed      %.3fs\n", r.ElapsedSec)
	fmt.Fprintf(w, "throughput   %.1f req/s\n", r.Throughput)
	fmt.Fprintf(w, "latency      %s\n", r.latency.text())
	fmt.Fprintf(w, "status       %s\n", formatStatus(r.Status))
	r.cpuFigures.text(w)
	printExamples(w, r.ErrorExamples)
}

// formatStatus lists a status histogram in key order: "200: 19990, 500: 10".
func formatStatus(status map[string]int) string {
	keys := slices.Sorted(maps.Keys(status))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, status[k]))
	}
	return strings.Join(parts, ", ")
}

func printExamples(w io.Writer, examples []string) {
	for _, e := range examples {
		fmt.Fprintf(w, "error        %s\n", e)
	}
}
