package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/migrate"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return newStoreAt(t, filepath.Join(t.TempDir(), "latchkey.db"))
}

// newStoreAt opens and migrates the database at path.
func newStoreAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st := open(t, path)
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// inspect lists the tables and the explicitly created indexes; sqlite_sequence belongs to SQLite
// (AUTOINCREMENT bookkeeping) and outlives the tables that used it.
func inspect(t *testing.T, st storagetest.Migratable) storagetest.Schema {
	t.Helper()
	db := st.(*sqlite.Store).DB()
	list := func(q string) []string {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := []string{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return storagetest.Schema{
		Tables:  list(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`),
		Indexes: list(`SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`),
	}
}

func TestMigrations(t *testing.T) {
	all, err := migrate.Parse(sqlite.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.RunMigrations(t, storagetest.MigrationTarget{
		Open: func(t *testing.T) storagetest.Migratable {
			return open(t, filepath.Join(t.TempDir(), "nested", "dir", "latchkey.db"))
		},
		Count:   len(all),
		Inspect: inspect,
		Head: storagetest.Schema{
			Tables: []string{"imports", migrate.Table, "redeemed_tickets", "security_events", "session_revocations", "sessions",
				"socket_commands", "socket_nodes", "sockets", "store_identity", "ticket_keys", "user_device", "users"},
			Indexes: []string{"redeemed_tickets_expire_time_idx", "security_events_event_time_idx", "security_events_user_id_idx",
				"session_revocations_expire_time_idx", "sessions_expire_time_idx", "sessions_user_idx",
				"socket_commands_command_time_idx", "sockets_node_idx", "sockets_user_id_idx",
				"user_device_user_id_idx", "users_apple_id_key", "users_facebook_id_key",
				"users_facebook_instant_game_id_key", "users_gamecenter_id_key", "users_google_id_key",
				"users_steam_id_key"},
		},
		Base: storagetest.Schema{Tables: []string{migrate.Table}, Indexes: []string{}},
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	u, err := st.CreateUser(ctx, storage.NewUser{
		ID: "00000000-0000-4000-8000-000000000001", Username: "persisted", Kind: storage.IdentityEmail,
		Identity: "persisted@example.com", Password: []byte("hash"), Time: created,
	})
	if err != nil {
		t.Fatal(err)
	}
	sess := storage.Session{ID: "00000000-0000-4000-8000-000000000002", UserID: u.ID, CreateTime: created, RefreshTime: created, ExpireTime: created.Add(time.Hour)}
	if _, err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	rev, err := st.RevokeSession(ctx, sess.ID, "logout", created.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = open(t, path)
	if ran, err := st.MigrateUp(ctx); err != nil || len(ran) != 0 {
		t.Errorf("MigrateUp on a migrated file = %d migrations, %v; want none", len(ran), err)
	}
	got, err := st.UserByIdentity(ctx, storage.IdentityEmail, "persisted@example.com")
	if err != nil {
		t.Fatalf("UserByIdentity after reopen: %v", err)
	}
	if got.ID != u.ID || string(got.Password) != "hash" || !got.CreateTime.Equal(created) {
		t.Errorf("user after reopen = %+v, want %+v", got, u)
	}
	s, err := st.SessionByID(ctx, sess.ID)
	if err != nil || !s.Revoked() {
		t.Errorf("session after reopen = %+v, %v; want revoked", s, err)
	}
	feed, err := st.RevocationsSince(ctx, 0, created, 10)
	if err != nil || len(feed) != 1 || feed[0].Seq != rev.Seq {
		t.Errorf("feed after reopen = %+v, %v; want seq %d", feed, err, rev.Seq)
	}
}

// TestTwoStoresOneFile stands in for two processes sharing the database: their writers meet in SQLite's
// lock rather than in one pool, and must wait for each other instead of failing with SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	a := open(t, path)
	if _, err := a.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	b := open(t, path)
	owner, err := a.CreateUser(ctx, storage.NewUser{
		ID: "00000000-0000-4000-8000-000000000001", Username: "owner", Kind: storage.IdentityDevice, Identity: "device-owner", Time: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sess := storage.Session{ID: "00000000-0000-4000-8000-000000000002", UserID: owner.ID, CreateTime: now, RefreshTime: now, ExpireTime: now.Add(time.Hour)}
	if _, err := a.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	const perStore = 8
	var wg sync.WaitGroup
	errs := make(chan error, 4*perStore)
	refreshed := make(chan struct{}, 2*perStore)
	for i := range 2 * perStore {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			_, err := st.CreateUser(ctx, storage.NewUser{
				ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", 100+i), Username: fmt.Sprint("user", i),
				Kind: storage.IdentityDevice, Identity: fmt.Sprint("device-", i), Time: now,
			})
			errs <- err
		})
		wg.Go(func() {
			_, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: sess.ID, ExpectSeq: 0, RefreshTime: now, ExpireTime: now.Add(time.Hour)})
			switch {
			case err == nil:
				refreshed <- struct{}{}
			case !errors.Is(err, storage.ErrConflict):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(refreshed); n != 1 {
		t.Errorf("%d refreshes at one seq succeeded across two stores, want 1", n)
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "x.db?mode=ro")} {
		if st, err := sqlite.Open(t.Context(), path); err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded, want error", path)
		}
	}
}

// BenchmarkUserByID measures the account read on the hot path of GET /v2/account.
func BenchmarkUserByID(b *testing.B) { storagetest.BenchUserByID(b, newStore(b)) }

// TestAppendEventsAtomic checks that a batch whose last insert fails leaves none of its events behind. A
// trigger stands in for a failure, since SQLite itself accepts any event.
func TestAppendEventsAtomic(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	_, err := st.DB().ExecContext(ctx, `CREATE TRIGGER fail_event BEFORE INSERT ON security_events
		WHEN NEW.reason = 'fail' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	if err != nil {
		t.Fatal(err)
	}
	user := "00000000-0000-4000-8000-000000000001"
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := storage.Event{Time: at, Kind: storage.EventSessionCreated, UserID: user}
	bad := storage.Event{Time: at, Kind: storage.EventSessionCreated, UserID: user, Reason: "fail"}
	if err := st.AppendEvents(ctx, ok, ok, bad); err == nil {
		t.Fatal("AppendEvents with a failing event succeeded")
	}
	if evs, err := st.ListEvents(ctx, user, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after a failed append = %+v, %v; want none", evs, err)
	}
	// The write connection is usable again.
	if err := st.AppendEvents(ctx, ok); err != nil {
		t.Fatalf("AppendEvents after a failed one: %v", err)
	}
	if evs, err := st.ListEvents(ctx, user, 0, 10); err != nil || len(evs) != 1 {
		t.Errorf("events = %+v, %v; want one", evs, err)
	}
}
