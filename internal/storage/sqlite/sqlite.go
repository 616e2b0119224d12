// Package sqlite is the embedded default storage backend, a pure-Go SQLite database in one file.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkeyhq/latchkey/internal/migrate"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations holds the backend's schema migrations, NNNN_name.up.sql and NNNN_name.down.sql at its root.
var Migrations fs.FS = mustSub(embedded, "migrations")

// Dialect describes SQLite to the migrator.
var Dialect = migrate.Dialect{IntType: "INTEGER", TextType: "TEXT"}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // unreachable: dir is a literal embedded directory
	}
	return sub
}

// busyTimeout bounds how long a statement waits for a lock held by another process using the same file.
const busyTimeout = 10 * time.Second

// Store is a storage.Store over one SQLite database file. It is safe for concurrent use.
//
// It keeps two pools on the file. Reads use a pool of read-only connections, which WAL lets run in
// parallel with each other and with the writer. Writes use a pool of exactly one connection: SQLite admits
// one writer at a time anyway, and queueing writers in Go is fair and prompt, whereas several writer
// connections would wait for each other in SQLite's sleeping busy handler while holding connections that
// readers could use.
type Store struct {
	read  pool
	write pool
	// commit runs every write on the write pool's connection, many to a transaction.
	commit *committer
	// guard is set by OpenGuarded: the marker file that records which store the database holds.
	guard *guard
	// path and file are the database file as Open found it, so that CheckWrite notices when it was deleted
	// or replaced while open: SQLite in WAL mode then goes on writing to the unlinked file, and every write
	// is lost at the next start.
	path string
	file os.FileInfo
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating it and its parent directory if needed) the database file at path. The schema is not
// touched; call MigrateUp before use. Open does not look for a marker file; the server opens its database
// with OpenGuarded.
//
// Write transactions begin IMMEDIATE, taking the write lock up front and waiting for it under the busy
// timeout: a deferred transaction that reads first and then writes can fail at once with SQLITE_BUSY when
// another process wrote in between, which no timeout can help with.
//
// Only Open creates the file. Connections open it with SQLite's mode=rw, so that a connection opened later
// (after a fault replaced one, see Store.wrap) fails with SQLITE_CANTOPEN if the file has gone, instead of
// silently starting an empty database in its place.
func Open(ctx context.Context, path string) (*Store, error) {
	// The driver reads its options from the text after the first '?', and SQLite gives "file:" names and
	// ":memory:" their own meaning (an in-memory database is private to each pooled connection), so only
	// plain file paths are accepted.
	if !plainPath(path) {
		return nil, fmt.Errorf("sqlite: %q is not a plain database file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	name, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// journal_size_limit: a WAL the committer has started over is cut back to 64 MiB at most (see
	// committer.checkpoint), so a burst does not keep its size on disk.
	dsn := fmt.Sprintf("%s?mode=rw&_txlock=immediate&_busy_timeout=%d&_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL"+
		"&_pragma=journal_size_limit(67108864)",
		name, busyTimeout.Milliseconds())
	s := &Store{path: path}
	if s.file, err = os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The writer opens first: it switches the file to WAL before any reader connects.
	if s.write.db, err = openPool(ctx, dsn, 1); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	if s.read.db, err = openPool(ctx, dsn+"&_query_only=1", readers); err != nil {
		s.write.db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.write.peer, s.write.peerIdle = s.read.db, readers
	s.commit = newCommitter(s)
	return s, nil
}

// plainPath reports whether path names a database file the way Open accepts it.
func plainPath(path string) bool {
	return path != "" && !strings.HasPrefix(path, ":memory:") && !strings.HasPrefix(path, "file:") && !strings.ContainsRune(path, '?')
}

// createFile creates an empty database file at path unless one exists. SQLite reads an empty file as an
// empty database.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// fileURI returns the SQLite URI of the file at path (file:///abs/path, with the characters URIs reserve
// escaped), so that the connection can take SQLite's own mode parameter.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// openPool opens a pool of at most n connections and checks that the file is in WAL mode.
func openPool(ctx context.Context, dsn string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// Opening a connection runs the pragmas of the DSN, so connections are kept rather than churned.
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, err
	}
	// SQLite silently keeps the old journal mode where WAL is unsupported (some network file systems); the
	// concurrency this backend relies on needs WAL, so that is an error.
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("journal mode is %q, want wal", mode)
	}
	return db, nil
}

// DB returns the write pool (one connection), which can run anything; it is meant for tools and tests.
func (s *Store) DB() *sql.DB { return s.write.db }

// MigrateUp applies every pending migration and returns those it applied. On a store opened with
// OpenGuarded it then checks the store's id against the marker file, and writes the marker when there was
// none (or database.create_fresh is set).
func (s *Store) MigrateUp(ctx context.Context) ([]migrate.Migration, error) {
	ran, err := migrate.Up(ctx, s.write.db, Migrations, Dialect)
	if err == nil && s.guard != nil {
		err = s.checkMarker(ctx)
	}
	return ran, err
}

// MigrateDown reverts the latest steps migrations (0 for all) and returns those it reverted. On a store
// opened with OpenGuarded, reverting the migration that made the store's id removes the marker file too:
// the next MigrateUp makes a new store, deliberately.
func (s *Store) MigrateDown(ctx context.Context, steps int) ([]migrate.Migration, error) {
	ran, err := migrate.Down(ctx, s.write.db, Migrations, Dialect, steps)
	if s.guard != nil {
		if merr := s.dropMarker(ctx); err == nil {
			err = merr
		}
	}
	return ran, err
}

// MigrateStatus reports every migration and whether it is applied.
func (s *Store) MigrateStatus(ctx context.Context) ([]migrate.State, error) {
	return migrate.Status(ctx, s.write.db, Migrations, Dialect)
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.stmt(ctx, qPing).QueryRowContext(ctx).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// StoreID implements storage.Sessions.
func (s *Store) StoreID(ctx context.Context) (string, error) {
	var id string
	if err := s.read.stmt(ctx, qStoreID).QueryRowContext(ctx).Scan(&id); err != nil {
		return "", s.wrap("store id", err)
	}
	return id, nil
}

// CheckWrite implements storage.Store: it records the time of the check in the store's identity row, in a
// write transaction of its own. A database file deleted or replaced since Open fails it too.
func (s *Store) CheckWrite(ctx context.Context) error {
	if fi, err := os.Stat(s.path); err != nil || !os.SameFile(fi, s.file) {
		return fmt.Errorf("sqlite: check write: %w: %s was deleted or replaced while open", storage.ErrUnavailable, s.path)
	}
	if err := s.exec(ctx, qCheckWrite); err != nil {
		return s.wrap("check write", err)
	}
	return nil
}

// Close stops the committer, releases the prepared statements and closes both pools.
func (s *Store) Close() error {
	s.commit.close()
	rerr := s.read.close()
	werr := s.write.close()
	return errors.Join(rerr, werr)
}

// exec runs the write statement id with args through the committer (see committer), unwrapped errors.
func (s *Store) exec(ctx context.Context, id stmtID, args ...any) error {
	return s.commit.write(ctx, func(w *wtx) error {
		_, err := w.stmt(id).ExecContext(w.ctx, args...)
		return err
	})
}

// stmtID names one of the constant queries in queries.
type stmtID int

// pool is a connection pool with its prepared statements. A *sql.Stmt keeps one compiled statement per
// connection of its pool, which spares SQLite a parse and plan per call; on the account read that is most
// of the cost.
type pool struct {
	db    *sql.DB
	stmts [numStmts]atomic.Pointer[sql.Stmt]
	// stale is set after a fault that can outlast its cause on the connection that met it (see
	// Store.wrap); the next statement on the pool then replaces a connection first.
	stale atomic.Bool
	// peer is the other pool on the same file, whose idle connections renew closes too, and peerIdle how
	// many idle connections it keeps otherwise.
	peer     *sql.DB
	peerIdle int
}

// stmt returns the prepared statement for id, preparing it on first use. Preparing is lazy because the
// tables do not exist until MigrateUp has run, and a failure is not remembered, so a later call can
// succeed. The error travels inside the result so that callers handle a single error path.
func (p *pool) stmt(ctx context.Context, id stmtID) preparedStmt {
	if p.stale.Load() {
		p.renew(ctx)
	}
	if st := p.stmts[id].Load(); st != nil {
		return preparedStmt{st: st}
	}
	st, err := p.db.PrepareContext(ctx, queries[id])
	if err != nil {
		return preparedStmt{err: err}
	}
	if !p.stmts[id].CompareAndSwap(nil, st) {
		st.Close()
		return preparedStmt{st: p.stmts[id].Load()}
	}
	return preparedStmt{st: st}
}

// renew closes one of the pool's connections (the write pool has only one) if the pool is stale, so that
// the next statement runs on a connection opened afresh: a connection opened while the file was read-only
// stays read-only after the file is writable again, and one whose file was deleted keeps failing. It also
// closes the peer pool's idle connections, because SQLite shares a file's WAL index (the -shm file) between
// the connections of a process, and one opened read-only keeps every connection read-only until all of them
// have closed. A connection opened while the cause lasts fails the same way, and is replaced again after
// its fault. The prepared statements prepare themselves again on the new connections.
func (p *pool) renew(ctx context.Context) {
	if !p.stale.CompareAndSwap(true, false) {
		return
	}
	if c, err := p.db.Conn(ctx); err == nil {
		// database/sql closes a connection whose Raw function reports it bad instead of keeping it.
		c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
	}
	if p.peer != nil {
		p.peer.SetMaxIdleConns(0) // closes the idle ones now
		p.peer.SetMaxIdleConns(p.peerIdle)
	}
}

func (p *pool) close() error {
	for i := range p.stmts {
		if st := p.stmts[i].Swap(nil); st != nil {
			st.Close()
		}
	}
	return p.db.Close()
}

// preparedStmt is a *sql.Stmt or the error that preparing it returned.
type preparedStmt struct {
	st  *sql.Stmt
	err error
}

func (p preparedStmt) QueryRowContext(ctx context.Context, args ...any) rowScanner {
	if p.err != nil {
		return errRow{p.err}
	}
	return p.st.QueryRowContext(ctx, args...)
}

func (p preparedStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	if p.err != nil {
		return nil, p.err
	}
	return p.st.QueryContext(ctx, args...)
}

func (p preparedStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	if p.err != nil {
		return nil, p.err
	}
	return p.st.ExecContext(ctx, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

// queryAll runs a prepared query and reads every row it returns with scan; no rows make a nil slice.
func queryAll[T any](ctx context.Context, st preparedStmt, scan func(rowScanner, *T) error, args ...any) ([]T, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		out = append(out, *new(T))
		if err := scan(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// constraint reports the extended result code of a constraint violation and SQLite's message, which names
// the failed table.column ("UNIQUE constraint failed: users.email"); ok is false for other errors.
func constraint(err error) (code int, msg string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return 0, "", false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return se.Code(), se.Error(), true
	}
	return 0, "", false
}

// uniqueColumn returns the table.column of a UNIQUE or PRIMARY KEY violation, or "" for any other error.
func uniqueColumn(err error) string {
	code, msg, ok := constraint(err)
	if !ok || code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return ""
	}
	// The driver puts the generic "constraint failed: " before SQLite's own message, so the last one counts.
	i := strings.LastIndex(msg, "constraint failed: ")
	if i < 0 {
		return ""
	}
	after := msg[i+len("constraint failed: "):]
	// A composite key lists "t.a, t.b"; a driver may append " (2067)".
	col, _, _ := strings.Cut(after, " ")
	return strings.TrimSuffix(col, ",")
}

func isForeignKey(err error) bool {
	code, _, ok := constraint(err)
	return ok && code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// millis converts t to the stored form: unix milliseconds, or NULL for the zero Time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis converts a stored time back; 0 (the scan of NULL through coalesce) is the zero Time.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// truncate returns t as it reads back after a round trip through the database.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fromMillis(t.UnixMilli())
}
