// Command mygame is a studio's own game server: Latchkey with the studio's server code compiled in, built
// from the studio's own Go module (this directory), which depends on github.com/latchkeyhq/latchkey like any
// other module. It takes the same flags, config and subcommands as latchkey. See docs/deployment.md,
// "Depending on Latchkey from your own module".
package main

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/latchkeyhq/latchkey"
	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

// InitModule registers the studio's server code: a before-hook that gives every device login a session
// variable, and the greet RPC.
func InitModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, initializer runtime.Initializer) error {
	if err := initializer.RegisterBeforeAuthenticateDevice(addTier); err != nil {
		return err
	}
	return initializer.RegisterRpc("greet", greet)
}

// addTier puts tier=free into the session variables of every device login; it appears in the token's vrs.
func addTier(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, in *api.AuthenticateDeviceRequest) (*api.AuthenticateDeviceRequest, error) {
	if in.Account.Vars == nil {
		in.Account.Vars = map[string]string{}
	}
	in.Account.Vars["tier"] = "free"
	return in, nil
}

// greet answers {"greeting": "hello, NAME"} with the caller's username, or "hello, server" when called
// with the HTTP key (no user).
func greet(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
	name, _ := ctx.Value(runtime.RUNTIME_CTX_USERNAME).(string)
	if name == "" {
		name = "server"
	}
	out, err := json.Marshal(map[string]string{"greeting": "hello, " + name})
	return string(out), err
}

func main() { latchkey.Run(InitModule) }
