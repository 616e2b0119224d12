package realtime_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// capReason is the close frame's text of a socket closed by socket.max_sockets_per_user.
const capReason = "socket cap"

// watched is a socket read by its own goroutine, which notices the server's close at once (and answers
// the server's pings).
type watched struct {
	ws   *websocket.Conn
	node string // the id of the node it was opened on
	done chan struct{}
	code int // the close frame's, once done
	text string
}

func watch(ws *websocket.Conn, node string) *watched {
	w := &watched{ws: ws, node: node, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					w.code, w.text = ce.Code, ce.Text
				}
				return
			}
		}
	}()
	return w
}

func (w *watched) open() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// dialAll opens n sockets with token at once, the i-th on on(i), and fails the test if a handshake is
// refused.
func dialAll(t *testing.T, n int, token string, on func(i int) *testServer) []*watched {
	t.Helper()
	start := make(chan struct{})
	socks := make([]*watched, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ts := on(i)
			ws, _, err := websocket.DefaultDialer.Dial(ts.wsURL("token="+url.QueryEscape(token)), nil)
			if err != nil {
				errs[i] = err
				return
			}
			socks[i] = watch(ws, ts.srv.Realtime.Node())
		})
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range socks {
			if s != nil {
				s.ws.Close()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
	}
	return socks
}

// settle waits until exactly want of socks are open, checks that they still are a moment later (the cap
// closed no more than the excess), and returns them. Every closed socket must have had the cap's close
// frame.
func settle(t *testing.T, socks []*watched, want int) []*watched {
	t.Helper()
	openOnes := func() []*watched {
		var out []*watched
		for _, s := range socks {
			if s.open() {
				out = append(out, s)
			}
		}
		return out
	}
	waitFor(t, strconv.Itoa(want)+" sockets left open", func() bool { return len(openOnes()) <= want })
	time.Sleep(300 * time.Millisecond)
	left := openOnes()
	if len(left) != want {
		t.Fatalf("%d sockets open, want the cap of %d", len(left), want)
	}
	for i, s := range socks {
		if !s.open() && (s.code != websocket.CloseNormalClosure || s.text != capReason) {
			t.Errorf("socket %d closed with %d %q, want 1000 %q", i, s.code, s.text, capReason)
		}
	}
	return left
}

// socketID returns the id the server gave c (its session id to server code).
func socketID(t *testing.T, c *client) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(c.rpc("id", "ctx", "").GetRpc().GetPayload()), &v); err != nil {
		t.Fatal(err)
	}
	id, _ := v["session_id"].(string)
	return id
}

func echoes(t *testing.T, what string, c *client) {
	t.Helper()
	if got := c.rpc("e", "echo", what); got.GetRpc().GetPayload() != what {
		t.Errorf("%s: got %v, want the echo", what, got)
	}
}

// dialApart dials like ts.dial, a few milliseconds after the previous socket: the registry orders a
// user's sockets by creation time to the millisecond (SQLite), then by id, and these tests need "oldest"
// to be the order they dial in.
func dialApart(ts *testServer, token, query string) *client {
	ts.t.Helper()
	time.Sleep(3 * time.Millisecond)
	return ts.dial(token, query)
}

// registered waits until the registry lists want of the user's sockets on live nodes.
func registered(t *testing.T, ts *testServer, userID string, want int) {
	t.Helper()
	waitFor(t, strconv.Itoa(want)+" registered sockets", func() bool {
		list, err := ts.srv.Realtime.UserSockets(context.Background(), userID)
		return err == nil && len(list) == want
	})
}

