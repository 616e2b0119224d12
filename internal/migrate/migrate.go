// Package migrate applies and reverts versioned plain-SQL schema migrations over database/sql.
//
// A backend embeds its migrations as files named NNNN_name.up.sql and NNNN_name.down.sql at the root of an
// fs.FS, numbered from 1 without gaps, and describes its SQL flavour with a Dialect. The migrator records
// what it applied in the table latchkey_schema_migrations(version, name, applied_at). Every migration runs in
// its own transaction together with its bookkeeping row, so a failed migration leaves the schema at the
// previous version; the backend's SQL therefore must be transactional (SQLite and PostgreSQL DDL are).
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table is the bookkeeping table the migrator creates in the target database.
const Table = "latchkey_schema_migrations"

// Dialect tells the migrator how to write its own bookkeeping SQL for one database.
type Dialect struct {
	// Numbered selects PostgreSQL-style $1, $2 placeholders instead of ?.
	Numbered bool
	// IntType is the column type of version and applied_at, which hold int64 values; applied_at is unix
	// milliseconds so that no driver needs a time conversion setting to read it back.
	IntType string
	// TextType is the column type of name.
	TextType string
}

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	Up      string // SQL text of the .up.sql file
	Down    string // SQL text of the .down.sql file
}

// State describes one migration known to the binary or recorded in the database; Status returns them.
type State struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero when not applied
	// Unknown is set for a version recorded in the database but absent from the binary's migrations, which
	// means the database was migrated by a newer binary.
	Unknown bool
}

