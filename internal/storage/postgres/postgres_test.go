package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/migrate"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// open opens a store on url and closes it when the test ends.
func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// migrated opens a store on url and migrates it to head.
func migrated(t testing.TB, url string) *postgres.Store {
	t.Helper()
	st := open(t, url)
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return st
}

// newStore returns a migrated store on a fresh database.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	return migrated(t, pgtest.NewDatabase(t))
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// base is far from time.Now, like the conformance suite's clock, so that using the real clock shows.
var base = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func mustUser(t testing.TB, st storage.Store) *storage.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), storage.NewUser{
		ID: storagetest.NewID(), Username: "user-" + storagetest.NewID(), Kind: storage.IdentityDevice, Identity: "device-" + storagetest.NewID(), Time: base,
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func mustSession(t testing.TB, st storage.Store, userID string) storage.Session {
	t.Helper()
	s := storage.Session{ID: storagetest.NewID(), UserID: userID, CreateTime: base, RefreshTime: base, ExpireTime: base.Add(time.Hour)}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

// schema lists the tables and indexes of the database's current schema.
func schema(t *testing.T, st *postgres.Store) (tables, indexes []string) {
	t.Helper()
	ctx := t.Context()
	list := func(q string) []string {
		rows, err := st.Pool().Query(ctx, q)
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
	tables = list(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	indexes = list(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`)
	return tables, indexes
}

func TestMigrations(t *testing.T) {
	all, err := migrate.Parse(postgres.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.RunMigrations(t, storagetest.MigrationTarget{
		Open:  func(t *testing.T) storagetest.Migratable { return open(t, pgtest.NewDatabase(t)) },
		Count: len(all),
		Inspect: func(t *testing.T, st storagetest.Migratable) storagetest.Schema {
			tables, indexes := schema(t, st.(*postgres.Store))
			return storagetest.Schema{Tables: tables, Indexes: indexes}
		},
		Head: storagetest.Schema{
			Tables: []string{"latchkey_feed_counter", migrate.Table, "security_events", "session_revocations", "sessions", "user_device", "users"},
			Indexes: []string{"latchkey_feed_counter_pkey", migrate.Table + "_pkey",
				"security_events_event_time_idx", "security_events_pkey", "security_events_user_id_idx",
				"session_revocations_expire_time_idx", "session_revocations_pkey",
				"sessions_expire_time_idx", "sessions_pkey", "sessions_user_id_idx",
				"user_device_pkey", "user_device_user_id_idx",
				"users_custom_id_key", "users_email_key", "users_pkey", "users_username_key"},
		},
		Base: storagetest.Schema{Tables: []string{migrate.Table}, Indexes: []string{migrate.Table + "_pkey"}},
	})
}

func TestConcurrentMigrateUp(t *testing.T) {
	url := pgtest.NewDatabase(t)
	all, err := migrate.Parse(postgres.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 6
	stores := make([]*postgres.Store, nodes)
	for i := range stores {
		stores[i] = open(t, url)
	}
	for round := range 2 { // the second round races on a migrated database
		applied := make([]int, nodes)
		errs := make([]error, nodes)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, st := range stores {
			wg.Go(func() {
				<-start
				var ran []migrate.Migration
				ran, errs[i] = st.MigrateUp(t.Context())
				applied[i] = len(ran)
			})
		}
		close(start)
		wg.Wait()
		total := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Errorf("round %d: node %d: MigrateUp: %v", round, i, errs[i])
			}
			total += applied[i]
		}
		if want := len(all) * (1 - round); total != want {
			t.Errorf("round %d: %d migrations applied in all, want %d", round, total, want)
		}
	}
	u := mustUser(t, stores[0])
	if _, err := stores[nodes-1].UserByID(t.Context(), u.ID); err != nil {
		t.Errorf("UserByID on another node: %v", err)
	}
}

// TestFeedCommitOrder revokes sessions from many goroutines while a follower reads the feed the way
// sessions.Manager does, resuming after the highest seq it has seen. Were seqs handed out in call order
// rather than commit order (a SEQUENCE), the follower could read an entry before one with a smaller seq
// commits, and then never see the latter.
func TestFeedCommitOrder(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	st := migrated(t, url)
	// The follower has a store of its own, as another process would, so that it polls at full speed
	// instead of queueing behind the writers for a pooled connection.
	follower := open(t, url)
	const (
		writers   = 16
		perWriter = 30
		page      = 7 // small, so that the follower pages while writers append
	)
	type owned struct {
		user     *storage.User
		sessions []storage.Session
	}
	work := make([]owned, writers)
	for w := range work {
		work[w].user = mustUser(t, st)
		for range perWriter {
			work[w].sessions = append(work[w].sessions, mustSession(t, st, work[w].user.ID))
		}
	}

	var done atomic.Bool
	seen := map[string]int{}
	followerErr := make(chan error, 1)
	go func() {
		var after int64
		poll := func() (int, error) {
			revs, err := follower.RevocationsSince(ctx, after, base, page)
			if err != nil {
				return 0, err
			}
			for _, r := range revs {
				if r.Seq <= after {
					return 0, fmt.Errorf("seq %d after watermark %d", r.Seq, after)
				}
				after = r.Seq
				seen[r.SessionID]++
			}
			return len(revs), nil
		}
		for !done.Load() {
			if _, err := poll(); err != nil {
				followerErr <- err
				return
			}
		}
		// The writers are done: drain what is left.
		for {
			n, err := poll()
			if err != nil || n == 0 {
				followerErr <- err
				return
			}
		}
	}()

	var mu sync.Mutex
	revoked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range work {
		wg.Go(func() {
			// Most sessions one by one, the rest in one RevokeUserSessions, so that both appends interleave.
			sessions := work[w].sessions
			for _, s := range sessions[:perWriter-5] {
				rev, err := st.RevokeSession(ctx, s.ID, "logout", base)
				if err != nil || rev == nil {
					t.Errorf("RevokeSession: %+v, %v", rev, err)
					return
				}
				mu.Lock()
				revoked[rev.SessionID] = true
				mu.Unlock()
			}
			revs, err := st.RevokeUserSessions(ctx, work[w].user.ID, nil, "logout_all", base)
			if err != nil || len(revs) != 5 {
				t.Errorf("RevokeUserSessions: %d entries, %v; want 5", len(revs), err)
			}
			mu.Lock()
			for _, r := range revs {
				revoked[r.SessionID] = true
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	done.Store(true)
	if err := <-followerErr; err != nil {
		t.Fatalf("follower: %v", err)
	}

	if len(revoked) != writers*perWriter {
		t.Fatalf("%d sessions revoked, want %d", len(revoked), writers*perWriter)
	}
	missed := 0
	for id := range revoked {
		switch n := seen[id]; n {
		case 1:
		case 0:
			missed++
		default:
			t.Errorf("follower saw session %s %d times", id, n)
		}
	}
	if missed > 0 {
		t.Errorf("follower missed %d of %d feed entries", missed, len(revoked))
	}
	if len(seen) != len(revoked) {
		t.Errorf("follower saw %d sessions, want %d", len(seen), len(revoked))
	}
}

// TestSeqNeverReused checks that deleting the newest feed entries does not let their seqs come back.
func TestSeqNeverReused(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	s := mustSession(t, st, u.ID)
	first, err := st.RevokeSession(ctx, s.ID, "logout", base)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpiredSessions(ctx, base.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	u = mustUser(t, st)
	s = mustSession(t, st, u.ID)
	second, err := st.RevokeSession(ctx, s.ID, "logout", base)
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq <= first.Seq {
		t.Errorf("seq after deleting entry %d = %d, want more", first.Seq, second.Seq)
	}
}

// TestWatchFeed checks that a revocation through one store wakes a watcher on another store of the same
// database, and that the watcher reconnects, and wakes its caller, after its connection is killed.
func TestWatchFeed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	writer := migrated(t, url)
	watcher := open(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	wakes := make(chan time.Time, 64)
	var inWake atomic.Int32
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		watcher.WatchFeed(ctx, func() {
			if inWake.Add(1) != 1 {
				t.Error("wake called concurrently")
			}
			select {
			case wakes <- time.Now():
			default:
			}
			inWake.Add(-1)
		})
	}()
	const bound = 5 * time.Second
	awaitWake := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-wakes:
			return at
		case <-time.After(bound):
			t.Fatalf("no wake within %v %s", bound, what)
			return time.Time{}
		}
	}
	drain := func() {
		for {
			select {
			case <-wakes:
			default:
				return
			}
		}
	}
	awaitWake("after LISTEN")

	u := mustUser(t, writer)
	revoke := func(what string) {
		t.Helper()
		s := mustSession(t, writer, u.ID)
		drain()
		start := time.Now()
		if _, err := writer.RevokeSession(t.Context(), s.ID, "logout", base); err != nil {
			t.Fatal(err)
		}
		at := awaitWake(what)
		t.Logf("notify latency %s: %v from RevokeSession's call to wake", what, at.Sub(start))
	}
	revoke("on a fresh connection")
	revoke("again")

	// A revocation that changes nothing (the session is revoked already) writes nothing and notifies no one.
	s := mustSession(t, writer, u.ID)
	if _, err := writer.RevokeSession(t.Context(), s.ID, "logout", base); err != nil {
		t.Fatal(err)
	}
	awaitWake("for the revocation")
	if rev, err := writer.RevokeSession(t.Context(), s.ID, "logout", base); err != nil || rev != nil {
		t.Fatalf("second RevokeSession = %+v, %v", rev, err)
	}
	select {
	case <-wakes:
		t.Error("wake after a revocation that changed nothing")
	case <-time.After(200 * time.Millisecond):
	}

	// Kill the watcher's connection: it must reconnect and wake its caller to catch up.
	var killed int
	err := writer.Pool().QueryRow(t.Context(), `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()) AS t`, postgres.FeedApplicationName).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the watcher's backend: %d terminated, %v; want 1", killed, err)
	}
	killedAt := time.Now()
	t.Logf("wake %v after the watcher's connection was killed", awaitWake("after the connection was killed").Sub(killedAt))
	revoke("after reconnecting")

	cancel()
	select {
	case <-returned:
	case <-time.After(bound):
		t.Fatal("WatchFeed did not return after its context was canceled")
	}
}

// TestWatchFeedEndsOnClose checks that closing the store stops a watcher whose context is still live, and
// that a watcher on an unreachable database keeps retrying without waking its caller.
func TestWatchFeedEndsOnClose(t *testing.T) {
	for _, reachable := range []bool{true, false} {
		t.Run(fmt.Sprintf("reachable %v", reachable), func(t *testing.T) {
			url := "postgres://latchkey@" + deadAddress(t) + "/db?sslmode=disable"
			if reachable {
				url = pgtest.NewDatabase(t)
			}
			st, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			var wakes atomic.Int32
			returned := make(chan struct{})
			go func() {
				defer close(returned)
				st.WatchFeed(context.Background(), func() { wakes.Add(1) })
			}()
			time.Sleep(300 * time.Millisecond)
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("WatchFeed did not return after Close")
			}
			if got, want := wakes.Load() > 0, reachable; got != want {
				t.Errorf("woken = %v, want %v", got, want)
			}
		})
	}
}

// deadAddress returns a loopback host:port on which nothing listens.
func deadAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestErrUnavailable(t *testing.T) {
	const password = "Pw-5ecret-9"
	dead := deadAddress(t)
	for _, addr := range []string{
		"postgres://latchkey:" + password + "@" + dead + "/latchkey?sslmode=disable",
		"latchkey:" + password + "@" + dead + "/latchkey", // Nakama's form, sslmode=prefer
	} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			ctx := t.Context()
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("%s: error = %v, want ErrUnavailable", op, err)
				}
				if err != nil && strings.Contains(err.Error(), password) {
					t.Errorf("%s: error shows the password: %v", op, err)
				}
			}
			st, err := postgres.Open(ctx, addr)
			if err != nil {
				check("Open", err)
				return
			}
			defer st.Close()
			check("Ping", st.Ping(ctx))
			_, err = st.UserByID(ctx, storagetest.NewID())
			check("UserByID", err)
			_, err = st.CreateUser(ctx, storage.NewUser{ID: storagetest.NewID(), Username: "u", Kind: storage.IdentityDevice, Identity: "device-1", Time: base})
			check("CreateUser", err)
			_, err = st.RevokeSession(ctx, storagetest.NewID(), "logout", base)
			check("RevokeSession", err)
			_, err = st.RevocationsSince(ctx, 0, base, 10)
			check("RevocationsSince", err)
			check("AppendEvents", st.AppendEvents(ctx, storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: storagetest.NewID()}))
			_, err = st.ListEvents(ctx, storagetest.NewID(), 0, 10)
			check("ListEvents", err)
			_, err = st.DeleteEventsBefore(ctx, base)
			check("DeleteEventsBefore", err)
			_, err = st.MigrateUp(ctx)
			check("MigrateUp", err)
			t.Logf("error: %v", st.Ping(ctx))

			// The caller's own cancellation is not unavailability.
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			err = st.Ping(canceled)
			if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Ping(canceled) = %v, want context.Canceled without ErrUnavailable", err)
			}
		})
	}
}

// TestMalformedIDs checks that text that is not a UUID, which the SQLite backend stores as any other text,
// behaves as an id no row has.
func TestMalformedIDs(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	s := mustSession(t, st, u.ID)
	const bad = "not-a-uuid"
	if _, err := st.UserByID(ctx, bad); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionByID(ctx, bad); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SessionByID: %v, want ErrNotFound", err)
	}
	if _, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: bad, RefreshTime: base, ExpireTime: base}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RefreshSession: %v, want ErrNotFound", err)
	}
	if _, err := st.RevokeSession(ctx, bad, "logout", base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RevokeSession: %v, want ErrNotFound", err)
	}
	if err := st.CreateSession(ctx, storage.Session{ID: storagetest.NewID(), UserID: bad, CreateTime: base, ExpireTime: base}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateSession(unknown user): %v, want ErrNotFound", err)
	}
	if _, err := st.UserByIdentity(ctx, storage.IdentityDevice, "nul\x00byte"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByIdentity(NUL byte): %v, want ErrNotFound", err)
	}
	// A malformed id in keep protects nothing and breaks nothing.
	revs, err := st.RevokeUserSessions(ctx, u.ID, []string{bad}, "logout_all", base)
	if err != nil || len(revs) != 1 || revs[0].SessionID != s.ID {
		t.Errorf("RevokeUserSessions with a malformed keep id = %+v, %v; want %s revoked", revs, err, s.ID)
	}

	// The event log: a malformed user id has no events, and callers never append one, so an append that
	// names one (or a malformed session id) is an error that writes nothing.
	if evs, err := st.ListEvents(ctx, bad, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("ListEvents(%q) = %+v, %v; want none", bad, evs, err)
	}
	good := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: s.ID}
	for _, ev := range []storage.Event{
		{Time: base, Kind: storage.EventUserBanned, UserID: bad},
		{Time: base, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: bad},
	} {
		if err := st.AppendEvents(ctx, good, ev); err == nil {
			t.Errorf("AppendEvents(%+v) succeeded, want an error", ev)
		}
	}
	if evs, err := st.ListEvents(ctx, u.ID, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after rejected appends = %+v, %v; want none", evs, err)
	}
	// Upper-case hex is a UUID all the same, and reads back in canonical lower case.
	upper := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: strings.ToUpper(u.ID), SessionID: strings.ToUpper(s.ID)}
	if err := st.AppendEvents(ctx, upper); err != nil {
		t.Fatalf("AppendEvents(upper-case ids): %v", err)
	}
	evs, err := st.ListEvents(ctx, strings.ToUpper(u.ID), 0, 10)
	if err != nil || len(evs) != 1 || evs[0].UserID != u.ID || evs[0].SessionID != s.ID {
		t.Errorf("ListEvents(upper-case id) = %+v, %v; want one event of %s, session %s", evs, err, u.ID, s.ID)
	}
}

// TestAppendEventsAtomic checks that a batch the server rejects part way, here on a NUL byte that
// PostgreSQL text cannot hold, leaves none of its events behind.
func TestAppendEventsAtomic(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := storagetest.NewID()
	ok := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u}
	bad := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u, Reason: "nul\x00byte"}
	err := st.AppendEvents(ctx, ok, ok, bad)
	if err == nil {
		t.Fatal("AppendEvents with a NUL byte succeeded")
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AppendEvents with a NUL byte: %v, want an error other than ErrUnavailable", err)
	}
	if evs, err := st.ListEvents(ctx, u, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after a failed append = %+v, %v; want none", evs, err)
	}
}

// BenchmarkUserByID measures the account read on the hot path of GET /v2/account.
func BenchmarkUserByID(b *testing.B) { storagetest.BenchUserByID(b, newStore(b)) }

// BenchmarkRevokeSession measures feed appends, which all queue on the counter row.
func BenchmarkRevokeSession(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	u := mustUser(b, st)
	ids := make(chan string, b.N)
	for range b.N {
		ids <- mustSession(b, st, u.ID).ID
	}
	close(ids)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.RevokeSession(ctx, <-ids, "logout", base); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
