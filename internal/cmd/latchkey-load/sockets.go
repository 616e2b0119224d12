package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// socketsScenario holds realtime sockets open instead of sending HTTP requests; see the usage text.
const socketsScenario = "sockets"

const (
	// maxSockets bounds --sockets, and so the memory of the per-socket tables, far above any open-file limit.
	maxSockets = 1 << 20
	// maxSourceIPs is every address from 127.0.0.2 to 127.0.255.255.
	maxSourceIPs = 1<<16 - 2
	// spareFiles is what the tool keeps free besides one file per socket (the setup's HTTP connections are
	// closed before the sockets open).
	spareFiles = 64
)

// socketOptions are the flags of the sockets scenario.
type socketOptions struct {
	count           int
	dialConcurrency int
	bursts          int
	burstSize       int
	hold            time.Duration
	sourceIPs       int
}

func (s *socketOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&s.count, "sockets", 1000, "(sockets) realtime sockets to open and hold at once, each with the session of a new device account")
	fs.IntVar(&s.dialConcurrency, "dial-concurrency", 64, "(sockets) socket handshakes in flight at once")
	fs.IntVar(&s.bursts, "ping-bursts", 5, "(sockets) bursts of pings sent once the sockets are open (0: none)")
	fs.IntVar(&s.burstSize, "burst-size", 200, "(sockets) pings sent at once in a burst, each on a different socket (at most one per open socket); each round trip runs from its send to its pong")
	fs.DurationVar(&s.hold, "hold", 0, "(sockets) how long to keep every socket open after the last burst")
	fs.IntVar(&s.sourceIPs, "source-ips", 64, "(sockets) spread the sockets over this many source addresses 127.0.0.2, 127.0.0.3, ... (at most 65534), so that ephemeral ports never run out; 0 lets the kernel choose, as an IPv6 --url needs")
}

// validate reports every problem with the sockets flags; base is the checked --url ("" if it was refused).
// It reads the environment too: the open-file limit (raising the soft limit to the hard one), so that it
// does not fail only after setup (--server-pid is checked with the other scenarios' flags).
func (s *socketOptions) validate(base string) []error {
	var errs []error
	if s.count < 1 || s.count > maxSockets {
		errs = append(errs, fmt.Errorf("--sockets must be between 1 and %d", maxSockets))
	} else if err := checkFileLimit(s.count); err != nil {
		errs = append(errs, err)
	}
	if s.dialConcurrency < 1 || s.dialConcurrency > 4096 {
		errs = append(errs, errors.New("--dial-concurrency must be between 1 and 4096"))
	}
	if s.bursts < 0 {
		errs = append(errs, errors.New("--ping-bursts must not be negative"))
	}
	if s.burstSize < 1 {
		errs = append(errs, errors.New("--burst-size must be at least 1"))
	}
	if s.hold < 0 {
		errs = append(errs, errors.New("--hold must not be negative"))
	}
	if s.sourceIPs < 0 || s.sourceIPs > maxSourceIPs {
		errs = append(errs, fmt.Errorf("--source-ips must be between 0 and %d", maxSourceIPs))
	} else if s.sourceIPs > 0 && isIPv6Base(base) {
		errs = append(errs, errors.New("--source-ips gives IPv4 source addresses; use --source-ips 0 with an IPv6 --url"))
	}
	return errs
}

// isIPv6Base reports whether the base URL's host is an IPv6 address literal (not an IPv4-mapped one).
func isIPv6Base(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.Is6() && !ip.Is4In6()
}

// checkFileLimit raises the open-file limit as far as it goes and reports an error if n sockets would not
// fit in it.
func checkFileLimit(n int) error {
	limit, err := openFileLimit()
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the open-file limit: %v", err)
	}
	if need := uint64(n) + spareFiles; need > limit {
		return fmt.Errorf("--sockets %d needs %d open files (one per socket and %d to spare), but this process may open %d (its hard RLIMIT_NOFILE); lower --sockets",
			n, need, spareFiles, limit)
	}
	return nil
}

