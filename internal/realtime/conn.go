package realtime

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one socket. Its reader goroutine (run) reads and answers messages one at a time, as Nakama
// does; writes go through a bounded queue drained by a writer goroutine that exists only while there is
// something to write, so an idle socket costs one parked goroutine.
type conn struct {
	*Caller
	id      string
	hub     *Hub
	ws      *websocket.Conn
	format  format
	created time.Time
	gen     int64           // the session generation of the token the socket was opened with
	ctx     context.Context // the hub's base context with the Caller

	mu        sync.Mutex
	queue     [][]byte
	writing   bool   // a writer goroutine is draining the queue
	closing   bool   // close requested: nothing more is queued
	closeCode int    // the close frame to send once the queue is drained
	closeText string // its reason
	reason    atomic.Pointer[string]
	ping      *time.Timer
}

func newConn(h *Hub, ws *websocket.Conn, c *Caller, gen int64, f format, created time.Time) *conn {
	return &conn{
		Caller: c, id: c.SocketID, hub: h, ws: ws, format: f, created: created, gen: gen,
		ctx: context.WithValue(h.base, callerKey{}, c),
	}
}

// run is the socket's reader: it keeps the read deadline moving while the client is alive (any message
// or pong), answers each message, and on any read error ends the socket.
func (c *conn) run() {
	cfg := &c.hub.cfg
	c.ws.SetReadLimit(cfg.MaxMessageSize)
	c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error { return c.extendRead() })
	// Armed only once assigned, so that sendPing, which re-arms it, never sees it unset.
	c.ping = time.AfterFunc(time.Hour, c.sendPing)
	c.ping.Reset(cfg.PingPeriod)
	reason := reasonClientClosed
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			reason = readEndReason(err)
			break
		}
		c.extendRead()
		c.handle(mt, data)
	}
	c.ping.Stop()
	c.ws.Close()
	if r := c.reason.Load(); r != nil {
		reason = *r
	}
	c.hub.ended(c, reason)
}

// extendRead moves the read deadline a pong wait ahead, unless the socket is closing, when the deadline
// set by the close stands.
func (c *conn) extendRead() error {
	if c.reason.Load() != nil {
		return nil
	}
	return c.ws.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
}

func readEndReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return reasonTooBig
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		return reasonClientClosed
	case errors.As(err, &ne) && ne.Timeout():
		return reasonTimeout
	}
	return reasonReadError
}

// sendPing pings the client every ping period; a ping that cannot be written ends the socket.
func (c *conn) sendPing() {
	if c.reason.Load() != nil {
		return
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.cfg.WriteWait)); err != nil {
		c.ws.Close()
		return
	}
	c.ping.Reset(c.hub.cfg.PingPeriod)
}

// send queues an encoded message. A full queue means the client does not read fast enough: the socket is
// closed (policy violation) rather than letting it hold memory or slow anyone else down.
func (c *conn) send(msg []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.hub.cfg.QueueSize {
		c.closing = true
		c.queue = nil
		c.mu.Unlock()
		c.hub.log.Warn("socket outgoing queue full; closing it", "socket_id", c.id, "user_id", c.UserID)
		c.abort(websocket.ClosePolicyViolation, reasonQueueFull)
		return
	}
	c.queue = append(c.queue, msg)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// close queues the final messages and a close frame with code and text; the writer sends them in order,
// then the reader waits a moment for the client's answer. Closing a closing socket does nothing.
func (c *conn) close(code int, text string, final ...[]byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode, c.closeText = code, text
	for _, m := range final {
		if m != nil {
			c.queue = append(c.queue, m)
		}
	}
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	c.reason.CompareAndSwap(nil, &text)
	if start {
		go c.writeLoop()
	}
}

// maxCloseText is the most a close frame's reason may hold (RFC 6455: 125 bytes less the code).
const maxCloseText = 123

// abort sends a close frame past the queue (which a slow client may never drain) and drops the
// connection.
func (c *conn) abort(code int, text string) {
	c.reason.CompareAndSwap(nil, &text)
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(c.hub.cfg.WriteWait))
	c.ws.Close()
}

// writeLoop drains the queue, then sends the close frame if one is due, and exits.
func (c *conn) writeLoop() {
	mt := websocket.TextMessage
	if c.format == formatProtobuf {
		mt = websocket.BinaryMessage
	}
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.writing = false
			code, text, closing := c.closeCode, c.closeText, c.closing && c.closeCode != 0
			c.closeCode = 0
			c.queue = nil // let an emptied backing array go
			c.mu.Unlock()
			if closing {
				c.sendClose(code, text)
			}
			return
		}
		msg := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.ws.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteWait))
		if err := c.ws.WriteMessage(mt, msg); err != nil {
			c.mu.Lock()
			c.closing, c.writing, c.queue = true, false, nil
			c.mu.Unlock()
			c.ws.Close()
			return
		}
	}
}

func (c *conn) sendClose(code int, text string) {
	if len(text) > maxCloseText {
		text = text[:maxCloseText]
	}
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(c.hub.cfg.WriteWait))
	if err != nil {
		c.ws.Close()
		return
	}
	c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}
