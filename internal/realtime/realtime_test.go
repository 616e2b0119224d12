package realtime_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/heroiclabs/nakama-common/rtapi"
	"google.golang.org/protobuf/proto"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/realtime"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// testServer is a whole Latchkey node on a temporary SQLite store, serving on a loopback port.
type testServer struct {
	t    testing.TB
	srv  *server.Server
	base string // http://127.0.0.1:port
	stop func()
}

// testModule registers the RPCs the tests call over the socket.
func testModule(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
	str := func(ctx context.Context, k string) string { s, _ := ctx.Value(k).(string); return s }
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(init.RegisterRpc("ctx", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, _ string) (string, error) {
		vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string)
		b, err := json.Marshal(map[string]any{
			"user_id": str(ctx, runtime.RUNTIME_CTX_USER_ID), "username": str(ctx, runtime.RUNTIME_CTX_USERNAME),
			"session_id": str(ctx, runtime.RUNTIME_CTX_SESSION_ID), "lang": str(ctx, runtime.RUNTIME_CTX_LANG),
			"vars": vars, "exp": ctx.Value(runtime.RUNTIME_CTX_USER_SESSION_EXP),
		})
		return string(b), err
	}))
	must(init.RegisterRpc("echo", func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, p string) (string, error) {
		return p, nil
	}))
	must(init.RegisterRpc("fail", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		return "", runtime.NewError("custom failure", 9)
	}))
	must(init.RegisterRpc("leak", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		return "", errors.New("dial tcp 10.1.2.3:5432: secret internal detail")
	}))
	must(init.RegisterRpc("panic", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		panic("boom")
	}))
	must(init.RegisterRpc("disconnect", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, p string) (string, error) {
		id := p
		if id == "" {
			id = str(ctx, runtime.RUNTIME_CTX_SESSION_ID)
		}
		return "{}", nk.SessionDisconnect(ctx, id)
	}))
	must(init.RegisterRpc("ban", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, _ string) (string, error) {
		return "{}", nk.UsersBanId(ctx, []string{str(ctx, runtime.RUNTIME_CTX_USER_ID)})
	}))
	return nil
}

func startServer(t testing.TB, set func(*config.Config)) *testServer {
	t.Helper()
	return startServerWith(t, set, testModule)
}

func startServerWith(t testing.TB, set func(*config.Config), modules ...runtime.InitModule) *testServer {
	t.Helper()
	return startServerOpts(t, set, server.Options{Modules: modules})
}

func startServerOpts(t testing.TB, set func(*config.Config), opts server.Options) *testServer {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Session.TokenExpirySec = 600
	if set != nil {
		set(&cfg)
	}
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	ts := &testServer{t: t, srv: srv, base: "http://" + ln.Addr().String()}
	var once atomic.Bool
	ts.stop = func() {
		if once.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close()
	}
	t.Cleanup(ts.stop)
	return ts
}

type tokenPair struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
}

// login authenticates a device (creating it) and returns its tokens.
func (ts *testServer) login(device string, vars map[string]string) tokenPair {
	ts.t.Helper()
	body, _ := json.Marshal(map[string]any{"id": device, "vars": vars})
	var p tokenPair
	ts.do("POST", "/v2/account/authenticate/device?create=true", "basic", string(body), &p)
	return p
}

// do sends a request; auth is "basic" for the server key or a bearer token.
func (ts *testServer) do(method, path, auth, body string, out any) {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.base+path, strings.NewReader(body))
	if auth == "basic" {
		req.SetBasicAuth("defaultkey", "")
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		ts.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatal(err)
		}
	}
}

func (ts *testServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ts.base, "http") + "/ws?" + query
}

// client is one socket.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	binary bool
}

func (ts *testServer) dial(token, query string) *client {
	ts.t.Helper()
	q := "token=" + url.QueryEscape(token)
	if query != "" {
		q += "&" + query
	}
	ws, res, err := websocket.DefaultDialer.Dial(ts.wsURL(q), nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		ts.t.Fatalf("dial: %v (status %d)", err, status)
	}
	c := &client{t: ts.t, ws: ws, binary: strings.Contains(query, "format=protobuf")}
	ts.t.Cleanup(func() { ws.Close() })
	return c
}

