package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// socket is a realtime socket to a node, read by its own goroutine so that it answers the server's pings
// and notices its close at once.
type socket struct {
	t      *testing.T
	ws     *websocket.Conn
	msgs   chan []byte
	closed chan struct{}
	code   int
	at     time.Time // when the close arrived
}

func (n *node) socket(t *testing.T, token string) *socket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.url, "http") + "/ws?token=" + url.QueryEscape(token)
	ws, res, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("%s: dial: %v (status %d)", n.name, err, status)
	}
	s := &socket{t: t, ws: ws, msgs: make(chan []byte, 16), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				s.at = time.Now()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					s.code = ce.Code
				}
				return
			}
			select {
			case s.msgs <- data:
			default: // the test does not read everything
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return s
}

// rpc calls an RPC over the socket and returns its payload.
func (s *socket) rpc(id, payload string) string {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"cid": "1", "rpc": map[string]string{"id": id, "payload": payload}})
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		s.t.Fatal(err)
	}
	select {
	case data := <-s.msgs:
		var env struct {
			Rpc struct{ Payload string } `json:"rpc"`
		}
		if err := json.Unmarshal(data, &env); err != nil {
			s.t.Fatal(err)
		}
		return env.Rpc.Payload
	case <-s.closed:
		s.t.Fatalf("socket closed (%d) during rpc %s", s.code, id)
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no answer to rpc %s", id)
	}
	return ""
}

// closedWithin waits for the server to close the socket and returns how long after start the close
// arrived, failing if it is not a close frame with code 1000 or it takes longer than bound.
func (s *socket) closedWithin(what string, start time.Time, bound time.Duration) time.Duration {
	s.t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s: socket still open after 10 s", what)
	}
	d := s.at.Sub(start)
	if s.code != websocket.CloseNormalClosure {
		s.t.Errorf("%s: close code %d, want 1000", what, s.code)
	}
	if d > bound {
		s.t.Errorf("%s: socket closed %v after the call, bound %v", what, d, bound)
	}
	return d
}

func (s *socket) open() bool {
	select {
	case <-s.closed:
		return false
	default:
		return true
	}
}

// TestMultiNodeSockets runs three nodes with the test module on one PostgreSQL database and checks that
// what happens on one node reaches sockets held by another within revocationBound: a logout, a ban,
// server code's SessionDisconnect and single_socket; and that SocketsList sees every node's sockets.
func TestMultiNodeSockets(t *testing.T) {
	db := pgtest.NewDatabase(t)
	bin := testServerBinary(t)
	args := []string{"--database.address", db, "--session.single_socket", "true", "--session.token_expiry_sec", "600"}
	a := startBinary(t, bin, "node-a", args...)
	b := startBinary(t, bin, "node-b", args...)
	c := startBinary(t, bin, "node-c", args...)

	var figures []time.Duration
	record := func(d time.Duration) { figures = append(figures, d) }
	device := func(round int, what string) string {
		return `{"id":"sock-` + what + `-` + string(rune('a'+round)) + `-device"}`
	}
	for round := range 4 {
		// Logout on C closes the socket on A; another session's socket of the same user on B stays.
		s := a.must("POST", "/v2/account/authenticate/device", "basic", device(round, "logout")).pair(t)
		sa := a.socket(t, s.Token)
		sa.rpc("echo", "ready") // the socket is registered everywhere before the logout
		start := time.Now()
		c.must("POST", "/v2/session/logout", "bearer:"+s.Token, `{"token":"`+s.Token+`"}`).wantStatus(t, http.StatusOK)
		record(sa.closedWithin("logout on another node", start, revocationBound))

		// A ban made on C through server code closes the user's socket on B.
		u := b.must("POST", "/v2/account/authenticate/device", "basic", device(round, "ban")).pair(t)
		sb := b.socket(t, u.Token)
		sb.rpc("echo", "ready")
		start = time.Now()
		c.must("POST", "/v2/rpc/ban", "bearer:"+u.Token, `""`).wantStatus(t, http.StatusOK)
		record(sb.closedWithin("ban on another node", start, revocationBound))

		// SessionDisconnect on B closes the socket on A; the login session stays usable.
		d := a.must("POST", "/v2/account/authenticate/device", "basic", device(round, "disc")).pair(t)
		sd := a.socket(t, d.Token)
		var ctxVals map[string]any
		json.Unmarshal([]byte(sd.rpc("ctx", "")), &ctxVals)
		socketID, _ := ctxVals["session_id"].(string)
		var listed struct {
			Sockets []struct {
				SessionID string `json:"session_id"`
			} `json:"sockets"`
		}
		r := b.must("POST", "/v2/rpc/sockets", "bearer:"+d.Token, `""`)
		json.Unmarshal([]byte(r.Body["payload"].(string)), &listed)
		if len(listed.Sockets) != 1 || listed.Sockets[0].SessionID != socketID {
			t.Errorf("SocketsList on another node = %+v, want the socket %s", listed.Sockets, socketID)
		}
		payload, _ := json.Marshal(`{"session_id":"` + socketID + `"}`)
		start = time.Now()
		b.must("POST", "/v2/rpc/disconnect", "bearer:"+d.Token, string(payload)).wantStatus(t, http.StatusOK)
		record(sd.closedWithin("SessionDisconnect from another node", start, revocationBound))
		b.must("GET", "/v2/account", "bearer:"+d.Token, "").wantStatus(t, http.StatusOK)

		// single_socket: a new socket on C closes the user's older socket on A.
		o := a.must("POST", "/v2/account/authenticate/device", "basic", device(round, "single")).pair(t)
		old := a.socket(t, o.Token)
		old.rpc("echo", "ready")
		start = time.Now()
		newer := c.socket(t, o.Token)
		record(old.closedWithin("single_socket across nodes", start, revocationBound))
		if newer.rpc("echo", "still") != "still" || !newer.open() {
			t.Errorf("the newer socket was closed too")
		}
	}
	slices.Sort(figures)
	t.Logf("socket closed after an action on another node: median %v, worst %v over %d measurements (bound %v)",
		figures[len(figures)/2], figures[len(figures)-1], len(figures), revocationBound)
}

// TestSocketsClosedByAdminBanOnSQLite bans from a separate process (latchkey users ban) on the embedded
// store, which reaches the server through the revocation feed it polls. The bound counts from the
// command's return, when the ban is committed.
func TestSocketsClosedByAdminBanOnSQLite(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, "node-sqlite", "--data_dir", dir)
	p := n.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"sock-admin-ban-device"}`).pair(t)
	s := n.socket(t, p.Token)
	s.rpc("none", "") // any answer: the socket is up
	admin(t, "users", "ban", uidOf(t, p.Token), "--data_dir", dir)
	d := s.closedWithin("admin ban from another process", time.Now(), revocationBound)
	t.Logf("socket closed %v after the ban command returned", d)
}
