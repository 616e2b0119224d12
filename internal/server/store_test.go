package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
)

func storeConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Auth.BcryptCost = 4
	return cfg
}

func start(t *testing.T, cfg config.Config) (*Server, error) {
	t.Helper()
	srv, err := New(context.Background(), cfg, Options{})
	if err == nil {
		t.Cleanup(func() { srv.Close() })
	}
	return srv, err
}

// TestStartRefusesLostDatabase: once a data directory has held a store, a start that finds its database
// missing or empty stops with a message naming the file instead of starting an empty store, and
// database.create_fresh starts a new one.
func TestStartRefusesLostDatabase(t *testing.T) {
	for _, lose := range []string{"missing", "zero-length"} {
		t.Run(lose, func(t *testing.T) {
			cfg := storeConfig(t)
			srv, err := start(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			id := srv.Sessions.StoreID()
			srv.Close()
			db := filepath.Join(cfg.DataDir, "latchkey.db")
			if b, err := os.ReadFile(db + sqlite.MarkerSuffix); err != nil || strings.TrimSpace(string(b)) != id {
				t.Fatalf("marker = %q, %v; want the store id %s", b, err, id)
			}
			os.Remove(db + "-wal")
			os.Remove(db + "-shm")
			if lose == "missing" {
				err = os.Remove(db)
			} else {
				err = os.Truncate(db, 0)
			}
			if err != nil {
				t.Fatal(err)
			}

			_, err = start(t, cfg)
			if !errors.Is(err, sqlite.ErrStoreLost) {
				t.Fatalf("start on a %s database = %v, want ErrStoreLost", lose, err)
			}
			for _, want := range []string{db, "--database.create_fresh"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not name %q", err, want)
				}
			}

			cfg.Database.CreateFresh = true
			srv, err = start(t, cfg)
			if err != nil {
				t.Fatalf("start with database.create_fresh: %v", err)
			}
			if srv.Sessions.StoreID() == id {
				t.Errorf("create_fresh kept the lost store's id %s", id)
			}
		})
	}
}
