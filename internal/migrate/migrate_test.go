package migrate_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite"

	"github.com/latchkeyhq/latchkey/internal/migrate"
)

var sqliteDialect = migrate.Dialect{IntType: "INTEGER", TextType: "TEXT"}

func files(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string // version_name in order
		wantErr string
	}{
		{
			name: "ordered",
			fsys: files(
				"0002_more.up.sql", "b", "0002_more.down.sql", "",
				"0001_init.up.sql", "a", "0001_init.down.sql", "x",
				"README.md", "ignored",
			),
			want: []string{"1_init", "2_more"},
		},
		{name: "empty", fsys: files(), want: nil},
		{
			name:    "gap",
			fsys:    files("0001_a.up.sql", "", "0001_a.down.sql", "", "0003_c.up.sql", "", "0003_c.down.sql", ""),
			wantErr: "version 2 is missing",
		},
		{
			name:    "starts above one",
			fsys:    files("0002_a.up.sql", "", "0002_a.down.sql", ""),
			wantErr: "version 1 is missing",
		},
		{
			name:    "missing down",
			fsys:    files("0001_a.up.sql", "", "0001_a.down.sql", "", "0002_b.up.sql", ""),
			wantErr: "missing down file",
		},
		{
			name:    "missing up",
			fsys:    files("0001_a.down.sql", ""),
			wantErr: "missing up file",
		},
		{
			name:    "duplicate version",
			fsys:    files("0001_a.up.sql", "", "0001_a.down.sql", "", "0001_b.up.sql", "", "0001_b.down.sql", ""),
			wantErr: "duplicate version 1",
		},
		{
			name:    "duplicate spelling",
			fsys:    files("0001_a.up.sql", "", "0001_a.down.sql", "", "1_a.up.sql", ""),
			wantErr: "duplicate version 1",
		},
		{
			name:    "bad name",
			fsys:    files("0001-init.up.sql", ""),
			wantErr: "does not match",
		},
		{
			name:    "version zero",
			fsys:    files("0000_a.up.sql", "", "0000_a.down.sql", ""),
			wantErr: "positive integer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := migrate.Parse(tt.fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for _, m := range migs {
				got = append(got, fmt.Sprintf("%d_%s", m.Version, m.Name))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Parse = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKeepsBodies(t *testing.T) {
	migs, err := migrate.Parse(files("0001_init.up.sql", "CREATE TABLE t (x INT);", "0001_init.down.sql", "DROP TABLE t;"))
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) != 1 || migs[0].Up != "CREATE TABLE t (x INT);" || migs[0].Down != "DROP TABLE t;" {
		t.Errorf("Parse = %+v", migs)
	}
}

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schema is a three-step history whose second step holds two statements.
var schema = files(
	"0001_a.up.sql", "CREATE TABLE a (x INTEGER);",
	"0001_a.down.sql", "DROP TABLE a;",
	"0002_b.up.sql", "CREATE TABLE b (x INTEGER);\nCREATE INDEX b_x ON b (x);",
	"0002_b.down.sql", "DROP TABLE b;",
	"0003_c.up.sql", "CREATE TABLE c (x INTEGER);",
	"0003_c.down.sql", "DROP TABLE c;",
)

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func versions(ms []migrate.Migration) []int {
	var out []int
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func applied(t *testing.T, db *sql.DB, src fstest.MapFS) []int {
	t.Helper()
	st, err := migrate.Status(context.Background(), db, src, sqliteDialect)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	var out []int
	for _, s := range st {
		if s.Applied {
			out = append(out, s.Version)
		}
	}
	return out
}

func TestUpDownStatus(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	before := time.Now().Add(-time.Second)

	st, err := migrate.Status(ctx, db, schema, sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[0].Applied || st[0].Name != "a" || st[2].Version != 3 {
		t.Fatalf("Status on empty database = %+v", st)
	}

	ran, err := migrate.Up(ctx, db, schema, sqliteDialect)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if got := versions(ran); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("Up applied %v, want [1 2 3]", got)
	}
	if got, want := tables(t, db), []string{"a", "b", "c", migrate.Table}; !slices.Equal(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
	st, err = migrate.Status(ctx, db, schema, sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied || s.Unknown || s.AppliedAt.Before(before) || s.AppliedAt.Location() != time.UTC {
			t.Errorf("Status after Up: %+v", s)
		}
	}

	ran, err = migrate.Up(ctx, db, schema, sqliteDialect)
	if err != nil || len(ran) != 0 {
		t.Errorf("second Up = %v, %v; want nothing to do", versions(ran), err)
	}

	ran, err = migrate.Down(ctx, db, schema, sqliteDialect, 2)
	if err != nil {
		t.Fatalf("Down 2: %v", err)
	}
	if got := versions(ran); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("Down 2 reverted %v, want [3 2]", got)
	}
	if got := applied(t, db, schema); !slices.Equal(got, []int{1}) {
		t.Errorf("applied after Down 2 = %v, want [1]", got)
	}
	if got, want := tables(t, db), []string{"a", migrate.Table}; !slices.Equal(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}

	if _, err := migrate.Up(ctx, db, schema, sqliteDialect); err != nil {
		t.Fatalf("Up again: %v", err)
	}
	ran, err = migrate.Down(ctx, db, schema, sqliteDialect, 0)
	if err != nil {
		t.Fatalf("Down 0: %v", err)
	}
	if got := versions(ran); !slices.Equal(got, []int{3, 2, 1}) {
		t.Errorf("Down 0 reverted %v, want [3 2 1]", got)
	}
	if got, want := tables(t, db), []string{migrate.Table}; !slices.Equal(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
	if ran, err := migrate.Down(ctx, db, schema, sqliteDialect, 0); err != nil || len(ran) != 0 {
		t.Errorf("Down on empty = %v, %v; want nothing to do", versions(ran), err)
	}
	if _, err := migrate.Down(ctx, db, schema, sqliteDialect, -1); err == nil {
		t.Error("Down -1 succeeded, want error")
	}
}

func TestUpStopsAtFailure(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	src := files(
		"0001_a.up.sql", "CREATE TABLE a (x INTEGER);",
		"0001_a.down.sql", "DROP TABLE a;",
		"0002_b.up.sql", "CREATE TABLE b (x INTEGER); CREATE TABLE nonsense nonsense;",
		"0002_b.down.sql", "DROP TABLE b;",
	)
	ran, err := migrate.Up(ctx, db, src, sqliteDialect)
	if err == nil || !strings.Contains(err.Error(), "0002_b") {
		t.Fatalf("Up error = %v, want one naming 0002_b", err)
	}
	if got := versions(ran); !slices.Equal(got, []int{1}) {
		t.Errorf("Up applied %v, want [1]", got)
	}
	// The failed migration's first statement must have been rolled back with it.
	if got, want := tables(t, db), []string{"a", migrate.Table}; !slices.Equal(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
	if got := applied(t, db, src); !slices.Equal(got, []int{1}) {
		t.Errorf("applied = %v, want [1]", got)
	}
}

func TestDatabaseNewerThanBinary(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := migrate.Up(ctx, db, schema, sqliteDialect); err != nil {
		t.Fatal(err)
	}
	older := files(
		"0001_a.up.sql", "CREATE TABLE a (x INTEGER);",
		"0001_a.down.sql", "DROP TABLE a;",
	)
	if _, err := migrate.Up(ctx, db, older, sqliteDialect); err == nil || !strings.Contains(err.Error(), "newer binary") {
		t.Errorf("Up with an older binary: error = %v, want a newer-binary error", err)
	}
	if _, err := migrate.Down(ctx, db, older, sqliteDialect, 1); err == nil {
		t.Error("Down with an older binary succeeded, want error")
	}
	st, err := migrate.Status(ctx, db, older, sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[0].Unknown || !st[1].Unknown || st[1].Name != "b" || !st[2].Unknown || !st[2].Applied {
		t.Errorf("Status with an older binary = %+v", st)
	}
	// Nothing may have been reverted.
	if got := applied(t, db, schema); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("applied = %v, want [1 2 3]", got)
	}
}

func TestNumberedPlaceholders(t *testing.T) {
	// SQLite accepts $N parameters too, so the PostgreSQL placeholder style can be exercised here.
	ctx := context.Background()
	db := openDB(t)
	d := migrate.Dialect{Numbered: true, IntType: "BIGINT", TextType: "TEXT"}
	if _, err := migrate.Up(ctx, db, schema, d); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if _, err := migrate.Down(ctx, db, schema, d, 1); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := applied(t, db, schema); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("applied = %v, want [1 2]", got)
	}
}
