package runtimehost_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/runtimehost"
	"github.com/latchkeyhq/latchkey/runtime"
)

func TestRegistrationConflicts(t *testing.T) {
	rpc := func(id string) runtime.InitModule {
		return func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
			echo := func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, p string) (string, error) {
				return p, nil
			}
			if err := init.RegisterRpc(id, echo); err != nil {
				return err
			}
			// A module may register the same thing twice: the later one wins, as in Nakama.
			return init.RegisterRpc(id, echo)
		}
	}
	hook := func(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, init runtime.Initializer) error {
		return init.RegisterBeforeGetAccount(func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule) error { return nil })
	}
	t.Run("distinct", func(t *testing.T) {
		h := runtimehost.New(runtimehost.Deps{})
		if err := h.LoadNamed(context.Background(), runtimehost.Named{Name: "Go module", Init: rpc("a")},
			runtimehost.Named{Name: "Lua modules", Init: rpc("b")}); err != nil {
			t.Fatalf("LoadNamed: %v", err)
		}
	})
	t.Run("clash", func(t *testing.T) {
		h := runtimehost.New(runtimehost.Deps{})
		err := h.LoadNamed(context.Background(),
			runtimehost.Named{Name: "Go module", Init: func(ctx context.Context, l runtime.Logger, db *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
				if err := rpc("Shared")(ctx, l, db, nk, init); err != nil {
					return err
				}
				return hook(ctx, l, db, nk, init)
			}},
			runtimehost.Named{Name: "JavaScript build/index.js", Init: rpc("shared")},
			runtimehost.Named{Name: "Lua modules", Init: hook})
		if err == nil {
			t.Fatal("LoadNamed: no error for two modules registering the same RPC and hook")
		}
		for _, want := range []string{"RPC shared in Go module and in JavaScript build/index.js", "before-hook getaccount in Go module and in Lua modules"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}
