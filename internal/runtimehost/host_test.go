package runtimehost_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// testModule registers what the tests below exercise.
func testModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
	if db == nil {
		return errors.New("no database handle")
	}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(init.RegisterRpc("Echo_Context", func(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
		out := map[string]any{"payload": payload}
		for _, k := range []string{runtime.RUNTIME_CTX_ENV, runtime.RUNTIME_CTX_MODE, runtime.RUNTIME_CTX_NODE, runtime.RUNTIME_CTX_USER_ID,
			runtime.RUNTIME_CTX_USERNAME, runtime.RUNTIME_CTX_VARS, runtime.RUNTIME_CTX_USER_SESSION_EXP, runtime.RUNTIME_CTX_SESSION_ID,
			runtime.RUNTIME_CTX_QUERY_PARAMS, runtime.RUNTIME_CTX_CLIENT_IP} {
			out[k] = ctx.Value(k)
		}
		b, _ := json.Marshal(out)
		// Changing a context map changes nothing for the server or the next call.
		if vars, ok := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string); ok {
			vars["injected"] = "yes"
		}
		return string(b), nil
	}))
	must(init.RegisterRpc("panic", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		panic("boom: secret detail")
	}))
	must(init.RegisterRpc("slow", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, _ string) (string, error) {
		time.Sleep(2 * time.Second) // ignores its context, as careless code does
		return "late", nil
	}))
	must(init.RegisterRpc("fail", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		return "", runtime.NewError("custom failure", 9)
	}))
	must(init.RegisterRpc("plain_error", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
		return "", errors.New("pq: password=hunter2 connection failed")
	}))
	must(init.RegisterRpc("rename_raw", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
		uid, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
		return "", nk.AccountUpdateId(ctx, uid, payload, nil, "", "", "", "", "") // errors passed on unchanged
	}))
	must(init.RegisterBeforeAuthenticateCustom(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AuthenticateCustomRequest) (*api.AuthenticateCustomRequest, error) {
		switch in.Account.ID {
		case "refused-custom-id":
			return nil, nil
		case "forbidden-custom-id":
			return nil, runtime.NewError("not today", 7)
		case "hook-panics-custom-id":
			var m map[string]string
			//lint:ignore SA5000 the hook must fail with a real runtime panic.
			m["x"] = "nil map write" // a real bug, not a deliberate panic(...)
		case "hook-hangs-custom-id":
			time.Sleep(2 * time.Second)
		}
		if in.Account.Vars == nil {
			in.Account.Vars = map[string]string{}
		}
		in.Account.Vars["from_hook"] = "1"
		return in, nil
	}))
	must(init.RegisterAfterAuthenticateCustom(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out *api.Session, in *api.AuthenticateCustomRequest) error {
		if ctx.Value(runtime.RUNTIME_CTX_USER_ID) == nil || out.Token == "" {
			panic("after-hook without the new session's user")
		}
		return errors.New("after-hook errors are logged, not sent")
	}))
	must(init.RegisterBeforeGetAccount(func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule) error {
		if vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string); vars["from_hook"] != "1" {
			return runtime.NewError("vars missing", 3)
		}
		return nil
	}))
	return nil
}

type env struct {
	t   *testing.T
	url string
	srv *server.Server
}

// newEnv starts a server with testModule and mods on a temporary SQLite database.
func newEnv(t *testing.T, mods ...runtime.InitModule) *env {
	cfg := servertest.Config(t)
	cfg.Name = "node-test"
	cfg.Runtime.Env = []string{"region=eu"}
	cfg.Runtime.CallTimeoutMs = 300
	srv, url := servertest.Start(t, cfg, server.Options{Modules: append([]runtime.InitModule{testModule}, mods...)})
	return &env{t: t, url: url, srv: srv}
}

func (e *env) do(method, path, auth, body string, header ...string) servertest.Answer {
	e.t.Helper()
	return servertest.Do(e.t, e.url, method, path, auth, body, header...)
}

