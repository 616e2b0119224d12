package js_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/runtimehost/js"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// testModule is a Nakama JavaScript module, written as Nakama's documentation writes them: global named
// functions registered in InitModule.
const testModule = `
var vmId = String(Math.random()); // tells the pool's VMs apart
var lastAfter = null;             // what the after-hook saw, in this VM
var lastEvent = null;             // the last session event, in this VM

function rpcEcho(ctx, logger, nk, payload) { return payload; }

function rpcCtx(ctx, logger, nk, payload) {
	logger.withField("test", "ctx").info("rpc %s %d", ctx.executionMode, 42);
	return JSON.stringify({payload: payload, ctx: ctx, fields: logger.withFields({a: "b"}).getFields()});
}

function rpcVM(ctx, logger, nk, payload) {
	var x = 0;
	for (var i = 0; i < 2000; i++) { x += i; }
	return vmId;
}

function rpcCustomError(ctx, logger, nk, payload) { throw {message: "not allowed here", code: 7}; }
function rpcError(ctx, logger, nk, payload) { throw new Error("secret detail: password=hunter2"); }
function rpcLoop(ctx, logger, nk, payload) { for (;;) {} }
function rpcNumber(ctx, logger, nk, payload) { return 42; }

function rpcToken(ctx, logger, nk, payload) {
	var p = JSON.parse(payload);
	return JSON.stringify(nk.authenticateTokenGenerate(ctx.userId, p.username, p.exp, {a: "b"}));
}

function rpcAccount(ctx, logger, nk, payload) { return JSON.stringify(nk.accountGetId(ctx.userId)); }
function rpcRename(ctx, logger, nk, payload) { nk.accountUpdateId(ctx.userId, payload); }
function rpcCaught(ctx, logger, nk, payload) {
	try { nk.accountGetId("not-a-uuid"); } catch (e) { return "caught: " + e.message; }
	return "not thrown";
}
function rpcUsers(ctx, logger, nk, payload) {
	return JSON.stringify({byId: nk.usersGetId([ctx.userId]), byName: nk.usersGetUsername([ctx.username]), none: nk.usersGetId(null)});
}
function rpcUtil(ctx, logger, nk, payload) {
	return JSON.stringify({
		b64: nk.base64Encode("hello?"),
		b64raw: nk.base64Encode("hello?", false),
		b64url: nk.base64UrlEncode("hello?"),
		back: nk.binaryToString(nk.base64Decode("aGVsbG8/")),
		backUrl: nk.binaryToString(nk.base64UrlDecode("aGVsbG8_")),
		hex: nk.base16Encode("hi"),
		unhex: nk.binaryToString(nk.base16Decode("6869")),
		sha: nk.sha256Hash("abc"),
		md5: nk.md5Hash("abc"),
		hmac: nk.base16Encode(nk.hmacSha256Hash("abc", "key")),
		bin: nk.binaryToString(nk.stringToBinary("round trip")),
		uuid: nk.uuidv4().length,
		time: nk.time() > 1600000000000,
		unserved: (function () { try { nk.storageRead([]); return "no error"; } catch (e) { return e.message; } })(),
	});
}
function rpcSockets(ctx, logger, nk, payload) {
	return JSON.stringify({nakama: nk.streamUserList({mode: 0, subject: ctx.userId}), positional: nk.streamUserList(0, ctx.userId)});
}
function rpcLastAfter(ctx, logger, nk, payload) { return JSON.stringify(lastAfter); }
function rpcLastEvent(ctx, logger, nk, payload) { return JSON.stringify(lastEvent); }
function rpcRecurse(ctx, logger, nk, payload) { return rpcRecurse(ctx, logger, nk, payload); }

// rpcModern uses what TypeScript emits for newer targets.
const rpcModern = (ctx, logger, nk, payload) => {
	class Greeter { constructor(name) { this.name = name; } greet() { return ` + "`hello ${this.name}`" + `; } }
	const {who = "nobody", ...rest} = JSON.parse(payload);
	return JSON.stringify({greeting: new Greeter(who).greet(), rest: {...rest}, keys: Object.keys(ctx)});
};

function eventSessionStart(ctx, logger, nk, evt) {
	lastEvent = {name: evt.name, userId: ctx.userId, sessionId: ctx.sessionId, timestamp: evt.timestamp};
}

function beforeAuthenticateCustom(ctx, logger, nk, data) {
	if (data.account.id === "refused-custom-id") { return null; }
	if (data.account.id === "forbidden-custom-id") { throw {message: "not today", code: 7}; }
	if (data.account.id === "broken-custom-id") { throw new Error("hook bug"); }
	data.account.vars["from_js"] = "1";
	data.account.vars["Mixed_Case-Key"] = "kept";
	return data;
}

function afterAuthenticateCustom(ctx, logger, nk, data, request) {
	if (request.account.id === "after-loop-custom-id") { for (;;) {} }
	lastAfter = {session: data, request: request, userId: ctx.userId, mode: ctx.executionMode};
}

function beforeGetAccount(ctx, logger, nk, data) {
	if (ctx.vars.deny === "1") { throw {message: "account closed to you", code: 7}; }
}

function afterGetAccount(ctx, logger, nk, data, request) {
	lastAfter = {account: data, request: request};
}

function beforeRtRpc(ctx, logger, nk, envelope) {
	if (envelope.rpc.id === "echo") { envelope.rpc.payload = "rt:" + envelope.rpc.payload; }
	return envelope;
}

function InitModule(ctx, logger, nk, initializer) {
	initializer.registerRpc("echo", rpcEcho);
	initializer.registerRpc("Ctx", rpcCtx);
	initializer.registerRpc("vm", rpcVM);
	initializer.registerRpc("custom_error", rpcCustomError);
	initializer.registerRpc("error", rpcError);
	initializer.registerRpc("loop", rpcLoop);
	initializer.registerRpc("number", rpcNumber);
	initializer.registerRpc("token", rpcToken);
	initializer.registerRpc("account", rpcAccount);
	initializer.registerRpc("rename", rpcRename);
	initializer.registerRpc("caught", rpcCaught);
	initializer.registerRpc("users", rpcUsers);
	initializer.registerRpc("util", rpcUtil);
	initializer.registerRpc("sockets", rpcSockets);
	initializer.registerRpc("last_after", rpcLastAfter);
	initializer.registerRpc("last_event", rpcLastEvent);
	initializer.registerRpc("recurse", rpcRecurse);
	initializer.registerRpc("modern", rpcModern);
	initializer.registerEventSessionStart(eventSessionStart);
	initializer.registerRpc("inline", function (ctx, logger, nk, payload) { return "inline:" + payload; });
	initializer.registerBeforeAuthenticateCustom(beforeAuthenticateCustom);
	initializer.registerAfterAuthenticateCustom(afterAuthenticateCustom);
	initializer.registerBeforeGetAccount(beforeGetAccount);
	initializer.registerAfterGetAccount(afterGetAccount);
	initializer.registerRtBefore("rpc", beforeRtRpc);
	initializer.registerMatch("lobby", {}); // not served by Latchkey: ignored with a warning
	logger.info("module loaded on %s", ctx.node);
}
`

