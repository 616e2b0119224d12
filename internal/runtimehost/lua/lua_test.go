package lua_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	nkapi "github.com/heroiclabs/nakama-common/api"
	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/runtimehost/lua"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// writeModules writes Lua sources, by path relative to the module directory, and returns the directory.
func writeModules(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testConfig(t testing.TB, timeoutMs int) config.Config {
	cfg := servertest.Config(t)
	cfg.Name = "node-lua"
	cfg.Runtime.Env = []string{"region=eu"}
	cfg.Runtime.CallTimeoutMs = timeoutMs
	return cfg
}

// modules are the options of a server running the Lua modules in dir, with a pool of up to maxCount states.
func modules(dir string, maxCount int, log *slog.Logger) server.Options {
	return server.Options{
		Logger:  log,
		Modules: []runtime.InitModule{lua.Module(lua.Config{Path: dir, MinCount: 1, MaxCount: maxCount})},
	}
}

// newServer starts a server running the Lua modules in dir, with a pool of up to maxCount states and a call
// deadline of timeoutMs, or returns the error that stopped it.
func newServer(t testing.TB, dir string, maxCount, timeoutMs int, log *slog.Logger) (*server.Server, error) {
	t.Helper()
	srv, err := server.New(context.Background(), testConfig(t, timeoutMs), modules(dir, maxCount, log))
	if err == nil {
		t.Cleanup(func() { srv.Close() })
	}
	return srv, err
}

type env struct {
	t   *testing.T
	url string
	srv *server.Server
}

func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	return newEnvTimeout(t, files, 5000)
}

// newEnvTimeout is newEnv with the given call deadline, for the tests about deadlines.
func newEnvTimeout(t *testing.T, files map[string]string, timeoutMs int) *env {
	t.Helper()
	srv, url := servertest.Start(t, testConfig(t, timeoutMs), modules(writeModules(t, files), 4, nil))
	return &env{t: t, url: url, srv: srv}
}

func (e *env) do(method, path, auth, body string) servertest.Answer {
	e.t.Helper()
	return servertest.Do(e.t, e.url, method, path, auth, body)
}

// payload is the answer of a wrapped RPC: the "payload" string.
func payload(t *testing.T, a servertest.Answer) string {
	t.Helper()
	p, ok := a.JSON["payload"].(string)
	if a.Status != 200 || !ok {
		t.Fatalf("rpc: %d %s", a.Status, a.Body)
	}
	return p
}

var serverKey = servertest.Basic("defaultkey")

// authenticate signs in with a device id and returns the session token.
func (e *env) authenticate(deviceID string) string {
	e.t.Helper()
	return servertest.Authenticate(e.t, e.url, "device", deviceID, map[string]string{"client": "x"})
}

const echoModule = `
local nk = require("nakama")

local function echo(context, payload)
  local function first(t, k) return t[k] and t[k][1] end
  return nk.json_encode({
    payload = payload, mode = context.execution_mode, node = context.node, region = context.env.region,
    user_id = context.user_id, username = context.username, vars = context.vars, session_id = context.session_id,
    exp = context.user_session_exp, client_ip = context.client_ip, x = first(context.query_params, "x"),
    agent = first(context.headers, "User-Agent"),
  })
end
nk.register_rpc(echo, "Echo")
`

func TestRPCContext(t *testing.T) {
	e := newEnv(t, map[string]string{"echo.lua": echoModule})
	tok := e.authenticate("context-device-01")
	var got map[string]any
	if err := json.Unmarshal([]byte(payload(t, e.do("POST", "/v2/rpc/echo?x=1", "Bearer "+tok, `"hello"`))), &got); err != nil {
		t.Fatal(err)
	}
	c := servertest.Claims(t, tok)
	for k, want := range map[string]any{
		"payload": "hello", "mode": "rpc", "node": "node-lua", "region": "eu", "user_id": c["uid"],
		"username": "ucontextdevice01", "session_id": c["tid"], "exp": c["exp"], "client_ip": "127.0.0.1", "x": "1",
		"agent": "Go-http-client/1.1",
	} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %v", k, got[k], want)
		}
	}
	if vars, _ := got["vars"].(map[string]any); vars["client"] != "x" {
		t.Errorf("vars: %v", got["vars"])
	}
	// With the HTTP key there is no caller.
	a := e.do("POST", "/v2/rpc/echo?http_key=defaulthttpkey&unwrap", "", "raw")
	if a.Status != 200 || a.JSON["payload"] != "raw" || a.JSON["user_id"] != nil {
		t.Errorf("unwrap: %d %s", a.Status, a.Body)
	}
}