func (e *env) login(id string) string {
	e.t.Helper()
	return servertest.Authenticate(e.t, e.url, "custom", id, map[string]string{"client": "x"})
}

func TestHooks(t *testing.T) {
	e := newEnv(t)
	tok := e.login("hooked-custom-id")
	// The before-hook's var is in the token, next to the client's; the after-hook's error is not sent.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if !strings.Contains(string(payload), `"from_hook":"1"`) || !strings.Contains(string(payload), `"client":"x"`) {
		t.Errorf("token payload %s", payload)
	}
	// The before-get-account hook reads the caller's vars.
	if a := e.do("GET", "/v2/account", "Bearer "+tok, ""); a.Status != 200 {
		t.Errorf("get account: %d %s", a.Status, a.Body)
	}
	// nil from a before-hook refuses the call; a runtime error sets code and message.
	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"refused-custom-id"}`).WantError(t, 404, 5, "Requested resource was not found.")
	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"forbidden-custom-id"}`).WantError(t, 403, 7, "not today")
	// A hook that panics or hangs fails its call only.
	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"hook-panics-custom-id"}`).WantError(t, 500, 13, "Internal server error.")
	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"hook-hangs-custom-id"}`).WantError(t, 504, 4, "Request timed out.")
	if a := e.do("GET", "/v2/account", "Bearer "+tok, ""); a.Status != 200 {
		t.Errorf("server not serving after a hook panic and overrun: %d %s", a.Status, a.Body)
	}
}