type env struct {
	t   testing.TB
	url string
	srv *server.Server
}

// newEnv starts a server with the JavaScript source src as index.js, loaded with cfg's pool bounds, and a
// call deadline of timeoutMs.
func newEnv(t testing.TB, src string, jc js.Config, timeoutMs int) *env {
	t.Helper()
	cfg, opts := setup(t, src, jc, timeoutMs)
	srv, url := servertest.Start(t, cfg, opts)
	return &env{t: t, url: url, srv: srv}
}

// startServer is newEnv without HTTP, for the tests about load errors and the benchmark; it returns the
// error that stopped the server, if any.
func startServer(t testing.TB, src string, jc js.Config, timeoutMs int) (*server.Server, error) {
	t.Helper()
	cfg, opts := setup(t, src, jc, timeoutMs)
	return server.New(context.Background(), cfg, opts)
}

// setup writes src as index.js and returns the configuration and options of a server that loads it.
func setup(t testing.TB, src string, jc js.Config, timeoutMs int) (config.Config, server.Options) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	jc.Path, jc.Entrypoint = dir, "index.js"
	cfg := servertest.Config(t)
	cfg.Name = "node-js"
	cfg.Runtime.Env = []string{"region=eu"}
	cfg.Runtime.CallTimeoutMs = timeoutMs
	return cfg, server.Options{Modules: []runtime.InitModule{js.Module(jc)}}
}

