package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// maxFrameBytes bounds one frame from the server; a larger one ends that socket (and counts as a drop).
const maxFrameBytes = 64 << 10

// fleet is the client side of the sockets scenario: one realtime socket per session token, opened by open
// and all closed together by closeAll.
type fleet struct {
	url     string // the socket URL up to the token's value
	tokens  []string
	dialers []*websocket.Dialer // one per source address; socket i uses dialers[i%len(dialers)]
	socks   []*socket           // socks[i] is nil unless socket i was opened
	gauge   gauge
}

// newFleet prepares one socket per token to the server at o.url (already checked to be loopback). Each
// socket keeps small read and write buffers, and the write buffers are shared through a pool, so that the
// client's memory stays small next to the server's with tens of thousands of sockets.
func newFleet(o options, tokens []string) *fleet {
	// The base URL's scheme is http or https, so this gives ws or wss.
	wsBase := "ws" + strings.TrimPrefix(o.url, "http")
	f := &fleet{
		url:     wsBase + "/ws?lang=en&status=false&format=json&token=",
		tokens:  tokens,
		dialers: make([]*websocket.Dialer, max(o.sock.sourceIPs, 1)),
		socks:   make([]*socket, len(tokens)),
	}
	pool := &sync.Pool{}
	for i := range f.dialers {
		nd := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
		if o.sock.sourceIPs > 0 {
			nd.LocalAddr = &net.TCPAddr{IP: sourceIP(i)}
		}
		f.dialers[i] = &websocket.Dialer{
			NetDialContext: nd.DialContext,
			// No proxy: as for HTTP, the environment's proxy settings must not send sockets anywhere but
			// the loopback server.
			Proxy:            nil,
			HandshakeTimeout: o.timeout,
			ReadBufferSize:   512,
			WriteBufferSize:  512,
			WriteBufferPool:  pool,
		}
	}
	return f
}

// sourceIP returns the i-th source address: 127.0.0.2, 127.0.0.3, ..., 127.0.1.0, ... Every one is a
// loopback address, and each has its own range of ephemeral ports towards the server's one address.
func sourceIP(i int) net.IP {
	v := i + 2
	return net.IPv4(127, 0, byte(v>>8), byte(v))
}

// open is the handshake phase's request: it opens socket seq with its own session token and starts its
// reader. A refused handshake is a statusError with the start of the server's answer.
func (f *fleet) open(ctx context.Context, seq int) (int, error) {
	c, resp, err := f.dialers[seq%len(f.dialers)].DialContext(ctx, f.url+url.QueryEscape(f.tokens[seq]), nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// The dialer keeps the start of a refused handshake's body, where the server says why.
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
			return resp.StatusCode, &statusError{status: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
		}
		return 0, err
	}
	c.SetReadLimit(maxFrameBytes)
	s := &socket{conn: c, replies: make(chan reply, 1), done: make(chan struct{})}
	f.socks[seq] = s
	f.gauge.add(1)
	go s.read(&f.gauge)
	return http.StatusSwitchingProtocols, nil
}

// opened returns the sockets that were opened, in order; call it after the handshake phase.
func (f *fleet) opened() []*socket {
	var open []*socket
	for _, s := range f.socks {
		if s != nil {
			open = append(open, s)
		}
	}
	return open
}

// closeOutcome is what closing every socket found.
type closeOutcome struct {
	dropped  int // sockets the server (or the network) had closed before the tool began to close them
	failed   int // sockets whose close frame could not be sent or had no answer in time
	examples []string
}

// closeAll closes every open socket as a client should: a normal close frame, then, once the server has
// answered it (or hung up), the connection. It waits until timeout has passed for the answers, then closes
// every connection regardless and waits for the readers to stop.
func (f *fleet) closeAll(timeout time.Duration) closeOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	writeErrs := make([]error, len(f.socks))
	for i, s := range f.socks {
		if s != nil {
			s.closing.Store(true)
			writeErrs[i] = s.conn.WriteControl(websocket.CloseMessage, msg, deadline)
		}
	}
	var out closeOutcome
	for i, s := range f.socks {
		if s == nil {
			continue
		}
		select {
		case <-s.done:
			switch {
			case s.dropped:
				out.dropped++
				out.examples = appendExamples(out.examples, "dropped by the server: "+s.readErr.Error())
			case writeErrs[i] != nil:
				out.failed++
				out.examples = appendExamples(out.examples, "close: "+writeErrs[i].Error())
			}
		case <-ctx.Done():
			out.failed++
			out.examples = appendExamples(out.examples, fmt.Sprintf("close: no answer to the close frame within %v", timeout))
		}
	}
	for _, s := range f.socks {
		if s != nil {
			// Closing the connection ends a reader still waiting for an answer.
			_ = s.conn.Close()
			<-s.done
		}
	}
	return out
}

