package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLS on the client port (socket.ssl_certificate and socket.ssl_private_key, Nakama's keys). The listener
// below completes each connection's handshake itself, before net/http sees the connection, because two
// things need the connection after TLS and net/http hides it: the framing watcher (framing.go) must read
// the decrypted HTTP/1.1 bytes, and HTTP/2 is only served on a bare *tls.Conn. So an HTTP/1.1 connection
// reaches net/http as a framingConn over the TLS connection, and an HTTP/2 one as the *tls.Conn itself.
// HTTP/2 needs no framing watcher: it has no Transfer-Encoding, and net/http refuses a request that
// carries one.

// certificate is the client port's certificate pair. Handshakes read it through GetCertificate, so that
// a reload (ReloadTLS, on SIGHUP) reaches every connection made after it and none before.
type certificate struct {
	p atomic.Pointer[tls.Certificate]
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.p.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("no TLS certificate loaded")
}

// loadPair reads a PEM certificate chain and its private key and checks that they belong together and
// that the certificate has not expired at now. Its errors name the files and never quote their content.
func loadPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("socket.ssl_certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("socket.ssl_private_key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("socket.ssl_certificate %s with socket.ssl_private_key %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf // X509KeyPair parses it
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("socket.ssl_certificate %s: the certificate (%s) expired at %s",
			certFile, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// certAttrs describes a certificate for the log: whom it names, who issued it and until when it is valid.
func certAttrs(c *tls.Certificate) []any {
	leaf := c.Leaf
	return []any{"subject", leaf.Subject.String(), "dns_names", leaf.DNSNames, "issuer", leaf.Issuer.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}

// usesTLS reports whether the client port serves HTTPS.
func (s *Server) usesTLS() bool { return s.cfg.Socket.SSLCertificate != "" }

// ReloadTLS reads socket.ssl_certificate and socket.ssl_private_key again and serves the new pair to the
// connections made from then on. A pair that does not load (unreadable, mismatched, expired) is logged
// and returned, and the previous pair stays in service. Without TLS configured it does nothing.
func (s *Server) ReloadTLS() error {
	if !s.usesTLS() {
		s.log.Info("no TLS certificate to reload: socket.ssl_certificate is not set")
		return nil
	}
	// The expiry check uses the real clock, not the server's injected one: the clients that will judge the
	// certificate use theirs.
	cert, err := loadPair(s.cfg.Socket.SSLCertificate, s.cfg.Socket.SSLPrivateKey, time.Now())
	if err != nil {
		s.log.Error("TLS certificate reload failed; still serving the previous certificate", "error", err)
		return err
	}
	s.cert.p.Store(cert)
	s.log.Info("TLS certificate loaded", certAttrs(cert)...)
	return nil
}

// listener returns what srv serves on: ln itself with the framing watcher, or, with TLS configured, a
// TLS listener whose certificate is loaded now, so that a bad pair stops the start.
func (s *Server) listener(ln net.Listener, srv *http.Server) (net.Listener, error) {
	if !s.usesTLS() {
		return framingListener{ln}, nil
	}
	if err := s.ReloadTLS(); err != nil {
		return nil, err
	}
	return newTLSListener(ln, tlsConfig(&s.cert), handshakeTimeout(srv), s.log), nil
}

// tlsConfig is the client port's TLS configuration. TLS 1.2 is the oldest version served. Cipher suites
// and key exchanges are left at Go's defaults: they are modern (TLS 1.2 only with ECDHE and AEAD or
// CBC-SHA suites, no RSA key exchange, 3DES or RC4; TLS 1.3 suites are not configurable), Go orders them
// for the hardware it runs on, and each Go release updates them, as with the post-quantum X25519MLKEM768
// key exchange, which a list pinned here would not follow. ALPN offers HTTP/2 and HTTP/1.1; a websocket
// client asks for HTTP/1.1 (the upgrade at GET /ws is an HTTP/1.1 request).
func tlsConfig(cert *certificate) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: cert.get,
	}
}

// handshakeTimeout bounds a TLS handshake as net/http would: by the shortest of srv's read-header, read
// and write timeouts that are set.
func handshakeTimeout(srv *http.Server) time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

// tlsListener accepts TCP connections and hands out the ones whose TLS handshake succeeded: a *tls.Conn
// for HTTP/2, a tlsFramingConn for HTTP/1.1. Each handshake runs on its own goroutine, so a slow or silent
// client holds up no other.
type tlsListener struct {
	tcp     net.Listener
	config  *tls.Config
	timeout time.Duration
	log     *slog.Logger

	accepted chan acceptResult
	ctx      context.Context // ends at Close, which aborts the handshakes in progress
	cancel   context.CancelFunc
	once     sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newTLSListener(tcp net.Listener, config *tls.Config, timeout time.Duration, log *slog.Logger) *tlsListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &tlsListener{tcp: tcp, config: config, timeout: timeout, log: log,
		accepted: make(chan acceptResult), ctx: ctx, cancel: cancel}
	go l.acceptTCP()
	return l
}

// acceptTCP starts a handshake for each TCP connection. An accept error is passed on to Accept, where
// net/http decides whether to retry (after a pause) or stop.
func (l *tlsListener) acceptTCP() {
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			select {
			case l.accepted <- acceptResult{err: err}:
				continue
			case <-l.ctx.Done():
				return
			}
		}
		go l.handshake(c)
	}
}

func (l *tlsListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.config)
	ctx := l.ctx
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		// A client that sent plain HTTP is told to use HTTPS, as Go's own TLS server (and so Nakama's)
		// answers it: a game client left with useSSL off then sees why, instead of a dropped connection.
		// The answer carries nothing about the server, and the connection is closed after it.
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil {
			if looksLikeHTTP(rh.RecordHeader) {
				rh.Conn.SetWriteDeadline(time.Now().Add(time.Second))
				io.WriteString(rh.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			}
			l.log.Debug("TLS handshake failed: the client did not speak TLS", "remote", c.RemoteAddr().String())
		} else {
			l.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		}
		tc.Close()
		return
	}
	var conn net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		conn = &tlsFramingConn{framingConn: &framingConn{Conn: tc}, tls: tc}
	}
	select {
	case l.accepted <- acceptResult{conn: conn}:
	case <-l.ctx.Done():
		tc.Close()
	}
}

func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.accepted:
		return r.conn, r.err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

func (l *tlsListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.tcp.Close()
	})
	return err
}

func (l *tlsListener) Addr() net.Addr { return l.tcp.Addr() }

// looksLikeHTTP reports whether the first five bytes a client sent, read as a TLS record header, are the
// start of a plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// tlsFramingConn is an HTTP/1.1 connection over TLS: the framing watcher reads its decrypted bytes, and it
// reports its TLS state, which net/http puts on each request (http.Request.TLS).
type tlsFramingConn struct {
	*framingConn
	tls *tls.Conn
}

func (c *tlsFramingConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// connContext is the http.Server's ConnContext: framingContext, for plain and TLS connections alike.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tlsFramingConn); ok {
		c = tc.framingConn
	}
	return framingContext(ctx, c)
}
