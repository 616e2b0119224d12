package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// socketFloodScenario opens many realtime sockets with one account's token from one address; see the
// usage text.
const socketFloodScenario = "socket-flood"

// settleQuiet is how long the open-socket count must hold still after the handshakes before the sockets
// still open are counted: the server closes the oldest beyond its per-user cap as new ones open.
const settleQuiet = 500 * time.Millisecond

// socketFloodResult is what a socket-flood run reports.
type socketFloodResult struct {
	Scenario    string  `json:"scenario"`
	URL         string  `json:"url"`
	Source      string  `json:"source"` // the client address, "" for the kernel's choice
	Concurrency int     `json:"concurrency"`
	Handshakes  int     `json:"handshakes"`
	StoppedBy   string  `json:"stopped_by"`
	ElapsedSec  float64 `json:"elapsed_s"`
	PerSec      float64 `json:"handshakes_per_s"`
	Upgraded    int     `json:"upgraded"` // answered 101
	Refused     int     `json:"refused"`  // answered with another status
	Dropped     int     `json:"dropped"`  // no answer
	latency
	Status map[string]int `json:"status"`
	// ClosedByServer counts the sockets the server closed before the tool began to, by close code and
	// reason ("1000 socket cap"); OpenAtEnd is the sockets still open once the count had held still for
	// settleQuiet (at most --timeout after the handshakes), SettleSec after the handshakes ended.
	ClosedByServer map[string]int `json:"closed_by_server"`
	PeakOpen       int            `json:"peak_open"`
	OpenAtEnd      int            `json:"open_at_end"`
	SettleSec      float64        `json:"settle_s"`
	MaxUserSockets int            `json:"max_user_sockets"`
	CloseErrors    int            `json:"close_errors"`
	MemoryErrors   int            `json:"memory_errors"`
	// ServerRSS is the server's resident memory before the flood and at its end, with OpenAtEnd open.
	ServerRSS     *floodMemory `json:"server_rss,omitempty"`
	ErrorExamples []string     `json:"error_examples,omitempty"`
}

// floodMemory is the server's resident memory in KiB before a flood and at its end.
type floodMemory struct {
	PID       int   `json:"pid"`
	BeforeKiB int64 `json:"before_kib"`
	EndKiB    int64 `json:"end_kib"`
}

// failures lists what makes the run fail: a handshake with no answer or an answer other than 101, 429 or
// 503, more sockets open at the end than --max-user-sockets, a socket that failed to close, or a reading
// of the server's memory that failed.
func (r socketFloodResult) failures() []string {
	var f []string
	unexpected := 0
	for k, n := range r.Status {
		if k != "101" && k != "429" && k != "503" {
			unexpected += n
		}
	}
	if unexpected > 0 {
		f = append(f, fmt.Sprintf("%d handshakes got no answer or an answer other than 101, 429 or 503", unexpected))
	}
	if r.MaxUserSockets > 0 && r.OpenAtEnd > r.MaxUserSockets {
		f = append(f, fmt.Sprintf("%d sockets open at the end, above the cap of %d", r.OpenAtEnd, r.MaxUserSockets))
	}
	if r.CloseErrors > 0 {
		f = append(f, fmt.Sprintf("%d sockets failed to close", r.CloseErrors))
	}
	if r.MemoryErrors > 0 {
		f = append(f, fmt.Sprintf("%d readings of the server's memory failed", r.MemoryErrors))
	}
	return f
}

