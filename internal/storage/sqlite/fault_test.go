package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkeyhq/latchkey/internal/storage"
	sqlitestore "github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// Store faults are made for real where SQLite allows it in a test: PRAGMA query_only on the write
// connection answers writes with SQLITE_READONLY, as a file opened read-only does; PRAGMA max_page_count at
// the current size answers growth with SQLITE_FULL, as a full disk does; a second connection holding the
// write lock past a short busy timeout gives SQLITE_BUSY. A chmod of the file does not do: SQLite keeps the
// descriptor it opened, which a mode change does not affect (and root ignores modes anyway), so the chmod
// test below only runs for an unprivileged user, on a store opened while the file was read-only.

func event(reason string) storage.Event {
	return storage.Event{Time: time.Now(), Kind: storage.EventSessionCreated, UserID: storagetest.NewID(), Reason: reason}
}

func newDeviceUser(username string) storage.NewUser {
	return storage.NewUser{ID: storagetest.NewID(), Username: username, Kind: storage.IdentityDevice,
		Identity: "device-" + storagetest.NewID(), Time: time.Now()}
}

// wantFault checks that err is ErrUnavailable with SQLite's code (primary) in the chain.
func wantFault(t *testing.T, what string, err error, code int) {
	t.Helper()
	var se *sqlite.Error
	if !errors.Is(err, storage.ErrUnavailable) || !errors.As(err, &se) || se.Code()&0xff != code {
		t.Fatalf("%s: error = %v, want ErrUnavailable with SQLite code %d", what, err, code)
	}
}

func pragma(t *testing.T, st *sqlitestore.Store, q string) {
	t.Helper()
	if _, err := st.DB().ExecContext(t.Context(), "PRAGMA "+q); err != nil {
		t.Fatalf("PRAGMA %s: %v", q, err)
	}
}

// TestReadOnlyFault: writes on a connection that cannot write are ErrUnavailable, write nothing, and the
// store recovers by itself: the faulty connection is replaced, so a store whose file was read-only when
// its connection opened (the state query_only stands in for) writes again once the file is writable.
func TestReadOnlyFault(t *testing.T) {
	ctx := t.Context()
	st := newStoreAt(t, filepath.Join(t.TempDir(), "latchkey.db"))
	pragma(t, st, "query_only = 1")
	nu := newDeviceUser("readonly")
	_, err := st.CreateUser(ctx, nu)
	wantFault(t, "CreateUser on a read-only connection", err, sqlite3.SQLITE_READONLY)
	if _, err := st.UserByID(ctx, nu.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID after the failed create = %v, want ErrNotFound", err)
	}
	if _, err := st.CreateUser(ctx, nu); err != nil {
		t.Fatalf("CreateUser after the fault: %v (the read-only connection was kept)", err)
	}
	if err := st.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite after the fault: %v", err)
	}
}

// TestReadOnlyFileFault is TestReadOnlyFault with real read-only files: a store opened while the database
// was read-only (its -wal and -shm files too, as SQLite creates them with the database's mode) reads but
// cannot write; once the files are writable again, writes succeed without a restart. SQLite shares the
// -shm mapping between a process's connections, so this also needs the read connections replaced.
func TestReadOnlyFileFault(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file modes; TestReadOnlyFault covers the same path with PRAGMA query_only")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	newStoreAt(t, path).Close()
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	// An earlier process that opened the read-only file left read-only -wal and -shm files behind.
	earlier, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	earlier.Exec(`UPDATE store_identity SET check_time = 0`)
	earlier.Close()
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Fatalf("files = %q, want the database, -wal and -shm", files)
	}

	st := open(t, path)
	if _, err := st.StoreID(ctx); err != nil {
		t.Fatalf("StoreID on a read-only file: %v", err)
	}
	err = st.AppendEvents(ctx, event("read-only file"))
	wantFault(t, "AppendEvents on a read-only file", err, sqlite3.SQLITE_READONLY)
	wantFault(t, "CheckWrite on a read-only file", st.CheckWrite(ctx), sqlite3.SQLITE_READONLY)
	for _, f := range files {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AppendEvents(ctx, event("writable again")); err != nil {
		t.Fatalf("AppendEvents once the files are writable: %v", err)
	}
	if err := st.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite once the files are writable: %v", err)
	}
}

