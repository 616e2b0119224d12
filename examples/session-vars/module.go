package main

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// InitModule registers the hooks.
func InitModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, initializer runtime.Initializer) error {
	if err := initializer.RegisterBeforeAuthenticateDevice(addSessionVars); err != nil {
		return err
	}
	if err := initializer.RegisterBeforeSessionRefresh(keepLoginVars); err != nil {
		return err
	}
	return initializer.RegisterBeforeGetAccount(checkRegion)
}

const (
	// regionHeader names the request header the region comes from. In production it would be set by your
	// load balancer or CDN (from the client's address), not by the game client.
	regionHeader  = "X-Region"
	defaultRegion = "global"
	// blockedRegionsEnv is the runtime.env key listing the regions, comma-separated, whose players may not
	// read their account: --runtime.env blocked_regions=north-pole,south-pole.
	blockedRegionsEnv = "blocked_regions"
)

// addSessionVars adds "region" and "tier" to the session variables of every device login. The variables
// the client sent are kept, but the server's values win: a client cannot choose its own region or tier.
func addSessionVars(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, in *api.AuthenticateDeviceRequest) (*api.AuthenticateDeviceRequest, error) {
	if in.Account == nil {
		in.Account = &api.AccountDevice{}
	}
	if in.Account.Vars == nil {
		in.Account.Vars = map[string]string{}
	}
	in.Account.Vars["region"] = region(ctx)
	in.Account.Vars["tier"] = "free"
	return in, nil
}

// keepLoginVars drops the variables a client sends with a refresh. A refresh with variables replaces the
// session's, so without this hook a player could refresh their way out of a blocked region; with it the
// session keeps the variables decided at login.
func keepLoginVars(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, in *api.SessionRefreshRequest) (*api.SessionRefreshRequest, error) {
	in.Vars = nil
	return in, nil
}

// region returns the request's region header, lower-cased, when it is a plausible region name, and the
// default region otherwise.
func region(ctx context.Context) string {
	headers, _ := ctx.Value(runtime.RUNTIME_CTX_HEADERS).(map[string][]string)
	v := headers[regionHeader] // the server's header keys are canonical, as in net/http
	if len(v) == 0 {
		return defaultRegion
	}
	r := strings.ToLower(strings.TrimSpace(v[0]))
	if r == "" || len(r) > 32 || strings.ContainsFunc(r, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}) {
		return defaultRegion
	}
	return r
}

// checkRegion refuses GET /v2/account (403) to a session whose region is blocked, and logs the caller's
// session variables otherwise.
func checkRegion(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule) error {
	vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string)
	env, _ := ctx.Value(runtime.RUNTIME_CTX_ENV).(map[string]string)
	blocked := func(b string) bool { return strings.TrimSpace(b) == vars["region"] }
	if vars["region"] != "" && slices.ContainsFunc(strings.Split(env[blockedRegionsEnv], ","), blocked) {
		return runtime.NewError("Account access is not available in your region.", 7)
	}
	userID, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
	logger.WithField("user_id", userID).Info("get account with session vars %v", vars)
	return nil
}