func TestRPCContextAndWire(t *testing.T) {
	e := newEnv(t)
	tok := e.login("rpc-custom-id")

	// Bearer, default wrapping: the body is a JSON string, the answer {"payload": ...}.
	a := e.do("POST", "/v2/rpc/echo_context?x=1", "Bearer "+tok, `"hello"`)
	if a.Status != 200 || a.ContentType != "application/json" {
		t.Fatalf("rpc: %d %s %s", a.Status, a.ContentType, a.Body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(a.JSON["payload"].(string)), &got); err != nil {
		t.Fatal(err)
	}
	if got["payload"] != "hello" || got["execution_mode"] != "rpc" || got["node"] != "node-test" || got["client_ip"] != "127.0.0.1" {
		t.Errorf("context: %v", got)
	}
	if env, _ := got["env"].(map[string]any); env["region"] != "eu" {
		t.Errorf("env: %v", got["env"])
	}
	if vars, _ := got["vars"].(map[string]any); vars["from_hook"] != "1" || got["user_id"] == nil || got["session_id"] == nil || got["user_session_exp"] == nil {
		t.Errorf("caller: %v", got)
	}
	// The map the function changed was a copy.
	again := e.do("POST", "/v2/rpc/ECHO_CONTEXT", "Bearer "+tok, `"x"`)
	if strings.Contains(again.JSON["payload"].(string), "injected") {
		t.Error("a context map change leaked into the next call")
	}

	// HTTP key, unwrap: raw body in and out, content type echoed, no user, http_key not passed on.
	a = e.do("POST", "/v2/rpc/echo_context?http_key=defaulthttpkey&unwrap", "", `{"raw":true}`, "Content-Type", "application/json")
	if a.Status != 200 || a.ContentType != "application/json" || !strings.Contains(a.Body, `"payload":"{\"raw\":true}"`) || strings.Contains(a.Body, "defaulthttpkey") || !strings.Contains(a.Body, `"user_id":null`) {
		t.Errorf("unwrap: %d %s %s", a.Status, a.ContentType, a.Body)
	}
	// GET: empty payload; HTTP key as Basic user.
	if a = e.do("GET", "/v2/rpc/echo_context", servertest.Basic("defaulthttpkey"), ""); a.Status != 200 {
		t.Errorf("GET with Basic http key: %d %s", a.Status, a.Body)
	}

	// Credentials and ids.
	e.do("GET", "/v2/rpc/echo_context", "", "").WantError(t, 401, 16, "Auth token or HTTP key required")
	e.do("GET", "/v2/rpc/echo_context?http_key=wrong", "", "").WantError(t, 401, 16, "HTTP key invalid")
	e.do("GET", "/v2/rpc/echo_context", servertest.Basic("defaultkey"), "").WantError(t, 401, 16, "HTTP key invalid") // the server key is not the HTTP key
	e.do("GET", "/v2/rpc/echo_context", "Bearer nope", "").WantError(t, 401, 16, "Auth token invalid")
	e.do("GET", "/v2/rpc/nope", "Bearer "+tok, "").WantError(t, 404, 5, "RPC function not found")
	e.do("POST", "/v2/rpc/echo_context", "Bearer "+tok, `{"not":"a string"}`).WantError(t, 400, 3, "")
	e.do("PUT", "/v2/rpc/echo_context", "Bearer "+tok, "").WantError(t, 501, 12, "")
	// A runtime error keeps its code and message; any other error is internal, with no detail.
	a = e.do("GET", "/v2/rpc/fail", "Bearer "+tok, "")
	a.WantError(t, 400, 9, "custom failure")
	if _, ok := a.JSON["error"]; !ok {
		t.Errorf("RPC error body lacks Nakama's error key: %s", a.Body)
	}
	// A server function's domain error passed on unchanged is answered as the REST API answers it.
	e.login("other-custom-id")
	e.do("POST", "/v2/rpc/rename_raw?unwrap", "Bearer "+tok, "uothercustomid").WantError(t, 409, 6, "Username is already in use.")
	e.do("POST", "/v2/rpc/rename_raw?unwrap", "Bearer "+tok, "has space").WantError(t, 400, 3, "")
	a = e.do("GET", "/v2/rpc/plain_error", "Bearer "+tok, "")
	a.WantError(t, 500, 13, "Internal server error.")
	if strings.Contains(a.Body, "hunter2") {
		t.Error("internal detail reached the client")
	}
}

// TestPanicAndTimeout: a panicking or overrunning RPC answers a generic error and the server keeps serving.
func TestPanicAndTimeout(t *testing.T) {
	e := newEnv(t)
	tok := e.login("panic-custom-id")
	a := e.do("GET", "/v2/rpc/panic", "Bearer "+tok, "")
	a.WantError(t, 500, 13, "Internal server error.")
	if strings.Contains(a.Body, "boom") {
		t.Errorf("panic detail reached the client: %s", a.Body)
	}
	start := time.Now()
	e.do("GET", "/v2/rpc/slow", "Bearer "+tok, "").WantError(t, 504, 4, "Request timed out.")
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the overrun was answered after %v, want about the 300 ms deadline", d)
	}
	for range 3 {
		if a := e.do("POST", "/v2/rpc/echo_context", "Bearer "+tok, `"still here"`); a.Status != 200 {
			t.Fatalf("server stopped serving after a panic and an overrun: %d %s", a.Status, a.Body)
		}
	}
}

// BenchmarkRPC measures an authenticated RPC through the real handler (token check, context building,
// the deadline goroutine), against GET /v2/account on the same server for scale.
func BenchmarkRPC(b *testing.B) {
	cfg := servertest.Config(b)
	cfg.Session.TokenExpirySec = 3600
	srv, err := server.New(context.Background(), cfg, server.Options{Modules: []runtime.InitModule{func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return init.RegisterRpc("noop", func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
			return "{}", nil
		})
	}}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tok := servertest.Token(b, srv, "bench-device-0001")
	for _, c := range []struct{ name, method, path string }{
		{"rpc", "POST", "/v2/rpc/noop?unwrap"},
		{"getaccount", "GET", "/v2/account"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if w := servertest.Serve(srv.API, c.method, c.path, "Bearer "+tok, "{}"); w.Code != 200 {
					b.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
				}
			}
		})
	}
}