// gauge counts the sockets open now and the most that were open at once.
type gauge struct {
	mu        sync.Mutex
	now, peak int
}

func (g *gauge) add(delta int) {
	g.mu.Lock()
	g.now += delta
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
}

func (g *gauge) read() (now, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.now, g.peak
}

// socket is one client socket. Its reader goroutine reads every frame, which is also what answers the
// server's websocket pings (the default ping handler runs inside the read), and hands answers to ping.
type socket struct {
	conn    *websocket.Conn
	replies chan reply    // the latest answer to a ping; the reader drops an answer nobody is waiting for
	done    chan struct{} // closed when the reader stops
	closing atomic.Bool   // set when the tool begins to close the socket
	readErr error         // why the reader stopped; set before done is closed
	dropped bool          // the reader stopped before the tool began to close the socket; set before done is closed
}

// reply is an answer to a ping: its cid, when it was read, and for anything but a pong, an error.
type reply struct {
	cid string
	at  time.Time
	err error
}

// envelope is the part of a server frame the tool reads.
type envelope struct {
	CID   string    `json:"cid"`
	Pong  *struct{} `json:"pong"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// read runs until the connection ends: the server closes it, or closeAll does.
func (s *socket) read(g *gauge) {
	defer close(s.done)
	defer g.add(-1)
	for {
		_, msg, err := s.conn.ReadMessage()
		if err != nil {
			s.readErr = err
			s.dropped = !s.closing.Load()
			return
		}
		r, ok := parseReply(msg, time.Now())
		if !ok {
			continue
		}
		select {
		case s.replies <- r:
		default:
		}
	}
}

// parseReply reads a frame that arrived at at. It reports false for a frame without a cid: an event the
// server pushed, not an answer.
func parseReply(msg []byte, at time.Time) (reply, bool) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return reply{err: &pingError{kind: "bad answer", err: fmt.Errorf("%.80q: %v", msg, err)}}, true
	}
	switch {
	case env.CID == "":
		return reply{}, false
	case env.Error != nil:
		return reply{cid: env.CID, err: &pingError{kind: "error answer",
			err: fmt.Errorf("code %d: %s", env.Error.Code, env.Error.Message)}}, true
	case env.Pong == nil:
		return reply{cid: env.CID, err: &pingError{kind: "bad answer", err: fmt.Errorf("no pong in %.80q", msg)}}, true
	}
	return reply{cid: env.CID, at: at}, true
}

// pingError is a ping that got no pong; kind names it in the status histogram.
type pingError struct {
	kind string
	err  error
}

func (e *pingError) Error() string { return "ping " + e.kind + ": " + e.err.Error() }

func (e *pingError) Unwrap() error { return e.err }

// ping sends the envelope {"cid":cid,"ping":{}} and waits up to timeout for its pong. The round trip runs
// from just before the send to the reader's receipt of the pong. A late pong to an earlier ping on this
// socket is skipped by its cid.
func (s *socket) ping(ctx context.Context, cid string, timeout time.Duration) (time.Duration, error) {
	select {
	case <-s.replies:
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	t0 := time.Now()
	_ = s.conn.SetWriteDeadline(t0.Add(timeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(`{"cid":"`+cid+`","ping":{}}`)); err != nil {
		return 0, &pingError{kind: "send error", err: err}
	}
	// Each turn either returns or consumes a stale answer, and the timer ends the wait.
	for {
		select {
		case r := <-s.replies:
			if r.cid != "" && r.cid != cid {
				continue
			}
			if r.err != nil {
				return 0, r.err
			}
			return r.at.Sub(t0), nil
		case <-s.done:
			return 0, &pingError{kind: "socket closed", err: s.readErr}
		case <-timer.C:
			return 0, &pingError{kind: "timeout", err: fmt.Errorf("no pong within %v", timeout)}
		case <-ctx.Done():
			return 0, &pingError{kind: "interrupted", err: ctx.Err()}
		}
	}
}
