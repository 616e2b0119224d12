package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Request framing. A request with both Transfer-Encoding and Content-Length can be read two ways, which is
// how request smuggling through a proxy works (RFC 9112, section 6.3: "ought to be handled as an error").
// net/http quietly drops the Content-Length and reads the chunked body, and removes the header before a
// handler could see it, so the listener watches the raw bytes instead: framingConn follows each request's
// head and body on a connection and records, in order, whether its head carried both; the handler takes
// one record per request (a connection's requests are served in order) and refuses the ambiguous ones
// with 400, closing the connection.

// framingListener wraps each accepted connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingKey struct{}

// framingContext is the http.Server's ConnContext: it puts the connection's framingConn on the context of
// its requests.
func framingContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// ambiguous reports whether the request being served had both Transfer-Encoding and Content-Length.
func ambiguous(r *http.Request) bool {
	fc, ok := r.Context().Value(framingKey{}).(*framingConn)
	return ok && fc.next()
}

// maxHeadBytes bounds the head the watcher collects; net/http refuses larger heads itself.
const maxHeadBytes = 128 << 10

type framingState int

const (
	inHead      framingState = iota
	inBody                   // remaining bytes of a Content-Length body
	inChunkSize              // a chunk-size line
	inChunk                  // remaining bytes of a chunk, then its CRLF
	inTrailer                // trailer lines after the last chunk
	lost                     // a head the watcher could not follow: stop watching
)

// framingConn watches the bytes read from a connection.
type framingConn struct {
	net.Conn

	// Only Read (one goroutine at a time, net/http's reader) touches these.
	state  framingState
	head   []byte
	remain int64
	line   []byte

	mu      sync.Mutex
	records []bool // one per request head seen, not yet taken by a handler
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.watch(p[:n])
	}
	return n, err
}

// next takes the record of the oldest request not yet taken.
func (c *framingConn) next() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.records) == 0 {
		return false
	}
	amb := c.records[0]
	c.records = c.records[1:]
	return amb
}

func (c *framingConn) watch(b []byte) {
	defer func() {
		if c.state == lost {
			c.head, c.line = nil, nil
		}
	}()
	for len(b) > 0 && c.state != lost {
		switch c.state {
		case inHead:
			c.head = append(c.head, b...)
			b = nil
			// Blank lines before a request line are allowed (RFC 9112, 2.2).
			c.head = bytes.TrimLeft(c.head, "\r\n")
			end := bytes.Index(c.head, []byte("\r\n\r\n"))
			if end < 0 {
				if len(c.head) > maxHeadBytes {
					c.state = lost
				}
				continue
			}
			rest := c.head[end+4:]
			c.startBody(c.head[:end])
			b = append([]byte(nil), rest...)
			c.head = c.head[:0]
		case inBody:
			k := min(int64(len(b)), c.remain)
			c.remain -= k
			b = b[k:]
			if c.remain == 0 {
				c.state = inHead
			}
		case inChunkSize, inTrailer:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.line = append(c.line, b...)
				b = nil
				if len(c.line) > 4096 {
					c.state = lost
				}
				continue
			}
			line := strings.TrimSpace(string(append(c.line, b[:i]...)))
			c.line = c.line[:0]
			b = b[i+1:]
			c.endLine(line)
		case inChunk:
			k := min(int64(len(b)), c.remain)
			c.remain -= k
			b = b[k:]
			if c.remain == 0 {
				c.state = inChunkSize // the chunk's CRLF reads as an empty size line, skipped below
			}
		}
	}
}

// startBody records a request head and sets up reading its body.
func (c *framingConn) startBody(head []byte) {
	var te, cl string
	var hasCL, upgrade bool
	for _, l := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "transfer-encoding":
			te = strings.ToLower(strings.TrimSpace(value))
		case "content-length":
			cl, hasCL = strings.TrimSpace(value), true
		case "upgrade":
			upgrade = true
		}
	}
	c.mu.Lock()
	c.records = append(c.records, te != "" && hasCL)
	c.mu.Unlock()
	switch {
	case te != "" && hasCL:
		c.state = lost // refused and closed; nothing after it is served
	case upgrade:
		// A websocket: once upgraded the connection carries frames, not requests, and must not be buffered
		// as a head for as long as it lives.
		c.state = lost
	case te != "":
		c.state = inChunkSize
	case hasCL:
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			c.state = lost // net/http refuses it
			return
		}
		c.remain, c.state = n, inBody
		if n == 0 {
			c.state = inHead
		}
	default:
		c.state = inHead
	}
}

// endLine handles a complete chunk-size or trailer line.
func (c *framingConn) endLine(line string) {
	if c.state == inTrailer {
		if line == "" {
			c.state = inHead
		}
		return
	}
	if line == "" {
		return // the CRLF after a chunk's data
	}
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	switch {
	case err != nil || n < 0:
		c.state = lost // net/http refuses it
	case n == 0:
		c.state = inTrailer
	default:
		c.remain, c.state = n, inChunk
	}
}