// TestSocketCapPerUser: a socket beyond socket.max_sockets_per_user closes the user's oldest, whatever
// login session each was opened with, with a close frame and a session_end that say why; other users'
// sockets are untouched.
func TestSocketCapPerUser(t *testing.T) {
	type end struct{ socket, reason string }
	ends := make(chan end, 64)
	recorder := func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return init.RegisterEventSessionEnd(func(ctx context.Context, _ runtime.Logger, e *api.Event) {
			socket, _ := ctx.Value(runtime.RUNTIME_CTX_SESSION_ID).(string)
			select {
			case ends <- end{socket, e.Properties["reason"]}:
			default:
			}
		})
	}
	ts := startServerWith(t, func(c *config.Config) { c.Socket.MaxSocketsPerUser = 3 }, testModule, recorder)
	p1, p2 := ts.login("cap-device-1", nil), ts.login("cap-device-1", nil)
	uid, _ := servertest.Claims(t, p1.Token)["uid"].(string)
	bystander := dialApart(ts, ts.login("cap-device-2", nil).Token, "")
	socks := []*client{dialApart(ts, p1.Token, ""), dialApart(ts, p2.Token, "format=protobuf"), dialApart(ts, p1.Token, "")}
	for i, c := range socks {
		echoes(t, "socket "+strconv.Itoa(i)+" under the cap", c)
	}
	oldest := socketID(t, socks[0])

	socks = append(socks, dialApart(ts, p2.Token, ""))
	if code, text := socks[0].closed(2 * time.Second); code != websocket.CloseNormalClosure || text != capReason {
		t.Errorf("oldest socket: close %d %q, want 1000 %q", code, text, capReason)
	}
	select {
	case e := <-ends:
		if e.socket != oldest || e.reason != capReason {
			t.Errorf("session_end of %s with reason %q, want %s with %q", e.socket, e.reason, oldest, capReason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no session_end for the capped socket")
	}
	for i, c := range socks[1:] {
		echoes(t, "socket "+strconv.Itoa(i+1)+" within the cap", c)
	}
	echoes(t, "another user's socket", bystander)
	registered(t, ts, uid, 3)

	// The next one closes the next oldest.
	socks = append(socks, dialApart(ts, p1.Token, ""))
	if code, text := socks[1].closed(2 * time.Second); code != websocket.CloseNormalClosure || text != capReason {
		t.Errorf("second oldest socket: close %d %q, want 1000 %q", code, text, capReason)
	}
	echoes(t, "the newest socket", socks[4])
	registered(t, ts, uid, 3)
}

// TestSocketCapConcurrentHandshakes: sockets of one user opened at once on one node end at exactly the
// cap, and 0 turns the cap off.
func TestSocketCapConcurrentHandshakes(t *testing.T) {
	t.Run("cap 3", func(t *testing.T) {
		ts := startServer(t, func(c *config.Config) { c.Socket.MaxSocketsPerUser = 3 })
		p := ts.login("cap-race-device-1", nil)
		socks := dialAll(t, 12, p.Token, func(int) *testServer { return ts })
		settle(t, socks, 3)
		waitFor(t, "the hub to hold 3 sockets", func() bool { return ts.srv.Realtime.Len() == 3 })
		uid, _ := servertest.Claims(t, p.Token)["uid"].(string)
		registered(t, ts, uid, 3)
	})
	t.Run("0 is no cap", func(t *testing.T) {
		ts := startServer(t, func(c *config.Config) { c.Socket.MaxSocketsPerUser = 0 })
		p := ts.login("cap-race-device-2", nil)
		settle(t, dialAll(t, 20, p.Token, func(int) *testServer { return ts }), 20)
	})
}

// TestSocketCapAcrossNodes runs two nodes on one PostgreSQL database with a cap of 2 sockets per user.
// A new socket on either node closes the user's oldest wherever it is held. Then sockets opened at once on
// both nodes, with node B's clock 10 s ahead so that its sockets are all newer than A's, end at exactly
// the cap, both on B; and a socket opened on A afterwards, older than B's, is closed by A itself: the
// newest are never the ones closed, even by the node that opened the older ones.
func TestSocketCapAcrossNodes(t *testing.T) {
	db := pgtest.NewDatabase(t)
	var skew atomic.Int64
	set := func(c *config.Config) {
		c.Database.Address = config.StringList{db}
		c.Socket.MaxSocketsPerUser = 2
	}
	a := startServerOpts(t, set, server.Options{Modules: []runtime.InitModule{testModule}})
	b := startServerOpts(t, set, server.Options{Modules: []runtime.InitModule{testModule},
		Clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})

	t.Run("one at a time", func(t *testing.T) {
		p := a.login("cap-nodes-device-1", nil)
		a1 := dialApart(a, p.Token, "")
		echoes(t, "a1", a1)
		b1 := dialApart(b, p.Token, "format=protobuf")
		echoes(t, "b1", b1)
		a2 := dialApart(a, p.Token, "")
		if code, text := a1.closed(2 * time.Second); code != websocket.CloseNormalClosure || text != capReason {
			t.Errorf("a1 (same node): close %d %q, want 1000 %q", code, text, capReason)
		}
		a3 := dialApart(a, p.Token, "")
		if code, text := b1.closed(2 * time.Second); code != websocket.CloseNormalClosure || text != capReason {
			t.Errorf("b1 (closed from node A): close %d %q, want 1000 %q", code, text, capReason)
		}
		b2 := dialApart(b, p.Token, "")
		if code, text := a2.closed(2 * time.Second); code != websocket.CloseNormalClosure || text != capReason {
			t.Errorf("a2 (closed from node B): close %d %q, want 1000 %q", code, text, capReason)
		}
		echoes(t, "a3", a3)
		echoes(t, "b2", b2)
		uid, _ := servertest.Claims(t, p.Token)["uid"].(string)
		registered(t, b, uid, 2)
	})

	t.Run("at once on both nodes", func(t *testing.T) {
		skew.Store(int64(10 * time.Second))
		p := a.login("cap-nodes-device-2", nil)
		socks := dialAll(t, 8, p.Token, func(i int) *testServer { return []*testServer{a, b}[i%2] })
		kept := settle(t, socks, 2)
		for _, s := range kept {
			if s.node != b.srv.Realtime.Node() {
				t.Errorf("a socket on node A survived; the two newest are on B (its clock is ahead)")
			}
		}
		// A socket opened on A now is still older than B's: its own handshake closes it.
		for range 2 {
			socks = append(kept, dialAll(t, 1, p.Token, func(int) *testServer { return a })...)
			if left := settle(t, socks, 2); left[0] != kept[0] || left[1] != kept[1] {
				t.Errorf("the two sockets on B were not the ones kept")
			}
		}
		uid, _ := servertest.Claims(t, p.Token)["uid"].(string)
		registered(t, a, uid, 2)
	})
}

// TestNodeSocketCap: beyond socket.max_sockets a handshake is refused with 503, Retry-After and a plain
// text body before the upgrade and before the store is written; handshakes at once never take more
// places than there are, and a closed socket gives its place back.
func TestNodeSocketCap(t *testing.T) {
	const places, dials = 4, 20
	metricsPort := servertest.FreePort(t)
	ts := startServer(t, func(c *config.Config) {
		c.Socket.MaxSockets, c.Socket.MaxSocketsPerUser = places, 0
		c.Metrics.Address, c.Metrics.PrometheusPort = "127.0.0.1", metricsPort
	})
	p := ts.login("node-cap-device-1", nil)
	u := ts.wsURL("token=" + url.QueryEscape(p.Token))

	type answer struct {
		ws         *websocket.Conn
		status     int
		retryAfter string
		body       string
	}
	answers := make([]answer, dials)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range dials {
		wg.Go(func() {
			<-start
			ws, res, err := websocket.DefaultDialer.Dial(u, nil)
			switch {
			case err == nil:
				answers[i] = answer{ws: ws, status: http.StatusSwitchingProtocols}
			case res != nil:
				b, _ := io.ReadAll(res.Body)
				answers[i] = answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), body: strings.TrimSpace(string(b))}
			default:
				answers[i] = answer{body: err.Error()}
			}
		})
	}
	close(start)
	wg.Wait()
	var open []*websocket.Conn
	for i, a := range answers {
		switch {
		case a.ws != nil:
			open = append(open, a.ws)
			t.Cleanup(func() { a.ws.Close() })
		case a.status != http.StatusServiceUnavailable || a.retryAfter != "5" ||
			a.body != "Service unavailable: too many sockets on this server, try again later":
			t.Errorf("handshake %d: %d (Retry-After %q) %q, want 101 or 503 with Retry-After 5", i, a.status, a.retryAfter, a.body)
		}
	}
	if len(open) != places || ts.srv.Realtime.Len() != places {
		t.Fatalf("%d handshakes upgraded, the hub holds %d; want %d of %d", len(open), ts.srv.Realtime.Len(), places, dials)
	}
	uid, _ := servertest.Claims(t, p.Token)["uid"].(string)
	registered(t, ts, uid, places)
	if got := addSocketCalls(t, metricsPort); got != places {
		t.Errorf("the store registered %d sockets, want %d: a refused handshake writes nothing", got, places)
	}

	// A socket that closes gives its place back, to one handshake.
	open[0].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitFor(t, "the closed socket to be gone", func() bool { return ts.srv.Realtime.Len() == places-1 })
	echoes(t, "a socket in the freed place", ts.dial(p.Token, ""))
	if status, body := ts.refused("token="+url.QueryEscape(p.Token), nil); status != http.StatusServiceUnavailable {
		t.Errorf("a handshake with every place taken again: %d %q, want 503", status, body)
	}
}

// addSocketCalls reads from the server's /metrics how many times the store was asked to register a socket.
func addSocketCalls(t *testing.T, port int) int {
	t.Helper()
	const series = `latchkey_store_call_duration_seconds_count{operation="AddSocket"} `
	var body string
	waitFor(t, "the metrics listener", func() bool {
		res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body = string(b)
		return res.StatusCode == http.StatusOK
	})
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s series in /metrics", series)
	return 0
}