const hookModule = `
local nk = require("nakama")

nk.register_req_before(function(context, req)
  local id = req.account.id
  if id == "refused-device-01" then return nil end
  if id == "forbidden-device-01" then error({"not today", 7}) end
  if id == "broken-device-01" then error("secret detail") end
  req.account.vars = req.account.vars or {}
  req.account.vars.from_lua = "1"
  req.account.vars.level = 5
  return req
end, "AuthenticateDevice")

nk.register_req_after(function(context, out, req)
  nk.account_update_id(context.user_id, {seen = req.account.id, had_token = out.token ~= nil})
end, "authenticatedevice")

nk.register_req_before(function(context, none)
  if context.vars.from_lua ~= "1" then error({"vars missing", 3}) end
end, "GetAccount")

nk.register_req_after(function(context, out, none)
  nk.account_update_id(context.user_id, nil, nil, out.user.username .. " was here")
end, "GetAccount")

nk.register_req_before(function(context, req)
  req.id = "swapped-" .. req.id
  return req
end, "LinkDevice")
`

func TestRequestHooks(t *testing.T) {
	e := newEnv(t, map[string]string{"hooks.lua": hookModule})
	tok := e.authenticate("hooked-device-01")
	vrs, _ := servertest.Claims(t, tok)["vrs"].(map[string]any)
	if vrs["from_lua"] != "1" || vrs["level"] != "5" || vrs["client"] != "x" {
		t.Errorf("token vars %v", vrs)
	}
	// The after-hook saw the session and the request; the before-get-account hook saw the vars.
	a := e.do("GET", "/v2/account", "Bearer "+tok, "")
	user, _ := a.JSON["user"].(map[string]any)
	if a.Status != 200 || user["metadata"] != `{"had_token":true,"seen":"hooked-device-01"}` {
		t.Errorf("account: %d %s", a.Status, a.Body)
	}

	// A before-hook changes a link request; an after-hook sees the account answered.
	if a := e.do("POST", "/v2/account/link/device", "Bearer "+tok, `{"id":"linked-device-01"}`); a.Status != 200 {
		t.Fatalf("link: %d %s", a.Status, a.Body)
	}
	a = e.do("GET", "/v2/account", "Bearer "+tok, "")
	user, _ = a.JSON["user"].(map[string]any)
	if devices, _ := a.JSON["devices"].([]any); len(devices) != 2 || !strings.Contains(a.Body, `"swapped-linked-device-01"`) ||
		user["display_name"] != "uhookeddevice01 was here" {
		t.Errorf("account after link: %s", a.Body)
	}

	auth := func(id string) servertest.Answer {
		return e.do("POST", "/v2/account/authenticate/device", serverKey, `{"id":"`+id+`"}`)
	}
	auth("refused-device-01").WantError(t, 404, 5, "Requested resource was not found.")
	auth("forbidden-device-01").WantError(t, 403, 7, "not today")
	a = auth("broken-device-01")
	a.WantError(t, 500, 13, "Internal server error.")
	if strings.Contains(a.Body, "secret") || strings.Contains(a.Body, "hooks.lua") {
		t.Errorf("error detail reached the client: %s", a.Body)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, map[string]string{"errors.lua": `
local nk = require("nakama")
nk.register_rpc(function() error({"no such thing", 5}) end, "coded")
nk.register_rpc(function() error({"odd code", 99}) end, "odd")
nk.register_rpc(function() error("secret detail") end, "plain")
nk.register_rpc(function() return {} end, "table")
nk.register_rpc(function(context, payload)
  nk.account_update_id(context.user_id, nil, payload) -- a server function's error, passed on
end, "rename")
nk.register_rpc(function()
  local ok, err = pcall(nk.account_get_id, "not-a-uuid")
  return tostring(ok) .. " " .. err
end, "caught")
`})
	tok := e.authenticate("errors-device-01")
	e.authenticate("other-device-01")
	bearer := "Bearer " + tok
	e.do("GET", "/v2/rpc/coded", bearer, "").WantError(t, 404, 5, "no such thing")
	e.do("GET", "/v2/rpc/odd", bearer, "").WantError(t, 500, 13, "odd code")
	a := e.do("GET", "/v2/rpc/plain", bearer, "")
	a.WantError(t, 500, 13, "Internal server error.")
	if strings.Contains(a.Body, "secret") {
		t.Errorf("error detail reached the client: %s", a.Body)
	}
	e.do("GET", "/v2/rpc/table", bearer, "").WantError(t, 500, 13, "Internal server error.")
	e.do("POST", "/v2/rpc/rename?unwrap", bearer, "uotherdevice01").WantError(t, 409, 6, "Username is already in use.")
	if got := payload(t, e.do("GET", "/v2/rpc/caught", bearer, "")); !strings.HasPrefix(got, "false ") || !strings.Contains(got, runtime.ErrUserIDInvalid.Error()) {
		t.Errorf("caught: %q", got)
	}
}