// refused dials with the query and header and returns the handshake's status and body.
func (ts *testServer) refused(query string, header http.Header) (int, string) {
	ts.t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(ts.wsURL(query), header)
	if err == nil {
		ws.Close()
		ts.t.Fatalf("dial %q: upgraded, want a refusal", query)
	}
	if res == nil {
		ts.t.Fatalf("dial %q: %v", query, err)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

func (c *client) sendRaw(mt int, data []byte) {
	c.t.Helper()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(mt, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(env *rtapi.Envelope) {
	c.t.Helper()
	if c.binary {
		b, _ := proto.Marshal(env)
		c.sendRaw(websocket.BinaryMessage, b)
		return
	}
	b, _ := protojsonOut.Marshal(env)
	c.sendRaw(websocket.TextMessage, b)
}

// recv reads the next envelope, failing on a close or after 5 s.
func (c *client) recv() *rtapi.Envelope {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	env := &rtapi.Envelope{}
	if c.binary {
		if mt != websocket.BinaryMessage {
			c.t.Fatalf("got frame type %d on a protobuf socket", mt)
		}
		err = proto.Unmarshal(data, env)
	} else {
		if mt != websocket.TextMessage {
			c.t.Fatalf("got frame type %d on a json socket", mt)
		}
		err = protojsonIn.Unmarshal(data, env)
	}
	if err != nil {
		c.t.Fatalf("decoding %q: %v", data, err)
	}
	return env
}

// closed reads until the server closes the socket and returns the close frame's code and text.
func (c *client) closed(within time.Duration) (int, string) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("socket not closed with a close frame within %v: %v", within, err)
	}
}

func (c *client) rpc(cid, id, payload string) *rtapi.Envelope {
	c.t.Helper()
	c.send(&rtapi.Envelope{Cid: cid, Message: &rtapi.Envelope_Rpc{Rpc: rpcMsg(id, payload)}})
	return c.recv()
}

func wantError(t *testing.T, env *rtapi.Envelope, cid string, code rtapi.Error_Code, msgPart string) {
	t.Helper()
	e := env.GetError()
	if e == nil {
		t.Fatalf("got %v, want an error envelope", env)
	}
	if env.Cid != cid || e.Code != int32(code) || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("got cid %q error %d %q, want cid %q error %d containing %q", env.Cid, e.Code, e.Message, cid, code, msgPart)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.login("handshake-device-1", nil)
	other := ts.login("handshake-device-2", nil)
	ts.do("POST", "/v2/session/logout", other.Token, `{"token":"`+other.Token+`"}`, nil)
	parts := strings.Split(p.Token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
		body   string
	}{
		{"no token", "", nil, 401, "Missing or invalid token"},
		{"empty token", "token=", nil, 401, "Missing or invalid token"},
		{"garbage", "token=abc", nil, 401, "Missing or invalid token"},
		{"tampered", "token=" + tampered, nil, 401, "Missing or invalid token"},
		{"refresh token", "token=" + p.RefreshToken, nil, 401, "Missing or invalid token"},
		{"logged out", "token=" + other.Token, nil, 401, "Missing or invalid token"},
		{"basic header wins over a good query token", "token=" + p.Token, http.Header{"Authorization": {"Basic ZGVmYXVsdGtleTo="}}, 401, "Missing or invalid token"},
		{"bad format", "format=xml&token=" + p.Token, nil, 400, "Invalid format parameter"},
		{"lang too long", "lang=" + strings.Repeat("x", 19) + "&token=" + p.Token, nil, 400, "Invalid lang parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ts.refused(tt.query, tt.header)
			if status != tt.status || body != tt.body {
				t.Errorf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
	t.Run("bearer header", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial(ts.wsURL(""), http.Header{"Authorization": {"Bearer " + p.Token}})
		if err != nil {
			t.Fatalf("dial with a bearer header: %v", err)
		}
		ws.Close()
	})
}

func TestExpiredTokenRefusedButOpenSocketStays(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Session.TokenExpirySec = 1; c.Session.RefreshTokenExpirySec = 60 })
	p := ts.login("expiry-device-1", nil)
	c := ts.dial(p.Token, "")
	time.Sleep(2100 * time.Millisecond)
	if status, _ := ts.refused("token="+p.Token, nil); status != 401 {
		t.Errorf("expired token: handshake status %d, want 401", status)
	}
	if got := c.rpc("1", "echo", "still here"); got.GetRpc().GetPayload() != "still here" {
		t.Errorf("socket opened before expiry: got %v, want the echo", got)
	}
}

func TestEnvelopes(t *testing.T) {
	for _, f := range []string{"json", "protobuf"} {
		t.Run(f, func(t *testing.T) {
			ts := startServer(t, nil)
			p := ts.login("envelope-device-"+f, map[string]string{"tier": "gold"})
			c := ts.dial(p.Token, "format="+f+"&lang=fr")

			c.send(&rtapi.Envelope{Cid: "1", Message: &rtapi.Envelope_Ping{Ping: &rtapi.Ping{}}})
			if got := c.recv(); got.Cid != "1" || got.GetPong() == nil {
				t.Fatalf("ping: got %v, want pong with cid 1", got)
			}

			got := c.rpc("2", "CTX", "")
			if got.Cid != "2" || got.GetRpc().GetId() != "CTX" {
				t.Fatalf("rpc: got %v", got)
			}
			var ctxVals map[string]any
			if err := json.Unmarshal([]byte(got.GetRpc().GetPayload()), &ctxVals); err != nil {
				t.Fatal(err)
			}
			sid, _ := ctxVals["session_id"].(string)
			if ctxVals["lang"] != "fr" || ctxVals["vars"].(map[string]any)["tier"] != "gold" || len(sid) != 36 || ctxVals["user_id"] == "" {
				t.Errorf("rpc context = %v", ctxVals)
			}
			if sid == servertest.Claims(t, p.Token)["tid"] {
				t.Errorf("session_id is the token's tid, want the socket's own id")
			}

			wantError(t, c.rpc("3", "nope", ""), "3", rtapi.Error_RUNTIME_FUNCTION_NOT_FOUND, "RPC function not found")
			wantError(t, c.rpc("4", "", ""), "4", rtapi.Error_BAD_INPUT, "RPC ID must be set")
			wantError(t, c.rpc("5", "fail", ""), "5", rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, "custom failure")
			wantError(t, c.rpc("6", "panic", ""), "6", rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, "Internal server error.")
			leak := c.rpc("7", "leak", "")
			wantError(t, leak, "7", rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, "Internal server error.")
			if strings.Contains(leak.GetError().GetMessage(), "10.1.2.3") {
				t.Errorf("internal detail reached the client: %q", leak.GetError().GetMessage())
			}

			for i, m := range []*rtapi.Envelope{
				{Message: &rtapi.Envelope_MatchCreate{MatchCreate: &rtapi.MatchCreate{}}},
				{Message: &rtapi.Envelope_ChannelJoin{ChannelJoin: &rtapi.ChannelJoin{Target: "room"}}},
				{Message: &rtapi.Envelope_StatusUpdate{StatusUpdate: &rtapi.StatusUpdate{}}},
				{Message: &rtapi.Envelope_PartyCreate{PartyCreate: &rtapi.PartyCreate{}}},
				{Message: &rtapi.Envelope_MatchmakerAdd{MatchmakerAdd: &rtapi.MatchmakerAdd{}}},
			} {
				m.Cid = fmt.Sprint(10 + i)
				c.send(m)
				wantError(t, c.recv(), m.Cid, rtapi.Error_UNRECOGNIZED_PAYLOAD, "Latchkey does not serve realtime")
			}
			c.send(&rtapi.Envelope{Cid: "20"})
			wantError(t, c.recv(), "20", rtapi.Error_MISSING_PAYLOAD, "Missing message.")

			// The socket is still usable after every refusal.
			if got := c.rpc("21", "echo", "after"); got.GetRpc().GetPayload() != "after" {
				t.Fatalf("after refusals: got %v", got)
			}
		})
	}
}

func TestBadFrames(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Socket.MaxMessageSizeBytes = 1024 })
	p := ts.login("frames-device-1", nil)

	t.Run("json socket", func(t *testing.T) {
		c := ts.dial(p.Token, "")
		for _, bad := range []struct{ frame, cid string }{
			{"garbage", ""}, {"{", ""}, {`{"cid":1}`, ""}, {"null", ""}, {`[]`, ""},
			{`{"cid":"1","bogus":{}}`, "1"}, {`{"cid":"2","rpc":{"id":5}}`, "2"},
			{`{"cid":"` + strings.Repeat("c", 65) + `","bogus":{}}`, ""},
		} {
			c.sendRaw(websocket.TextMessage, []byte(bad.frame))
			wantError(t, c.recv(), bad.cid, rtapi.Error_UNRECOGNIZED_PAYLOAD, "Unrecognized message.")
		}
		// A message this server's protocol version does not know still gets its request answered.
		c.sendRaw(websocket.TextMessage, []byte(`{"cid":"9","party_new_thing":{"x":1}}`))
		wantError(t, c.recv(), "9", rtapi.Error_UNRECOGNIZED_PAYLOAD, "Unrecognized message.")
		c.sendRaw(websocket.BinaryMessage, []byte(`{"cid":"1","ping":{}}`))
		wantError(t, c.recv(), "", rtapi.Error_BAD_INPUT, "format=json")
		if got := c.rpc("2", "echo", "ok"); got.GetRpc().GetPayload() != "ok" {
			t.Fatalf("after bad frames: got %v", got)
		}
	})
	t.Run("protobuf socket", func(t *testing.T) {
		c := ts.dial(p.Token, "format=protobuf")
		c.sendRaw(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff, 0x01})
		wantError(t, c.recv(), "", rtapi.Error_UNRECOGNIZED_PAYLOAD, "Unrecognized message.")
		c.sendRaw(websocket.TextMessage, []byte(`{"cid":"1","ping":{}}`))
		wantError(t, c.recv(), "", rtapi.Error_BAD_INPUT, "format=protobuf")
		if got := c.rpc("2", "echo", "ok"); got.GetRpc().GetPayload() != "ok" {
			t.Fatalf("after bad frames: got %v", got)
		}
	})
	t.Run("oversize", func(t *testing.T) {
		before := ts.srv.Realtime.Len()
		c := ts.dial(p.Token, "")
		c.sendRaw(websocket.TextMessage, []byte(`{"cid":"1","rpc":{"id":"echo","payload":"`+strings.Repeat("x", 2000)+`"}}`))
		if code, _ := c.closed(5 * time.Second); code != websocket.CloseMessageTooBig {
			t.Errorf("close code %d, want %d", code, websocket.CloseMessageTooBig)
		}
		waitFor(t, "the socket to be gone", func() bool { return ts.srv.Realtime.Len() == before })
	})
}