// readRSS returns the resident set size of process pid in KiB, from the VmRSS line of /proc/PID/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected line %q in /proc/%d/status", strings.TrimSpace(line), pid)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}

// socketsResult is what a sockets run reports; its JSON form is what --json prints.
type socketsResult struct {
	Scenario        string        `json:"scenario"`
	URL             string        `json:"url"`
	Sockets         int           `json:"sockets"`
	DialConcurrency int           `json:"dial_concurrency"`
	SourceIPs       int           `json:"source_ips"`
	SetupAccounts   int           `json:"setup_accounts"`
	SetupSec        float64       `json:"setup_s"`
	SetupRate       float64       `json:"setup_per_s"`
	Handshakes      phaseFigures  `json:"handshakes"`
	Pings           phaseFigures  `json:"pings"`
	Bursts          int           `json:"bursts"`
	BurstSize       int           `json:"burst_size"`
	HoldSec         float64       `json:"hold_s"`
	PeakOpen        int           `json:"peak_open"`
	OpenAtClose     int           `json:"open_at_close"`
	Dropped         int           `json:"dropped"`
	CloseErrors     int           `json:"close_errors"`
	ServerMemory    *serverMemory `json:"server_memory,omitempty"`
	ErrorExamples   []string      `json:"error_examples,omitempty"`
}

// phaseFigures sums up the handshake or the ping phase. Count is what was attempted; the latency is over
// every handshake, but over answered pings only.
type phaseFigures struct {
	Count      int     `json:"count"`
	Errors     int     `json:"errors"`
	StoppedBy  string  `json:"stopped_by"`
	ElapsedSec float64 `json:"elapsed_s"`
	Rate       float64 `json:"per_s"`
	latency
	Status map[string]int `json:"status"`
}

func figures(p phaseResult, count int) phaseFigures {
	f := phaseFigures{Count: count, Errors: p.failed, StoppedBy: p.stoppedBy, ElapsedSec: p.elapsed.Seconds(),
		latency: latencyOf(p.lat), Status: p.status}
	if p.elapsed > 0 {
		f.Rate = float64(count) / p.elapsed.Seconds()
	}
	return f
}

// serverMemory is the server's resident memory in KiB, read three times, and its growth per open socket.
type serverMemory struct {
	PID                    int     `json:"pid"`
	BeforeKiB              int64   `json:"rss_before_kib"`
	OpenKiB                int64   `json:"rss_open_kib"`
	AfterPingsKiB          int64   `json:"rss_after_pings_kib"`
	KiBPerSocket           float64 `json:"kib_per_socket"`
	KiBPerSocketAfterPings float64 `json:"kib_per_socket_after_pings"`
}

