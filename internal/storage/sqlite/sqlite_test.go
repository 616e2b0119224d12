package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	st := open(t, filepath.Join(t.TempDir(), "latchkey.db"))
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

func tables(t *testing.T, st *sqlite.Store) []string {
	t.Helper()
	// sqlite_sequence belongs to SQLite (AUTOINCREMENT bookkeeping) and outlives the tables that used it.
	rows, err := st.DB().Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
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

func TestMigrateUpDownUp(t *testing.T) {
	ctx := t.Context()
	st := open(t, filepath.Join(t.TempDir(), "nested", "dir", "latchkey.db"))
	all, err := migrate.Parse(sqlite.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	head := all[len(all)-1].Version
	applied := func(want int) {
		t.Helper()
		states, err := st.MigrateStatus(ctx)
		if err != nil {
			t.Fatalf("MigrateStatus: %v", err)
		}
		n := 0
		for _, s := range states {
			if s.Applied {
				n++
			}
		}
		if n != want || len(states) != len(all) {
			t.Errorf("MigrateStatus = %+v, want %d of %d applied", states, want, len(all))
		}
	}

	applied(0)
	for pass := range 2 {
		ran, err := st.MigrateUp(ctx)
		if err != nil {
			t.Fatalf("pass %d: MigrateUp: %v", pass, err)
		}
		if len(ran) != len(all) || ran[len(ran)-1].Version != head {
			t.Errorf("pass %d: MigrateUp applied %d migrations, want %d", pass, len(ran), len(all))
		}
		applied(len(all))
		want := []string{migrate.Table, "session_revocations", "sessions", "user_device", "users"}
		if got := tables(t, st); !slices.Equal(got, want) {
			t.Errorf("pass %d: tables at head = %v, want %v", pass, got, want)
		}
		// The schema at head must be usable, not just present.
		if _, err := st.CreateUser(ctx, storage.NewUser{
			ID: "00000000-0000-4000-8000-000000000001", Username: "u", Kind: storage.IdentityDevice, Identity: "device-0001", Time: time.Now(),
		}); err != nil {
			t.Fatalf("pass %d: CreateUser at head: %v", pass, err)
		}

		if _, err := st.MigrateDown(ctx, 0); err != nil {
			t.Fatalf("pass %d: MigrateDown: %v", pass, err)
		}
		applied(0)
		if got, want := tables(t, st), []string{migrate.Table}; !slices.Equal(got, want) {
			t.Errorf("pass %d: tables after MigrateDown = %v, want %v", pass, got, want)
		}
		var indexes int
		if err := st.DB().QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL`).Scan(&indexes); err != nil {
			t.Fatal(err)
		}
		if indexes != 0 {
			t.Errorf("pass %d: %d indexes left after MigrateDown", pass, indexes)
		}
	}
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
	if err := st.CreateSession(ctx, sess); err != nil {
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
	if err := a.CreateSession(ctx, sess); err != nil {
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
func BenchmarkUserByID(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	u, err := st.CreateUser(ctx, storage.NewUser{
		ID: "00000000-0000-4000-8000-000000000001", Username: "bench", Kind: storage.IdentityDevice,
		Identity: "device-bench-0001", Time: time.Now(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.UserByID(ctx, u.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