func (e *env) do(method, path, auth, body string, header ...string) servertest.Answer {
	e.t.Helper()
	return servertest.Do(e.t, e.url, method, path, auth, body, header...)
}

// rpc calls the RPC id with a raw payload (unwrap) and returns the raw answer.
func (e *env) rpc(id, token, payload string, header ...string) servertest.Answer {
	e.t.Helper()
	return e.do("POST", "/v2/rpc/"+id+"?unwrap&x=1", "Bearer "+token, payload, header...)
}

// rpcJSON calls the RPC id and parses its answer into out.
func (e *env) rpcJSON(id, token, payload string, out any) {
	e.t.Helper()
	a := e.rpc(id, token, payload)
	if a.Status != 200 {
		e.t.Fatalf("rpc %s: %d %s", id, a.Status, a.Body)
	}
	if err := json.Unmarshal([]byte(a.Body), out); err != nil {
		e.t.Fatalf("rpc %s: %v in %s", id, err, a.Body)
	}
}

func (e *env) login(id string, vars map[string]string) string {
	e.t.Helper()
	return servertest.Authenticate(e.t, e.url, "custom", id, vars)
}

func TestRPC(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 1}, 5000)
	tok := e.login("rpc-custom-id", map[string]string{"client": "x"})

	for _, tt := range []struct{ id, payload, want string }{
		{"echo", `{"any":"thing"}`, `{"any":"thing"}`},
		{"ECHO", "", ""},
		{"inline", "x", "inline:x"}, // an inline function, which Nakama refuses, works too
		{"caught", "", "caught: user id must be a UUID"},
		{"modern", `{"who":"js","a":1}`, `{"greeting":"hello js","rest":{"a":1},"keys":["env","executionMode","node","headers","queryParams","userSessionExp","userId","username","vars","sessionId","clientIp","clientPort"]}`},
	} {
		if a := e.rpc(tt.id, tok, tt.payload); a.Status != 200 || a.Body != tt.want {
			t.Errorf("rpc %s: %d %q, want 200 %q", tt.id, a.Status, a.Body, tt.want)
		}
	}

	var got struct {
		Payload string         `json:"payload"`
		Ctx     map[string]any `json:"ctx"`
		Fields  map[string]any `json:"fields"`
	}
	e.rpcJSON("ctx", tok, "hello", &got)
	c := got.Ctx
	if got.Payload != "hello" || c["executionMode"] != "rpc" || c["node"] != "node-js" || c["clientIp"] != "127.0.0.1" || c["clientPort"] == nil {
		t.Errorf("ctx: %v", got)
	}
	if env, _ := c["env"].(map[string]any); env["region"] != "eu" {
		t.Errorf("ctx.env: %v", c["env"])
	}
	cl := servertest.Claims(t, tok)
	if c["userId"] != cl["uid"] || c["username"] != cl["usn"] || c["sessionId"] != cl["tid"] || c["userSessionExp"] != cl["exp"] {
		t.Errorf("ctx caller %v, token %v", c, cl)
	}
	if vars, _ := c["vars"].(map[string]any); vars["client"] != "x" || vars["from_js"] != "1" || vars["Mixed_Case-Key"] != "kept" {
		t.Errorf("ctx.vars: %v", c["vars"])
	}
	if q, _ := c["queryParams"].(map[string]any); q["x"] == nil || q["unwrap"] == nil {
		t.Errorf("ctx.queryParams: %v", c["queryParams"])
	}
	if h, _ := c["headers"].(map[string]any); h["Authorization"] == nil {
		t.Errorf("ctx.headers: %v", c["headers"])
	}
	if got.Fields["a"] != "b" {
		t.Errorf("logger fields: %v", got.Fields)
	}

	// Errors: a custom error keeps its code and message; anything else is internal, with no detail.
	e.rpc("custom_error", tok, "").WantError(t, 403, 7, "not allowed here")
	for _, id := range []string{"error", "number", "recurse"} {
		a := e.rpc(id, tok, "")
		a.WantError(t, 500, 13, "Internal server error.")
		if strings.Contains(a.Body, "hunter2") || strings.Contains(a.Body, "index.js") {
			t.Errorf("rpc %s: detail reached the client: %s", id, a.Body)
		}
	}
	e.rpc("nope", tok, "").WantError(t, 404, 5, "RPC function not found")
}