func TestDisconnectAndRevocation(t *testing.T) {
	t.Run("server code disconnect", func(t *testing.T) {
		ts := startServer(t, nil)
		p := ts.login("disc-device-1", nil)
		a, b := ts.dial(p.Token, ""), ts.dial(p.Token, "")
		var ctxVals map[string]string
		json.Unmarshal([]byte(a.rpc("1", "ctx", "").GetRpc().GetPayload()), &ctxVals)
		b.rpc("2", "disconnect", ctxVals["session_id"])
		if code, text := a.closed(2 * time.Second); code != websocket.CloseNormalClosure || text == "" {
			t.Errorf("close %d %q, want 1000 with a reason", code, text)
		}
		if got := b.rpc("3", "echo", "b"); got.GetRpc().GetPayload() != "b" {
			t.Errorf("the other socket: got %v", got)
		}
		// The login session is untouched.
		ts.do("GET", "/v2/account", p.Token, "", nil)
	})
	t.Run("logout closes the session's sockets only", func(t *testing.T) {
		ts := startServer(t, nil)
		p1 := ts.login("logout-device-1", nil)
		p2 := ts.login("logout-device-1", nil)
		a, b := ts.dial(p1.Token, ""), ts.dial(p2.Token, "format=protobuf")
		ts.do("POST", "/v2/session/logout", p1.Token, `{"token":"`+p1.Token+`"}`, nil)
		if code, _ := a.closed(time.Second); code != websocket.CloseNormalClosure {
			t.Errorf("logged-out socket: close %d, want 1000", code)
		}
		if got := b.rpc("1", "echo", "b"); got.GetRpc().GetPayload() != "b" {
			t.Errorf("the other session's socket: got %v", got)
		}
	})
	t.Run("logout of the other sessions closes their sockets, in any generation, and spares the caller's", func(t *testing.T) {
		ts := startServer(t, nil)
		caller := ts.login("cut-device-1", nil)
		old := ts.login("cut-device-1", nil)
		a, b := ts.dial(caller.Token, ""), ts.dial(old.Token, "format=protobuf")
		ts.do("POST", "/v2/session/logout", caller.Token, `{"scope":"others"}`, nil)
		if code, _ := b.closed(time.Second); code != websocket.CloseNormalClosure {
			t.Errorf("other session's socket: close %d, want 1000", code)
		}
		// A session started after that cut is in the next generation; the next cut reaches it too.
		later := ts.login("cut-device-1", nil)
		c := ts.dial(later.Token, "")
		if got := a.rpc("1", "echo", "a"); got.GetRpc().GetPayload() != "a" {
			t.Fatalf("the caller's socket: got %v", got)
		}
		ts.do("POST", "/v2/session/logout", caller.Token, `{"scope":"others"}`, nil)
		if code, _ := c.closed(time.Second); code != websocket.CloseNormalClosure {
			t.Errorf("later session's socket: close %d, want 1000", code)
		}
		if got := a.rpc("2", "echo", "a"); got.GetRpc().GetPayload() != "a" {
			t.Errorf("the caller's socket after the second cut: got %v", got)
		}
	})
	t.Run("close_on_revoke off keeps sockets open on logout, a ban still closes them", func(t *testing.T) {
		ts := startServer(t, func(c *config.Config) { c.Socket.CloseOnRevoke = false })
		p := ts.login("revoke-off-device-1", nil)
		a := ts.dial(p.Token, "")
		b := ts.dial(ts.login("revoke-off-device-1", nil).Token, "")
		ts.do("POST", "/v2/session/logout", p.Token, `{"token":"`+p.Token+`"}`, nil)
		time.Sleep(200 * time.Millisecond)
		if got := a.rpc("1", "echo", "a"); got.GetRpc().GetPayload() != "a" {
			t.Fatalf("after logout with close_on_revoke off: got %v", got)
		}
		b.send(&rtapi.Envelope{Cid: "2", Message: &rtapi.Envelope_Rpc{Rpc: rpcMsg("ban", "")}})
		if code, _ := a.closed(time.Second); code != websocket.CloseNormalClosure {
			t.Errorf("banned user's socket: close %d, want 1000", code)
		}
		b.closed(time.Second)
	})
	t.Run("single_socket", func(t *testing.T) {
		ts := startServer(t, func(c *config.Config) { c.Session.SingleSocket = true })
		p := ts.login("single-device-1", nil)
		old := ts.dial(p.Token, "")
		other := ts.dial(ts.login("single-device-2", nil).Token, "")
		newer := ts.dial(p.Token, "format=protobuf")
		n := old.recv().GetNotifications().GetNotifications()
		if len(n) != 1 || n[0].Subject != "single_socket" || n[0].Code != -7 {
			t.Fatalf("older socket got %v, want the single_socket notification", n)
		}
		if code, _ := old.closed(time.Second); code != websocket.CloseNormalClosure {
			t.Errorf("older socket: close %d, want 1000", code)
		}
		for _, c := range []*client{newer, other} {
			if got := c.rpc("1", "echo", "x"); got.GetRpc().GetPayload() != "x" {
				t.Errorf("socket that should stay: got %v", got)
			}
		}
	})
	t.Run("shutdown sends going away", func(t *testing.T) {
		ts := startServer(t, nil)
		c := ts.dial(ts.login("shutdown-device-1", nil).Token, "")
		go ts.stop()
		if code, _ := c.closed(5 * time.Second); code != websocket.CloseGoingAway {
			t.Errorf("close %d, want 1001", code)
		}
	})
}