// TestFullFault: a transaction that runs out of space fails whole, with ErrUnavailable, and the store
// writes again once there is room.
func TestFullFault(t *testing.T) {
	ctx := t.Context()
	st := newStoreAt(t, filepath.Join(t.TempDir(), "latchkey.db"))
	u, err := st.CreateUser(ctx, newDeviceUser("full"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const sessions = 300
	for range sessions {
		s := storage.Session{ID: storagetest.NewID(), UserID: u.ID, CreateTime: now, RefreshTime: now, ExpireTime: now.Add(time.Hour)}
		if _, err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var pages int
	if err := st.DB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	pragma(t, st, "max_page_count = "+strconv.Itoa(pages))

	// Revoking every session one by one writes a feed entry each, more than the free space holds.
	_, err = st.RevokeOldestSessions(ctx, u.ID, "", 0, "session cap", now)
	wantFault(t, "RevokeOldestSessions on a full database", err, sqlite3.SQLITE_FULL)
	live, err := st.ListUserSessions(ctx, u.ID, now, storage.SessionCursor{}, sessions+1)
	if err != nil || len(live) != sessions {
		t.Errorf("live sessions after the failed revoke = %d, %v; want all %d (nothing half-written)", len(live), err, sessions)
	}
	if feed, err := st.RevocationsSince(ctx, 0, now, 10); err != nil || len(feed) != 0 {
		t.Errorf("feed after the failed revoke = %d entries, %v; want none", len(feed), err)
	}

	pragma(t, st, "max_page_count = 1073741823")
	revs, err := st.RevokeOldestSessions(ctx, u.ID, "", 0, "session cap", now)
	if err != nil || len(revs) != sessions {
		t.Fatalf("RevokeOldestSessions with room again = %d, %v; want %d", len(revs), err, sessions)
	}
}

// TestBusyFault: another process holding the write lock past the busy timeout is ErrUnavailable, and the
// next write after it lets go succeeds.
func TestBusyFault(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st := newStoreAt(t, path)
	other, err := sql.Open("sqlite", path+"?_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	pragma(t, st, "busy_timeout = 100") // the store's own 10 s would make a slow test

	wantFault(t, "AppendEvents while another process holds the lock", st.AppendEvents(ctx, event("busy")), sqlite3.SQLITE_BUSY)
	// A caller's deadline that passes while waiting for the lock is a fault too (context.DeadlineExceeded).
	pragma(t, st, "busy_timeout = 10000")
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = st.CheckWrite(short)
	cancel()
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CheckWrite past its deadline = %v, want ErrUnavailable and DeadlineExceeded", err)
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, event("after busy")); err != nil {
		t.Fatalf("AppendEvents after the lock was released: %v", err)
	}
}

// TestCanceledIsNotAFault: the caller giving up is not the store's fault.
func TestCanceledIsNotAFault(t *testing.T) {
	st := newStoreAt(t, filepath.Join(t.TempDir(), "latchkey.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := st.AppendEvents(ctx, event("canceled"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AppendEvents with a canceled context = %v, want context.Canceled only", err)
	}
}

// TestCheckWriteNoticesDeletedFile: SQLite in WAL mode goes on writing to a database file deleted while
// open, and every such write is lost at the next start; the write probe says so.
func TestCheckWriteNoticesDeletedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st := newStoreAt(t, path)
	if err := st.CheckWrite(t.Context()); err != nil {
		t.Fatalf("CheckWrite: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckWrite(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CheckWrite after the file was deleted = %v, want ErrUnavailable", err)
	}
}