func TestServerFunctions(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 2}, 5000)
	tok := e.login("nk-custom-id", nil)
	uid := servertest.Claims(t, tok)["uid"]

	var gen struct {
		Token string `json:"token"`
		Exp   int64  `json:"exp"`
	}
	e.rpcJSON("token", tok, `{"username":"renamed_in_token"}`, &gen)
	if c := servertest.Claims(t, gen.Token); c["usn"] != "renamed_in_token" || c["uid"] != uid || gen.Exp <= time.Now().Unix() || c["exp"] != float64(gen.Exp) {
		t.Errorf("authenticateTokenGenerate: %+v, claims %v", gen, c)
	} else if vrs, _ := c["vrs"].(map[string]any); vrs["a"] != "b" {
		t.Errorf("authenticateTokenGenerate vars: %v", c)
	}
	// The generated token is a real session.
	if a := e.do("GET", "/v2/account", "Bearer "+gen.Token, ""); a.Status != 200 {
		t.Errorf("generated token refused: %d %s", a.Status, a.Body)
	}

	var acct map[string]any
	e.rpcJSON("account", tok, "", &acct)
	user, _ := acct["user"].(map[string]any)
	if user["userId"] != uid || user["username"] != "unkcustomid" || acct["customId"] != "nk-custom-id" {
		t.Errorf("accountGetId: %v", acct)
	}
	if ct, ok := user["createTime"].(float64); !ok || ct < 1e9 || ct > float64(time.Now().Unix()+5) {
		t.Errorf("accountGetId user.createTime %v, want Unix seconds", user["createTime"])
	}
	if _, ok := user["metadata"].(map[string]any); !ok {
		t.Errorf("accountGetId user.metadata %v, want an object", user["metadata"])
	}
	if _, ok := acct["wallet"].(map[string]any); !ok {
		t.Errorf("accountGetId wallet %v, want an object", acct["wallet"])
	}
	for _, k := range []string{"email", "devices", "verifyTime", "disableTime"} {
		if _, ok := acct[k]; ok {
			t.Errorf("accountGetId has %s for an account without one: %v", k, acct)
		}
	}

	var users struct{ ByID, ByName, None []map[string]any }
	e.rpcJSON("users", tok, "", &users)
	if len(users.ByID) != 1 || users.ByID[0]["userId"] != uid || len(users.ByName) != 1 || users.ByName[0]["username"] != "unkcustomid" || users.None == nil || len(users.None) != 0 {
		t.Errorf("users: %+v", users)
	}

	var util map[string]any
	e.rpcJSON("util", tok, "", &util)
	for k, want := range map[string]any{
		"b64": "aGVsbG8/", "b64raw": "aGVsbG8/", "b64url": "aGVsbG8_", "back": "hello?", "backUrl": "hello?",
		"hex": "6869", "unhex": "hi", "bin": "round trip", "uuid": float64(36), "time": true,
		"sha":      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"md5":      "900150983cd24fb0d6963f7d28e17f72",
		"hmac":     "9c196e32dc0175f86f4b1cb89289d6619de6bee699e4c378e68309ed97a1a6ab",
		"unserved": "nk.storageRead is not served by Latchkey",
	} {
		if util[k] != want {
			t.Errorf("util %s = %v, want %v", k, util[k], want)
		}
	}

	var sockets struct{ Nakama, Positional []any }
	e.rpcJSON("sockets", tok, "", &sockets)
	if sockets.Nakama == nil || len(sockets.Nakama) != 0 || len(sockets.Positional) != 0 {
		t.Errorf("streamUserList without sockets: %+v", sockets)
	}

	// A server function's error left uncaught answers as the REST API does.
	e.login("other-custom-id", nil)
	e.rpc("rename", tok, "uothercustomid").WantError(t, 409, 6, "Username is already in use.")
}