// runSockets runs the sockets scenario with flags already checked, prints its result and returns the exit
// status.
func runSockets(ctx context.Context, o options, stdout, stderr io.Writer) int {
	so := o.sock
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	res := socketsResult{Scenario: socketsScenario, URL: o.url, Sockets: so.count,
		DialConcurrency: so.dialConcurrency, SourceIPs: so.sourceIPs}

	// Setup: one new device account and session per socket, so that no two sockets share a user.
	prefix := "lkload-" + runID() + "-sock-"
	tokens := make([]string, so.count)
	setupCtx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	start := time.Now()
	err := t.healthy(setupCtx)
	if err == nil {
		err = parallel(setupCtx, o.concurrency, so.count, func(ctx context.Context, i int) error {
			p, err := t.authDevice(ctx, deviceBody(prefix+strconv.Itoa(i)))
			tokens[i] = p.Token
			return err
		})
	}
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %s setup: %v\n", socketsScenario, err)
		return 1
	}
	res.SetupAccounts = so.count
	res.SetupSec = time.Since(start).Seconds()
	res.SetupRate = float64(so.count) / res.SetupSec
	// The setup's keep-alive connections would count against the open-file limit.
	t.client.CloseIdleConnections()

	res.Pings = phaseFigures{StoppedBy: "not run", Status: map[string]int{}}
	var examples []string
	mem := memoryProbe{pid: o.cpu.serverPID}
	before := mem.read("before the sockets open")
	f := newFleet(o, tokens)
	hs := runPhase(ctx, so.dialConcurrency, so.count, o.duration, 0, f.open)
	res.Handshakes = figures(hs, len(hs.lat))
	for _, e := range hs.examples {
		examples = appendExamples(examples, "handshake: "+e)
	}
	openNow, _ := f.gauge.read()
	openKiB := mem.read("with the sockets open")

	if open := f.opened(); ctx.Err() == nil && so.bursts > 0 && len(open) > 0 {
		res.BurstSize = min(so.burstSize, len(open))
		pings, sent := pingBursts(ctx, open, so.bursts, res.BurstSize, o.duration, o.timeout)
		res.Pings = figures(pings, sent)
		res.Bursts = sent / res.BurstSize
		examples = appendExamples(examples, pings.examples...)
	}
	afterNow, _ := f.gauge.read()
	afterKiB := mem.read("after the pings")

	if so.hold > 0 && ctx.Err() == nil {
		start := time.Now()
		timer := time.NewTimer(so.hold)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
		res.HoldSec = time.Since(start).Seconds()
	}
	res.OpenAtClose, _ = f.gauge.read()
	closed := f.closeAll(o.timeout)
	_, res.PeakOpen = f.gauge.read()
	res.Dropped, res.CloseErrors = closed.dropped, closed.failed
	examples = appendExamples(examples, closed.examples...)
	if o.cpu.serverPID > 0 {
		res.ServerMemory = &serverMemory{PID: o.cpu.serverPID, BeforeKiB: before, OpenKiB: openKiB, AfterPingsKiB: afterKiB,
			KiBPerSocket: perSocket(openKiB-before, openNow), KiBPerSocketAfterPings: perSocket(afterKiB-before, afterNow)}
		examples = appendExamples(examples, mem.errs...)
	}
	res.ErrorExamples = examples

	if err := writeResult(stdout, o.json, res, func(w io.Writer) { printSockets(w, res) }); err != nil {
		fmt.Fprintf(stderr, "latchkey-load: %v\n", err)
		return 1
	}
	if failures := socketFailures(res, len(mem.errs)); len(failures) > 0 {
		fmt.Fprintf(stderr, "latchkey-load: %s: %s\n", socketsScenario, strings.Join(failures, "; "))
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "latchkey-load: %s: interrupted\n", socketsScenario)
		return 1
	}
	return 0
}

// socketFailures names what went wrong in a run, if anything.
func socketFailures(r socketsResult, memoryErrors int) []string {
	var f []string
	add := func(n int, format string, a ...any) {
		if n > 0 {
			f = append(f, fmt.Sprintf(format, a...))
		}
	}
	add(r.Handshakes.Errors, "%d of %d handshakes failed", r.Handshakes.Errors, r.Handshakes.Count)
	add(r.Pings.Errors, "%d of %d pings failed", r.Pings.Errors, r.Pings.Count)
	add(r.Dropped, "the server closed %d sockets before the tool did", r.Dropped)
	add(r.CloseErrors, "%d sockets failed to close", r.CloseErrors)
	add(memoryErrors, "%d readings of the server's memory failed", memoryErrors)
	return f
}

// memoryProbe reads the server's memory if a pid was given, and keeps the errors of failed readings.
type memoryProbe struct {
	pid  int
	errs []string
}

func (m *memoryProbe) read(when string) int64 {
	if m.pid == 0 {
		return 0
	}
	kib, err := readRSS(m.pid)
	if err != nil {
		m.errs = append(m.errs, fmt.Sprintf("server memory %s: %v", when, err))
	}
	return kib
}

