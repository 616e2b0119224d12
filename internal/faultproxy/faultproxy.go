// Package faultproxy provides a loopback-only TCP proxy for tests and load tools that can freeze (forward
// nothing in either direction while keeping every connection open, as a hung database does), thaw (forward
// again, starting with what was held), and cut its connections (close them all and refuse new ones, as when
// a database host goes away) until it is restored.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	// DefaultMaxConns is Config.MaxConns when it is zero.
	DefaultMaxConns = 1024
	// DefaultDialTimeout is Config.DialTimeout when it is zero.
	DefaultDialTimeout = 5 * time.Second
)

// ErrNotLoopback is returned for an address that is not loopback (127.0.0.0/8, ::1): the proxy neither
// listens on nor connects to anything else.
var ErrNotLoopback = errors.New("not a loopback address")

// acceptRetry is how long the accept loop waits after a temporary error, such as running out of files,
// rather than spin.
const acceptRetry = 10 * time.Millisecond

// Config says where a Proxy listens and forwards to.
type Config struct {
	// Listen is a literal loopback IP address and port, such as 127.0.0.1:6433; port 0 picks a free one.
	Listen string
	// Upstream is the loopback host:port connections are forwarded to. A host name is allowed; the address
	// it resolves to is checked at each connection.
	Upstream string
	// MaxConns bounds the client connections carried at once; more are closed as accepted and counted as
	// refused. Zero means DefaultMaxConns.
	MaxConns int
	// DialTimeout bounds connecting to Upstream. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
}

// Counts counts a proxy's client connections.
type Counts struct {
	Accepted            int // carried, from the start
	AcceptedWhileFrozen int // those of Accepted accepted while the proxy was frozen
	Refused             int // closed as accepted: MaxConns were open
	Open                int // being carried now
}

// Proxy forwards loopback TCP connections to an upstream. While frozen it forwards nothing in either
// direction, on open connections and on new ones (accepted, but connected upstream only at the thaw), and
// closes nothing. Its methods are safe for concurrent use.
type Proxy struct {
	addr     string // where it listens, with the port it got
	upstream string
	maxConns int
	dialer   net.Dialer
	wg       sync.WaitGroup // the accept loops and the connections' goroutines

	mu     sync.Mutex
	cur    *listening    // nil while cut or closed
	closed bool          // by Close, for good
	frozen chan struct{} // non-nil while frozen; closed by Thaw
	conns  map[net.Conn]struct{}
	counts Counts
}

// listening is one listener of a proxy and the connections it accepted: Cut and Close end them all by
// cancelling ctx, which releases what waits for a thaw or a dial, and closing the connections.
type listening struct {
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
}

// Listen starts a proxy that listens on cfg.Listen and forwards to cfg.Upstream.
func Listen(cfg Config) (*Proxy, error) {
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen address %q: give a loopback IP address and port", cfg.Listen)
	}
	if !isLoopback(ap.Addr()) {
		return nil, fmt.Errorf("faultproxy: listen address %q: %w", cfg.Listen, ErrNotLoopback)
	}
	host, _, err := net.SplitHostPort(cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream %q: %w", cfg.Upstream, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && !isLoopback(ip) {
		return nil, fmt.Errorf("faultproxy: upstream %q: %w", cfg.Upstream, ErrNotLoopback)
	}
	p := &Proxy{
		upstream: cfg.Upstream,
		maxConns: cfg.MaxConns,
		dialer:   net.Dialer{Timeout: cfg.DialTimeout, Control: dialLoopback},
		conns:    map[net.Conn]struct{}{},
	}
	if p.maxConns <= 0 {
		p.maxConns = DefaultMaxConns
	}
	if p.dialer.Timeout <= 0 {
		p.dialer.Timeout = DefaultDialTimeout
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.listen(cfg.Listen); err != nil {
		return nil, err
	}
	p.addr = p.cur.ln.Addr().String()
	return p, nil
}