func TestHooks(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 1}, 5000)
	tok := e.login("hooked-custom-id", map[string]string{"client": "x"})

	// The before-hook's vars are in the token, keys unchanged, next to the client's.
	vrs, _ := servertest.Claims(t, tok)["vrs"].(map[string]any)
	if vrs["from_js"] != "1" || vrs["Mixed_Case-Key"] != "kept" || vrs["client"] != "x" {
		t.Errorf("token vrs: %v", vrs)
	}
	// The after-hook saw the session and the request, with the new session's user in its context.
	var last struct {
		Session map[string]any `json:"session"`
		Request map[string]any `json:"request"`
		UserID  string         `json:"userId"`
		Mode    string         `json:"mode"`
	}
	e.rpcJSON("last_after", tok, "", &last)
	if last.Session["token"] != tok || last.Session["refreshToken"] == "" || last.Session["created"] != true || last.Mode != "after" || last.UserID != servertest.Claims(t, tok)["uid"] {
		t.Errorf("after-hook saw %+v", last)
	}
	if acct, _ := last.Request["account"].(map[string]any); acct["id"] != "hooked-custom-id" || last.Request["username"] != "uhookedcustomid" {
		t.Errorf("after-hook request %v", last.Request)
	}
	if _, ok := last.Request["create"]; !ok {
		t.Errorf("after-hook request lacks create (Nakama gives every field): %v", last.Request)
	}

	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"refused-custom-id"}`).WantError(t, 404, 5, "Requested resource was not found.")
	e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"forbidden-custom-id"}`).WantError(t, 403, 7, "not today")
	a := e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"broken-custom-id"}`)
	a.WantError(t, 500, 13, "Internal server error.")
	if strings.Contains(a.Body, "hook bug") {
		t.Errorf("exception message reached the client: %s", a.Body)
	}

	// A before-hook without a request refuses by throwing; the after-hook sees the account.
	if a := e.do("GET", "/v2/account", "Bearer "+tok, ""); a.Status != 200 {
		t.Fatalf("get account: %d %s", a.Status, a.Body)
	}
	var afterAcct struct {
		Account map[string]any `json:"account"`
		Request any            `json:"request"`
	}
	e.rpcJSON("last_after", tok, "", &afterAcct)
	if user, _ := afterAcct.Account["user"].(map[string]any); user["id"] != servertest.Claims(t, tok)["uid"] || afterAcct.Account["customId"] != "hooked-custom-id" || afterAcct.Request != nil {
		t.Errorf("after get account saw %+v", afterAcct)
	}
	denied := e.login("denied-custom-id", map[string]string{"deny": "1"})
	e.do("GET", "/v2/account", "Bearer "+denied, "").WantError(t, 403, 7, "account closed to you")
}

// TestDeadline: a runaway loop is interrupted at the call deadline (300 ms), and its VM, the only one,
// serves the next calls.
func TestDeadline(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 1}, 300)
	tok := e.login("loop-custom-id", nil)
	echo := func() {
		t.Helper()
		if a := e.rpc("echo", tok, "still here"); a.Status != 200 || a.Body != "still here" {
			t.Fatalf("after an interrupted loop: %d %s", a.Status, a.Body)
		}
	}
	quick := func(start time.Time) {
		t.Helper()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the loop was answered after %v, want about the 300 ms deadline", d)
		}
	}
	// An after-hook that never returns delays its call by the deadline only; its failure is not sent.
	for range 2 {
		start := time.Now()
		if a := e.do("POST", "/v2/account/authenticate/custom", servertest.Basic("defaultkey"), `{"id":"after-loop-custom-id"}`); a.Status != 200 || a.JSON["token"] == nil {
			t.Errorf("login with a looping after-hook: %d %s", a.Status, a.Body)
		}
		quick(start)
		echo()
	}
	for range 2 {
		start := time.Now()
		e.rpc("loop", tok, "").WantError(t, 504, 4, "Request timed out.")
		quick(start)
		echo()
	}
}

// TestPool: concurrent calls share at most MaxCount VMs and all succeed.
func TestPool(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 4}, 10_000)
	tok := e.login("pool-custom-id", nil)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		vms = map[string]int{}
	)
	for range 50 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.url+"/v2/rpc/vm?unwrap", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 {
				t.Errorf("concurrent rpc: %d %s", res.StatusCode, b)
				return
			}
			mu.Lock()
			vms[string(b)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(vms) < 1 || len(vms) > 4 {
		t.Errorf("calls ran on %d VMs, want 1 to 4: %v", len(vms), vms)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"syntax", "function InitModule(ctx, logger, nk, initializer) {\n\tvar x = ;\n}\n", []string{"index.js:2:", "SyntaxError"}},
		{"throws", "function InitModule(ctx, logger, nk, initializer) {\n\n\tthrow new Error(\"bad config\");\n}\n", []string{"index.js:3:", "bad config"}},
		{"top-level throw", "var x = 1;\nnull.boom;\nfunction InitModule() {}\n", []string{"index.js:2:", "TypeError"}},
		{"no InitModule", "function initModule() {}\n", []string{"index.js", "InitModule"}},
		{"not a function", "function InitModule(ctx, logger, nk, initializer) {\n\tinitializer.registerRpc(\"x\", 42);\n}\n", []string{"index.js:2:", "expects a function"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := startServer(t, tt.src, js.Config{MinCount: 1, MaxCount: 1}, 5000)
			if err == nil {
				srv.Close()
				t.Fatal("server started with a broken module")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestRealtimeHook: a realtime before-hook registered with registerRtBefore changes an RPC over the socket.
func TestRealtimeHook(t *testing.T) {
	e := newEnv(t, testModule, js.Config{MinCount: 1, MaxCount: 1}, 5000)
	tok := e.login("socket-custom-id", nil)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/ws?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"cid":"1","rpc":{"id":"echo","payload":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cid string
		Rpc struct{ Payload string }
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Cid != "1" || got.Rpc.Payload != "rt:x" {
		t.Errorf("socket rpc answer %s, want payload rt:x", b)
	}

	// The session start event reached the JavaScript handler, with the socket's user and session id.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ev map[string]any
		e.rpcJSON("last_event", tok, "", &ev)
		if ev != nil {
			if ev["name"] != "session_start" || ev["userId"] != servertest.Claims(t, tok)["uid"] || len(ev["sessionId"].(string)) != 36 || ev["timestamp"] == "" {
				t.Errorf("session start event: %v", ev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no session start event")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkRPC measures an authenticated RPC echoing its payload through the real handler, for comparison
// with the Go and Lua runtimes.
func BenchmarkRPC(b *testing.B) {
	srv, err := startServer(b, testModule, js.Config{MinCount: 1, MaxCount: 4}, 5000)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tok := servertest.Token(b, srv, "bench-device-0001")
	b.ReportAllocs()
	for b.Loop() {
		w := servertest.Serve(srv.API, "POST", "/v2/rpc/echo?unwrap", "Bearer "+tok, `{"hello":"world"}`)
		if w.Code != 200 || w.Body.String() != `{"hello":"world"}` {
			b.Fatalf("rpc: %d %s", w.Code, w.Body)
		}
	}
}