// socketFlood logs one device in, then opens --requests sockets with its token (--concurrency handshakes
// at once, capped by --duration) from one source address, waits for the count of open sockets to hold
// still, counts them and closes them all.
func socketFlood(ctx context.Context, o options) (socketFloodResult, error) {
	t := newTarget(o)
	defer t.client.CloseIdleConnections()
	var token string
	err := setup(ctx, o, t, func(ctx context.Context) error {
		p, err := t.authDevice(ctx, deviceBody("lkload-"+runID()+"-socket-flood"))
		token = p.Token
		return err
	})
	if err != nil {
		return socketFloodResult{}, err
	}
	t.client.CloseIdleConnections()

	r := socketFloodResult{Scenario: o.scenario, URL: o.url, Concurrency: o.concurrency, MaxUserSockets: o.abuse.maxUserSockets}
	fo := o
	fo.sock.sourceIPs = 0
	if !isIPv6Base(o.url) {
		fo.sock.sourceIPs = 1
		r.Source = sourceIP(0).String()
	}
	tokens := make([]string, o.requests)
	for i := range tokens {
		tokens[i] = token
	}
	mem := memoryProbe{pid: o.cpu.serverPID}
	before := mem.read("before the flood")
	f := newFleet(fo, tokens)
	hs := runPhase(ctx, o.concurrency, o.requests, o.duration, 0, f.open)
	r.Handshakes, r.StoppedBy, r.ElapsedSec = len(hs.lat), hs.stoppedBy, hs.elapsed.Seconds()
	if hs.elapsed > 0 {
		r.PerSec = float64(r.Handshakes) / hs.elapsed.Seconds()
	}
	r.latency, r.Status = latencyOf(hs.lat), hs.status
	for k, n := range hs.status {
		switch k {
		case "101":
			r.Upgraded += n
		case "transport error":
			r.Dropped += n
		default:
			r.Refused += n
		}
	}
	// The examples show what the server answered a refused handshake, besides any failure.
	for _, e := range hs.examples {
		r.ErrorExamples = appendExamples(r.ErrorExamples, "handshake: "+e)
	}

	settled := time.Now()
	r.OpenAtEnd = f.settle(ctx, o.timeout)
	r.SettleSec = time.Since(settled).Seconds()
	end := mem.read("at the end of the flood")
	r.ClosedByServer = f.closedByServer()
	closed := f.closeAll(o.timeout)
	_, r.PeakOpen = f.gauge.read()
	r.CloseErrors = closed.failed
	if closed.failed > 0 {
		r.ErrorExamples = appendExamples(r.ErrorExamples, closed.examples...)
	}
	if o.cpu.serverPID > 0 {
		r.ServerRSS = &floodMemory{PID: o.cpu.serverPID, BeforeKiB: before, EndKiB: end}
		r.MemoryErrors = len(mem.errs)
		r.ErrorExamples = appendExamples(r.ErrorExamples, mem.errs...)
	}
	return r, nil
}

// settle waits until the number of open sockets has not changed for settleQuiet, or limit has passed or
// ctx ended, and returns it.
func (f *fleet) settle(ctx context.Context, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	last, _ := f.gauge.read()
	since := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Since(since) < settleQuiet && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			n, _ := f.gauge.read()
			return n
		case <-tick.C:
		}
		if n, _ := f.gauge.read(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// closedByServer counts the sockets the server closed, by close code and reason; call it before closeAll.
func (f *fleet) closedByServer() map[string]int {
	out := map[string]int{}
	for _, s := range f.socks {
		if s == nil {
			continue
		}
		select {
		case <-s.done:
		default:
			continue
		}
		var ce *websocket.CloseError
		if errors.As(s.readErr, &ce) {
			out[strings.TrimSpace(fmt.Sprintf("%d %s", ce.Code, ce.Text))]++
		} else {
			out["no close frame"]++
		}
	}
	return out
}

func printSocketFlood(w io.Writer, r socketFloodResult) {
	from := r.Source
	if from == "" {
		from = "the kernel's choice of address"
	}
	fmt.Fprintf(w, "scenario     %s against %s, one account's token, concurrency %d, from %s\n", r.Scenario, r.URL, r.Concurrency, from)
	fmt.Fprintf(w, "handshakes   %d (stopped by %s) in %.3fs, %.1f/s: %d upgraded, %d refused, %d dropped\n",
		r.Handshakes, r.StoppedBy, r.ElapsedSec, r.PerSec, r.Upgraded, r.Refused, r.Dropped)
	fmt.Fprintf(w, "latency      %s\n", r.latency.text())
	fmt.Fprintf(w, "status       %s\n", formatStatus(r.Status))
	closedBy := "none"
	if len(r.ClosedByServer) > 0 {
		closedBy = formatStatus(r.ClosedByServer)
	}
	fmt.Fprintf(w, "closed       by the server: %s\n", closedBy)
	capText := "no cap checked"
	if r.MaxUserSockets > 0 {
		capText = fmt.Sprintf("cap %d", r.MaxUserSockets)
	}
	fmt.Fprintf(w, "open         %d at the end (%s, counted %.3fs after the handshakes), peak %d\n", r.OpenAtEnd, capText, r.SettleSec, r.PeakOpen)
	if m := r.ServerRSS; m != nil {
		fmt.Fprintf(w, "server RSS   %.1f MiB before, %.1f MiB at the end (%+.1f MiB)\n",
			float64(m.BeforeKiB)/1024, float64(m.EndKiB)/1024, float64(m.EndKiB-m.BeforeKiB)/1024)
	}
	printExamples(w, r.ErrorExamples)
}
