package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
)

// TestExistingOnlyCreatesNothing: a server built with Options.Existing (the admin commands') on a data_dir
// without a database fails with a message saying how to create one, and leaves no file or directory
// behind; once the database exists it opens it.
func TestExistingOnlyCreatesNothing(t *testing.T) {
	cfg := storeConfig(t)
	_, err := New(context.Background(), cfg, Options{Existing: true})
	if !errors.Is(err, sqlite.ErrNoDatabase) {
		t.Fatalf("New(Existing) on an empty data_dir = %v, want ErrNoDatabase", err)
	}
	for _, want := range []string{"latchkey migrate up", "--data_dir", "--config", cfg.DataDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data_dir was created (%v)", err)
	}

	// An empty file (touched by hand, say) is not a database either, and stays as it was.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(cfg.DataDir, "latchkey.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, Options{Existing: true}); !errors.Is(err, sqlite.ErrNoDatabase) {
		t.Fatalf("New(Existing) on an empty file = %v, want ErrNoDatabase", err)
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file was changed: %v, %v", fi, err)
	}
	os.Remove(db)

	srv := createThenOpenExisting(t, cfg)
	if got, want := srv.StoreName(), "sqlite:"+db; got != want {
		t.Errorf("StoreName = %q, want %q", got, want)
	}
}

// TestExistingPostgres: on PostgreSQL, a database without Latchkey's schema is refused and stays empty.
func TestExistingPostgres(t *testing.T) {
	cfg := storeConfig(t)
	addr := pgtest.NewDatabase(t)
	cfg.Database.Address = []string{addr}
	_, err := New(context.Background(), cfg, Options{Existing: true})
	if !errors.Is(err, postgres.ErrNoSchema) || !strings.Contains(err.Error(), "latchkey migrate up") {
		t.Fatalf("New(Existing) on an empty database = %v, want ErrNoSchema naming migrate up", err)
	}
	st, err := postgres.Open(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var tables int
	if err := st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the refused database has %d tables, want none", tables)
	}
	createThenOpenExisting(t, cfg)
}

// createThenOpenExisting creates and migrates cfg's store with a plain New, closes it, and opens it again
// with Options.Existing, which must then succeed.
func createThenOpenExisting(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	created, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	created.Close()
	srv, err := New(context.Background(), cfg, Options{Existing: true})
	if err != nil {
		t.Fatalf("New(Existing) on a created store = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}
