package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// adminConn connects to the test database outside the store's pool, for setting up faults.
func adminConn(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// wantFault checks that err is ErrUnavailable with the server's SQLSTATE in the chain.
func wantFault(t *testing.T, what string, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.Is(err, storage.ErrUnavailable) || !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Fatalf("%s: error = %v, want ErrUnavailable with SQLSTATE %s", what, err, code)
	}
}

func newDeviceUser() storage.NewUser {
	return storage.NewUser{ID: storagetest.NewID(), Username: "user-" + storagetest.NewID(), Kind: storage.IdentityDevice,
		Identity: "device-" + storagetest.NewID(), Time: base}
}

// TestReadOnlyFault: a database that takes no writes (a standby after a failover, or one set read-only)
// answers writes and the write probe with ErrUnavailable, writes nothing, keeps answering reads, and once
// it takes writes again the store writes again by itself: the connections made while it was read-only,
// which stay read-only for their lifetime, are not kept.
func TestReadOnlyFault(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	st := migrated(t, dbURL)
	u, _ := url.Parse(dbURL)
	db := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
	admin := adminConn(t, dbURL)
	existing := mustUser(t, st)

	exec(t, admin, "ALTER DATABASE "+db+" SET default_transaction_read_only = on")
	st.Pool().Reset() // connections made from now on are read-only, as after a failover to a standby
	nu := newDeviceUser()
	_, err := st.CreateUser(ctx, nu)
	wantFault(t, "CreateUser on a read-only database", err, "25006")
	wantFault(t, "CheckWrite on a read-only database", st.CheckWrite(ctx), "25006")
	_, _, err = st.RevokeUserSessions(ctx, existing.ID, "", "ban", base)
	wantFault(t, "RevokeUserSessions on a read-only database", err, "25006")
	if _, err := st.UserByID(ctx, existing.ID); err != nil {
		t.Errorf("UserByID on a read-only database: %v", err)
	}
	if _, err := st.UserByID(ctx, nu.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID after the failed create = %v, want ErrNotFound", err)
	}

	// The reads above left read-only connections in the pool. The first write to meet one after the fault
	// has passed fails too, and resets the pool (resets are at most a second apart); the next one succeeds.
	time.Sleep(1100 * time.Millisecond)
	exec(t, admin, "ALTER DATABASE "+db+" RESET default_transaction_read_only")
	if _, err := st.CreateUser(ctx, nu); err != nil {
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("first CreateUser once the database takes writes: %v", err)
		}
		if _, err := st.CreateUser(ctx, nu); err != nil {
			t.Fatalf("CreateUser once the database takes writes: %v (a read-only connection was kept)", err)
		}
	}
	for i := range 5 {
		if err := st.CheckWrite(ctx); err != nil {
			t.Errorf("CheckWrite %d once the database takes writes: %v", i, err)
		}
	}
}

// TestDiskFullFault: a write the server refuses for want of disk (SQLSTATE 53100, raised here by a trigger,
// as PostgreSQL raises it when it cannot extend a file) is ErrUnavailable and leaves nothing half-written:
// the account whose device insert failed is not there.
func TestDiskFullFault(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	st := migrated(t, dbURL)
	admin := adminConn(t, dbURL)
	exec(t, admin, `CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`)
	exec(t, admin, `CREATE TRIGGER disk_full BEFORE INSERT ON user_device FOR EACH ROW EXECUTE FUNCTION disk_full()`)

	nu := newDeviceUser()
	_, err := st.CreateUser(ctx, nu)
	wantFault(t, "CreateUser on a full disk", err, "53100")
	if _, err := st.UserByID(ctx, nu.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID after the failed create = %v, want ErrNotFound (nothing half-written)", err)
	}

	exec(t, admin, `DROP TRIGGER disk_full ON user_device`)
	if _, err := st.CreateUser(ctx, nu); err != nil {
		t.Fatalf("CreateUser with room again: %v", err)
	}
}

// TestAdminShutdownFault: the server ending the store's connections (an administrator, a restart) fails at
// most the statements in flight, with ErrUnavailable, and the store reconnects by itself.
func TestAdminShutdownFault(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	st := migrated(t, dbURL)
	admin := adminConn(t, dbURL)
	mustUser(t, st) // the pool holds a connection now
	exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	time.Sleep(50 * time.Millisecond) // let the terminated connections notice
	if _, err := st.CreateUser(ctx, newDeviceUser()); err != nil && !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateUser on a terminated connection = %v, want success or ErrUnavailable", err)
	}
	if _, err := st.CreateUser(ctx, newDeviceUser()); err != nil {
		t.Errorf("CreateUser after reconnecting: %v", err)
	}
	if err := st.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite after reconnecting: %v", err)
	}
}