var fileRE = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.(up|down)\.sql$`)

// Parse reads the migrations at the root of src and returns them in version order. Other .sql files, version
// gaps (versions must run 1, 2, 3, ...), a version with two names, and an up file without its down file (or
// the reverse) are errors. Files that do not end in .sql are ignored.
func Parse(src fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	// Tracking which halves were seen separately from the text lets an intentionally empty down file count
	// as present.
	haveUp, haveDown := map[int]bool{}, map[int]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		m := fileRE.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migrate: %s: name does not match NNNN_name.up.sql or NNNN_name.down.sql", name)
		}
		version, err := strconv.Atoi(m[1])
		if err != nil || version < 1 {
			return nil, fmt.Errorf("migrate: %s: version must be a positive integer", name)
		}
		body, err := fs.ReadFile(src, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		mig := byVersion[version]
		if mig == nil {
			mig = &Migration{Version: version, Name: m[2]}
			byVersion[version] = mig
		} else if mig.Name != m[2] {
			return nil, fmt.Errorf("migrate: duplicate version %d (%s and %s)", version, mig.Name, m[2])
		}
		seen := haveUp
		if m[3] == "down" {
			seen = haveDown
		}
		if seen[version] {
			// Same version and name but a different spelling of the number, such as 1_init and 0001_init.
			return nil, fmt.Errorf("migrate: duplicate version %d (%s)", version, name)
		}
		seen[version] = true
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for v := 1; v <= len(byVersion); v++ {
		mig := byVersion[v]
		if mig == nil {
			return nil, fmt.Errorf("migrate: version %d is missing (versions must run 1..%d without gaps)", v, len(byVersion))
		}
		if !haveUp[v] {
			return nil, fmt.Errorf("migrate: %04d_%s: missing up file", v, mig.Name)
		}
		if !haveDown[v] {
			return nil, fmt.Errorf("migrate: %04d_%s: missing down file", v, mig.Name)
		}
		out = append(out, *mig)
	}
	return out, nil
}

// applied is one bookkeeping row.
type applied struct {
	version   int
	name      string
	appliedAt time.Time
}

// state parses src, creates the bookkeeping table if needed and reads it in version order.
func state(ctx context.Context, db *sql.DB, src fs.FS, d Dialect) ([]Migration, []applied, error) {
	migs, err := Parse(src)
	if err != nil {
		return nil, nil, err
	}
	if d.IntType == "" || d.TextType == "" {
		return nil, nil, errors.New("migrate: dialect needs IntType and TextType")
	}
	create := "CREATE TABLE IF NOT EXISTS " + Table + " (version " + d.IntType + " PRIMARY KEY, name " +
		d.TextType + " NOT NULL, applied_at " + d.IntType + " NOT NULL)"
	if _, err := db.ExecContext(ctx, create); err != nil {
		return nil, nil, fmt.Errorf("migrate: create %s: %w", Table, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT version, name, applied_at FROM "+Table+" ORDER BY version")
	if err != nil {
		return nil, nil, fmt.Errorf("migrate: read %s: %w", Table, err)
	}
	defer rows.Close()
	var done []applied
	for rows.Next() {
		var a applied
		var ms int64
		if err := rows.Scan(&a.version, &a.name, &ms); err != nil {
			return nil, nil, fmt.Errorf("migrate: read %s: %w", Table, err)
		}
		a.appliedAt = time.UnixMilli(ms).UTC()
		done = append(done, a)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("migrate: read %s: %w", Table, err)
	}
	return migs, done, nil
}

// checkApplied rejects a database whose recorded versions are not exactly 1..k of the known migrations.
func checkApplied(migs []Migration, done []applied) error {
	for i, a := range done {
		if a.version > len(migs) {
			return fmt.Errorf("migrate: database is at version %d but this binary knows only up to %d; use a newer binary",
				done[len(done)-1].version, len(migs))
		}
		if a.version != i+1 {
			return fmt.Errorf("migrate: database records version %d without version %d", a.version, i+1)
		}
	}
	return nil
}

// Up applies every migration the database has not applied yet, in version order, and returns them. A
// database that records a version the binary does not know is an error and is left untouched.
func Up(ctx context.Context, db *sql.DB, src fs.FS, d Dialect) ([]Migration, error) {
	migs, done, err := state(ctx, db, src, d)
	if err != nil {
		return nil, err
	}
	if err := checkApplied(migs, done); err != nil {
		return nil, err
	}
	var ran []Migration
	for _, m := range migs[len(done):] {
		if err := run(ctx, db, d, m, true); err != nil {
			return ran, err
		}
		ran = append(ran, m)
	}
	return ran, nil
}

// Down reverts the latest steps applied migrations, newest first, and returns them in the order reverted.
// steps 0 (or more than are applied) reverts every applied migration.
func Down(ctx context.Context, db *sql.DB, src fs.FS, d Dialect, steps int) ([]Migration, error) {
	if steps < 0 {
		return nil, fmt.Errorf("migrate: negative steps %d", steps)
	}
	migs, done, err := state(ctx, db, src, d)
	if err != nil {
		return nil, err
	}
	if err := checkApplied(migs, done); err != nil {
		return nil, err
	}
	if steps == 0 || steps > len(done) {
		steps = len(done)
	}
	var ran []Migration
	for i := len(done) - 1; i >= len(done)-steps; i-- {
		m := migs[i]
		if err := run(ctx, db, d, m, false); err != nil {
			return ran, err
		}
		ran = append(ran, m)
	}
	return ran, nil
}

// Status lists every migration of src and whether it is applied, then any applied version src lacks, all
// in version order. It creates the bookkeeping table if it is missing.
func Status(ctx context.Context, db *sql.DB, src fs.FS, d Dialect) ([]State, error) {
	migs, done, err := state(ctx, db, src, d)
	if err != nil {
		return nil, err
	}
	out := make([]State, len(migs))
	for i, m := range migs {
		out[i] = State{Version: m.Version, Name: m.Name}
	}
	for _, a := range done {
		if a.version >= 1 && a.version <= len(migs) {
			out[a.version-1].Applied = true
			out[a.version-1].AppliedAt = a.appliedAt
			continue
		}
		out = append(out, State{Version: a.version, Name: a.name, Applied: true, AppliedAt: a.appliedAt, Unknown: true})
	}
	slices.SortFunc(out, func(a, b State) int { return a.Version - b.Version })
	return out, nil
}

// run applies (up) or reverts one migration in a transaction with its bookkeeping row.
func run(ctx context.Context, db *sql.DB, d Dialect, m Migration, up bool) error {
	verb, body := "apply", m.Up
	if !up {
		verb, body = "revert", m.Down
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %s %04d_%s: %w", verb, m.Version, m.Name, err)
	}
	defer tx.Rollback() // a no-op once committed
	// The bookkeeping row is written before the migration's own SQL: when two migrators race, the loser then
	// fails on the version's primary key (or finds no row to delete) before touching the schema.
	if up {
		q := "INSERT INTO " + Table + " (version, name, applied_at) VALUES (" + ph(d, 1) + ", " + ph(d, 2) + ", " + ph(d, 3) + ")"
		if _, err := tx.ExecContext(ctx, q, m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate: %s %04d_%s: record: %w", verb, m.Version, m.Name, err)
		}
	} else {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+Table+" WHERE version = "+ph(d, 1), m.Version)
		if err != nil {
			return fmt.Errorf("migrate: %s %04d_%s: record: %w", verb, m.Version, m.Name, err)
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			return fmt.Errorf("migrate: %s %04d_%s: no longer applied (concurrent migrator?)", verb, m.Version, m.Name)
		}
	}
	// A blank body (an irreversible step's down file, say) is skipped because not every driver accepts an
	// empty statement.
	if strings.TrimSpace(body) != "" {
		if _, err := tx.ExecContext(ctx, body); err != nil {
			return fmt.Errorf("migrate: %s %04d_%s: %w", verb, m.Version, m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %s %04d_%s: commit: %w", verb, m.Version, m.Name, err)
	}
	return nil
}

func ph(d Dialect, n int) string {
	if d.Numbered {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}
