package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkeyhq/latchkey/internal/migrate"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations holds the backend's schema migrations, NNNN_name.up.sql and NNNN_name.down.sql at its root.
var Migrations fs.FS = mustSub(embedded, "migrations")

// Dialect describes PostgreSQL to the migrator.
var Dialect = migrate.Dialect{Numbered: true, IntType: "BIGINT", TextType: "TEXT"}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // unreachable: dir is a literal embedded directory
	}
	return sub
}

// Store is a storage.Store over a PostgreSQL database. It is safe for concurrent use.
//
// Every operation is a single statement on its usual path, so it costs one round trip (plus one to
// prepare it the first time a pooled connection runs it; pgx caches prepared statements per connection).
// Only rarer outcomes take a second one, such as telling an unknown session from a revoked one after a
// refresh matched nothing, or a login that finds its account at the session cap (see StartSession).
// Operations that write several rows, such as a login with its session and events, creating an account
// with its device, or revoking sessions together with their feed entries, use data-modifying CTEs, which
// commit atomically as one implicit transaction. LinkIdentity, UnlinkIdentity and RevokeUserSessions, which
// are rare, are the exception: short transactions that lock the account's row before reading it (see
// withLockedUser and qCut).
type Store struct {
	pool *pgxpool.Pool
	// db is a database/sql view of the same pool, for the migrator.
	db *sql.DB
	// desc is what Describe returns.
	desc string
	// atCap is how often logins find their account at the session cap (see StartSession).
	atCap capShare

	// closing is canceled by Close, which ends WatchFeed and WatchSocketCommands.
	closing   context.Context
	closeFunc context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.FeedWatcher       = (*Store)(nil)
	_ storage.SocketFeedWatcher = (*Store)(nil)
)

// Open returns a store for the database at address (see the package documentation for the accepted
// forms). It does not connect: connections are made on first use, so a database that is down makes
// operations fail with storage.ErrUnavailable rather than Open. The schema is not touched; call MigrateUp
// before use. Errors never contain the password.
func Open(ctx context.Context, address string) (*Store, error) {
	cfg, err := parseConfig(address)
	if err != nil {
		return nil, err
	}
	// A server that refuses writes because it is read-only (a primary demoted to a standby by a failover,
	// default_transaction_read_only) leaves every connection made to it read-only for its lifetime, even once
	// the address leads to a writable server again. A connection that meets such an error is closed, and the
	// pool is reset (at most once a second, so that a lasting fault cannot churn connections), so that the
	// next statements connect afresh.
	var reset readOnlyReset
	prev := cfg.ConnConfig.OnPgError
	cfg.ConnConfig.OnPgError = func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		if e.Code == codeReadOnlyTransaction {
			reset.now()
			return false
		}
		return prev == nil || prev(c, e)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open "+redact(address), err)
	}
	reset.pool.Store(pool)
	c := cfg.ConnConfig
	s := &Store{
		pool: pool,
		db:   stdlib.OpenDBFromPool(pool),
		desc: c.User + "@" + net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) + "/" + c.Database,
	}
	s.closing, s.closeFunc = context.WithCancel(context.Background())
	return s, nil
}

// readOnlyReset resets a pool after a read-only error, at most once a second.
type readOnlyReset struct {
	pool atomic.Pointer[pgxpool.Pool]
	last atomic.Int64 // unix nanoseconds of the last reset
}

func (r *readOnlyReset) now() {
	pool := r.pool.Load()
	last, now := r.last.Load(), time.Now().UnixNano()
	if pool == nil || now-last < int64(time.Second) || !r.last.CompareAndSwap(last, now) {
		return
	}
	// Connections in use are closed when they are released, this one among them.
	pool.Reset()
}

// Describe names the database for logs as user@host:port/database, with the values in effect after the
// defaults and the PG* environment variables were applied. It never contains the password.
func (s *Store) Describe() string { return s.desc }

