package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/migrate"
)

// MarkerSuffix names the marker file OpenGuarded keeps next to the database: latchkey.db.id holds the id
// of the store created in latchkey.db.
const MarkerSuffix = ".id"

// ErrStoreLost is what OpenGuarded, and MigrateUp on a store it opened, return (with errors.Is) when the
// database is not the store its marker file records: the file is missing, empty, holds no Latchkey schema,
// or holds another store. The error's message names both files and says how to recover.
var ErrStoreLost = errors.New("sqlite: the database is not the store its marker records")

// lostError is an ErrStoreLost with its explanation.
type lostError struct{ msg string }

func (e *lostError) Error() string        { return e.msg }
func (e *lostError) Is(target error) bool { return target == ErrStoreLost }

// guard is what OpenGuarded remembers for MigrateUp and MigrateDown.
type guard struct {
	marker      string // the marker file's path
	want        string // the store id the marker records; "" when there is no marker yet
	createFresh bool
}

// OpenGuarded opens the database at path like Open, guarded by the marker file path+MarkerSuffix, which
// records the id of the store created there (see storage.Sessions.StoreID). SQLite would take a missing
// or empty file for a new, empty database, and start silently with every account gone and every ended
// session's tokens usable again; the marker turns that into an error:
//
//   - no marker (a first start, or the first start of a version that keeps one): the database is opened,
//     created if missing, and MigrateUp writes the marker;
//   - a marker and a missing or empty file, or a file without Latchkey's schema: ErrStoreLost, and nothing
//     is created;
//   - a marker and a database holding another store's id: MigrateUp returns ErrStoreLost.
//
// createFresh (database.create_fresh) overrides all three: the database is opened, or created afresh if
// it is missing or empty, and MigrateUp records its id in the marker.
func OpenGuarded(ctx context.Context, path string, createFresh bool) (*Store, error) {
	if !plainPath(path) {
		return nil, fmt.Errorf("sqlite: %q is not a plain database file path", path)
	}
	g := &guard{marker: path + MarkerSuffix, createFresh: createFresh}
	want, err := readMarker(g.marker)
	switch {
	case err != nil && !createFresh:
		return nil, err
	case err == nil:
		g.want = want
	}
	if g.want != "" && !createFresh {
		switch fi, err := os.Stat(path); {
		case errors.Is(err, fs.ErrNotExist):
			return nil, g.lost(path, "is missing", "was deleted or moved")
		case err != nil:
			return nil, fmt.Errorf("sqlite: %w", err)
		case fi.Size() == 0:
			return nil, g.lost(path, "is empty (0 bytes)", "was truncated")
		}
		// Read-only, so that a refused file is left exactly as it was found.
		switch ok, err := hasSchema(ctx, path); {
		case err != nil:
			return nil, fmt.Errorf("sqlite: reading %s: %w", path, err)
		case !ok:
			return nil, g.lost(path, "holds no Latchkey schema", "was replaced or wiped")
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	s.guard = g
	return s, nil
}

// lost explains why the database at path is not the store the marker records, and what to do.
func (g *guard) lost(path, what, cause string) error {
	return &lostError{fmt.Sprintf("%s %s, but %s records that store %s was created there: "+
		"the database %s, and starting would begin a new, empty store (every account gone, every ended "+
		"session's tokens usable again). Restore the database from a backup, or start once with "+
		"--database.create_fresh to begin a new, empty store", path, what, g.marker, g.want, cause)}
}

// hasSchema reports whether the database file at path holds the migrator's bookkeeping table, which every
// Latchkey database has from its first migration on. It opens the file read-only.
func hasSchema(ctx context.Context, path string) (bool, error) {
	name, err := fileURI(path)
	if err != nil {
		return false, err
	}
	db, err := sql.Open("sqlite", name+"?mode=ro")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var one int
	err = db.QueryRowContext(ctx, `SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`, migrate.Table).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// checkMarker compares the migrated store's id with the marker, and writes the marker when there was none
// or createFresh is set.
func (s *Store) checkMarker(ctx context.Context) error {
	g := s.guard
	id, err := s.StoreID(ctx)
	if err != nil {
		return err
	}
	switch {
	case id == g.want:
		return nil
	case g.want != "" && !g.createFresh:
		return &lostError{fmt.Sprintf("%s holds store %s, but %s records store %s: the database "+
			"was replaced by another one, or recreated. Put the right database back, or start once with "+
			"--database.create_fresh to keep this one (tokens of store %s stop working)",
			strings.TrimSuffix(g.marker, MarkerSuffix), id, g.marker, g.want, g.want)}
	}
	if err := writeMarker(g.marker, id); err != nil {
		return err
	}
	g.want = id
	return nil
}

// dropMarker removes the marker once the store's identity has been migrated away (migrate down past
// 0005), so that the next MigrateUp makes a new store and records it instead of refusing it.
func (s *Store) dropMarker(ctx context.Context) error {
	var one int
	err := s.read.db.QueryRowContext(ctx, `SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'store_identity'`).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return s.wrap("read schema", err)
	}
	if err := os.Remove(s.guard.marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: %w", err)
	}
	s.guard.want = ""
	return nil
}

// readMarker returns the store id a marker file holds, or "" when there is no marker.
func readMarker(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: reading the store marker: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !storeID(id) {
		return "", &lostError{fmt.Sprintf("%s does not hold a store id: restore it from a backup, or start once "+
			"with --database.create_fresh to record the store its database holds", path)}
	}
	return id, nil
}

// writeMarker records id in the marker file atomically: a crash leaves the old marker or the new one.
func writeMarker(path, id string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sqlite: writing the store marker: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("sqlite: writing the store marker: %w", err)
	}
	// The rename is durable once the directory is synced; not every system can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// storeID reports whether s has the form of a store id: a canonical lowercase UUID.
func storeID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && id.String() == s
}