func TestLiveness(t *testing.T) {
	const pongWait = 400 * time.Millisecond
	ts := startServer(t, func(c *config.Config) {
		c.Socket.PingPeriodMs, c.Socket.PongWaitMs = 100, int(pongWait/time.Millisecond)
	})
	p := ts.login("liveness-device-1", nil)
	alive := ts.dial(p.Token, "")
	// A client that never reads never answers the server's pings.
	dead, _, err := websocket.DefaultDialer.Dial(ts.wsURL("token="+url.QueryEscape(p.Token)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	go func() { // the live client reads (and so answers pings) until the test closes it
		for {
			if _, _, err := alive.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	waitFor(t, "the silent socket to be closed", func() bool { return ts.srv.Realtime.Len() == 1 })
	// The answering socket outlives several pong waits.
	time.Sleep(3 * pongWait)
	if ts.srv.Realtime.Len() != 1 {
		t.Errorf("the answering socket was closed too")
	}
}

func TestSlowReaderQueueOverflow(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Socket.OutgoingQueueSize = 4; c.Socket.WriteWaitMs = 10000 })
	p := ts.login("slow-device-1", nil)
	// A small receive buffer and a client that does not read: the server's writes block, its queue fills.
	d := websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}
	ws, _, err := d.Dial(ts.wsURL("token="+url.QueryEscape(p.Token)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	msg, _ := protojsonOut.Marshal(&rtapi.Envelope{Message: &rtapi.Envelope_Rpc{Rpc: rpcMsg("echo", strings.Repeat("y", 3000))}})
	// The replies fill the kernel's buffers before the queue (the server's send buffer grows to megabytes
	// on loopback), and the server's reader, which the race detector and a busy machine can hold up for
	// seconds, lags behind the writes: so the client writes until the socket is closed, bounded in count
	// (60 MB of requests) and time, with a write deadline longer than such a pause.
	stop := time.Now().Add(30 * time.Second)
	for i := 0; i < 20000 && ts.srv.Realtime.Len() > 0 && time.Now().Before(stop); i++ {
		ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			break
		}
	}
	waitFor(t, "the slow socket to be closed", func() bool { return ts.srv.Realtime.Len() == 0 })
	// The server goes on serving others.
	c := ts.dial(p.Token, "")
	if got := c.rpc("1", "echo", "fine"); got.GetRpc().GetPayload() != "fine" {
		t.Errorf("after an overflow: got %v", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHooksAndSessionEvents(t *testing.T) {
	type ev struct{ name, user, socket, reason string }
	events := make(chan ev, 16)
	var afterCalls atomic.Int32
	module := func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		echo := func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, p string) (string, error) {
			return p, nil
		}
		for _, id := range []string{"echo", "blocked", "rewrite", "hookfail"} {
			if err := init.RegisterRpc(id, echo); err != nil {
				return err
			}
		}
		if err := init.RegisterBeforeRt("RPC", func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *rtapi.Envelope) (*rtapi.Envelope, error) {
			switch in.GetRpc().GetId() {
			case "blocked":
				return nil, nil
			case "hookfail":
				return nil, runtime.NewError("not today", 7)
			case "rewrite":
				in.GetRpc().Payload = "rewritten:" + in.GetRpc().GetPayload()
			}
			return in, nil
		}); err != nil {
			return err
		}
		if err := init.RegisterAfterRt("rpc", func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out, in *rtapi.Envelope) error {
			if out.GetRpc() != nil {
				afterCalls.Add(1)
			}
			return nil
		}); err != nil {
			return err
		}
		record := func(ctx context.Context, _ runtime.Logger, e *api.Event) {
			user, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
			socket, _ := ctx.Value(runtime.RUNTIME_CTX_SESSION_ID).(string)
			events <- ev{e.Name, user, socket, e.Properties["reason"]}
		}
		if err := init.RegisterEventSessionStart(record); err != nil {
			return err
		}
		return init.RegisterEventSessionEnd(record)
	}
	ts := startServerWith(t, nil, module)
	p := ts.login("hooks-device-1", nil)
	c := ts.dial(p.Token, "")

	start := <-events
	if start.name != "session_start" || start.user == "" || len(start.socket) != 36 {
		t.Fatalf("start event = %+v", start)
	}
	if got := c.rpc("1", "rewrite", "x"); got.GetRpc().GetPayload() != "rewritten:x" {
		t.Errorf("rewrite: got %v", got)
	}
	wantError(t, c.rpc("2", "blocked", ""), "2", rtapi.Error_UNRECOGNIZED_PAYLOAD, "Requested resource was not found.")
	wantError(t, c.rpc("3", "hookfail", ""), "3", rtapi.Error_RUNTIME_FUNCTION_EXCEPTION, "not today")
	if got := c.rpc("4", "echo", "y"); got.GetRpc().GetPayload() != "y" {
		t.Errorf("echo: got %v", got)
	}
	waitFor(t, "two after-hook calls", func() bool { return afterCalls.Load() == 2 })

	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	select {
	case end := <-events:
		if end.name != "session_end" || end.socket != start.socket || end.reason != "client closed" {
			t.Errorf("end event = %+v, want session_end of %s with reason client closed", end, start.socket)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no session_end event")
	}
}

func TestNodeName(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Name = "eu-west-1" })
	id := ts.srv.Realtime.Node()
	if !strings.HasPrefix(id, "eu-west-1-") || id == "eu-west-1-" {
		t.Fatalf("node id %q, want the name and an instance suffix", id)
	}
	for _, tt := range []struct{ in, want string }{
		{id, "eu-west-1"},
		{"latchkey-0a1b2c3d", "latchkey"},
		{"plain", "plain"},
		{"name-with-dash", "name-with-dash"},
	} {
		if got := realtime.NodeName(tt.in); got != tt.want {
			t.Errorf("NodeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