// DB returns a database/sql handle on the store's pool, for migrations, tools and server code.
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the store's connection pool; it is meant for tools and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// MigrateUp applies every pending migration and returns those it applied.
//
// Several nodes starting together on one database all migrate it. The migrator makes every loser of that
// race fail before it changes anything (on the bookkeeping table's creation, or on its version row, once
// the winner has committed), so MigrateUp then starts over, finds the winner's work done, and succeeds.
func (s *Store) MigrateUp(ctx context.Context) ([]migrate.Migration, error) {
	var all []migrate.Migration
	err := retryMigration(ctx, func() error {
		ran, err := migrate.Up(ctx, s.db, Migrations, Dialect)
		all = append(all, ran...)
		return err
	})
	return all, s.migrateErr(err)
}

// MigrateDown reverts the latest steps migrations (0 for all) and returns those it reverted.
func (s *Store) MigrateDown(ctx context.Context, steps int) ([]migrate.Migration, error) {
	ran, err := migrate.Down(ctx, s.db, Migrations, Dialect, steps)
	return ran, s.migrateErr(err)
}

// MigrateStatus reports every migration and whether it is applied. It creates the bookkeeping table if it
// is missing, and starts over if another node created it at the same time.
func (s *Store) MigrateStatus(ctx context.Context) ([]migrate.State, error) {
	var states []migrate.State
	err := retryMigration(ctx, func() error {
		var err error
		states, err = migrate.Status(ctx, s.db, Migrations, Dialect)
		return err
	})
	return states, s.migrateErr(err)
}

// Codes of the errors a migrator gets for losing a race with another one: the version row or the
// bookkeeping table's catalog rows already exist (unique_violation), the table or its row type already
// exists (duplicate_table, duplicate_object: CREATE TABLE IF NOT EXISTS checks before it inserts), or a
// serialization failure.
var migrationRaceCodes = []string{codeUniqueViolation, "42P07", "42710", codeSerializationFailure}

// retryMigration runs fn until it succeeds, fails other than by losing a race with another migrator, or
// has run maxAttempts times.
func retryMigration(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !slices.Contains(migrationRaceCodes, pgCode(err)) {
			return err
		}
		// The winner has committed by the time the loser fails, so a short pause only spaces out the
		// attempts of a database that keeps failing the same way.
		t := time.NewTimer(time.Duration(attempt) * 20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// migrateErr marks a migrator error caused by an unreachable database with storage.ErrUnavailable. The
// migrator's own message already names the step.
func (s *Store) migrateErr(err error) error {
	if err != nil && unavailable(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// StoreID implements storage.Sessions.
func (s *Store) StoreID(ctx context.Context) (string, error) {
	var id string
	if err := s.pool.QueryRow(ctx, qStoreID).Scan(&id); err != nil {
		return "", wrap("store id", err)
	}
	return id, nil
}

// CheckWrite implements storage.Store: it records the time of the check in the store's identity row. A
// server that takes no writes (a standby, a database set read-only) fails it with SQLSTATE 25006, a full
// disk with 53100, both storage.ErrUnavailable.
func (s *Store) CheckWrite(ctx context.Context) error {
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qCheckWrite)
		return err
	})
	if err != nil {
		return wrap("check write", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Close stops any WatchFeed and WatchSocketCommands and closes the pool, waiting for connections in use to be released. It is safe
// to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeFunc()
		s.closeErr = s.db.Close()
		s.pool.Close()
	})
	return s.closeErr
}

// msTime returns t as it reads back after a round trip through the database: at millisecond precision
// (truncated, like the SQLite backend) and in UTC. Every time the store writes goes through it, so that
// comparisons in SQL and the values handed back agree with what is stored.
func msTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// optTime is the stored form of an optional time: NULL for the zero Time.
func optTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: msTime(t), Valid: true}
}

// fromOptTime converts a nullable column back; NULL is the zero Time.
func fromOptTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// isUUID reports whether s is a UUID in the canonical 8-4-4-4-12 hex form. Ids cross the contract as text
// but are UUID columns here: text that is not a UUID cannot name a row, and the server would reject it
// with a type error, so lookups answer ErrNotFound for it without a round trip.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// queryAll runs query and reads every row it returns with scan; no rows make a nil slice.
func queryAll[T any](ctx context.Context, pool *pgxpool.Pool, scan func(pgx.Row, *T) error, query string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]T(nil), rows, func(row pgx.CollectableRow) (T, error) {
		var v T
		err := scan(row, &v)
		return v, err
	})
}

// errInvalidID is returned by writes given an id that is not a UUID.
var errInvalidID = errors.New("id is not a UUID")