func perSocket(kib int64, sockets int) float64 {
	if sockets == 0 {
		return 0
	}
	return float64(kib) / float64(sockets)
}

// pingBursts sends bursts bursts of size pings. Ping j of burst k goes on socket (k*size+j) mod len(socks),
// so a burst never uses a socket twice and the bursts move on through the sockets. It starts no burst
// after limit has passed or ctx has ended; a burst in flight is let finish, each ping bounded by timeout.
// It returns the round trips of answered pings and the number of pings sent.
func pingBursts(ctx context.Context, socks []*socket, bursts, size int, limit, timeout time.Duration) (phaseResult, int) {
	tl := tally{status: map[string]int{}}
	var lat []time.Duration
	deadline := time.Now().Add(limit)
	start := time.Now()
	sent := 0
	for k := 0; k < bursts && ctx.Err() == nil && time.Now().Before(deadline); k++ {
		rtt := make([]time.Duration, size)
		errs := make([]error, size)
		var wg sync.WaitGroup
		for j := range size {
			n := k*size + j
			s := socks[n%len(socks)]
			wg.Go(func() { rtt[j], errs[j] = s.ping(ctx, strconv.Itoa(n+1), timeout) })
		}
		wg.Wait()
		for j, err := range errs {
			var pe *pingError
			switch {
			case err == nil:
				tl.recordKey("pong", nil)
				lat = append(lat, rtt[j])
			case errors.As(err, &pe):
				tl.recordKey(pe.kind, err)
			default:
				tl.recordKey("error", err)
			}
		}
		sent += size
	}
	res := phaseResult{lat: lat, status: tl.status, failed: tl.failed, examples: tl.examples, elapsed: time.Since(start)}
	switch {
	case sent == bursts*size:
		res.stoppedBy = "requests"
	case ctx.Err() != nil:
		res.stoppedBy = "interrupt"
	default:
		res.stoppedBy = "duration"
	}
	return res, sent
}

func printSockets(w io.Writer, r socketsResult) {
	fmt.Fprintf(w, "scenario     %s against %s, %d sockets, dial concurrency %d, %d source addresses\n",
		r.Scenario, r.URL, r.Sockets, r.DialConcurrency, r.SourceIPs)
	fmt.Fprintf(w, "setup        %d accounts and sessions in %.3fs (%.1f/s)\n", r.SetupAccounts, r.SetupSec, r.SetupRate)
	h := r.Handshakes
	fmt.Fprintf(w, "handshakes   %d (stopped by %s), %d failed, in %.3fs: %.1f/s\n", h.Count, h.StoppedBy, h.Errors, h.ElapsedSec, h.Rate)
	fmt.Fprintf(w, "latency      %s\n", h.latency.text())
	fmt.Fprintf(w, "status       %s\n", formatStatus(h.Status))
	p := r.Pings
	fmt.Fprintf(w, "pings        %d in %d bursts of %d (stopped by %s), %d failed, in %.3fs\n",
		p.Count, r.Bursts, r.BurstSize, p.StoppedBy, p.Errors, p.ElapsedSec)
	fmt.Fprintf(w, "round trip   %s\n", p.latency.text())
	fmt.Fprintf(w, "status       %s\n", formatStatus(p.Status))
	fmt.Fprintf(w, "sockets      %d open at the peak, %d after holding %.3fs, %d dropped by the server, %d failed to close\n",
		r.PeakOpen, r.OpenAtClose, r.HoldSec, r.Dropped, r.CloseErrors)
	if m := r.ServerMemory; m != nil {
		fmt.Fprintf(w, "server rss   pid %d: %d KiB before, %d KiB with all open (%.2f KiB/socket), %d KiB after the pings (%.2f KiB/socket)\n",
			m.PID, m.BeforeKiB, m.OpenKiB, m.KiBPerSocket, m.AfterPingsKiB, m.KiBPerSocketAfterPings)
	}
	printExamples(w, r.ErrorExamples)
}