// TestDeadline: a runaway loop stops at the call deadline, its state is replaced, and the server goes on.
func TestDeadline(t *testing.T) {
	e := newEnvTimeout(t, map[string]string{"loop.lua": echoModule + `
nk.register_rpc(function() while true do end end, "spin")
nk.register_rpc(function() while true do pcall(function() while true do end end) end end, "spin_pcall")
`}, 300)
	tok := e.authenticate("deadline-device-01")
	for _, id := range []string{"spin", "spin_pcall", "spin", "spin", "spin", "spin"} { // more overruns than states
		start := time.Now()
		e.do("GET", "/v2/rpc/"+id, "Bearer "+tok, "").WantError(t, 504, 4, "Request timed out.")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s answered after %v, want about the 300 ms deadline", id, d)
		}
	}
	for range 3 {
		if got := payload(t, e.do("POST", "/v2/rpc/echo", "Bearer "+tok, `"still here"`)); !strings.Contains(got, "still here") {
			t.Fatalf("echo after overruns: %s", got)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"syntax", map[string]string{"ok.lua": "local x = 1\n", "sub/bad.lua": "local nk = require(\"nakama\")\nlocal x = = 1\n"},
			[]string{"sub/bad.lua:2"}},
		{"runtime", map[string]string{"boom.lua": "local nk = require(\"nakama\")\n\nerror(\"boom at load\")\n"},
			[]string{"boom.lua:3:", "boom at load"}},
		{"unknown hook", map[string]string{"hook.lua": "local nk = require(\"nakama\")\nnk.register_req_before(function() end, \"WriteStorageObjects\")\n"},
			[]string{"hook.lua:2:", "WriteStorageObjects"}},
		{"missing module", map[string]string{"main.lua": "local m = require(\"nowhere\")\n"},
			[]string{"main.lua:1:", "nowhere"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := newServer(t, writeModules(t, c.files), 2, 300, nil)
			if err == nil {
				t.Fatal("the server started")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNoModules(t *testing.T) {
	for name, dir := range map[string]string{
		"empty":   writeModules(t, map[string]string{"notes.txt": "not Lua"}),
		"missing": filepath.Join(t.TempDir(), "none"),
		"unset":   "",
	} {
		srv, err := newServer(t, dir, 2, 300, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !srv.Runtime.Empty() {
			t.Errorf("%s: something was registered", name)
		}
	}
}

// TestRequire: modules load by name, once per state, whichever asks first.
func TestRequire(t *testing.T) {
	e := newEnv(t, map[string]string{
		// "a_main" sorts first, so it loads "lib.util" before the loader's turn for it.
		"a_main.lua": `
local nk = require("nakama")
local util = require("lib.util")
nk.register_rpc(function(context, payload) return util.shout(payload) .. " " .. util_loads end, "shout")
`,
		"lib/util.lua": `
util_loads = (util_loads or 0) + 1
local M = {}
function M.shout(s) return string.upper(s) .. "!" end
return M
`,
	})
	tok := e.authenticate("require-device-01")
	if got := payload(t, e.do("POST", "/v2/rpc/shout", "Bearer "+tok, `"hi"`)); got != "HI! 1" {
		t.Errorf("got %q, want %q", got, "HI! 1")
	}
}

func TestTokenGenerate(t *testing.T) {
	e := newEnv(t, map[string]string{"mint.lua": `
local nk = require("nakama")
nk.register_rpc(function(context, payload)
  local user_id, username, created = nk.authenticate_device("minted-device-01", nil, true)
  local token, exp = nk.authenticate_token_generate(user_id, "chosen_name", 0, {tier = "gold"})
  return nk.json_encode({token = token, exp = exp, created = created, user_id = user_id})
end, "mint")
`})
	var got struct {
		Token   string
		Exp     int64
		Created bool
	}
	a := e.do("POST", "/v2/rpc/mint?http_key=defaulthttpkey&unwrap", "", "")
	if err := json.Unmarshal([]byte(a.Body), &got); err != nil || a.Status != 200 {
		t.Fatalf("mint: %d %s", a.Status, a.Body)
	}
	c := servertest.Claims(t, got.Token)
	vrs, _ := c["vrs"].(map[string]any)
	if c["usn"] != "chosen_name" || vrs["tier"] != "gold" || int64(c["exp"].(float64)) != got.Exp || !got.Created {
		t.Errorf("claims %v, answer %+v", c, got)
	}
	if a := e.do("GET", "/v2/account", "Bearer "+got.Token, ""); a.Status != 200 {
		t.Errorf("the minted token does not work: %d %s", a.Status, a.Body)
	}
}

// countHandler counts log records with a given message.
type countHandler struct {
	slog.Handler
	msg string
	n   *atomic.Int32
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestConcurrentCalls: 50 calls at once share at most MaxCount states, and all succeed.
func TestConcurrentCalls(t *testing.T) {
	var states atomic.Int32
	dir := writeModules(t, map[string]string{"work.lua": `
local nk = require("nakama")
nk.logger_info("state loaded")
nk.register_rpc(function(context, payload)
  local sum = 0
  for i = 1, 2000 do sum = sum + i end
  return payload .. ":" .. sum
end, "work")
`})
	_, url := servertest.Start(t, testConfig(t, 5000), modules(dir, 4, slog.New(countHandler{msg: "state loaded", n: &states})))
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := range 50 {
		wg.Go(func() {
			want := strings.Repeat("x", i+1)
			res, err := http.Post(url+"/v2/rpc/work?http_key=defaulthttpkey&unwrap", "text/plain", strings.NewReader(want))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(b) != want+":2001000" {
				errs <- res.Status + " " + string(b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := states.Load(); n < 1 || n > 4 {
		t.Errorf("%d states loaded, want 1 to 4", n)
	}
}

func TestSandbox(t *testing.T) {
	e := newEnv(t, map[string]string{"sandbox.lua": `
local nk = require("nakama")
nk.register_rpc(function()
  local missing = pcall(require, "os_file_module")
  return nk.json_encode({
    io = type(io), debug = type(debug), coroutine = type(coroutine), execute = type(os.execute),
    getenv = type(os.getenv), loadfile = type(loadfile), dofile = type(dofile), found = missing,
    bits = bit32.band(0xff, 0x0f) + bit32.lshift(1, 8), year = os.date("%Y", 86400 * 366),
    sha = nk.sha256_hash("abc"):sub(1, 8), b64 = nk.base64url_decode(nk.base64url_encode("hi?>", false)) == "hi?>" and nk.base64_decode(nk.base64_encode("hi?>")) == "hi?>",
    hex = nk.base16_encode(nk.hmac_sha256_hash("data", "key")):sub(1, 8), uuid = #nk.uuid_v4(),
    decoded = nk.json_decode('{"a":[1,2]}').a[2], now = nk.time() > 1600000000000,
  })
end, "probe")
`})
	tok := e.authenticate("sandbox-device-01")
	var got map[string]any
	if err := json.Unmarshal([]byte(payload(t, e.do("GET", "/v2/rpc/probe", "Bearer "+tok, ""))), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"bits": 271.0, "year": "1971", "sha": "ba7816bf", "hex": "5031fe3d", "uuid": 36.0, "decoded": 2.0, "now": true,
		"found": false, "b64": true,
	} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %v", k, got[k], want)
		}
	}
	for _, k := range []string{"io", "debug", "coroutine", "execute", "getenv", "loadfile", "dofile"} {
		if got[k] != "nil" {
			t.Errorf("%s is %v, want nil", k, got[k])
		}
	}
}

// TestRealtimeHooks drives the realtime hooks through the host, as the socket does.
func TestRealtimeHooks(t *testing.T) {
	e := newEnv(t, map[string]string{"rt.lua": `
local nk = require("nakama")
nk.register_rt_before(function(context, envelope)
  if envelope.rpc.id == "refused" then return nil end
  envelope.rpc.payload = context.execution_mode .. ":" .. envelope.rpc.payload
  return envelope
end, "Rpc")
`})
	in := &rtapi.Envelope{Cid: "7", Message: &rtapi.Envelope_Rpc{Rpc: &nkapi.Rpc{Id: "echo", Payload: "p"}}}
	out, err := e.srv.Runtime.BeforeRt(context.Background(), "rpc", in)
	if err != nil || out.GetCid() != "7" || out.GetRpc().GetPayload() != "before:p" {
		t.Errorf("got %v, %v", out, err)
	}
	in.GetRpc().Id = "refused"
	if out, err := e.srv.Runtime.BeforeRt(context.Background(), "rpc", in); out != nil || err != nil {
		t.Errorf("refused: got %v, %v", out, err)
	}
}

// BenchmarkRPC measures an authenticated echo RPC in Lua through the real handler, for comparison with
// the Go and JavaScript runtimes' benchmarks.
func BenchmarkRPC(b *testing.B) {
	dir := writeModules(b, map[string]string{"echo.lua": `
local nk = require("nakama")
nk.register_rpc(function(context, payload) return payload end, "echo")
`})
	srv, err := newServer(b, dir, 4, 5000, nil)
	if err != nil {
		b.Fatal(err)
	}
	tok := servertest.Token(b, srv, "bench-device-0001")
	b.ReportAllocs()
	for b.Loop() {
		w := servertest.Serve(srv.API, "POST", "/v2/rpc/echo?unwrap", "Bearer "+tok, "{}")
		if w.Code != 200 || w.Body.String() != "{}" {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// TestServerFunctions checks the shapes server functions return and that they reach the server.
func TestServerFunctions(t *testing.T) {
	e := newEnv(t, map[string]string{"probe.lua": `
local nk = require("nakama")
nk.register_rpc(function(context, payload)
  local uid = context.user_id
  nk.account_update_id(uid, {level = 3}, nil, "Display")
  nk.link_device(uid, "linked-device-0001")
  local a = nk.account_get_id(uid)
  nk.unlink_device(uid, "linked-device-0001")
  local users = nk.users_get_username({a.username, "nobody-by-that-name"})
  local by_id = nk.users_get_id({uid})
  local s = nk.session_validate(payload)
  return nk.json_encode({
    user_id = a.user_id, nested = a.user.user_id, display = a.display_name, level = a.metadata.level,
    wallet = type(a.wallet), devices = #a.devices, device = a.devices[1].id, created = a.create_time > 0,
    users = #users, by_id = by_id[1].username, stream = #nk.stream_user_list({mode = 0, subject = uid}),
    session_user = s.user_id, session_vars = s.vars.client, sessions = #nk.sessions_list(uid),
    accounts = #nk.accounts_get_id({uid}), devices_after = #nk.account_get_id(uid).devices,
  })
end, "probe")
nk.register_rpc(function(context)
  nk.session_logout(context.user_id)
end, "logout")
`})
	tok := e.authenticate("probe-device-0001")
	var got map[string]any
	if err := json.Unmarshal([]byte(payload(t, e.do("POST", "/v2/rpc/probe", "Bearer "+tok, strconvQuote(tok)))), &got); err != nil {
		t.Fatal(err)
	}
	uid := servertest.Claims(t, tok)["uid"]
	for k, want := range map[string]any{
		"user_id": uid, "nested": uid, "display": "Display", "level": 3.0, "wallet": "table", "devices": 2.0,
		"device": "linked-device-0001", "created": true, "users": 1.0, "by_id": "uprobedevice0001", "stream": 0.0,
		"session_user": uid, "session_vars": "x", "sessions": 1.0, "accounts": 1.0, "devices_after": 1.0,
	} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %v", k, got[k], want)
		}
	}
	if a := e.do("POST", "/v2/rpc/logout", "Bearer "+tok, `""`); a.Status != 200 {
		t.Fatalf("logout: %d %s", a.Status, a.Body)
	}
	if a := e.do("GET", "/v2/account", "Bearer "+tok, ""); a.Status != 401 {
		t.Errorf("after session_logout: %d %s", a.Status, a.Body)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
