package server_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/runtime"
)

// The same RPC and device-login before-hook in each language. The RPCs (distinct ids) share one server;
// each language's hook gets a server of its own, since a request has one before-hook per server.
const (
	benchJSRPC = `
function echo(ctx, logger, nk, payload) { return payload; }
function InitModule(ctx, logger, nk, initializer) { initializer.registerRpc("echo_js", echo); }
`
	benchLuaRPC = `
local nk = require("nakama")
nk.register_rpc(function(context, payload) return payload end, "echo_lua")
`
	benchJSHook = `
function beforeDevice(ctx, logger, nk, data) { data.account.vars = {lang: "js"}; return data; }
function InitModule(ctx, logger, nk, initializer) { initializer.registerBeforeAuthenticateDevice(beforeDevice); }
`
	benchLuaHook = `
local nk = require("nakama")
nk.register_req_before(function(context, payload)
	payload.account.vars = {lang = "lua"}
	return payload
end, "AuthenticateDevice")
`
)

func benchGoRPC(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
	return init.RegisterRpc("echo_go", func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, p string) (string, error) {
		return p, nil
	})
}

func benchGoHook(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
	return init.RegisterBeforeAuthenticateDevice(func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *api.AuthenticateDeviceRequest) (*api.AuthenticateDeviceRequest, error) {
		in.Account.Vars = map[string]string{"lang": "go"}
		return in, nil
	})
}

// benchServer starts a server with the given Go module, JavaScript source and Lua source (each optional)
// and returns it with a session token.
func benchServer(b *testing.B, goMod runtime.InitModule, jsSrc, luaSrc string) (*server.Server, string) {
	b.Helper()
	dir := b.TempDir()
	mods := filepath.Join(dir, "modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	if jsSrc != "" {
		os.WriteFile(filepath.Join(mods, "index.js"), []byte(jsSrc), 0o644)
		cfg.Runtime.JSEntrypoint = "index.js"
	}
	if luaSrc != "" {
		os.WriteFile(filepath.Join(mods, "bench.lua"), []byte(luaSrc), 0o644)
	}
	var goMods []runtime.InitModule
	if goMod != nil {
		goMods = append(goMods, goMod)
	}
	cfg.DataDir = dir
	cfg.Auth.BcryptCost = 4
	cfg.Runtime.JSMinCount, cfg.Runtime.LuaMinCount = 4, 4
	cfg.Session.TokenExpirySec, cfg.Session.RefreshTokenExpirySec = 3600, 3600
	srv, err := server.New(context.Background(), cfg, server.Options{Modules: goMods})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	res, err := srv.Accounts.AuthenticateDevice(context.Background(), "bench-device-0001", "", true)
	if err != nil {
		b.Fatal(err)
	}
	is, err := srv.Sessions.Issue(context.Background(), res.User, nil, sessions.Meta{})
	if err != nil {
		b.Fatal(err)
	}
	return srv, is.Token
}

// BenchmarkRuntimeRPC is an authenticated RPC that echoes its payload, through the real handler, in each
// language, with concurrent callers (the pools under load); "account" is GET /v2/account on the same server,
// which has no hook, for the cost of a request the hooks must not slow down.
func BenchmarkRuntimeRPC(b *testing.B) {
	srv, token := benchServer(b, benchGoRPC, benchJSRPC, benchLuaRPC)
	for _, tc := range []struct{ name, method, path, body, want string }{
		{"go", "POST", "/v2/rpc/echo_go?unwrap", `{"a":1}`, `{"a":1}`},
		{"js", "POST", "/v2/rpc/echo_js?unwrap", `{"a":1}`, `{"a":1}`},
		{"lua", "POST", "/v2/rpc/echo_lua?unwrap", `{"a":1}`, `{"a":1}`},
		{"account", "GET", "/v2/account", "", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
					req.Header.Set("Authorization", "Bearer "+token)
					w := httptest.NewRecorder()
					srv.API.ServeHTTP(w, req)
					if w.Code != 200 || (tc.want != "" && w.Body.String() != tc.want) {
						b.Errorf("%s: %d %s", tc.path, w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRuntimeBeforeHook is a device login whose before-hook sets a session variable, in each language
// ("none": the same login on a server without hooks).
func BenchmarkRuntimeBeforeHook(b *testing.B) {
	for _, tc := range []struct {
		name       string
		goMod      runtime.InitModule
		jsSrc, lua string
	}{
		{"none", nil, "", ""},
		{"go", benchGoHook, "", ""},
		{"js", nil, benchJSHook, ""},
		{"lua", nil, "", benchLuaHook},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, _ := benchServer(b, tc.goMod, tc.jsSrc, tc.lua)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/v2/account/authenticate/device", strings.NewReader(`{"id":"bench-device-0001"}`))
					req.SetBasicAuth("defaultkey", "")
					w := httptest.NewRecorder()
					srv.API.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Errorf("login: %d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
