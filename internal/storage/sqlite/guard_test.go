package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
)

// guarded opens path with OpenGuarded and migrates it, as the server does at start; the store is closed
// when the test ends. It returns the store or the error of either step.
func guarded(t *testing.T, path string, createFresh bool) (*sqlite.Store, error) {
	t.Helper()
	st, err := sqlite.OpenGuarded(t.Context(), path, createFresh)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(t.Context()); err != nil {
		return nil, err
	}
	return st, nil
}

func mustGuarded(t *testing.T, path string, createFresh bool) *sqlite.Store {
	t.Helper()
	st, err := guarded(t, path, createFresh)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return st
}

func storeID(t *testing.T, st *sqlite.Store) string {
	t.Helper()
	id, err := st.StoreID(t.Context())
	if err != nil {
		t.Fatalf("StoreID: %v", err)
	}
	return id
}

func marker(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path + sqlite.MarkerSuffix)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// wantLost checks that a start was refused with ErrStoreLost, with a message that names the database and
// the marker and says how to start anyway.
func wantLost(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, sqlite.ErrStoreLost) {
		t.Fatalf("start = %v, want ErrStoreLost", err)
	}
	for _, want := range []string{path, path + sqlite.MarkerSuffix, "--database.create_fresh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
}

// firstStart makes a store at a fresh path the way a first start does, and closes it.
func firstStart(t *testing.T) (path, id string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "data", "latchkey.db")
	st := mustGuarded(t, path, false)
	id = storeID(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path, id
}

func TestGuardFirstStartWritesMarker(t *testing.T) {
	path, id := firstStart(t)
	if got := marker(t, path); got != id {
		t.Errorf("marker = %q, want the store id %q", got, id)
	}
	// The next start finds the same store and keeps it.
	st := mustGuarded(t, path, false)
	if got := storeID(t, st); got != id {
		t.Errorf("store id after restart = %s, want %s", got, id)
	}
}

func TestGuardRefusesLostDatabase(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(t *testing.T, path string)
	}{
		{"missing", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
		}},
		{"zero length", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			os.Remove(path + "-wal")
		}},
		{"another file", func(t *testing.T, path string) {
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE notes (body TEXT)`); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, id := firstStart(t)
			tt.lose(t, path)
			before, _ := os.Stat(path)
			_, err := guarded(t, path, false)
			wantLost(t, err, path)
			// Nothing was created or changed: the operator can still restore the database.
			after, statErr := os.Stat(path)
			switch {
			case before == nil && statErr == nil:
				t.Errorf("the refused start created %s", path)
			case before != nil && (statErr != nil || after.Size() != before.Size()):
				t.Errorf("the refused start changed %s", path)
			}
			if got := marker(t, path); got != id {
				t.Errorf("marker = %q after a refused start, want %q", got, id)
			}

			// database.create_fresh starts anyway, and the marker then records the store the file holds.
			st := mustGuarded(t, path, true)
			fresh := storeID(t, st)
			if fresh == id {
				t.Errorf("create_fresh kept the lost store's id %s", id)
			}
			if got := marker(t, path); got != fresh {
				t.Errorf("marker = %q after create_fresh, want %q", got, fresh)
			}
			st.Close()
			// And the next start, without the flag, is an ordinary one.
			if st, err = guarded(t, path, false); err != nil || storeID(t, st) != fresh {
				t.Errorf("start after create_fresh: %v", err)
			}
		})
	}
}

// TestGuardRefusesAnotherStore: a database put in place of the one the marker records (another store's
// file) is refused, before anything can issue tokens from it.
func TestGuardRefusesAnotherStore(t *testing.T) {
	path, id := firstStart(t)
	other, otherID := firstStart(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
		if b, err := os.ReadFile(other + suffix); err == nil {
			if err := os.WriteFile(path+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := guarded(t, path, false)
	wantLost(t, err, path)
	if !strings.Contains(err.Error(), otherID) || !strings.Contains(err.Error(), id) {
		t.Errorf("message %q does not name both store ids", err)
	}
	st := mustGuarded(t, path, true)
	if got := storeID(t, st); got != otherID || marker(t, path) != otherID {
		t.Errorf("create_fresh: store %s, marker %s; want both %s", got, marker(t, path), otherID)
	}
}

// TestGuardMigrateDownAll: reverting the migration that made the store's id is a deliberate wipe; it
// removes the marker, and migrating up again makes (and records) a new store instead of refusing it.
func TestGuardMigrateDownAll(t *testing.T) {
	path, id := firstStart(t)
	st := mustGuarded(t, path, false)
	if _, err := st.MigrateDown(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + sqlite.MarkerSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after migrate down all: %v, want none", err)
	}
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatalf("MigrateUp after migrate down all: %v", err)
	}
	if fresh := storeID(t, st); fresh == id || marker(t, path) != fresh {
		t.Errorf("after down and up: store %s, marker %s; want a new id recorded", fresh, marker(t, path))
	}
}

func TestGuardBadMarker(t *testing.T) {
	path, id := firstStart(t)
	if err := os.WriteFile(path+sqlite.MarkerSuffix, []byte("not an id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := guarded(t, path, false); !errors.Is(err, sqlite.ErrStoreLost) || !strings.Contains(err.Error(), path+sqlite.MarkerSuffix) {
		t.Fatalf("start with a bad marker = %v, want ErrStoreLost naming the marker", err)
	}
	mustGuarded(t, path, true)
	if got := marker(t, path); got != id {
		t.Errorf("marker after create_fresh = %q, want %q", got, id)
	}
}

// TestOpenDoesNotRecreate: a connection opened after Open (one that replaces a faulty one) does not create
// the database file again if it has gone, which would start an empty store behind the server's back.
func TestOpenDoesNotRecreate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st := newStoreAt(t, path)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if err := st.CheckWrite(ctx); err == nil {
		t.Error("CheckWrite after the file was deleted = nil, want an error")
	}
	// Force a new write connection.
	if _, err := st.DB().ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	st.AppendEvents(ctx, event("after delete")) // fails read-only, which replaces the connection
	st.AppendEvents(ctx, event("after delete"))
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s after the writes: %v, want not exist", path, err)
	}
}