func isLoopback(a netip.Addr) bool { return a.WithZone("").Unmap().IsLoopback() }

// dialLoopback is the dialer's check on the address a host name resolved to, just before connecting.
func dialLoopback(_, address string, _ syscall.RawConn) error {
	if ap, err := netip.ParseAddrPort(address); err != nil || !isLoopback(ap.Addr()) {
		return fmt.Errorf("faultproxy: upstream %s: %w", address, ErrNotLoopback)
	}
	return nil
}

// listen starts listening on addr and accepting; p.mu is held. Its error is net.Listen's, which names the
// address.
func (p *Proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{ln: ln, ctx: ctx, cancel: cancel}
	p.cur = l
	p.wg.Go(func() { p.accept(l) })
	return nil
}

// Addr is the address the proxy listens on, such as 127.0.0.1:40213; Restore listens on it again.
func (p *Proxy) Addr() string { return p.addr }

// accept runs until l's listener is closed by Cut or Close.
func (p *Proxy) accept(l *listening) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(acceptRetry):
			}
			continue
		}
		p.mu.Lock()
		switch {
		case l.ctx.Err() != nil: // cut or closed meanwhile
			p.mu.Unlock()
			c.Close()
			continue
		case p.counts.Open >= p.maxConns:
			p.counts.Refused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.counts.Open++
		p.counts.Accepted++
		if p.frozen != nil {
			p.counts.AcceptedWhileFrozen++
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(l, c) })
	}
}

// pipe carries one client connection until either side ends it, or it is cut or closed.
func (p *Proxy) pipe(l *listening, c net.Conn) {
	var up net.Conn
	defer func() {
		p.mu.Lock()
		p.counts.Open--
		delete(p.conns, c)
		if up != nil {
			delete(p.conns, up)
		}
		p.mu.Unlock()
		c.Close()
		if up != nil {
			up.Close()
		}
	}()
	if !p.wait(l) {
		return
	}
	conn, err := p.dialer.DialContext(l.ctx, "tcp", p.upstream)
	if err != nil {
		return
	}
	up = conn
	p.mu.Lock()
	if l.ctx.Err() != nil { // cut or closed while dialing
		p.mu.Unlock()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	// Either direction's end ends both: closing the connections unblocks the other copy.
	wg.Go(func() {
		p.copy(l, up, c)
		c.Close()
		up.Close()
	})
	p.copy(l, c, up)
	c.Close()
	up.Close()
	wg.Wait()
}

// copy forwards src to dst. It reads nothing while the proxy is frozen, so what is sent stays in the
// kernel's buffers as with a database that stops reading, and holds a read that was under way when the
// freeze began.
func (p *Proxy) copy(l *listening, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for p.wait(l) {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait returns once the proxy is not frozen: true, or false if l was cut or closed meanwhile.
func (p *Proxy) wait(l *listening) bool {
	p.mu.Lock()
	gate := p.frozen
	p.mu.Unlock()
	if gate == nil {
		return l.ctx.Err() == nil
	}
	select {
	case <-gate:
		return l.ctx.Err() == nil
	case <-l.ctx.Done():
		return false
	}
}

// Freeze stops forwarding, keeping every connection open and accepting new ones.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
}

// Thaw forwards again, starting with what was held.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
}

// Counts returns the proxy's connection counts.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Cut closes every connection and stops listening, so that new connections are refused, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut()
}

// cut ends the current listener and closes every connection; p.mu is held.
func (p *Proxy) cut() {
	if p.cur != nil {
		p.cur.cancel()
		p.cur.ln.Close()
		p.cur = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore listens on Addr again after Cut; it does nothing if the proxy is listening.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return fmt.Errorf("faultproxy: restore: %w", net.ErrClosed)
	case p.cur != nil:
		return nil
	}
	return p.listen(p.addr)
}

// Close stops listening, closes every connection and waits for the proxy's goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.cut()
	p.mu.Unlock()
	p.wg.Wait()
}
