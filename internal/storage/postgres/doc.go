// Package postgres is the PostgreSQL storage backend, built on pgx with embedded migrations.
//
// # Addresses
//
// Open accepts a postgres:// or postgresql:// URL, or Nakama's database.address form without a scheme
// (user:password@host:port/dbname, user@host:port/dbname, host:port), which it reads as a postgresql://
// URL, as Nakama does. When the address names no database (and PGDATABASE is unset) the database is
// DefaultDatabase, "latchkey"; when it sets no sslmode (and PGSSLMODE is unset) the sslmode is "prefer", as
// in Nakama. Everything else (user, password, TLS files, connect_timeout, ...) comes from the URL, then the
// PG* environment variables, then ~/.pgpass, as in any libpq or pgx program; with no user anywhere, pgx
// uses the operating system's user name (Nakama would use "root"). The pool holds at most
// max(4, 4×GOMAXPROCS) connections unless the URL sets pool_max_conns, and a connection attempt gives up
// after 10 s unless it sets connect_timeout. Passwords never appear in errors: addresses are redacted first.
//
// # Portability
//
// The SQL stays within what CockroachDB also accepts: UUID, TIMESTAMPTZ, JSONB and BYTEA columns,
// data-modifying CTEs, RETURNING, SELECT ... FOR UPDATE, GREATEST, window functions; no SERIAL, sequences,
// advisory locks or LOCK TABLE. The exceptions:
//
//   - LISTEN/NOTIFY. The two revoke statements call pg_notify('latchkey_feed', seq) and WatchFeed runs
//     LISTEN latchkey_feed on a dedicated connection. CockroachDB has neither: a port drops the pg_notify
//     call and WatchFeed, and followers fall back to polling the feed.
//   - Feed order relies on row locking under READ COMMITTED (PostgreSQL's default): an append increments
//     the one-row latchkey_feed_counter and, after waiting for another append's lock, re-reads the value
//     that append committed. Under REPEATABLE READ or SERIALIZABLE (CockroachDB's default) contended
//     appends fail with SQLSTATE 40001 instead; the store retries every write that fails so, which keeps it
//     correct but makes contended appends slower.
//   - Migrations rely on transactional DDL: each one runs in a single transaction with its bookkeeping row,
//     which CockroachDB supports only partly for schema changes.
//   - Unique violations are told apart by constraint name (users_username_key, users_email_key, ...), as
//     PostgreSQL names them in its errors; CockroachDB reports the same names for the explicitly named
//     constraints of the migrations, but this is untested.
package postgres
